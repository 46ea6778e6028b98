/**
 * Long computations as steps: a generator that pauses (`yield`) every so often, so that the
 * caller may let other work run between steps (the gateway lets its event loop turn: HTTP,
 * lock renewals). Pure: a step is a pause, nothing else; `runSteps` runs them all at once.
 */
export type Steps<T> = Generator<void, T, void>;

/** Units of work (users, items, comparisons) between two pauses. */
export const STEP = 2048;

/** Runs every step at once and returns the result. */
export function runSteps<T>(steps: Steps<T>): T {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

/** Items of one sorted run: sorted at once (a few milliseconds each), then merged step by step. */
const RUN = 4096;

/**
 * A stable sort in steps: runs of RUN items are sorted at once, then merged pairwise,
 * pausing every STEP items. Returns a new array.
 */
export function* sortSteps<T>(items: readonly T[], compare: (a: T, b: T) => number): Steps<T[]> {
  let runs: T[][] = [];
  for (let i = 0; i < items.length; i += RUN) {
    runs.push(items.slice(i, i + RUN).sort(compare));
    yield;
  }
  if (runs.length === 0) return [];
  let work = 0;
  while (runs.length > 1) {
    const merged: T[][] = [];
    for (let r = 0; r < runs.length; r += 2) {
      const a = runs[r];
      const b = runs[r + 1];
      if (!b) {
        merged.push(a);
        continue;
      }
      const out: T[] = new Array(a.length + b.length);
      let i = 0;
      let j = 0;
      let k = 0;
      while (i < a.length && j < b.length) {
        // `<= 0` keeps equal items in their input order (a's run came first).
        out[k++] = compare(a[i], b[j]) <= 0 ? a[i++] : b[j++];
        if (++work % STEP === 0) yield;
      }
      while (i < a.length) out[k++] = a[i++];
      while (j < b.length) out[k++] = b[j++];
      merged.push(out);
    }
    runs = merged;
  }
  return runs[0];
}
