import { limitCreates } from './create-limit.policy.js';
import { userItemKey } from './sync-plan.js';
import type { UserFailItem, UserPlanItem, UserSyncPlan } from './sync-plan.types.js';

/**
 * U10 (plan → plan): the PBX holds at most `maxExtensions` extensions, synced or not.
 * Room for this run = maxExtensions − extensions the PBX has now + the DELETE items the run
 * will apply (held deletes free nothing; ASSOCIATE and RELEASE neither use nor free room).
 * CREATE items past the room fail `CAPACITY_REACHED`: the last ones in plan order (by
 * lower-cased UPN, then id), which under AUTO numbering are also the ones given the
 * highest new numbers, so the numbers that are created leave no gap.
 * Relies on the applier applying DELETE before CREATE (the plan's order).
 */
export function applyCapacityPolicy(
  plan: UserSyncPlan,
  options: { readonly maxExtensions: number; readonly currentExtensions: number },
): UserSyncPlan {
  let deletes = 0;
  for (const item of plan.items) if (item.action === 'DELETE') deletes++;
  const available = options.maxExtensions - options.currentExtensions + deletes;
  return limitCreates<UserPlanItem>(plan, {
    available,
    policy: 'CAPACITY',
    keyOf: userItemKey,
    toFail: (item): UserFailItem => ({
      action: 'FAIL',
      reason: 'CAPACITY_REACHED',
      userId: item.userId,
      displayName: item.displayName,
      userPrincipalName: item.userPrincipalName,
      extensionId: null,
      number: null,
      detail: `the PBX holds at most ${options.maxExtensions} extensions`,
    }),
  });
}
