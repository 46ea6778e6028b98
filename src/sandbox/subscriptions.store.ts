import type { SandboxContext } from './sandbox.context.js';
import { SandboxError } from './tenant.store.js';

/**
 * Change-notification subscriptions of the sandbox tenant: which resources may be
 * subscribed to, with which permissions, change types and lifetimes, and the records
 * the Graph `/subscriptions` endpoints and the notification dispatcher share.
 *
 * Sources (microsoft-graph-docs-contrib, as published on learn.microsoft.com/graph):
 * - Supported resources and quotas: /graph/change-notifications-overview#supported-resources
 *   (users: `/users`, `/users/{id}`; groups: `/groups`, `/groups/{id}`; quotas per app 50,000,
 *   per tenant 1,000, per app + tenant 100; over a quota → 403 whose message names the limit;
 *   "Creation and soft-deletion of users [groups] also trigger the `updated` changeType").
 * - Lifetimes: /graph/api/resources/subscription#maximum-length-of-subscription-per-resource-type
 *   (user, group, other directory resources 41,760 min; Outlook contact 4,230 min; presence 60 min).
 * - Permissions: /graph/api/subscription-post-subscriptions#permissions (user: User.Read.All,
 *   group: Group.Read.All, contact: Contacts.Read, presence: Presence.Read.All delegated only).
 * - `changeType`: users and groups support only `updated` and `deleted`
 *   (/graph/api/resources/subscription, property table); Graph answers
 *   400 InvalidRequest "Invalid 'changeType' attribute: 'created'." otherwise
 *   (microsoftgraph/microsoft-graph-docs issue #4819).
 * - `clientState` at most 128 characters (/graph/api/resources/subscription).
 * - Presence: `/communications/presences/{id}` or `/communications/presences?$filter=id in (...)`,
 *   at most 650 distinct users (/graph/changenotifications-for-presence).
 */

export type ResourceKind = 'directory' | 'contacts' | 'presence';

export interface ResourceSpec {
  kind: ResourceKind;
  /** directory resources: which collection, and one object when the path names one */
  collection?: 'users' | 'groups';
  objectId?: string;
  /** contacts: whose mailbox */
  mailboxUserId?: string;
  /** presence: the users watched */
  presenceIds?: ReadonlySet<string>;
  maxMinutes: number;
  changeTypes: ReadonlySet<string>;
  perms: { app: readonly string[]; delegated: readonly string[] };
}

export interface SubscriptionStats {
  /** change notifications put in the queue for this subscription */
  notificationsQueued: number;
  /** change notifications that reached the endpoint (a 2xx answer) */
  notificationsDelivered: number;
  /** change notifications given up on (retry window over, subscription gone, delivery paused) */
  notificationsDropped: number;
  /** POSTs that carried notifications of this subscription (first tries and retries) */
  deliveryAttempts: number;
  /** of those, the ones that failed (no 2xx within the deadline) */
  failedAttempts: number;
  lifecycleDelivered: number;
  lifecycleFailed: number;
  /** validation requests sent (creation, and a new notificationUrl on PATCH) */
  validationRequests: number;
  lastError: string | null;
  lastDeliveredAt: string | null;
}

export type SubscriptionState = 'active' | 'expired' | 'deleted' | 'removed';

export interface SubscriptionRecord {
  id: string;
  /** The directory it watches: the one of the token that created it. */
  tenantId: string;
  /** as the client gave it (Graph echoes it) */
  resource: string;
  spec: ResourceSpec;
  /** as the client gave it, e.g. "updated,deleted" */
  changeType: string;
  changeTypes: Set<string>;
  notificationUrl: string;
  lifecycleNotificationUrl: string | null;
  clientState: string | null;
  latestSupportedTlsVersion: string;
  expiresAt: number;
  applicationId: string;
  /** service principal (app-only) or signed-in user (delegated) */
  creatorId: string;
  delegatedUserId: string | null;
  createdAt: number;
  state: SubscriptionState;
  endedAt: number | null;
  /** when a reauthorizationRequired challenge was raised and not yet answered */
  reauthorizationRequiredAt: number | null;
  stats: SubscriptionStats;
}

/** Knobs of the notification machinery; settable at start and live through the admin API. */
export interface NotificationSettings {
  /** The endpoint must answer the validation request within this (Graph: 10 s). */
  validationTimeoutMs: number;
  /** A notification POST must get a 2xx within this (Graph: 3 s). */
  deliveryTimeoutMs: number;
  /** Changes within this window go out together, one POST per notification URL. */
  batchWindowMs: number;
  /** At most this many notifications in one POST. */
  maxBatchSize: number;
  /** First retry after this; each further retry waits twice as long, up to retryMaxDelayMs. */
  retryInitialDelayMs: number;
  retryMaxDelayMs: number;
  /** A notification is dropped this long after its first attempt (Graph: up to 4 hours). */
  retryForMs: number;
  /** After a reauthorizationRequired challenge change notifications keep flowing this long, then
   * pause (and are lost) until the app reauthorizes or renews. Graph: "for a while". */
  reauthorizationGraceMs: number;
  /** Quotas of users + groups subscriptions (Graph: 100 per app + tenant, 1,000 per tenant). */
  directoryQuotaPerAppAndTenant: number;
  directoryQuotaPerTenant: number;
  /** Graph requires https; the sandbox also takes http:// on loopback hosts (for tests). */
  allowHttpLoopback: boolean;
  /** Shortest lifetime accepted, minutes; Graph documents none for directory resources (0 = any future time). */
  minExpirationMinutes: number;
  /** How often expiry and lost permissions are checked. */
  sweepIntervalMs: number;
}

export const DEFAULT_NOTIFICATION_SETTINGS: NotificationSettings = {
  validationTimeoutMs: 10_000,
  deliveryTimeoutMs: 3_000,
  batchWindowMs: 100,
  maxBatchSize: 100,
  retryInitialDelayMs: 5_000,
  retryMaxDelayMs: 10 * 60_000,
  retryForMs: 4 * 60 * 60_000,
  reauthorizationGraceMs: 10 * 60_000,
  directoryQuotaPerAppAndTenant: 100,
  directoryQuotaPerTenant: 1000,
  allowHttpLoopback: true,
  minExpirationMinutes: 0,
  sweepIntervalMs: 1000,
};

const NUMERIC_SETTINGS = [
  'validationTimeoutMs',
  'deliveryTimeoutMs',
  'batchWindowMs',
  'maxBatchSize',
  'retryInitialDelayMs',
  'retryMaxDelayMs',
  'retryForMs',
  'reauthorizationGraceMs',
  'directoryQuotaPerAppAndTenant',
  'directoryQuotaPerTenant',
  'minExpirationMinutes',
  'sweepIntervalMs',
] as const;

/** Applies a partial settings object (admin PATCH or start options), checking the values. */
export function applySettings(target: NotificationSettings, patch: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    if ((NUMERIC_SETTINGS as readonly string[]).includes(k)) {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0)
        throw new SandboxError(400, 'BadRequest', `${k} must be a number ≥ 0`);
      (target as unknown as Record<string, number>)[k] = n;
    } else if (k === 'allowHttpLoopback') {
      target.allowHttpLoopback = !!v;
    } else {
      throw new SandboxError(400, 'BadRequest', `Unknown notification setting '${k}'`);
    }
  }
  target.maxBatchSize = Math.max(1, Math.floor(target.maxBatchSize));
  target.sweepIntervalMs = Math.max(10, target.sweepIntervalMs);
}

// ------------------------------------------------------------------ resources

const USERS_PERMS = {
  app: ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  delegated: ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
};
const GROUPS_PERMS = {
  app: ['Group.Read.All', 'Group.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  delegated: ['Group.Read.All', 'Group.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
};
// Contacts.Read.Shared does not support subscriptions (/graph/api/subscription-post-subscriptions).
const CONTACTS_PERMS = {
  app: ['Contacts.Read', 'Contacts.ReadWrite'],
  delegated: ['Contacts.Read', 'Contacts.ReadWrite'],
};
const PRESENCE_PERMS = { app: [] as string[], delegated: ['Presence.Read.All'] };

const DIRECTORY_CHANGES = new Set(['updated', 'deleted']);
const OUTLOOK_CHANGES = new Set(['created', 'updated', 'deleted']);
const PRESENCE_CHANGES = new Set(['updated']);

export const DIRECTORY_MAX_MINUTES = 41_760;
export const OUTLOOK_MAX_MINUTES = 4_230;
export const PRESENCE_MAX_MINUTES = 60;
export const PRESENCE_MAX_IDS = 650;

/** Resources Graph supports for notifications that the sandbox does not model (yet). */
const GRAPH_ONLY =
  /^(?:me|users\/[^/]+)\/(?:messages|mailfolders|events|calendar|drive|todo|chats|onlinemeetings)|^groups\/[^/]+\/(?:members|owners|conversations)$|^groups\('|^(?:drives|sites|teams|chats|security|print|solutions|reports|copilot|appcatalogs)\/|^communications\/(?:callrecords|onlinemeetings)|^(?:teams|chats)$/i;

export interface Caller {
  appId: string;
  delegated: boolean;
  userId?: string;
}

function invalid(message: string): SandboxError {
  return new SandboxError(400, 'InvalidRequest', message);
}

/**
 * What a subscription's `resource` watches, or a Graph-style error. The path may start
 * with a slash; `me/...` needs a signed-in user.
 */
export function parseResource(ctx: SandboxContext, raw: string, caller: Caller): ResourceSpec {
  const trimmed = raw.trim().replace(/^\/+/, '');
  const [pathPart = '', query = ''] = trimmed.split('?', 2);
  let path: string;
  try {
    path = decodeURIComponent(pathPart).replace(/\/+$/, '');
  } catch {
    throw invalid(`Invalid 'resource' attribute: '${raw}'.`);
  }
  const oneUser = query ? null : /^users\/([^/]+)$/i.exec(path);
  const oneGroup = query ? null : /^groups\/([^/]+)$/i.exec(path);
  const contacts = query ? null : /^(?:me|users\/([^/]+))\/(?:contactfolders\/[^/]+\/)?contacts$/i.exec(path);
  const presences = /^communications\/presences(?:\/([^/]+))?$/i.exec(path);

  if (/^users$/i.test(path) && !query)
    return { kind: 'directory', collection: 'users', ...directoryLimits(USERS_PERMS) };
  if (/^groups$/i.test(path) && !query)
    return { kind: 'directory', collection: 'groups', ...directoryLimits(GROUPS_PERMS) };
  if (oneUser) {
    const u = ctx.tenant.activeUser(oneUser[1] as string);
    if (!u) throw notFound(oneUser[1] as string);
    return { kind: 'directory', collection: 'users', objectId: u.id, ...directoryLimits(USERS_PERMS) };
  }
  if (oneGroup) {
    const g = ctx.tenant.activeGroup(oneGroup[1] as string);
    if (!g) throw notFound(oneGroup[1] as string);
    return { kind: 'directory', collection: 'groups', objectId: g.id, ...directoryLimits(GROUPS_PERMS) };
  }
  if (contacts) {
    let userId: string;
    if (contacts[1]) {
      const u = ctx.tenant.activeUser(contacts[1]);
      if (!u) throw notFound(contacts[1]);
      userId = u.id;
    } else {
      if (!caller.delegated || !caller.userId)
        throw new SandboxError(
          400,
          'BadRequest',
          '/me request is only valid with delegated authentication flow.',
        );
      userId = caller.userId;
    }
    // Delegated permissions reach only the signed-in user's mailbox
    // (/graph/api/subscription-post-subscriptions, "contact, event, and message").
    if (caller.delegated && userId !== caller.userId)
      throw new SandboxError(403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
    return {
      kind: 'contacts',
      mailboxUserId: userId,
      maxMinutes: OUTLOOK_MAX_MINUTES,
      changeTypes: OUTLOOK_CHANGES,
      perms: CONTACTS_PERMS,
    };
  }
  if (presences) {
    let ids: string[];
    if (presences[1] && !query) ids = [presences[1]];
    else if (!presences[1] && query) {
      const filter = new URLSearchParams(query).get('$filter') ?? '';
      const f = /^\s*id\s+in\s*\(([^)]*)\)\s*$/i.exec(filter);
      if (!f) throw invalid(`Invalid 'resource' attribute: '${raw}'. Use $filter=id in ('{id}','{id}',...).`);
      ids = [
        ...new Set(
          (f[1] as string)
            .split(',')
            .map((s) => s.trim().replace(/^'(.*)'$/, '$1'))
            .filter(Boolean),
        ),
      ];
    } else throw invalid(`Invalid 'resource' attribute: '${raw}'.`);
    if (ids.length === 0) throw invalid(`Invalid 'resource' attribute: '${raw}'.`);
    if (ids.length > PRESENCE_MAX_IDS)
      throw invalid(
        `A presence subscription can track at most ${PRESENCE_MAX_IDS} users; got ${ids.length}.`,
      );
    return {
      kind: 'presence',
      presenceIds: new Set(ids),
      maxMinutes: PRESENCE_MAX_MINUTES,
      changeTypes: PRESENCE_CHANGES,
      perms: PRESENCE_PERMS,
    };
  }
  if (GRAPH_ONLY.test(path))
    throw invalid(
      `The sandbox tenant does not serve change notifications for '${raw}' (Microsoft Graph does); ` +
        'it serves users, groups, contacts and presence. See src/sandbox/README.md.',
    );
  throw invalid(`Invalid 'resource' attribute: '${raw}'.`);
}

function directoryLimits(perms: { app: string[]; delegated: string[] }) {
  return { maxMinutes: DIRECTORY_MAX_MINUTES, changeTypes: DIRECTORY_CHANGES, perms };
}

function notFound(id: string): SandboxError {
  return new SandboxError(
    404,
    'Request_ResourceNotFound',
    `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
  );
}

// ------------------------------------------------------------------ store

export function emptySubscriptionStats(): SubscriptionStats {
  return {
    notificationsQueued: 0,
    notificationsDelivered: 0,
    notificationsDropped: 0,
    deliveryAttempts: 0,
    failedAttempts: 0,
    lifecycleDelivered: 0,
    lifecycleFailed: 0,
    validationRequests: 0,
    lastError: null,
    lastDeliveredAt: null,
  };
}

/** Graph's timestamp shape, e.g. 2016-11-20T18:23:45.9356913Z (7 fractional digits). */
export function graphTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}

const ENDED_KEPT = 1000;

export class SubscriptionStore {
  readonly active = new Map<string, SubscriptionRecord>();
  /** Ended subscriptions (expired, deleted, removed), newest last, for the admin API. */
  readonly ended: SubscriptionRecord[] = [];
  readonly settings: NotificationSettings = { ...DEFAULT_NOTIFICATION_SETTINGS };

  /** The live subscription, ending it first when its time is up (Graph deletes expired ones). */
  get(id: string, now = Date.now()): SubscriptionRecord | undefined {
    const s = this.active.get(id);
    if (!s) return undefined;
    if (s.expiresAt <= now) {
      this.end(s, 'expired', now);
      return undefined;
    }
    return s;
  }

  /** Every live subscription (expired ones are ended on the way). */
  list(now = Date.now()): SubscriptionRecord[] {
    const out: SubscriptionRecord[] = [];
    for (const s of [...this.active.values()]) {
      if (s.expiresAt <= now) this.end(s, 'expired', now);
      else out.push(s);
    }
    return out;
  }

  find(id: string): SubscriptionRecord | undefined {
    return this.active.get(id) ?? this.ended.find((s) => s.id === id);
  }

  add(s: SubscriptionRecord): void {
    this.active.set(s.id, s);
  }

  end(s: SubscriptionRecord, state: Exclude<SubscriptionState, 'active'>, now = Date.now()): void {
    if (s.state !== 'active') return;
    s.state = state;
    s.endedAt = now;
    this.active.delete(s.id);
    this.ended.push(s);
    if (this.ended.length > ENDED_KEPT) this.ended.splice(0, this.ended.length - ENDED_KEPT);
  }

  /** Live users + groups subscriptions of a directory (of one app, when given), for the quotas. */
  directoryCount(tenantId: string, appId?: string): number {
    let n = 0;
    for (const s of this.list())
      if (s.spec.kind === 'directory' && s.tenantId === tenantId && (!appId || s.applicationId === appId))
        n++;
    return n;
  }

  clear(): void {
    this.active.clear();
    this.ended.length = 0;
  }
}
