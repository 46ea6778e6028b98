import type { SyncRunData } from '../src/app/ports/sync.port.js';
import type { SyncQueue } from '../src/app/ports/sync-queue.port.js';
import { JobName } from './contracts.js';
import type { JobQueues } from './queues.js';

/**
 * The id of a run's `sync-directory` job: one job per run, however often it is queued (BullMQ
 * ignores an add whose id exists, in any state).
 */
export function syncDirectoryJobId(runId: string): string {
  return `sync-${runId}`;
}

/** Starts sync runs: one `sync-directory` job per run on the `sync` queue, ids only. */
export class BullSyncQueue implements SyncQueue {
  constructor(private readonly queues: JobQueues) {}

  async enqueue(run: SyncRunData) {
    await this.queues.enqueue(
      JobName.SyncDirectory,
      { pbxId: run.pbxId, runId: run.id },
      syncDirectoryJobId(run.id),
    );
  }
}
