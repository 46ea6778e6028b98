import { DelayedError } from 'bullmq';
import { syncDeps } from '../../src/app/services.js';
import { runSync } from '../../src/app/sync/sync-run.js';
import type { JobName } from '../contracts.js';
import { BullMailboxJobs } from '../mailbox-jobs.js';
import { SyncShares } from '../sync-directory.queue.js';
import type { Processor } from '../worker.js';
import type { ProcessorDeps } from './index.js';

/** How long a run's lock lives without renewal (a killed worker frees it after this). */
export const SYNC_LOCK_TTL_MS = 15_000;
/** How soon a run waiting for its PBX's lock looks again, at the latest. */
export const SYNC_LOCK_RETRY_MS = 1_000;
/**
 * How soon it looks again the first time (issue 16): a change run queued while the PBX's last
 * run writes its report mostly finds the lock free tens of milliseconds later, not a second;
 * each further wait doubles, up to SYNC_LOCK_RETRY_MS.
 */
export const SYNC_LOCK_FIRST_RETRY_MS = 25;

/** The wait before the `started`-th look at the lock (1 for the first look). */
export function syncLockRetryMs(started: number): number {
  return Math.min(SYNC_LOCK_RETRY_MS, SYNC_LOCK_FIRST_RETRY_MS * 2 ** Math.max(0, started - 1));
}

/**
 * One sync run (the run pipeline, src/app/sync/sync-run.ts). One run per PBX at a time: a run
 * whose PBX is busy waits (delayed job) instead of running beside it. Once it holds the lock
 * it stops being the PBX's pending run, so a trigger arriving now queues one follow-up run.
 * The lock is held by this attempt (run id and job token): when it cannot be renewed, or
 * BullMQ says the job's own lock was lost, the run stops at its next batch boundary and the
 * next attempt resumes it; two attempts never apply side by side.
 */
export const syncDirectoryProcessor =
  (deps: ProcessorDeps): Processor<typeof JobName.SyncDirectory> =>
  async (payload, job, token, signal) => {
    const { services } = deps;
    const { pbxId, runId } = payload;
    const holder = `${runId}:${token ?? job.id}`;
    if (!(await services.coordinator.acquireLock(pbxId, holder, SYNC_LOCK_TTL_MS))) {
      await job.moveToDelayed(Date.now() + syncLockRetryMs(job.attemptsStarted), token);
      throw new DelayedError();
    }
    await services.coordinator.releasePending(pbxId, runId);
    // The PBX was deleted (deletePbx) after this run was queued: nothing is left to sync.
    if (!(await deps.openStore().sync.getRun(pbxId, runId))) {
      await services.coordinator.releaseLock(pbxId, holder);
      services.log('info', 'sync run skipped: the run (or its PBX) no longer exists', { pbxId, runId });
      return { status: 'GONE' };
    }
    const lost = new AbortController();
    signal?.addEventListener('abort', () => lost.abort(signal.reason), { once: true });
    const renew = setInterval(() => {
      services.coordinator.renewLock(pbxId, holder, SYNC_LOCK_TTL_MS).then(
        (held) => {
          if (held) return;
          services.log('warn', 'lost the PBX sync lock: the run stops at its next batch boundary', {
            pbxId,
            runId,
          });
          lost.abort('the PBX sync lock expired');
        },
        (err: Error) =>
          services.log('warn', 'could not renew the PBX sync lock (will try again)', {
            pbxId,
            runId,
            err: err.message,
          }),
      );
    }, SYNC_LOCK_TTL_MS / 3);
    const began = performance.now();
    try {
      const finalAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      const sync = syncDeps(services, deps.openStore());
      // C1–C4: the run's mailbox jobs are children of this job.
      if (deps.queues) sync.contacts.jobs = new BullMailboxJobs(deps.queues, job);
      const run = await runSync(sync, pbxId, runId, {
        finalAttempt,
        signal: lost.signal,
      });
      return { status: run.status };
    } finally {
      clearInterval(renew);
      await services.coordinator.releaseLock(pbxId, holder);
      // Issue 16 item 4: the PBX's share of the workers, which orders its next runs among the
      // fleet's (jobs/sync-directory.queue.ts). Best effort: a lost figure only makes it fairer to it.
      if (deps.queues)
        await new SyncShares(deps.queues).add(pbxId, performance.now() - began).catch((err: Error) =>
          services.log('warn', 'could not record the worker time of a sync run', {
            pbxId,
            runId,
            err: err.message,
          }),
        );
    }
  };
