import { ApiRole, type Caller } from '../domain/access.js';
import { IntegrationStatus } from '../domain/integration.js';
import {
  applyTeamsReading,
  chunked,
  customEntries,
  type ExtensionPresence,
  type ExtensionPresenceStatus,
  effectiveMapping,
  NO_PRESENCE,
  PRESENCE_IDS_PER_REQUEST,
  type PresenceMapping,
  presenceIntervalForRequests,
  presenceRoundRequests,
  remapPresence,
  setManualPresence,
} from '../domain/presence.mapping.js';
import { AppError } from './errors.js';
import { appCredentials } from './integration.js';
import type { EventPublisher } from './ports/events.port.js';
import type { AppLog } from './ports/log.port.js';
import type {
  ExtensionPresenceData,
  PresencePollQueue,
  PresenceReader,
  PresenceWrite,
  TeamsPresenceReading,
} from './ports/presence.port.js';
import type { IntegrationData, Store } from './ports/store.port.js';
import {
  maintainPresenceSubscription,
  type PresenceSubscriptionDeps,
  removePresenceSubscription,
} from './presence-subscription.js';
import type { SecretBox } from './secret-box.js';
import { Topic } from './topics.js';

/**
 * P1–P3: Teams presence drives extension presence, one way.
 *
 * How it runs: while a PBX's presence sync is on, a repeating `poll-presence` job
 * (jobs/presence-poll.queue.ts) calls `pollPresence`, which reads every synced, presence-enabled
 * user with `getPresencesByUserId` in chunks of 650 ids, applies each reading through the pure
 * rules of src/domain/presence.mapping.ts, and writes and publishes only what changed. The
 * interval grows with the number of users so that a round a interval stays within half of
 * Graph's quota (1,500 requests per 30 s per app per tenant); a 429 stops the round and no
 * request of the PBX goes out until its Retry-After has passed (the next round reads everyone,
 * so nothing is lost). Nothing is ever written to Teams: the gateway asks for Presence.Read.All
 * only (src/domain/permissions.ts), and a status set by hand (`setExtensionPresence`, MANUAL)
 * stays until the user's Teams presence changes again.
 */
export interface PresenceDeps extends PresenceSubscriptionDeps {
  store: Store;
  reader: PresenceReader;
  polls: PresencePollQueue;
  events: EventPublisher;
  secrets: SecretBox;
  now: () => Date;
  log: AppLog;
  /** The shortest poll interval (PRESENCE_POLL_MS); longer when the users need more requests. */
  minIntervalMs: number;
}

/** What `extensionPresenceChanged` streams. */
export interface ExtensionPresenceEvent {
  pbxId: string;
  extensionId: string;
  presence: ExtensionPresence;
}

/** Extensions read from the store per step of a round: 8 requests of 650 ids, sent side by side. */
const TARGET_PAGE = 650 * 8;

function publish(deps: Pick<PresenceDeps, 'events'>, pbxId: string, writes: readonly PresenceWrite[]) {
  for (const w of writes) {
    const event: ExtensionPresenceEvent = { pbxId, extensionId: w.extensionId, presence: w.presence };
    deps.events.publish(Topic.extensionPresence(pbxId), event);
  }
}

export interface PresenceSyncView {
  enabled: boolean;
  /** Synced users whose presence is read (presence on for them). */
  users: number;
  /** How often they are read now (ms). */
  intervalMs: number;
  updatedAt: Date | null;
  /** SUBSCRIPTION: a presence subscription covers `subscribedUsers`, the others are polled; POLL: everyone is polled. */
  mode: 'SUBSCRIPTION' | 'POLL';
  /** Users the presence subscription covers (notified on change, read again every safety-net round). */
  subscribedUsers: number;
  /** Users read every round (getPresencesByUserId, 650 a request). */
  polledUsers: number;
  /** POLL while presence is on: why there is no subscription. */
  fallbackReason: string | null;
  subscriptionExpiresAt: Date | null;
}

/** The app + tenant whose presence quota the PBX's requests count against (issue 15 item 3). */
function budgetKey(i: Pick<IntegrationData, 'tenantId' | 'clientId' | 'pbxId'>): string {
  return i.tenantId && i.clientId
    ? `${i.tenantId.toLowerCase()}|${i.clientId.toLowerCase()}`
    : `pbx|${i.pbxId}`;
}

/**
 * Whom the PBX reads and how often: its users, those its subscription covers, and the interval
 * at which every PBX polling with the same app in the same tenant stays within the quota together.
 * `share`: record this PBX's requests under its app + tenant (the poll does; the status only reads).
 */
async function pollPlan(
  deps: Pick<PresenceDeps, 'store' | 'polls' | 'minIntervalMs'>,
  pbxId: string,
  share: boolean,
) {
  const users = await deps.store.presence.countTargets(pbxId);
  const state = await deps.polls.subscriptionState(pbxId);
  const covered = state?.mode === 'SUBSCRIBED' ? Math.min(users, state.userIds.length) : 0;
  const own = presenceRoundRequests(users, covered);
  const key = budgetKey(await deps.store.integrations.get(pbxId));
  const total = share
    ? await deps.polls.shareBudget(key, pbxId, own)
    : Math.max(own, await deps.polls.readBudget(key));
  return { users, covered, state, intervalMs: presenceIntervalForRequests(total, deps.minIntervalMs) };
}

/** P1: the integration's presence switch and what it reads. */
export async function presenceSync(
  deps: Pick<PresenceDeps, 'store' | 'polls' | 'minIntervalMs'>,
  caller: Caller,
): Promise<PresenceSyncView> {
  const s = await deps.store.presence.settings(caller.pbxId);
  const plan = await pollPlan(deps, caller.pbxId, false);
  const subscribed = s.enabled && plan.state?.mode === 'SUBSCRIBED';
  return {
    enabled: s.enabled,
    users: plan.users,
    intervalMs: plan.intervalMs,
    updatedAt: s.updatedAt,
    mode: subscribed ? 'SUBSCRIPTION' : 'POLL',
    subscribedUsers: subscribed ? plan.covered : 0,
    polledUsers: subscribed ? plan.users - plan.covered : plan.users,
    fallbackReason: s.enabled && !subscribed ? (plan.state?.reason ?? null) : null,
    subscriptionExpiresAt: subscribed && plan.state ? new Date(plan.state.expiresAt) : null,
  };
}

/** P1: switches presence sync on (the PBX's poll starts) or off (it stops: nobody is read). */
export async function savePresenceSync(deps: PresenceDeps, caller: Caller, enabled: boolean) {
  await deps.store.presence.saveSettings(caller.pbxId, enabled);
  if (enabled) {
    // Switched on: a subscription is tried again at once, whatever an earlier failure said.
    const state = await deps.polls.subscriptionState(caller.pbxId);
    if (state?.mode === 'POLLING') await deps.polls.saveSubscriptionState(caller.pbxId, null);
    await ensurePresencePoll(deps, caller.pbxId);
  } else await stopPresence(deps, caller.pbxId);
  return presenceSync(deps, caller);
}

/** Makes the PBX's poll repeat at the interval its users need, or stops it when presence is off. */
export async function ensurePresencePoll(deps: PresenceDeps, pbxId: string): Promise<number | null> {
  const { enabled } = await deps.store.presence.settings(pbxId);
  if (!enabled) {
    await stopPresence(deps, pbxId);
    return null;
  }
  const { intervalMs } = await pollPlan(deps, pbxId, true);
  await deps.polls.ensure(pbxId, intervalMs);
  return intervalMs;
}

/** Presence off: the poll stops, the subscription goes, the PBX leaves its app + tenant's budget. */
async function stopPresence(deps: PresenceDeps, pbxId: string) {
  await deps.polls.stop(pbxId);
  const integration = await deps.store.integrations.get(pbxId);
  await deps.polls.leaveBudget(budgetKey(integration), pbxId);
  let app = null;
  try {
    app =
      integration.status === IntegrationStatus.CONNECTED ? appCredentials(integration, deps.secrets) : null;
  } catch {
    app = null;
  }
  await removePresenceSubscription(deps, integration, app);
}

/** P2: the presence (switch, mapping, status) of extensions of the caller's PBX. */
export async function extensionPresences(
  store: Store,
  caller: Caller,
  extensionIds: readonly string[],
): Promise<Map<string, ExtensionPresenceData>> {
  return store.presence.find(caller.pbxId, extensionIds);
}

/**
 * P2: switches presence on or off and/or sets the mapping of one or many synced extensions (ADMIN).
 * A new mapping applies at once to what Teams last said (a MANUAL status stays). Extensions
 * that are not synced, or not of this PBX, are refused (NOT_FOUND) and nothing is saved.
 */
export async function savePresenceMapping(
  deps: Omit<PresenceDeps, 'reader' | 'log'>,
  caller: Caller,
  extensionIds: readonly string[],
  patch: { enabled?: boolean; mapping?: Partial<PresenceMapping> },
): Promise<ExtensionPresenceData[]> {
  const ids = [...new Set(extensionIds)];
  if (ids.length === 0)
    throw new AppError('INVALID_INPUT', 'Name at least one extension.', { field: 'extensionIds' });
  // P2: a Linkus user sets the mapping (and on/off) of their own extension, and of no other.
  if (
    caller.role === ApiRole.LINKUS &&
    (ids.length !== 1 || !caller.extensionId || ids[0] !== caller.extensionId)
  )
    throw new AppError('FORBIDDEN', 'A Linkus session sets the presence of its own extension only.', {
      field: 'extensionIds',
    });
  const customMapping = patch.mapping === undefined ? undefined : customEntries(patch.mapping);
  const changed = await deps.store.transactional(async (store) => {
    const found = await store.presence.configure(caller.pbxId, ids, {
      enabled: patch.enabled,
      customMapping,
    });
    if (found.length !== ids.length) {
      const missing = ids.filter((id) => !found.includes(id));
      throw new AppError(
        'NOT_FOUND',
        `Not synced extensions of this PBX: ${missing.slice(0, 10).join(', ')}`,
        {
          field: 'extensionIds',
        },
      );
    }
    if (customMapping === undefined) return [];
    const rows = await store.presence.find(caller.pbxId, ids);
    const mapping = effectiveMapping(customMapping);
    const writes: PresenceWrite[] = [];
    for (const r of rows.values()) {
      const next = remapPresence(r, mapping, deps.now());
      if (next) writes.push({ extensionId: r.extensionId, presence: next });
    }
    await store.presence.write(caller.pbxId, writes);
    return writes;
  });
  publish(deps, caller.pbxId, changed);
  if (patch.enabled !== undefined) await ensurePresencePoll(deps as PresenceDeps, caller.pbxId);
  return [...(await deps.store.presence.find(caller.pbxId, ids)).values()];
}

/**
 * P3: the PBX sets an extension's status by hand (source MANUAL). It stays until the user's Teams
 * presence changes again; nothing goes to Teams.
 */
export async function setExtensionPresence(
  deps: Pick<PresenceDeps, 'store' | 'events' | 'now'>,
  caller: Caller,
  extensionId: string,
  status: ExtensionPresenceStatus,
): Promise<ExtensionPresenceData> {
  const ext = await deps.store.directory.findExtension(caller.pbxId, extensionId);
  if (!ext) throw new AppError('NOT_FOUND', 'No such extension in this PBX.', { field: 'extensionId' });
  const current =
    (await deps.store.presence.find(caller.pbxId, [extensionId])).get(extensionId) ?? NO_PRESENCE;
  const write = { extensionId, presence: setManualPresence(current, status, deps.now()) };
  await deps.store.presence.write(caller.pbxId, [write]);
  publish(deps, caller.pbxId, [write]);
  return (await deps.store.presence.find(caller.pbxId, [extensionId])).get(
    extensionId,
  ) as ExtensionPresenceData;
}

export type PollOutcome = 'OFF' | 'NOT_CONNECTED' | 'BUSY' | 'WAITING_RETRY_AFTER' | 'THROTTLED' | 'POLLED';

const nothing = (outcome: PollOutcome): PollResult => ({
  outcome,
  read: 0,
  changed: 0,
  requests: 0,
  covered: 0,
  notified: 0,
});

/** How long a round may hold the PBX (its holder died otherwise). */
const ROUND_TTL_MS = 120_000;

/**
 * One round of a PBX's presence poll: every presence-enabled synced user read, what changed
 * written and published. Returns what happened, for the job's result and the bench.
 */
export async function pollPresence(deps: PresenceDeps, pbxId: string): Promise<PollResult> {
  const release = await deps.polls.claim(pbxId, ROUND_TTL_MS);
  if (!release) return nothing('BUSY');
  try {
    return await pollRound(deps, pbxId);
  } finally {
    await release();
  }
}

export interface PollResult {
  outcome: PollOutcome;
  read: number;
  changed: number;
  requests: number;
  /** Users the presence subscription covers, not polled this round (unless notified or a full round). */
  covered: number;
  /** Of the users read, those a presence notification named. */
  notified: number;
  retryAfterMs?: number;
}

async function pollRound(deps: PresenceDeps, pbxId: string): Promise<PollResult> {
  const store = deps.store;
  const settings = await store.presence.settings(pbxId);
  if (!settings.enabled) {
    await stopPresence(deps, pbxId);
    return nothing('OFF');
  }
  const integration = await store.integrations.get(pbxId);
  if (integration.status !== IntegrationStatus.CONNECTED) return nothing('NOT_CONNECTED');
  const retryAt = await store.presence.retryAt(pbxId);
  if (retryAt && retryAt.getTime() > deps.now().getTime()) return nothing('WAITING_RETRY_AFTER');
  if (retryAt) await store.presence.setRetryAt(pbxId, null);
  const app = appCredentials(integration, deps.secrets);

  // Issue 15 item 2: the first 650 users by a presence subscription where the account can hold
  // one; they are read only when a notification names them (or on a full round).
  const first = await store.presence.pageTargets(pbxId, null, PRESENCE_IDS_PER_REQUEST);
  const coverage = await maintainPresenceSubscription(
    deps,
    integration,
    app,
    first.map((t) => t.userId),
  );
  const notifiedIds = coverage.covered.size > 0 ? await deps.polls.takeNotified(pbxId) : [];
  const notified = new Set(notifiedIds);
  const reads = (userId: string) => coverage.full || !coverage.covered.has(userId) || notified.has(userId);
  let skipped = 0;
  let notifiedRead = 0;

  // Users that left the sync leave presence too: their status is forgotten (and said so).
  const cleared = await store.presence.clearUnsynced(pbxId);
  const clearedWrites = cleared.map((extensionId) => ({ extensionId, presence: NO_PRESENCE }));
  publish(deps, pbxId, clearedWrites);

  let read = 0;
  let changed = 0;
  let requests = 0;
  let after: string | null = null;
  for (;;) {
    const page = await store.presence.pageTargets(pbxId, after, TARGET_PAGE);
    if (page.length === 0) break;
    after = page[page.length - 1]?.userId ?? null;
    const targets = page.filter((t) => reads(t.userId));
    skipped += page.length - targets.length;
    for (const t of targets) if (notified.has(t.userId)) notifiedRead++;
    const readings = new Map<string, TeamsPresenceReading>();
    // The page's requests side by side (8 of 650 ids): a round of 100,000 users is 16 such
    // steps, not 154 requests one after another. The interval keeps the rate within the quota.
    const chunks = chunked(targets.map((t) => t.userId));
    requests += chunks.length;
    const answers = await Promise.all(chunks.map((chunk) => deps.reader.readPresences(app, chunk)));
    let retryAfterMs = 0;
    for (const answer of answers) {
      if (Array.isArray(answer)) for (const r of answer) readings.set(r.userId, r);
      else retryAfterMs = Math.max(retryAfterMs, answer.retryAfterMs);
    }
    if (retryAfterMs > 0) {
      // Honour Retry-After for the whole PBX; what was read is still written.
      await store.presence.setRetryAt(pbxId, new Date(deps.now().getTime() + retryAfterMs));
      const n = await writeReadings(deps, pbxId, targets, readings);
      // Notified users not read now are read by the next round after Retry-After: it reads everyone.
      if (coverage.covered.size > 0) {
        const state = await deps.polls.subscriptionState(pbxId);
        if (state) await deps.polls.saveSubscriptionState(pbxId, { ...state, fullRoundAt: 0 });
      }
      deps.log('warn', 'presence poll throttled by Microsoft', { pbxId, retryAfterMs });
      return {
        outcome: 'THROTTLED',
        read: read + readings.size,
        changed: changed + n,
        requests,
        covered: skipped,
        notified: notifiedRead,
        retryAfterMs,
      };
    }
    read += readings.size;
    changed += await writeReadings(deps, pbxId, targets, readings);
    if (page.length < TARGET_PAGE) break;
  }
  return { outcome: 'POLLED', read, changed, requests, covered: skipped, notified: notifiedRead };
}

async function writeReadings(
  deps: PresenceDeps,
  pbxId: string,
  targets: ReadonlyArray<{
    extensionId: string;
    userId: string;
    current: ExtensionPresence;
    customMapping: Partial<PresenceMapping>;
  }>,
  readings: ReadonlyMap<string, TeamsPresenceReading>,
): Promise<number> {
  const now = deps.now();
  const writes: PresenceWrite[] = [];
  for (const t of targets) {
    const r = readings.get(t.userId);
    if (!r) continue;
    const next = applyTeamsReading(t.current, r, effectiveMapping(t.customMapping), now);
    if (next) writes.push({ extensionId: t.extensionId, presence: next });
  }
  if (writes.length === 0) return 0;
  await deps.store.presence.write(pbxId, writes);
  publish(deps, pbxId, writes);
  return writes.length;
}

/**
 * `extensionPresenceChanged`: every change of an extension's presence in the PBX from now on
 * (or of the extensions named), as the poller, a mapping or a manual status makes it.
 */
export async function* watchExtensionPresence(
  events: EventPublisher,
  pbxId: string,
  extensionIds: readonly string[] | null,
): AsyncGenerator<ExtensionPresenceEvent> {
  const only = extensionIds && extensionIds.length > 0 ? new Set(extensionIds) : null;
  const live = events.subscribe(Topic.extensionPresence(pbxId))[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await live.next();
      if (next.done) return;
      const e = next.value as ExtensionPresenceEvent;
      if (only && !only.has(e.extensionId)) continue;
      yield e;
    }
  } finally {
    await live.return?.();
  }
}
