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
 * pausing every STEP items. Returns a new array. The merges go back and forth between two
 * arrays of the items' length, not a new array per merge (issue 16 item 3: at 100,000 items
 * those were megabytes of garbage per sort).
 */
export function* sortSteps<T>(items: readonly T[], compare: (a: T, b: T) => number): Steps<T[]> {
  const n = items.length;
  let from: T[] = new Array(n);
  for (let i = 0; i < n; i += RUN) {
    const run = items.slice(i, i + RUN).sort(compare);
    for (let k = 0; k < run.length; k++) from[i + k] = run[k];
    yield;
  }
  if (n <= RUN) return from;
  let to: T[] = new Array(n);
  let work = 0;
  for (let width = RUN; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) {
        // `<= 0` keeps equal items in their input order (the left run came first).
        to[k++] = compare(from[i], from[j]) <= 0 ? from[i++] : from[j++];
        if (++work % STEP === 0) yield;
      }
      while (i < mid) to[k++] = from[i++];
      while (j < hi) to[k++] = from[j++];
    }
    [from, to] = [to, from];
  }
  return from;
}
