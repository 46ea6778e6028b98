import type { Steps } from '../../domain/steps.js';

const PLAN_SLICE_MS = 10;

/**
 * Runs a planner's steps, letting the event loop turn (HTTP, lock renewals, other runs)
 * whenever one slice has run PLAN_SLICE_MS: planning 100,000 users takes a few hundred
 * milliseconds, far more than any request should wait.
 */
export async function stepByStep<T>(steps: Steps<T>): Promise<T> {
  let sliceStart = performance.now();
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
    if (performance.now() - sliceStart >= PLAN_SLICE_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
}
