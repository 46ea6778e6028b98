import { randomBytes } from 'node:crypto';
import { PRESENCE_IDS_PER_REQUEST } from '../domain/presence.mapping.js';
import { hashClientState, LIFECYCLE_PATH, NOTIFICATION_PATH } from './change-notifications.js';
import { tokenCacheOf } from './integration.js';
import { PRESENCE_SUBSCRIPTION_RESOURCE } from './notification-intake.js';
import type { SubscriptionsVersion } from './ports/change-notifications.port.js';
import type { AppLog } from './ports/log.port.js';
import type { MicrosoftAppCredentials, MicrosoftIdentity } from './ports/microsoft.port.js';
import type {
  PresencePollQueue,
  PresenceSubscriptionState,
  PresenceSubscriptionsClient,
} from './ports/presence.port.js';
import type { IntegrationData, Store } from './ports/store.port.js';
import type { SecretBox } from './secret-box.js';

/**
 * Issue 15 item 2: presence subscriptions where the authorization account can hold one.
 *
 * Graph's rules (https://learn.microsoft.com/graph/changenotifications-for-presence): delegated
 * Presence.Read.All only, at most 650 users a subscription, at most an hour, "a single user can
 * create one presence subscription per unique application". The gateway signs in one account per
 * PBX (the authorization account), so a PBX holds at most one presence subscription: its first 650
 * presence-enabled users (by Entra id), and polls the others with getPresencesByUserId. It is made,
 * renewed and dropped by the PBX's presence round (src/app/presence-sync.ts), which holds the PBX:
 * - made when there is a public URL and a delegated token with Presence.Read.All (the organisation
 *   granted the delegated permission); the round that makes it reads everyone, so nothing changed
 *   between the last read and the subscription is missed;
 * - renewed (PATCH) once half its hour is gone, and made anew when the first 650 users changed
 *   (someone turned presence off or on, left or joined the sync): a user turned off is not watched;
 * - any failure (no consent, no token, Graph refused) drops it: everyone is polled, and the status
 *   says why; a new attempt comes `subscribeRetryMs` later (or when presence sync is switched on),
 *   with a token fresh from the refresh token, not one cached from before the failure;
 * - every `safetyNetMs` a round reads the covered users too (one request of 650 ids), should a
 *   notification have been lost (Graph drops what it cannot deliver within 4 hours).
 * Notifications are basic (the user's id): the webhook leaves the ids in Redis, and the next round
 * reads those users with getPresencesByUserId and writes what changed, as for polled users.
 */
export interface PresenceSubscriptionDeps {
  store: Store;
  identity: MicrosoftIdentity;
  presenceSubscriptions: PresenceSubscriptionsClient;
  subscriptionsVersion: SubscriptionsVersion;
  polls: PresencePollQueue;
  secrets: SecretBox;
  now: () => Date;
  log: AppLog;
  /** After a failed attempt, the next one comes this much later (ms). */
  subscribeRetryMs: number;
  /** Covered users are also read this often (ms): the safety net. */
  safetyNetMs: number;
}

/** Ask for a little less than Graph's hour; renew when half of it is gone. */
export const PRESENCE_SUBSCRIPTION_LIFETIME_MS = 58 * 60_000;
/** The delegated scope a presence subscription needs. */
export const PRESENCE_DELEGATED_SCOPE = 'https://graph.microsoft.com/Presence.Read.All';

export interface Coverage {
  /** Users the subscription watches (not polled this round unless `full`). */
  covered: ReadonlySet<string>;
  /** This round reads every user (a subscription was just made, or the safety net is due). */
  full: boolean;
}

const NONE: Coverage = { covered: new Set(), full: false };

function polling(reason: string, nextAttemptAt: number): PresenceSubscriptionState {
  return {
    mode: 'POLLING',
    reason,
    subscriptionId: null,
    userIds: [],
    expiresAt: 0,
    nextAttemptAt,
    fullRoundAt: 0,
  };
}

const sameIds = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

async function delegatedPresenceToken(
  deps: PresenceSubscriptionDeps,
  integration: IntegrationData,
  app: MicrosoftAppCredentials,
  forceRefresh = false,
): Promise<string> {
  if (!integration.accountHomeId) throw new Error('no authorization account');
  const token = await deps.identity.delegatedToken(
    app,
    { homeAccountId: integration.accountHomeId },
    [PRESENCE_DELEGATED_SCOPE],
    tokenCacheOf(deps.store, deps.secrets, integration.pbxId),
    { forceRefresh },
  );
  if (!token.permissions.includes('Presence.Read.All'))
    throw new Error('the delegated token carries no Presence.Read.All');
  return token.accessToken;
}

/**
 * Makes the PBX's presence subscription right for this round (see above) and says whom it covers.
 * `firstUsers`: the first ≤ 650 presence-enabled users of the PBX by Entra id, sorted.
 */
export async function maintainPresenceSubscription(
  deps: PresenceSubscriptionDeps,
  integration: IntegrationData,
  app: MicrosoftAppCredentials,
  firstUsers: readonly string[],
): Promise<Coverage> {
  const pbxId = integration.pbxId;
  const now = deps.now().getTime();
  const state = await deps.polls.subscriptionState(pbxId);
  const record = state?.subscriptionId ? await deps.store.subscriptions.find(state.subscriptionId) : null;
  const wanted = firstUsers.slice(0, PRESENCE_IDS_PER_REQUEST);
  // A refused renewal may mean the grant behind the cached token is gone: ask for a new token.
  let forceRefresh = false;

  if (state?.mode === 'SUBSCRIBED' && record && wanted.length > 0 && sameIds(state.userIds, wanted)) {
    const expiresAt = Math.min(state.expiresAt, record.expiresAt.getTime());
    if (expiresAt - now > PRESENCE_SUBSCRIPTION_LIFETIME_MS / 2) {
      const full = now - state.fullRoundAt >= deps.safetyNetMs;
      if (full) await deps.polls.saveSubscriptionState(pbxId, { ...state, fullRoundAt: now });
      return { covered: new Set(state.userIds), full };
    }
    // Half its life gone (or a reauthorizationRequired marked it due): renew, which reauthorizes too.
    try {
      const token = await delegatedPresenceToken(deps, integration, app);
      const renewed = await deps.presenceSubscriptions.renew(
        token,
        record.id,
        new Date(now + PRESENCE_SUBSCRIPTION_LIFETIME_MS),
      );
      await deps.store.subscriptions.save({ ...record, expiresAt: renewed.expirationDateTime });
      await deps.polls.saveSubscriptionState(pbxId, {
        ...state,
        expiresAt: renewed.expirationDateTime.getTime(),
      });
      deps.log('info', 'presence subscription renewed', { pbxId, subscriptionId: record.id });
      return { covered: new Set(state.userIds), full: false };
    } catch (err) {
      forceRefresh = true;
      deps.log('warn', 'could not renew the presence subscription; making a new one', {
        pbxId,
        err: (err as Error).message,
      });
    }
  } else if (state?.mode === 'POLLING') {
    if (state.nextAttemptAt > now) return NONE;
    // The last attempt failed: MSAL may still hold an access token issued before the grant was
    // revoked, which Graph takes for a new subscription and refuses at its first reauthorization.
    forceRefresh = true;
  }

  // Drop what there is, then make the one this round wants (if any).
  await dropPresenceSubscription(deps, integration, app, state);
  if (wanted.length === 0) {
    await deps.polls.saveSubscriptionState(pbxId, null);
    return NONE;
  }
  const pbx = await deps.store.tenants.findPbx(pbxId);
  const base = pbx?.publicBaseUrl?.replace(/\/+$/, '');
  const retryAt = now + deps.subscribeRetryMs;
  if (!base) {
    await deps.polls.saveSubscriptionState(
      pbxId,
      polling(
        'No public URL: Microsoft cannot deliver presence notifications; every user is polled.',
        retryAt,
      ),
    );
    return NONE;
  }
  let token: string;
  try {
    token = await delegatedPresenceToken(deps, integration, app, forceRefresh);
  } catch (err) {
    await deps.polls.saveSubscriptionState(
      pbxId,
      polling(
        `The authorization account cannot hold a presence subscription (delegated Presence.Read.All not granted?): ${firstLine(err)}; every user is polled.`,
        retryAt,
      ),
    );
    return NONE;
  }
  try {
    const clientState = randomBytes(32).toString('base64url');
    const created = await deps.presenceSubscriptions.create(token, {
      userIds: wanted,
      notificationUrl: `${base}${NOTIFICATION_PATH}`,
      lifecycleNotificationUrl: `${base}${LIFECYCLE_PATH}`,
      clientState,
      expirationDateTime: new Date(now + PRESENCE_SUBSCRIPTION_LIFETIME_MS),
    });
    await deps.store.subscriptions.save({
      id: created.id,
      pbxId,
      resource: PRESENCE_SUBSCRIPTION_RESOURCE,
      expiresAt: created.expirationDateTime,
      clientStateHash: hashClientState(clientState).toString('hex'),
    });
    await deps.subscriptionsVersion.bump();
    await deps.polls.saveSubscriptionState(pbxId, {
      mode: 'SUBSCRIBED',
      reason: null,
      subscriptionId: created.id,
      userIds: [...wanted],
      expiresAt: created.expirationDateTime.getTime(),
      nextAttemptAt: 0,
      fullRoundAt: now,
    });
    deps.log('info', 'presence subscription made', {
      pbxId,
      subscriptionId: created.id,
      users: wanted.length,
    });
    // This round reads everyone: what changed before the subscription existed is read now.
    return { covered: new Set(wanted), full: true };
  } catch (err) {
    deps.log('warn', 'could not subscribe to presence changes; polling every user', {
      pbxId,
      err: firstLine(err),
    });
    await deps.polls.saveSubscriptionState(
      pbxId,
      polling(
        `Microsoft refused the presence subscription: ${firstLine(err)}; every user is polled.`,
        retryAt,
      ),
    );
    return NONE;
  }
}

/** Deletes the PBX's presence subscription (best effort) and forgets it. */
async function dropPresenceSubscription(
  deps: PresenceSubscriptionDeps,
  integration: IntegrationData,
  app: MicrosoftAppCredentials | null,
  state: PresenceSubscriptionState | null,
) {
  if (!state?.subscriptionId) return;
  if (app) {
    try {
      const token = await delegatedPresenceToken(deps, integration, app);
      await deps.presenceSubscriptions.remove(token, state.subscriptionId);
    } catch (err) {
      // It ends within the hour anyway; its notifications are refused once the record is gone.
      deps.log('warn', 'could not delete the presence subscription', {
        pbxId: integration.pbxId,
        err: firstLine(err),
      });
    }
  }
  await deps.store.subscriptions.remove(state.subscriptionId);
  await deps.subscriptionsVersion.bump();
}

/** Presence sync off, or the PBX no longer connected: no subscription, no state. */
export async function removePresenceSubscription(
  deps: PresenceSubscriptionDeps,
  integration: IntegrationData,
  app: MicrosoftAppCredentials | null,
) {
  const state = await deps.polls.subscriptionState(integration.pbxId);
  if (!state) return;
  await dropPresenceSubscription(deps, integration, app, state);
  await deps.polls.saveSubscriptionState(integration.pbxId, null);
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n', 1)[0] as string;
}
