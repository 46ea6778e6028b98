import type { Job } from 'bullmq';
import { JOB_QUEUE, JobName, type JobPayload } from '../../jobs/contracts.js';
import type { JobQueues } from '../../jobs/queues.js';
import { BullSyncQueue } from '../../jobs/sync-directory.queue.js';
import type { Store } from '../../src/app/ports/store.port.js';
import type { SyncRunData } from '../../src/app/ports/sync.port.js';
import type { SyncCoordinator } from '../../src/app/ports/sync-coordinator.port.js';
import type { SyncTriggerDeps } from '../../src/app/sync-trigger.js';

type SyncDirectoryJob = Job<JobPayload<typeof JobName.SyncDirectory>>;

/**
 * What `requestSync` (and the T2 debounce above it) is given in the gateway, every part real:
 * a store on the test's database (SQLite or PostgreSQL; a unit of work of its own per call, as
 * each request or job opens one), the BullMQ sync queue (`BullSyncQueue`) under the test's
 * queue prefix, and the Redis sync coordinator. What was queued is read back from the queue,
 * and the runs from the database.
 */
export function syncTriggerDeps(parts: {
  store: () => Store;
  queues: JobQueues;
  coordinator: SyncCoordinator;
}) {
  const { store, queues, coordinator } = parts;
  const syncQueue = new BullSyncQueue(queues);
  const now = () => new Date();

  /** The PBX's `sync-directory` jobs on the sync queue (in any state), in the order they were added. */
  const queuedJobs = async (pbxId: string): Promise<SyncDirectoryJob[]> =>
    ((await queues.queue(JOB_QUEUE[JobName.SyncDirectory]).getJobs()) as SyncDirectoryJob[])
      .filter((j) => j.name === JobName.SyncDirectory && j.data.pbxId === pbxId)
      .sort((a, b) => a.timestamp - b.timestamp);

  return {
    /** Deps for one call, as a request or a job builds them (src/app/services.ts). */
    deps: (): SyncTriggerDeps => ({ store: store(), syncQueue, coordinator, now, progress: () => {} }),
    queuedJobs,
    /** The runs the PBX's queued jobs start, read from the database, in the order queued. */
    async queuedRuns(pbxId: string): Promise<SyncRunData[]> {
      const s = store();
      const runs: SyncRunData[] = [];
      for (const job of await queuedJobs(pbxId)) {
        const run = await s.sync.getRun(pbxId, job.data.runId);
        if (!run) throw new Error(`job ${job.id} names run ${job.data.runId}, which is not in the database`);
        runs.push(run);
      }
      return runs;
    },
    /** A run as the database holds it now. */
    run: (pbxId: string, id: string) => store().sync.getRun(pbxId, id),
    /**
     * What the sync-directory processor does as a run starts: its lock, then no longer
     * pending; then the run pipeline marks it RUNNING.
     */
    async start(run: SyncRunData, lockTtlMs = 15_000) {
      const locked = await coordinator.acquireLock(run.pbxId, run.id, lockTtlMs);
      if (locked) {
        await coordinator.releasePending(run.pbxId, run.id);
        await store().sync.updateRun(run.id, {
          status: 'RUNNING',
          phase: 'READING_DIRECTORY',
          startedAt: now(),
          error: null,
        });
      }
      return locked;
    },
  };
}
