/**
 * One sync per PBX at a time, across every gateway process (Redis). A PBX has at most one
 * *pending* run (queued, not started): triggers that arrive while one is pending coalesce
 * into it, so a burst during a run yields exactly one follow-up run.
 */
export interface SyncCoordinator {
  /** Makes `runId` the PBX's pending run, unless one is pending already: then returns that one's id. */
  claimPending(pbxId: string, runId: string): Promise<string | null>;
  /** Forgets the pending run if it is `runId` (the run is starting, or was dropped). */
  releasePending(pbxId: string, runId: string): Promise<void>;
  /** Takes the PBX's run lock for `runId` for `ttlMs`; false when another run holds it. */
  acquireLock(pbxId: string, runId: string, ttlMs: number): Promise<boolean>;
  /** Extends the lock while the run goes on; false when it was lost. */
  renewLock(pbxId: string, runId: string, ttlMs: number): Promise<boolean>;
  releaseLock(pbxId: string, runId: string): Promise<void>;
}
