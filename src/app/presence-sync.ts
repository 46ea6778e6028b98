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
  type PresenceMapping,
  presencePollInterval,
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
import type { Store } from './ports/store.port.js';
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
export interface PresenceDeps {
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
}

/** P1: the integration's presence switch and what it reads. */
export async function presenceSync(deps: Pick<PresenceDeps, 'store' | 'minIntervalMs'>, caller: Caller) {
  const s = await deps.store.presence.settings(caller.pbxId);
  const users = await deps.store.presence.countTargets(caller.pbxId);
  return {
    enabled: s.enabled,
    users,
    intervalMs: presencePollInterval(users, deps.minIntervalMs),
    updatedAt: s.updatedAt,
  } satisfies PresenceSyncView;
}

/** P1: switches presence sync on (the PBX's poll starts) or off (it stops: nobody is read). */
export async function savePresenceSync(deps: PresenceDeps, caller: Caller, enabled: boolean) {
  await deps.store.presence.saveSettings(caller.pbxId, enabled);
  if (enabled) await ensurePresencePoll(deps, caller.pbxId);
  else await deps.polls.stop(caller.pbxId);
  return presenceSync(deps, caller);
}

/** Makes the PBX's poll repeat at the interval its users need, or stops it when presence is off. */
export async function ensurePresencePoll(deps: PresenceDeps, pbxId: string): Promise<number | null> {
  const { enabled } = await deps.store.presence.settings(pbxId);
  if (!enabled) {
    await deps.polls.stop(pbxId);
    return null;
  }
  const interval = presencePollInterval(await deps.store.presence.countTargets(pbxId), deps.minIntervalMs);
  await deps.polls.ensure(pbxId, interval);
  return interval;
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

/** How long a round may hold the PBX (its holder died otherwise). */
const ROUND_TTL_MS = 120_000;

/**
 * One round of a PBX's presence poll: every presence-enabled synced user read, what changed
 * written and published. Returns what happened, for the job's result and the bench.
 */
export async function pollPresence(deps: PresenceDeps, pbxId: string): Promise<PollResult> {
  const release = await deps.polls.claim(pbxId, ROUND_TTL_MS);
  if (!release) return { outcome: 'BUSY', read: 0, changed: 0, requests: 0 };
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
  retryAfterMs?: number;
}

async function pollRound(deps: PresenceDeps, pbxId: string): Promise<PollResult> {
  const store = deps.store;
  const settings = await store.presence.settings(pbxId);
  if (!settings.enabled) {
    await deps.polls.stop(pbxId);
    return { outcome: 'OFF', read: 0, changed: 0, requests: 0 };
  }
  const integration = await store.integrations.get(pbxId);
  if (integration.status !== IntegrationStatus.CONNECTED)
    return { outcome: 'NOT_CONNECTED', read: 0, changed: 0, requests: 0 };
  const retryAt = await store.presence.retryAt(pbxId);
  if (retryAt && retryAt.getTime() > deps.now().getTime())
    return { outcome: 'WAITING_RETRY_AFTER', read: 0, changed: 0, requests: 0 };
  if (retryAt) await store.presence.setRetryAt(pbxId, null);
  const app = appCredentials(integration, deps.secrets);

  // Users that left the sync leave presence too: their status is forgotten (and said so).
  const cleared = await store.presence.clearUnsynced(pbxId);
  const clearedWrites = cleared.map((extensionId) => ({ extensionId, presence: NO_PRESENCE }));
  publish(deps, pbxId, clearedWrites);

  let read = 0;
  let changed = 0;
  let requests = 0;
  let after: string | null = null;
  for (;;) {
    const targets = await store.presence.pageTargets(pbxId, after, TARGET_PAGE);
    if (targets.length === 0) break;
    after = targets[targets.length - 1]?.userId ?? null;
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
      deps.log('warn', 'presence poll throttled by Microsoft', { pbxId, retryAfterMs });
      return {
        outcome: 'THROTTLED',
        read: read + readings.size,
        changed: changed + n,
        requests,
        retryAfterMs,
      };
    }
    read += readings.size;
    changed += await writeReadings(deps, pbxId, targets, readings);
    if (targets.length < TARGET_PAGE) break;
  }
  return { outcome: 'POLLED', read, changed, requests };
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
