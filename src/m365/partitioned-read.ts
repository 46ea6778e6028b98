import type { GraphPage, PageFetcher } from './graph-paging.js';

/**
 * Helpers of the partitioned full read (issue 16 item 2): several page chains read side by
 * side, at most a given number of requests in flight for one app registration, their results
 * handed out as they come.
 */

/** At most `size` tasks at once; the others wait their turn, first come first served. */
export class Slots {
  private free: number;
  private readonly waiting: Array<() => void> = [];
  /** waiting tasks that go before the others (the long chains of a huge group) */
  private readonly urgent: Array<() => void> = [];

  constructor(size: number) {
    this.free = Math.max(1, Math.floor(size));
  }

  async run<T>(task: () => Promise<T>, first = false): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => (first ? this.urgent : this.waiting).push(resolve));
    try {
      return await task();
    } finally {
      const next = this.urgent.shift() ?? this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}

/** Raised by a slotted fetch whose read is no longer wanted; nobody sees it but its producer. */
export class ReadAbandoned extends Error {}

/**
 * A page fetcher that takes a slot for each request; with `queue`, a request whose turn comes
 * once that read is no longer wanted is not sent. `first`: its requests go before the others
 * waiting (for the few long chains that would otherwise end last).
 */
export function slotted(
  fetch: PageFetcher,
  slots: Slots,
  queue?: PageQueue<unknown>,
  first = false,
): PageFetcher {
  return (url) =>
    slots.run(() => {
      if (queue && !queue.wanted) throw new ReadAbandoned(url);
      return fetch(url);
    }, first);
}

/**
 * An async queue that producers fill and one consumer drains: `end()` once every producer is
 * done, `fail(err)` to end the consumer's iteration with that error.
 */
export class PageQueue<T> {
  private readonly items: T[] = [];
  private wake?: () => void;
  private done = false;
  private error: unknown;
  private failed = false;
  private closed = false;

  /**
   * False once the consumer stopped draining (the run was aborted, or failed on an earlier
   * page) or a producer failed: the other producers then stop at their next page instead of
   * reading the rest of the directory for nobody.
   */
  get wanted(): boolean {
    return !this.closed && !this.failed;
  }

  push(item: T): void {
    this.items.push(item);
    this.notify();
  }

  end(): void {
    this.done = true;
    this.notify();
  }

  fail(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.error = err;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  async *drain(): AsyncGenerator<T> {
    try {
      for (;;) {
        if (this.failed) throw this.error;
        const item = this.items.shift();
        if (item !== undefined) {
          yield item;
          continue;
        }
        if (this.done) return;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
      }
    } finally {
      this.closed = true;
      this.items.length = 0;
    }
  }
}

/**
 * Runs `work` for every item side by side (the fetchers they use limit the requests in
 * flight), and ends or fails `queue` when all are done or one fails. The promise (it never
 * rejects) settles once every producer has stopped.
 */
export function runAll<T>(
  queue: PageQueue<unknown>,
  items: Iterable<T>,
  work: (item: T) => Promise<void>,
): Promise<void> {
  return Promise.all([...items].map((item) => work(item))).then(
    () => queue.end(),
    (err: unknown) => queue.fail(err),
  );
}

/**
 * The `$filter`s of a partitioned `/users` read: ranges of `userPrincipalName` cut at
 * `bounds` (sorted, lower case, none a possible UPN: without '@'):
 * `le b1`, `ge b1 and le b2`, …, `ge bn`. Whatever order Graph compares strings in, every
 * UPN is ≤ b1 or ≥ b1, and so on: the ranges cover the directory with no catch-all, and
 * overlap only on a UPN equal to a bound, which no UPN is. `ge` and `le` on
 * userPrincipalName are default (not advanced) queries on /users
 * (https://learn.microsoft.com/graph/api/resources/user#properties: "Supports $filter (eq,
 * ne, not, ge, le, in, startsWith, endsWith)"; ne, not and endsWith are the advanced ones,
 * https://learn.microsoft.com/graph/aad-advanced-queries).
 */
export function upnRanges(bounds: readonly string[]): string[] {
  const b = [...new Set(bounds.map((x) => x.toLowerCase()))].sort();
  if (b.length === 0) return [''];
  const q = (s: string) => `'${s.replace(/'/g, "''")}'`;
  const out = [`userPrincipalName le ${q(b[0] as string)}`];
  for (let i = 1; i < b.length; i++) {
    out.push(`userPrincipalName ge ${q(b[i - 1] as string)} and userPrincipalName le ${q(b[i] as string)}`);
  }
  out.push(`userPrincipalName ge ${q(b[b.length - 1] as string)}`);
  return out;
}

/**
 * Follows one chain of pages from `first` (no read-ahead: the slots decide what runs), until
 * its last page or until `queue` is no longer wanted.
 */
export async function* chain(
  fetch: PageFetcher,
  first: string,
  queue?: PageQueue<unknown>,
): AsyncGenerator<GraphPage> {
  let url: string | undefined = first;
  while (url && (queue?.wanted ?? true)) {
    const page: GraphPage = await fetch(url);
    url = page.nextLink;
    yield page;
  }
}
