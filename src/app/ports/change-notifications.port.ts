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
}

/**
 * Gathers change events per PBX and turns them into sync runs: a run `debounceSeconds` after
 * the first change, or at once when `threshold` changes have gathered (Redis + BullMQ, so
 * several gateway processes never start two runs for one burst).
 */
export interface ChangeDebouncer {
  /** Adds `count` changes; returns how many have gathered in the current window. */
  add(pbxId: string, count: number): Promise<number>;
  /** Takes (and clears) the gathered count. */
  take(pbxId: string): Promise<number>;
  /** Makes sure one delayed flush is waiting for the PBX's current window. */
  scheduleFlush(pbxId: string, delayMs: number): Promise<void>;
  /**
   * Drops the flush still waiting for the PBX's window (the threshold closed it early), so the
   * next change opens a window of its own, with the debounce in force then.
   */
  cancelFlush(pbxId: string): Promise<void>;
}
