import {
  CHANGE_CREATED,
  CHANGE_MEMBERS,
  CHANGE_RESTORED,
  type ChangeLog,
  type MemberOp,
} from './change.log.js';
import {
  GROUP_BITS,
  GROUP_DEFAULT_SELECT,
  GROUP_PROPERTIES,
  maskOf,
  USER_BITS,
  USER_DEFAULT_SELECT,
  USER_PROPERTIES,
} from './directory.schema.js';
import { idsOfFilter, parseFilter, parseSelect } from './odata.query.js';
import type { SandboxContext } from './sandbox.context.js';
import { type GroupRecord, type Props, SandboxError, type UserRecord } from './tenant.store.js';

/**
 * Delta queries on users and groups
 * (https://learn.microsoft.com/graph/delta-query-overview, /graph/api/user-delta,
 * /graph/api/group-delta, /graph/delta-query-groups).
 *
 * A round: the first request (no token, or a `$deltatoken` from the previous round's
 * deltaLink) fixes the window's upper bound at the tenant's current change sequence;
 * `@odata.nextLink` pages (`$skiptoken`) follow until a page carries `@odata.deltaLink`
 * (`$deltatoken`) from that bound. Query options are given on the first request only and
 * travel inside the tokens. A full round pages through the collection by creation order;
 * an incremental round walks the change log after the token's sequence (see ChangeLog),
 * so its cost follows the number of changes, not the size of the tenant.
 *
 * Tokens live `deltaTokenLifetimeMs` (7 days for directory objects: Microsoft 365
 * developer blog, "Duration of change tracking tokens for identity and education
 * resources", 2020-07-03); an older one gets 400 `syncStateNotFound` (the spelling is
 * settable: Graph has also been seen answering `SyncStateNotFound`,
 * https://github.com/microsoftgraph/msgraph-sdk-javascript/issues/99).
 *
 * Synchronization reset (https://learn.microsoft.com/graph/delta-query-overview#synchronization-reset):
 * "Delta query can return a response code of 410 (gone) and a Location header containing a
 * request URL with an empty $deltaToken (same as the initial query). This is an indication
 * that the application must restart with a full synchronization of the target tenant."
 * Tokens issued before the admin's "delta resync" knob answer that way; the body is Graph's
 * error body with `resyncRequired` ("The delta token is no longer valid, and the app must
 * reset the sync state.", https://learn.microsoft.com/graph/errors#code-property).
 *
 * `$top` is not supported on users and groups delta
 * (https://learn.microsoft.com/graph/delta-query-overview#optional-query-parameters) and Graph
 * ignores it there rather than refusing it ("`$top` isn't supported by all APIs and will be
 * silently ignored in delta for unsupported APIs":
 * https://github.com/microsoftgraph/microsoft-graph-docs/issues/17516; a users delta with
 * `$top=2` "still returns me the full data set":
 * https://github.com/microsoftgraph/microsoft-graph-docs/issues/7160), so it is ignored here.
 * Page size follows `Prefer: odata.maxpagesize` only.
 */
export interface DeltaState {
  v: 1;
  tid: string;
  c: 'users' | 'groups';
  /** full (initial) or incremental round */
  ph: 'f' | 'i';
  from: number;
  to: number;
  /** full: last ordinal emitted; incremental: next change-log index to read */
  pos: number;
  /** offset into the current group's members@delta list */
  mo: number;
  /**
   * The id of the last member sent of a group continued on the next page. Members go in id
   * order and the next page goes on after this id, so a membership change between the pages
   * (which shifts offsets) neither skips nor repeats an unchanged member: the change itself
   * comes in the next round, as on Graph.
   */
  ml?: string;
  sel: string[] | null;
  mem: boolean;
  ids: string[] | null;
  /** when this token was issued (ms) */
  t: number;
}

export interface DeltaResult {
  status: number;
  body: Record<string, unknown>;
}

const DEFAULT_PAGE = 100;
/** members@delta entries per page before a large group continues on the next page. */
const MEMBER_BUDGET = 1000;
/** change-log entries read per page at most (so a page may come back empty, as on Graph). */
const SCAN_LIMIT = 5000;

const USER_KNOWN = new Set<string>(USER_PROPERTIES);
const GROUP_KNOWN = new Set<string>(GROUP_PROPERTIES);

function encode(s: DeltaState): string {
  return Buffer.from(JSON.stringify(s), 'utf8').toString('base64url');
}

function decode(token: string): DeltaState | undefined {
  try {
    const s = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as DeltaState;
    return s && s.v === 1 && (s.c === 'users' || s.c === 'groups') ? s : undefined;
  } catch {
    return undefined;
  }
}

function expired(code: string): SandboxError {
  return new SandboxError(
    400,
    code,
    'The sync state generation is not found. The delta token is expired and data must be synchronized again.',
  );
}

/** The initial query a token was started with, with an empty `$deltatoken`: where a new full round starts. */
function restartUrl(base: string, s: DeltaState): string {
  const parts: string[] = [];
  const select = s.sel && s.c === 'groups' && s.mem ? [...s.sel, 'members'] : s.sel;
  if (select) parts.push(`$select=${select.join(',')}`);
  if (s.ids) {
    const filter = s.ids.map((id) => `id eq '${id}'`).join(' or ');
    parts.push(`$filter=${encodeURIComponent(filter)}`);
  }
  parts.push('$deltatoken=');
  return `${base}?${parts.join('&')}`;
}

function gone(base: string, s: DeltaState): SandboxError {
  return new SandboxError(
    410,
    'resyncRequired',
    'The delta token is no longer valid, and the app must reset the sync state.',
    { Location: restartUrl(base, s) },
  );
}

function pageSize(headers: Record<string, string | undefined>): number {
  const m = /odata\.maxpagesize=(\d+)/i.exec(headers.prefer ?? '');
  const n = m ? Number(m[1]) : DEFAULT_PAGE;
  return Math.min(999, Math.max(1, n));
}

function isMinimal(headers: Record<string, string | undefined>): boolean {
  return /return=minimal/i.test(headers.prefer ?? '');
}

function view(p: Props, id: string, props: readonly string[], only?: Set<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of props) {
    if (k === 'id' || k === 'members') continue;
    if (only && !only.has(k)) continue;
    const v = p[k];
    // never-set properties are left out of delta answers; cleared ones come as null
    if (v === undefined) continue;
    out[k] = v;
  }
  out.id = id;
  return out;
}

const refCache = new WeakMap<GroupRecord, { seq: number; refs: Record<string, unknown>[] }>();

/** The current members of a group as members@delta entries, cached while the tenant does not change
 * (a large group is sent over several pages of one round). */
function currentRefs(ctx: SandboxContext, g: GroupRecord): Record<string, unknown>[] {
  const hit = refCache.get(g);
  if (hit && hit.seq === ctx.tenant.seq) return hit.refs;
  const refs = ctx.tenant
    .visibleMembers(g)
    .sort()
    .map((m) => memberRef(ctx, m));
  refCache.set(g, { seq: ctx.tenant.seq, refs });
  return refs;
}

/** The index of the first ref (in id order) whose id sorts after `id`. */
function firstAfterId(refs: readonly Record<string, unknown>[], id: string): number {
  let lo = 0;
  let hi = refs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (String(refs[mid]?.id) <= id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function memberRef(ctx: SandboxContext, id: string, removed = false): Record<string, unknown> {
  const type = ctx.tenant.groupsById.has(id) ? '#microsoft.graph.group' : '#microsoft.graph.user';
  return removed
    ? { '@odata.type': type, id, '@removed': { reason: 'deleted' } }
    : { '@odata.type': type, id };
}

/** Net membership change over a window: first op tells the state before, last op the state after. */
function netMembers(ops: MemberOp[]): Array<[string, boolean, boolean]> {
  const first = new Map<string, boolean>();
  const last = new Map<string, MemberOp>();
  for (const op of ops) {
    if (!first.has(op[0])) first.set(op[0], op[1]);
    last.set(op[0], op);
  }
  const out: Array<[string, boolean, boolean]> = [];
  for (const [id, op] of last) {
    const wasMember = !first.get(id); // first op "added" means it was not a member before
    const isMember = op[1];
    if (wasMember !== isMember) out.push([id, isMember, op[2]]);
  }
  return out;
}

export function runDelta(
  ctx: SandboxContext,
  collection: 'users' | 'groups',
  url: URL,
  headers: Record<string, string | undefined>,
): DeltaResult {
  const tenant = ctx.tenant;
  const q = url.searchParams;
  const now = Date.now();
  const base = `${ctx.graphBaseUrl}/${collection}/delta`;
  const context = `${ctx.graphBaseUrl}/$metadata#${collection}`;
  const checkAge = (s: DeltaState) => {
    if (s.tid !== tenant.id)
      throw new SandboxError(400, 'BadRequest', 'The delta token is not valid for this tenant.');
    if (s.t < tenant.deltaTokensGoneBefore) throw gone(base, s);
    if (now - s.t > ctx.settings.deltaTokenLifetimeMs || s.t < tenant.deltaTokensValidAfter)
      throw expired(tenant.deltaExpiredCode);
  };

  let state: DeltaState;
  const skip = q.get('$skiptoken');
  const delta = q.get('$deltatoken');
  if (skip) {
    const s = decode(skip);
    if (!s || s.c !== collection) throw new SandboxError(400, 'BadRequest', 'The skip token is not valid.');
    checkAge(s);
    state = s;
  } else if (delta && delta !== 'latest') {
    const s = decode(delta);
    if (!s || s.c !== collection) throw new SandboxError(400, 'BadRequest', 'The delta token is not valid.');
    checkAge(s);
    const log = collection === 'users' ? tenant.userLog : tenant.groupLog;
    state = { ...s, ph: 'i', to: tenant.seq, pos: log.firstAfter(s.from), mo: 0, ml: undefined, t: now };
  } else {
    for (const k of q.keys()) {
      // `$top` is ignored (see above); these are refused.
      if (['$orderby', '$count', '$search', '$skip'].includes(k)) {
        throw new SandboxError(
          400,
          'Request_UnsupportedQuery',
          `The query parameter '${k}' is not supported with delta.`,
        );
      }
    }
    const type = collection === 'users' ? 'microsoft.graph.user' : 'microsoft.graph.group';
    const sel = parseSelect(
      q.get('$select'),
      collection === 'users' ? USER_KNOWN : GROUP_KNOWN,
      type,
      collection === 'groups' ? ['members'] : [],
    );
    const expand = q.get('$expand');
    if (expand && !(collection === 'groups' && expand.trim() === 'members')) {
      throw new SandboxError(400, 'Request_UnsupportedQuery', `Unsupported $expand '${expand}' with delta.`);
    }
    let ids: string[] | null = null;
    const filter = q.get('$filter');
    if (filter) {
      const found = idsOfFilter(parseFilter(filter));
      if (!found) {
        throw new SandboxError(
          400,
          'Request_UnsupportedQuery',
          "Unsupported query. The only supported $filter with delta is on id ('id eq ...' or 'id in (...)').",
        );
      }
      if (found.length > 50) {
        throw new SandboxError(
          400,
          'Request_UnsupportedQuery',
          'Too many ids in $filter: at most 50 objects may be tracked.',
        );
      }
      ids = found;
    }
    const mem = collection === 'groups' && (sel === null || sel.includes('members') || !!expand);
    const selProps = sel?.filter((s) => s !== 'members') ?? null;
    state = {
      v: 1,
      tid: tenant.id,
      c: collection,
      ph: 'f',
      from: 0,
      to: tenant.seq,
      pos: 0,
      mo: 0,
      sel: selProps,
      mem,
      ids,
      t: now,
    };
    if (delta === 'latest') {
      const link: DeltaState = { ...state, ph: 'i', from: tenant.seq, t: now };
      return {
        status: 200,
        body: {
          '@odata.context': context,
          '@odata.deltaLink': `${base}?$deltatoken=${encode(link)}`,
          value: [],
        },
      };
    }
  }

  const size = pageSize(headers);
  const minimal = isMinimal(headers);
  const props = state.sel ?? (collection === 'users' ? USER_DEFAULT_SELECT : GROUP_DEFAULT_SELECT);
  const bits = collection === 'users' ? USER_BITS : GROUP_BITS;
  const tracked = maskOf(bits, props);
  const idSet = state.ids ? new Set(state.ids) : null;
  const value: Record<string, unknown>[] = [];
  let budget = MEMBER_BUDGET;
  let done = false;
  let pos = state.pos;
  let mo = state.mo;
  let ml = state.ml;

  /** Appends a group item with a slice of its member refs; returns false when the page is full mid-group. */
  const pushGroup = (item: Record<string, unknown>, refs: Record<string, unknown>[]): boolean => {
    if (!state.mem || refs.length === 0) {
      value.push(item);
      mo = 0;
      ml = undefined;
      return true;
    }
    const from = mo > 0 && ml !== undefined ? firstAfterId(refs, ml) : mo;
    const take = Math.max(1, Math.min(budget, refs.length - from));
    const slice = refs.slice(from, from + take);
    value.push({ ...item, 'members@delta': slice });
    budget -= take;
    if (from + take < refs.length) {
      mo += take;
      ml = String(slice.at(-1)?.id);
      return false;
    }
    mo = 0;
    ml = undefined;
    return true;
  };

  if (state.ph === 'f') {
    if (collection === 'users') {
      const users = tenant.users;
      let i = tenant.userIndexAfter(pos);
      for (; i < users.length && value.length < size; i++) {
        const u = users[i] as UserRecord;
        pos = u.ordinal;
        if (u.p.deletedDateTime || (idSet && !idSet.has(u.id))) continue;
        value.push(view(u.p, u.id, props));
      }
      done = i >= users.length;
    } else {
      const groups = tenant.groups;
      let i = tenant.groupIndexAfter(mo > 0 ? pos - 1 : pos);
      for (; i < groups.length && value.length < size && budget > 0; i++) {
        const g = groups[i] as GroupRecord;
        if (mo > 0 && g.ordinal !== state.pos) {
          mo = 0; // the half-sent group is gone
          ml = undefined;
        }
        pos = g.ordinal;
        if (g.p.deletedDateTime || (idSet && !idSet.has(g.id))) continue;
        const refs = state.mem ? currentRefs(ctx, g) : [];
        if (!pushGroup(view(g.p, g.id, props), refs)) break;
      }
      done = i >= groups.length && mo === 0;
    }
  } else {
    const log: ChangeLog = collection === 'users' ? tenant.userLog : tenant.groupLog;
    let scanned = 0;
    let i = pos;
    for (; i < log.length && (log.seq[i] as number) <= state.to; i++) {
      if (value.length >= size || budget <= 0 || scanned >= SCAN_LIMIT) break;
      scanned++;
      if (!log.isLastWithin(i, state.to)) continue;
      const id = log.ids[i] as string;
      if (idSet && !idSet.has(id)) continue;
      const obj = collection === 'users' ? tenant.usersById.get(id) : tenant.groupsById.get(id);
      if (!obj) {
        value.push({ id, '@removed': { reason: 'deleted' } });
        continue;
      }
      if (obj.p.deletedDateTime) {
        value.push({ id, '@removed': { reason: 'changed' } });
        continue;
      }
      const ch = log.collect(i, state.from);
      const whole = (ch.flags & (CHANGE_CREATED | CHANGE_RESTORED)) !== 0;
      let refs: Record<string, unknown>[] = [];
      if (collection === 'groups' && state.mem) {
        if (whole) refs = currentRefs(ctx, obj as GroupRecord);
        else if (ch.flags & CHANGE_MEMBERS)
          refs = netMembers(ch.ops)
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
            .map(([m, added]) => memberRef(ctx, m, !added));
      }
      const propsChanged = (ch.mask & tracked) !== 0;
      if (!whole && !propsChanged && refs.length === 0) continue; // nothing this round tracks
      let only: Set<string> | undefined;
      if (minimal && !whole) {
        only = new Set(props.filter((k) => ((bits.get(k) ?? 0) & ch.mask) !== 0));
      }
      const item = minimal && !whole && !propsChanged ? { id } : view(obj.p, id, props, only);
      if (minimal && only) {
        // a changed property that is now unset comes as null under return=minimal
        for (const k of only) if (!(k in item)) item[k] = null;
      }
      if (collection === 'groups') {
        if (!pushGroup(item, refs)) break;
      } else {
        value.push(item);
      }
    }
    pos = i;
    done = (i >= log.length || (log.seq[i] as number) > state.to) && mo === 0;
  }

  if (done) {
    const link: DeltaState = { ...state, ph: 'i', from: state.to, pos: 0, mo: 0, ml: undefined, t: now };
    return {
      status: 200,
      body: { '@odata.context': context, '@odata.deltaLink': `${base}?$deltatoken=${encode(link)}`, value },
    };
  }
  const next: DeltaState = { ...state, pos, mo, ml, t: state.t };
  return {
    status: 200,
    body: { '@odata.context': context, '@odata.nextLink': `${base}?$skiptoken=${encode(next)}`, value },
  };
}
