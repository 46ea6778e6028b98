import type { SyncRunData, SyncTrigger } from '../src/app/ports/sync.port.js';
import type { SyncQueue } from '../src/app/ports/sync-queue.port.js';
import { JOB_QUEUE, JobName, jobOptions } from './contracts.js';
import type { JobQueues } from './queues.js';

/**
 * The id of a run's `sync-directory` job: one job per run, however often it is queued (BullMQ
 * ignores an add whose id exists, in any state).
 */
export function syncDirectoryJobId(runId: string): string {
  return `sync-${runId}`;
}

/**
 * How runs of many PBXs share the workers (issue 16 item 4). A hosting provider's fleet saves
 * the rules of a thousand PBXs at once: a thousand initial syncs are queued, one per PBX. Taken
 * first come first served, an admin's Update Now pressed then would wait behind all of them.
 *
 * Every `sync-directory` job carries a BullMQ priority (lower runs first; equal priorities run
 * in the order queued). Two things make it:
 *
 * - the tier: an Update Now (trigger MANUAL, a person waiting) runs before every background
 *   run (the first save of rules, schedule, change notifications, delta poll). A background run
 *   cannot starve for it: each PBX has at most one queued run (requestSync coalesces triggers
 *   into it) and so at most one manual run waiting, and manual runs are pressed by people;
 * - within a tier, the PBX's share when the run is queued: how much worker time its runs took in the last
 *   {@link SHARE_WINDOW_MS} (log2 of the seconds, so 1 s, 2 s, 4 s ... each add a step). A PBX whose
 *   100,000-user runs hold a worker for minutes goes after PBXs that have had little; PBXs that
 *   had the same share run in the order queued.
 *
 * One run per PBX at a time is kept (the run's lock, jobs/processors/sync-directory.processor.ts):
 * the priority only chooses which PBX's run a free worker slot takes next.
 */
export const SYNC_PRIORITY = {
  /** Update Now. */
  MANUAL: 1,
  /** Everything else (rules saved, schedule, change notifications, delta poll). */
  BACKGROUND: 100,
  /** The largest share step (2^40 ms of work: never reached). */
  MAX_SHARE_STEP: 40,
} as const;

/** How far back a PBX's worker time counts towards its share. */
export const SHARE_WINDOW_MS = 60 * 60_000;

/** The priority of a run of this trigger, for a PBX whose runs took `recentMs` of worker time lately. */
export function syncRunPriority(trigger: SyncTrigger, recentMs: number): number {
  const tier = trigger === 'MANUAL' ? SYNC_PRIORITY.MANUAL : SYNC_PRIORITY.BACKGROUND;
  const step = Math.min(
    SYNC_PRIORITY.MAX_SHARE_STEP,
    Math.floor(Math.log2(1 + Math.max(0, recentMs) / 1000)),
  );
  return tier + step;
}

/**
 * Each PBX's recent worker time, in Redis so that every worker process adds to it and every
 * producer reads it: a counter of ms per PBX that lapses {@link SHARE_WINDOW_MS} after the PBX's
 * last run (a PBX that ran nothing for an hour starts again from nothing).
 */
export class SyncShares {
  constructor(private readonly queues: JobQueues) {}

  private key(pbxId: string) {
    return `${this.queues.prefix}:sync:share:${pbxId}`;
  }

  async recentMs(pbxId: string): Promise<number> {
    return Number((await this.queues.connection.get(this.key(pbxId))) ?? 0);
  }

  async add(pbxId: string, ms: number) {
    await this.queues.connection
      .multi()
      .incrby(this.key(pbxId), Math.max(0, Math.round(ms)))
      .pexpire(this.key(pbxId), SHARE_WINDOW_MS)
      .exec();
  }
}

/** Starts sync runs: one `sync-directory` job per run on the `sync` queue, ids only, with its priority. */
export class BullSyncQueue implements SyncQueue {
  private readonly shares: SyncShares;

  constructor(private readonly queues: JobQueues) {
    this.shares = new SyncShares(queues);
  }

  async enqueue(run: SyncRunData) {
    const priority = syncRunPriority(run.trigger, await this.shares.recentMs(run.pbxId));
    const payload = { pbxId: run.pbxId, runId: run.id };
    const queue = this.queues.queue(JOB_QUEUE[JobName.SyncDirectory]);
    const jobId = syncDirectoryJobId(run.id);
    await queue.add(JobName.SyncDirectory, payload, {
      ...jobOptions(JobName.SyncDirectory, payload, jobId),
      priority,
    });
  }

  async hurry(run: SyncRunData, trigger: SyncTrigger) {
    const job = await this.queues.queue(JOB_QUEUE[JobName.SyncDirectory]).getJob(syncDirectoryJobId(run.id));
    if (!job) return;
    const priority = syncRunPriority(trigger, await this.shares.recentMs(run.pbxId));
    // Only ever earlier: a run already as far ahead is left as it is (priority 0, a job queued
    // before priorities, waits ahead of every prioritized one).
    if (!job.priority || job.priority <= priority) return;
    // A job that started meanwhile has nothing to move: BullMQ then only records the number.
    await job.changePriority({ priority }).catch(() => undefined);
  }
}
