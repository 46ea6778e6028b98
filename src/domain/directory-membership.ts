import type { DirectoryGroup, DirectoryUser } from './directory.types.js';
import type { GroupRange, UserRange } from './sync-rule.types.js';

function isPresent(group: DirectoryGroup | undefined): group is DirectoryGroup {
  return group !== undefined && (group.deletionState ?? 'PRESENT') === 'PRESENT';
}

/**
 * Member user ids of a group, memoised per group (an id may come more than once).
 * - direct (`nested` off): `memberUserIds`;
 * - nested: `transitiveMemberUserIds` when the reader supplied it (Graph `transitiveMembers`),
 *   else the union of `memberUserIds` over the group and every group reachable through
 *   `memberGroupIds` (cycles are fine; groups that are not present count as empty).
 * A group that is not present (deleted, or unknown) has no members.
 */
export function createMembershipResolver(
  groups: ReadonlyMap<string, DirectoryGroup>,
  nested: boolean,
): (groupId: string) => Iterable<string> {
  const memo = new Map<string, Iterable<string>>();
  const empty: readonly string[] = [];
  return (groupId) => {
    const cached = memo.get(groupId);
    if (cached) return cached;
    const root = groups.get(groupId);
    let members: Iterable<string>;
    if (!isPresent(root)) {
      members = empty;
    } else if (!nested) {
      members = root.memberUserIds;
    } else if (root.transitiveMemberUserIds) {
      members = root.transitiveMemberUserIds;
    } else {
      const users = new Set<string>();
      const seen = new Set<string>([groupId]);
      const stack: DirectoryGroup[] = [root];
      for (let group = stack.pop(); group; group = stack.pop()) {
        for (const id of group.memberUserIds) users.add(id);
        for (const childId of group.memberGroupIds ?? []) {
          if (seen.has(childId)) continue;
          seen.add(childId);
          const child = groups.get(childId);
          if (isPresent(child)) stack.push(child);
        }
      }
      members = users;
    }
    memo.set(groupId, members);
    return members;
  };
}

/** U1: whether a (present) user is in the rule's range. */
export function createUserRangePredicate(
  range: UserRange,
  groups: ReadonlyMap<string, DirectoryGroup>,
  includeNestedMembers: boolean,
): (user: DirectoryUser) => boolean {
  switch (range.type) {
    case 'ALL':
      return () => true;
    case 'BY_TYPE': {
      const types = new Set<string>(range.userTypes);
      return (user) => types.has(user.userType);
    }
    case 'BY_GROUPS': {
      const membersOf = createMembershipResolver(groups, includeNestedMembers);
      const inRange = new Set<string>();
      for (const groupId of range.groupIds) for (const userId of membersOf(groupId)) inRange.add(userId);
      return (user) => inRange.has(user.id);
    }
  }
}

/** G1: whether a (present) group is in the rule's range. */
export function createGroupRangePredicate(range: GroupRange): (group: DirectoryGroup) => boolean {
  switch (range.type) {
    case 'ALL':
      return () => true;
    case 'BY_TYPE': {
      const kinds = new Set<string>(range.kinds);
      return (group) => kinds.has(group.kind);
    }
    case 'SPECIFIC': {
      const ids = new Set(range.groupIds);
      return (group) => ids.has(group.id);
    }
  }
}
