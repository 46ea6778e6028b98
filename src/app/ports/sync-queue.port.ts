import type { SyncRunData, SyncTrigger } from './sync.port.js';

/** Starts sync runs (a BullMQ job per run; see jobs/). */
export interface SyncQueue {
  /** Queues the run, ahead of or behind other PBXs' runs as its trigger and its PBX's share say. */
  enqueue(run: SyncRunData): Promise<void>;
  /**
   * A trigger joined the queued run (requestSync): the run now waits no longer than a run of
   * that trigger would (an Update Now joining a queued background run moves it ahead).
   */
  hurry(run: SyncRunData, trigger: SyncTrigger): Promise<void>;
}
