import type { GraphAnswer, GraphCall, Principal, Route } from './graph.handler.js';
import { type PresenceState, presenceOf, sequenceNumber } from './presence.store.js';
import type { SandboxContext } from './sandbox.context.js';
import { SandboxError } from './sandbox.error.js';

/**
 * Teams presence in Graph v1.0 (cloud communications), for the endpoints the gateway reads:
 *
 * - `GET /users/{id}/presence`, `GET /communications/presences/{id}`, `GET /me/presence`
 *   (https://learn.microsoft.com/graph/api/presence-get): delegated Presence.Read (the sandbox
 *   lets it read the signed-in user's own presence only, as its consent text says: "Read your
 *   presence information") or Presence.Read.All; application Presence.Read.All or
 *   Presence.ReadWrite.All; "You can't use application permissions to access APIs under the /me
 *   path" (400 as `/me` answers app tokens elsewhere). `{id}` must be the user's GUID ("You must
 *   pass the user's ID"): a userPrincipalName is not found (404).
 * - `GET /communications/presences?$filter=id in ('…','…')`: the same collection by filter, the
 *   resource presence subscriptions name (https://learn.microsoft.com/graph/api/subscription-post-subscriptions);
 *   delegated or application Presence.Read.All.
 * - `POST /communications/getPresencesByUserId` `{ "ids": [...] }`
 *   (https://learn.microsoft.com/graph/api/cloudcommunications-getpresencesbyuserid): delegated
 *   Presence.Read.All, application Presence.Read.All or Presence.ReadWrite.All. "Maximum of 650
 *   user IDs are supported per API request": more answer 400 Bad Request, which Microsoft sends
 *   without saying why (https://github.com/microsoftgraph/microsoft-graph-docs/issues/9333), so
 *   the message names no limit here either.
 *
 * Every presence request counts against "1,500 API requests in a 30 second period, per
 * application per tenant" (both pages above; presence.store.ts `PresenceThrottle`): past it, 429
 * TooManyRequests with Retry-After. These requests are not identity-and-access requests, so the
 * resource-unit bucket does not apply to them.
 *
 * Ids the directory does not know (a well-formed GUID of no live user) come back with
 * availability and activity PresenceUnknown; an id that is not a GUID is a 400.
 */
const MAX_IDS = 650;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const READ_ONE = {
  app: ['Presence.Read.All', 'Presence.ReadWrite.All'],
  delegated: ['Presence.Read', 'Presence.Read.All', 'Presence.ReadWrite', 'Presence.ReadWrite.All'],
};
const READ_MANY = {
  app: ['Presence.Read.All', 'Presence.ReadWrite.All'],
  delegated: ['Presence.Read.All', 'Presence.ReadWrite.All'],
};
const READ_OTHERS_DELEGATED = ['Presence.Read.All', 'Presence.ReadWrite.All'];

const JSON_TYPE =
  'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';

function ok(body: unknown): GraphAnswer {
  return { status: 200, headers: { 'Content-Type': JSON_TYPE }, body };
}

function denied(): SandboxError {
  return new SandboxError(
    403,
    'Authorization_RequestDenied',
    'Insufficient privileges to complete the operation.',
  );
}

function view(id: string, s: PresenceState | undefined) {
  return {
    id,
    availability: s?.availability ?? 'PresenceUnknown',
    activity: s?.activity ?? 'PresenceUnknown',
    statusMessage: null,
    outOfOfficeSettings: { message: null, isOutOfOffice: false },
    sequenceNumber: s ? sequenceNumber(s) : null,
  };
}

/** Counts the request against the presence limit of the app in this directory; 429 past it. */
function admit(ctx: SandboxContext, p: Principal): void {
  if (!ctx.faults.throttling) return;
  const a = ctx.presenceThrottle.admit(`${ctx.tenant.id}|${p.appId}`);
  if (a.ok) return;
  ctx.stats.throttled++;
  throw new SandboxError(429, 'TooManyRequests', 'Please retry again later.', {
    'Retry-After': String(a.retryAfterSeconds),
  });
}

function one(ctx: SandboxContext, p: Principal, rawId: string): GraphAnswer {
  let id = rawId;
  try {
    id = decodeURIComponent(rawId);
  } catch {
    // an undecodable id is not a user's: answered 404 below
  }
  if (p.delegated && id !== p.userId && !READ_OTHERS_DELEGATED.some((x) => p.permissions.has(x)))
    throw denied();
  admit(ctx, p);
  const s = GUID.test(id) ? presenceOf(ctx.tenant).get(id) : undefined;
  if (!s) {
    throw new SandboxError(
      404,
      'NotFound',
      `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
    );
  }
  return ok({
    '@odata.context': `${ctx.graphBaseUrl}/$metadata#communications/presences/$entity`,
    ...view(id, s),
  });
}

function many(ctx: SandboxContext, p: Principal, ids: unknown): GraphAnswer {
  if (!Array.isArray(ids) || ids.some((x) => typeof x !== 'string' || !GUID.test(x)) || ids.length > MAX_IDS)
    throw new SandboxError(400, 'BadRequest', 'Bad request.');
  admit(ctx, p);
  const store = presenceOf(ctx.tenant);
  return ok({
    '@odata.context': `${ctx.graphBaseUrl}/$metadata#Collection(microsoft.graph.presence)`,
    value: (ids as string[]).map((id) => view(id, store.get(id))),
  });
}

/** `id in ('a','b')` (or `id eq 'a'`): the ids, or a 400 for any other filter. */
function idsOfFilter(filter: string | null): string[] {
  const f = (filter ?? '').trim();
  const eq = /^id\s+eq\s+'([^']*)'$/i.exec(f);
  if (eq) return [eq[1] as string];
  const inList = /^id\s+in\s+\((.*)\)$/i.exec(f);
  if (inList) {
    const parts = (inList[1] as string).split(',').map((s) => s.trim());
    if (parts.every((s) => /^'[^']*'$/.test(s))) return parts.map((s) => s.slice(1, -1));
  }
  throw new SandboxError(400, 'BadRequest', 'Bad request.');
}

export const PRESENCE_ROUTES: Route[] = [
  {
    method: 'GET',
    pattern: /^me\/presence$/,
    perms: READ_ONE,
    communications: true,
    handler: (ctx, _call: GraphCall, _m, p) => {
      if (!p.delegated || !p.userId)
        throw new SandboxError(
          400,
          'BadRequest',
          '/me request is only valid with delegated authentication flow.',
        );
      return one(ctx, p, p.userId);
    },
  },
  {
    method: 'GET',
    pattern: /^(?:users\/([^/]+)\/presence|communications\/presences\/([^/]+))$/,
    perms: READ_ONE,
    communications: true,
    handler: (ctx, _call, m, p) => one(ctx, p, (m[1] ?? m[2]) as string),
  },
  {
    method: 'GET',
    pattern: /^communications\/presences$/,
    perms: READ_MANY,
    communications: true,
    handler: (ctx, call, _m, p) => many(ctx, p, idsOfFilter(call.url.searchParams.get('$filter'))),
  },
  {
    method: 'POST',
    pattern: /^communications\/getPresencesByUserId$/,
    perms: READ_MANY,
    communications: true,
    handler: (ctx, call, _m, p) => many(ctx, p, (call.body as { ids?: unknown } | undefined)?.ids),
  },
];
