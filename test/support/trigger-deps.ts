import type { Store } from '../../src/app/ports/store.port.js';
import type { SyncRunData, SyncSettingsData } from '../../src/app/ports/sync.port.js';
import type { SyncCoordinator } from '../../src/app/ports/sync-coordinator.port.js';
import type { SyncTriggerDeps } from '../../src/app/sync-trigger.js';

/**
 * What `requestSync` (and the T2 debounce above it) needs besides the Redis adapters under
 * test: the runs and the change-trigger settings of a PBX, kept in memory, and a sync queue
 * that only records what it was given. The coordinator (and debouncer) are the real ones.
 */
export function memoryTriggerDeps(coordinator: SyncCoordinator) {
  const runs = new Map<string, SyncRunData>();
  const enqueued: SyncRunData[] = [];
  const settings = { changeDebounceSeconds: 600, changeThreshold: 10 };
  const sync = {
    async getSettings(pbxId: string) {
      return { pbxId, ...settings } as SyncSettingsData;
    },
    async createRun(input: Pick<SyncRunData, 'pbxId' | 'trigger' | 'scopes' | 'queuedAt'> & { id?: string }) {
      const run = {
        id: input.id ?? crypto.randomUUID(),
        pbxId: input.pbxId,
        trigger: input.trigger,
        scopes: [...input.scopes],
        queuedAt: input.queuedAt,
        status: 'QUEUED',
        phase: 'QUEUED',
      } as SyncRunData;
      runs.set(run.id, run);
      return { ...run };
    },
    async getRun(pbxId: string, id: string) {
      const run = runs.get(id);
      return run && run.pbxId === pbxId ? { ...run } : null;
    },
    async updateRun(id: string, patch: Partial<SyncRunData>) {
      const run = { ...(runs.get(id) as SyncRunData), ...patch };
      runs.set(id, run);
      return { ...run };
    },
  };
  const deps: SyncTriggerDeps = {
    store: { sync } as unknown as Store,
    syncQueue: {
      async enqueue(run) {
        enqueued.push(run);
      },
    },
    coordinator,
    now: () => new Date(),
    progress: () => {},
  };
  return {
    deps,
    runs,
    enqueued,
    settings,
    /** What the sync-directory processor does as a run starts: its lock, then no longer pending. */
    async start(run: SyncRunData, lockTtlMs = 15_000) {
      const locked = await coordinator.acquireLock(run.pbxId, run.id, lockTtlMs);
      if (locked) {
        await coordinator.releasePending(run.pbxId, run.id);
        await sync.updateRun(run.id, { status: 'RUNNING', phase: 'READING_DIRECTORY' });
      }
      return locked;
    },
  };
}
