import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminTenant } from '../../src/sandbox/index.js';
import {
  ConnectDocument,
  SaveUserSyncRuleDocument,
  SyncNowDocument,
  SyncRunDocument,
  UpdatePbxDocument,
} from '../generated/graphql.js';
import { dbLegs } from '../support/db.js';
import { type E2e, startE2e } from '../support/e2e.js';
import { gql, seedPbx } from '../support/gateway.js';
import { followAuthorization, waitForRun } from '../support/sandbox.js';
import { eventually } from '../support/wait.js';

/**
 * Issue 16 item 4 (fairness): a hosting provider's PBXs share one gateway's workers. A real
 * gateway (API and workers, SYNC_CONCURRENCY 2), real Redis and the sandbox hosting two
 * directories: PBX A's large directory syncing (kept long by the sandbox's latency), and PBXs
 * of a small directory. With A's sync running, another PBX's run starts at once (a second
 * slot); with both slots busy and initial syncs queued, an Update Now pressed after them starts
 * before every one of them, at the first free slot (first come first served would put it last).
 */

const RULE = {
  range: 'ALL' as const,
  numbering: 'AUTO' as const,
  startNumber: '1000',
  autoDelete: true,
  deleteWhenDisabled: true,
  deleteWhenDeleted: true,
  autoAssociate: false,
  welcomeEmail: false,
};
/** How long each request to Microsoft takes while the fleet syncs: A's run lasts many of them. */
const LATENCY_MS = 400;

type Pbx = { url: string; key: string };

describe('a fleet shares the sync workers fairly (T3, issue 16 item 4)', () => {
  let w: E2e;
  let other: AdminTenant;
  let a: Pbx;
  const small: Pbx[] = [];

  const run = async (p: Pbx, id: string) => {
    const r = (await gql(p.url, p.key, SyncRunDocument, { id, first: 1 })).body.data?.syncRun;
    if (!r) throw new Error(`no run ${id}`);
    return r;
  };
  const saveRule = async (p: Pbx) => {
    const saved = await gql(p.url, p.key, SaveUserSyncRuleDocument, { input: RULE });
    const id = saved.body.data?.saveUserSyncRule.initialRun?.id;
    if (!id) throw new Error(`no initial run: ${JSON.stringify(saved.body.errors)}`);
    return id;
  };
  const started = (p: Pbx, id: string, timeout = 10_000) =>
    eventually(
      async () => {
        const r = await run(p, id);
        return r.startedAt !== null && r;
      },
      { timeout, interval: 50, message: `run ${id} to start` },
    );
  const waitMs = (r: { queuedAt: string; startedAt?: string | null }) =>
    Date.parse(r.startedAt as string) - Date.parse(r.queuedAt);

  beforeAll(async () => {
    w = await startE2e({
      // PostgreSQL, a fleet's database, when the run has one; else SQLite.
      leg: dbLegs().at(-1),
      sandbox: { users: 1500, groups: 5, seed: 1604 },
      env: { SYNC_CONCURRENCY: '2' },
    });
    const { sandbox, agent } = w;
    other = await sandbox.admin.addTenant({ users: 8, seed: 16004, provisionApps: [sandbox.info.clientId] });
    a = { url: w.gateway.url, key: w.keys.admin };
    for (let i = 0; i < 5; i++) {
      const seeded = await seedPbx(w.gateway);
      const p = { url: w.gateway.url, key: seeded.keys.admin };
      await gql(p.url, p.key, UpdatePbxDocument, { input: { publicBaseUrl: w.gateway.url } });
      const res = await gql(p.url, p.key, ConnectDocument, {
        input: {
          clientId: sandbox.info.clientId,
          tenantId: other.tenantId,
          clientSecret: sandbox.info.clientSecret,
        },
      });
      const url = res.body.data?.connect.authorizationUrl as string;
      expect((await followAuthorization(agent, url, other.adminUpn)).result).toBe('CONNECTED');
      small.push(p);
    }
  }, 180_000);
  afterAll(async () => {
    await w?.sandbox.admin.setLatency(0).catch(() => undefined);
    await w?.close();
  });

  it('with one PBX’s large sync running, another PBX’s run starts at once; an Update Now goes before queued initial syncs', async () => {
    const [b, c1, ...rest] = small as [Pbx, Pbx, ...Pbx[]];
    // B has synced once already: it is the PBX whose admin presses Update Now later.
    expect((await waitForRun(b.url, b.key, await saveRule(b))).status).toBe('SUCCEEDED');
    await w.sandbox.admin.setLatency(LATENCY_MS);

    const big = await saveRule(a);
    await started(a, big);
    // One slot taken by A's long run: C1's initial sync takes the other at once.
    const c1Run = await started(c1, await saveRule(c1));
    expect(waitMs(c1Run)).toBeLessThan(3_000);
    expect((await run(a, big)).finishedAt).toBeNull();

    // Both slots busy: the other initial syncs queue, then B's admin presses Update Now.
    const queued: Array<{ p: Pbx; id: string }> = [];
    for (const p of rest) queued.push({ p, id: await saveRule(p) });
    const pressed = (await gql(b.url, b.key, SyncNowDocument, {})).body.data?.syncNow;
    expect(pressed?.trigger).toBe('MANUAL');
    const stillQueued = [];
    for (const q of queued) if ((await run(q.p, q.id)).startedAt === null) stillQueued.push(q);
    expect(stillQueued.length, 'initial syncs queued ahead of the Update Now').toBeGreaterThan(0);

    const updateNow = await started(b, pressed?.id as string, 60_000);
    for (const q of stillQueued) {
      const r = await run(q.p, q.id);
      // Not started yet, or started after the Update Now (equal: the same free slot cannot serve both).
      if (r.startedAt !== null)
        expect(Date.parse(r.startedAt)).toBeGreaterThanOrEqual(Date.parse(updateNow.startedAt as string));
    }
    // Every run ends well.
    await w.sandbox.admin.setLatency(0);
    for (const [p, id] of [
      [a, big],
      [b, updateNow.id],
      [c1, c1Run.id],
      ...queued.map((q) => [q.p, q.id] as const),
    ] as Array<[Pbx, string]>) {
      expect((await waitForRun(p.url, p.key, id, 120_000)).status).toBe('SUCCEEDED');
    }
  }, 240_000);
});
