import type {
  ExtensionPresence,
  ExtensionPresenceStatus,
  PresenceMapping,
  TeamsPresenceState,
} from '../../domain/presence.mapping.js';
import type { MicrosoftAppCredentials } from './microsoft.port.js';

/** One extension's presence, its switch and its mapping, as the portal reads them. */
export interface ExtensionPresenceData extends ExtensionPresence {
  extensionId: string;
  pbxId: string;
  /** P2: presence sync on for this extension (on unless switched off). */
  enabled: boolean;
  /** The entries that differ from the default mapping. */
  customMapping: Partial<PresenceMapping>;
}

/** A synced, presence-enabled extension the poller reads: its Entra user and what it holds now. */
export interface PresenceTarget {
  extensionId: string;
  /** The Entra user object id. */
  userId: string;
  current: ExtensionPresence;
  customMapping: Partial<PresenceMapping>;
}

/** An extension presence to write (insert or update), after a reading or by hand. */
export interface PresenceWrite {
  extensionId: string;
  presence: ExtensionPresence;
}

/** P1–P3: what the store keeps of presence (src/store/presence.repository.ts). */
export interface PresenceRepository {
  /** P1: the integration's presence switch (off until saved). */
  settings(pbxId: string): Promise<{ enabled: boolean; updatedAt: Date | null }>;
  saveSettings(pbxId: string, enabled: boolean): Promise<void>;
  /** No presence request of the PBX before this time (a 429's Retry-After), or null. */
  retryAt(pbxId: string): Promise<Date | null>;
  setRetryAt(pbxId: string, at: Date | null): Promise<void>;
  /** PBXs whose presence sync is on. */
  enabledPbxIds(): Promise<string[]>;
  /**
   * The synced extensions (SYNCED with an Entra user) whose presence is on, ordered by their Entra
   * user id, after the user id `after`, at most `limit`.
   */
  pageTargets(pbxId: string, after: string | null, limit: number): Promise<PresenceTarget[]>;
  countTargets(pbxId: string): Promise<number>;
  /** The presence rows of these extensions of the PBX (extensions without a row are left out). */
  find(pbxId: string, extensionIds: readonly string[]): Promise<Map<string, ExtensionPresenceData>>;
  /** Writes each presence (status, source, Teams reading, changedAt), keeping switch and mapping. */
  write(pbxId: string, writes: readonly PresenceWrite[]): Promise<void>;
  /**
   * P2: switches presence on or off and/or sets the custom mapping of these extensions; returns
   * the ids of those that exist in the PBX and are synced.
   */
  configure(
    pbxId: string,
    extensionIds: readonly string[],
    patch: { enabled?: boolean; customMapping?: Partial<PresenceMapping> },
  ): Promise<string[]>;
  /** Forgets the presence (not the switch or mapping) of extensions that are no longer synced. */
  clearUnsynced(pbxId: string): Promise<string[]>;
}

/** One user's Teams presence, as Graph reports it. */
export interface TeamsPresenceReading {
  userId: string;
  availability: string;
  activity: string;
}

/** How a presence read failed in a way the poller acts on. */
export interface PresenceReadThrottled {
  throttled: true;
  /** What Retry-After asked, in ms. */
  retryAfterMs: number;
}

/** P1–P3: reading Teams presence (src/m365/presence.reader.ts), app-only (Presence.Read.All). */
export interface PresenceReader {
  /**
   * `POST /communications/getPresencesByUserId` for at most 650 ids, never retried here: a 429
   * comes back as `{ throttled, retryAfterMs }` for the poller to honour. Other failures throw a
   * `MicrosoftError`.
   */
  readPresences(
    app: MicrosoftAppCredentials,
    userIds: readonly string[],
  ): Promise<TeamsPresenceReading[] | PresenceReadThrottled>;
  /** Requests sent so far (for the bench's share of the quota). */
  stats(): { requests: number; throttled: number };
}

/**
 * What a PBX's presence subscription is (issue 15 item 2): kept in Redis beside the poll, read by
 * every process (the status), written by the round that holds the PBX.
 */
export interface PresenceSubscriptionState {
  /** SUBSCRIBED: the users in `userIds` are notified, the others polled; POLLING: everyone is polled. */
  mode: 'SUBSCRIBED' | 'POLLING';
  /** Why everyone is polled (POLLING), in words. */
  reason: string | null;
  subscriptionId: string | null;
  /** The users the subscription watches (≤ 650), sorted. */
  userIds: string[];
  /** epoch ms */
  expiresAt: number;
  /** POLLING: no new attempt to subscribe before this (epoch ms). */
  nextAttemptAt: number;
  /** The last round that read every user, covered ones included (epoch ms): the safety net. */
  fullRoundAt: number;
}

/** Creating, renewing and deleting a presence subscription with a delegated token (src/m365). Failures are MicrosoftError. */
export interface PresenceSubscriptionsClient {
  create(
    delegatedAccessToken: string,
    request: {
      userIds: readonly string[];
      notificationUrl: string;
      lifecycleNotificationUrl: string;
      clientState: string;
      expirationDateTime: Date;
    },
  ): Promise<{ id: string; expirationDateTime: Date }>;
  renew(
    delegatedAccessToken: string,
    id: string,
    expirationDateTime: Date,
  ): Promise<{ expirationDateTime: Date }>;
  remove(delegatedAccessToken: string, id: string): Promise<void>;
}

/** The queue of presence polls, one repeating job per PBX (jobs/presence-poll.queue.ts). */
export interface PresencePollQueue {
  /** Makes the PBX's poll repeat every `intervalMs` (idempotent; a new interval replaces the old one). */
  ensure(pbxId: string, intervalMs: number): Promise<void>;
  /** Stops the PBX's poll. */
  stop(pbxId: string): Promise<void>;
  /** Holds the PBX's round (one at a time across processes) until the release is called, or null when another holds it. */
  claim(pbxId: string, ttlMs: number): Promise<(() => Promise<void>) | null>;
  /**
   * Issue 15 item 3: Graph's presence quota is per app per tenant, so every PBX polling with the
   * same app in the same Entra tenant shares it. Records that the PBX sends `requestsPerRound`
   * requests a round under `budgetKey` (app + tenant) and returns what all the PBXs of that key
   * send a round together (entries not refreshed for a while no longer count).
   */
  shareBudget(budgetKey: string, pbxId: string, requestsPerRound: number): Promise<number>;
  /** What the PBXs of `budgetKey` send a round together, as last recorded. */
  readBudget(budgetKey: string): Promise<number>;
  /** The PBX no longer polls under `budgetKey`. */
  leaveBudget(budgetKey: string, pbxId: string): Promise<void>;
  /** The PBX's presence subscription state, or null when it never had one. */
  subscriptionState(pbxId: string): Promise<PresenceSubscriptionState | null>;
  saveSubscriptionState(pbxId: string, state: PresenceSubscriptionState | null): Promise<void>;
  /** Takes (and forgets) the user ids presence notifications named for the PBX since the last call. */
  takeNotified(pbxId: string): Promise<string[]>;
}

export type { ExtensionPresenceStatus, TeamsPresenceState };
