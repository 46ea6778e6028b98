import { randomUUID } from 'node:crypto';
import { CONTACT_ROUTES } from './contacts.routes.js';
import { runDelta } from './delta.engine.js';
import {
  COLLECTION_VALUED,
  emptyExtensionAttributes,
  GROUP_DEFAULT_SELECT,
  GROUP_PROPERTIES,
  USER_DEFAULT_SELECT,
  USER_PROPERTIES,
} from './directory.schema.js';
import {
  checkFilter,
  evalFilter,
  evalSearch,
  type FilterNode,
  type FilterSpec,
  parseFilter,
  parseOrderBy,
  parseSearch,
  parseSelect,
  type SearchExpr,
} from './odata.query.js';
import { PRESENCE_ROUTES } from './presence.routes.js';
import type { SandboxContext } from './sandbox.context.js';
import { type GroupRecord, type Props, SandboxError, type UserRecord } from './tenant.store.js';
import { requestCost, tenantLimit } from './throttle.bucket.js';

/**
 * Microsoft Graph v1.0 for the directory endpoints the gateway uses, as a plain
 * request → answer function (the HTTP route and `$batch` both call it).
 *
 * Every call needs a token this sandbox issued for Graph, for this tenant, carrying a
 * permission the endpoint accepts (application `roles` or delegated `scp`), else 401
 * InvalidAuthenticationToken / 403 Authorization_RequestDenied with Graph's error body
 * (https://learn.microsoft.com/graph/errors). Then identity-and-access throttling
 * (see throttle.bucket.ts) applies to each request on its own.
 */
export interface GraphCall {
  method: string;
  url: URL;
  headers: Record<string, string | undefined>;
  body?: unknown;
}

export interface GraphAnswer {
  status: number;
  headers: Record<string, string>;
  body?: unknown;
  /** text/plain answers ($count) */
  text?: string;
}

export interface Principal {
  /** The sandbox as seen from the token's directory (`tid`). */
  tenant: SandboxContext;
  appId: string;
  delegated: boolean;
  userId?: string;
  permissions: Set<string>;
}

export type Perms = { app: string[]; delegated: string[] } | 'any';

const USER_READ = {
  app: ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  delegated: [
    'User.ReadBasic.All',
    'User.Read.All',
    'User.ReadWrite.All',
    'Directory.Read.All',
    'Directory.ReadWrite.All',
  ],
};
const ME_READ = {
  app: [],
  delegated: [
    'User.Read',
    'User.ReadWrite',
    'User.ReadBasic.All',
    'User.Read.All',
    'User.ReadWrite.All',
    'Directory.Read.All',
  ],
};
const GROUP_READ = {
  app: [
    'GroupMember.Read.All',
    'Group.Read.All',
    'Group.ReadWrite.All',
    'Directory.Read.All',
    'Directory.ReadWrite.All',
  ],
  delegated: [
    'GroupMember.Read.All',
    'Group.Read.All',
    'Group.ReadWrite.All',
    'Directory.Read.All',
    'Directory.ReadWrite.All',
  ],
};
/**
 * `GET /organization` (https://learn.microsoft.com/graph/api/organization-get): delegated
 * User.Read (least privileged) or the organization / directory read permissions; app-only
 * Organization.Read.All or higher. "Applications granted the User.Read permission are able to
 * read only the id, displayName, and verifiedDomains properties of the organization."
 */
const ORGANIZATION_READ = {
  app: [
    'Organization.Read.All',
    'Directory.Read.All',
    'Organization.ReadWrite.All',
    'Directory.ReadWrite.All',
  ],
  delegated: [
    'User.Read',
    'Organization.Read.All',
    'Directory.Read.All',
    'Organization.ReadWrite.All',
    'Directory.ReadWrite.All',
  ],
};
const ORGANIZATION_FULL_READ = new Set(ORGANIZATION_READ.app);
const MEMBER_OF_READ = {
  app: [...GROUP_READ.app, 'User.Read.All'],
  delegated: [...GROUP_READ.delegated, 'User.Read', 'User.Read.All'],
};
const FULL_USER_READ = new Set([
  'User.Read.All',
  'User.ReadWrite.All',
  'Directory.Read.All',
  'Directory.ReadWrite.All',
]);
const BASIC_USER_PROPS = new Set(['id', 'displayName', 'givenName', 'surname', 'mail', 'userPrincipalName']);

const USER_FILTER: FilterSpec = {
  resource: 'User',
  scalar: new Set([
    'accountEnabled',
    'userType',
    'userPrincipalName',
    'displayName',
    'givenName',
    'surname',
    'mail',
    'mailNickname',
    'department',
    'jobTitle',
    'companyName',
    'city',
    'country',
    'employeeId',
    'employeeType',
    'usageLocation',
    'createdDateTime',
    'creationType',
    'externalUserState',
    'mobilePhone',
    'officeLocation',
    'preferredLanguage',
  ]),
  collections: new Set(['businessPhones', 'proxyAddresses', 'otherMails']),
};
const GROUP_FILTER: FilterSpec = {
  resource: 'Group',
  scalar: new Set([
    'displayName',
    'description',
    'mail',
    'mailEnabled',
    'mailNickname',
    'securityEnabled',
    'createdDateTime',
    'visibility',
    'classification',
    'isAssignableToRole',
  ]),
  collections: new Set(['groupTypes', 'proxyAddresses']),
};
const USER_SEARCH = new Set([
  'displayName',
  'givenName',
  'surname',
  'mail',
  'userPrincipalName',
  'mailNickname',
  'jobTitle',
  'department',
  'officeLocation',
  'employeeId',
]);
const GROUP_SEARCH = new Set(['displayName', 'description', 'mail', 'mailNickname']);
const USER_SORT = new Set(['displayName', 'userPrincipalName', 'mail', 'createdDateTime']);
const GROUP_SORT = new Set(['displayName', 'createdDateTime', 'mail']);
const USER_KNOWN = new Set<string>(USER_PROPERTIES);
const GROUP_KNOWN = new Set<string>(GROUP_PROPERTIES);

const JSON_TYPE =
  'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';

function err(
  status: number,
  code: string,
  message: string,
  call?: GraphCall,
  headers: Record<string, string> = {},
): GraphAnswer {
  const requestId = randomUUID();
  return {
    status,
    headers: { 'Content-Type': 'application/json', 'request-id': requestId, ...headers },
    body: {
      error: {
        code,
        message,
        innerError: {
          date: new Date().toISOString().replace(/\.\d{3}Z$/, ''),
          'request-id': requestId,
          'client-request-id': call?.headers['client-request-id'] ?? requestId,
        },
      },
    },
  };
}

function ok(body: unknown, headers: Record<string, string> = {}): GraphAnswer {
  return { status: 200, headers: { 'Content-Type': JSON_TYPE, ...headers }, body };
}

// ------------------------------------------------------------------ authentication

export function authenticate(ctx: SandboxContext, call: GraphCall): Principal | GraphAnswer {
  const h = call.headers.authorization ?? '';
  const m = /^Bearer\s+(.*)$/i.exec(h.trim());
  const token = m?.[1]?.trim() ?? '';
  if (!token) return err(401, 'InvalidAuthenticationToken', 'Access token is empty.', call);
  if (token.split('.').length !== 3) {
    return err(
      401,
      'InvalidAuthenticationToken',
      'IDX14100: JWT is not well formed, there are no dots (.).',
      call,
    );
  }
  const claims = ctx.signer.verify(token);
  if (!claims) return err(401, 'InvalidAuthenticationToken', 'Access token validation failure.', call);
  const now = Math.floor(Date.now() / 1000);
  if (
    typeof claims.exp !== 'number' ||
    claims.exp <= now ||
    (typeof claims.nbf === 'number' && claims.nbf > now + 300)
  ) {
    return err(401, 'InvalidAuthenticationToken', 'Lifetime validation failed, the token is expired.', call);
  }
  if (!ctx.graphResources.includes(String(claims.aud).replace(/\/$/, ''))) {
    return err(401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience.', call);
  }
  // The token's directory is the one Graph answers from.
  const tenant = ctx.tenants.get(String(claims.tid));
  if (!tenant || claims.iss !== ctx.forTenant(tenant).issuerV1) {
    return err(401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid issuer.', call);
  }
  const delegated = typeof claims.scp === 'string';
  const permissions = new Set<string>(
    delegated
      ? String(claims.scp).split(' ').filter(Boolean)
      : Array.isArray(claims.roles)
        ? claims.roles.map(String)
        : [],
  );
  return {
    tenant: ctx.forTenant(tenant),
    appId: String(claims.appid ?? claims.azp ?? ''),
    delegated,
    userId: delegated ? String(claims.oid) : undefined,
    permissions,
  };
}

function permitted(p: Principal, perms: Perms): boolean {
  if (perms === 'any') return true;
  const list = p.delegated ? perms.delegated : perms.app;
  return list.some((x) => p.permissions.has(x));
}

// ------------------------------------------------------------------ views

function userView(
  u: UserRecord,
  select: readonly string[] | null,
  basicOnly: boolean,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of select ?? USER_DEFAULT_SELECT) {
    if (k === 'id') {
      out.id = u.id;
      continue;
    }
    if (basicOnly && !BASIC_USER_PROPS.has(k)) {
      out[k] = COLLECTION_VALUED.has(k) ? [] : null;
      continue;
    }
    const v = u.p[k];
    // Graph returns onPremisesExtensionAttributes whole, every attribute null until set.
    if (v === undefined && k === 'onPremisesExtensionAttributes') out[k] = emptyExtensionAttributes();
    else out[k] = v === undefined ? (COLLECTION_VALUED.has(k) ? [] : null) : v;
  }
  return out;
}

function groupView(g: GroupRecord, select: readonly string[] | null): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of select ?? GROUP_DEFAULT_SELECT) {
    if (k === 'id') {
      out.id = g.id;
      continue;
    }
    const v = g.p[k];
    out[k] = v === undefined ? (COLLECTION_VALUED.has(k) ? [] : null) : v;
  }
  return out;
}

type Rec = { kind: 'user'; r: UserRecord } | { kind: 'group'; r: GroupRecord };

function recProps(x: Rec): Props {
  return x.r.p;
}

// ------------------------------------------------------------------ list paging

interface ListOptions {
  resource: 'users' | 'groups' | 'directoryObjects';
  /** Live top-level collection (paged by ordinal), or a computed list (paged by offset). */
  source: { live: Rec[] | (() => Rec[]); byOrdinal: boolean };
  /**
   * Lists paged by offset (`byOrdinal: false`) whose matching records may be kept between the
   * pages of one read while the tenant does not change (`tenant.seq`): a huge group's members
   * read in filtered ranges would otherwise filter all of them again for every page.
   */
  cacheKey?: string;
  /** path for @odata.context, e.g. "users" or "directoryObjects" */
  contextPath: string;
  /** Add @odata.type to every item (relations return directoryObjects). */
  typed: boolean;
  filterSpec: FilterSpec;
  searchable: Set<string>;
  sortable: Set<string>;
}

function encodeSkip(o: Record<string, number>): string {
  return Buffer.from(JSON.stringify(o)).toString('base64url');
}

function decodeSkip(s: string): Record<string, number> {
  try {
    const v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as Record<string, number>;
    if (typeof v === 'object' && v) return v;
  } catch {
    // fall through
  }
  throw new SandboxError(
    400,
    'Request_BadRequest',
    'The specified page token value has expired and can no longer be included in your request.',
  );
}

function buildLink(ctx: SandboxContext, path: string, q: URLSearchParams, skip: string): string {
  const parts: string[] = [];
  for (const [k, v] of q) if (k !== '$skiptoken') parts.push(`${k}=${encodeURIComponent(v)}`);
  parts.push(`$skiptoken=${skip}`);
  return `${ctx.graphBaseUrl}/${path}?${parts.join('&')}`;
}

function parseTop(q: URLSearchParams): number {
  const raw = q.get('$top');
  if (raw === null) return 100;
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || n < 1 || n > 999) {
    // https://learn.microsoft.com/graph/paging: $top is 1..999 for directory objects
    throw new SandboxError(
      400,
      'Request_UnsupportedQuery',
      `Invalid page size specified: '${raw}'. Must be between 1 and 999 inclusive.`,
    );
  }
  return n;
}

function eventual(call: GraphCall): boolean {
  return (call.headers.consistencylevel ?? '').toLowerCase() === 'eventual';
}

function listPage(
  ctx: SandboxContext,
  call: GraphCall,
  path: string,
  opt: ListOptions,
  principal: Principal,
): GraphAnswer {
  const q = call.url.searchParams;
  const top = parseTop(q);
  const adv = eventual(call);
  // Without ConsistencyLevel: eventual, Graph "silently ignores the $count query parameter
  // (?$count=true)" (no @odata.count; only the /$count segment is an error):
  // https://learn.microsoft.com/graph/aad-advanced-queries#error-handling-for-advanced-queries-on-directory-objects
  const countWanted = adv && (q.get('$count') ?? '').toLowerCase() === 'true';
  let filter: FilterNode | undefined;
  const filterSrc = q.get('$filter');
  if (filterSrc) {
    filter = parseFilter(filterSrc);
    const { advanced, prop } = checkFilterWithProp(filter, opt.filterSpec);
    if (advanced && !(adv && countWanted)) {
      throw new SandboxError(
        400,
        'Request_UnsupportedQuery',
        `Unsupported or invalid query filter clause specified for property '${prop}' of resource '${opt.filterSpec.resource}'.`,
      );
    }
  }
  let search: SearchExpr | undefined;
  const searchSrc = q.get('$search');
  if (searchSrc) {
    if (!adv) {
      throw new SandboxError(
        400,
        'Request_UnsupportedQuery',
        "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'",
      );
    }
    search = parseSearch(searchSrc, opt.searchable);
  }
  const order = parseOrderBy(q.get('$orderby'), opt.sortable, opt.filterSpec.resource);
  // $filter with $orderby, and $orderby on createdDateTime of users, need the advanced query
  // parameters, header and $count both (https://learn.microsoft.com/graph/aad-advanced-queries#support-for-sorting-by-properties-of-microsoft-entra-id-directory-objects);
  // Graph's answer: 400 Request_UnsupportedQuery "Sorting not supported for current query."
  // (https://devblogs.microsoft.com/microsoft365dev/build-advanced-queries-with-count-filter-search-and-orderby).
  const advancedSort = order && (filter || (opt.resource === 'users' && order.prop === 'createdDateTime'));
  if (advancedSort && !(adv && countWanted)) {
    throw new SandboxError(400, 'Request_UnsupportedQuery', 'Sorting not supported for current query.');
  }
  if (q.get('$expand'))
    throw new SandboxError(400, 'Request_UnsupportedQuery', `Unsupported $expand on ${path}.`);
  const selectSrc = q.get('$select');
  const userSel = parseSelectMixed(selectSrc, opt.resource, 'user');
  const groupSel = parseSelectMixed(selectSrc, opt.resource, 'group');
  const basicOnly = principal.delegated && ![...FULL_USER_READ].some((x) => principal.permissions.has(x));

  const match = (x: Rec): boolean => {
    const p = recProps(x);
    const get = (k: string) => (k === 'id' ? x.r.id : p[k]);
    if (filter && !evalFilter(filter, get)) return false;
    if (search && !evalSearch(search, get)) return false;
    return true;
  };
  const render = (x: Rec): Record<string, unknown> => {
    const body = x.kind === 'user' ? userView(x.r, userSel, basicOnly) : groupView(x.r, groupSel);
    return opt.typed ? { '@odata.type': `#microsoft.graph.${x.kind}`, ...body } : body;
  };

  const skipSrc = q.get('$skiptoken');
  const skip = skipSrc ? decodeSkip(skipSrc) : {};
  const live = () => (typeof opt.source.live === 'function' ? opt.source.live() : opt.source.live);
  const value: Record<string, unknown>[] = [];
  let nextSkip: string | undefined;
  let count: number | undefined;

  if (order || search || !opt.source.byOrdinal) {
    const cacheKey =
      opt.cacheKey && `${opt.cacheKey}?${filterSrc ?? ''}&${searchSrc ?? ''}&${q.get('$orderby') ?? ''}`;
    const cached = cacheKey ? matchedLists(ctx, cacheKey) : undefined;
    const matched = cached ?? live().filter(match);
    if (order && !cached) {
      const dir = order.desc ? -1 : 1;
      matched.sort((a, b) => {
        const x = String(recProps(a)[order.prop] ?? '').toLowerCase();
        const y = String(recProps(b)[order.prop] ?? '').toLowerCase();
        return x < y ? -dir : x > y ? dir : 0;
      });
    }
    if (cacheKey && !cached) keepMatched(ctx, cacheKey, matched);
    const start = skip.n ?? 0;
    for (const x of matched.slice(start, start + top)) value.push(render(x));
    if (start + top < matched.length) nextSkip = encodeSkip({ n: start + top });
    if (countWanted && !skipSrc) count = matched.length;
  } else {
    const all = live();
    const list = all;
    let i = skip.o === undefined ? 0 : firstAfterOrdinal(list, skip.o);
    let last = -1;
    for (; i < list.length; i++) {
      const x = list[i] as Rec;
      if (!match(x)) continue;
      if (value.length === top) {
        nextSkip = encodeSkip({ o: last });
        break;
      }
      value.push(render(x));
      last = x.r.ordinal;
    }
    if (countWanted && !skipSrc) count = all.reduce((n, x) => n + (match(x) ? 1 : 0), 0);
  }

  const sel = selectSrc ? `(${selectSrc})` : '';
  // "When using the $count=true query string when querying against directory resources, the
  // @odata.count property will be present only in the first page of the paged data."
  // (https://learn.microsoft.com/graph/paging); later pages (a $skiptoken) carry none.
  const body: Record<string, unknown> = {
    '@odata.context': `${ctx.graphBaseUrl}/$metadata#${opt.contextPath}${sel}`,
  };
  if (count !== undefined) body['@odata.count'] = count;
  if (nextSkip) body['@odata.nextLink'] = buildLink(ctx, path, q, nextSkip);
  body.value = value;
  return ok(body);
}

const MATCHED_KEPT = 32;
const matchedByTenant = new WeakMap<object, { seq: number; lists: Map<string, Rec[]> }>();

/** The matched records of a list kept by `keepMatched`, if the tenant has not changed since. */
function matchedLists(ctx: SandboxContext, key: string): Rec[] | undefined {
  const kept = matchedByTenant.get(ctx.tenant);
  if (!kept || kept.seq !== ctx.tenant.seq) return undefined;
  return kept.lists.get(key);
}

function keepMatched(ctx: SandboxContext, key: string, recs: Rec[]): void {
  let kept = matchedByTenant.get(ctx.tenant);
  if (!kept || kept.seq !== ctx.tenant.seq) {
    kept = { seq: ctx.tenant.seq, lists: new Map() };
    matchedByTenant.set(ctx.tenant, kept);
  }
  if (kept.lists.size >= MATCHED_KEPT) kept.lists.delete(kept.lists.keys().next().value as string);
  kept.lists.set(key, recs);
}

function checkFilterWithProp(node: FilterNode, spec: FilterSpec): { advanced: boolean; prop: string } {
  const { advanced } = checkFilter(node, spec);
  let prop = '';
  const find = (n: FilterNode): void => {
    if (prop) return;
    if (n.t === 'and' || n.t === 'or') {
      find(n.a);
      find(n.b);
    } else if (n.t === 'not') {
      find(n.a);
    } else if ('prop' in n) {
      prop = n.prop;
    }
  };
  find(node);
  return { advanced, prop };
}

function parseSelectMixed(src: string | null, resource: string, kind: 'user' | 'group'): string[] | null {
  if (resource === 'directoryObjects') {
    // relations hold users and groups: select what applies to each type
    if (!src) return null;
    const known = kind === 'user' ? USER_KNOWN : GROUP_KNOWN;
    const names = src
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const n of names) {
      if (n !== 'id' && !USER_KNOWN.has(n) && !GROUP_KNOWN.has(n)) {
        throw new SandboxError(
          400,
          'BadRequest',
          `Could not find a property named '${n}' on type 'microsoft.graph.directoryObject'.`,
        );
      }
    }
    return names.filter((n) => n === 'id' || known.has(n));
  }
  if ((resource === 'users') !== (kind === 'user')) return null;
  return parseSelect(src, kind === 'user' ? USER_KNOWN : GROUP_KNOWN, `microsoft.graph.${kind}`);
}

function firstAfterOrdinal(list: Rec[], ordinal: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid] as Rec).r.ordinal <= ordinal) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// ------------------------------------------------------------------ routes

type RouteHandler = (ctx: SandboxContext, call: GraphCall, m: string[], p: Principal) => GraphAnswer;

export interface Route {
  method: string;
  pattern: RegExp;
  perms: Perms;
  handler: RouteHandler;
  /** the path used for throttling costs (documented table) */
  costPath?: (m: string[]) => string;
  /** An Outlook resource: Outlook's per-mailbox limits apply (graph.routes.ts), not the identity resource-unit bucket. */
  outlook?: boolean;
  /** A cloud communications resource (presence): its own request limit (presence.routes.ts), not the resource-unit bucket. */
  communications?: boolean;
}

/** Live, non-deleted users as list records (a view over the tenant array, no copy per call). */
function userRecs(ctx: SandboxContext): Rec[] {
  const cache = recCache.get(ctx);
  if (cache && cache.seq === ctx.tenant.seq && cache.usersLen === ctx.tenant.users.length) return cache.users;
  const users: Rec[] = [];
  for (const u of ctx.tenant.users) if (!u.p.deletedDateTime) users.push({ kind: 'user', r: u });
  const groups: Rec[] = [];
  for (const g of ctx.tenant.groups) if (!g.p.deletedDateTime) groups.push({ kind: 'group', r: g });
  const entry = { seq: ctx.tenant.seq, usersLen: ctx.tenant.users.length, users, groups };
  recCache.set(ctx, entry);
  return users;
}

function groupRecs(ctx: SandboxContext): Rec[] {
  userRecs(ctx);
  return (recCache.get(ctx) as { groups: Rec[] }).groups;
}

const recCache = new WeakMap<
  SandboxContext,
  { seq: number; usersLen: number; users: Rec[]; groups: Rec[] }
>();

function toRecs(ctx: SandboxContext, ids: string[], only?: 'user' | 'group'): Rec[] {
  const out: Rec[] = [];
  for (const id of ids) {
    const u = ctx.tenant.usersById.get(id);
    if (u) {
      if (only !== 'group') out.push({ kind: 'user', r: u });
      continue;
    }
    const g = ctx.tenant.groupsById.get(id);
    if (g && only !== 'user') out.push({ kind: 'group', r: g });
  }
  return out;
}

const USERS_LIST: Omit<ListOptions, 'source'> = {
  resource: 'users',
  contextPath: 'users',
  typed: false,
  filterSpec: USER_FILTER,
  searchable: USER_SEARCH,
  sortable: USER_SORT,
};
const GROUPS_LIST: Omit<ListOptions, 'source'> = {
  resource: 'groups',
  contextPath: 'groups',
  typed: false,
  filterSpec: GROUP_FILTER,
  searchable: GROUP_SEARCH,
  sortable: GROUP_SORT,
};
const RELATION_LIST: Omit<ListOptions, 'source'> = {
  resource: 'directoryObjects',
  contextPath: 'directoryObjects',
  typed: true,
  filterSpec: {
    resource: 'DirectoryObject',
    scalar: new Set([...USER_FILTER.scalar, ...GROUP_FILTER.scalar]),
    collections: new Set([...USER_FILTER.collections, ...GROUP_FILTER.collections]),
  },
  searchable: new Set([...USER_SEARCH, ...GROUP_SEARCH]),
  sortable: new Set([...USER_SORT, ...GROUP_SORT]),
};

function castOf(seg: string | undefined): 'user' | 'group' | undefined {
  if (seg === 'microsoft.graph.user') return 'user';
  if (seg === 'microsoft.graph.group') return 'group';
  return undefined;
}

/**
 * An OData cast under a transitive relation (`/groups/{id}/transitiveMembers/microsoft.graph.user`,
 * `/users/{id}/transitiveMemberOf/microsoft.graph.group`) is an advanced query: "To filter the
 * results on the OData type, such as microsoft.graph.user or microsoft.graph.group, you must use
 * the advanced query parameters. That is, the ConsistencyLevel header set to eventual and the
 * $count=true query string." (https://learn.microsoft.com/graph/api/group-list-transitivemembers;
 * "Use of OData cast with transitive members list" in
 * https://learn.microsoft.com/graph/aad-advanced-queries#query-scenarios-that-require-advanced-query-capabilities).
 * Without them Graph answers 400 `Request_UnsupportedQuery` ("If a property or query parameter in
 * the URL is supported only in advanced queries but either the ConsistencyLevel header or the
 * $count=true query string is missing, the request returns an error", same page, "Error handling";
 * the message follows the documented one for endsWith). A cast on `members` / `memberOf` works by
 * default (https://learn.microsoft.com/graph/api/group-list-members: "OData cast is also enabled").
 */
function requireAdvancedCast(call: GraphCall, cast: string): void {
  const countWanted = (call.url.searchParams.get('$count') ?? '').toLowerCase() === 'true';
  if (eventual(call) && countWanted) return;
  throw new SandboxError(
    400,
    'Request_UnsupportedQuery',
    `OData cast '${cast}' is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information`,
  );
}

function requireAdvancedFilter(call: GraphCall): void {
  const countWanted = (call.url.searchParams.get('$count') ?? '').toLowerCase() === 'true';
  if (eventual(call) && countWanted) return;
  throw new SandboxError(
    400,
    'Request_UnsupportedQuery',
    'Filter on a relationship is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information',
  );
}

function relationList(
  ctx: SandboxContext,
  call: GraphCall,
  path: string,
  ids: () => string[],
  cast: 'user' | 'group' | undefined,
  p: Principal,
): GraphAnswer {
  // `$filter` on a relationship (members, memberOf, their transitive forms) is an advanced
  // query, whatever the operator: "Some queries are supported only when you use the
  // ConsistencyLevel header set to eventual and $count", and every `$filter` example of
  // https://learn.microsoft.com/graph/api/group-list-members (and of
  // https://learn.microsoft.com/graph/api/user-list-memberof) sends both
  // (https://learn.microsoft.com/graph/aad-advanced-queries). Without them: 400.
  if (call.url.searchParams.get('$filter')) requireAdvancedFilter(call);
  const base =
    cast === 'user'
      ? { ...RELATION_LIST, resource: 'users' as const, contextPath: 'users', filterSpec: USER_FILTER }
      : cast === 'group'
        ? { ...RELATION_LIST, resource: 'groups' as const, contextPath: 'groups', filterSpec: GROUP_FILTER }
        : RELATION_LIST;
  return listPage(
    ctx,
    call,
    path,
    {
      ...base,
      typed: true,
      source: { live: () => toRecs(ctx, ids(), cast), byOrdinal: false },
      cacheKey: `${p.userId ?? p.appId ?? ''}:${path}`,
    },
    p,
  );
}

function countAnswer(n: number): GraphAnswer {
  return { status: 200, headers: { 'Content-Type': 'text/plain;charset=utf-8' }, text: String(n) };
}

function requireEventual(call: GraphCall): void {
  if (!eventual(call))
    throw new SandboxError(400, 'Request_BadRequest', '$count is not currently supported.');
}

function userOr404(ctx: SandboxContext, id: string): UserRecord {
  const u = ctx.tenant.activeUser(decodeURIComponent(id));
  if (!u) {
    throw new SandboxError(
      404,
      'Request_ResourceNotFound',
      `Resource '${decodeURIComponent(id)}' does not exist or one of its queried reference-property objects are not present.`,
    );
  }
  return u;
}

function groupOr404(ctx: SandboxContext, id: string): GroupRecord {
  const g = ctx.tenant.activeGroup(id);
  if (!g) {
    throw new SandboxError(
      404,
      'Request_ResourceNotFound',
      `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
    );
  }
  return g;
}

const ROUTES: Route[] = [
  {
    method: 'GET',
    pattern: /^users$/,
    perms: USER_READ,
    handler: (ctx, call, _m, p) =>
      listPage(ctx, call, 'users', { ...USERS_LIST, source: { live: userRecs(ctx), byOrdinal: true } }, p),
  },
  {
    method: 'GET',
    pattern: /^users\/\$count$/,
    perms: USER_READ,
    handler: (ctx, call) => {
      requireEventual(call);
      return countAnswer(userRecs(ctx).length);
    },
  },
  {
    method: 'GET',
    pattern: /^users\/(?:delta|delta\(\)|microsoft\.graph\.delta\(\))$/,
    perms: USER_READ,
    handler: (ctx, call) => {
      const r = runDelta(ctx, 'users', call.url, call.headers);
      return ok(r.body);
    },
  },
  {
    method: 'GET',
    pattern: /^me$/,
    perms: 'any', // an app token gets 400 (no signed-in user), checked in meOf
    handler: (ctx, call, _m, p) => {
      const me = meOf(ctx, p);
      if (!permitted(p, ME_READ)) {
        throw new SandboxError(
          403,
          'Authorization_RequestDenied',
          'Insufficient privileges to complete the operation.',
        );
      }
      return singleUser(ctx, call, me, p);
    },
  },
  {
    method: 'GET',
    pattern: /^users\/([^/]+)$/,
    perms: USER_READ,
    handler: (ctx, call, m, p) => singleUser(ctx, call, userOr404(ctx, m[1] as string), p),
  },
  {
    method: 'GET',
    pattern: /^(?:users\/([^/]+)|me)\/(memberOf|transitiveMemberOf)(?:\/(microsoft\.graph\.group))?$/,
    perms: MEMBER_OF_READ,
    costPath: (m) => (m[1] ? `users/x/${m[2]}` : `me/${m[2]}`),
    handler: (ctx, call, m, p) => {
      const u = m[1] ? userOr404(ctx, m[1]) : meOf(ctx, p);
      const path = call.url.pathname.replace(/^.*?\/v1\.0\//, '');
      const transitive = m[2] === 'transitiveMemberOf';
      if (transitive && m[3]) requireAdvancedCast(call, m[3]);
      return relationList(ctx, call, path, () => ctx.tenant.groupsOf(u.id, transitive), 'group', p);
    },
  },
  {
    method: 'GET',
    pattern: /^groups$/,
    perms: GROUP_READ,
    handler: (ctx, call, _m, p) =>
      listPage(ctx, call, 'groups', { ...GROUPS_LIST, source: { live: groupRecs(ctx), byOrdinal: true } }, p),
  },
  {
    method: 'GET',
    pattern: /^groups\/\$count$/,
    perms: GROUP_READ,
    handler: (ctx, call) => {
      requireEventual(call);
      return countAnswer(groupRecs(ctx).length);
    },
  },
  {
    method: 'GET',
    pattern: /^groups\/(?:delta|delta\(\)|microsoft\.graph\.delta\(\))$/,
    perms: GROUP_READ,
    handler: (ctx, call) => ok(runDelta(ctx, 'groups', call.url, call.headers).body),
  },
  {
    method: 'GET',
    pattern: /^groups\/([^/]+)$/,
    perms: GROUP_READ,
    handler: (ctx, call, m) => {
      const g = groupOr404(ctx, m[1] as string);
      const sel = parseSelect(call.url.searchParams.get('$select'), GROUP_KNOWN, 'microsoft.graph.group');
      return ok({ '@odata.context': `${ctx.graphBaseUrl}/$metadata#groups/$entity`, ...groupView(g, sel) });
    },
  },
  {
    method: 'GET',
    pattern: /^groups\/([^/]+)\/(members|transitiveMembers)\/\$count$/,
    perms: GROUP_READ,
    costPath: (m) => `groups/x/${m[2]}`,
    handler: (ctx, call, m) => {
      requireEventual(call);
      const g = groupOr404(ctx, m[1] as string);
      return countAnswer(
        m[2] === 'members' ? ctx.tenant.visibleMembers(g).length : ctx.tenant.transitiveMembers(g).length,
      );
    },
  },
  {
    method: 'GET',
    pattern: /^groups\/([^/]+)\/(members|transitiveMembers)(?:\/(microsoft\.graph\.(?:user|group)))?$/,
    perms: GROUP_READ,
    costPath: (m) => `groups/x/${m[2]}`,
    handler: (ctx, call, m, p) => {
      const g = groupOr404(ctx, m[1] as string);
      const path = call.url.pathname.replace(/^.*?\/v1\.0\//, '');
      const transitive = m[2] === 'transitiveMembers';
      const cast = castOf(m[3]);
      if (cast === 'group' && (g.p.groupTypes as string[] | undefined)?.includes('Unified')) {
        // "An attempt to filter by an OData cast that represents an unsupported member type
        // returns a 400 Bad Request error with the Request_UnsupportedQuery code": Microsoft 365
        // groups cannot have groups as members (https://learn.microsoft.com/graph/api/group-list-members).
        throw new SandboxError(
          400,
          'Request_UnsupportedQuery',
          "The OData cast 'microsoft.graph.group' is not a supported member type of a Microsoft 365 group.",
        );
      }
      if (transitive && m[3]) requireAdvancedCast(call, m[3]);
      const ids = () => (transitive ? ctx.tenant.transitiveMembers(g) : ctx.tenant.visibleMembers(g));
      return relationList(ctx, call, path, ids, cast, p);
    },
  },
  {
    method: 'GET',
    pattern: /^directory\/deletedItems\/microsoft\.graph\.(user|group)$/,
    // The permission of the type cast's resource (https://learn.microsoft.com/graph/api/directory-deleteditems-list).
    perms: 'any',
    handler: (ctx, call, m, p) => {
      const kind = m[1] as 'user' | 'group';
      if (!permitted(p, kind === 'user' ? USER_READ : GROUP_READ)) throw insufficientPrivileges();
      const recs: Rec[] =
        kind === 'user'
          ? ctx.tenant.users.filter((u) => u.p.deletedDateTime).map((r) => ({ kind: 'user' as const, r }))
          : ctx.tenant.groups.filter((g) => g.p.deletedDateTime).map((r) => ({ kind: 'group' as const, r }));
      const list = kind === 'user' ? USERS_LIST : GROUPS_LIST;
      return listPage(
        ctx,
        call,
        `directory/deletedItems/microsoft.graph.${kind}`,
        { ...list, source: { live: recs, byOrdinal: false } },
        p,
      );
    },
  },
  {
    method: 'GET',
    pattern: /^organization$/,
    perms: ORGANIZATION_READ,
    handler: (ctx, _call, _m, p) => {
      const t = ctx.tenant;
      const full = [...ORGANIZATION_FULL_READ].some((x) => p.permissions.has(x));
      return ok({
        '@odata.context': `${ctx.graphBaseUrl}/$metadata#organization`,
        value: [
          {
            id: t.id,
            displayName: t.displayName,
            tenantType: full ? 'AAD' : null,
            countryLetterCode: full ? 'US' : null,
            createdDateTime: full ? '2020-01-06T09:00:00Z' : null,
            verifiedDomains: [
              {
                name: t.defaultDomain,
                type: 'Managed',
                isDefault: true,
                isInitial: false,
                capabilities: 'Email, OfficeCommunicationsOnline',
              },
              {
                name: t.initialDomain,
                type: 'Managed',
                isDefault: false,
                isInitial: true,
                capabilities: 'Email, OfficeCommunicationsOnline',
              },
            ],
          },
        ],
      });
    },
  },
  ...CONTACT_ROUTES,
  ...PRESENCE_ROUTES,
];

function insufficientPrivileges(): SandboxError {
  return new SandboxError(
    403,
    'Authorization_RequestDenied',
    'Insufficient privileges to complete the operation.',
  );
}

function singleUser(ctx: SandboxContext, call: GraphCall, u: UserRecord, p: Principal): GraphAnswer {
  const sel = parseSelect(call.url.searchParams.get('$select'), USER_KNOWN, 'microsoft.graph.user');
  // User.ReadBasic.All (delegated) reads only the basic profile of others
  const basicOnly =
    p.delegated && ![...FULL_USER_READ].some((x) => p.permissions.has(x)) && u.id !== p.userId;
  return ok({
    '@odata.context': `${ctx.graphBaseUrl}/$metadata#users${sel ? `(${sel.join(',')})` : ''}/$entity`,
    ...userView(u, sel, basicOnly),
  });
}

function meOf(ctx: SandboxContext, p: Principal): UserRecord {
  if (!p.delegated || !p.userId) {
    throw new SandboxError(
      400,
      'BadRequest',
      '/me request is only valid with delegated authentication flow.',
    );
  }
  return userOr404(ctx, p.userId);
}

/** "GET /users" style key of a call, for statistics. */
export function statKey(method: string, url: URL): string {
  const path = url.pathname.replace(/^\/v1\.0/, '').replace(/\/+$/, '') || '/';
  return `${method.toUpperCase()} ${path}`;
}

/**
 * Answers one Graph request (a top-level one, or one item of a $batch). `fault429`
 * lets the caller consume a forced 429 (fault knob) before the work.
 */
export function answerGraph(root: SandboxContext, call: GraphCall): GraphAnswer {
  const principal = authenticate(root, call);
  if ('status' in principal) return principal;
  const ctx = principal.tenant;
  let path: string;
  try {
    path = decodeURI(call.url.pathname)
      .replace(/^\/v1\.0\/?/, '')
      .replace(/\/+$/, '');
  } catch {
    return err(400, 'BadRequest', 'The request URL is not valid.', call);
  }

  const forced = forced429(ctx, call, path);
  if (forced) return forced;

  let route: Route | undefined;
  let match: RegExpExecArray | null = null;
  for (const r of ROUTES) {
    match = r.pattern.exec(path);
    if (match) {
      if (r.method !== call.method.toUpperCase()) {
        return err(
          405,
          'Request_BadRequest',
          'Specified HTTP method is not allowed for the request target.',
          call,
        );
      }
      route = r;
      break;
    }
  }
  if (!route || !match) {
    const seg = path.split('/').filter(Boolean).pop() ?? '';
    return err(400, 'BadRequest', `Resource not found for the segment '${seg}'.`, call);
  }
  if (!permitted(principal, route.perms)) {
    return err(
      403,
      'Authorization_RequestDenied',
      'Insufficient privileges to complete the operation.',
      call,
    );
  }

  let throttleHeaders: Record<string, string> = {};
  if (ctx.faults.throttling && !route.outlook && !route.communications) {
    const limit = ctx.faults.resourceUnitLimit ?? tenantLimit(ctx.tenant.activeUserCount());
    const cost = requestCost(
      call.method,
      route.costPath ? route.costPath([...match]) : path,
      call.url.searchParams,
    );
    const d = ctx.buckets.take(
      principal.appId,
      ctx.tenant.id,
      limit,
      cost,
      call.headers['x-ms-throttle-priority'],
    );
    if (!d.allowed) {
      ctx.stats.throttled++;
      return tooMany(call, d.retryAfterSeconds ?? 1, d.headers);
    }
    throttleHeaders = d.headers;
  }

  try {
    const a = route.handler(ctx, call, [...match], principal);
    const requestId = randomUUID();
    a.headers = {
      ...a.headers,
      ...throttleHeaders,
      'request-id': requestId,
      'client-request-id': call.headers['client-request-id'] ?? requestId,
    };
    return a;
  } catch (e) {
    if (e instanceof SandboxError)
      return err(e.status, e.code, e.message, call, { ...throttleHeaders, ...e.headers });
    throw e;
  }
}

/** A queued forced 429 (fault knob) for this path, consumed: https://learn.microsoft.com/graph/throttling#sample-response */
export function forced429(ctx: SandboxContext, call: GraphCall, path: string): GraphAnswer | undefined {
  const forced = ctx.faults.forced429.find(
    (f) => f.remaining > 0 && (!f.pathContains || path.includes(f.pathContains)),
  );
  if (!forced) return undefined;
  forced.remaining--;
  ctx.faults.forced429 = ctx.faults.forced429.filter((f) => f.remaining > 0);
  ctx.stats.throttled++;
  return tooMany(call, forced.retryAfterSeconds, {});
}

function tooMany(call: GraphCall, retryAfterSeconds: number, headers: Record<string, string>): GraphAnswer {
  const a = err(429, 'TooManyRequests', 'Please retry again later.', call, {
    ...headers,
    'Retry-After': String(retryAfterSeconds),
  });
  const inner = (a.body as { error: { innerError: Record<string, string> } }).error.innerError;
  inner.code = '429';
  inner.message = 'Please retry after';
  inner.status = '429';
  return a;
}

export { err as graphError };
