import { runSteps, type Steps, sortSteps } from './steps.js';
import {
  ACTION_ORDER,
  type GroupPlanItem,
  type PlanItemLike,
  type PlanSummary,
  type SyncPlan,
  type UserPlanItem,
} from './sync-plan.types.js';

/** Sort key of a user item: lower-cased UPN, then the object id (ids are unique, so keys are). */
export function userItemKey(item: Pick<UserPlanItem, 'userId' | 'userPrincipalName'>): string {
  return `${(item.userPrincipalName ?? '').toLowerCase()}\u0000${item.userId}`;
}

/** Sort key of a group item: lower-cased name, then the object id. */
export function groupItemKey(item: Pick<GroupPlanItem, 'groupId' | 'name'>): string {
  return `${item.name.toLowerCase()}\u0000${item.groupId}`;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Items by action (apply order), then by key; keys are computed once per item. In steps. */
export function* sortPlanItemSteps<I extends PlanItemLike>(
  items: readonly I[],
  keyOf: (item: I) => string,
): Steps<I[]> {
  const decorated = items.map((item) => ({ item, rank: ACTION_ORDER[item.action], key: keyOf(item) }));
  yield;
  const sorted = yield* sortSteps(decorated, (a, b) => a.rank - b.rank || compareText(a.key, b.key));
  return sorted.map((d) => d.item);
}

/** Items by action (apply order), then by key, at once. */
export function sortPlanItems<I extends PlanItemLike>(items: readonly I[], keyOf: (item: I) => string): I[] {
  return runSteps(sortPlanItemSteps(items, keyOf));
}

/** A plan with nothing held and nothing suppressed. */
export function createPlan<I extends PlanItemLike>(now: Date, items: readonly I[]): SyncPlan<I> {
  return { plannedAt: now.toISOString(), items, held: false, heldDeletes: [], guard: null, suppressed: [] };
}

/** U8: counts per action. */
export function summarizePlan(plan: SyncPlan<PlanItemLike>): PlanSummary {
  const counts = { create: 0, update: 0, associate: 0, delete: 0, release: 0, skip: 0, fail: 0 };
  for (const item of plan.items) {
    counts[item.action.toLowerCase() as keyof typeof counts]++;
  }
  return { ...counts, held: plan.heldDeletes.length };
}

/** Whether applying the plan would change anything (held deletes aside). */
export function hasChanges(plan: SyncPlan<PlanItemLike>): boolean {
  return plan.items.some((item) => item.action !== 'SKIP' && item.action !== 'FAIL');
}
