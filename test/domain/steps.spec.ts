import { describe, expect, it } from 'vitest';
import { runSteps, STEP, type Steps, sortSteps } from '../../src/domain/steps.js';
import { planUserChanges, userChangeSteps } from '../../src/domain/user-sync.planner.js';
import { NOW, user, userRule } from './domain.fixtures.js';

/** How many times `steps` paused before it finished, and its result. */
function countPauses<T>(steps: Steps<T>): { pauses: number; value: T } {
  let pauses = 0;
  for (;;) {
    const next = steps.next();
    if (next.done) return { pauses, value: next.value };
    pauses++;
  }
}

describe('planning in steps (the event loop turns between them)', () => {
  it('sortSteps sorts as Array.prototype.sort does, stable, for sizes around its run length', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (const n of [0, 1, 2, 4095, 4096, 4097, 10_000, 33_333]) {
      const items = Array.from({ length: n }, (_, i) => ({ key: Math.floor(random() * 500), i }));
      const compare = (a: { key: number }, b: { key: number }) => a.key - b.key;
      expect(runSteps(sortSteps(items, compare))).toEqual([...items].sort(compare));
    }
  });

  it('a large sort pauses many times and still sorts', () => {
    const items = Array.from({ length: 100_000 }, (_, i) => (i * 7919) % 100_003);
    const { pauses, value } = countPauses(sortSteps(items, (a, b) => a - b));
    // 25 runs of 4,096 sorted at once, then about 5 × 100,000 merge steps paused every STEP.
    expect(pauses).toBeGreaterThanOrEqual(25 + Math.floor((4 * 100_000) / STEP));
    expect(value).toEqual([...items].sort((a, b) => a - b));
  });

  it('the user planner pauses while it plans 20,000 users, and its plan is the one planned at once', () => {
    const users = Array.from({ length: 20_000 }, (_, i) =>
      user(`u${String(i).padStart(5, '0')}`, { userPrincipalName: `user${(i * 37) % 20_000}@x.test` }),
    );
    const input = {
      directory: { users },
      current: { extensions: [] },
      rule: userRule(),
      capacity: { maxExtensions: 100_000 },
      now: NOW,
    };
    const { pauses, value } = countPauses(userChangeSteps(input));
    expect(pauses).toBeGreaterThan(20);
    expect(value).toEqual(planUserChanges(input));
    expect(value.items.filter((i) => i.action === 'CREATE')).toHaveLength(20_000);
  });
});
