/**
 * Outlook service limits, per app per mailbox
 * (https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits):
 * - 4 concurrent requests: the fifth in flight gets 429 `ApplicationThrottled`, "Application
 *   is over its MailboxConcurrency limit." (the message Graph answers, e.g.
 *   https://learn.microsoft.com/answers/questions/734143/mailboxconcurrency-limit-throttling-exception);
 * - 10,000 requests per 10 minutes: past it, 429 with a Retry-After until the window ends.
 * Inside `$batch`, items aimed at one mailbox run in parallel unless `dependsOn` chains them
 * (https://learn.microsoft.com/graph/json-batching#sequencing-requests-with-the-dependson-property),
 * so each level of a batch counts against the same 4 (graph.routes.ts).
 *
 * A request is in flight from its arrival until its answer is computed: with the latency
 * knob, that is the latency. Knobs (`MailboxThrottleSettings`) default to Microsoft's values;
 * tests lower them.
 */
export interface MailboxThrottleSettings {
  /** on/off (the fault knob `throttling` turns this off too) */
  enabled: boolean;
  /** concurrent requests per app per mailbox (4) */
  concurrency: number;
  /** requests per app per mailbox per window (10,000) */
  requestsPerWindow: number;
  /** window length in ms (600,000) */
  windowMs: number;
  /** Retry-After (seconds) of a MailboxConcurrency 429 (1) */
  concurrencyRetryAfterSeconds: number;
}

export const DEFAULT_MAILBOX_THROTTLE: Readonly<MailboxThrottleSettings> = {
  enabled: true,
  concurrency: 4,
  requestsPerWindow: 10_000,
  windowMs: 600_000,
  concurrencyRetryAfterSeconds: 1,
};

export type Admission =
  | { ok: true; release: () => void }
  | { ok: false; code: string; message: string; retryAfterSeconds: number };

export function applyMailboxThrottleSettings(
  target: MailboxThrottleSettings,
  patch: Partial<MailboxThrottleSettings>,
): void {
  if (patch.enabled !== undefined) target.enabled = !!patch.enabled;
  for (const k of ['concurrency', 'requestsPerWindow', 'windowMs', 'concurrencyRetryAfterSeconds'] as const) {
    const v = patch[k];
    if (v !== undefined) {
      const n = Number(v);
      if (!Number.isFinite(n) || n < (k === 'concurrencyRetryAfterSeconds' ? 0 : 1)) {
        throw new Error(`${k} must be a number ≥ ${k === 'concurrencyRetryAfterSeconds' ? 0 : 1}`);
      }
      target[k] = n;
    }
  }
}

export class MailboxThrottle {
  readonly settings: MailboxThrottleSettings = { ...DEFAULT_MAILBOX_THROTTLE };
  private readonly inFlight = new Map<string, number>();
  private readonly windows = new Map<string, { start: number; count: number }>();

  /** Counters only (settings stay). */
  reset(): void {
    this.inFlight.clear();
    this.windows.clear();
  }

  /** Requests of `key` (tenant, app, mailbox) in flight now. */
  inFlightOf(key: string): number {
    return this.inFlight.get(key) ?? 0;
  }

  /** A request to a mailbox arrives: admitted (call `release` once answered) or refused. */
  admit(key: string, now = Date.now()): Admission {
    const s = this.settings;
    if (!s.enabled) return { ok: true, release: () => {} };
    let w = this.windows.get(key);
    if (!w || now - w.start >= s.windowMs) {
      w = { start: now, count: 0 };
      this.windows.set(key, w);
    }
    if (w.count >= s.requestsPerWindow) {
      return {
        ok: false,
        code: 'ApplicationThrottled',
        message: 'Application is over its MailboxRequests limit.',
        retryAfterSeconds: Math.max(1, Math.ceil((w.start + s.windowMs - now) / 1000)),
      };
    }
    // Refused requests count against the budget too ("all requests accrue against your usage
    // limits": https://learn.microsoft.com/graph/throttling#best-practices-to-handle-throttling).
    w.count++;
    const n = this.inFlight.get(key) ?? 0;
    if (n >= s.concurrency) {
      return {
        ok: false,
        code: 'ApplicationThrottled',
        message: 'Application is over its MailboxConcurrency limit.',
        retryAfterSeconds: s.concurrencyRetryAfterSeconds,
      };
    }
    this.inFlight.set(key, n + 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        const left = (this.inFlight.get(key) ?? 1) - 1;
        if (left <= 0) this.inFlight.delete(key);
        else this.inFlight.set(key, left);
      },
    };
  }
}
