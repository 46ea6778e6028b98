import type { TimelineEvent } from './instrument.js';

/** One stretch of a run, with the SQL time spent inside it. */
export interface Segment {
  label: string;
  /** start (performance.now() of the leg process) */
  from?: number;
  ms: number;
  sqlMs: number;
  statements: number;
  /** the SQL kinds that took most of the time: "insert directory_object 2,310 ms (200)" */
  topSql: string[];
  /** Graph requests made in the segment, when known */
  requests?: number;
  /** heap used and RSS when the segment ended (bytes), when known */
  heapUsed?: number;
  rss?: number;
}

type Progress = Extract<TimelineEvent, { type: 'progress' }>;
type Read = Extract<TimelineEvent, { type: 'read' }>;
type Sql = Extract<TimelineEvent, { type: 'sql' }>;

function sqlIn(events: readonly TimelineEvent[], from: number, to: number) {
  const byKind = new Map<string, { ms: number; n: number; maxChars: number }>();
  let total = 0;
  let n = 0;
  for (const e of events) {
    if (e.type !== 'sql' || e.t < from || e.t >= to) continue;
    const ms = (e as Sql).end - e.t;
    total += ms;
    n++;
    const k = byKind.get(e.kind) ?? { ms: 0, n: 0, maxChars: 0 };
    k.ms += ms;
    k.n++;
    k.maxChars = Math.max(k.maxChars, (e as Sql).chars);
    byKind.set(e.kind, k);
  }
  const topSql = [...byKind]
    .sort((a, b) => b[1].ms - a[1].ms)
    .slice(0, 3)
    .filter(([, v]) => v.ms >= 1)
    .map(
      ([kind, v]) =>
        `${kind} ${Math.round(v.ms).toLocaleString('en-US')} ms (${v.n}${v.maxChars >= 1e6 ? `, largest ${(v.maxChars / 1e6).toFixed(1)} M chars` : ''})`,
    );
  return { sqlMs: total, statements: n, topSql };
}

/**
 * Splits one run into the stretches the run pipeline goes through (src/app/sync/sync-run.ts),
 * from the progress events, the Graph reads and the SQL statements recorded around it.
 */
export function segmentsOf(
  events: readonly TimelineEvent[],
  runId: string,
  requestedAt: number,
  endedAt: number,
): Segment[] {
  const progress = events.filter((e): e is Progress => e.type === 'progress' && e.runId === runId);
  const reading = progress.find((e) => e.phase === 'READING_DIRECTORY');
  const planning = progress.find((e) => e.phase === 'PLANNING');
  const applying = progress.filter((e) => e.phase === 'APPLYING');
  const reads = events.filter(
    (e): e is Read =>
      e.type === 'read' && e.t >= (reading?.t ?? requestedAt) && e.t <= (planning?.t ?? endedAt),
  );
  const out: Segment[] = [];
  const add = (
    label: string,
    from: number | undefined,
    to: number | undefined,
    requests?: number,
    mem?: { heapUsed: number; rss: number },
  ) => {
    if (from === undefined || to === undefined || to < from) return;
    out.push({
      label,
      from,
      ms: to - from,
      ...sqlIn(events, from, to),
      requests,
      heapUsed: mem?.heapUsed,
      rss: mem?.rss,
    });
  };
  const final = progress.find((e) => e.t >= endedAt - 1 && ['SUCCEEDED', 'FAILED', 'HELD'].includes(e.phase));
  add('queued → picked up by the worker (job, lock)', requestedAt, reading?.t, undefined, reading);
  add('load stored snapshot + settings (before Graph)', reading?.t, reads[0]?.t);
  // Reads that overlap (users and groups side by side) make one stretch.
  let cursor = reads[0]?.t;
  const sorted = [...reads].sort((a, b) => a.t - b.t);
  for (let i = 0; i < sorted.length; ) {
    const cluster = [sorted[i]];
    let end = sorted[i].end;
    for (i++; i < sorted.length && sorted[i].t < end; i++) {
      cluster.push(sorted[i]);
      end = Math.max(end, sorted[i].end);
    }
    const start = cluster[0].t;
    if (cursor !== undefined && start - cursor > 5) add('(between reads)', cursor, start);
    const what = cluster
      .map(
        (r) =>
          `${r.method} ${r.pages} pages, ${r.items.toLocaleString('en-US')} records${cluster.length > 1 ? ` in ${((r.end - r.t) / 1000).toFixed(1)} s` : ''}`,
      )
      .join(' ∥ ');
    const requests =
      Math.max(...cluster.map((r) => r.reqAt[1])) - Math.min(...cluster.map((r) => r.reqAt[0]));
    const lastDone = cluster.reduce((a, b) => (b.end > a.end ? b : a));
    add(`Graph ${what}`, start, end, requests, lastDone);
    cursor = end;
  }
  add(
    'build snapshot, load extensions, plan users (+groups)',
    cursor ?? reading?.t,
    planning?.t,
    undefined,
    planning,
  );
  const firstApply = applying[0];
  const lastApply = applying.at(-1);
  add('PLANNING → APPLYING', planning?.t, firstApply?.t, undefined, firstApply);
  add(
    `apply user changes: ${Math.max(0, applying.length - 1)} batch(es), ${lastApply?.done ?? 0} items`,
    firstApply?.t,
    lastApply?.t,
    undefined,
    lastApply,
  );
  add(
    'report items, groups, persist snapshot + delta links',
    lastApply?.t ?? planning?.t,
    endedAt,
    undefined,
    final,
  );
  return out;
}

/** The label of the segment a moment falls in (for "where was the peak"). */
export function segmentAt(segments: readonly Segment[], startedAt: number, at: number): string {
  for (const s of segments) {
    if (s.from !== undefined && at >= s.from && at <= s.from + s.ms) {
      return s.label.startsWith('Graph ') ? 'Graph reads' : s.label;
    }
  }
  const last = segments.at(-1);
  if (at < startedAt) return 'before the run (carried over)';
  if (last?.from !== undefined && at > last.from + last.ms) return 'at the end of the run';
  return 'between stretches';
}
