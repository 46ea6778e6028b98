/**
 * Waiting on things, not on time. A test that needs something to happen waits with
 * `eventually` until it has (a row, a log line, a delivered POST), however slow the machine;
 * a test that needs something NOT to happen for a while says so with `staysTrue`. No test
 * sleeps for a fixed time and then hopes.
 */

export interface EventuallyOptions {
  /** How long to keep trying, in ms (default 15 s: generous, it only matters when the test fails). */
  timeout?: number;
  /** Pause between tries, in ms (default 20). */
  interval?: number;
  /** What was waited for, for the error when it never came. */
  message?: string;
}

export interface StaysTrueOptions {
  /** How long the condition must hold, in ms. */
  for: number;
  /** Pause between checks, in ms (default 20). */
  interval?: number;
  message?: string;
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A try that did not pass: it threw (a failed `expect`, say) or answered `false`. */
const NOT_YET = Symbol('not yet');

async function attempt<T>(fn: () => T | Promise<T>): Promise<{ value: T } | { error: unknown }> {
  try {
    const value = await fn();
    return value === false ? { error: NOT_YET } : { value };
  } catch (error) {
    return { error };
  }
}

function describeError(error: unknown): string {
  if (error === NOT_YET) return 'it answered false';
  return error instanceof Error ? error.message : String(error);
}

/**
 * Calls `fn` until it passes: returns without throwing and with anything but `false`. Resolves
 * with what it returned (so `eventually(() => list.find(...) ?? false)` hands back the item).
 * `fn` may be an assertion block (`expect` inside) or a predicate. Past `timeout`, fails with
 * `message` and the last try's error.
 */
export async function eventually<T>(
  fn: () => T | Promise<T>,
  options: EventuallyOptions = {},
): Promise<Exclude<T, false>> {
  const { timeout = 15_000, interval = 20, message = 'condition' } = options;
  const end = Date.now() + timeout;
  for (;;) {
    const result = await attempt(fn);
    if ('value' in result) return result.value as Exclude<T, false>;
    if (Date.now() >= end) {
      const err = new Error(
        `timed out after ${timeout} ms waiting for ${message}: ${describeError(result.error)}`,
      );
      if (result.error !== NOT_YET) (err as Error & { cause?: unknown }).cause = result.error;
      throw err;
    }
    await pause(interval);
  }
}

/**
 * Checks `fn` again and again for `for` ms, and fails at the first check that does not pass
 * (throws, or answers `false`). For "nothing more happens": call it only once what should
 * happen has happened (waited for with `eventually`), so the quiet period starts from there.
 */
export async function staysTrue<T>(fn: () => T | Promise<T>, options: StaysTrueOptions): Promise<void> {
  const { for: duration, interval = 20, message = 'condition' } = options;
  const end = Date.now() + duration;
  for (;;) {
    const result = await attempt(fn);
    if ('error' in result) {
      const err = new Error(
        `${message} stopped holding before ${duration} ms had passed: ${describeError(result.error)}`,
      );
      if (result.error !== NOT_YET) (err as Error & { cause?: unknown }).cause = result.error;
      throw err;
    }
    if (Date.now() >= end) return;
    await pause(Math.min(interval, Math.max(0, end - Date.now())));
  }
}
