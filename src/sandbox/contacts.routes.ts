import type { GraphAnswer, GraphCall, Principal, Route } from './graph.handler.js';
import type { ContactFolder, ContactView, Mailbox, MailboxStore } from './mailbox.store.js';
import { parseSelect } from './odata.query.js';
import type { SandboxContext } from './sandbox.context.js';
import { SandboxError } from './sandbox.error.js';
import type { UserRecord } from './tenant.store.js';

/**
 * Outlook contacts in Graph v1.0, for the endpoints the gateway reads:
 *
 * - `GET /users/{id}/contactFolders` (child folders of the default Contacts folder,
 *   https://learn.microsoft.com/graph/api/user-list-contactfolders), `…/contactFolders/{id}`
 *   (`contacts` is the well-known name of the default folder);
 * - `GET /users/{id}/contacts` (default folder, https://learn.microsoft.com/graph/api/user-list-contacts),
 *   `…/contactFolders/{id}/contacts` (https://learn.microsoft.com/graph/api/contactfolder-list-contacts),
 *   `…/contacts/{id}`: `$top` (default 10) or `Prefer: odata.maxpagesize`, at most 200 a page,
 *   `$skip` nextLinks, `$select`;
 * - `GET /users/{id}/contactFolders/{id}/contacts/delta` (https://learn.microsoft.com/graph/api/contact-delta):
 *   nextLink pages then a deltaLink; deleted contacts as `@removed: { reason: 'deleted' }`;
 *   pages of 200 by default and at most 200 whatever `Prefer: odata.maxpagesize` asks
 *   (Microsoft caps it there: https://learn.microsoft.com/en-us/answers/a/2052165 — "200 for
 *   objects, such as users and contacts … And the same number is returned if odata.maxpagesize
 *   is not set"); a token the mailbox can no longer serve (unknown, or invalidated) answers
 *   410 Gone `SyncStateNotFound` as Exchange does
 *   (https://github.com/microsoftgraph/microsoft-graph-docs/issues/2350), and the client reads in
 *   full again;
 * - `/me/…` for each, with a delegated token.
 *
 * Access as Exchange grants it (answers 403 `ErrorAccessDenied`, "Access is denied. Check
 * credentials and try again."): app-only tokens need the application permission Contacts.Read
 * (or Contacts.ReadWrite) and read any mailbox; delegated tokens read the signed-in user's own
 * mailbox with Contacts.Read (or .Shared), and another mailbox with Contacts.Read.Shared only
 * where the caller is a FullAccess member of it (shared mailboxes) or the folder is shared with
 * the caller (https://learn.microsoft.com/graph/outlook-get-shared-contacts-folders).
 */
const DEFAULT_LIST_PAGE = 10;
const DEFAULT_DELTA_PAGE = 200;
/** Microsoft caps `Prefer: odata.maxpagesize` (and so every page) at 200 contacts. */
export const MAX_CONTACT_PAGE = 200;

const APP_READ = ['Contacts.Read', 'Contacts.ReadWrite'];
const OWN_READ = ['Contacts.Read', 'Contacts.ReadWrite', 'Contacts.Read.Shared', 'Contacts.ReadWrite.Shared'];
const SHARED_READ = ['Contacts.Read.Shared', 'Contacts.ReadWrite.Shared'];

const CONTACT_KNOWN = new Set([
  'id',
  'createdDateTime',
  'lastModifiedDateTime',
  'changeKey',
  'parentFolderId',
  'givenName',
  'surname',
  'displayName',
  'companyName',
  'jobTitle',
  'businessPhones',
  'homePhones',
  'mobilePhone',
  'emailAddresses',
  // known to Graph's contact type, never set in the sandbox (null or [] when selected)
  'middleName',
  'nickName',
  'title',
  'department',
  'officeLocation',
  'personalNotes',
  'categories',
  'imAddresses',
  'fileAs',
  'birthday',
  'assistantName',
  'manager',
  'profession',
  'spouseName',
  'generation',
  'initials',
  'yomiGivenName',
  'yomiSurname',
  'yomiCompanyName',
  'children',
  'homeAddress',
  'businessAddress',
  'otherAddress',
  'businessHomePage',
]);
const COLLECTIONS = new Set([
  'categories',
  'imAddresses',
  'children',
  'businessPhones',
  'homePhones',
  'emailAddresses',
]);

const JSON_TYPE =
  'application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8';

function ok(body: unknown): GraphAnswer {
  return { status: 200, headers: { 'Content-Type': JSON_TYPE }, body };
}

export function accessDenied(): SandboxError {
  return new SandboxError(403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
}

function has(p: Principal, perms: string[]): boolean {
  return perms.some((x) => p.permissions.has(x));
}

/** The mailbox owner a path names (`users/{id|upn}` or `me`), or undefined when it names none. */
export function mailboxUser(
  ctx: SandboxContext,
  p: Principal,
  who: string | undefined,
): UserRecord | undefined {
  if (who === undefined) return p.delegated && p.userId ? ctx.tenant.activeUser(p.userId) : undefined;
  let key = who;
  try {
    key = decodeURIComponent(who);
  } catch {
    return undefined;
  }
  return ctx.tenant.activeUser(key.replace(/^'(.*)'$/, '$1'));
}

/** Paths of this file: `[users/{id} | me]/contacts…` and `…/contactFolders…`. */
export const MAILBOX_PATH = /^(?:users\/([^/]+)|me)\/(?:contacts|contactFolders)(?:\/|$)/;

function mailboxOf(ctx: SandboxContext, p: Principal, who: string | undefined): Mailbox {
  if (who === undefined && (!p.delegated || !p.userId)) {
    throw new SandboxError(
      400,
      'BadRequest',
      '/me request is only valid with delegated authentication flow.',
    );
  }
  const u = mailboxUser(ctx, p, who);
  if (!u) {
    throw new SandboxError(404, 'ErrorInvalidUser', `The requested user '${who ?? p.userId}' is invalid.`);
  }
  if (!u.p.mail || u.p.userType === 'Guest') {
    throw new SandboxError(
      404,
      'MailboxNotEnabledForRESTAPI',
      'The mailbox is either inactive, soft-deleted, or is hosted on-premise.',
    );
  }
  return ctx.tenant.mailboxes.mailbox(u.id, u.ordinal);
}

/** May the caller read the whole mailbox (its folder hierarchy, any folder)? */
function mailboxWide(p: Principal, box: Mailbox): boolean {
  if (!p.delegated) return has(p, APP_READ);
  if (box.userId === p.userId) return has(p, OWN_READ);
  return has(p, SHARED_READ) && box.members.has(p.userId as string);
}

function checkFolder(p: Principal, box: Mailbox, f: ContactFolder): void {
  if (mailboxWide(p, box)) return;
  if (p.delegated && has(p, SHARED_READ) && f.sharedWith.has(p.userId as string)) return;
  throw accessDenied();
}

/** The folder a path names; 403 before 404 for a caller who may not look into the mailbox. */
function folderOf(store: MailboxStore, p: Principal, box: Mailbox, id: string): ContactFolder {
  let raw = id;
  try {
    raw = decodeURIComponent(id);
  } catch {
    // keep it as it came
  }
  const f = store.folder(box, raw);
  if (!f) {
    if (!mailboxWide(p, box)) throw accessDenied();
    throw new SandboxError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
  }
  checkFolder(p, box, f);
  return f;
}

function selection(call: GraphCall): string[] | null {
  return parseSelect(call.url.searchParams.get('$select'), CONTACT_KNOWN, 'microsoft.graph.contact');
}

function render(v: ContactView, sel: string[] | null): Record<string, unknown> {
  const out: Record<string, unknown> = { '@odata.etag': `W/"${v.changeKey}"` };
  if (!sel) {
    for (const [k, x] of Object.entries(v)) out[k] = x;
    return out;
  }
  out.id = v.id;
  const rec = v as unknown as Record<string, unknown>;
  for (const k of sel) {
    if (k === 'id') continue;
    out[k] = k in rec ? rec[k] : COLLECTIONS.has(k) ? [] : null;
  }
  return out;
}

function pageSize(call: GraphCall, fallback: number, allowTop: boolean): number {
  let n = fallback;
  const m = /odata\.maxpagesize=(\d+)/i.exec(call.headers.prefer ?? '');
  if (m) n = Number(m[1]);
  const top = call.url.searchParams.get('$top');
  if (allowTop && top !== null) {
    if (!/^\d+$/.test(top.trim()) || Number(top) < 1) {
      throw new SandboxError(
        400,
        'ErrorInvalidUrlQuery',
        `The value '${top}' of the query parameter '$top' is invalid.`,
      );
    }
    n = Number(top);
  }
  return Math.min(MAX_CONTACT_PAGE, Math.max(1, n));
}

function refuseOptions(call: GraphCall, allowed: string[]): void {
  for (const k of call.url.searchParams.keys()) {
    if (k.startsWith('$') && !allowed.includes(k)) {
      throw new SandboxError(
        400,
        'BadRequest',
        `The query parameter '${k}' is not supported by the sandbox on contacts.`,
      );
    }
  }
}

function pathOf(call: GraphCall): string {
  return decodeURI(call.url.pathname)
    .replace(/^\/v1\.0\/?/, '')
    .replace(/\/+$/, '');
}

function listContacts(ctx: SandboxContext, call: GraphCall, box: Mailbox, f: ContactFolder): GraphAnswer {
  refuseOptions(call, ['$select', '$top', '$skip']);
  const store = ctx.tenant.mailboxes;
  const q = call.url.searchParams;
  const size = pageSize(call, DEFAULT_LIST_PAGE, true);
  const sel = selection(call);
  const skipRaw = q.get('$skip') ?? '0';
  if (!/^\d+$/.test(skipRaw)) {
    throw new SandboxError(
      400,
      'ErrorInvalidUrlQuery',
      `The value '${skipRaw}' of the query parameter '$skip' is invalid.`,
    );
  }
  const skip = Number(skipRaw);
  const value: Record<string, unknown>[] = [];
  const first = store.nthLive(f, skip);
  let taken = 0;
  if (first >= 0) {
    for (const i of store.liveIndices(f, first - 1)) {
      if (taken === size) break;
      const c = store.contactAt(box, f, i);
      if (!c) continue;
      value.push(render(store.view(box, f, i, c), sel));
      taken++;
    }
  }
  const body: Record<string, unknown> = {
    '@odata.context': `${ctx.graphBaseUrl}/$metadata#users('${box.userId}')/contacts${sel ? `(${sel.join(',')})` : ''}`,
    value,
  };
  if (skip + taken < store.liveCount(f)) {
    const parts: string[] = [];
    for (const [k, v] of q) if (k !== '$skip') parts.push(`${k}=${encodeURIComponent(v)}`);
    parts.push(`$skip=${skip + taken}`);
    body['@odata.nextLink'] = `${ctx.graphBaseUrl}/${pathOf(call)}?${parts.join('&')}`;
  }
  return ok(body);
}

// ---------------------------------------------------------------- delta

interface ContactDeltaState {
  v: 1;
  k: 'contacts';
  tid: string;
  mb: string;
  f: number;
  /** full (initial) or incremental round */
  ph: 'f' | 'i';
  /** change sequence the round starts after (incremental) */
  from: number;
  /** change sequence the round ends at */
  to: number;
  /** full: last contact index sent; incremental: next log entry */
  pos: number;
  sel: string[] | null;
  /** when this token was issued (ms) */
  t: number;
}

function encodeState(s: ContactDeltaState): string {
  return Buffer.from(JSON.stringify(s), 'utf8').toString('base64url');
}

function syncStateNotFound(generation: string): SandboxError {
  return new SandboxError(
    410,
    'SyncStateNotFound',
    `The sync state generation is not found; generation=${generation};[highest=0].`,
  );
}

function decodeState(token: string): ContactDeltaState | undefined {
  try {
    const s = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as ContactDeltaState;
    return s && s.v === 1 && s.k === 'contacts' && (s.ph === 'f' || s.ph === 'i') ? s : undefined;
  } catch {
    return undefined;
  }
}

function contactDelta(ctx: SandboxContext, call: GraphCall, box: Mailbox, f: ContactFolder): GraphAnswer {
  const store = ctx.tenant.mailboxes;
  const q = call.url.searchParams;
  const now = Date.now();
  const base = `${ctx.graphBaseUrl}/${pathOf(call)}`;
  const skip = q.get('$skiptoken');
  const delta = q.get('$deltatoken');
  let state: ContactDeltaState;
  if (skip !== null || delta !== null) {
    const token = skip ?? delta ?? '';
    const s = decodeState(token);
    if (
      !s ||
      s.tid !== ctx.tenant.id ||
      s.mb !== box.userId ||
      s.f !== f.no ||
      s.t < f.syncValidAfter ||
      s.t < store.syncValidAfter ||
      s.to > store.seq
    ) {
      throw syncStateNotFound(s ? String(s.to) : '0');
    }
    state =
      skip !== null ? s : { ...s, ph: 'i', from: s.to, to: store.seq, pos: f.log.firstAfter(s.to), t: now };
  } else {
    refuseOptions(call, ['$select', '$top']); // $top is ignored by delta, as on Graph for directory delta
    state = {
      v: 1,
      k: 'contacts',
      tid: ctx.tenant.id,
      mb: box.userId,
      f: f.no,
      ph: 'f',
      from: 0,
      to: store.seq,
      pos: -1,
      sel: selection(call),
      t: now,
    };
  }
  const size = pageSize(call, DEFAULT_DELTA_PAGE, false);
  const value: Record<string, unknown>[] = [];
  let done: boolean;
  let pos = state.pos;
  if (state.ph === 'f') {
    const it = store.liveIndices(f, pos);
    let next = it.next();
    while (!next.done && value.length < size) {
      const i = next.value;
      const c = store.contactAt(box, f, i);
      if (c) value.push(render(store.view(box, f, i, c), state.sel));
      pos = i;
      next = it.next();
    }
    done = !!next.done;
  } else {
    const log = f.log;
    let i = pos;
    for (; i < log.length && (log.seq[i] as number) <= state.to && value.length < size; i++) {
      if (!log.isLastWithin(i, state.to)) continue;
      const idx = log.index[i] as number;
      const c = log.removed[i] ? undefined : store.contactAt(box, f, idx);
      if (!c) {
        value.push({
          '@odata.type': '#microsoft.graph.contact',
          id: store.view(box, f, idx, { ...EMPTY_STORED }).id,
          '@removed': { reason: 'deleted' },
        });
      } else {
        value.push(render(store.view(box, f, idx, c), state.sel));
      }
    }
    pos = i;
    done = i >= log.length || (log.seq[i] as number) > state.to;
  }
  const context = `${ctx.graphBaseUrl}/$metadata#Collection(contact)`;
  if (done) {
    const link: ContactDeltaState = { ...state, ph: 'i', from: state.to, pos: 0, t: now };
    return ok({
      '@odata.context': context,
      '@odata.deltaLink': `${base}?$deltatoken=${encodeState(link)}`,
      value,
    });
  }
  const next: ContactDeltaState = { ...state, pos };
  return ok({
    '@odata.context': context,
    '@odata.nextLink': `${base}?$skiptoken=${encodeState(next)}`,
    value,
  });
}

const EMPTY_STORED = {
  givenName: null,
  surname: null,
  displayName: '',
  companyName: null,
  jobTitle: null,
  businessPhones: [],
  homePhones: [],
  mobilePhone: null,
  emailAddresses: [],
  version: 0,
  created: 0,
  modified: 0,
};

// ---------------------------------------------------------------- routes

const WHO = '(?:users\\/([^/]+)|me)';
const DELTA = '(?:delta|delta\\(\\)|microsoft\\.graph\\.delta\\(\\))';

/** Graph routes of Outlook contacts (graph.handler.ts adds them to its table). */
export const CONTACT_ROUTES: Route[] = [
  {
    method: 'GET',
    pattern: new RegExp(`^${WHO}\\/contactFolders$`),
    perms: 'any',
    outlook: true,
    handler: (ctx, _call, m, p) => {
      const box = mailboxOf(ctx, p, m[1]);
      if (!mailboxWide(p, box)) throw accessDenied();
      const store = ctx.tenant.mailboxes;
      const value = [...box.folders.values()].filter((f) => f.no !== 0).map((f) => store.folderView(box, f));
      return ok({
        '@odata.context': `${ctx.graphBaseUrl}/$metadata#users('${box.userId}')/contactFolders`,
        value,
      });
    },
  },
  {
    method: 'GET',
    pattern: new RegExp(`^${WHO}\\/contactFolders\\/([^/]+)$`),
    perms: 'any',
    outlook: true,
    handler: (ctx, call, m, p) => {
      refuseOptions(call, ['$select']);
      const box = mailboxOf(ctx, p, m[1]);
      const f = folderOf(ctx.tenant.mailboxes, p, box, m[2] as string);
      return ok({
        '@odata.context': `${ctx.graphBaseUrl}/$metadata#users('${box.userId}')/contactFolders/$entity`,
        ...ctx.tenant.mailboxes.folderView(box, f),
      });
    },
  },
  {
    method: 'GET',
    pattern: new RegExp(`^${WHO}\\/contactFolders\\/([^/]+)\\/contacts\\/${DELTA}$`),
    perms: 'any',
    outlook: true,
    handler: (ctx, call, m, p) => {
      const box = mailboxOf(ctx, p, m[1]);
      return contactDelta(ctx, call, box, folderOf(ctx.tenant.mailboxes, p, box, m[2] as string));
    },
  },
  {
    method: 'GET',
    pattern: new RegExp(`^${WHO}\\/contactFolders\\/([^/]+)\\/contacts$`),
    perms: 'any',
    outlook: true,
    handler: (ctx, call, m, p) => {
      const box = mailboxOf(ctx, p, m[1]);
      return listContacts(ctx, call, box, folderOf(ctx.tenant.mailboxes, p, box, m[2] as string));
    },
  },
  {
    method: 'GET',
    pattern: new RegExp(`^${WHO}\\/contacts$`),
    perms: 'any',
    outlook: true,
    handler: (ctx, call, m, p) => {
      const box = mailboxOf(ctx, p, m[1]);
      return listContacts(ctx, call, box, folderOf(ctx.tenant.mailboxes, p, box, 'contacts'));
    },
  },
  {
    method: 'GET',
    pattern: new RegExp(`^${WHO}\\/(?:contactFolders\\/([^/]+)\\/)?contacts\\/([^/]+)$`),
    perms: 'any',
    outlook: true,
    handler: (ctx, call, m, p) => {
      refuseOptions(call, ['$select']);
      const store = ctx.tenant.mailboxes;
      const box = mailboxOf(ctx, p, m[1]);
      const inFolder = m[2] ? folderOf(store, p, box, m[2]) : undefined;
      let found: ReturnType<MailboxStore['findContact']>;
      try {
        found = store.findContact(box, decodeURIComponent(m[3] as string), inFolder);
      } catch (e) {
        if (!inFolder && !mailboxWide(p, box)) throw accessDenied();
        throw e;
      }
      checkFolder(p, box, found.f);
      const sel = selection(call);
      return ok({
        '@odata.context': `${ctx.graphBaseUrl}/$metadata#users('${box.userId}')/contacts/$entity`,
        ...render(store.view(box, found.f, found.index, found.c), sel),
      });
    },
  },
];
