import { randomUUID } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { Agent, request } from 'undici';
import type { PresenceState } from './presence.store.js';
import type { SandboxContext } from './sandbox.context.js';
import { graphTime, type SubscriptionRecord, type SubscriptionStore } from './subscriptions.store.js';
import type { DirectoryChange } from './tenant.store.js';

/**
 * Sends what Microsoft Graph sends to a subscriber: the validation request when a
 * subscription is created, change notifications when the tenant changes, lifecycle
 * notifications, with Graph's deadlines and retries.
 *
 * - Validation (/graph/change-notifications-delivery-webhooks#notificationurl-validation):
 *   `POST {notificationUrl}?validationToken=...` (`Content-Type: text/plain; charset=utf-8`);
 *   the endpoint must answer 200, `text/plain`, the URL-decoded token, within 10 s. Both
 *   notificationUrl and lifecycleNotificationUrl are validated. The token is opaque text
 *   with spaces and colons, like Graph's ("Validation: Testing client application
 *   reachability for subscription Request-Id: ..."), so a client that does not decode the
 *   query (`+` for space) fails as it would against Graph. Failures answer 400 with the
 *   messages Graph gives (microsoftgraph/nodejs-webhooks-sample issues #158 and #350,
 *   java-spring-webhooks-sample #82): "Subscription validation request failed. Notification
 *   endpoint must respond with 200 OK to validation request.", "... Response must exactly
 *   match validationToken query parameter.", "Subscription validation request timed out.".
 * - Delivery (same page, "Processing the change notification" and "Throttling"): a POST of
 *   `{ value: [...] }` that may carry several notifications, of several subscriptions that
 *   share the URL; a 2xx within 3 s or Graph retries "multiple times, for up to 4 hours",
 *   then discards. Here: exponential backoff from `retryInitialDelayMs` (doubling, capped at
 *   `retryMaxDelayMs`) until `retryForMs` after the first try; all knobs in NotificationSettings.
 * - Users and groups (/graph/change-notifications-overview#supported-resources): creation and
 *   soft deletion arrive as `updated`, deletion for good as `deleted`. Payload as Graph
 *   publishes it for directory objects (learn.microsoft.com/azure/event-grid/azure-active-directory-events):
 *   `resource: "Users/{id}"`, `resourceData: { "@odata.type": "#Microsoft.Graph.User",
 *   "@odata.id": "Users/{id}", id, organizationId, eventTime, sequenceNumber }`, `tenantId`.
 * - Lifecycle (/graph/change-notifications-lifecycle-events): `{ value: [{ subscriptionId,
 *   subscriptionExpirationDateTime, tenantId, clientState, lifecycleEvent }] }` to the
 *   lifecycleNotificationUrl; only subscriptions created with one get them. As observed on the
 *   wire (microsoft-graph-docs-contrib issue #84, msgraph-sdk-java #1551) Graph also sends
 *   `organizationId`, `resource: ""` and a `resourceData` naming the subscription; both the
 *   documented `tenantId` and `organizationId` are sent here. After a reauthorizationRequired
 *   challenge notifications keep flowing for a while (`reauthorizationGraceMs`), then pause,
 *   and changes meanwhile are lost, until `POST /subscriptions/{id}/reauthorize` or a renewal.
 */
export type LifecycleEvent = 'reauthorizationRequired' | 'subscriptionRemoved' | 'missed';

interface Item {
  subId: string;
  lifecycle?: LifecycleEvent;
  payload: Record<string, unknown>;
}

interface Job {
  url: string;
  items: Item[];
  attempts: number;
  firstAt: number;
  timer?: NodeJS.Timeout;
}

export interface ValidationFailure {
  code: string;
  message: string;
}

export interface DispatcherTotals {
  posts: number;
  failedPosts: number;
  notificationsDelivered: number;
  notificationsDropped: number;
  lifecycleDelivered: number;
  validationRequests: number;
}

type PostResult = { ok: true; status: number } | { ok: false; error: string };

export class NotificationDispatcher {
  private readonly agent: Agent;
  private readonly batches = new Map<string, { url: string; items: Item[]; timer: NodeJS.Timeout }>();
  private readonly retrying = new Set<Job>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly aborts = new Set<AbortController>();
  private sweepTimer: NodeJS.Timeout | null = null;
  private closed = false;
  totals: DispatcherTotals = emptyTotals();

  constructor(
    private readonly ctx: SandboxContext,
    caPem: string,
  ) {
    // Endpoints may be public (system CAs) or signed by the sandbox CA (tests).
    this.agent = new Agent({ connect: { ca: [...rootCertificates, caPem] }, keepAliveTimeout: 1000 });
    this.scheduleSweep();
  }

  private get store(): SubscriptionStore {
    return this.ctx.subscriptions;
  }

  // ---------------------------------------------------------------- validation

  /** Graph's validation handshake against one URL; null when the endpoint passed. */
  async validate(url: string, sub?: SubscriptionRecord): Promise<ValidationFailure | null> {
    const token = `Validation: Testing client application reachability for subscription Request-Id: ${randomUUID()}`;
    // appended as is: the URL's own query string reaches the endpoint unchanged
    const base = url.split('#', 1)[0] as string;
    const target = `${base}${base.includes('?') ? '&' : '?'}${new URLSearchParams({ validationToken: token })}`;
    this.totals.validationRequests++;
    if (sub) sub.stats.validationRequests++;
    const failed = 'Subscription validation request failed.';
    const res = await this.post(
      target,
      '',
      'text/plain; charset=utf-8',
      this.store.settings.validationTimeoutMs,
      true,
    );
    if (!res.ok) {
      return res.error === 'timeout'
        ? { code: 'ValidationError', message: 'Subscription validation request timed out.' }
        : {
            code: 'ValidationError',
            message: `${failed} Notification endpoint must respond with 200 OK to validation request.`,
          };
    }
    if (res.status !== 200) {
      return {
        code: 'ValidationError',
        message: `${failed} Notification endpoint must respond with 200 OK to validation request.`,
      };
    }
    if (!/^text\/plain\b/i.test(res.contentType ?? '')) {
      return { code: 'ValidationError', message: `${failed} Response must have a text/plain content type.` };
    }
    if (res.body !== token) {
      return {
        code: 'ValidationError',
        message: `${failed} Response must exactly match validationToken query parameter.`,
      };
    }
    return null;
  }

  // ---------------------------------------------------------------- change notifications

  /** A directory's change hook: queues a notification for every live subscription that watches the object. */
  onDirectoryChange(c: DirectoryChange, tenantId: string): void {
    if (this.closed) return;
    const now = Date.now();
    for (const s of this.store.list(now)) {
      if (s.tenantId !== tenantId) continue;
      const spec = s.spec;
      if (spec.kind !== 'directory' || spec.collection !== c.collection) continue;
      if (spec.objectId && spec.objectId !== c.id) continue;
      if (!s.changeTypes.has(c.changeType)) continue;
      s.stats.notificationsQueued++;
      if (this.paused(s, now)) {
        this.dropped(s, 1, 'change notifications paused: reauthorization required');
        continue;
      }
      const entity = c.collection === 'users' ? 'User' : 'Group';
      const path = `${entity}s/${c.id}`;
      this.enqueue(s.notificationUrl, {
        subId: s.id,
        payload: {
          subscriptionId: s.id,
          subscriptionExpirationDateTime: graphTime(s.expiresAt),
          changeType: c.changeType,
          resource: path,
          resourceData: {
            '@odata.type': `#Microsoft.Graph.${entity}`,
            '@odata.id': path,
            id: c.id,
            organizationId: tenantId,
            eventTime: graphTime(c.at),
            sequenceNumber: c.seq,
          },
          clientState: s.clientState,
          tenantId,
        },
      });
    }
  }

  /**
   * A user's Teams presence changed: a basic change notification for every live presence
   * subscription of the directory that watches the user, shaped as
   * https://learn.microsoft.com/graph/changenotifications-for-presence ("Basic presence
   * notifications") shows it: `resource: "communications/presences/{id}"`, `resourceData` with
   * `@odata.type: "#microsoft.graph.presence"`, `@odata.id: "users/{id}/presence"` and `id` only
   * (no availability or activity: the subscriber reads the presence), `tenantId` and
   * `organizationId`. Rich notifications (`includeResourceData`) are not made here.
   */
  onPresenceChange(userId: string, _state: PresenceState, tenantId: string): void {
    if (this.closed) return;
    const now = Date.now();
    for (const s of this.store.list(now)) {
      if (s.tenantId !== tenantId || s.spec.kind !== 'presence') continue;
      if (!s.spec.presenceIds?.has(userId)) continue;
      s.stats.notificationsQueued++;
      if (this.paused(s, now)) {
        this.dropped(s, 1, 'change notifications paused: reauthorization required');
        continue;
      }
      this.enqueue(s.notificationUrl, {
        subId: s.id,
        payload: {
          subscriptionId: s.id,
          clientState: s.clientState,
          changeType: 'updated',
          tenantId,
          resource: `communications/presences/${userId}`,
          subscriptionExpirationDateTime: graphTime(s.expiresAt),
          resourceData: {
            '@odata.id': `users/${userId}/presence`,
            '@odata.type': '#microsoft.graph.presence',
            id: userId,
          },
          organizationId: tenantId,
        },
      });
    }
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Sends a lifecycle notification (queued, retried like change notifications). False when the
   * subscription has no lifecycleNotificationUrl: Graph then sends nothing.
   */
  lifecycle(s: SubscriptionRecord, event: LifecycleEvent): boolean {
    if (event === 'reauthorizationRequired') s.reauthorizationRequiredAt ??= Date.now();
    if (!s.lifecycleNotificationUrl || this.closed) return false;
    const tenantId = s.tenantId;
    this.enqueue(s.lifecycleNotificationUrl, {
      subId: s.id,
      lifecycle: event,
      payload: {
        subscriptionId: s.id,
        subscriptionExpirationDateTime: graphTime(s.expiresAt),
        tenantId,
        organizationId: tenantId,
        clientState: s.clientState,
        lifecycleEvent: event,
        resource: '',
        resourceData: {
          '@odata.type': '#microsoft.graph.subscription',
          '@odata.id': `subscriptions/${s.id}`,
          id: s.id,
        },
      },
    });
    return true;
  }

  /** A reauthorizationRequired challenge is pending for longer than the grace period. */
  paused(s: SubscriptionRecord, now = Date.now()): boolean {
    return (
      s.reauthorizationRequiredAt !== null &&
      now - s.reauthorizationRequiredAt >= this.store.settings.reauthorizationGraceMs
    );
  }

  /** Whether the app (and, for a delegated subscription, the user) still holds a permission for the resource. */
  stillAuthorized(s: SubscriptionRecord): boolean {
    const app = this.ctx.tenants.get(s.tenantId)?.apps.get(s.applicationId);
    if (!app) return false;
    if (s.delegatedUserId) {
      const user = app.userConsents.get(s.delegatedUserId);
      return s.spec.perms.delegated.some((p) => app.adminConsentedScopes.has(p) || !!user?.has(p));
    }
    return s.spec.perms.app.some((p) => app.grantedAppRoles.has(p));
  }

  // ---------------------------------------------------------------- queue

  private enqueue(url: string, item: Item): void {
    const kind = item.lifecycle ? 'lifecycle' : 'change';
    const key = `${kind} ${url}`;
    const settings = this.store.settings;
    let b = this.batches.get(key);
    if (!b) {
      const timer = setTimeout(() => this.flush(key), settings.batchWindowMs);
      timer.unref();
      b = { url, items: [], timer };
      this.batches.set(key, b);
    }
    b.items.push(item);
    if (b.items.length >= settings.maxBatchSize) {
      clearTimeout(b.timer);
      this.flush(key);
    }
  }

  private flush(key: string): void {
    const b = this.batches.get(key);
    if (!b) return;
    this.batches.delete(key);
    const size = this.store.settings.maxBatchSize;
    for (let i = 0; i < b.items.length; i += size) {
      this.attempt({ url: b.url, items: b.items.slice(i, i + size), attempts: 0, firstAt: Date.now() });
    }
  }

  private attempt(job: Job): void {
    if (this.closed) return;
    const p: Promise<void> = this.send(job)
      .catch(() => undefined)
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  /** The subscription an item belongs to, when it may still be delivered; counts the drop otherwise. */
  private deliverable(item: Item, now: number): SubscriptionRecord | undefined {
    if (item.lifecycle === 'subscriptionRemoved') return this.store.find(item.subId);
    const s = this.store.get(item.subId, now);
    if (!s) {
      const gone = this.store.find(item.subId);
      if (gone && !item.lifecycle) this.dropped(gone, 1, `subscription ${gone.state}`);
      return undefined;
    }
    if (!item.lifecycle && this.paused(s, now)) {
      this.dropped(s, 1, 'change notifications paused: reauthorization required');
      return undefined;
    }
    return s;
  }

  private async send(job: Job): Promise<void> {
    const now = Date.now();
    const live: Array<[Item, SubscriptionRecord]> = [];
    for (const item of job.items) {
      const s = this.deliverable(item, now);
      if (s) live.push([item, s]);
    }
    job.items = live.map(([i]) => i);
    if (live.length === 0) return;
    job.attempts++;
    const subs = new Set(live.map(([, s]) => s));
    for (const s of subs) s.stats.deliveryAttempts++;
    const value = live.map(([item, s]) => ({
      ...item.payload,
      subscriptionExpirationDateTime: graphTime(s.expiresAt),
    }));
    this.totals.posts++;
    const res = await this.post(
      job.url,
      JSON.stringify({ value }),
      'application/json; charset=utf-8',
      this.store.settings.deliveryTimeoutMs,
      false,
    );
    if (this.closed) return;
    const ok = res.ok && res.status >= 200 && res.status < 300;
    if (ok) {
      const at = new Date().toISOString();
      for (const [item, s] of live) {
        if (item.lifecycle) {
          s.stats.lifecycleDelivered++;
          this.totals.lifecycleDelivered++;
        } else {
          s.stats.notificationsDelivered++;
          this.totals.notificationsDelivered++;
        }
        s.stats.lastDeliveredAt = at;
      }
      return;
    }
    const reason = res.ok ? `HTTP ${res.status}` : res.error;
    this.totals.failedPosts++;
    for (const s of subs) {
      s.stats.failedAttempts++;
      s.stats.lastError = `${job.url}: ${reason}`;
    }
    for (const [item, s] of live) if (item.lifecycle) s.stats.lifecycleFailed++;
    this.retryLater(job, live);
  }

  private retryLater(job: Job, live: Array<[Item, SubscriptionRecord]>): void {
    const st = this.store.settings;
    const delay = Math.min(st.retryInitialDelayMs * 2 ** (job.attempts - 1), st.retryMaxDelayMs);
    if (Date.now() + delay - job.firstAt > st.retryForMs) {
      for (const [item, s] of live) if (!item.lifecycle) this.dropped(s, 1, null);
      return;
    }
    const timer = setTimeout(() => {
      this.retrying.delete(job);
      this.attempt(job);
    }, delay);
    timer.unref();
    job.timer = timer;
    this.retrying.add(job);
  }

  private dropped(s: SubscriptionRecord, n: number, why: string | null): void {
    s.stats.notificationsDropped += n;
    this.totals.notificationsDropped += n;
    if (why) s.stats.lastError = why;
  }

  private async post(
    url: string,
    body: string,
    contentType: string,
    timeoutMs: number,
    readBody: true,
  ): Promise<{ ok: true; status: number; contentType?: string; body: string } | { ok: false; error: string }>;
  private async post(
    url: string,
    body: string,
    contentType: string,
    timeoutMs: number,
    readBody: false,
  ): Promise<PostResult>;
  private async post(
    url: string,
    body: string,
    contentType: string,
    timeoutMs: number,
    readBody: boolean,
  ): Promise<
    { ok: true; status: number; contentType?: string; body?: string } | { ok: false; error: string }
  > {
    const abort = new AbortController();
    this.aborts.add(abort);
    const timer = setTimeout(() => abort.abort(new Error('timeout')), timeoutMs);
    try {
      const res = await request(url, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body,
        dispatcher: this.agent,
        signal: abort.signal,
      });
      const text = await res.body.text();
      const ct = res.headers['content-type'];
      return {
        ok: true,
        status: res.statusCode,
        contentType: Array.isArray(ct) ? ct[0] : ct,
        ...(readBody ? { body: text } : {}),
      };
    } catch (e) {
      if (abort.signal.aborted) return { ok: false, error: this.closed ? 'sandbox closing' : 'timeout' };
      return { ok: false, error: (e as Error).message || String(e) };
    } finally {
      clearTimeout(timer);
      this.aborts.delete(abort);
    }
  }

  // ---------------------------------------------------------------- sweep

  private scheduleSweep(): void {
    if (this.closed) return;
    this.sweepTimer = setTimeout(() => {
      this.sweep();
      this.scheduleSweep();
    }, this.store.settings.sweepIntervalMs);
    this.sweepTimer.unref();
  }

  /** Ends expired subscriptions; challenges those whose app lost its permission (Graph: "When an
   * administrator has revoked your app's permissions to read a resource"). */
  sweep(now = Date.now()): void {
    for (const s of this.store.list(now)) {
      if (s.reauthorizationRequiredAt === null && !this.stillAuthorized(s))
        this.lifecycle(s, 'reauthorizationRequired');
    }
  }

  // ---------------------------------------------------------------- admin

  /** Notifications waiting for their batch window, retries waiting for their time, POSTs in flight. */
  status(): { batched: number; retrying: number; inFlight: number; totals: DispatcherTotals } {
    let batched = 0;
    for (const b of this.batches.values()) batched += b.items.length;
    let retrying = 0;
    for (const j of this.retrying) retrying += j.items.length;
    return { batched, retrying, inFlight: this.inFlight.size, totals: { ...this.totals } };
  }

  /** Forgets every queued notification and retry (subscriptions reset). */
  clearQueues(): void {
    for (const b of this.batches.values()) clearTimeout(b.timer);
    this.batches.clear();
    for (const j of this.retrying) clearTimeout(j.timer);
    this.retrying.clear();
    this.totals = emptyTotals();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.clearQueues();
    for (const a of this.aborts) a.abort(new Error('closing'));
    await Promise.allSettled([...this.inFlight]);
    await this.agent.close().catch(() => undefined);
  }
}

function emptyTotals(): DispatcherTotals {
  return {
    posts: 0,
    failedPosts: 0,
    notificationsDelivered: 0,
    notificationsDropped: 0,
    lifecycleDelivered: 0,
    validationRequests: 0,
  };
}
