import type { DirectoryGroup, DirectoryUser, GroupKind, UserType } from './directory.types.js';
import { runSteps, STEP, type Steps } from './steps.js';

/**
 * The directory as last read, kept between syncs so that a delta round can be merged into
 * it and the planners still see every user and group.
 */
export interface DirectorySnapshot {
  readonly users: ReadonlyMap<string, DirectoryUser>;
  readonly groups: ReadonlyMap<string, DirectoryGroup>;
}

export function createDirectorySnapshot(
  users: Iterable<DirectoryUser>,
  groups: Iterable<DirectoryGroup>,
): DirectorySnapshot {
  return runSteps(directorySnapshotSteps(users, groups));
}

/**
 * The same, in steps (a pause every STEP users, groups or memberships): at 100,000 users in
 * 5,000 groups it is 424,000 map operations, which held the event loop for tens of milliseconds.
 */
export function* directorySnapshotSteps(
  users: Iterable<DirectoryUser>,
  groups: Iterable<DirectoryGroup>,
): Steps<DirectorySnapshot> {
  let work = 0;
  const byUserId = new Map<string, DirectoryUser>();
  for (const user of users) {
    byUserId.set(user.id, user);
    if (++work % STEP === 0) yield;
  }
  const byGroupId = new Map<string, DirectoryGroup>();
  let pauseAt = work + STEP;
  for (const group of groups) {
    byGroupId.set(group.id, withUsersOwnIds(group, byUserId));
    work += 1 + group.memberUserIds.length;
    if (work >= pauseAt) {
      pauseAt = work + STEP;
      yield;
    }
  }
  return { users: byUserId, groups: byGroupId };
}

/**
 * The group with the same member ids, each the very string of its user's `id` where the user
 * is known: a read parses one string per membership (324,000 for 100,000 users in 5,000
 * groups), which the snapshot would otherwise hold beside the users' own for a whole run
 * (issue 16 item 3).
 */
function withUsersOwnIds(group: DirectoryGroup, users: ReadonlyMap<string, DirectoryUser>): DirectoryGroup {
  if (group.memberUserIds.length === 0) return group;
  const memberUserIds = group.memberUserIds.map((id) => users.get(id)?.id ?? id);
  return { ...group, memberUserIds };
}

/**
 * A changed user, domain-shaped. A property that is absent is unchanged (Graph
 * `Prefer: return=minimal`); `null` clears it. `properties` merge key by key (a `null`
 * value removes the key).
 */
export interface UserPatch {
  readonly displayName?: string | null;
  readonly givenName?: string | null;
  readonly surname?: string | null;
  readonly mail?: string | null;
  readonly userPrincipalName?: string | null;
  readonly mobilePhone?: string | null;
  readonly businessPhones?: readonly string[] | null;
  readonly jobTitle?: string | null;
  readonly department?: string | null;
  readonly accountEnabled?: boolean;
  readonly userType?: UserType;
  readonly properties?: Readonly<Record<string, unknown>>;
}

/** `removed`: Graph `@removed.reason` ('changed' = soft-deleted, 'deleted' = gone for good). */
export type UserDeltaRecord =
  | { readonly id: string; readonly removed: 'changed' | 'deleted' }
  | ({ readonly id: string; readonly removed?: undefined } & UserPatch);

/** One entry of Graph `members@delta`. */
export interface MemberDelta {
  readonly id: string;
  /** From `@odata.type`; members that are neither users nor groups are ignored. */
  readonly type: 'user' | 'group' | 'other';
  /** `@removed` present. */
  readonly removed?: boolean;
}

export type GroupDeltaRecord =
  | { readonly id: string; readonly removed: 'changed' | 'deleted' }
  | {
      readonly id: string;
      readonly removed?: undefined;
      readonly displayName?: string | null;
      readonly kind?: GroupKind;
      readonly membersDelta?: readonly MemberDelta[];
    };

export interface DirectoryDelta {
  readonly users?: readonly UserDeltaRecord[];
  readonly groups?: readonly GroupDeltaRecord[];
}

function blankUser(id: string): DirectoryUser {
  return {
    id,
    displayName: null,
    givenName: null,
    surname: null,
    mail: null,
    userPrincipalName: '',
    mobilePhone: null,
    businessPhones: [],
    jobTitle: null,
    department: null,
    accountEnabled: true,
    userType: 'Member',
    deletionState: 'PRESENT',
    deletedDateTime: null,
  };
}

function blankGroup(id: string): DirectoryGroup {
  return { id, displayName: '', kind: 'OTHER', memberUserIds: [], memberGroupIds: [] };
}

const TEXT_FIELDS = [
  'displayName',
  'givenName',
  'surname',
  'mail',
  'mobilePhone',
  'jobTitle',
  'department',
] as const satisfies readonly (keyof UserPatch & keyof DirectoryUser)[];

function patchUser(user: DirectoryUser, patch: UserPatch): DirectoryUser {
  const next: { -readonly [K in keyof DirectoryUser]: DirectoryUser[K] } = {
    ...user,
    deletionState: 'PRESENT',
    deletedDateTime: null,
  };
  for (const field of TEXT_FIELDS) {
    const value = patch[field];
    if (value !== undefined) next[field] = value;
  }
  if (patch.userPrincipalName !== undefined) next.userPrincipalName = patch.userPrincipalName ?? '';
  if (patch.businessPhones !== undefined) next.businessPhones = [...(patch.businessPhones ?? [])];
  if (patch.accountEnabled !== undefined) next.accountEnabled = patch.accountEnabled;
  if (patch.userType !== undefined) next.userType = patch.userType;
  if (patch.properties !== undefined) {
    const properties: Record<string, unknown> = { ...user.properties };
    for (const [key, value] of Object.entries(patch.properties)) {
      if (value === null) delete properties[key];
      else if (value !== undefined) properties[key] = value;
    }
    next.properties = properties;
  }
  return next;
}

function sorted(values: Iterable<string>): string[] {
  return [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Merges one delta round into a snapshot and returns the new snapshot (the old one is not
 * touched). Records apply in order, so a later record about the same object wins, and a
 * replayed record changes nothing more.
 *
 * - `removed: 'deleted'`: the object leaves the snapshot (absent = gone for good).
 * - `removed: 'changed'`: the object is soft-deleted, its data kept for a restore;
 *   `deletedDateTime` is kept if known, else set to `now` (when the gateway learnt of it).
 *   An object never seen before becomes a blank soft-deleted record.
 * - Otherwise the record is merged (absent = unchanged, null = cleared) and the object is
 *   present again (a restore). Unknown users start from a blank record (enabled Member).
 * - Group members: `membersDelta` adds and removes direct user and group members. When any
 *   membership changed, every group's `transitiveMemberUserIds` is dropped, as it may be stale;
 *   nested membership then comes from the closure over `memberGroupIds`.
 */
export function applyDirectoryDelta(
  snapshot: DirectorySnapshot,
  delta: DirectoryDelta,
  now: Date,
): DirectorySnapshot {
  return mergeDirectoryDelta(snapshot, delta, now).snapshot;
}

/**
 * `applyDirectoryDelta`, also saying whether any group membership changed (then every group's
 * `transitiveMemberUserIds` is stale, including those of groups a partial snapshot, issue 16,
 * loads only afterwards: see `withoutStaleTransitive`).
 */
export function mergeDirectoryDelta(
  snapshot: DirectorySnapshot,
  delta: DirectoryDelta,
  now: Date,
): { snapshot: DirectorySnapshot; membershipChanged: boolean } {
  const users = new Map(snapshot.users);
  for (const record of delta.users ?? []) {
    const existing = users.get(record.id);
    if (record.removed === 'deleted') {
      users.delete(record.id);
    } else if (record.removed === 'changed') {
      const base = existing ?? blankUser(record.id);
      users.set(record.id, {
        ...base,
        deletionState: 'SOFT_DELETED',
        deletedDateTime:
          base.deletionState === 'SOFT_DELETED' && base.deletedDateTime
            ? base.deletedDateTime
            : now.toISOString(),
      });
    } else {
      const { id: _id, removed: _removed, ...patch } = record;
      users.set(record.id, patchUser(existing ?? blankUser(record.id), patch));
    }
  }

  const groups = new Map(snapshot.groups);
  let membershipChanged = false;
  for (const record of delta.groups ?? []) {
    const existing = groups.get(record.id);
    if (record.removed !== undefined) {
      if (record.removed === 'deleted') groups.delete(record.id);
      else groups.set(record.id, { ...(existing ?? blankGroup(record.id)), deletionState: 'SOFT_DELETED' });
      if (existing) membershipChanged = true;
      continue;
    }
    const base = existing ?? blankGroup(record.id);
    const next: { -readonly [K in keyof DirectoryGroup]: DirectoryGroup[K] } = {
      ...base,
      deletionState: 'PRESENT',
    };
    if (base.deletionState === 'SOFT_DELETED') membershipChanged = true;
    if (record.displayName !== undefined) next.displayName = record.displayName ?? '';
    if (record.kind !== undefined) next.kind = record.kind;
    if (record.membersDelta && record.membersDelta.length > 0) {
      const userIds = new Set(base.memberUserIds);
      const groupIds = new Set(base.memberGroupIds ?? []);
      for (const member of record.membersDelta) {
        const target = member.type === 'user' ? userIds : member.type === 'group' ? groupIds : null;
        if (!target) continue;
        const had = target.has(member.id);
        if (member.removed) target.delete(member.id);
        else target.add(member.id);
        if (had === !!member.removed) membershipChanged = true;
      }
      next.memberUserIds = sorted(userIds);
      next.memberGroupIds = sorted(groupIds);
    }
    groups.set(record.id, next);
  }
  if (membershipChanged) {
    for (const [id, group] of groups) {
      if (group.transitiveMemberUserIds !== undefined) groups.set(id, withoutStaleTransitive(group));
    }
  }
  return { snapshot: { users, groups }, membershipChanged };
}

/** A group without its `transitiveMemberUserIds` (stale once a membership changed). */
export function withoutStaleTransitive(group: DirectoryGroup): DirectoryGroup {
  if (group.transitiveMemberUserIds === undefined) return group;
  const { transitiveMemberUserIds: _stale, ...rest } = group;
  return rest;
}
