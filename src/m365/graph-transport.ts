import { AsyncLocalStorage } from 'node:async_hooks';
import {
  AuthenticationHandler,
  type AuthenticationProvider,
  Client,
  type Context,
  HTTPMessageHandler,
  type Middleware,
  RedirectHandler,
  RedirectHandlerOptions,
  RetryHandler,
  RetryHandlerOptions,
  TelemetryHandler,
} from '@microsoft/microsoft-graph-client';
import { agentFor, type MicrosoftEndpoints } from './microsoft-clients.js';

/**
 * A Graph client whose middleware chain counts what goes over the wire, for readers that
 * must report how many requests they made (`DirectoryReader.stats()`).
 *
 * The chain is graph-client's default one (authentication → retry → redirect → telemetry →
 * fetch) with a counting step placed after the retry handler, so every attempt is counted,
 * and with the retry handler allowed graph-client's maximum of 10 retries instead of 3, so a
 * long read that meets throttling keeps going. graph-client's RetryHandler retries 429, 503
 * and 504 and waits what `Retry-After` says (seconds or an HTTP date), as Microsoft asks
 * (https://learn.microsoft.com/graph/throttling#best-practices-to-handle-throttling).
 */

/** graph-client 3's limits (RetryHandlerOptions: MAX_MAX_RETRIES 10, MAX_DELAY 180 s, DEFAULT_DELAY 3 s). */
const MAX_RETRIES = 10;
const MAX_RETRY_DELAY_SECONDS = 180;
const DEFAULT_RETRY_DELAY_SECONDS = 3;

export const THROTTLE_STATUSES: readonly number[] = [429, 503, 504];

export interface GraphTraffic {
  /** HTTP requests sent (a `$batch` counts once), retries included. */
  requests: number;
  /** Answers 429 / 503 / 504 (each one is retried), plus such answers to items inside a `$batch`. */
  throttled: number;
}

/**
 * The counter of the work in progress (a sync run: `DirectoryReader.tracked`), beside the
 * reader's total, so runs of several PBXs sharing one reader each count their own requests.
 */
export const scopedTraffic = new AsyncLocalStorage<GraphTraffic>();

/** Counts on `traffic` and on the counter of the current scope, if any. */
export function countTraffic(traffic: GraphTraffic, what: keyof GraphTraffic): void {
  traffic[what]++;
  const scoped = scopedTraffic.getStore();
  if (scoped && scoped !== traffic) scoped[what]++;
}

/** Counts each HTTP attempt and each throttled answer. Sits right before the telemetry handler. */
export class CountingHandler implements Middleware {
  private next?: Middleware;

  constructor(private readonly traffic: GraphTraffic) {}

  async execute(context: Context): Promise<void> {
    countTraffic(this.traffic, 'requests');
    if (!this.next) throw new Error('CountingHandler has no next middleware');
    await this.next.execute(context);
    if (context.response && THROTTLE_STATUSES.includes(context.response.status)) {
      countTraffic(this.traffic, 'throttled');
    }
  }

  setNext(next: Middleware): void {
    this.next = next;
  }
}

export interface CountingClientOptions {
  /** Retries per request on 429/503/504 (graph-client caps it at 10). Default 10. */
  maxRetries?: number;
  /** Seconds to wait before a retry when the answer carries no Retry-After. Default 3 (graph-client's). */
  retryDelaySeconds?: number;
}

function trimSlash(s: string): string {
  return s.replace(/\/+$/, '');
}

/** Splits `https://host/prefix/v1.0` into graph-client's `baseUrl` (`https://host/prefix`) and version (`v1.0`). */
export function splitGraphBaseUrl(graphBaseUrl: string): { baseUrl: string; version: string; host: string } {
  const base = new URL(trimSlash(graphBaseUrl));
  const segments = base.pathname.split('/').filter(Boolean);
  const version = segments.pop() ?? 'v1.0';
  const baseUrl = `${base.origin}${segments.length > 0 ? `/${segments.join('/')}` : ''}`;
  return { baseUrl, version, host: base.hostname };
}

/**
 * Like `createGraphClient` (microsoft-clients.ts), plus the counting step and the raised
 * retry limit. The Graph host is listed in `customHosts` so that graph-client attaches the
 * token for a national cloud or the sandbox; the fetch trusts `extraCaPem` when given.
 */
export function createCountingGraphClient(
  endpoints: MicrosoftEndpoints,
  getAccessToken: () => Promise<string>,
  traffic: GraphTraffic,
  options: CountingClientOptions = {},
): Client {
  const { baseUrl, version, host } = splitGraphBaseUrl(endpoints.graphBaseUrl);
  const authProvider: AuthenticationProvider = { getAccessToken };
  const auth = new AuthenticationHandler(authProvider);
  const retry = new RetryHandler(
    new RetryHandlerOptions(
      Math.min(
        Math.max(0, options.retryDelaySeconds ?? DEFAULT_RETRY_DELAY_SECONDS),
        MAX_RETRY_DELAY_SECONDS,
      ),
      Math.min(Math.max(0, options.maxRetries ?? MAX_RETRIES), MAX_RETRIES),
    ),
  );
  const redirect = new RedirectHandler(new RedirectHandlerOptions());
  const counting = new CountingHandler(traffic);
  const telemetry = new TelemetryHandler();
  const http = new HTTPMessageHandler();
  auth.setNext(retry);
  retry.setNext(redirect);
  redirect.setNext(counting);
  counting.setNext(telemetry);
  telemetry.setNext(http);
  const agent = agentFor(endpoints.extraCaPem);
  return Client.initWithMiddleware({
    middleware: auth,
    baseUrl,
    defaultVersion: version,
    customHosts: new Set([host]),
    // Node's fetch takes an undici dispatcher; graph-client passes fetchOptions through to fetch.
    fetchOptions: agent ? ({ dispatcher: agent } as unknown as RequestInit) : undefined,
  });
}
