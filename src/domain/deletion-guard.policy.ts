import type { DeletionGuardVerdict, PlanItemLike, Suppression, SyncPlan } from './sync-plan.types.js';

export interface DeletionGuardOptions {
  /** Default true. */
  readonly enabled?: boolean;
  /** Hold only when the run deletes more than this many; default 10. */
  readonly maxDeletes?: number;
  /** ... and more than this share of the synced objects; default 0.1 (10 %). */
  readonly maxDeleteRatio?: number;
  /**
   * Deletes already applied by earlier runs within the guard's window (default 0): a mass
   * deletion that arrives as many small runs is counted as one.
   */
  readonly recentDeletes?: number;
}

export const DEFAULT_MAX_DELETES = 10;
export const DEFAULT_MAX_DELETE_RATIO = 0.1;

/**
 * The deletion guard (plan → plan). Counting this run's deletes plus the `recentDeletes`
 * earlier runs applied within the window: when they are more than `maxDeletes` AND more than
 * `maxDeleteRatio` × the synced objects at the window's start (`synced`, the currently synced
 * extensions or extension groups, plus the recent deletes), every DELETE item of this run is
 * held: moved out of `items` into `heldDeletes` (sorted, each naming its object), with
 * `held: true`. The rest of the plan goes ahead. Nothing is deleted until someone approves
 * (`approveHeldDeletes`). A run with no delete, or at or under either bound, passes
 * untouched. The verdict (counts and bounds) is kept in `guard`.
 */
export function guardDeletions<I extends PlanItemLike>(
  plan: SyncPlan<I>,
  synced: number,
  options: DeletionGuardOptions = {},
): SyncPlan<I> {
  const maxDeletes = options.maxDeletes ?? DEFAULT_MAX_DELETES;
  const maxDeleteRatio = options.maxDeleteRatio ?? DEFAULT_MAX_DELETE_RATIO;
  const recent = options.recentDeletes ?? 0;
  const deletes = plan.items.filter((item) => item.action === 'DELETE');
  const total = deletes.length + recent;
  const held =
    (options.enabled ?? true) &&
    deletes.length > 0 &&
    total > maxDeletes &&
    total > maxDeleteRatio * (synced + recent);
  const guard: DeletionGuardVerdict = {
    deletes: deletes.length,
    recentDeletes: recent,
    synced,
    maxDeletes,
    maxDeleteRatio,
    held,
  };
  if (!held) return { ...plan, guard };
  const suppressed: Suppression<I>[] = deletes.map((item) => ({
    policy: 'DELETION_GUARD',
    item,
    outcome: 'HELD',
  }));
  return {
    ...plan,
    items: plan.items.filter((item) => item.action !== 'DELETE'),
    held: true,
    heldDeletes: [...plan.heldDeletes, ...deletes],
    guard,
    suppressed: [...plan.suppressed, ...suppressed],
  };
}

/**
 * Approval: the held deletes go back into `items` (first, as DELETE comes first in apply
 * order) and the plan is no longer held. Approving a plan that holds nothing returns it as is.
 * An applier that already applied the rest of the plan applies just `plan.heldDeletes`.
 */
export function approveHeldDeletes<I extends PlanItemLike>(plan: SyncPlan<I>): SyncPlan<I> {
  if (!plan.held && plan.heldDeletes.length === 0) return plan;
  return { ...plan, items: [...plan.heldDeletes, ...plan.items], held: false, heldDeletes: [] };
}
