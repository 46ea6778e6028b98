/** The queue of scheduled triggers (jobs/scheduled-sync.queue.ts). */
export interface ScheduleQueue {
  /** Queues the PBX's trigger due at `at`, unless it is queued already (or has run): idempotent. */
  ensure(pbxId: string, at: Date): Promise<void>;
  /** Removes the PBX's trigger due at `at` if it is still waiting. */
  cancel(pbxId: string, at: Date): Promise<void>;
}
