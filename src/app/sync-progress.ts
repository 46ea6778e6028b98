import type { EventPublisher } from './ports/events.port.js';
import type { Store } from './ports/store.port.js';
import type { SyncRunData } from './ports/sync.port.js';
import { Topic } from './topics.js';

/** At most this many progress events per second per run; phase changes always go out. */
export const PROGRESS_EVENTS_PER_SECOND = 4;

const FINAL = new Set(['SUCCEEDED', 'FAILED', 'HELD']);

/**
 * Publishes run snapshots for `syncProgress`, throttled per run: every phase change goes
 * out at once, `done/total` updates at most a few times a second however large the run.
 */
export function progressPublisher(events: EventPublisher, now: () => Date) {
  const last = new Map<string, { at: number; phase: string }>();
  const gap = 1000 / PROGRESS_EVENTS_PER_SECOND;
  return (run: SyncRunData) => {
    const prev = last.get(run.id);
    const t = now().getTime();
    if (prev && prev.phase === run.phase && t - prev.at < gap) return;
    if (FINAL.has(run.phase)) last.delete(run.id);
    else last.set(run.id, { at: t, phase: run.phase });
    events.publish(Topic.syncProgress(run.pbxId), run);
  };
}

/**
 * The snapshots a `syncProgress` subscriber receives: first the current state (a late
 * subscriber is not left waiting for the next event), then every event, in order, until
 * its run ends (or forever, for all runs of the PBX).
 */
export async function* watchSyncProgress(
  store: Store,
  events: EventPublisher,
  pbxId: string,
  runId: string | null,
): AsyncGenerator<SyncRunData> {
  // Subscribe first, then read the current state, so nothing between the two is lost.
  const live = events.subscribe(Topic.syncProgress(pbxId))[Symbol.asyncIterator]();
  try {
    const current = runId
      ? [await store.sync.getRun(pbxId, runId)].filter((r): r is SyncRunData => Boolean(r))
      : await store.sync.unfinishedRuns(pbxId);
    let lastSeen = new Map<string, string>();
    for (const run of current) {
      yield run;
      lastSeen.set(run.id, run.phase);
      if (runId && FINAL.has(run.phase)) return;
    }
    for (;;) {
      const next = await live.next();
      if (next.done) return;
      const run = next.value as SyncRunData;
      if (runId && run.id !== runId) continue;
      // Skip an event older than the snapshot we already sent.
      if (lastSeen.get(run.id) && PHASE_ORDER[run.phase] < PHASE_ORDER[lastSeen.get(run.id) as string])
        continue;
      lastSeen.set(run.id, run.phase);
      yield run;
      if (runId && FINAL.has(run.phase)) return;
      if (lastSeen.size > 1000) lastSeen = new Map();
    }
  } finally {
    await live.return?.();
  }
}

const PHASE_ORDER: Record<string, number> = {
  QUEUED: 0,
  READING_DIRECTORY: 1,
  PLANNING: 2,
  APPLYING: 3,
  SUCCEEDED: 4,
  FAILED: 4,
  HELD: 4,
};
