import { sortPlanItems } from './sync-plan.js';
import type { PlanItemLike, PolicyName, Suppression, SyncPlan } from './sync-plan.types.js';

/**
 * A plan → plan limit on how many objects a run may create. The CREATE items are already
 * in their deterministic order (by key); the first `available` go ahead and every later one
 * becomes the FAIL item `toFail` gives, recorded in `suppressed`. Which ones fail is
 * therefore fixed by the input alone.
 */
export function limitCreates<I extends PlanItemLike>(
  plan: SyncPlan<I>,
  options: {
    readonly available: number;
    readonly policy: PolicyName;
    readonly keyOf: (item: I) => string;
    readonly toFail: (item: I) => I;
  },
): SyncPlan<I> {
  const available = Math.max(0, Math.floor(options.available));
  let creates = 0;
  for (const item of plan.items) if (item.action === 'CREATE') creates++;
  if (creates <= available) return plan;
  const kept: I[] = [];
  const failed: I[] = [];
  const suppressed: Suppression<I>[] = [];
  let seen = 0;
  for (const item of plan.items) {
    if (item.action === 'CREATE' && seen++ >= available) {
      failed.push(options.toFail(item));
      suppressed.push({ policy: options.policy, item, outcome: 'FAILED' });
    } else {
      kept.push(item);
    }
  }
  return {
    ...plan,
    items: sortPlanItems([...kept, ...failed], options.keyOf),
    suppressed: [...plan.suppressed, ...suppressed],
  };
}
