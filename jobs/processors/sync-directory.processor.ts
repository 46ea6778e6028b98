import { DelayedError } from 'bullmq';
import { runDirectorySync } from '../../src/app/directory-sync.js';
import { syncDeps } from '../../src/app/services.js';
import type { JobName } from '../contracts.js';
import type { Processor } from '../worker.js';
import type { ProcessorDeps } from './index.js';

/** How long a run's lock lives without renewal (a killed worker frees it after this). */
export const SYNC_LOCK_TTL_MS = 15_000;
/** How soon a run waiting for its PBX's lock looks again. */
export const SYNC_LOCK_RETRY_MS = 1_000;

/**
 * One sync run (ARCHITECTURE "One sync"). One run per PBX at a time: a run whose PBX is busy
 * waits (delayed job) instead of running beside it. Once it holds the lock it stops being
 * the PBX's pending run, so a trigger arriving now queues one follow-up run.
 */
export const syncDirectoryProcessor =
  (deps: ProcessorDeps): Processor<typeof JobName.SyncDirectory> =>
  async (payload, job, token) => {
    const services = deps.services;
    if (!services) throw new Error('sync-directory needs the app services');
    const { pbxId, runId } = payload;
    if (!(await services.coordinator.acquireLock(pbxId, runId, SYNC_LOCK_TTL_MS))) {
      await job.moveToDelayed(Date.now() + SYNC_LOCK_RETRY_MS, token);
      throw new DelayedError();
    }
    await services.coordinator.releasePending(pbxId, runId);
    const renew = setInterval(() => {
      services.coordinator.renewLock(pbxId, runId, SYNC_LOCK_TTL_MS).catch(() => {});
    }, SYNC_LOCK_TTL_MS / 3);
    try {
      const finalAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      const run = await runDirectorySync(syncDeps(services, deps.openStore()), pbxId, runId, {
        finalAttempt,
      });
      return { status: run.status };
    } finally {
      clearInterval(renew);
      await services.coordinator.releaseLock(pbxId, runId);
    }
  };
