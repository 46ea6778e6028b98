import { describe, expect, it } from 'vitest';
import type { DirectoryGroup } from '../../src/domain/directory.types.js';
import { planGroupChanges, planGroupSync } from '../../src/domain/group-sync.planner.js';
import type { PbxExtension, PbxExtensionGroup } from '../../src/domain/pbx.types.js';
import type { GroupPlanItem } from '../../src/domain/sync-plan.types.js';
import type { GroupSyncRule } from '../../src/domain/sync-rule.types.js';
import {
  applyGroupPlan,
  extGroup,
  group,
  groupLines,
  groupRule,
  manualExt,
  NOW,
  shuffle,
  syncedExt,
  user,
} from './domain.fixtures.js';

/** Synced extensions for users u1..u6 (ids ext-u1 ...). */
const extensions: PbxExtension[] = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'].map((id, i) =>
  syncedExt(user(id), String(1000 + i)),
);

function plan(
  groups: readonly DirectoryGroup[],
  current: readonly PbxExtensionGroup[],
  rule: GroupSyncRule,
  exts: readonly PbxExtension[] = extensions,
  maxExtensionGroups?: number,
) {
  return planGroupSync({
    directory: { groups },
    current: { groups: current, extensions: exts },
    rule,
    capacity: { maxExtensionGroups },
    now: NOW,
  });
}

function only<T extends GroupPlanItem['action']>(items: readonly GroupPlanItem[], action: T) {
  return items.filter((i): i is Extract<GroupPlanItem, { action: T }> => i.action === action);
}

function syncedGroup(g: DirectoryGroup, memberExtensionIds: string[], id = `xg-${g.id}`): PbxExtensionGroup {
  return { id, name: g.displayName, source: 'SYNCED', externalId: g.id, memberExtensionIds };
}

const sec = group('sec', { kind: 'SECURITY', memberUserIds: ['u1'] });
const m365 = group('m365', { kind: 'MICROSOFT_365', displayName: 'Team', memberUserIds: ['u2'] });
const dl = group('dl', { kind: 'OTHER', displayName: 'Distribution', memberUserIds: ['u3'] });

describe('G1 range', () => {
  it.each<[string, GroupSyncRule, string[]]>([
    ['ALL', groupRule({ range: { type: 'ALL' } }), ['dl', 'm365', 'sec']],
    ['BY_TYPE SECURITY', groupRule({ range: { type: 'BY_TYPE', kinds: ['SECURITY'] } }), ['sec']],
    ['BY_TYPE MICROSOFT_365', groupRule({ range: { type: 'BY_TYPE', kinds: ['MICROSOFT_365'] } }), ['m365']],
    [
      'BY_TYPE both',
      groupRule({ range: { type: 'BY_TYPE', kinds: ['SECURITY', 'MICROSOFT_365'] } }),
      ['m365', 'sec'],
    ],
    ['SPECIFIC', groupRule({ range: { type: 'SPECIFIC', groupIds: ['dl', 'nope'] } }), ['dl']],
  ])('G1 %s', (_name, rule, expected) => {
    const p = plan([sec, m365, dl], [], rule);
    expect(
      only(p.items, 'CREATE')
        .map((i) => i.groupId)
        .sort(),
    ).toEqual(expected);
    expect(p.items).toHaveLength(expected.length);
  });

  it('G1 deleted groups are never created', () => {
    const p = plan([group('x', { deletionState: 'SOFT_DELETED' })], [], groupRule());
    expect(p.items).toEqual([]);
  });
});

describe('G2 extension groups no longer in sync', () => {
  const current = [syncedGroup(sec, ['ext-u1']), syncedGroup(m365, ['ext-u2'])];
  it.each<[boolean, DirectoryGroup[], string[]]>([
    [true, [sec, m365], ['DELETE OUT_OF_RANGE m365']],
    [false, [sec, m365], ['RELEASE OUT_OF_RANGE m365']],
    [true, [sec], ['DELETE GROUP_DELETED m365']],
    [false, [sec, { ...m365, deletionState: 'SOFT_DELETED' }], ['RELEASE GROUP_DELETED m365']],
  ])('G2 auto delete %s', (autoDelete, groups, expected) => {
    const p = plan(
      groups,
      current,
      groupRule({ autoDelete, range: { type: 'BY_TYPE', kinds: ['SECURITY'] } }),
    );
    expect(groupLines(p)).toEqual(expected);
    expect(p.items[0]).toMatchObject({ extensionGroupId: 'xg-m365', name: 'Team' });
  });
});

describe('G3 at most 63 extension groups', () => {
  const many = Array.from({ length: 64 }, (_, i) =>
    group(`g${i}`, { displayName: `Group ${String(i).padStart(2, '0')}` }),
  );
  it('G3 the 64th group (by name) fails GROUP_LIMIT_REACHED', () => {
    const p = plan(shuffle(many, 7), [], groupRule());
    expect(only(p.items, 'CREATE')).toHaveLength(63);
    expect(only(p.items, 'FAIL').map((i) => [i.reason, i.name])).toEqual([
      ['GROUP_LIMIT_REACHED', 'Group 63'],
    ]);
    expect(p.suppressed.map((s) => [s.policy, s.item.groupId])).toEqual([['GROUP_LIMIT', 'g63']]);
  });

  it('G3 unsynced extension groups count against the limit; deletes free room', () => {
    const manual = Array.from({ length: 60 }, (_, i) => extGroup(`m${i}`));
    const leaving = syncedGroup(group('old'), []);
    const p = plan(many.slice(0, 5), [...manual, leaving], groupRule());
    // 61 groups now; room = 63 - 61 + 1 delete = 3.
    expect(groupLines(p)).toEqual([
      'DELETE GROUP_DELETED old',
      'CREATE NEW_GROUP g0',
      'CREATE NEW_GROUP g1',
      'CREATE NEW_GROUP g2',
      'FAIL GROUP_LIMIT_REACHED g3',
      'FAIL GROUP_LIMIT_REACHED g4',
    ]);
  });

  it('G3 the limit is settable through capacity', () => {
    const p = plan(many.slice(0, 3), [], groupRule(), extensions, 2);
    expect(only(p.items, 'FAIL')).toHaveLength(1);
  });
});

describe('G5 members', () => {
  const outer = group('outer', {
    displayName: 'Outer',
    memberUserIds: ['u1', 'u2', 'nosync'],
    memberGroupIds: ['inner'],
  });
  const inner = group('inner', { displayName: 'Inner', memberUserIds: ['u3'], memberGroupIds: ['outer'] });
  const exts = [...extensions, manualExt('m1', '2000', { externalId: 'nosync' })];
  it.each<[boolean, string[]]>([
    [false, ['ext-u1', 'ext-u2']],
    [true, ['ext-u1', 'ext-u2', 'ext-u3']],
  ])(
    'G5 nested=%s: members are the synced extensions of the member users',
    (includeNestedMembers, members) => {
      const p = plan(
        [outer, inner],
        [],
        groupRule({ includeNestedMembers, range: { type: 'SPECIFIC', groupIds: ['outer'] } }),
        exts,
      );
      expect(only(p.items, 'CREATE')[0].memberExtensionIds).toEqual(members);
    },
  );

  it('G5 member changes are an UPDATE with what is added and removed', () => {
    const g = group('g', { memberUserIds: ['u1', 'u3', 'u4'] });
    const p = plan([g], [syncedGroup(g, ['ext-u2', 'ext-u1', 'm1'])], groupRule());
    const item = only(p.items, 'UPDATE')[0];
    expect(item).toMatchObject({
      nameChange: null,
      memberExtensionIds: ['ext-u1', 'ext-u3', 'ext-u4'],
      addedMemberExtensionIds: ['ext-u3', 'ext-u4'],
      removedMemberExtensionIds: ['ext-u2', 'm1'],
    });
  });

  it('G5 a renamed group is an UPDATE of its name', () => {
    const g = group('g', { displayName: 'New name', memberUserIds: ['u1'] });
    const p = plan([g], [{ ...syncedGroup(g, ['ext-u1']), name: 'Old name' }], groupRule());
    expect(only(p.items, 'UPDATE')[0]).toMatchObject({
      nameChange: { from: 'Old name', to: 'New name' },
      addedMemberExtensionIds: [],
      removedMemberExtensionIds: [],
    });
  });
});

describe('re-sync with no change plans nothing (groups)', () => {
  it.each([false, true])('G1-G5 nested=%s', (includeNestedMembers) => {
    const groups = [
      group('a', { memberUserIds: ['u1', 'u2'], memberGroupIds: ['b'] }),
      group('b', { memberUserIds: ['u3'] }),
      group('c', { kind: 'MICROSOFT_365', memberUserIds: ['u6', 'gone'] }),
    ];
    const rule = groupRule({ includeNestedMembers });
    const first = plan(groups, [extGroup('m1')], rule);
    expect(only(first.items, 'CREATE')).toHaveLength(3);
    const after = applyGroupPlan([extGroup('m1')], first);
    const second = plan(groups, after, rule);
    expect(second.items).toEqual([]);
    expect(second.heldDeletes).toEqual([]);
  });
});

describe('group names', () => {
  it('two groups with one name: neither is created (DUPLICATE_NAME)', () => {
    const p = plan(
      [
        group('a', { displayName: 'Sales' }),
        group('b', { displayName: 'sales ' }),
        group('c', { displayName: 'Ops' }),
      ],
      [],
      groupRule(),
    );
    expect(groupLines(p)).toEqual(['CREATE NEW_GROUP c', 'FAIL DUPLICATE_NAME a', 'FAIL DUPLICATE_NAME b']);
  });

  it('a name held by a synced extension group of another directory group is not taken', () => {
    const p = plan(
      [group('a', { displayName: 'Sales' })],
      [extGroup('m', { name: 'SALES', source: 'SYNCED', externalId: 'other' })],
      groupRule(),
    );
    // The name is still held while this run deletes the other group: the next run may take it.
    expect(groupLines(p)).toEqual(['DELETE GROUP_DELETED other', 'FAIL DUPLICATE_NAME a']);
    expect(p.items[1].detail).toContain('m');
  });

  it('a blank name is reported', () => {
    expect(groupLines(plan([group('a', { displayName: '  ' })], [], groupRule()))).toEqual([
      'FAIL INVALID_NAME a',
    ]);
  });
});

describe('determinism and the deletion guard (groups)', () => {
  const groups = Array.from({ length: 80 }, (_, i) =>
    group(`g${i}`, {
      displayName: i % 17 === 0 ? 'Same' : `G ${i}`,
      kind: i % 2 ? 'SECURITY' : 'MICROSOFT_365',
      memberUserIds: ['u1', 'u2', 'u3', 'u4'].filter((_, j) => (i + j) % 3 === 0),
    }),
  );
  const current = [
    syncedGroup(groups[1], ['ext-u1']),
    syncedGroup(group('gone'), []),
    extGroup('m1', { name: 'G 5' }),
  ];
  it('shuffled input gives the identical plan', () => {
    const reference = plan(groups, current, groupRule());
    // CREATE, UPDATE, DELETE, ASSOCIATE (the hand-made "G 5") and FAIL (three named "Same").
    expect(new Set(reference.items.map((i) => i.action)).size).toBe(5);
    for (let seed = 1; seed <= 8; seed++) {
      const again = plan(
        shuffle(groups, seed),
        shuffle(current, seed + 100),
        groupRule(),
        shuffle(extensions, seed),
      );
      expect(JSON.stringify(again)).toBe(JSON.stringify(reference));
    }
  });

  it('holds a mass delete of extension groups and not a small one', () => {
    const synced = groups.slice(0, 40).map((g) => syncedGroup(g, []));
    const mass = planGroupSync({
      directory: { groups: groups.slice(20, 40) },
      current: { groups: synced, extensions },
      rule: groupRule(),
      now: NOW,
    });
    expect(mass.held).toBe(true);
    expect(mass.heldDeletes).toHaveLength(20);
    expect(mass.items.some((i) => i.action === 'DELETE')).toBe(false);
    const small = planGroupChanges({
      directory: { groups: groups.slice(4, 40) },
      current: { groups: synced, extensions },
      rule: groupRule(),
      now: NOW,
    });
    expect(small.items.filter((i) => i.action === 'DELETE')).toHaveLength(4);
    expect(small.held).toBe(false);
  });
});

describe('retained extension groups come back (L7 retain, then connect again)', () => {
  const rule = groupRule({ range: { type: 'ALL' } });
  const sales = group('sales', { displayName: 'Sales', memberUserIds: ['u1', 'u2'] });

  it('one that kept its directory group id is taken over: synced again, renamed, members set (KEPT_GROUP_ID)', () => {
    const kept = extGroup('x1', { name: 'Old sales', externalId: 'sales', memberExtensionIds: ['ext-u3'] });
    const p = plan([sales], [kept], rule);
    expect(only(p.items, 'ASSOCIATE')).toEqual([
      {
        action: 'ASSOCIATE',
        reason: 'KEPT_GROUP_ID',
        groupId: 'sales',
        name: 'Sales',
        extensionGroupId: 'x1',
        detail: null,
        nameChange: { from: 'Old sales', to: 'Sales' },
        memberExtensionIds: ['ext-u1', 'ext-u2'],
        addedMemberExtensionIds: ['ext-u1', 'ext-u2'],
        removedMemberExtensionIds: ['ext-u3'],
      },
    ]);
    expect(only(p.items, 'CREATE')).toEqual([]);
    // Applied, the next plan has nothing to do.
    const after = applyGroupPlan([kept], p);
    expect(plan([sales], after, rule).items).toEqual([]);
  });

  it('a never-synced extension group with the same name is taken over (NAME_MATCH) instead of failing DUPLICATE_NAME', () => {
    const handMade = extGroup('x2', { name: 'sales', memberExtensionIds: [] });
    const p = plan([sales], [handMade], rule);
    expect(p.items.map((i) => `${i.action} ${i.reason} ${i.extensionGroupId}`)).toEqual([
      'ASSOCIATE NAME_MATCH x2',
    ]);
  });

  it("a name held by an extension group that kept ANOTHER directory group's id is not taken: DUPLICATE_NAME", () => {
    const other = extGroup('x3', { name: 'Sales', externalId: 'gone-group' });
    const p = plan([sales], [other], rule);
    expect(p.items.map((i) => `${i.action} ${i.reason}`)).toEqual(['FAIL DUPLICATE_NAME']);
  });

  it('two directory groups wanting the name of one hand-made extension group both fail, and nothing is taken over', () => {
    const twin = group('sales2', { displayName: 'SALES', memberUserIds: ['u4'] });
    const p = plan([sales, twin], [extGroup('x4', { name: 'Sales' })], rule);
    expect(p.items.map((i) => `${i.action} ${i.reason}`)).toEqual([
      'FAIL DUPLICATE_NAME',
      'FAIL DUPLICATE_NAME',
    ]);
  });

  it('a kept group whose directory group is out of range or gone stays as it is', () => {
    const kept = extGroup('x5', { name: 'Sales', externalId: 'sales' });
    const onlySecurity = groupRule({ range: { type: 'BY_TYPE', kinds: ['MICROSOFT_365'] } });
    expect(plan([sales], [kept], onlySecurity).items).toEqual([]);
    expect(plan([], [kept], rule).items).toEqual([]);
  });
});
