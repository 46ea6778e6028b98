import { hash } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type {
  NotificationQueue,
  SubscriptionRecord,
  SubscriptionsVersion,
} from './ports/change-notifications.port.js';
import type { AppLog } from './ports/log.port.js';

/** The `resource` our presence subscription is kept under (src/app/presence-subscription.ts). */
export const PRESENCE_SUBSCRIPTION_RESOURCE = 'presence';

/**
 * The public webhook's side of change notifications (T2, issue 12 item 1): what `POST
 * /graph/notifications` and `/graph/lifecycle` do before they answer. Anyone can post there,
 * so nothing here touches the database per item:
 * - each item is checked against an in-process cache of the known subscriptions
 *   (`KnownSubscriptions`): its subscription id is looked up first (a Map), and only an item
 *   naming a known subscription has its clientState hashed (SHA-256) and compared, in
 *   constant time, with the stored hash; nothing else is allocated per item (no Hash object,
 *   no Buffer: 1,000 `createHash` calls a body made the flood's scavenges take 10–25 ms);
 * - a body's items are looked at in slices of `SLICE` with a turn of the event loop between
 *   them, so that /healthz and GraphQL are answered between slices, not after the whole body;
 * - at most `maxItems` items of a body are looked at (any valid one is enough to start the
 *   sync, which reads every change from Graph itself);
 * - valid items are only counted, per PBX, and handed to a job (`NotificationQueue`); the
 *   debounce and the run are the job's work (`recordChanges`, `handleLifecycle`).
 */

/** Graph's limit on clientState (resources/subscription); a longer one is refused unhashed. */
const CLIENT_STATE_MAX = 128;

/** Items looked at in one stretch of the event loop (about 0.1 ms of work). */
const SLICE = 250;

interface Known {
  id: string;
  pbxId: string;
  /** the clientState's SHA-256, lowercase hex, as stored */
  hash: string;
  /** a presence subscription (issue 15 item 2): its items name the user whose presence changed */
  presence: boolean;
}

/** A user id as presence notifications carry it (`resourceData.id`, an Entra object id). */
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `a === b` for two strings of the same length, in time that does not depend on where they differ. */
function sameHex(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * The subscriptions this gateway holds, cached in the process: reloaded from the database
 * when their shared version (Redis, bumped on every change) moved, looked at no more often
 * than every `checkEveryMs`, and at the latest every `maxAgeMs`. An item naming an id the
 * cache does not know has the version looked at again (`recheck`, at most every
 * `recheckEveryMs`): a subscription made a moment ago (its validation done, its record just
 * saved) is known to its first notification. The webhook answers 202 either way, so Graph
 * does not send it again: a lifecycle event dropped here would never come back. Unknown ids never cause a reload by themselves, so forged notifications
 * cost no database work, only a Redis read now and then.
 */
export class KnownSubscriptions {
  private byId = new Map<string, Known[]>();
  private version: string | null = null;
  private loadedAt = 0;
  private checkedAt = 0;
  private refreshing: Promise<boolean> | undefined;

  constructor(
    private readonly deps: {
      load: () => Promise<SubscriptionRecord[]>;
      version: SubscriptionsVersion;
      now?: () => number;
      checkEveryMs?: number;
      recheckEveryMs?: number;
      maxAgeMs?: number;
      onLoad?: (count: number) => void;
    },
  ) {}

  private now() {
    return this.deps.now?.() ?? Date.now();
  }

  /** Brings the cache up to date if it may be stale (at most one reload at a time). */
  async fresh(): Promise<void> {
    await this.checkOlderThan(this.deps.checkEveryMs ?? 250);
  }

  /** An item named an unknown id: looks at the version again unless it just did. True if reloaded. */
  recheck(): Promise<boolean> {
    return this.checkOlderThan(this.deps.recheckEveryMs ?? 20);
  }

  private async checkOlderThan(ms: number): Promise<boolean> {
    if (this.version !== null && this.now() - this.checkedAt < ms) return false;
    this.refreshing ??= this.refresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async refresh(): Promise<boolean> {
    // The version first: a change made while loading moves it again, and the next check reloads.
    const version = await this.deps.version.current();
    const stale = this.now() - this.loadedAt > (this.deps.maxAgeMs ?? 60_000);
    if (version !== this.version || stale) {
      const rows = await this.deps.load();
      const byId = new Map<string, Known[]>();
      for (const r of rows) {
        const known = {
          id: r.id,
          pbxId: r.pbxId,
          hash: r.clientStateHash.toLowerCase(),
          presence: r.resource === PRESENCE_SUBSCRIPTION_RESOURCE,
        };
        const list = byId.get(r.id) ?? [];
        list.push(known);
        byId.set(r.id, list);
      }
      this.byId = byId;
      this.version = version;
      this.loadedAt = this.now();
      this.deps.onLoad?.(rows.length);
      this.checkedAt = this.now();
      return true;
    }
    this.checkedAt = this.now();
    return false;
  }

  has(subscriptionId: unknown): boolean {
    return typeof subscriptionId === 'string' && this.byId.has(subscriptionId);
  }

  /** The subscription a notification item proves it comes from, or null. */
  match(subscriptionId: unknown, clientState: unknown): Known | null {
    if (typeof subscriptionId !== 'string') return null;
    const candidates = this.byId.get(subscriptionId);
    if (!candidates) return null;
    if (typeof clientState !== 'string' || clientState.length > CLIENT_STATE_MAX) return null;
    // The same digest as hashClientState (src/app/change-notifications.ts), as hex in one call.
    const digest = hash('sha256', clientState, 'hex');
    for (const c of candidates) if (sameHex(c.hash, digest)) return c;
    return null;
  }

  get size() {
    let n = 0;
    for (const list of this.byId.values()) n += list.length;
    return n;
  }
}

export interface IntakeReport {
  accepted: number;
  rejected: number;
  /** items past the per-body cap, not looked at */
  ignored: number;
}

export interface NotificationIntake {
  /** Change notifications: valid items counted per PBX and handed to a job. */
  changes(body: unknown): Promise<IntakeReport>;
  /** Lifecycle notifications: valid ones handed to a job, one per subscription and event. */
  lifecycle(body: unknown): Promise<IntakeReport>;
}

export class InvalidNotificationBody extends Error {}

interface Item {
  subscriptionId?: unknown;
  clientState?: unknown;
  lifecycleEvent?: unknown;
  resourceData?: { id?: unknown } | null;
}

function itemsOf(body: unknown): Item[] {
  const items = (body as { value?: unknown } | null)?.value;
  if (!Array.isArray(items)) throw new InvalidNotificationBody('expected {"value": [...]}');
  return items as Item[];
}

/** Lifecycle events the gateway acts on (concepts/change-notifications-lifecycle-events). */
const LIFECYCLE_EVENTS = new Set(['reauthorizationRequired', 'subscriptionRemoved', 'missed']);

/**
 * The subscription each item proves it comes from (null: forged, or not ours), looked at in
 * slices; items naming an unknown id are matched again if `recheck` finds the cache was stale.
 */
async function matchAll(known: KnownSubscriptions, items: readonly Item[]): Promise<Array<Known | null>> {
  const matches: Array<Known | null> = new Array(items.length);
  let unknown = false;
  for (let i = 0; i < items.length; i++) {
    if (i && i % SLICE === 0) await yieldToEventLoop();
    const item = items[i];
    matches[i] = known.match(item?.subscriptionId, item?.clientState);
    if (!matches[i] && !known.has(item?.subscriptionId)) unknown = true;
  }
  if (unknown && (await known.recheck()))
    for (let i = 0; i < items.length; i++) {
      if (i && i % SLICE === 0) await yieldToEventLoop();
      const item = items[i];
      matches[i] ??= known.match(item?.subscriptionId, item?.clientState);
    }
  return matches;
}

export function createNotificationIntake(deps: {
  known: KnownSubscriptions;
  queue: NotificationQueue;
  log: AppLog;
  maxItems: number;
  /** Counts each body's items by outcome (metrics). */
  observe?: (endpoint: 'notifications' | 'lifecycle', report: IntakeReport) => void;
  now?: () => number;
}): NotificationIntake {
  // Forged notifications are logged as one line per 10 s per process, with their count,
  // so a flood cannot flood the log too.
  let dropped = 0;
  let loggedAt: number | null = null;
  const now = () => deps.now?.() ?? Date.now();
  const noteDropped = (endpoint: string, n: number) => {
    if (!n) return;
    dropped += n;
    if (loggedAt !== null && now() - loggedAt < 10_000) return;
    deps.log('warn', 'notifications with an unknown subscription or a wrong clientState were dropped', {
      endpoint,
      dropped,
      sinceMs: loggedAt === null ? 0 : now() - loggedAt,
    });
    dropped = 0;
    loggedAt = now();
  };

  return {
    async changes(body) {
      const items = itemsOf(body);
      await deps.known.fresh();
      const looked = items.length > deps.maxItems ? items.slice(0, deps.maxItems) : items;
      const perPbx = new Map<string, number>();
      const presence = new Map<string, string[]>();
      const matches = await matchAll(deps.known, looked);
      let rejected = 0;
      for (let i = 0; i < looked.length; i++) {
        const item = looked[i];
        const sub = matches[i];
        if (!sub) {
          rejected++;
          continue;
        }
        if (sub.presence) {
          // Basic presence notifications name the user only; the PBX's next round reads them.
          const userId = item?.resourceData?.id;
          if (typeof userId !== 'string' || !GUID.test(userId)) {
            rejected++;
            continue;
          }
          const list = presence.get(sub.pbxId) ?? [];
          list.push(userId);
          presence.set(sub.pbxId, list);
          continue;
        }
        perPbx.set(sub.pbxId, (perPbx.get(sub.pbxId) ?? 0) + 1);
      }
      for (const [pbxId, n] of perPbx) await deps.queue.changesArrived(pbxId, n);
      for (const [pbxId, ids] of presence) await deps.queue.presenceChanged(pbxId, ids);
      const report = { accepted: looked.length - rejected, rejected, ignored: items.length - looked.length };
      deps.observe?.('notifications', report);
      noteDropped('notifications', rejected);
      return report;
    },

    async lifecycle(body) {
      const items = itemsOf(body);
      await deps.known.fresh();
      const looked = items.length > deps.maxItems ? items.slice(0, deps.maxItems) : items;
      const events = new Map<string, { pbxId: string; subscriptionId: string; event: string }>();
      const matches = await matchAll(deps.known, looked);
      let rejected = 0;
      for (let i = 0; i < looked.length; i++) {
        const item = looked[i];
        const sub = matches[i];
        const event = String(item?.lifecycleEvent);
        if (!sub || !LIFECYCLE_EVENTS.has(event)) {
          rejected++;
          continue;
        }
        events.set(`${sub.id} ${event}`, { pbxId: sub.pbxId, subscriptionId: sub.id, event });
      }
      for (const e of events.values()) {
        if (e.event === 'missed') await deps.queue.changesArrived(e.pbxId, 0, { missed: true });
        else await deps.queue.lifecycleArrived(e.subscriptionId, e.event);
      }
      const report = { accepted: looked.length - rejected, rejected, ignored: items.length - looked.length };
      deps.observe?.('lifecycle', report);
      noteDropped('lifecycle', rejected);
      return report;
    },
  };
}
