import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ChangeLog, type MemberOp } from './change.log.js';
import { generateContact } from './contacts.seed.js';
import type { MailboxSeedConfig, MailboxStore, StoredContact } from './mailbox.store.js';
import type { RefreshGrant } from './sandbox.context.js';
import { type AppRegistration, type ClientSecret, type Props, Tenant } from './tenant.store.js';

/**
 * The sandbox's state file (`<dataDir>/state.json`, or `stateFile`): what a restarted sandbox
 * needs to stay the same Microsoft 365 tenant for a client that was connected before.
 *
 * Kept: every hosted directory (users, groups with their members, app registrations with
 * their secrets, required and granted permissions, admin and user consents, domains, ids,
 * creation ordinals, the change sequence), the delta change logs while they are small
 * (`changeLogLimit` entries in all), and refresh tokens with their revocation.
 * Not kept: authorization codes, sign-in flows and browser sessions (minutes-long), throttling
 * buckets, statistics, fault knobs, change-notification subscriptions. When a change log is
 * left out, every delta and skip token issued before the restart answers 400
 * `syncStateNotFound` (the client reads in full once, as after an expired token on Graph).
 *
 * The file carries a version; a file of another version, or one that does not parse, is not
 * loaded (the sandbox starts seeded and says why in one line).
 */
export const STATE_VERSION = 1;

/** Change-log entries (users + groups, all directories) kept at most; beyond, the logs are dropped. */
export const DEFAULT_CHANGE_LOG_LIMIT = 200_000;

interface LogState {
  seq: number[];
  ids: string[];
  masks: number[];
  flags: number[];
  prev: number[];
  next: number[];
  times: number[];
  ops: Array<[number, MemberOp[]]>;
}

interface AppState {
  appId: string;
  objectId: string;
  servicePrincipalId: string;
  displayName: string;
  /** Set when the app object (secrets, redirect URIs, requested permissions) is the one of an
   * earlier directory's app with the same appId: a multi-tenant app provisioned there. */
  sharedFrom?: string;
  redirectUris?: string[];
  secrets?: ClientSecret[];
  requiredAppRoles?: string[];
  requiredScopes?: string[];
  grantedAppRoles: string[];
  adminConsentedScopes: string[];
  userConsents: Array<[string, string[]]>;
}

interface FolderState {
  no: number;
  displayName: string;
  seeded: number;
  nextIndex: number;
  deleted: number[];
  created: number[];
  stored: Array<[number, StoredContact]>;
  sharedWith: string[];
  syncValidAfter: number;
  /** null: left out (too large); this folder's delta tokens from before the restart answer 410 */
  log: { seq: number[]; index: number[]; removed: boolean[] } | null;
}

/**
 * Mailboxes: the seed configuration (seeded contacts are generated again from it) and only the
 * mailboxes that differ from it (created, changed or deleted contacts, folders, sharing,
 * members). A state of 1,000,000 seeded contacts with a few changes stays small.
 */
interface MailboxesState {
  config: MailboxSeedConfig;
  shared: string[];
  seq: number;
  syncValidAfter: number;
  boxes: Array<{
    userId: string;
    ordinal: number;
    shared: boolean;
    members: string[];
    nextFolderNo: number;
    folders: FolderState[];
  }>;
}

interface TenantState {
  id: string;
  displayName: string;
  initialDomain: string;
  defaultDomain: string;
  seq: number;
  nextOrdinal: number;
  users: Array<{ id: string; ordinal: number; p: Props; isAdmin: boolean; lastLog: number }>;
  groups: Array<{ id: string; ordinal: number; p: Props; members: string[]; lastLog: number }>;
  apps: AppState[];
  /** null: left out (too large); tokens issued before the restart are then refused. */
  changeLogs: { users: LogState; groups: LogState } | null;
  /** absent in files written before mailboxes existed: no contacts then */
  mailboxes?: MailboxesState;
}

export interface SandboxState {
  version: number;
  savedAt: string;
  /** The port the sandbox listened on (a restarted demo asks for it again: clients keep their URLs). */
  port?: number;
  /** What `SandboxInfo` reports: the first directory and its gateway app. */
  primary: { tenantId: string; clientId: string; clientSecret: string };
  tenants: TenantState[];
  refreshTokens: Array<[string, RefreshGrant]>;
}

export interface LoadedState {
  tenants: Tenant[];
  primary: SandboxState['primary'];
  refreshTokens: Map<string, RefreshGrant>;
  /** Whether the delta change logs were left out (tokens from before are refused). */
  changeLogsDropped: boolean;
}

function logState(log: ChangeLog): LogState {
  return {
    seq: log.seq,
    ids: log.ids,
    masks: log.masks,
    flags: log.flags,
    prev: log.prev,
    next: log.next,
    times: log.times,
    ops: [...log.ops.entries()],
  };
}

function restoreLog(log: ChangeLog, s: LogState): void {
  log.seq.push(...s.seq);
  log.ids.push(...s.ids);
  log.masks.push(...s.masks);
  log.flags.push(...s.flags);
  log.prev.push(...s.prev);
  log.next.push(...s.next);
  log.times.push(...s.times);
  for (const [idx, ops] of s.ops) log.ops.set(idx, ops);
}

function snapshotMailboxes(store: MailboxStore, keepLogs: boolean): MailboxesState {
  return {
    config: store.config,
    shared: [...store.sharedMailboxes],
    seq: store.seq,
    syncValidAfter: store.syncValidAfter,
    boxes: store.touchedMailboxes().map((b) => ({
      userId: b.userId,
      ordinal: b.ordinal,
      shared: b.shared,
      members: [...b.members],
      nextFolderNo: b.nextFolderNo,
      folders: [...b.folders.values()].map((f) => ({
        no: f.no,
        displayName: f.displayName,
        seeded: f.seeded,
        nextIndex: f.nextIndex,
        deleted: [...f.deleted],
        created: f.created,
        stored: [...f.stored.entries()],
        sharedWith: [...f.sharedWith],
        syncValidAfter: f.syncValidAfter,
        log: keepLogs ? { seq: f.log.seq, index: f.log.index, removed: f.log.removed } : null,
      })),
    })),
  };
}

function mailboxLogEntries(store: MailboxStore): number {
  let n = 0;
  for (const b of store.touchedMailboxes()) for (const f of b.folders.values()) n += f.log.length;
  return n;
}

function restoreMailboxes(store: MailboxStore, s: MailboxesState, now: number): void {
  store.configure(s.config, generateContact);
  for (const id of s.shared) store.sharedMailboxes.add(id);
  store.seq = s.seq;
  store.syncValidAfter = s.syncValidAfter;
  for (const b of s.boxes) {
    const folders = new Map<number, ReturnType<MailboxStore['newFolder']>>();
    for (const fs of b.folders) {
      const f = store.newFolder(fs.no, fs.displayName, fs.seeded);
      f.nextIndex = fs.nextIndex;
      for (const d of fs.deleted) f.deleted.add(d);
      f.created.push(...fs.created);
      for (const [i, c] of fs.stored) f.stored.set(i, c);
      for (const u of fs.sharedWith) f.sharedWith.add(u);
      f.syncValidAfter = fs.syncValidAfter;
      if (fs.log) {
        for (let i = 0; i < fs.log.seq.length; i++) {
          f.log.append(fs.log.seq[i] as number, fs.log.index[i] as number, fs.log.removed[i] as boolean);
        }
      } else {
        f.syncValidAfter = now; // its tokens cannot be served: 410, then a full read
      }
      folders.set(f.no, f);
    }
    store.adopt({
      userId: b.userId,
      ordinal: b.ordinal,
      shared: b.shared,
      members: new Set(b.members),
      folders,
      nextFolderNo: b.nextFolderNo,
      touched: true,
    });
  }
}

/** The state as a JSON-ready object. */
export function snapshotState(
  tenants: Iterable<Tenant>,
  primary: SandboxState['primary'],
  refreshTokens: Map<string, RefreshGrant>,
  options: { changeLogLimit?: number; now?: number; port?: number } = {},
): SandboxState {
  const now = options.now ?? Date.now();
  const limit = options.changeLogLimit ?? DEFAULT_CHANGE_LOG_LIMIT;
  const list = [...tenants];
  let logEntries = 0;
  for (const t of list) logEntries += t.userLog.length + t.groupLog.length;
  const keepLogs = logEntries <= limit;
  let mailboxEntries = 0;
  for (const t of list) mailboxEntries += mailboxLogEntries(t.mailboxes);
  const keepMailboxLogs = mailboxEntries <= limit;
  const seenApps = new Map<string, { tenantId: string; app: AppRegistration }>();
  const out: TenantState[] = list.map((t) => ({
    id: t.id,
    displayName: t.displayName,
    initialDomain: t.initialDomain,
    defaultDomain: t.defaultDomain,
    seq: t.seq,
    nextOrdinal: t.nextOrdinal,
    users: t.users.map((u) => ({
      id: u.id,
      ordinal: u.ordinal,
      p: u.p,
      isAdmin: u.isAdmin,
      lastLog: keepLogs ? u.lastLog : -1,
    })),
    groups: t.groups.map((g) => ({
      id: g.id,
      ordinal: g.ordinal,
      p: g.p,
      members: [...g.members],
      lastLog: keepLogs ? g.lastLog : -1,
    })),
    apps: [...t.apps.values()].map((a) => {
      const earlier = seenApps.get(a.appId);
      const shared = earlier && earlier.app.secrets === a.secrets;
      if (!earlier) seenApps.set(a.appId, { tenantId: t.id, app: a });
      return {
        appId: a.appId,
        objectId: a.objectId,
        servicePrincipalId: a.servicePrincipalId,
        displayName: a.displayName,
        ...(shared
          ? { sharedFrom: earlier.tenantId }
          : {
              redirectUris: a.redirectUris,
              secrets: a.secrets,
              requiredAppRoles: a.requiredAppRoles,
              requiredScopes: a.requiredScopes,
            }),
        grantedAppRoles: [...a.grantedAppRoles],
        adminConsentedScopes: [...a.adminConsentedScopes],
        userConsents: [...a.userConsents.entries()].map(([user, scopes]) => [user, [...scopes]]),
      };
    }),
    changeLogs: keepLogs ? { users: logState(t.userLog), groups: logState(t.groupLog) } : null,
    mailboxes: snapshotMailboxes(t.mailboxes, keepMailboxLogs),
  }));
  return {
    version: STATE_VERSION,
    savedAt: new Date(now).toISOString(),
    ...(options.port ? { port: options.port } : {}),
    primary,
    tenants: out,
    refreshTokens: [...refreshTokens.entries()].filter(([, g]) => g.expiresAt > now),
  };
}

/** Directories and refresh tokens made again from a state; throws on a malformed one. */
export function restoreState(state: SandboxState, now = Date.now()): LoadedState {
  const tenants: Tenant[] = [];
  const byId = new Map<string, Tenant>();
  let changeLogsDropped = false;
  for (const s of state.tenants) {
    const t = new Tenant(s.id, s.displayName, s.initialDomain, s.defaultDomain);
    for (const u of s.users) t.seedUser(u.id, u.p, u.isAdmin).ordinal = u.ordinal;
    for (const g of s.groups) t.seedGroup(g.id, g.p).ordinal = g.ordinal;
    for (const g of s.groups) {
      const rec = t.groupsById.get(g.id);
      if (rec) for (const m of g.members) t.seedMember(rec, m);
    }
    t.nextOrdinal = s.nextOrdinal;
    t.seq = s.seq;
    if (s.changeLogs) {
      restoreLog(t.userLog, s.changeLogs.users);
      restoreLog(t.groupLog, s.changeLogs.groups);
      for (const u of s.users) (t.usersById.get(u.id) as { lastLog: number }).lastLog = u.lastLog;
      for (const g of s.groups) (t.groupsById.get(g.id) as { lastLog: number }).lastLog = g.lastLog;
    } else {
      // Graph answers a token it can no longer serve with 400 syncStateNotFound: a full read follows.
      t.deltaTokensValidAfter = now;
      changeLogsDropped = true;
    }
    if (s.mailboxes) restoreMailboxes(t.mailboxes, s.mailboxes, now);
    for (const a of s.apps) {
      const home = a.sharedFrom ? byId.get(a.sharedFrom)?.apps.get(a.appId) : undefined;
      if (a.sharedFrom && !home) throw new Error(`app ${a.appId} is shared from an unknown directory`);
      t.apps.set(a.appId, {
        appId: a.appId,
        objectId: a.objectId,
        servicePrincipalId: a.servicePrincipalId,
        displayName: a.displayName,
        redirectUris: home ? home.redirectUris : (a.redirectUris ?? []),
        secrets: home ? home.secrets : (a.secrets ?? []),
        requiredAppRoles: home ? home.requiredAppRoles : (a.requiredAppRoles ?? []),
        requiredScopes: home ? home.requiredScopes : (a.requiredScopes ?? []),
        grantedAppRoles: new Set(a.grantedAppRoles),
        adminConsentedScopes: new Set(a.adminConsentedScopes),
        userConsents: new Map(a.userConsents.map(([user, scopes]) => [user, new Set(scopes)])),
      });
    }
    tenants.push(t);
    byId.set(t.id, t);
  }
  if (!byId.has(state.primary.tenantId)) throw new Error('the primary directory is missing');
  return {
    tenants: [
      byId.get(state.primary.tenantId) as Tenant,
      ...tenants.filter((t) => t.id !== state.primary.tenantId),
    ],
    primary: state.primary,
    refreshTokens: new Map(state.refreshTokens),
    changeLogsDropped,
  };
}

/**
 * Reads a state file. `null` with no reason: there is none (seed). `null` with a reason: it
 * could not be used (seed, and say why).
 */
export function readStateFile(file: string): { state: LoadedState | null; reason?: string } {
  if (!existsSync(file)) return { state: null };
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    return { state: null, reason: `unreadable JSON (${(e as Error).message})` };
  }
  const version = (parsed as { version?: unknown } | null)?.version;
  if (version !== STATE_VERSION) {
    return {
      state: null,
      reason: `version ${JSON.stringify(version)}, this sandbox reads version ${STATE_VERSION}`,
    };
  }
  try {
    return { state: restoreState(parsed as SandboxState) };
  } catch (e) {
    return { state: null, reason: `malformed state (${(e as Error).message})` };
  }
}

/** The port a state file says its sandbox listened on, if there is a readable one. */
export function savedSandboxPort(file: string): number | undefined {
  try {
    const port = (JSON.parse(readFileSync(file, 'utf8')) as { port?: unknown }).port;
    return typeof port === 'number' && Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined;
  } catch {
    return undefined;
  }
}

/** Writes the state atomically (temporary file, then rename), readable by the owner only. */
export function writeStateFile(file: string, state: SandboxState): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    writeFileSync(tmp, JSON.stringify(state), { mode: 0o600 });
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Saves the state some time after the last change (`schedule`), and at once on `flush`
 * (close). Saves run one at a time; a failed save is logged, never thrown at a request.
 */
export class StateSaver {
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly file: string,
    private readonly snapshot: () => SandboxState,
    private readonly debounceMs = 500,
    private readonly log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  ) {}

  schedule(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.save();
    }, this.debounceMs);
    this.timer.unref();
  }

  save(): void {
    try {
      writeStateFile(this.file, this.snapshot());
    } catch (e) {
      this.log(`sandbox: state not saved to ${this.file}: ${(e as Error).message}`);
    }
  }

  /** Saves now (pending or not) and stops scheduling. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.save();
  }
}
