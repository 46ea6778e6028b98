import { randomUUID } from 'node:crypto';
import {
  authenticate,
  forced429,
  type GraphAnswer,
  type GraphCall,
  graphError,
  type Principal,
} from './graph.handler.js';
import type { NotificationDispatcher } from './notifications.dispatcher.js';
import type { SandboxContext } from './sandbox.context.js';
import {
  emptySubscriptionStats,
  graphTime,
  parseResource,
  type ResourceSpec,
  type SubscriptionRecord,
} from './subscriptions.store.js';
import { SandboxError } from './tenant.store.js';

/**
 * Graph v1.0 `/subscriptions` (https://learn.microsoft.com/graph/api/resources/subscription):
 *
 * - `POST /subscriptions` (/graph/api/subscription-post-subscriptions): needs read permission
 *   on the resource (see subscriptions.store.ts); checks changeType, the lifetime per resource
 *   ("Subscription expiration can only be N minutes in the future.", as Graph words it,
 *   microsoftgraph/microsoft-graph-docs-contrib issue #7726), clientState ≤ 128, the quotas,
 *   then validates notificationUrl and lifecycleNotificationUrl (notifications.dispatcher.ts)
 *   and answers 201 with the subscription; a failed validation answers 400.
 * - `GET /subscriptions`, `GET /subscriptions/{id}`: the calling app's subscriptions (with a
 *   delegated token, those it made for the signed-in user).
 * - `PATCH /subscriptions/{id}` (/graph/api/subscription-update): renews (`expirationDateTime`,
 *   same limits from now) and may move `notificationUrl` (validated again); a renewal also
 *   reauthorizes (/graph/change-notifications-lifecycle-events). 200 with the subscription.
 * - `DELETE /subscriptions/{id}`: 204; nothing is delivered for it afterwards.
 * - `POST /subscriptions/{id}/reauthorize` (/graph/api/subscription-reauthorize): 204 when the
 *   app still holds the permission, 403 otherwise; answers a reauthorizationRequired challenge.
 *
 * Expired subscriptions are gone (404), as Graph deletes them. Notification URLs must be
 * https as on Graph; http is also taken on loopback hosts unless `allowHttpLoopback` is off.
 */
const CHANGE_TYPES = new Set(['created', 'updated', 'deleted']);
const TLS_VERSIONS = new Set(['v1_0', 'v1_1', 'v1_2', 'v1_3']);
const MAX_CLIENT_STATE = 128;
const UPDATABLE = new Set(['expirationDateTime', 'notificationUrl']);

const SUBSCRIPTION_PATH = /^subscriptions(?:\/([^/]+)(?:\/((?:microsoft\.graph\.)?reauthorize))?)?$/i;

/** Whether a Graph path (after `/v1.0/`) belongs to the subscriptions endpoints. */
export function isSubscriptionsPath(path: string): boolean {
  return SUBSCRIPTION_PATH.test(path);
}

function json(status: number, body: unknown): GraphAnswer {
  return {
    status,
    headers: {
      'Content-Type':
        'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8',
    },
    body,
  };
}

function noContent(): GraphAnswer {
  return { status: 204, headers: {} };
}

function invalid(message: string): SandboxError {
  return new SandboxError(400, 'InvalidRequest', message);
}

function notFound(id: string): SandboxError {
  return new SandboxError(
    404,
    'ResourceNotFound',
    `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
  );
}

export function subscriptionView(s: SubscriptionRecord): Record<string, unknown> {
  return {
    id: s.id,
    resource: s.resource,
    applicationId: s.applicationId,
    changeType: s.changeType,
    clientState: s.clientState,
    notificationUrl: s.notificationUrl,
    notificationQueryOptions: null,
    lifecycleNotificationUrl: s.lifecycleNotificationUrl,
    expirationDateTime: graphTime(s.expiresAt),
    creatorId: s.creatorId,
    includeResourceData: false,
    latestSupportedTlsVersion: s.latestSupportedTlsVersion,
    encryptionCertificate: null,
    encryptionCertificateId: null,
    notificationUrlAppId: null,
  };
}

/** Answers one `/subscriptions` request (top level or a `$batch` item). */
export async function answerSubscriptions(root: SandboxContext, call: GraphCall): Promise<GraphAnswer> {
  const principal = authenticate(root, call);
  if ('status' in principal) return principal;
  // The token's directory: its subscriptions, its objects, its quotas.
  const ctx = principal.tenant;
  const path = decodeURI(call.url.pathname)
    .replace(/^\/v1\.0\/?/, '')
    .replace(/\/+$/, '');
  const forced = forced429(ctx, call, path);
  if (forced) return forced;
  const m = SUBSCRIPTION_PATH.exec(path);
  const dispatcher = ctx.notifications;
  if (!m || !dispatcher)
    return graphError(503, 'serviceNotAvailable', 'Change notifications are not available.', call);
  const id = m[1];
  const action = m[2];
  const method = call.method.toUpperCase();
  const notAllowed = () =>
    graphError(
      405,
      'Request_BadRequest',
      'Specified HTTP method is not allowed for the request target.',
      call,
    );
  try {
    let a: GraphAnswer;
    if (!id) {
      if (method === 'GET') a = list(ctx, principal);
      else if (method === 'POST') a = await create(ctx, dispatcher, call, principal);
      else return notAllowed();
    } else if (action) {
      if (method !== 'POST') return notAllowed();
      a = reauthorize(ctx, dispatcher, id, principal);
    } else if (method === 'GET') a = json(200, entity(ctx, own(ctx, id, principal)));
    else if (method === 'PATCH') a = await update(ctx, dispatcher, call, id, principal);
    else if (method === 'DELETE') {
      ctx.subscriptions.end(own(ctx, id, principal), 'deleted');
      a = noContent();
    } else return notAllowed();
    const requestId = randomUUID();
    a.headers = {
      ...a.headers,
      'request-id': requestId,
      'client-request-id': call.headers['client-request-id'] ?? requestId,
    };
    return a;
  } catch (e) {
    if (e instanceof SandboxError) return graphError(e.status, e.code, e.message, call);
    throw e;
  }
}

function entity(ctx: SandboxContext, s: SubscriptionRecord): Record<string, unknown> {
  return { '@odata.context': `${ctx.graphBaseUrl}/$metadata#subscriptions/$entity`, ...subscriptionView(s) };
}

function visibleTo(s: SubscriptionRecord, p: Principal): boolean {
  if (s.tenantId !== p.tenant.tenant.id || s.applicationId !== p.appId) return false;
  return !p.delegated || s.delegatedUserId === p.userId;
}

/** A live subscription of the caller, else 404 as Graph answers for one it cannot see. */
function own(ctx: SandboxContext, id: string, p: Principal): SubscriptionRecord {
  const s = ctx.subscriptions.get(id);
  if (!s || !visibleTo(s, p)) throw notFound(id);
  return s;
}

function list(ctx: SandboxContext, p: Principal): GraphAnswer {
  const value = ctx.subscriptions
    .list()
    .filter((s) => visibleTo(s, p))
    .map(subscriptionView);
  return json(200, { '@odata.context': `${ctx.graphBaseUrl}/$metadata#subscriptions`, value });
}

function checkPermission(spec: ResourceSpec, p: Principal): void {
  if (spec.kind === 'presence' && !p.delegated) {
    // presence subscriptions: delegated Presence.Read.All only (/graph/api/subscription-post-subscriptions)
    throw new SandboxError(
      403,
      'Authorization_RequestDenied',
      'Presence subscriptions support delegated permissions only (Presence.Read.All).',
    );
  }
  const list = p.delegated ? spec.perms.delegated : spec.perms.app;
  if (!list.some((x) => p.permissions.has(x)))
    throw new SandboxError(
      403,
      'Authorization_RequestDenied',
      'Insufficient privileges to complete the operation.',
    );
}

function checkUrl(ctx: SandboxContext, name: string, raw: unknown): string {
  if (typeof raw !== 'string' || !raw.trim()) throw invalid(`'${name}' is a required property.`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid(`Invalid '${name}' attribute: '${raw}' is not an absolute URL.`);
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]', '::1'].includes(url.hostname);
  const httpOk = url.protocol === 'http:' && loopback && ctx.subscriptions.settings.allowHttpLoopback;
  if (url.protocol !== 'https:' && !httpOk)
    throw invalid(`Invalid '${name}' attribute: the URL must use https.`);
  return raw;
}

/** The expiry asked for, within the resource's limits from now. */
function checkExpiration(ctx: SandboxContext, raw: unknown, spec: ResourceSpec): number {
  if (typeof raw !== 'string' || !raw.trim()) throw invalid("'expirationDateTime' is a required property.");
  const at = Date.parse(raw);
  if (!Number.isFinite(at)) throw invalid(`Invalid 'expirationDateTime' attribute: '${raw}'.`);
  const now = Date.now();
  const min = ctx.subscriptions.settings.minExpirationMinutes;
  if (at <= now + min * 60_000) {
    throw invalid(
      min > 0
        ? `Subscription expiration must be at least ${min} minutes in the future.`
        : 'Subscription expiration must be in the future.',
    );
  }
  if (at > now + spec.maxMinutes * 60_000)
    throw invalid(`Subscription expiration can only be ${spec.maxMinutes} minutes in the future.`);
  return at;
}

async function validateOrThrow(
  dispatcher: NotificationDispatcher,
  url: string,
  sub?: SubscriptionRecord,
): Promise<void> {
  const failure = await dispatcher.validate(url, sub);
  if (failure) throw new SandboxError(400, failure.code, failure.message);
}

/** Quotas of users and groups subscriptions (/graph/change-notifications-overview#supported-resources): 403. */
function checkQuota(ctx: SandboxContext, spec: ResourceSpec, p: Principal): void {
  if (spec.kind !== 'directory') return;
  const st = ctx.subscriptions.settings;
  if (ctx.subscriptions.directoryCount(ctx.tenant.id, p.appId) >= st.directoryQuotaPerAppAndTenant) {
    throw new SandboxError(
      403,
      'Forbidden',
      `Subscription quota exceeded: at most ${st.directoryQuotaPerAppAndTenant} subscriptions on users and groups per application and tenant.`,
    );
  }
  if (ctx.subscriptions.directoryCount(ctx.tenant.id) >= st.directoryQuotaPerTenant) {
    throw new SandboxError(
      403,
      'Forbidden',
      `Subscription quota exceeded: at most ${st.directoryQuotaPerTenant} subscriptions on users and groups per tenant across all applications.`,
    );
  }
}

/**
 * "A single user can create one presence subscription per unique application"
 * (https://learn.microsoft.com/graph/changenotifications-for-presence). A second one answers 409
 * as Graph does (microsoftgraph/msgraph-beta-sdk-dotnet issue #174, microsoft-graph-docs-contrib
 * issue #2219): "A subscripton already exists. It must be deleted before a another can be made."
 */
function checkOnePresencePerUser(ctx: SandboxContext, spec: ResourceSpec, p: Principal): void {
  if (spec.kind !== 'presence') return;
  const held = ctx.subscriptions
    .list()
    .some(
      (s) =>
        s.spec.kind === 'presence' &&
        s.tenantId === ctx.tenant.id &&
        s.applicationId === p.appId &&
        s.delegatedUserId === (p.userId ?? null),
    );
  if (held)
    throw new SandboxError(
      409,
      'ExtensionError',
      'Operation: Create; Exception:[Status Code: Conflict; Reason: A subscripton already exists. It must be deleted before a another can be made.]',
    );
}

async function create(
  ctx: SandboxContext,
  dispatcher: NotificationDispatcher,
  call: GraphCall,
  p: Principal,
): Promise<GraphAnswer> {
  const body = call.body;
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new SandboxError(400, 'BadRequest', 'Empty Payload. JSON content expected.');
  const b = body as Record<string, unknown>;
  for (const k of ['changeType', 'notificationUrl', 'resource', 'expirationDateTime']) {
    if (typeof b[k] !== 'string' || !(b[k] as string).trim()) throw invalid(`'${k}' is a required property.`);
  }
  const resource = b.resource as string;
  const spec = parseResource(ctx, resource, p);
  checkPermission(spec, p);

  const changeType = String(b.changeType);
  const changeTypes = new Set(changeType.split(',').map((c) => c.trim()));
  for (const c of changeTypes) {
    if (!CHANGE_TYPES.has(c) || !spec.changeTypes.has(c))
      throw invalid(`Invalid 'changeType' attribute: '${c}'.`);
  }
  const notificationUrl = checkUrl(ctx, 'notificationUrl', b.notificationUrl);
  const lifecycleNotificationUrl =
    b.lifecycleNotificationUrl == null
      ? null
      : checkUrl(ctx, 'lifecycleNotificationUrl', b.lifecycleNotificationUrl);
  const expiresAt = checkExpiration(ctx, b.expirationDateTime, spec);

  let clientState: string | null = null;
  if (b.clientState != null) {
    clientState = String(b.clientState);
    if (clientState.length > MAX_CLIENT_STATE)
      throw invalid(`'clientState' can be at most ${MAX_CLIENT_STATE} characters long.`);
  }
  const tls = b.latestSupportedTlsVersion == null ? 'v1_2' : String(b.latestSupportedTlsVersion);
  if (!TLS_VERSIONS.has(tls)) throw invalid(`Invalid 'latestSupportedTlsVersion' attribute: '${tls}'.`);
  if (b.includeResourceData === true) {
    // users and groups have no rich notifications (/graph/change-notifications-with-resource-data);
    // the sandbox encrypts nothing, so it refuses them for every resource.
    throw invalid(`Rich notifications (includeResourceData) are not supported for resource '${resource}'.`);
  }

  checkQuota(ctx, spec, p);
  checkOnePresencePerUser(ctx, spec, p);

  const app = ctx.tenant.apps.get(p.appId);
  const s: SubscriptionRecord = {
    id: randomUUID(),
    tenantId: ctx.tenant.id,
    resource,
    spec,
    changeType,
    changeTypes,
    notificationUrl,
    lifecycleNotificationUrl,
    clientState,
    latestSupportedTlsVersion: tls,
    expiresAt,
    applicationId: p.appId,
    creatorId: p.delegated ? (p.userId as string) : (app?.servicePrincipalId ?? p.appId),
    delegatedUserId: p.delegated ? (p.userId ?? null) : null,
    createdAt: Date.now(),
    state: 'active',
    endedAt: null,
    reauthorizationRequiredAt: null,
    stats: emptySubscriptionStats(),
  };
  await validateOrThrow(dispatcher, notificationUrl, s);
  if (lifecycleNotificationUrl) await validateOrThrow(dispatcher, lifecycleNotificationUrl, s);
  // The quota again: other creations may have finished while the endpoints were validated.
  checkQuota(ctx, spec, p);
  checkOnePresencePerUser(ctx, spec, p);
  ctx.subscriptions.add(s);
  return json(201, entity(ctx, s));
}

async function update(
  ctx: SandboxContext,
  dispatcher: NotificationDispatcher,
  call: GraphCall,
  id: string,
  p: Principal,
): Promise<GraphAnswer> {
  const s = own(ctx, id, p);
  const body = call.body;
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new SandboxError(400, 'BadRequest', 'Empty Payload. JSON content expected.');
  const b = body as Record<string, unknown>;
  const current = subscriptionView(s);
  for (const [k, v] of Object.entries(b)) {
    if (k.startsWith('@odata.') || UPDATABLE.has(k)) continue;
    if (JSON.stringify(current[k] ?? null) !== JSON.stringify(v ?? null))
      throw invalid(`Property '${k}' cannot be updated; only expirationDateTime and notificationUrl can.`);
  }
  if (b.expirationDateTime === undefined && b.notificationUrl === undefined)
    throw invalid("'expirationDateTime' is a required property.");
  // Renewing may fail when the app is no longer authorized (/graph/change-notifications-lifecycle-events).
  checkPermission(s.spec, p);
  if (!dispatcher.stillAuthorized(s))
    throw new SandboxError(
      403,
      'Authorization_RequestDenied',
      'Insufficient privileges to complete the operation.',
    );
  const expiresAt =
    b.expirationDateTime === undefined ? s.expiresAt : checkExpiration(ctx, b.expirationDateTime, s.spec);
  let notificationUrl = s.notificationUrl;
  if (b.notificationUrl !== undefined && b.notificationUrl !== s.notificationUrl) {
    notificationUrl = checkUrl(ctx, 'notificationUrl', b.notificationUrl);
    await validateOrThrow(dispatcher, notificationUrl, s);
  }
  const live = own(ctx, id, p);
  live.expiresAt = expiresAt;
  live.notificationUrl = notificationUrl;
  live.reauthorizationRequiredAt = null;
  return json(200, entity(ctx, live));
}

function reauthorize(
  ctx: SandboxContext,
  dispatcher: NotificationDispatcher,
  id: string,
  p: Principal,
): GraphAnswer {
  const s = own(ctx, id, p);
  checkPermission(s.spec, p);
  if (!dispatcher.stillAuthorized(s))
    throw new SandboxError(
      403,
      'Authorization_RequestDenied',
      'Insufficient privileges to complete the operation.',
    );
  s.reauthorizationRequiredAt = null;
  return noContent();
}
