import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { IntegrationStatus } from '../domain/integration.js';
import { AppError } from './errors.js';
import { appCredentials } from './integration.js';
import type { ChangeDebouncer, SubscriptionsClient } from './ports/change-notifications.port.js';
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
  reader: DirectoryReader;
  secrets: SecretBox;
  log: AppLog;
}

const hash = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Compares a notification's clientState with the stored hash in constant time. */
function clientStateMatches(given: unknown, storedHashHex: string): boolean {
  if (typeof given !== 'string' || given.length > 256) return false;
  const stored = Buffer.from(storedHashHex, 'hex');
  const got = hash(given);
  return stored.length === got.length && timingSafeEqual(stored, got);
}

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
        clientStateHash: hash(clientState).toString('hex'),
      });
      deps.log('info', 'change notifications subscribed', { pbxId, resource, subscriptionId: created.id });
    }
    return 'NOTIFICATIONS';
  } catch (err) {
    deps.log('warn', 'could not subscribe to change notifications; polling with delta links instead', {
      pbxId,
      err: (err as Error).message,
    });
    return 'POLL';
  }
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
}

/** T2 debounce: a run `changeDebounceSeconds` after the first change, or at once at `changeThreshold` changes. */
export async function recordChanges(deps: ChangeNotificationDeps, pbxId: string, count: number) {
  const settings = await deps.store.sync.getSettings(pbxId);
  if (settings.changeDebounceSeconds <= 0) {
    await deps.debouncer.take(pbxId);
    await requestSync(deps, pbxId, 'CHANGE', ['USERS', 'GROUPS']);
    return 'SYNC_NOW';
  }
  const gathered = await deps.debouncer.add(pbxId, count);
  if (gathered >= settings.changeThreshold) {
    // The window closes now: its delayed flush goes first, then the count. A change that
    // lands in between opens a new window (and flush) of its own, and is taken along here.
    await deps.debouncer.cancelFlush(pbxId);
    // GETDEL is atomic: of two processes racing here, one takes the count, the other gets 0.
    if ((await deps.debouncer.take(pbxId)) > 0) {
      await requestSync(deps, pbxId, 'CHANGE', ['USERS', 'GROUPS']);
      return 'SYNC_NOW';
    }
    return 'TAKEN';
  }
  await deps.debouncer.scheduleFlush(pbxId, settings.changeDebounceSeconds * 1000);
  return 'DEBOUNCED';
}

/** The debounce window ended: sync if changes are still waiting. */
export async function flushChanges(deps: ChangeNotificationDeps, pbxId: string) {
  if ((await deps.debouncer.take(pbxId)) > 0) {
    await requestSync(deps, pbxId, 'CHANGE', ['USERS', 'GROUPS']);
    return true;
  }
  return false;
}

interface NotificationItem {
  subscriptionId?: unknown;
  clientState?: unknown;
  lifecycleEvent?: unknown;
}

/**
 * Change notifications from Graph. Each is checked against its subscription's clientState
 * (constant time); the valid ones count as changes of their PBX. Unknown or forged ones are
 * dropped and reported, never an error (Graph would only retry them).
 */
export async function receiveNotifications(deps: ChangeNotificationDeps, body: unknown) {
  const items = (body as { value?: NotificationItem[] })?.value;
  let accepted = 0;
  let rejected = 0;
  const perPbx = new Map<string, number>();
  for (const item of Array.isArray(items) ? items.slice(0, 1000) : []) {
    const record =
      typeof item?.subscriptionId === 'string'
        ? await deps.store.subscriptions.find(item.subscriptionId)
        : null;
    if (!record || !clientStateMatches(item.clientState, record.clientStateHash)) {
      rejected++;
      continue;
    }
    accepted++;
    perPbx.set(record.pbxId, (perPbx.get(record.pbxId) ?? 0) + 1);
  }
  for (const [pbxId, n] of perPbx) await recordChanges(deps, pbxId, n);
  if (rejected)
    deps.log(
      'warn',
      'change notifications with an unknown subscription or a wrong clientState were dropped',
      { rejected },
    );
  return { accepted, rejected };
}

/**
 * Lifecycle notifications: `reauthorizationRequired` is answered by reauthorizing (or
 * renewing, or re-creating) the subscription; `subscriptionRemoved` re-creates it; `missed`
 * means changes were lost, so a sync runs at once.
 */
export async function receiveLifecycle(deps: ChangeNotificationDeps, body: unknown) {
  const items = (body as { value?: NotificationItem[] })?.value;
  const handled: string[] = [];
  for (const item of Array.isArray(items) ? items.slice(0, 100) : []) {
    const record =
      typeof item?.subscriptionId === 'string'
        ? await deps.store.subscriptions.find(item.subscriptionId)
        : null;
    if (!record || !clientStateMatches(item.clientState, record.clientStateHash)) continue;
    const app = await connectedApp(deps, record.pbxId);
    if (!app) continue;
    const event = String(item.lifecycleEvent);
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
      await ensureSubscriptions(deps, record.pbxId);
    } else if (event === 'missed') {
      await requestSync(deps, record.pbxId, 'CHANGE', ['USERS', 'GROUPS']);
    }
    handled.push(event);
    deps.log('info', 'lifecycle notification handled', {
      pbxId: record.pbxId,
      event,
      subscriptionId: record.id,
    });
  }
  return handled;
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
  if ((await deps.store.subscriptions.list(pbxId)).length) return false;
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
  const subscriptions = await deps.store.subscriptions.list(pbxId);
  return {
    mode: subscriptions.length ? 'NOTIFICATIONS' : 'POLL',
    debounceSeconds: settings.changeDebounceSeconds,
    threshold: settings.changeThreshold,
    pollMinutes: settings.pollMinutes,
    lastPolledAt: settings.lastPolledAt,
    subscriptions: subscriptions.map((s) => ({ resource: s.resource, expiresAt: s.expiresAt })),
  };
}
