import { type Client, GraphError } from '@microsoft/microsoft-graph-client';
import { MicrosoftError } from '../app/ports/microsoft.port.js';
import { graphError } from './errors.js';
import { countTraffic, type GraphTraffic, THROTTLE_STATUSES } from './graph-transport.js';

/**
 * Paging and batching over graph-client, for collections, relations and delta rounds.
 *
 * Paging (https://learn.microsoft.com/graph/paging): a page carries `@odata.nextLink` (an
 * absolute URL with a `$skiptoken`) while more pages follow; a delta round ends with a page
 * that carries `@odata.deltaLink` instead (https://learn.microsoft.com/graph/delta-query-overview).
 * Query options go on the first request only; Graph carries them on in the links.
 *
 * Batching (https://learn.microsoft.com/graph/json-batching): at most 20 requests per
 * `POST /$batch`, URLs relative to the version, answers in any order; each item is
 * throttled on its own and comes back as a 429 item with its own `Retry-After` while the
 * envelope is 200, and the SDKs do not retry items, so the throttled items are sent again
 * here, after the time Graph asked for.
 */

export type GraphObject = Record<string, unknown>;

export interface GraphPage {
  value: GraphObject[];
  nextLink?: string;
  deltaLink?: string;
}

export type PageFetcher = (url: string) => Promise<GraphPage>;

/** Graph JSON of one page as a GraphPage. */
export function asPage(body: unknown): GraphPage {
  const b = (body ?? {}) as Record<string, unknown>;
  const value = Array.isArray(b.value) ? (b.value as GraphObject[]) : [];
  const nextLink = typeof b['@odata.nextLink'] === 'string' ? b['@odata.nextLink'] : undefined;
  const deltaLink = typeof b['@odata.deltaLink'] === 'string' ? b['@odata.deltaLink'] : undefined;
  return { value, nextLink, deltaLink };
}

/** Any failure of a Graph call as a `MicrosoftError`, with `retryAfterMs` when Graph said when to come back. */
export function readerError(err: unknown): MicrosoftError {
  const mapped = graphError(err);
  const headers = (err as { headers?: Headers } | undefined)?.headers;
  const retryAfter = headers && typeof headers.get === 'function' ? headers.get('Retry-After') : null;
  const ms = retryAfterMs(retryAfter);
  if (
    ms !== undefined &&
    mapped.retryAfterMs === undefined &&
    ['THROTTLED', 'UNAVAILABLE'].includes(mapped.code)
  ) {
    return new MicrosoftError(mapped.code, mapped.message, ms);
  }
  return mapped;
}

/** `Retry-After` in seconds (decimals allowed) or an HTTP date, as milliseconds. */
export function retryAfterMs(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** GETs one page with graph-client (which retries throttled answers) and maps failures. */
export function pageFetcher(
  client: Client,
  headers: Record<string, string> = {},
  mapError: (err: unknown) => MicrosoftError = readerError,
): PageFetcher {
  return async (url) => {
    try {
      return asPage(await client.api(url).headers(headers).get());
    } catch (err) {
      throw mapError(err);
    }
  };
}

function quiet<T>(p: Promise<T>): Promise<T> {
  // A read-ahead the caller never waits for (it stopped early) must not become an unhandled
  // rejection. Nothing is lost: a caller that does wait for `p` gets its rejection as usual.
  p.catch(() => undefined);
  return p;
}

/**
 * Follows `@odata.nextLink` from `first` (a URL, or the first page already on its way) and
 * yields each page. While the caller works on one page, the next one is already being
 * fetched (one page of read-ahead, so at most two pages are held at a time).
 */
export async function* followPages(
  fetchPage: PageFetcher,
  first: string | Promise<GraphPage>,
): AsyncGenerator<GraphPage> {
  let pending: Promise<GraphPage> | undefined = typeof first === 'string' ? fetchPage(first) : first;
  while (pending) {
    const page: GraphPage = await pending;
    pending = page.nextLink ? quiet(fetchPage(page.nextLink)) : undefined;
    yield page;
  }
}

/**
 * Starts a paged read and waits for its first page, so that a read that cannot start
 * (no consent, unknown tenant ...) fails when it is opened rather than when it is iterated.
 */
export async function openPages(fetchPage: PageFetcher, url: string): Promise<AsyncGenerator<GraphPage>> {
  const first = await fetchPage(url);
  return followPages(fetchPage, Promise.resolve(first));
}

/** An absolute Graph link (a nextLink) as the version-relative URL that `$batch` items take. */
export function versionRelative(link: string, graphBaseUrl: string): string {
  const base = new URL(graphBaseUrl.replace(/\/+$/, ''));
  const url = new URL(link, `${base.href}/`);
  const prefix = base.pathname.replace(/\/+$/, '');
  if (url.origin !== base.origin || !url.pathname.startsWith(`${prefix}/`)) {
    throw new MicrosoftError(
      'UNKNOWN',
      `Graph returned a link outside ${base.href}: ${url.origin}${url.pathname}`,
    );
  }
  return `${url.pathname.slice(prefix.length)}${url.search}`;
}

export interface BatchRequest<K> {
  key: K;
  /** relative to the version, e.g. `/groups/{id}/members?$select=id&$top=999` */
  url: string;
  headers?: Record<string, string>;
}

export interface BatchOptions {
  graphBaseUrl: string;
  traffic: GraphTraffic;
  /** `$batch` requests in flight at once. Default 4. */
  concurrency?: number;
  /** Batches in a row in which all of an item's batch was throttled before the read gives up with THROTTLED. Default 10. */
  maxItemAttempts?: number;
  /** How a failed `$batch` request becomes a MicrosoftError. Default `readerError`. */
  mapError?: (err: unknown) => MicrosoftError;
}

interface BatchItemAnswer {
  id: string;
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

interface Pending<K> extends BatchRequest<K> {
  attempts: number;
}

const MAX_BATCH = 20;

function header(headers: Record<string, string> | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  const wanted = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === wanted) return String(v);
  return undefined;
}

function itemError(answer: BatchItemAnswer): MicrosoftError {
  const body = (answer.body ?? {}) as { error?: { code?: string; message?: string } };
  const e = new GraphError(answer.status, body.error?.message ?? `batch item answered ${answer.status}`);
  e.code = body.error?.code ?? null;
  return graphError(e);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs GET requests through `$batch`, 20 to a batch, following each one's nextLinks in
 * later batches, and hands every page to `onPage(key, value)` (pages of one key arrive in
 * order). Items that answer 404 are reported in `notFound`; items throttled (429/503/504)
 * are sent again after their `Retry-After`; any other failure ends the run with its
 * `MicrosoftError`.
 */
export async function runBatched<K>(
  client: Client,
  requests: Iterable<BatchRequest<K>>,
  onPage: (key: K, value: GraphObject[]) => void,
  options: BatchOptions,
): Promise<{ notFound: K[] }> {
  const queue: Pending<K>[] = [...requests].map((r) => ({ ...r, attempts: 0 }));
  const notFound: K[] = [];
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const maxAttempts = Math.max(1, options.maxItemAttempts ?? 10);

  const send = async (chunk: Pending<K>[]): Promise<void> => {
    const body = {
      requests: chunk.map((item, i) => ({
        id: String(i),
        method: 'GET',
        url: item.url,
        ...(item.headers ? { headers: item.headers } : {}),
      })),
    };
    let answer: { responses?: BatchItemAnswer[] };
    try {
      answer = (await client.api('/$batch').post(body)) as { responses?: BatchItemAnswer[] };
    } catch (err) {
      throw (options.mapError ?? readerError)(err);
    }
    const byId = new Map((answer.responses ?? []).map((r) => [String(r.id), r]));
    // Throttling counts against an item only in a batch where nothing got through: while
    // others make progress, a throttled item just waits its turn again.
    const progressed = chunk.some((_, i) => {
      const status = byId.get(String(i))?.status ?? 0;
      return !THROTTLE_STATUSES.includes(status);
    });
    const again: Pending<K>[] = [];
    let waitMs = 0;
    chunk.forEach((item, i) => {
      const res = byId.get(String(i));
      if (!res) throw new MicrosoftError('UNKNOWN', `$batch answered no item ${i} (${item.url})`);
      if (res.status >= 200 && res.status < 300) {
        const page = asPage(res.body);
        onPage(item.key, page.value);
        if (page.nextLink) {
          queue.push({
            key: item.key,
            url: versionRelative(page.nextLink, options.graphBaseUrl),
            headers: item.headers,
            attempts: 0,
          });
        }
        return;
      }
      if (res.status === 404) {
        notFound.push(item.key);
        return;
      }
      if (THROTTLE_STATUSES.includes(res.status)) {
        countTraffic(options.traffic, 'throttled');
        const attempts = progressed ? item.attempts : item.attempts + 1;
        const after = retryAfterMs(header(res.headers, 'Retry-After'));
        if (attempts >= maxAttempts) {
          const e = itemError(res);
          throw new MicrosoftError(e.code, `${e.message} (gave up after ${attempts} tries)`, after);
        }
        // Without Retry-After: back off exponentially from 1 s, at most 60 s.
        waitMs = Math.max(waitMs, after ?? Math.min(60_000, 1000 * 2 ** attempts));
        again.push({ ...item, attempts });
        return;
      }
      throw itemError(res);
    });
    if (again.length > 0) {
      // The slot stays taken while it waits: a throttled run slows down rather than piling on.
      await sleep(waitMs);
      queue.unshift(...again);
    }
  };

  await new Promise<void>((resolve, reject) => {
    let inFlight = 0;
    let failed = false;
    const pump = () => {
      if (failed) return;
      while (inFlight < concurrency && queue.length > 0) {
        const chunk = queue.splice(0, MAX_BATCH);
        inFlight++;
        send(chunk).then(
          () => {
            inFlight--;
            pump();
          },
          (err: unknown) => {
            failed = true;
            reject(err);
          },
        );
      }
      if (inFlight === 0 && queue.length === 0) resolve();
    };
    pump();
  });
  return { notFound };
}
