import { type DeletionGuardOptions, guardDeletions } from './deletion-guard.policy.js';
import type { DirectoryGroup } from './directory.types.js';
import { createGroupRangePredicate, createMembershipResolver } from './directory-membership.js';
import { shorten } from './extension-fields.js';
import { LIMITS } from './extension-rules.js';
import { applyGroupLimitPolicy } from './group-limit.policy.js';
import type { PbxCapacity, PbxExtension, PbxExtensionGroup } from './pbx.types.js';
import { runSteps, STEP, type Steps } from './steps.js';
import { createPlan, groupItemKey, sortPlanItemSteps } from './sync-plan.js';
import type {
  GroupAssociateReason,
  GroupFailReason,
  GroupGoneReason,
  GroupPlanItem,
  GroupSyncPlan,
} from './sync-plan.types.js';
import type { GroupSyncRule } from './sync-rule.types.js';

/**
 * G1–G5: the group → extension group reconcile planner (pure).
 *
 * Matching: an extension group belongs to a directory group when it is SYNCED and its
 * `externalId` is the group's object id. There is no association for groups.
 *
 * | directory group                               | plan                                                 |
 * | --------------------------------------------- | ---------------------------------------------------- |
 * | gone (absent, soft- or hard-deleted)          | G2 on: DELETE GROUP_DELETED; off: RELEASE            |
 * | out of range (G1)                             | G2 on: DELETE OUT_OF_RANGE; off: RELEASE             |
 * | in range, synced                              | UPDATE (name and/or members) or nothing              |
 * | in range, not synced, an unsynced extension   | ASSOCIATE: taken over (synced again, name, members)  |
 * |   group kept its id (KEPT_GROUP_ID) or, never |                                                      |
 * |   synced, has its name (NAME_MATCH)           |                                                      |
 * | in range, not synced                          | CREATE                                               |
 *
 * G5 members: the synced extensions (source SYNCED, externalId = user id) of the group's
 * member users: direct members, or with `includeNestedMembers` transitive ones. Plan the
 * groups AFTER the user plan is applied, with the extensions as they are then, so that
 * extensions created in this run are members at once. Members that are not synced
 * extensions are removed (G4: the sync owns the member list).
 *
 * Names: an extension group name is unique on the PBX (compared case-insensitively). A
 * group claims its name when it is not already its extension group's; the claim succeeds
 * only when no current extension group holds the name and no other group in the plan claims
 * it, else every claimant FAILs DUPLICATE_NAME (the extension group, if any, is left as it
 * is). A blank name FAILs INVALID_NAME. A name longer than an extension group's (128
 * characters; Graph allows 256) is cut to it, and claimed as cut.
 */

export interface GroupSyncInput {
  readonly directory: { readonly groups: Iterable<DirectoryGroup> };
  readonly current: {
    readonly groups: Iterable<PbxExtensionGroup>;
    /** The extensions after this run's user plan was applied. */
    readonly extensions: Iterable<Pick<PbxExtension, 'id' | 'source' | 'externalId'>>;
  };
  readonly rule: GroupSyncRule;
  readonly capacity?: Pick<PbxCapacity, 'maxExtensionGroups'>;
  readonly now: Date;
  readonly deletionGuard?: DeletionGuardOptions;
  /**
   * Issue 16: a plan of some groups only (a delta run). `directory.groups` then holds the
   * groups of `scope` that still exist (and, for nested members, the groups below them), and
   * `current.extensions` at least the extensions of their member users; a synced extension
   * group of a group outside the scope only holds its name, never planned.
   */
  readonly scope?: ReadonlySet<string>;
}

/** What the group policies need of the PBX: its extension groups as they are, and its capacity. */
export interface GroupPolicyInput {
  readonly groups: readonly PbxExtensionGroup[];
  readonly capacity?: Pick<PbxCapacity, 'maxExtensionGroups'>;
  readonly deletionGuard?: DeletionGuardOptions;
}

/** The group policies (plan → plan): the deletion guard, then the 63-group limit (G3). */
export function applyGroupPolicies(diff: GroupSyncPlan, input: GroupPolicyInput): GroupSyncPlan {
  let synced = 0;
  for (const group of input.groups) if (group.source === 'SYNCED') synced++;
  const guarded = guardDeletions(diff, synced, input.deletionGuard);
  return applyGroupLimitPolicy(guarded, {
    currentGroups: input.groups.length,
    maxGroups: input.capacity?.maxExtensionGroups,
  });
}

/** The whole group plan: the diff (`planGroupChanges`), then the policies (`applyGroupPolicies`). */
export function planGroupSync(input: GroupSyncInput): GroupSyncPlan {
  const groups = [...input.current.groups];
  const diff = planGroupChanges({ ...input, current: { ...input.current, groups } });
  return applyGroupPolicies(diff, { groups, capacity: input.capacity, deletionGuard: input.deletionGuard });
}

const AMBIGUOUS = Symbol('held by more than one extension group');

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The extension group's name: the group's, trimmed and cut to what the PBX holds (Graph allows 256). */
function groupName(group: DirectoryGroup): string {
  return shorten(group.displayName.trim(), LIMITS.groupName);
}

function nameKey(name: string): string {
  return name.trim().toLowerCase();
}

/** What `wanted` adds to and removes from `current`; both sorted (by `<`); duplicates in `current` count once. */
function diffSorted(
  current: readonly string[],
  wanted: readonly string[],
): { added: string[]; removed: string[] } {
  const added: string[] = [];
  const removed: string[] = [];
  let i = 0;
  let j = 0;
  while (i < current.length || j < wanted.length) {
    if (i > 0 && i < current.length && current[i] === current[i - 1]) {
      i++;
    } else if (j >= wanted.length || (i < current.length && current[i] < wanted[j])) {
      removed.push(current[i++]);
    } else if (i >= current.length || wanted[j] < current[i]) {
      added.push(wanted[j++]);
    } else {
      i++;
      j++;
    }
  }
  return { added, removed };
}

interface Candidate {
  readonly group: DirectoryGroup;
  readonly own: PbxExtensionGroup | null;
  /** A retained (unsynced) extension group it takes over: by the id it kept, or by name. */
  target: { readonly group: PbxExtensionGroup; readonly reason: GroupAssociateReason } | null;
  readonly name: string;
  failure: { readonly reason: GroupFailReason; readonly detail: string } | null;
}

/** The diff alone, before any policy. */
export function planGroupChanges(input: GroupSyncInput): GroupSyncPlan {
  return runSteps(groupChangeSteps(input));
}

/** `planGroupChanges` in steps (it pauses every STEP extensions or members), for a caller that must not block. */
export function* groupChangeSteps(input: GroupSyncInput): Steps<GroupSyncPlan> {
  const { rule, now } = input;
  let work = 0;
  const groups = new Map<string, DirectoryGroup>();
  for (const group of input.directory.groups) groups.set(group.id, group);
  const inRange = createGroupRangePredicate(rule.range);
  const membersOf = createMembershipResolver(groups, rule.includeNestedMembers);

  const extensionOfUser = new Map<string, string>();
  for (const extension of input.current.extensions) {
    if (++work % STEP === 0) yield;
    if (extension.source !== 'SYNCED' || !extension.externalId) continue;
    const other = extensionOfUser.get(extension.externalId);
    if (other === undefined || extension.id < other) extensionOfUser.set(extension.externalId, extension.id);
  }

  const nameHolders = new Map<string, PbxExtensionGroup | typeof AMBIGUOUS>();
  const syncedByGroup = new Map<string, PbxExtensionGroup>();
  /** Unsynced extension groups that kept the id of the directory group they were synced from. */
  const keptByGroup = new Map<string, PbxExtensionGroup>();
  const duplicates: PbxExtensionGroup[] = [];
  for (const extensionGroup of input.current.groups) {
    const key = nameKey(extensionGroup.name);
    nameHolders.set(key, nameHolders.has(key) ? AMBIGUOUS : extensionGroup);
    if (extensionGroup.source !== 'SYNCED' && extensionGroup.externalId) {
      const kept = keptByGroup.get(extensionGroup.externalId);
      if (!kept || extensionGroup.id < kept.id) keptByGroup.set(extensionGroup.externalId, extensionGroup);
      continue;
    }
    if (extensionGroup.source !== 'SYNCED' || !extensionGroup.externalId) continue;
    if (input.scope && !input.scope.has(extensionGroup.externalId)) continue;
    const other = syncedByGroup.get(extensionGroup.externalId);
    if (!other) {
      syncedByGroup.set(extensionGroup.externalId, extensionGroup);
    } else if (extensionGroup.id < other.id) {
      duplicates.push(other);
      syncedByGroup.set(extensionGroup.externalId, extensionGroup);
    } else {
      duplicates.push(extensionGroup);
    }
  }

  const items: GroupPlanItem[] = [];
  const candidates: Candidate[] = [];
  const isPresent = (group: DirectoryGroup | undefined): group is DirectoryGroup =>
    group !== undefined && (group.deletionState ?? 'PRESENT') === 'PRESENT';

  for (const [groupId, extensionGroup] of syncedByGroup) {
    const group = groups.get(groupId);
    const gone = (reason: GroupGoneReason) =>
      items.push({
        action: rule.autoDelete ? 'DELETE' : 'RELEASE',
        reason,
        groupId,
        name: extensionGroup.name,
        extensionGroupId: extensionGroup.id,
        detail: null,
      });
    if (!isPresent(group)) gone('GROUP_DELETED');
    else if (!inRange(group)) gone('OUT_OF_RANGE');
    else candidates.push({ group, own: extensionGroup, target: null, name: groupName(group), failure: null });
  }
  for (const group of groups.values()) {
    if (input.scope && !input.scope.has(group.id)) continue;
    if (syncedByGroup.has(group.id) || !isPresent(group) || !inRange(group)) continue;
    const kept = keptByGroup.get(group.id);
    const target = kept ? { group: kept, reason: 'KEPT_GROUP_ID' as const } : null;
    candidates.push({ group, own: null, target, name: groupName(group), failure: null });
  }

  const claims = new Map<string, Candidate[]>();
  for (const c of candidates) {
    if (c.name === '') {
      c.failure = { reason: 'INVALID_NAME', detail: 'the group has no name' };
      continue;
    }
    const key = nameKey(c.name);
    const current = c.own ?? c.target?.group;
    if (current && nameKey(current.name) === key) continue;
    const claimants = claims.get(key);
    if (claimants) claimants.push(c);
    else claims.set(key, [c]);
  }
  for (const [key, claimants] of claims) {
    const holder = nameHolders.get(key);
    if (claimants.length > 1) {
      for (const c of claimants) {
        c.failure = { reason: 'DUPLICATE_NAME', detail: `${claimants.length} groups in range are named so` };
      }
    } else if (
      holder !== undefined &&
      holder !== AMBIGUOUS &&
      holder.source !== 'SYNCED' &&
      !holder.externalId &&
      !claimants[0].own &&
      !claimants[0].target
    ) {
      // An unsynced extension group of the same name that was never synced: taken over.
      claimants[0].target = { group: holder, reason: 'NAME_MATCH' };
    } else if (holder !== undefined) {
      claimants[0].failure = {
        reason: 'DUPLICATE_NAME',
        detail:
          holder === AMBIGUOUS
            ? 'several extension groups have this name'
            : `extension group ${holder.id} (${holder.source === 'SYNCED' ? 'synced' : 'not synced'}) has this name`,
      };
    }
  }

  for (const c of candidates) {
    const groupId = c.group.id;
    const name = c.name || c.group.displayName;
    if (c.failure) {
      items.push({
        action: 'FAIL',
        reason: c.failure.reason,
        groupId,
        name,
        extensionGroupId: c.own?.id ?? null,
        detail: c.failure.detail,
      });
      continue;
    }
    const found: string[] = [];
    for (const userId of membersOf(groupId)) {
      const extensionId = extensionOfUser.get(userId);
      if (extensionId !== undefined) found.push(extensionId);
    }
    work += found.length;
    if (work >= STEP) {
      work = 0;
      yield;
    }
    // The default sort orders by UTF-16 code units, as `<` does, and is faster than a comparator.
    found.sort();
    // Each once, in place (issue 16 item 3: not a second array of every group's members).
    let n = 0;
    for (let i = 0; i < found.length; i++) if (i === 0 || found[i] !== found[n - 1]) found[n++] = found[i];
    found.length = n;
    const members = found;
    if (!c.own && c.target) {
      const taken = c.target.group;
      const { added, removed } = diffSorted([...taken.memberExtensionIds].sort(), members);
      items.push({
        action: 'ASSOCIATE',
        reason: c.target.reason,
        groupId,
        name,
        extensionGroupId: taken.id,
        detail: null,
        nameChange: taken.name !== name ? { from: taken.name, to: name } : null,
        memberExtensionIds: members,
        addedMemberExtensionIds: added,
        removedMemberExtensionIds: removed,
      });
      continue;
    }
    if (!c.own) {
      items.push({
        action: 'CREATE',
        reason: 'NEW_GROUP',
        groupId,
        name,
        extensionGroupId: null,
        detail: null,
        memberExtensionIds: members,
      });
      continue;
    }
    const { added, removed } = diffSorted([...c.own.memberExtensionIds].sort(), members);
    const nameChange = c.own.name !== name ? { from: c.own.name, to: name } : null;
    if (nameChange || added.length > 0 || removed.length > 0) {
      items.push({
        action: 'UPDATE',
        reason: 'GROUP_CHANGED',
        groupId,
        name,
        extensionGroupId: c.own.id,
        detail: null,
        nameChange,
        memberExtensionIds: members,
        addedMemberExtensionIds: added,
        removedMemberExtensionIds: removed,
      });
    }
  }

  duplicates.sort((a, b) => compareText(a.id, b.id));
  for (const extensionGroup of duplicates) {
    items.push({
      action: 'FAIL',
      reason: 'DUPLICATE_EXTERNAL_ID',
      groupId: extensionGroup.externalId ?? '',
      name: extensionGroup.name,
      extensionGroupId: extensionGroup.id,
      detail: 'a second synced extension group of this group; left alone',
    });
  }

  return createPlan(now, yield* sortPlanItemSteps(items, groupItemKey));
}
