import type { MicrosoftAppCredentials } from './microsoft.port.js';

/** A Graph change-notification subscription as Graph answers it. */
export interface GraphSubscriptionInfo {
  id: string;
  resource: string;
  expirationDateTime: Date;
}

/** Creating, renewing and removing Graph subscriptions (src/m365). Failures are MicrosoftError. */
export interface SubscriptionsClient {
  create(
    app: MicrosoftAppCredentials,
    request: {
      resource: string;
      changeType: string;
      notificationUrl: string;
      lifecycleNotificationUrl: string;
      clientState: string;
      expirationDateTime: Date;
    },
  ): Promise<GraphSubscriptionInfo>;
  renew(app: MicrosoftAppCredentials, id: string, expirationDateTime: Date): Promise<GraphSubscriptionInfo>;
  reauthorize(app: MicrosoftAppCredentials, id: string): Promise<void>;
  remove(app: MicrosoftAppCredentials, id: string): Promise<void>;
}

/** Where our subscriptions are kept (a hash of each clientState, never the value). */
export interface SubscriptionRecord {
  id: string;
  pbxId: string;
  resource: string;
  expiresAt: Date;
  clientStateHash: string;
}

export interface SubscriptionRepository {
  list(pbxId: string): Promise<SubscriptionRecord[]>;
  find(id: string): Promise<SubscriptionRecord | null>;
  save(record: SubscriptionRecord): Promise<void>;
  remove(id: string): Promise<void>;
  /** PBXs that hold at least one subscription. */
  pbxIds(): Promise<string[]>;
  /** Every subscription of every PBX (the webhook's cache of known subscriptions). */
  listAll(): Promise<SubscriptionRecord[]>;
}

/**
 * A version of the set of known subscriptions, shared by every gateway process (Redis): bumped
 * whenever a subscription is saved or removed, so that each process's cache of them
 * (`KnownSubscriptions`) reloads.
 */
export interface SubscriptionsVersion {
  current(): Promise<string>;
  bump(): Promise<void>;
}

/**
 * Where the webhook hands valid notifications (jobs/change-debouncer.ts): counted in Redis and
 * looked at by a job, never worked on in the request. At most one job per PBX (or per
 * subscription and event) waits at a time, however many notifications arrive.
 */
export interface NotificationQueue {
  /** Adds `count` valid changes of the PBX (and, `missed`, marks that Graph lost some), and makes sure a job looks at them. */
  changesArrived(pbxId: string, count: number, opts?: { missed?: boolean }): Promise<void>;
  /** Presence notifications named these users of the PBX: kept for its next presence round (issue 15 item 2). */
  presenceChanged(pbxId: string, userIds: readonly string[]): Promise<void>;
  /** A lifecycle event (reauthorizationRequired, subscriptionRemoved) of a known subscription, handled by a job. */
  lifecycleArrived(subscriptionId: string, event: string): Promise<void>;
}

/**
 * Gathers change events per PBX and turns them into sync runs: a run `debounceSeconds` after
 * the first change, or at once when `threshold` changes have gathered, and at most one
 * change-triggered run per `debounceSeconds` (Redis + BullMQ, so several gateway processes
 * never start two runs for one burst, and replayed notifications start no more).
 */
export interface ChangeDebouncer {
  /** Adds `count` changes; returns how many have gathered in the current window. */
  add(pbxId: string, count: number): Promise<number>;
  /** How many changes have gathered, without taking them. */
  peek(pbxId: string): Promise<number>;
  /** Takes (and clears) the gathered count. */
  take(pbxId: string): Promise<number>;
  /** Takes (and clears) the PBX's "Graph missed changes" mark. */
  takeMissed(pbxId: string): Promise<boolean>;
  /**
   * Claims the PBX's change-run window: 0 when no change-triggered run was asked for in the
   * last `windowMs` (and this one now is, at `nowMs`), else how many ms are left before one may be.
   */
  claimWindow(pbxId: string, nowMs: number, windowMs: number): Promise<number>;
  /**
   * Makes sure one delayed flush is waiting for the PBX's current window of `windowMs` (one
   * per PBX and window length: a flush queued under an older, longer debounce does not hold
   * back the flush of a shorter one).
   */
  scheduleFlush(pbxId: string, delayMs: number, windowMs: number): Promise<void>;
}
