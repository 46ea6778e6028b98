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
 * How long a trigger waits for the run of a pending mark to be in the database. The mark is
 * claimed in Redis first and the run written after it, so a trigger arriving in between finds
 * a mark without its run: the claimant is still writing it. A mark that names no run after
 * this was left by a process that died in between, and is dropped.
 */
export const PENDING_RUN_WRITE_MS = 5_000;
/** How soon a trigger looks again for a pending run not written yet. */
const PENDING_RUN_POLL_MS = 20;

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

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
  // Real time, not deps.now(): a bound on waiting, whatever clock the use cases are given.
  const waitUntil = Date.now() + PENDING_RUN_WRITE_MS;
  for (let attempt = 0; attempt < 3; ) {
    const runId = randomUUID();
    const pendingId = await deps.coordinator.claimPending(pbxId, runId);
    if (pendingId) {
      const pending = await deps.store.sync.getRun(pbxId, pendingId);
      if (!pending && Date.now() < waitUntil) {
        // Claimed, not written yet: look again (at the mark too, which its claimant drops
        // should writing the run fail).
        await pause(PENDING_RUN_POLL_MS);
        continue;
      }
      if (pending?.status === 'QUEUED') {
        const merged = [...new Set([...pending.scopes, ...scopes])].sort() as SyncScope[];
        const run =
          merged.length === pending.scopes.length
            ? pending
            : await deps.store.sync.updateRun(pending.id, { scopes: merged });
        // Issue 16 item 4: an Update Now joining a queued background run (the initial sync
        // behind a fleet's thousand others) makes it start as soon as an Update Now would.
        if (trigger !== pending.trigger) await deps.syncQueue.hurry(run, trigger);
        return { run, coalesced: true };
      }
      // The pending mark outlived its run (it started, or a process died before writing it).
      await deps.coordinator.releasePending(pbxId, pendingId);
      attempt++;
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
