import type { DirectoryGroup, DirectoryUser } from '../../domain/directory.types.js';
import {
  type DirectorySnapshot,
  mergeDirectoryDelta,
  withoutStaleTransitive,
} from '../../domain/directory-delta.js';
import { emailKey, extensionFieldsOf } from '../../domain/extension-fields.js';
import type { Store } from '../ports/store.port.js';
import type { SyncSettingsData } from '../ports/sync.port.js';
import type { DirectoryRead } from './directory-source.js';

/**
 * Issue 16: a delta run costs what changed. Instead of the whole stored snapshot, a delta run
 * whose PBX is as the last run left it (see `pendingSinceLastRun` in sync-run.ts) loads only
 * the snapshot rows it needs, by key: the users and groups the delta rounds touched, those
 * the last run could not sync (its FAIL items: they may succeed now), the users whose range
 * (U1 BY_GROUPS) a membership change moved, and the groups the planners look through (range
 * groups, nested groups). The planners then plan these objects only (their `scope`), against
 * the extensions and extension groups found by indexed lookups of the keys they claim.
 * The end state is the one a plan of every object would reach (test/integration/
 * sync-scoped.e2e.spec.ts checks it against full runs).
 */
export interface ScopedDirectory {
  /** The loaded part of the directory, with the delta rounds applied. */
  readonly snapshot: DirectorySnapshot;
  /** The users to plan (including ids the delta removed for good). */
  readonly userIds: ReadonlySet<string>;
  /** The groups to plan: changed or failed last time (the group kind may add more). */
  readonly groupIds: ReadonlySet<string>;
  /** True when the groups delta round changed anything. */
  readonly groupChanges: boolean;
  /**
   * Users the last run could not sync whose FAIL stands as it was, not planned again: their
   * report rows are copied from that run (`carried.from`). See `carriedFailures`.
   */
  readonly carried: { readonly from: string; readonly userIds: ReadonlySet<string> } | null;
  /** Loads the stored groups of `ids` not loaded yet (and, `nested`, every group below them). */
  loadGroups(ids: Iterable<string>, nested: boolean): Promise<void>;
}

/**
 * The scoped directory of a delta run, or null when this run must plan every object (a rule
 * whose range follows nested group membership, and group memberships changed).
 */
export async function scopedDirectory(
  store: Store,
  pbxId: string,
  read: DirectoryRead,
  settings: Pick<SyncSettingsData, 'userRule'>,
  pending: {
    users: readonly string[];
    groups: readonly string[];
    /** The run the failures are from, and those of its FAIL users that may be carried over. */
    claims?: { from: string; failures: ReadonlyMap<string, string> } | null;
    /**
     * The stored snapshot rows of `users`, when already loaded (issue 16: a run loads them side
     * by side with its Graph read); else they are loaded here.
     */
    stored?: ReadonlyMap<string, DirectoryUser>;
  },
  now: Date,
): Promise<ScopedDirectory | null> {
  const userChanges = read.users.changes ?? [];
  const groupChanges = read.groups.changes ?? [];
  const range = settings.userRule?.range;
  const nestedRange = settings.userRule?.includeNestedMembers ?? false;
  if (range?.type === 'BY_GROUPS' && nestedRange && groupChanges.length) return null;

  const knownUsers = new Set<string>();
  const knownGroups = new Set<string>();
  let users = new Map<string, DirectoryUser>();
  let groups = new Map<string, DirectoryGroup>();
  let membershipChanged = false;
  const loadUsers = async (ids: Iterable<string>) => {
    const missing = [...ids].filter((id) => !knownUsers.has(id));
    for (const id of missing) knownUsers.add(id);
    if (missing.length)
      for (const u of await store.sync.loadSnapshotUsers(pbxId, missing)) users.set(u.id, u);
  };
  const loadFlat = async (ids: Iterable<string>) => {
    const missing = [...ids].filter((id) => !knownGroups.has(id));
    for (const id of missing) knownGroups.add(id);
    if (!missing.length) return;
    for (const g of await store.sync.loadSnapshotGroups(pbxId, missing))
      groups.set(g.id, membershipChanged ? withoutStaleTransitive(g) : g);
  };
  const loadGroups = async (ids: Iterable<string>, nested: boolean) => {
    const seen = new Set<string>();
    let frontier = [...ids];
    while (frontier.length) {
      await loadFlat(frontier);
      const next: string[] = [];
      for (const id of frontier) {
        if (seen.has(id)) continue;
        seen.add(id);
        if (!nested) continue;
        for (const child of groups.get(id)?.memberGroupIds ?? []) if (!seen.has(child)) next.push(child);
      }
      frontier = next;
    }
  };

  if (pending.stored)
    for (const id of pending.users) {
      knownUsers.add(id);
      const stored = pending.stored.get(id);
      if (stored) users.set(id, stored);
    }
  // The rows the delta rounds touch, as stored, then the rounds applied to them.
  const userIds = new Set([...userChanges.map((c) => c.id), ...pending.users]);
  const groupIds = new Set([...groupChanges.map((c) => c.id), ...pending.groups]);
  await Promise.all([loadUsers(userIds), loadFlat(groupIds)]);
  const before = new Map(groups);
  const storedUsers = new Map(users);
  const merged = mergeDirectoryDelta({ users, groups }, { users: userChanges, groups: groupChanges }, now);
  users = merged.snapshot.users as Map<string, DirectoryUser>;
  groups = merged.snapshot.groups as Map<string, DirectoryGroup>;
  membershipChanged = merged.membershipChanged;

  const moved = new Set<string>();
  if (range?.type === 'BY_GROUPS') {
    // U1: a user enters or leaves the range only through a range group's direct members
    // (nested ranges with membership changes are planned in full, above).
    const rangeIds = new Set(range.groupIds);
    for (const change of groupChanges) {
      if (!rangeIds.has(change.id)) continue;
      for (const id of before.get(change.id)?.memberUserIds ?? []) moved.add(id);
      for (const id of groups.get(change.id)?.memberUserIds ?? []) moved.add(id);
    }
    for (const id of moved) userIds.add(id);
    await loadUsers(moved);
    await loadGroups(rangeIds, nestedRange);
  }
  const changed = new Set(userChanges.map((c) => c.id));
  const carried = carriedFailures(
    userIds,
    storedUsers,
    users,
    pending.claims,
    (id) => changed.has(id) || moved.has(id),
  );
  return {
    snapshot: { users, groups },
    userIds,
    groupIds,
    groupChanges: groupChanges.length > 0,
    carried,
    loadGroups,
  };
}

/**
 * Issue 16: of the users the last run could not sync, those whose FAIL a plan of every user
 * would give again, word for word, so that they are not looked up and planned again (their
 * report rows are copied): `claims` holds the last run's FAIL users whose reason is
 * DUPLICATE_EMAIL or INVALID_EXTENSION_NUMBER, and is given only when that run freed no email
 * and no number (no DELETE, RELEASE, ASSOCIATE, nor an UPDATE of an email or a number applied)
 * while the PBX is as it left it. Of these, a user is carried when this run's changes do not
 * touch it (nor move it in or out of the range) and, DUPLICATE_EMAIL, when no user planned now
 * claims its email, or claimed it before the changes (stored row): every other claimant of
 * that email failed with it and is carried too, and the extension holding it is as it was,
 * so its outcome and detail are unchanged. INVALID_EXTENSION_NUMBER depends on the user
 * alone. The carried users leave `userIds` and the loaded snapshot.
 */
function carriedFailures(
  userIds: Set<string>,
  stored: ReadonlyMap<string, DirectoryUser>,
  users: Map<string, DirectoryUser>,
  claims: { from: string; failures: ReadonlyMap<string, string> } | null | undefined,
  touched: (id: string) => boolean,
): ScopedDirectory['carried'] {
  if (!claims?.failures.size) return null;
  const candidates = new Set<string>();
  for (const [id] of claims.failures)
    if (userIds.has(id) && users.has(id) && !touched(id)) candidates.add(id);
  if (!candidates.size) return null;
  const keyOf = (u: DirectoryUser | undefined) => (u ? emailKey(extensionFieldsOf(u).email) : null);
  // The emails the users planned now claim, or claimed before this run's changes.
  const claimed = new Set<string>();
  for (const id of userIds) {
    if (candidates.has(id)) continue;
    for (const u of [stored.get(id), users.get(id)]) {
      const key = keyOf(u);
      if (key !== null) claimed.add(key);
    }
  }
  const carried = new Set<string>();
  for (const id of candidates) {
    if (claims.failures.get(id) === 'DUPLICATE_EMAIL') {
      const key = keyOf(users.get(id));
      if (key === null || claimed.has(key)) continue;
    }
    carried.add(id);
  }
  for (const id of carried) {
    userIds.delete(id);
    users.delete(id);
  }
  return carried.size ? { from: claims.from, userIds: carried } : null;
}
