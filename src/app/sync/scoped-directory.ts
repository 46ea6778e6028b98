import type { DirectoryGroup, DirectoryUser } from '../../domain/directory.types.js';
import {
  type DirectorySnapshot,
  mergeDirectoryDelta,
  withoutStaleTransitive,
} from '../../domain/directory-delta.js';
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
  pending: { users: readonly string[]; groups: readonly string[] },
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

  // The rows the delta rounds touch, as stored, then the rounds applied to them.
  const userIds = new Set([...userChanges.map((c) => c.id), ...pending.users]);
  const groupIds = new Set([...groupChanges.map((c) => c.id), ...pending.groups]);
  await Promise.all([loadUsers(userIds), loadFlat(groupIds)]);
  const before = new Map(groups);
  const merged = mergeDirectoryDelta({ users, groups }, { users: userChanges, groups: groupChanges }, now);
  users = merged.snapshot.users as Map<string, DirectoryUser>;
  groups = merged.snapshot.groups as Map<string, DirectoryGroup>;
  membershipChanged = merged.membershipChanged;

  if (range?.type === 'BY_GROUPS') {
    // U1: a user enters or leaves the range only through a range group's direct members
    // (nested ranges with membership changes are planned in full, above).
    const rangeIds = new Set(range.groupIds);
    const moved = new Set<string>();
    for (const change of groupChanges) {
      if (!rangeIds.has(change.id)) continue;
      for (const id of before.get(change.id)?.memberUserIds ?? []) moved.add(id);
      for (const id of groups.get(change.id)?.memberUserIds ?? []) moved.add(id);
    }
    for (const id of moved) userIds.add(id);
    await loadUsers(moved);
    await loadGroups(rangeIds, nestedRange);
  }
  return {
    snapshot: { users, groups },
    userIds,
    groupIds,
    groupChanges: groupChanges.length > 0,
    loadGroups,
  };
}
