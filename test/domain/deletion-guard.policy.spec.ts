import { describe, expect, it } from 'vitest';
import { approveHeldDeletes, guardDeletions } from '../../src/domain/deletion-guard.policy.js';
import { createPlan, summarizePlan } from '../../src/domain/sync-plan.js';
import type { UserPlanItem } from '../../src/domain/sync-plan.types.js';
import { NOW } from './domain.fixtures.js';

function del(i: number): UserPlanItem {
  return {
    action: 'DELETE',
    reason: 'OUT_OF_RANGE',
    userId: `u${String(i).padStart(3, '0')}`,
    displayName: `User ${i}`,
    userPrincipalName: `u${String(i).padStart(3, '0')}@x`,
    extensionId: `e${i}`,
    number: String(1000 + i),
    detail: null,
  };
}

const create: UserPlanItem = {
  action: 'CREATE',
  reason: 'NEW_USER',
  userId: 'new',
  displayName: 'New',
  userPrincipalName: 'new@x',
  extensionId: null,
  number: '2000',
  detail: null,
  extension: {
    number: '2000',
    firstName: 'N',
    lastName: '',
    email: 'new@x',
    mobileNumber: null,
    jobTitle: null,
  },
  sendWelcomeEmail: false,
};

function planWith(deletes: number) {
  return createPlan(NOW, [...Array.from({ length: deletes }, (_, i) => del(i)), create]);
}

describe('deletion guard (U2/U4 deletes, G2): more than N and more than R of the synced', () => {
  it.each<[string, number, number, object, boolean]>([
    ['11 of 100: over both bounds', 11, 100, {}, true],
    ['10 of 100: not more than 10', 10, 100, {}, false],
    ['11 of 110: not more than 10 %', 11, 110, {}, false],
    ['11 of 109: over both', 11, 109, {}, true],
    ['10 of 10: all of them, but not more than 10', 10, 10, {}, false],
    ['50 of 1000: 5 %', 50, 1000, {}, false],
    ['500 of 1000', 500, 1000, {}, true],
    ['0 deletes', 0, 0, {}, false],
    ['3 of 100 with maxDeletes 2, ratio 0.02', 3, 100, { maxDeletes: 2, maxDeleteRatio: 0.02 }, true],
    ['500 of 1000, guard disabled', 500, 1000, { enabled: false }, false],
  ])('%s', (_name, deletes, synced, options, held) => {
    const plan = guardDeletions(planWith(deletes), synced, options);
    expect(plan.held).toBe(held);
    expect(plan.guard).toMatchObject({ deletes, synced, held });
    expect(plan.heldDeletes).toHaveLength(held ? deletes : 0);
    expect(plan.items.filter((i) => i.action === 'DELETE')).toHaveLength(held ? 0 : deletes);
    expect(plan.items.filter((i) => i.action === 'CREATE')).toHaveLength(1);
    expect(plan.suppressed).toHaveLength(held ? deletes : 0);
  });

  it('names each held delete and approval puts them back, first', () => {
    const held = guardDeletions(planWith(12), 20);
    expect(held.heldDeletes.map((i) => i.userId)).toEqual(
      Array.from({ length: 12 }, (_, i) => del(i).userId),
    );
    expect(held.suppressed.every((s) => s.policy === 'DELETION_GUARD' && s.outcome === 'HELD')).toBe(true);
    expect(summarizePlan(held)).toMatchObject({ delete: 0, create: 1, held: 12 });
    const approved = approveHeldDeletes(held);
    expect(approved.held).toBe(false);
    expect(approved.heldDeletes).toEqual([]);
    expect(approved.items).toEqual(planWith(12).items);
    expect(summarizePlan(approved)).toMatchObject({ delete: 12, create: 1, held: 0 });
  });

  it('approving a plan that holds nothing changes nothing', () => {
    const plan = guardDeletions(planWith(2), 100);
    expect(approveHeldDeletes(plan)).toBe(plan);
  });
});

describe('deletion guard over a window: deletes that trickle in across runs are counted together', () => {
  const plan = (deletes: number) => ({
    plannedAt: '2026-12-07T00:00:00.000Z',
    items: Array.from({ length: deletes }, (_, i) => ({ action: 'DELETE' as const, reason: `d${i}` })),
    held: false,
    heldDeletes: [],
    guard: null,
    suppressed: [],
  });

  it('a run of 6 deletes is held when 6 were applied in the window (12 > 10 and > 10 % of 106)', () => {
    const out = guardDeletions(plan(6), 100, { recentDeletes: 6 });
    expect(out.held).toBe(true);
    expect(out.heldDeletes).toHaveLength(6);
    expect(out.guard).toMatchObject({ deletes: 6, recentDeletes: 6, held: true });
  });

  it('the same run alone (nothing recent) goes ahead', () => {
    expect(guardDeletions(plan(6), 100).held).toBe(false);
  });

  it('the ratio is taken of what was synced when the window began (synced now + recent deletes)', () => {
    // 12 of 1,000 synced at the window's start is 1.2 %: under 10 %, not held.
    expect(guardDeletions(plan(6), 994, { recentDeletes: 6 }).held).toBe(false);
  });

  it('a run with no delete is never held, whatever the window holds', () => {
    expect(guardDeletions(plan(0), 10, { recentDeletes: 50 }).held).toBe(false);
  });
});
