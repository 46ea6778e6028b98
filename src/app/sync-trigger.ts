import { randomUUID } from 'node:crypto';
import type { Store } from './ports/store.port.js';
import type { SyncRunData, SyncScope, SyncTrigger } from './ports/sync.port.js';
import type { SyncCoordinator } from './ports/sync-coordinator.port.js';
import type { SyncQueue } from './ports/sync-queue.port.js';

export interface SyncTriggerDeps {
  store: Store;
  syncQueue: SyncQueue;
  coordinator: SyncCoordinator;
  now: () => Date;
  /** Live progress: a new run is announced as QUEUED. */
  progress: (run: SyncRunData) => void;
}

/**
 * Every trigger (Update Now, schedule, change notification, delta poll, the first save of
 * rules) asks here. While a run of the PBX is pending, the trigger joins it (its scopes are
 * added) instead of starting another; so a burst of triggers during a run yields exactly one
 * follow-up run, whichever gateway process receives them.
 */
export async function requestSync(
  deps: SyncTriggerDeps,
  pbxId: string,
  trigger: SyncTrigger,
  scopes: readonly SyncScope[],
): Promise<{ run: SyncRunData; coalesced: boolean }> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const runId = randomUUID();
    const pendingId = await deps.coordinator.claimPending(pbxId, runId);
    if (pendingId) {
      const pending = await deps.store.sync.getRun(pbxId, pendingId);
      if (pending?.status === 'QUEUED') {
        const merged = [...new Set([...pending.scopes, ...scopes])].sort() as SyncScope[];
        const run =
          merged.length === pending.scopes.length
            ? pending
            : await deps.store.sync.updateRun(pending.id, { scopes: merged });
        return { run, coalesced: true };
      }
      // The pending mark outlived its run (it started, or a process died before enqueueing).
      await deps.coordinator.releasePending(pbxId, pendingId);
      continue;
    }
    try {
      const run = await deps.store.sync.createRun({
        id: runId,
        pbxId,
        trigger,
        scopes: [...scopes],
        queuedAt: deps.now(),
      });
      await deps.syncQueue.enqueue(run);
      deps.progress(run);
      return { run, coalesced: false };
    } catch (err) {
      await deps.coordinator.releasePending(pbxId, runId);
      throw err;
    }
  }
  throw new Error(`Could not queue a sync for PBX ${pbxId}: its pending run keeps changing`);
}
