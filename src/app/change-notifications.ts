import { createHash, randomBytes } from 'node:crypto';
import { IntegrationStatus } from '../domain/integration.js';
import { AppError } from './errors.js';
import { appCredentials } from './integration.js';
import { PRESENCE_SUBSCRIPTION_RESOURCE } from './notification-intake.js';
import type {
  ChangeDebouncer,
  SubscriptionsClient,
  SubscriptionsVersion,
} from './ports/change-notifications.port.js';
import type { DirectoryReader } from './ports/directory.port.js';
import type { AppLog } from './ports/log.port.js';
import { MicrosoftError } from './ports/microsoft.port.js';
import type { Store } from './ports/store.port.js';
import type { SecretBox } from './secret-box.js';
import { requestSync, type SyncTriggerDeps } from './sync-trigger.js';

/** T2: the directory resources whose changes trigger a sync. */
export const SUBSCRIBED_RESOURCES = ['users', 'groups'] as const;
/** Where Graph posts change notifications and lifecycle notifications, under the PBX's public URL. */
export const NOTIFICATION_PATH = '/graph/notifications';
export const LIFECYCLE_PATH = '/graph/lifecycle';
/**
 * Users and groups subscriptions live at most 41,760 minutes (~29 days)
 * (https://learn.microsoft.com/graph/api/resources/subscription#subscription-lifetime); ask a
 * little less, and renew once half of it is gone.
 */
export const SUBSCRIPTION_LIFETIME_MS = 41_000 * 60_000;

export interface ChangeNotificationDeps extends SyncTriggerDeps {
  store: Store;
  subscriptions: SubscriptionsClient;
  debouncer: ChangeDebouncer;
  /** Bumped on every subscription saved or removed: the webhook's caches reload. */
  subscriptionsVersion: SubscriptionsVersion;
  reader: DirectoryReader;
  secrets: SecretBox;
  log: AppLog;
}

/** How a clientState is kept: its SHA-256 (the webhook compares hashes, src/app/notification-intake.ts). */
export const hashClientState = (s: string) => createHash('sha256').update(s, 'utf8').digest();
async function connectedApp(deps: ChangeNotificationDeps, pbxId: string) {
  const i = await deps.store.integrations.get(pbxId);
  return i.status === IntegrationStatus.CONNECTED ? appCredentials(i, deps.secrets) : null;
}

/**
 * Makes the PBX's subscriptions right: created when missing, renewed before half their life
 * is gone, re-created when Graph no longer knows them. Without a public URL, or when Graph
 * cannot reach it, there are none and the delta poll stands in ('POLL').
 */
export async function ensureSubscriptions(
  deps: ChangeNotificationDeps,
  pbxId: string,
): Promise<'NOTIFICATIONS' | 'POLL'> {
  const app = await connectedApp(deps, pbxId);
  const pbx = await deps.store.tenants.findPbx(pbxId);
  const base = pbx?.publicBaseUrl?.replace(/\/+$/, '');
  if (!app || !base) {
    await removeSubscriptions(deps, pbxId);
    return 'POLL';
  }
  const now = deps.now().getTime();
  const held = await deps.store.subscriptions.list(pbxId);
  let changed = false;
  try {
    for (const resource of SUBSCRIBED_RESOURCES) {
      const current = held.find((s) => s.resource === resource);
      if (current && current.expiresAt.getTime() - now > SUBSCRIPTION_LIFETIME_MS / 2) continue;
      if (current) {
        try {
          const renewed = await deps.subscriptions.renew(
            app,
            current.id,
            new Date(now + SUBSCRIPTION_LIFETIME_MS),
          );
          await deps.store.subscriptions.save({ ...current, expiresAt: renewed.expirationDateTime });
          continue;
        } catch (err) {
          if (!(err instanceof MicrosoftError && err.code === 'NOT_FOUND')) throw err;
          await deps.store.subscriptions.remove(current.id);
          changed = true;
        }
      }
      const clientState = randomBytes(32).toString('base64url');
      const created = await deps.subscriptions.create(app, {
        resource,
        changeType: 'updated,deleted',
        notificationUrl: `${base}${NOTIFICATION_PATH}`,
        lifecycleNotificationUrl: `${base}${LIFECYCLE_PATH}`,
        clientState,
        expirationDateTime: new Date(now + SUBSCRIPTION_LIFETIME_MS),
      });
      await deps.store.subscriptions.save({
        id: created.id,
        pbxId,
        resource,
        expiresAt: created.expirationDateTime,
        clientStateHash: hashClientState(clientState).toString('hex'),
      });
      changed = true;
      deps.log('info', 'change notifications subscribed', { pbxId, resource, subscriptionId: created.id });
    }
    return 'NOTIFICATIONS';
  } catch (err) {
    deps.log('warn', 'could not subscribe to change notifications; polling with delta links instead', {
      pbxId,
      err: (err as Error).message,
    });
    return 'POLL';
  } finally {
    if (changed) await deps.subscriptionsVersion.bump();
  }
}

/** The PBX's users and groups subscriptions (its presence subscription is presence sync's). */
async function directorySubscriptions(deps: Pick<ChangeNotificationDeps, 'store'>, pbxId: string) {
  return (await deps.store.subscriptions.list(pbxId)).filter(
    (s) => s.resource !== PRESENCE_SUBSCRIPTION_RESOURCE,
  );
}

/** Deletes the PBX's subscriptions at Graph (best effort) and forgets them. */
export async function removeSubscriptions(deps: ChangeNotificationDeps, pbxId: string) {
  const held = await deps.store.subscriptions.list(pbxId);
  if (!held.length) return;
  const i = await deps.store.integrations.get(pbxId);
  const app = i.clientId && i.secretSealed ? appCredentials(i, deps.secrets) : null;
  for (const s of held) {
    if (app) {
      await deps.subscriptions.remove(app, s.id).catch((err) =>
        deps.log('warn', 'could not delete a Graph subscription', {
          pbxId,
          subscriptionId: s.id,
          err: (err as Error).message,
        }),
      );
    }
    await deps.store.subscriptions.remove(s.id);
  }
  await deps.subscriptionsVersion.bump();
}

/** Asks for the CHANGE run of a PBX. */
const changeRun = (deps: ChangeNotificationDeps, pbxId: string) =>
  requestSync(deps, pbxId, 'CHANGE', ['USERS', 'GROUPS']);

/**
 * T2 debounce, in the `record-changes` job after the webhook counted valid notifications (and
 * never in the webhook's request): a run `changeDebounceSeconds` after the first change, or at
 * once at `changeThreshold` changes (or when Graph says it missed some), but at most one
 * change-triggered run per `changeDebounceSeconds`: once one was asked for, more changes (or
 * replays of one notification) wait for the flush at the end of that window. With a 0-second
 * debounce every change asks for a run, and runs coalesce into the one pending run.
 */
export async function recordChanges(deps: ChangeNotificationDeps, pbxId: string) {
  const settings = await deps.store.sync.getSettings(pbxId);
  const missed = await deps.debouncer.takeMissed(pbxId);
  const windowMs = settings.changeDebounceSeconds * 1000;
  if (windowMs <= 0) {
    if ((await deps.debouncer.take(pbxId)) > 0 || missed) {
      await changeRun(deps, pbxId);
      return 'SYNC_NOW';
    }
    return 'NOTHING';
  }
  const gathered = await deps.debouncer.peek(pbxId);
  if (!missed && gathered <= 0) return 'NOTHING';
  if (missed || gathered >= settings.changeThreshold) {
    const left = await deps.debouncer.claimWindow(pbxId, deps.now().getTime(), windowMs);
    if (left <= 0) {
      await deps.debouncer.take(pbxId);
      await changeRun(deps, pbxId);
      return 'SYNC_NOW';
    }
    // A change run was asked for less than a window ago: these changes wait for its end.
    if (missed) await deps.debouncer.add(pbxId, 1);
    await deps.debouncer.scheduleFlush(pbxId, left, windowMs);
    return 'WINDOW_USED';
  }
  await deps.debouncer.scheduleFlush(pbxId, windowMs, windowMs);
  return 'DEBOUNCED';
}

/**
 * A debounce window ended: sync if changes are still waiting, unless a change run was asked
 * for less than a window ago (then `retryInMs` says when to look again).
 */
export async function flushChanges(
  deps: ChangeNotificationDeps,
  pbxId: string,
): Promise<{ synced: boolean; retryInMs?: number }> {
  if ((await deps.debouncer.peek(pbxId)) <= 0) return { synced: false };
  const settings = await deps.store.sync.getSettings(pbxId);
  const windowMs = settings.changeDebounceSeconds * 1000;
  const left = windowMs > 0 ? await deps.debouncer.claimWindow(pbxId, deps.now().getTime(), windowMs) : 0;
  if (left > 0) return { synced: false, retryInMs: left };
  if ((await deps.debouncer.take(pbxId)) > 0) {
    await changeRun(deps, pbxId);
    return { synced: true };
  }
  return { synced: false };
}

/**
 * A lifecycle notification of a known subscription (checked by the webhook, handled in the
 * `lifecycle-event` job): `reauthorizationRequired` is answered by reauthorizing (or renewing,
 * or re-creating) the subscription; `subscriptionRemoved` re-creates it. (`missed` goes
 * through `recordChanges`: it asks for a run as the threshold does.)
 */
export async function handleLifecycle(deps: ChangeNotificationDeps, subscriptionId: string, event: string) {
  const record = await deps.store.subscriptions.find(subscriptionId);
  if (!record) return false;
  if (record.resource === PRESENCE_SUBSCRIPTION_RESOURCE) {
    // The presence subscription is the PBX's presence round's (src/app/presence-subscription.ts):
    // marked due, its next round renews it (a renewal reauthorizes) or, once removed, makes a new one.
    if (event === 'reauthorizationRequired')
      await deps.store.subscriptions.save({ ...record, expiresAt: new Date(0) });
    else if (event === 'subscriptionRemoved') await deps.store.subscriptions.remove(record.id);
    else return false;
    deps.log('info', 'lifecycle notification handled', {
      pbxId: record.pbxId,
      event,
      subscriptionId: record.id,
    });
    return true;
  }
  const app = await connectedApp(deps, record.pbxId);
  if (!app) return false;
  if (event === 'reauthorizationRequired') {
    try {
      await deps.subscriptions.reauthorize(app, record.id);
    } catch (err) {
      // Reauthorizing failed (e.g. the subscription is gone): renew or re-create it.
      deps.log('warn', 'could not reauthorize a Graph subscription; renewing or re-creating it', {
        pbxId: record.pbxId,
        subscriptionId: record.id,
        err: err instanceof Error ? err.message : String(err),
      });
      await deps.store.subscriptions.save({ ...record, expiresAt: new Date(0) });
      await ensureSubscriptions(deps, record.pbxId);
    }
  } else if (event === 'subscriptionRemoved') {
    await deps.store.subscriptions.remove(record.id);
    await deps.subscriptionsVersion.bump();
    await ensureSubscriptions(deps, record.pbxId);
  } else {
    return false;
  }
  deps.log('info', 'lifecycle notification handled', {
    pbxId: record.pbxId,
    event,
    subscriptionId: record.id,
  });
  return true;
}

/**
 * T2 without a public URL: the PBXs whose delta poll is due now (connected, both delta links,
 * no directory subscription, `pollMinutes` passed since the last poll). Issue 16 item 4: found
 * with one query, where the minute's pass used to read the integration (and open its secret),
 * settings and subscriptions of every PBX in turn: at 1,000 PBXs that pass took longer than its
 * minute and so ran back to back, beside the fleet's syncs.
 */
export async function pbxsDueForPoll(deps: Pick<ChangeNotificationDeps, 'store' | 'now'>) {
  const now = deps.now().getTime();
  return (await deps.store.sync.pollCandidates([PRESENCE_SUBSCRIPTION_RESOURCE]))
    .filter((c) => !c.lastPolledAt || now - c.lastPolledAt.getTime() >= c.pollMinutes * 60_000)
    .map((c) => c.pbxId);
}

/**
 * Without a public URL there are no notifications: every `pollMinutes` a delta round per
 * resource (one request each when nothing changed) tells whether a sync is due. The links
 * are not advanced here; the sync itself reads the same changes.
 */
export async function pollChanges(deps: ChangeNotificationDeps, pbxId: string) {
  const app = await connectedApp(deps, pbxId);
  const settings = await deps.store.sync.getSettings(pbxId);
  if (!app || !settings.usersDeltaLink || !settings.groupsDeltaLink) return false;
  if ((await directorySubscriptions(deps, pbxId)).length) return false;
  const now = deps.now();
  if (
    settings.lastPolledAt &&
    now.getTime() - settings.lastPolledAt.getTime() < settings.pollMinutes * 60_000
  )
    return false;
  await deps.store.sync.updateSettings(pbxId, { lastPolledAt: now });
  let changed = false;
  try {
    for (const stream of [
      deps.reader.readUserChanges(app, settings.usersDeltaLink),
      deps.reader.readGroupChanges(app, settings.groupsDeltaLink),
    ]) {
      for await (const page of stream.pages) {
        if (page.length) {
          changed = true;
          break;
        }
      }
      if (changed) break;
    }
  } catch (err) {
    // An expired delta token: the sync reads in full.
    if (!(err instanceof MicrosoftError && err.code === 'DELTA_EXPIRED')) throw err;
    changed = true;
  }
  if (changed) await requestSync(deps, pbxId, 'POLL', ['USERS', 'GROUPS']);
  return changed;
}

/** T2 settings of a PBX: debounce window, threshold, and the poll interval without a public URL. */
export async function saveChangeTriggers(
  deps: Pick<ChangeNotificationDeps, 'store'>,
  pbxId: string,
  input: { debounceSeconds: number; threshold: number; pollMinutes: number },
) {
  const problems = [];
  if (
    !Number.isInteger(input.debounceSeconds) ||
    input.debounceSeconds < 0 ||
    input.debounceSeconds > 86_400
  ) {
    problems.push({ field: 'debounceSeconds', message: 'must be a whole number of seconds from 0 to 86400' });
  }
  if (!Number.isInteger(input.threshold) || input.threshold < 1 || input.threshold > 100_000) {
    problems.push({ field: 'threshold', message: 'must be a whole number from 1 to 100000' });
  }
  if (!Number.isInteger(input.pollMinutes) || input.pollMinutes < 1 || input.pollMinutes > 1440) {
    problems.push({ field: 'pollMinutes', message: 'must be a whole number of minutes from 1 to 1440' });
  }
  if (problems.length) throw AppError.invalidInput(problems);
  return deps.store.sync.updateSettings(pbxId, {
    changeDebounceSeconds: input.debounceSeconds,
    changeThreshold: input.threshold,
    pollMinutes: input.pollMinutes,
  });
}

/** What the portal shows of change triggers: mode, settings, subscriptions. */
export async function changeTriggerStatus(deps: Pick<ChangeNotificationDeps, 'store'>, pbxId: string) {
  const settings = await deps.store.sync.getSettings(pbxId);
  const subscriptions = await directorySubscriptions(deps, pbxId);
  return {
    mode: subscriptions.length ? 'NOTIFICATIONS' : 'POLL',
    debounceSeconds: settings.changeDebounceSeconds,
    threshold: settings.changeThreshold,
    pollMinutes: settings.pollMinutes,
    lastPolledAt: settings.lastPolledAt,
    subscriptions: subscriptions.map((s) => ({ resource: s.resource, expiresAt: s.expiresAt })),
  };
}
