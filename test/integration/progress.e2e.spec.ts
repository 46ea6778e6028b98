import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Topic } from '../../src/app/topics.js';
import {
  SaveUserSyncRuleDocument,
  SyncNowDocument,
  SyncProgressDocument,
  UpdatePbxDocument,
} from '../generated/graphql.js';
import { type E2e, startE2e } from '../support/e2e.js';
import { gql, topicListened, uniquePrefix, wsClient } from '../support/gateway.js';
import { startWorkerProcess, waitForRun } from '../support/sandbox.js';

type Snapshot = { id: string; phase: string; status: string; done: number; total: number };

/** Collects syncProgress snapshots over graphql-ws until `stop` says so. */
function collect(url: string, key: string, runId: string | null, stop: (s: Snapshot[]) => boolean) {
  const seen: Snapshot[] = [];
  const client = wsClient(url, key);
  const done = new Promise<Snapshot[]>((resolve, reject) => {
    client.subscribe(
      { query: print(SyncProgressDocument), variables: runId ? { runId } : {} },
      {
        next: (msg) => {
          const s = (msg.data as { syncProgress: Snapshot } | undefined)?.syncProgress;
          if (s) seen.push(s);
          if (stop(seen)) resolve(seen);
        },
        error: reject,
        complete: () => resolve(seen),
      },
    );
  });
  return { done, seen, close: () => client.dispose() };
}

describe('live sync progress over graphql-ws, from a worker in another process', () => {
  let w: E2e;
  let worker: Awaited<ReturnType<typeof startWorkerProcess>> | undefined;
  const prefix = uniquePrefix('progress');

  beforeAll(async () => {
    // Process A serves the API only; the runs execute in process B (a worker), through the same Redis.
    w = await startE2e({
      sandbox: { users: 10_000, groups: 50, seed: 11 },
      env: { QUEUE_PREFIX: prefix },
      role: 'api',
    });
    worker = await startWorkerProcess(w.db, w.sandbox, prefix);
    await gql(w.gateway.url, w.keys.admin, UpdatePbxDocument, { input: { extensionCapacity: 100_000 } });
  }, 120_000);
  afterAll(async () => {
    worker?.child.kill('SIGTERM');
    if (worker) await worker.exited;
    await w?.close();
  });

  it('a client on process A sees every phase of a 10,000-user run executed in process B, in order, ending SUCCEEDED', async () => {
    const all = collect(w.gateway.url, w.keys.viewer, null, (s) => s.some((x) => x.phase === 'SUCCEEDED'));
    await topicListened(prefix, Topic.syncProgress(w.pbx.id));
    const started = Date.now();
    const saved = await gql(w.gateway.url, w.keys.admin, SaveUserSyncRuleDocument, {
      input: {
        range: 'ALL',
        numbering: 'AUTO',
        startNumber: '100000',
        autoDelete: true,
        deleteWhenDisabled: true,
        deleteWhenDeleted: true,
        autoAssociate: false,
        welcomeEmail: false,
      },
    });
    const runId = saved.body.data?.saveUserSyncRule.initialRun?.id as string;
    const seen = (await all.done).filter((s) => s.id === runId);
    const elapsed = (Date.now() - started) / 1000;
    await all.close();
    const phases = seen.map((s) => s.phase).filter((p, i, a) => p !== a[i - 1]);
    expect(phases).toEqual(['QUEUED', 'READING_DIRECTORY', 'PLANNING', 'APPLYING', 'SUCCEEDED']);
    expect(seen.at(-1)?.status).toBe('SUCCEEDED');
    // Throttled: a few events a second, however large the run.
    expect(seen.length).toBeLessThanOrEqual(10 + 5 * Math.ceil(elapsed));
    // Every user in range became an extension (the capacity was raised for this), and the final
    // snapshot says all of it was applied.
    expect(seen.at(-1)?.total).toBeGreaterThan(9000);
    expect(seen.at(-1)?.done).toBe(seen.at(-1)?.total);

    // A late subscriber gets the current snapshot first (here: the finished run), then the stream ends.
    const late = collect(w.gateway.url, w.keys.viewer, runId, () => false);
    const lateSeen = await late.done;
    expect(lateSeen).toHaveLength(1);
    expect(lateSeen[0]).toMatchObject({ id: runId, phase: 'SUCCEEDED' });
  }, 120_000);

  it('a subscriber to one run sees its snapshots only', async () => {
    const res = await gql(w.gateway.url, w.keys.admin, SyncNowDocument, { scopes: ['USERS'] });
    const runId = res.body.data?.syncNow.id as string;
    const one = collect(w.gateway.url, w.keys.viewer, runId, () => false);
    const seen = await one.done;
    expect(seen.every((s) => s.id === runId)).toBe(true);
    expect(seen.at(-1)?.phase).toBe('SUCCEEDED');
    expect((await waitForRun(w.gateway.url, w.keys.admin, runId)).status).toBe('SUCCEEDED');
  }, 60_000);
});
