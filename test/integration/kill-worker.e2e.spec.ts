import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SaveUserSyncRuleDocument, SyncRunDocument, UpdatePbxDocument } from '../generated/graphql.js';
import { type E2e, startE2e } from '../support/e2e.js';
import { gql, uniquePrefix } from '../support/gateway.js';
import { allExtensions, startWorkerProcess, waitForRun } from '../support/sandbox.js';
import { eventually } from '../support/wait.js';

describe('a worker killed mid-sync: the resumed run ends as one uninterrupted run would (U1, U3, U8)', () => {
  let w: E2e;
  const workers: Array<Awaited<ReturnType<typeof startWorkerProcess>>> = [];
  const prefix = uniquePrefix('kill');
  const startWorker = async () => {
    const proc = await startWorkerProcess(w.db, w.sandbox, prefix);
    workers.push(proc);
    return proc;
  };

  beforeAll(async () => {
    // The API here; the runs execute in worker processes of their own (killed with SIGKILL).
    w = await startE2e({
      sandbox: { users: 20_000, groups: 20, seed: 99 },
      env: { QUEUE_PREFIX: prefix },
      role: 'api',
    });
    await gql(w.gateway.url, w.keys.admin, UpdatePbxDocument, { input: { extensionCapacity: 100_000 } });
  }, 120_000);
  afterAll(async () => {
    for (const p of workers) p.child.kill('SIGKILL');
    await w?.close();
  });

  it('the run started again reaches the same end state: no duplicate extension, no gap, none lost', async () => {
    const first = await startWorker();
    const saved = await gql(w.gateway.url, w.keys.admin, SaveUserSyncRuleDocument, {
      input: {
        range: 'ALL',
        numbering: 'AUTO',
        startNumber: '1000',
        autoDelete: true,
        deleteWhenDisabled: true,
        deleteWhenDeleted: true,
        autoAssociate: false,
        welcomeEmail: false,
      },
    });
    const runId = saved.body.data?.saveUserSyncRule.initialRun?.id as string;
    // Kill the worker (SIGKILL: no clean-up at all) once some batches are in and others are not.
    const firstPart = await eventually(
      async () => {
        const run = (await gql(w.gateway.url, w.keys.admin, SyncRunDocument, { id: runId, first: 1 })).body
          .data?.syncRun;
        // A run that ended already can never come to the moment waited for.
        expect(run?.status).not.toBe('SUCCEEDED');
        return run?.phase === 'APPLYING' && run.done > 0 && run.done < run.total && run;
      },
      { timeout: 120_000, interval: 10, message: 'some batches of the run to be in, and others not' },
    );
    const firstPartRequests = firstPart.graphRequests ?? 0;
    first.child.kill('SIGKILL');
    await first.exited;
    const partial = (await allExtensions(w.gateway.url, w.keys.admin)).length;

    await startWorker();
    const run = await waitForRun(w.gateway.url, w.keys.admin, runId, 90_000);
    expect(run.status, run.error ?? '').toBe('SUCCEEDED');
    // U8: the report counts the Graph requests of both parts (the second reads the directory again).
    expect(firstPartRequests).toBeGreaterThan(0);
    expect(run.graphRequests).toBeGreaterThan(firstPartRequests);

    const all = [];
    for (let skip = 0; ; skip += 1000) {
      const page = (await w.sandbox.admin.listUsers({ top: 1000, skip })).value;
      all.push(...page);
      if (page.length < 1000) break;
    }
    const users = all.filter((u) => !u.deleted && u.accountEnabled);
    const exts = await allExtensions(w.gateway.url, w.keys.admin);
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(users.length);
    // Counted from the recorded items, across both parts of the run: every enabled user became
    // an extension, or is reported (the seeded tenant has a few duplicate emails).
    expect(run.users.created + run.users.failed).toBe(users.length);
    expect(exts).toHaveLength(run.users.created);
    const ids = new Set(exts.map((e) => e.externalId));
    expect(ids.size).toBe(exts.length);
    const userIds = new Set(users.map((u) => u.id));
    expect([...ids].every((id) => userIds.has(id as string))).toBe(true);
    const numbers = exts.map((e) => Number(e.number)).sort((a, b) => a - b);
    expect(numbers[0]).toBe(1000);
    expect(numbers.at(-1)).toBe(1000 + exts.length - 1);
  }, 180_000);
});
