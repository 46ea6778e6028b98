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

export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The text part of `userItemKey`: the lower-cased UPN (the UPN itself when it is lower-case
 * already). With `compareKeyParts` it orders items as their key strings would, without
 * building those: a first sync's 100,000 key strings, made for each sort of the user plan,
 * were most of what planning left to the garbage collector (issue 16 item 3).
 */
export function userItemKeyText(item: Pick<UserPlanItem, 'userPrincipalName'>): string {
  return (item.userPrincipalName ?? '').toLowerCase();
}

/** Compares two keys as the strings `${aText}\u0000${aId}` and `${bText}\u0000${bId}` compare. */
export function compareKeyParts(aText: string, aId: string, bText: string, bId: string): number {
  if (aText === bText) return compareText(aId, bId);
  // Texts that differ within the shorter one decide as the strings would; so does a text that
  // is a prefix of the other, unless the other goes on with U+0000 (then compare the strings).
  const n = Math.min(aText.length, bText.length);
  const longer = aText.length > n ? aText : bText;
  if (longer.charCodeAt(n) !== 0 || !longer.startsWith(longer === aText ? bText : aText))
    return compareText(aText, bText);
  return compareText(`${aText}\u0000${aId}`, `${bText}\u0000${bId}`);
}

/**
 * Items by action (apply order), then by key; keys are computed once per item. In steps.
 * With `idOf`, the key is in two parts (`keyOf` its text, see `compareKeyParts`). The items'
 * positions are sorted, their ranks and keys in arrays beside them (issue 16 item 3: not an
 * object per item, 100,000 of them on a first sync, kept through the sort's pauses).
 */
export function* sortPlanItemSteps<I extends PlanItemLike>(
  items: readonly I[],
  keyOf: (item: I) => string,
  idOf?: (item: I) => string,
): Steps<I[]> {
  const ranks = items.map((item) => ACTION_ORDER[item.action]);
  const keys = items.map((item) => keyOf(item));
  const positions = items.map((_, i) => i);
  yield;
  const sorted = yield* sortSteps(
    positions,
    idOf
      ? (a, b) => ranks[a] - ranks[b] || compareKeyParts(keys[a], idOf(items[a]), keys[b], idOf(items[b]))
      : (a, b) => ranks[a] - ranks[b] || compareText(keys[a], keys[b]),
  );
  return sorted.map((i) => items[i]);
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
