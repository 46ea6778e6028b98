import { runDirectorySync } from '../../src/app/directory-sync.js';
import { syncDeps } from '../../src/app/services.js';
import type { JobName } from '../contracts.js';
import type { Processor } from '../worker.js';
import type { ProcessorDeps } from './index.js';

/** One sync run (ARCHITECTURE "One sync"): a fresh unit of work, then the use case. */
export const syncDirectoryProcessor =
  (deps: ProcessorDeps): Processor<typeof JobName.SyncDirectory> =>
  async (payload, job) => {
    if (!deps.services) throw new Error('sync-directory needs the app services');
    const finalAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    const run = await runDirectorySync(syncDeps(deps.services, deps.openStore()), payload.pbxId, payload.runId, {
      finalAttempt,
    });
    return { status: run.status };
  };
