import { type Job, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RedisChangeDebouncer } from '../../jobs/change-debouncer.js';
import { JobName, QueueName } from '../../jobs/contracts.js';
import { JobQueues } from '../../jobs/queues.js';
import {
  type ChangeNotificationDeps,
  flushChanges,
  recordChanges,
  saveChangeTriggers,
} from '../../src/app/change-notifications.js';
import type { SyncTriggerDeps } from '../../src/app/sync-trigger.js';
import { RedisSyncCoordinator } from '../../src/redis/sync-coordinator.redis.js';
import { describeEachDb, useStore } from '../support/db.js';
import { uniquePrefix } from '../support/gateway.js';
import { syncTriggerDeps } from '../support/sync-trigger-deps.js';
import { eventually } from '../support/wait.js';

/**
 * T2's debounce (jobs/change-debouncer.ts) on a real Redis and BullMQ, under a queue prefix of
 * its own: a change counter per PBX, and one delayed `flush-changes` job per window that a real
 * BullMQ worker runs. Above it, recordChanges/flushChanges with the real sync coordinator, the
 * real store (SQLite and PostgreSQL: PBXs, their change-trigger settings as the portal saves
 * them, the runs) and the real sync queue: "a run `debounce` after the first change, or at once
 * at `threshold` changes", and never two runs for one burst.
 */
describeEachDb('T2 change debouncer on Redis and BullMQ', (leg) => {
  const db = useStore(leg);
  let redis: Redis;
  let prefix: string;
  let queues: JobQueues;
  let debouncer: RedisChangeDebouncer;
  let coordinator: RedisSyncCoordinator;
  let triggers: ReturnType<typeof syncTriggerDeps>;
  let worker: Worker | undefined;
  let workerConnection: Redis | undefined;
  const flushed: Array<{ pbxId: string; synced: boolean; at: number }> = [];
  /** A PBX of its own, in the database (runs and settings belong to it). */
  const pbx = () => db.pbx();
  /**
   * What a job of the gateway is given (a unit of work of its own each time), of what
   * recordChanges and flushChanges use; the Graph clients and secrets they never touch.
   */
  const deps = (): ChangeNotificationDeps => {
    const used: Pick<ChangeNotificationDeps, keyof SyncTriggerDeps | 'debouncer' | 'log'> = {
      ...triggers.deps(),
      debouncer,
      log: () => {},
    };
    return used as ChangeNotificationDeps;
  };
  /** The PBX's change-trigger settings, saved as the portal saves them (whole seconds). */
  const setChangeTriggers = async (pbxId: string, input: { debounceSeconds: number; threshold?: number }) => {
    const store = db.store();
    const current = await store.sync.getSettings(pbxId);
    await saveChangeTriggers({ store }, pbxId, {
      debounceSeconds: input.debounceSeconds,
      threshold: input.threshold ?? current.changeThreshold,
      pollMinutes: current.pollMinutes,
    });
  };

  const system = () => queues.queue(QueueName.System);
  /** The PBX's flush-changes jobs waiting for their window to end. */
  const delayedFlushes = async (pbxId: string) =>
    (await system().getJobs(['delayed', 'waiting'])).filter(
      (j) => j.name === JobName.FlushChanges && j.data.pbxId === pbxId,
    );
  /** Changes arrive (the webhook counts them), then the notification job records them. */
  const record = async (pbxId: string, count: number) => {
    await debouncer.add(pbxId, count);
    return recordChanges(deps(), pbxId);
  };
  /** The PBX's CHANGE runs: read from the sync queue's jobs, each run from the database. */
  const changeRuns = async (pbxId: string) =>
    (await triggers.queuedRuns(pbxId)).filter((r) => r.trigger === 'CHANGE');

  beforeAll(() => {
    redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
    prefix = uniquePrefix('debounce');
    queues = new JobQueues(redis, prefix);
    debouncer = new RedisChangeDebouncer(redis, queues, prefix);
    coordinator = new RedisSyncCoordinator(redis, prefix);
    triggers = syncTriggerDeps({ store: db.store, queues, coordinator });
  });
  afterAll(async () => {
    await worker?.close();
    workerConnection?.disconnect();
    for (const name of [QueueName.System, QueueName.Sync])
      await queues?.queue(name).obliterate({ force: true });
    await queues?.close();
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  /**
   * A worker on the system queue that runs flush-changes as the gateway's does (flushChanges).
   * A flush counts once BullMQ has completed its job, which is when the window's
   * deduplication id is free for the next window's flush.
   */
  function startFlushWorker() {
    if (!worker) {
      workerConnection = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
      worker = new Worker(
        QueueName.System,
        async (job: Job) => ({ ...(await flushChanges(deps(), job.data.pbxId)), at: Date.now() }),
        { connection: workerConnection, prefix },
      );
      worker.on('completed', (job: Job, result: { synced: boolean; at: number }) => {
        flushed.push({ pbxId: job.data.pbxId, synced: result.synced, at: result.at });
      });
    }
    return worker.waitUntilReady();
  }

  describe('the counter', () => {
    it('adds per PBX and answers the running total; kept a day at most', async () => {
      const [a, b] = [await pbx(), await pbx()];
      expect(await debouncer.add(a, 3)).toBe(3);
      expect(await debouncer.add(a, 4)).toBe(7);
      expect(await debouncer.add(b, 1)).toBe(1);
      const [key] = (await redis.keys(`${prefix}:*${a}*`)) as [string];
      const ttl = await redis.ttl(key);
      expect(ttl).toBeGreaterThan(23 * 3600);
      expect(ttl).toBeLessThanOrEqual(24 * 3600);
    });

    it('take hands over the count and clears it; of several racing takes, one gets it all', async () => {
      const a = await pbx();
      expect(await debouncer.take(a)).toBe(0);
      await debouncer.add(a, 5);
      expect(await debouncer.take(a)).toBe(5);
      expect(await debouncer.take(a)).toBe(0);
      await debouncer.add(a, 9);
      const taken = await Promise.all(Array.from({ length: 8 }, () => debouncer.take(a)));
      expect(taken.filter((n) => n > 0)).toEqual([9]);
    });
  });

  describe('the flush job', () => {
    it('one delayed flush-changes job per PBX and window, however often it is asked for', async () => {
      const [a, b] = [await pbx(), await pbx()];
      await Promise.all(Array.from({ length: 5 }, () => debouncer.scheduleFlush(a, 600_000, 600_000)));
      await debouncer.scheduleFlush(b, 600_000, 600_000);
      const jobs = await delayedFlushes(a);
      expect(jobs).toHaveLength(1);
      expect(jobs[0]?.data).toEqual({ pbxId: a });
      expect(jobs[0]?.opts.delay).toBe(600_000);
      expect(await delayedFlushes(b)).toHaveLength(1);
    });

    it('T2 changes below the threshold: one run, a debounce after the first change, for the whole burst', async () => {
      await startFlushWorker();
      const a = await pbx();
      // The shortest window the settings take: a second.
      await setChangeTriggers(a, { debounceSeconds: 1, threshold: 10 });
      const firstAt = Date.now();
      for (const n of [1, 2, 3]) expect(await record(a, n)).toBe('DEBOUNCED');
      expect(await changeRuns(a)).toHaveLength(0);
      const flush = await eventually(() => flushed.find((f) => f.pbxId === a) ?? false, {
        message: 'the flush of the window',
      });
      expect(flush.synced).toBe(true);
      expect(flush.at - firstAt).toBeGreaterThanOrEqual(1000);
      const runs = await changeRuns(a);
      expect(runs).toHaveLength(1);
      expect(runs[0]?.scopes).toEqual(['USERS', 'GROUPS']);
      expect(await debouncer.take(a)).toBe(0);

      // The window is over: the next change opens a new one, with a flush of its own.
      expect(await record(a, 1)).toBe('DEBOUNCED');
      await eventually(() => flushed.filter((f) => f.pbxId === a).length === 2, {
        message: 'the flush of the second window',
      });
      // Its run coalesced into the first one, still QUEUED (nothing started it here).
      expect(await changeRuns(a)).toEqual([expect.objectContaining({ id: runs[0]?.id, status: 'QUEUED' })]);
    });

    it('T2 a flush whose changes were already taken starts nothing', async () => {
      await startFlushWorker();
      const a = await pbx();
      await setChangeTriggers(a, { debounceSeconds: 1 });
      await record(a, 2);
      await debouncer.take(a);
      const flush = await eventually(() => flushed.find((f) => f.pbxId === a) ?? false, {
        message: 'the flush of the window',
      });
      expect(flush.synced).toBe(false);
      expect(await changeRuns(a)).toHaveLength(0);
    });
  });

  describe('the threshold', () => {
    it('T2 at the threshold the run starts at once, and the window closes with it', async () => {
      const a = await pbx();
      await setChangeTriggers(a, { debounceSeconds: 600, threshold: 10 });
      expect(await record(a, 6)).toBe('DEBOUNCED');
      expect(await record(a, 4)).toBe('SYNC_NOW');
      expect(await changeRuns(a)).toHaveLength(1);
      expect(await debouncer.take(a)).toBe(0);
    });

    it('T2 two deliveries crossing the threshold together start one run', async () => {
      const a = await pbx();
      await setChangeTriggers(a, { debounceSeconds: 600, threshold: 10 });
      await record(a, 8);
      const outcomes = await Promise.all([record(a, 5), record(a, 5)]);
      expect(outcomes).toContain('SYNC_NOW');
      expect(await changeRuns(a)).toHaveLength(1);
    });

    it('T2 after a window the threshold closed, the next change gets a flush with the debounce set now', async () => {
      const a = await pbx();
      await setChangeTriggers(a, { debounceSeconds: 600, threshold: 10 });
      await record(a, 6);
      expect(await record(a, 4)).toBe('SYNC_NOW');
      expect(await debouncer.take(a)).toBe(0);

      await setChangeTriggers(a, { debounceSeconds: 3 });
      expect(await record(a, 1)).toBe('DEBOUNCED');
      const jobs = await delayedFlushes(a);
      // The 600 s flush of the closed window finds nothing when it runs; the new window has its own.
      expect(jobs.map((j) => j.opts.delay)).toContain(3000);
    });

    it('T2 a debounce of 0 syncs every change at once, and leaves no count behind', async () => {
      const a = await pbx();
      await setChangeTriggers(a, { debounceSeconds: 0 });
      await debouncer.add(a, 3);
      expect(await record(a, 1)).toBe('SYNC_NOW');
      expect(await changeRuns(a)).toHaveLength(1);
      expect(await debouncer.take(a)).toBe(0);
      expect(await delayedFlushes(a)).toEqual([]);
    });
  });
});
