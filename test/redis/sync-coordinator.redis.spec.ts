import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { QueueName } from '../../jobs/contracts.js';
import { JobQueues } from '../../jobs/queues.js';
import type { SyncRunData } from '../../src/app/ports/sync.port.js';
import { PENDING_RUN_WRITE_MS, requestSync } from '../../src/app/sync-trigger.js';
import { RedisSyncCoordinator } from '../../src/redis/sync-coordinator.redis.js';
import { describeEachDb, useStore } from '../support/db.js';
import { uniquePrefix } from '../support/gateway.js';
import { syncTriggerDeps } from '../support/sync-trigger-deps.js';
import { eventually, staysTrue } from '../support/wait.js';

/**
 * The Redis sync coordinator (src/store/sync-coordinator.redis.ts) on a real Redis, under a key
 * prefix of its own: one run per PBX at a time (the run lock: acquire, renew, release, expiry)
 * and at most one pending run per PBX, into which triggers coalesce (T1, T2, T3 all ask
 * through requestSync: here with the real store, on SQLite and PostgreSQL, with PBX rows and
 * runs read back from it, and the real BullMQ sync queue, whose jobs say what was queued).
 */
describe('Redis sync coordinator: run lock and pending runs', () => {
  let redis: Redis;
  let prefix: string;
  let coordinator: RedisSyncCoordinator;
  /**
   * The BullMQ queues, under a prefix of their own (the lock tests read every key under the
   * coordinator's): requestSync queues its runs on the sync queue.
   */
  let queuePrefix: string;
  let queues: JobQueues;
  const pbx = () => `pbx-${randomUUID()}`;
  const run = () => `run-${randomUUID()}`;

  beforeAll(() => {
    redis = new Redis(inject('redisUrl'));
    prefix = uniquePrefix('coord');
    coordinator = new RedisSyncCoordinator(redis, prefix);
    queuePrefix = uniquePrefix('coord-queues');
    queues = new JobQueues(redis, queuePrefix);
  });
  afterAll(async () => {
    await queues?.queue(QueueName.Sync).obliterate({ force: true });
    await queues?.close();
    const keys = [...(await redis.keys(`${prefix}:*`)), ...(await redis.keys(`${queuePrefix}:*`))];
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  /** The lock's and the pending mark's keys: found by value under our prefix, not by spelling them. */
  const keysHolding = async (value: string) => {
    const out: string[] = [];
    for (const key of await redis.keys(`${prefix}:*`)) if ((await redis.get(key)) === value) out.push(key);
    return out;
  };

  describe('run lock', () => {
    it('is taken by one run; another run of the same PBX is refused while it is held', async () => {
      const p = pbx();
      const [a, b] = [run(), run()];
      expect(await coordinator.acquireLock(p, a, 10_000)).toBe(true);
      expect(await coordinator.acquireLock(p, b, 10_000)).toBe(false);
      // Another PBX is not held up by it.
      expect(await coordinator.acquireLock(pbx(), b, 10_000)).toBe(true);
    });

    it('of many runs racing for one PBX, exactly one gets it', async () => {
      const p = pbx();
      const runs = Array.from({ length: 12 }, run);
      const got = await Promise.all(runs.map((r) => coordinator.acquireLock(p, r, 10_000)));
      expect(got.filter(Boolean)).toHaveLength(1);
    });

    it('a retried job of the same run takes its own lock back, with a fresh TTL', async () => {
      const p = pbx();
      const a = run();
      expect(await coordinator.acquireLock(p, a, 1_000)).toBe(true);
      expect(await coordinator.acquireLock(p, a, 60_000)).toBe(true);
      const [key] = await keysHolding(a);
      expect(await redis.pttl(key as string)).toBeGreaterThan(30_000);
    });

    it('renewLock extends the holder’s lock; a run that does not hold it cannot renew it', async () => {
      const p = pbx();
      const [a, b] = [run(), run()];
      await coordinator.acquireLock(p, a, 1_000);
      const [key] = (await keysHolding(a)) as [string];
      expect(key.startsWith(`${prefix}:`)).toBe(true);
      expect(await coordinator.renewLock(p, a, 60_000)).toBe(true);
      expect(await redis.pttl(key)).toBeGreaterThan(30_000);
      expect(await coordinator.renewLock(p, b, 120_000)).toBe(false);
      expect(await redis.get(key)).toBe(a);
      expect(await redis.pttl(key)).toBeLessThanOrEqual(60_000);
    });

    it('expires when it is not renewed (a killed worker): renewing then fails, and the next run gets it', async () => {
      const p = pbx();
      const [a, b] = [run(), run()];
      await coordinator.acquireLock(p, a, 150);
      const [key] = (await keysHolding(a)) as [string];
      await eventually(async () => (await redis.exists(key)) === 0, { message: 'the lock to expire' });
      expect(await coordinator.renewLock(p, a, 10_000)).toBe(false);
      expect(await coordinator.acquireLock(p, b, 10_000)).toBe(true);
    });

    it('releaseLock frees it for the next run, and never frees a lock another run holds', async () => {
      const p = pbx();
      const [a, b] = [run(), run()];
      await coordinator.acquireLock(p, a, 10_000);
      await coordinator.releaseLock(p, b);
      expect(await coordinator.acquireLock(p, b, 10_000)).toBe(false);
      await coordinator.releaseLock(p, a);
      expect(await coordinator.acquireLock(p, b, 10_000)).toBe(true);
      // A late second release by a leaves b's lock alone.
      await coordinator.releaseLock(p, a);
      expect(await coordinator.acquireLock(p, a, 10_000)).toBe(false);
    });

    it('keeps to its key prefix: a coordinator under another prefix shares nothing with it', async () => {
      const p = pbx();
      const [a, b] = [run(), run()];
      const other = new RedisSyncCoordinator(redis, uniquePrefix('coord-other'));
      expect(await coordinator.acquireLock(p, a, 10_000)).toBe(true);
      expect(await other.acquireLock(p, b, 10_000)).toBe(true);
      expect(await other.claimPending(p, b)).toBeNull();
      await other.releaseLock(p, b);
      await other.releasePending(p, b);
      expect(await keysHolding(a)).toHaveLength(1);
    });
  });

  describe('pending run', () => {
    it('the first claim makes a run the PBX’s pending run (kept a day at most); later claims are told its id', async () => {
      const p = pbx();
      const [a, b, c] = [run(), run(), run()];
      expect(await coordinator.claimPending(p, a)).toBeNull();
      expect(await coordinator.claimPending(p, b)).toBe(a);
      expect(await coordinator.claimPending(p, c)).toBe(a);
      const [key] = (await keysHolding(a)) as [string];
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(23 * 3600_000);
      expect(ttl).toBeLessThanOrEqual(24 * 3600_000);
      expect(await coordinator.claimPending(pbx(), b)).toBeNull();
    });

    it('of many claims racing for one PBX, one wins and every other names the winner', async () => {
      const p = pbx();
      const runs = Array.from({ length: 12 }, run);
      const answers = await Promise.all(runs.map((r) => coordinator.claimPending(p, r)));
      const winners = runs.filter((_r, i) => answers[i] === null);
      expect(winners).toHaveLength(1);
      expect(answers.filter((x) => x !== null).every((x) => x === winners[0])).toBe(true);
    });

    it('releasePending forgets only the run named; then a new claim wins again', async () => {
      const p = pbx();
      const [a, b] = [run(), run()];
      await coordinator.claimPending(p, a);
      await coordinator.releasePending(p, b);
      expect(await coordinator.claimPending(p, b)).toBe(a);
      await coordinator.releasePending(p, a);
      expect(await coordinator.claimPending(p, b)).toBeNull();
    });
  });

  describeEachDb(
    'requestSync over the real coordinator, store and sync queue (T1, T2, T3 triggers coalesce)',
    (leg) => {
      const db = useStore(leg);
      let triggers: ReturnType<typeof syncTriggerDeps>;
      beforeEach(() => {
        triggers = syncTriggerDeps({ store: db.store, queues, coordinator });
      });

      it('T3 a burst of triggers before the run starts yields one run, with the scopes of all', async () => {
        const p = await db.pbx();
        const results = await Promise.all([
          requestSync(triggers.deps(), p, 'MANUAL', ['USERS']),
          requestSync(triggers.deps(), p, 'CHANGE', ['USERS']),
          requestSync(triggers.deps(), p, 'SCHEDULE', ['GROUPS']),
          requestSync(triggers.deps(), p, 'MANUAL', ['USERS']),
        ]);
        const queued = await triggers.queuedJobs(p);
        expect(queued).toHaveLength(1);
        const runId = queued[0]?.data.runId as string;
        expect(results.filter((r) => !r.coalesced)).toHaveLength(1);
        expect(new Set(results.map((r) => r.run.id))).toEqual(new Set([runId]));
        const run = await triggers.run(p, runId);
        expect(run?.status).toBe('QUEUED');
        expect(run?.scopes).toEqual(['GROUPS', 'USERS']);
      });

      it('T2 T3 triggers during a run yield exactly one follow-up run, which waits for the lock', async () => {
        const p = await db.pbx();
        const first = (await requestSync(triggers.deps(), p, 'MANUAL', ['USERS', 'GROUPS'])).run;
        expect(await triggers.start(first)).toBe(true);
        expect((await triggers.run(p, first.id))?.status).toBe('RUNNING');
        // The run is going: the next trigger queues a follow-up, the ones after it join that.
        const burst = await Promise.all(
          Array.from({ length: 6 }, (_x, i) =>
            requestSync(triggers.deps(), p, i % 2 ? 'CHANGE' : 'MANUAL', ['USERS']),
          ),
        );
        const queued = (await triggers.queuedJobs(p)).map((j) => j.data.runId);
        expect(queued).toHaveLength(2);
        expect(queued).toContain(first.id);
        const followUp = (await triggers.run(
          p,
          queued.find((id) => id !== first.id) as string,
        )) as SyncRunData;
        expect(followUp.status).toBe('QUEUED');
        expect(burst.every((r) => r.run.id === followUp.id)).toBe(true);
        expect(burst.filter((r) => !r.coalesced)).toHaveLength(1);
        // One run per PBX at a time: the follow-up cannot start until the first lets go.
        expect(await triggers.start(followUp)).toBe(false);
        expect((await triggers.run(p, followUp.id))?.status).toBe('QUEUED');
        await coordinator.releaseLock(p, first.id);
        expect(await triggers.start(followUp)).toBe(true);
        expect((await triggers.run(p, followUp.id))?.status).toBe('RUNNING');
      });

      it('a trigger that finds a pending mark whose run is still being written waits for the run and joins it', async () => {
        const p = await db.pbx();
        // Another process has claimed the mark and not written its run yet.
        const id = randomUUID();
        expect(await coordinator.claimPending(p, id)).toBeNull();
        let settled = false;
        const joining = requestSync(triggers.deps(), p, 'CHANGE', ['GROUPS']).finally(() => {
          settled = true;
        });
        await staysTrue(() => !settled, { for: 300, message: 'the trigger waiting for the run' });
        // The claimant writes its run and queues it.
        const written = await db
          .store()
          .sync.createRun({ id, pbxId: p, trigger: 'MANUAL', scopes: ['USERS'], queuedAt: new Date() });
        await triggers.deps().syncQueue.enqueue(written);
        const joined = await joining;
        expect(joined.coalesced).toBe(true);
        expect(joined.run.id).toBe(id);
        expect((await triggers.run(p, id))?.scopes).toEqual(['GROUPS', 'USERS']);
        expect((await triggers.queuedJobs(p)).map((j) => j.data.runId)).toEqual([id]);
      });

      it('a pending mark whose run never comes (its process died before writing it) is dropped, and the trigger queues a new run', async () => {
        const p = await db.pbx();
        const orphan = randomUUID();
        expect(await coordinator.claimPending(p, orphan)).toBeNull();
        const asked = Date.now();
        const next = await requestSync(triggers.deps(), p, 'MANUAL', ['USERS']);
        expect(Date.now() - asked).toBeGreaterThanOrEqual(PENDING_RUN_WRITE_MS);
        expect(next.coalesced).toBe(false);
        expect(next.run.id).not.toBe(orphan);
        expect((await triggers.queuedJobs(p)).map((j) => j.data.runId)).toEqual([next.run.id]);
        expect(await coordinator.claimPending(p, run())).toBe(next.run.id);
      });

      it('a pending mark that outlived its run (the run started elsewhere) is dropped, and the trigger queues a new run', async () => {
        const p = await db.pbx();
        const first = (await requestSync(triggers.deps(), p, 'MANUAL', ['USERS'])).run;
        // The run began without releasing its mark (a worker died between the two steps).
        await db.store().sync.updateRun(first.id, { status: 'RUNNING' });
        const next = await requestSync(triggers.deps(), p, 'MANUAL', ['USERS']);
        expect(next.coalesced).toBe(false);
        expect(next.run.id).not.toBe(first.id);
        expect((await triggers.queuedJobs(p)).map((j) => j.data.runId)).toEqual([first.id, next.run.id]);
        expect(await coordinator.claimPending(p, run())).toBe(next.run.id);
      });
    },
  );
});
