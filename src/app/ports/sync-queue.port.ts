import type { SyncRunData } from './sync.port.js';

/** Starts sync runs (a BullMQ job per run; see jobs/). */
export interface SyncQueue {
  enqueue(run: SyncRunData): Promise<void>;
}
