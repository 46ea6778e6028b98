import { limitCreates } from './create-limit.policy.js';
import { MAX_EXTENSION_GROUPS } from './pbx.types.js';
import { groupItemKey } from './sync-plan.js';
import type { GroupFailItem, GroupPlanItem, GroupSyncPlan } from './sync-plan.types.js';

/**
 * G3 (plan → plan): the PBX holds at most 63 extension groups, synced or not.
 * Room for this run = the limit − extension groups the PBX has now + the DELETE items the
 * run will apply (held deletes free nothing). CREATE items past the room fail
 * `GROUP_LIMIT_REACHED`: the last ones in plan order (lower-cased name, then id), so with
 * an empty PBX and 64 new groups in range, the 64th by name is the one that fails.
 */
export function applyGroupLimitPolicy(
  plan: GroupSyncPlan,
  options: { readonly currentGroups: number; readonly maxGroups?: number },
): GroupSyncPlan {
  const maxGroups = options.maxGroups ?? MAX_EXTENSION_GROUPS;
  let deletes = 0;
  for (const item of plan.items) if (item.action === 'DELETE') deletes++;
  return limitCreates<GroupPlanItem>(plan, {
    available: maxGroups - options.currentGroups + deletes,
    policy: 'GROUP_LIMIT',
    keyOf: groupItemKey,
    toFail: (item): GroupFailItem => ({
      action: 'FAIL',
      reason: 'GROUP_LIMIT_REACHED',
      groupId: item.groupId,
      name: item.name,
      extensionGroupId: null,
      detail: `the PBX holds at most ${maxGroups} extension groups`,
    }),
  });
}
