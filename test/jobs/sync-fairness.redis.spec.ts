import { randomUUID } from 'node:crypto';
import { type Job, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { JobName, QueueName } from '../../jobs/contracts.js';
import { JobQueues } from '../../jobs/queues.js';
import { SyncShares, syncRunPriority } from '../../jobs/sync-directory.queue.js';
import { requestSync } from '../../src/app/sync-trigger.js';
import { RedisSyncCoordinator } from '../../src/redis/sync-coordinator.redis.js';
import { describeEachDb, useStore } from '../support/db.js';
import { uniquePrefix } from '../support/gateway.js';
import { syncTriggerDeps } from '../support/sync-trigger-deps.js';

/**
 * Issue 16 item 4: a fleet of PBXs shares the sync workers fairly. The order in which a worker
 * takes `sync-directory` jobs, read from the real BullMQ queue on a real Redis (a BullMQ worker
 * asked for its next job, as the gateway's workers ask): an Update Now goes before every
 * background run queued before it, also when it joins a PBX's queued initial sync; among
 * background runs, a PBX that had little worker time lately goes before one that had much.
 */
describe('sync queue: fair shares per PBX (T3, issue 16 item 4)', () => {
  let redis: Redis;
  let queues: JobQueues;
  let coordinator: RedisSyncCoordinator;
  let worker: Worker;
  let workerConnection: Redis;
  const token = randomUUID();

  beforeAll(() => {
    redis = new Redis(inject('redisUrl'));
    const prefix = uniquePrefix('fair');
    queues = new JobQueues(redis, prefix);
    coordinator = new RedisSyncCoordinator(redis, prefix);
    // Not running: each test asks it for jobs one at a time.
    workerConnection = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
    worker = new Worker(QueueName.Sync, null, {
      connection: workerConnection,
      prefix,
      autorun: false,
    });
  });
  afterEach(async () => {
    await queues.queue(QueueName.Sync).obliterate({ force: true });
  });
  afterAll(async () => {
    await worker?.close();
    await workerConnection?.quit();
    await queues?.close();
    const keys = await redis.keys(`${queues.prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  /** The runs a worker takes next, in the order it takes them (each taken job is left active). */
  const takeAll = async (): Promise<string[]> => {
    const out: string[] = [];
    for (;;) {
      const job = (await worker.getNextJob(token, { block: false })) as Job | undefined;
      if (!job) return out;
      expect(job.name).toBe(JobName.SyncDirectory);
      out.push(job.data.runId);
    }
  };

  it('Update Now is ahead of background runs; more recent worker time is further back', () => {
    expect(syncRunPriority('MANUAL', 0)).toBeLessThan(syncRunPriority('RULES_SAVED', 0));
    // A PBX that had hours of worker time still runs its Update Now before anyone's background run.
    expect(syncRunPriority('MANUAL', 10 * 3600_000)).toBeLessThan(syncRunPriority('SCHEDULE', 0));
    expect(syncRunPriority('SCHEDULE', 0)).toBe(syncRunPriority('CHANGE', 0));
    expect(syncRunPriority('CHANGE', 60_000)).toBeGreaterThan(syncRunPriority('CHANGE', 1_000));
    expect(syncRunPriority('POLL', 1e15)).toBeLessThan(2 ** 21);
  });

  describeEachDb('requestSync on the real sync queue', (leg) => {
    const db = useStore(leg);
    let triggers: ReturnType<typeof syncTriggerDeps>;
    beforeEach(() => {
      triggers = syncTriggerDeps({ store: db.store, queues, coordinator });
    });

    it("an Update Now pressed behind a fleet's initial syncs is taken first, the others in the order queued", async () => {
      const fleet = await Promise.all(Array.from({ length: 12 }, () => db.pbx()));
      const initial: string[] = [];
      for (const p of fleet)
        initial.push((await requestSync(triggers.deps(), p, 'RULES_SAVED', ['USERS'])).run.id);
      const admin = await db.pbx();
      const updateNow = (await requestSync(triggers.deps(), admin, 'MANUAL', ['USERS', 'GROUPS'])).run.id;
      const later = (await requestSync(triggers.deps(), await db.pbx(), 'RULES_SAVED', ['USERS'])).run.id;
      // Waiting by priority is still waiting, as the queue depths (metrics, job dashboard) say.
      const depth = (await queues.counts()).find((c) => c.name === QueueName.Sync)?.counts;
      expect(depth?.waiting).toBe(14);
      // First come first served would take it 13th.
      expect(await takeAll()).toEqual([updateNow, ...initial, later]);
    });

    it("an Update Now joining its PBX's queued initial sync moves that run ahead of the others", async () => {
      const fleet = await Promise.all(Array.from({ length: 8 }, () => db.pbx()));
      const initial: string[] = [];
      for (const p of fleet)
        initial.push((await requestSync(triggers.deps(), p, 'RULES_SAVED', ['USERS'])).run.id);
      const pressed = fleet[5] as string;
      const joined = await requestSync(triggers.deps(), pressed, 'MANUAL', ['USERS', 'GROUPS']);
      expect(joined.coalesced).toBe(true);
      expect(joined.run.id).toBe(initial[5]);
      expect(await takeAll()).toEqual([initial[5], ...initial.filter((id) => id !== initial[5])]);
    });

    it('among background runs, a PBX that had less worker time lately goes first', async () => {
      const [busy, idle, middling] = await Promise.all([db.pbx(), db.pbx(), db.pbx()]);
      const shares = new SyncShares(queues);
      await shares.add(busy as string, 10 * 60_000);
      await shares.add(middling as string, 5_000);
      const runs: Record<string, string> = {};
      for (const [name, p] of Object.entries({ busy, middling, idle })) {
        runs[name] = (await requestSync(triggers.deps(), p as string, 'CHANGE', ['USERS'])).run.id;
      }
      expect(await takeAll()).toEqual([runs.idle, runs.middling, runs.busy]);
    });
  });
});
