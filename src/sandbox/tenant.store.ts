import { randomBytes, randomUUID } from 'node:crypto';
import {
  CHANGE_CREATED,
  CHANGE_HARD_DELETED,
  CHANGE_MEMBERS,
  CHANGE_RESTORED,
  CHANGE_SOFT_DELETED,
  type Chained,
  ChangeLog,
  type MemberOp,
} from './change.log.js';
import {
  COLLECTION_VALUED,
  GROUP_BITS,
  GROUP_PROPERTIES,
  GROUP_WRITABLE,
  mergeExtensionAttributes,
  USER_BITS,
  USER_PROPERTIES,
  USER_WRITABLE,
} from './directory.schema.js';
import { MailboxStore } from './mailbox.store.js';
import { SandboxError } from './sandbox.error.js';

/**
 * The sandbox tenant: users, groups, app registrations, consents, and the change logs
 * that delta queries read. Everything is in memory; the seed makes it again on start.
 *
 * Property values: `undefined` (absent key) means "never set", `null` means "cleared".
 * GET answers both as null; delta leaves never-set properties out, as Graph does
 * (https://learn.microsoft.com/graph/api/user-delta, "If the property has never been set
 * before it will not be included in the response at all").
 */
export type Props = Record<string, unknown>;

export interface UserRecord extends Chained {
  ordinal: number;
  p: Props;
  /** Global Administrator: may consent for the organisation. */
  isAdmin: boolean;
}

export interface GroupRecord extends Chained {
  ordinal: number;
  p: Props;
  /** Direct members (user and group ids), including soft-deleted users (hidden on read). */
  members: Set<string>;
}

export interface ClientSecret {
  keyId: string;
  displayName: string;
  hint: string;
  secretText: string;
  startDateTime: string;
  endDateTime: string;
}

export interface AppRegistration {
  appId: string;
  objectId: string;
  servicePrincipalId: string;
  displayName: string;
  redirectUris: string[];
  secrets: ClientSecret[];
  /** Application permissions (app roles) the registration asks for. */
  requiredAppRoles: string[];
  /** Delegated permissions the registration asks for. */
  requiredScopes: string[];
  /** App roles an admin granted (client credentials tokens carry these as `roles`). */
  grantedAppRoles: Set<string>;
  /** Delegated permissions an admin granted for every user of the organisation. */
  adminConsentedScopes: Set<string>;
  /** Delegated permissions each user consented to for themself. */
  userConsents: Map<string, Set<string>>;
}

export type Collection = 'users' | 'groups';

/**
 * One recorded change of a user or group, as change notifications see it: creation, any
 * update, soft deletion and restore are `updated`; deletion for good is `deleted`
 * (https://learn.microsoft.com/graph/change-notifications-overview#supported-resources).
 * Membership changes are `updated` changes of the group.
 */
export interface DirectoryChange {
  collection: Collection;
  id: string;
  changeType: 'updated' | 'deleted';
  /** the tenant change sequence of this change */
  seq: number;
  /** when it happened (ms) */
  at: number;
}

function nowIso(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function same(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => v === b[i]);
  if (a && b && typeof a === 'object' && typeof b === 'object')
    return JSON.stringify(a) === JSON.stringify(b);
  return a === b;
}

/** A user property value as stored: complex properties are merged as Graph merges them. */
function userValue(k: string, v: unknown, current: unknown): unknown {
  if (k !== 'onPremisesExtensionAttributes') return v;
  try {
    return mergeExtensionAttributes(current, v);
  } catch (e) {
    throw new SandboxError(400, 'Request_BadRequest', (e as Error).message);
  }
}

function byOrdinal<T extends { ordinal: number }>(list: T[], ordinal: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid] as T).ordinal < ordinal) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class Tenant {
  readonly users: UserRecord[] = [];
  readonly usersById = new Map<string, UserRecord>();
  readonly usersByUpn = new Map<string, UserRecord>();
  readonly groups: GroupRecord[] = [];
  readonly groupsById = new Map<string, GroupRecord>();
  /** member id → ids of the groups it is a direct member of. */
  readonly memberOf = new Map<string, Set<string>>();
  readonly apps = new Map<string, AppRegistration>();
  readonly userLog = new ChangeLog();
  readonly groupLog = new ChangeLog();
  /** Last change sequence handed out. Seeded objects sit at 0. */
  seq = 0;
  /** Delta and skip tokens issued before this time (ms) are refused as expired. */
  deltaTokensValidAfter = 0;
  /** The error code an expired token gets: Graph documents `syncStateNotFound`, and has been seen answering `SyncStateNotFound`. */
  deltaExpiredCode = 'syncStateNotFound';
  /** Delta and skip tokens issued before this time (ms) answer 410 Gone (Graph's "synchronization reset"). */
  deltaTokensGoneBefore = 0;
  /** Called after every recorded change (the change-notification dispatcher listens here). */
  readonly changeListeners: Array<(change: DirectoryChange) => void> = [];
  /** Ordinal the next created user or group gets (creation order; kept by the state file). */
  nextOrdinal = 1;
  /** Exchange mailboxes: contact folders, contacts, sharing, shared mailboxes (mailbox.store.ts). */
  readonly mailboxes = new MailboxStore();

  constructor(
    readonly id: string,
    readonly displayName: string,
    readonly initialDomain: string,
    readonly defaultDomain: string,
  ) {}

  // ---------------------------------------------------------------- lookups

  /** Live users; counted again only after a change (Graph asks on every request, for the throttling limit). */
  activeUserCount(): number {
    const c = this.activeUsers;
    if (c && c.seq === this.seq && c.length === this.users.length) return c.count;
    let count = 0;
    for (const u of this.users) if (!u.p.deletedDateTime) count++;
    this.activeUsers = { seq: this.seq, length: this.users.length, count };
    return count;
  }
  private activeUsers: { seq: number; length: number; count: number } | null = null;

  /** A user by object id or userPrincipalName (any state). */
  findUser(idOrUpn: string): UserRecord | undefined {
    return this.usersById.get(idOrUpn) ?? this.usersByUpn.get(idOrUpn.toLowerCase());
  }

  activeUser(idOrUpn: string): UserRecord | undefined {
    const u = this.findUser(idOrUpn);
    return u && !u.p.deletedDateTime ? u : undefined;
  }

  activeGroup(id: string): GroupRecord | undefined {
    const g = this.groupsById.get(id);
    return g && !g.p.deletedDateTime ? g : undefined;
  }

  /** Index in `users` of the first user whose ordinal is greater than `ordinal`. */
  userIndexAfter(ordinal: number): number {
    return byOrdinal(this.users, ordinal + 1);
  }

  groupIndexAfter(ordinal: number): number {
    return byOrdinal(this.groups, ordinal + 1);
  }

  /** Whether a directory object id is a live (not soft-deleted) member that reads may show. */
  isVisibleMember(id: string): boolean {
    const u = this.usersById.get(id);
    if (u) return !u.p.deletedDateTime;
    const g = this.groupsById.get(id);
    return !!g && !g.p.deletedDateTime;
  }

  visibleMembers(group: GroupRecord): string[] {
    const out: string[] = [];
    for (const id of group.members) if (this.isVisibleMember(id)) out.push(id);
    return out;
  }

  /** Users and groups reachable through nested membership, each once. */
  transitiveMembers(group: GroupRecord): string[] {
    const seen = new Set<string>([group.id]);
    const out: string[] = [];
    const queue: GroupRecord[] = [group];
    while (queue.length > 0) {
      const g = queue.shift() as GroupRecord;
      for (const id of g.members) {
        if (seen.has(id) || !this.isVisibleMember(id)) continue;
        seen.add(id);
        out.push(id);
        const child = this.groupsById.get(id);
        if (child) queue.push(child);
      }
    }
    return out;
  }

  groupsOf(memberId: string, transitive: boolean): string[] {
    const out: string[] = [];
    const seen = new Set<string>();
    const queue = [memberId];
    while (queue.length > 0) {
      const id = queue.shift() as string;
      for (const gid of this.memberOf.get(id) ?? []) {
        if (seen.has(gid) || !this.activeGroup(gid)) continue;
        seen.add(gid);
        out.push(gid);
        if (transitive) queue.push(gid);
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- seeding (no change log)

  seedUser(id: string, p: Props, isAdmin = false): UserRecord {
    const u: UserRecord = { id, ordinal: this.nextOrdinal++, p, isAdmin, lastLog: -1 };
    this.users.push(u);
    this.usersById.set(id, u);
    this.usersByUpn.set(String(p.userPrincipalName).toLowerCase(), u);
    return u;
  }

  seedGroup(id: string, p: Props): GroupRecord {
    const g: GroupRecord = { id, ordinal: this.nextOrdinal++, p, members: new Set(), lastLog: -1 };
    this.groups.push(g);
    this.groupsById.set(id, g);
    return g;
  }

  seedMember(group: GroupRecord, memberId: string): void {
    if (group.members.has(memberId)) return;
    group.members.add(memberId);
    let set = this.memberOf.get(memberId);
    if (!set) {
      set = new Set();
      this.memberOf.set(memberId, set);
    }
    set.add(group.id);
  }

  // ---------------------------------------------------------------- change recording

  private touch(collection: Collection, obj: Chained, mask: number, flags: number, ops?: MemberOp[]): void {
    this.seq++;
    (collection === 'users' ? this.userLog : this.groupLog).append(obj, this.seq, mask, flags, ops);
    if (this.changeListeners.length === 0) return;
    const change: DirectoryChange = {
      collection,
      id: obj.id,
      changeType: flags & CHANGE_HARD_DELETED ? 'deleted' : 'updated',
      seq: this.seq,
      at: Date.now(),
    };
    for (const listener of this.changeListeners) listener(change);
  }

  /** Records membership changes on every group that holds `memberId`. */
  private touchParents(memberId: string, added: boolean, isGroup: boolean): void {
    for (const gid of this.memberOf.get(memberId) ?? []) {
      const g = this.groupsById.get(gid);
      if (g && !g.p.deletedDateTime) this.touch('groups', g, 0, CHANGE_MEMBERS, [[memberId, added, isGroup]]);
    }
  }

  // ---------------------------------------------------------------- users

  createUser(input: Props & { isAdmin?: boolean }): UserRecord {
    const { isAdmin, ...rest } = input;
    const upn = String(rest.userPrincipalName ?? '').trim();
    if (!upn?.includes('@'))
      throw new SandboxError(400, 'Request_BadRequest', 'userPrincipalName is required');
    if (this.usersByUpn.has(upn.toLowerCase())) {
      throw new SandboxError(
        400,
        'Request_BadRequest',
        'Another object with the same value for property userPrincipalName already exists.',
      );
    }
    if (!rest.displayName) throw new SandboxError(400, 'Request_BadRequest', 'displayName is required');
    const p: Props = {};
    for (const [k, v] of Object.entries(rest)) {
      if (!USER_WRITABLE.has(k))
        throw new SandboxError(400, 'Request_BadRequest', `Property '${k}' cannot be set`);
      if (v !== undefined)
        p[k] = COLLECTION_VALUED.has(k) && Array.isArray(v) ? [...v] : userValue(k, v, undefined);
    }
    p.accountEnabled ??= true;
    p.userType ??= 'Member';
    p.mailNickname ??= upn.split('@')[0];
    p.businessPhones ??= [];
    p.createdDateTime = nowIso();
    const u = this.seedUser(rest.id && typeof rest.id === 'string' ? rest.id : randomUUID(), p, !!isAdmin);
    let mask = 0;
    for (const k of Object.keys(p)) mask |= USER_BITS.get(k) ?? 0;
    this.touch('users', u, mask, CHANGE_CREATED);
    return u;
  }

  /** Sets properties; returns the names that changed. `null` clears a property. */
  updateUser(idOrUpn: string, patch: Props): string[] {
    const u = this.activeUser(idOrUpn);
    if (!u) throw notFound(idOrUpn);
    const changed: string[] = [];
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) continue;
      if (!USER_WRITABLE.has(k))
        throw new SandboxError(400, 'Request_BadRequest', `Property '${k}' cannot be set`);
      const value = userValue(k, v, u.p[k]);
      if (same(u.p[k], value)) continue;
      if (k === 'userPrincipalName') {
        const upn = String(v);
        const holder = this.usersByUpn.get(upn.toLowerCase());
        if (holder && holder !== u) {
          throw new SandboxError(
            400,
            'Request_BadRequest',
            'Another object with the same value for property userPrincipalName already exists.',
          );
        }
        this.usersByUpn.delete(String(u.p.userPrincipalName).toLowerCase());
        this.usersByUpn.set(upn.toLowerCase(), u);
      }
      u.p[k] = Array.isArray(value) ? [...value] : value;
      changed.push(k);
    }
    if (changed.length > 0) {
      let mask = 0;
      for (const k of changed) mask |= USER_BITS.get(k) ?? 0;
      this.touch('users', u, mask, 0);
    }
    return changed;
  }

  /** Moves a user to the recycle bin (restorable for 30 days in Entra). */
  softDeleteUser(idOrUpn: string): UserRecord {
    const u = this.activeUser(idOrUpn);
    if (!u) throw notFound(idOrUpn);
    u.p.deletedDateTime = nowIso();
    this.touch('users', u, USER_BITS.get('deletedDateTime') ?? 0, CHANGE_SOFT_DELETED);
    this.touchParents(u.id, false, false);
    return u;
  }

  restoreUser(id: string): UserRecord {
    const u = this.usersById.get(id);
    if (!u?.p.deletedDateTime) throw notFound(id);
    const holder = this.usersByUpn.get(String(u.p.userPrincipalName).toLowerCase());
    if (holder && holder !== u)
      throw new SandboxError(400, 'Request_BadRequest', 'userPrincipalName is in use');
    u.p.deletedDateTime = null;
    this.touch('users', u, USER_BITS.get('deletedDateTime') ?? 0, CHANGE_RESTORED);
    this.touchParents(u.id, true, false);
    return u;
  }

  /** Deletes a user for good (from the recycle bin, or at once when still active). */
  hardDeleteUser(id: string): void {
    const u = this.findUser(id);
    if (!u) throw notFound(id);
    if (!u.p.deletedDateTime) this.touchParents(u.id, false, false);
    this.touch('users', u, 0, CHANGE_HARD_DELETED);
    for (const gid of this.memberOf.get(u.id) ?? []) this.groupsById.get(gid)?.members.delete(u.id);
    this.memberOf.delete(u.id);
    this.usersById.delete(u.id);
    if (this.usersByUpn.get(String(u.p.userPrincipalName).toLowerCase()) === u) {
      this.usersByUpn.delete(String(u.p.userPrincipalName).toLowerCase());
    }
    const idx = byOrdinal(this.users, u.ordinal);
    if (this.users[idx] === u) this.users.splice(idx, 1);
    for (const app of this.apps.values()) app.userConsents.delete(u.id);
    this.mailboxes.drop(u.id);
  }

  // ---------------------------------------------------------------- groups

  createGroup(input: Props & { members?: string[] }): GroupRecord {
    const { members, ...rest } = input;
    if (!rest.displayName) throw new SandboxError(400, 'Request_BadRequest', 'displayName is required');
    const p: Props = {};
    for (const [k, v] of Object.entries(rest)) {
      if (k === 'id') continue;
      if (!GROUP_WRITABLE.has(k))
        throw new SandboxError(400, 'Request_BadRequest', `Property '${k}' cannot be set`);
      if (v !== undefined) p[k] = Array.isArray(v) ? [...v] : v;
    }
    const unified = Array.isArray(p.groupTypes) && p.groupTypes.includes('Unified');
    p.groupTypes ??= [];
    p.mailEnabled ??= unified;
    p.securityEnabled ??= !unified;
    p.mailNickname ??= String(p.displayName)
      .normalize('NFD')
      .replace(/[^A-Za-z0-9]/g, '')
      .slice(0, 40);
    if (p.mailEnabled && p.mail === undefined) p.mail = `${p.mailNickname}@${this.defaultDomain}`;
    if (unified) p.visibility ??= 'Public';
    p.createdDateTime = nowIso();
    p.renewedDateTime = p.createdDateTime;
    p.securityIdentifier = `S-1-12-1-${randomBytes(4).readUInt32LE()}-${randomBytes(4).readUInt32LE()}`;
    const id = typeof rest.id === 'string' ? rest.id : randomUUID();
    // One request (POST /groups with members@odata.bind, https://learn.microsoft.com/graph/api/
    // group-post-groups, example 2): a member it refuses fails the request, and no group is left
    // behind. One left behind without its change record would be in a full read but never in a
    // delta round, which Graph never does (issue 16's property test found it).
    const draft: GroupRecord = { id, ordinal: -1, p, members: new Set(), lastLog: -1 };
    for (const m of members ?? []) this.checkMember(draft, m);
    const g = this.seedGroup(id, p);
    let mask = 0;
    for (const k of Object.keys(p)) mask |= GROUP_BITS.get(k) ?? 0;
    const ops: MemberOp[] = [];
    for (const m of members ?? []) {
      this.checkMember(g, m);
      this.seedMember(g, m);
      ops.push([m, true, this.groupsById.has(m)]);
    }
    this.touch('groups', g, mask, CHANGE_CREATED | (ops.length > 0 ? CHANGE_MEMBERS : 0), ops);
    return g;
  }

  updateGroup(id: string, patch: Props): string[] {
    const g = this.activeGroup(id);
    if (!g) throw notFound(id);
    const changed: string[] = [];
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) continue;
      if (!GROUP_WRITABLE.has(k))
        throw new SandboxError(400, 'Request_BadRequest', `Property '${k}' cannot be set`);
      if (same(g.p[k], v)) continue;
      g.p[k] = Array.isArray(v) ? [...v] : v;
      changed.push(k);
    }
    if (changed.length > 0) {
      let mask = 0;
      for (const k of changed) mask |= GROUP_BITS.get(k) ?? 0;
      this.touch('groups', g, mask, 0);
    }
    return changed;
  }

  /**
   * Deletes a group. Microsoft 365 groups go to the recycle bin (restorable); security
   * and distribution groups are deleted for good
   * (https://learn.microsoft.com/graph/api/group-delete).
   */
  deleteGroup(id: string, options: { permanent?: boolean } = {}): 'soft' | 'hard' {
    const g = this.groupsById.get(id);
    if (!g) throw notFound(id);
    const unified = Array.isArray(g.p.groupTypes) && g.p.groupTypes.includes('Unified');
    if (unified && !options.permanent && !g.p.deletedDateTime) {
      g.p.deletedDateTime = nowIso();
      this.touch('groups', g, GROUP_BITS.get('deletedDateTime') ?? 0, CHANGE_SOFT_DELETED);
      this.touchParents(g.id, false, true);
      return 'soft';
    }
    if (!g.p.deletedDateTime) this.touchParents(g.id, false, true);
    this.touch('groups', g, 0, CHANGE_HARD_DELETED);
    for (const pid of this.memberOf.get(g.id) ?? []) this.groupsById.get(pid)?.members.delete(g.id);
    this.memberOf.delete(g.id);
    for (const m of g.members) this.memberOf.get(m)?.delete(g.id);
    this.groupsById.delete(g.id);
    const idx = byOrdinal(this.groups, g.ordinal);
    if (this.groups[idx] === g) this.groups.splice(idx, 1);
    return 'hard';
  }

  restoreGroup(id: string): GroupRecord {
    const g = this.groupsById.get(id);
    if (!g?.p.deletedDateTime) throw notFound(id);
    g.p.deletedDateTime = null;
    this.touch('groups', g, GROUP_BITS.get('deletedDateTime') ?? 0, CHANGE_RESTORED);
    this.touchParents(g.id, true, true);
    return g;
  }

  private checkMember(g: GroupRecord, memberId: string): void {
    if (memberId === g.id)
      throw new SandboxError(400, 'Request_BadRequest', 'A group cannot be a member of itself.');
    const isUser = !!this.activeUser(memberId) && this.usersById.has(memberId);
    const child = this.activeGroup(memberId);
    if (!isUser && !child) throw notFound(memberId);
    if (child) {
      const unified = Array.isArray(g.p.groupTypes) && g.p.groupTypes.includes('Unified');
      if (unified) {
        throw new SandboxError(
          400,
          'Request_BadRequest',
          'Groups cannot be added as members of a Microsoft 365 group (nesting is not supported).',
        );
      }
      if (this.transitiveMembers(child).includes(g.id)) {
        throw new SandboxError(
          400,
          'Request_BadRequest',
          'Adding this member would create a membership cycle.',
        );
      }
    }
  }

  addMember(groupId: string, memberId: string): void {
    const g = this.activeGroup(groupId);
    if (!g) throw notFound(groupId);
    if (g.members.has(memberId)) {
      throw new SandboxError(
        400,
        'Request_BadRequest',
        "One or more added object references already exist for the following modified properties: 'members'.",
      );
    }
    this.checkMember(g, memberId);
    this.seedMember(g, memberId);
    this.touch('groups', g, 0, CHANGE_MEMBERS, [[memberId, true, this.groupsById.has(memberId)]]);
  }

  removeMember(groupId: string, memberId: string): void {
    const g = this.activeGroup(groupId);
    if (!g) throw notFound(groupId);
    if (!g.members.has(memberId)) throw notFound(memberId);
    g.members.delete(memberId);
    this.memberOf.get(memberId)?.delete(g.id);
    const visible = this.isVisibleMember(memberId);
    if (visible)
      this.touch('groups', g, 0, CHANGE_MEMBERS, [[memberId, false, this.groupsById.has(memberId)]]);
  }

  // ---------------------------------------------------------------- apps

  app(appId: string): AppRegistration {
    const a = this.apps.get(appId);
    if (!a) throw new SandboxError(404, 'Request_ResourceNotFound', `Application '${appId}' does not exist.`);
    return a;
  }
}

export function notFound(id: string): SandboxError {
  return new SandboxError(
    404,
    'Request_ResourceNotFound',
    `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
  );
}

export { GROUP_PROPERTIES, SandboxError, USER_PROPERTIES };
