import { describe, expect, it } from 'vitest';
import type { DirectoryGroup, DirectoryUser } from '../../src/domain/directory.types.js';
import type { PbxExtension } from '../../src/domain/pbx.types.js';
import { summarizePlan } from '../../src/domain/sync-plan.js';
import type { UserPlanItem } from '../../src/domain/sync-plan.types.js';
import type { UserSyncRule } from '../../src/domain/sync-rule.types.js';
import { planUserChanges, planUserSync } from '../../src/domain/user-sync.planner.js';
import {
  applyUserPlan,
  group,
  lines,
  manualExt,
  NOW,
  shuffle,
  syncedExt,
  user,
  userRule,
} from './domain.fixtures.js';

const BIG = { maxExtensions: 1_000_000 };

function plan(
  users: readonly DirectoryUser[],
  extensions: readonly PbxExtension[],
  rule: UserSyncRule,
  groups: readonly DirectoryGroup[] = [],
  maxExtensions = BIG.maxExtensions,
) {
  return planUserSync({
    directory: { users, groups },
    current: { extensions },
    rule,
    capacity: { maxExtensions },
    now: NOW,
  });
}

function only<T extends UserPlanItem['action']>(items: readonly UserPlanItem[], action: T) {
  return items.filter((i): i is Extract<UserPlanItem, { action: T }> => i.action === action);
}

describe('re-sync with no change plans nothing', () => {
  const users = [
    user('a', { mobilePhone: '+1 425 555 0100', jobTitle: 'Engineer' }),
    user('b', { userType: 'Guest', mail: null }),
    user('c', { givenName: null, surname: null, displayName: 'Conference Room' }),
    user('d', { accountEnabled: false }),
    user('e', { businessPhones: ['+1 425 555 0100 x2001'] }),
  ];
  it.each<[string, UserSyncRule]>([
    ['U3 AUTO, U4 disabled off', userRule({ deleteWhen: { disabled: false, deleted: true } })],
    [
      'U3 FROM_PROPERTY',
      userRule({
        numbering: { mode: 'FROM_PROPERTY', property: 'businessPhones' },
        deleteWhen: { disabled: false, deleted: true },
      }),
    ],
  ])('U1-U5 users: %s', (_name, rule) => {
    const fromProperty = rule.numbering.mode === 'FROM_PROPERTY';
    const directory = fromProperty ? users.filter((u) => u.id === 'e') : users;
    const first = plan(directory, [manualExt('m1', '1000')], rule);
    expect(only(first.items, 'CREATE')).toHaveLength(directory.length);
    const after = applyUserPlan([manualExt('m1', '1000')], first);
    const second = plan(directory, after, rule);
    expect(second.items).toEqual([]);
    expect(second.heldDeletes).toEqual([]);
    expect(summarizePlan(second)).toEqual({
      create: 0,
      update: 0,
      associate: 0,
      delete: 0,
      release: 0,
      skip: 0,
      fail: 0,
      held: 0,
    });
  });

  it('U5 after an ASSOCIATE is applied, the next sync plans nothing', () => {
    const rule = userRule({ autoAssociate: true });
    const users2 = [user('a')];
    const current = [manualExt('m1', '1234', { email: 'A@contoso.com' })];
    const first = plan(users2, current, rule);
    expect(lines(first)).toEqual(['ASSOCIATE EMAIL_MATCH a']);
    expect(plan(users2, applyUserPlan(current, first), rule).items).toEqual([]);
  });
});

describe('determinism', () => {
  const users: DirectoryUser[] = [];
  for (let i = 0; i < 40; i++) {
    users.push(
      user(`u${String(i).padStart(2, '0')}`, {
        userPrincipalName: `p${(i * 7) % 40}@contoso.com`,
        mail: i % 10 === 0 ? 'shared@contoso.com' : `m${i}@contoso.com`,
        accountEnabled: i % 9 !== 0,
        userType: i % 4 === 0 ? 'Guest' : 'Member',
        businessPhones: [i % 6 === 0 ? '+1 425 555 0100' : `x${2000 + (i % 15)}`],
      }),
    );
  }
  const extensions: PbxExtension[] = [
    manualExt('m1', '1001', { email: 'm3@contoso.com' }),
    manualExt('m2', '2003'),
    syncedExt(users[5], '1500'),
    syncedExt(user('gone'), '1501'),
    { ...syncedExt(users[6], '1502'), firstName: 'Old' },
  ];
  it.each<[string, UserSyncRule, number]>([
    ['AUTO', userRule({ autoAssociate: true, range: { type: 'BY_TYPE', userTypes: ['Member'] } }), 20],
    ['FROM_PROPERTY', userRule({ numbering: { mode: 'FROM_PROPERTY', property: 'businessPhones' } }), 12],
  ])('shuffled input gives the identical plan (%s, with conflicts and capacity)', (_name, rule, capacity) => {
    const reference = plan(users, extensions, rule, [], capacity);
    expect(new Set(reference.items.map((i) => i.action)).size).toBeGreaterThanOrEqual(4);
    for (let seed = 1; seed <= 8; seed++) {
      const again = plan(shuffle(users, seed), shuffle(extensions, seed * 31), rule, [], capacity);
      expect(JSON.stringify(again)).toBe(JSON.stringify(reference));
    }
  });

  it('items come sorted by action (apply order), then by lower-cased UPN', () => {
    const p = plan(
      [
        user('z', { userPrincipalName: 'A@x' }),
        user('y', { userPrincipalName: 'b@x' }),
        user('x', { accountEnabled: false }),
      ],
      [syncedExt(user('w'), '1999')],
      userRule(),
    );
    expect(lines(p)).toEqual([
      'DELETE USER_DELETED w',
      'CREATE NEW_USER z',
      'CREATE NEW_USER y',
      'SKIP USER_DISABLED x',
    ]);
  });
});

describe('U1 range', () => {
  const members = [user('m1'), user('m2')];
  const guests = [user('g1', { userType: 'Guest' })];
  const nestedOnly = user('n1');
  const viaTransitive = user('t1');
  const all = [...members, ...guests, nestedOnly, viaTransitive];
  const groups = [
    group('sales', { memberUserIds: ['m1', 'g1'], memberGroupIds: ['emea'] }),
    group('emea', { memberUserIds: ['n1'] }),
    group('ops', { memberUserIds: ['m2'], transitiveMemberUserIds: ['m2', 't1'] }),
  ];
  it.each<[string, UserSyncRule, string[]]>([
    ['ALL', userRule({ range: { type: 'ALL' } }), ['g1', 'm1', 'm2', 'n1', 't1']],
    [
      'BY_TYPE Member',
      userRule({ range: { type: 'BY_TYPE', userTypes: ['Member'] } }),
      ['m1', 'm2', 'n1', 't1'],
    ],
    ['BY_TYPE Guest', userRule({ range: { type: 'BY_TYPE', userTypes: ['Guest'] } }), ['g1']],
    [
      'BY_TYPE Member and Guest',
      userRule({ range: { type: 'BY_TYPE', userTypes: ['Member', 'Guest'] } }),
      ['g1', 'm1', 'm2', 'n1', 't1'],
    ],
    ['BY_GROUPS direct', userRule({ range: { type: 'BY_GROUPS', groupIds: ['sales'] } }), ['g1', 'm1']],
    [
      'BY_GROUPS nested (closure over member groups)',
      userRule({ range: { type: 'BY_GROUPS', groupIds: ['sales'] }, includeNestedMembers: true }),
      ['g1', 'm1', 'n1'],
    ],
    [
      'BY_GROUPS nested (transitive members as read)',
      userRule({ range: { type: 'BY_GROUPS', groupIds: ['ops'] }, includeNestedMembers: true }),
      ['m2', 't1'],
    ],
    [
      'BY_GROUPS direct of two groups',
      userRule({ range: { type: 'BY_GROUPS', groupIds: ['ops', 'emea'] } }),
      ['m2', 'n1'],
    ],
    ['BY_GROUPS unknown group', userRule({ range: { type: 'BY_GROUPS', groupIds: ['nope'] } }), []],
  ])('U1 %s', (_name, rule, expected) => {
    const p = plan(all, [], rule, groups);
    expect(
      only(p.items, 'CREATE')
        .map((i) => i.userId)
        .sort(),
    ).toEqual(expected);
    expect(p.items.every((i) => i.action === 'CREATE')).toBe(true);
  });
});

describe('U2 extensions no longer in sync', () => {
  const a = user('a');
  const b = user('b', { userType: 'Guest' });
  const current = [syncedExt(a, '1000'), syncedExt(b, '1001')];
  it.each<[boolean, string[]]>([
    [true, ['DELETE OUT_OF_RANGE b']],
    [false, ['RELEASE OUT_OF_RANGE b']],
  ])('U2 auto delete %s: a user who leaves the range', (autoDelete, expected) => {
    const p = plan(
      [a, b],
      current,
      userRule({ autoDelete, range: { type: 'BY_TYPE', userTypes: ['Member'] } }),
    );
    expect(lines(p)).toEqual(expected);
    expect(p.items[0]).toMatchObject({ extensionId: 'ext-b', number: '1001' });
  });

  it('U2 off: a released extension is no longer matched; back in range, the user gets a new one', () => {
    const rule = userRule({ autoDelete: false, range: { type: 'BY_TYPE', userTypes: ['Member'] } });
    const released = applyUserPlan(current, plan([a, b], current, rule));
    expect(released.find((e) => e.id === 'ext-b')).toMatchObject({ source: 'MANUAL', externalId: null });
    // b back in range, with another email: the released extension is unsynced and keeps its number.
    const back = plan([a, user('b', { mail: 'b2@contoso.com' })], released, userRule());
    expect(lines(back)).toEqual(['CREATE NEW_USER b']);
    expect(back.items[0].number).toBe('1002');
    // With U5 on, the same user back in range takes its old extension (and number) over again.
    const reassociated = plan([a, b], released, userRule({ autoAssociate: true }));
    expect(lines(reassociated)).toEqual(['ASSOCIATE EMAIL_MATCH b']);
    expect(reassociated.items[0]).toMatchObject({ extensionId: 'ext-b', number: '1001' });
    // With U5 off, its email is now an unsynced extension's: reported.
    expect(lines(plan([a, b], released, userRule()))).toEqual(['FAIL DUPLICATE_EMAIL b']);
  });
});

describe('U3 AUTO numbering', () => {
  it("U3 AUTO keeps a user's number across syncs, even below the start number", () => {
    const a = user('a', { jobTitle: 'New title' });
    const p = plan(
      [a],
      [syncedExt(user('a'), '500')],
      userRule({ numbering: { mode: 'AUTO', startNumber: '1000' } }),
    );
    expect(p.items).toHaveLength(1);
    expect(p.items[0]).toMatchObject({ action: 'UPDATE', number: '500' });
    expect(only(p.items, 'UPDATE')[0].changes).toEqual([{ field: 'jobTitle', from: null, to: 'New title' }]);
  });

  it('U3 AUTO gives new users the lowest free numbers from the start, skipping any held number, in UPN order', () => {
    const users = [
      user('1', { userPrincipalName: 'carol@x' }),
      user('2', { userPrincipalName: 'Alice@x' }),
      user('3', { userPrincipalName: 'bob@x' }),
      user('4', { userPrincipalName: 'dave@x' }),
    ];
    const current = [manualExt('m1', '1000'), syncedExt(users[3], '1002'), manualExt('m3', '1004')];
    const p = plan(users, current, userRule());
    expect(only(p.items, 'CREATE').map((i) => [i.userPrincipalName, i.number])).toEqual([
      ['Alice@x', '1001'],
      ['bob@x', '1003'],
      ['carol@x', '1005'],
    ]);
  });

  it.each<[string | undefined, string]>([
    [undefined, '1000'],
    ['5000', '5000'],
    ['7', '7'],
  ])('U3 AUTO start number %s gives %s first', (startNumber, first) => {
    const p = plan([user('a')], [], userRule({ numbering: { mode: 'AUTO', startNumber } }));
    expect(p.items[0]).toMatchObject({ action: 'CREATE', number: first });
  });

  it('U3 AUTO reports NUMBERS_EXHAUSTED past 9999999', () => {
    const p = plan(
      [user('a'), user('b')],
      [],
      userRule({ numbering: { mode: 'AUTO', startNumber: '9999999' } }),
    );
    expect(lines(p)).toEqual(['CREATE NEW_USER a', 'FAIL NUMBERS_EXHAUSTED b']);
  });

  it('U3 AUTO does not reuse the number of an extension deleted in the same run', () => {
    const gone = syncedExt(user('gone'), '1000');
    const p = plan([user('a')], [gone], userRule());
    expect(lines(p)).toEqual(['DELETE USER_DELETED gone', 'CREATE NEW_USER a']);
    expect(p.items[1].number).toBe('1001');
  });
});

describe('U3 FROM_PROPERTY numbering', () => {
  const rule = userRule({ numbering: { mode: 'FROM_PROPERTY', property: 'businessPhones' } });
  const phone = (id: string, value: string | null, over: Partial<DirectoryUser> = {}) =>
    user(id, { businessPhones: value === null ? [] : [value], ...over });

  it.each<[string, DirectoryUser[], PbxExtension[], string[], (string | null)[]]>([
    ['a valid value', [phone('a', '+1 425 555 0100 x1234')], [], ['CREATE NEW_USER a'], ['1234']],
    ['an invalid value', [phone('a', '+1 425 555 0100')], [], ['FAIL INVALID_EXTENSION_NUMBER a'], [null]],
    ['an empty property', [phone('a', null)], [], ['FAIL INVALID_EXTENSION_NUMBER a'], [null]],
    [
      'a number held by an unsynced extension',
      [phone('a', '2000')],
      [manualExt('m1', '2000')],
      ['FAIL NUMBER_IN_USE a'],
      [null],
    ],
    [
      'two new users wanting one free number: neither gets it',
      [phone('a', '2000'), phone('b', 'x2000'), phone('c', '2001')],
      [],
      ['CREATE NEW_USER c', 'FAIL NUMBER_IN_USE a', 'FAIL NUMBER_IN_USE b'],
      ['2001', null, null],
    ],
    [
      'a synced user keeps its number; a new user wanting it fails',
      [phone('a', '2000'), phone('b', '2000')],
      [syncedExt(phone('a', '2000'), '2000')],
      ['FAIL NUMBER_IN_USE b'],
      [null],
    ],
    [
      "a synced user's number changes to a free one",
      [phone('a', '2005')],
      [syncedExt(phone('a', '2000'), '2000')],
      ['UPDATE USER_CHANGED a'],
      ['2005'],
    ],
    [
      "a synced user's number turns invalid: reported, extension kept as it is",
      [phone('a', 'call me', { jobTitle: 'Boss' })],
      [syncedExt(phone('a', '2000'), '2000')],
      ['FAIL INVALID_EXTENSION_NUMBER a'],
      ['2000'],
    ],
    [
      'two synced users swapping numbers: both reported (never take a number from someone)',
      [phone('a', '2001'), phone('b', '2000')],
      [syncedExt(phone('a', '2000'), '2000'), syncedExt(phone('b', '2001'), '2001')],
      ['FAIL NUMBER_IN_USE a', 'FAIL NUMBER_IN_USE b'],
      ['2000', '2001'],
    ],
  ])('U3 FROM_PROPERTY: %s', (_name, users, current, expected, numbers) => {
    const p = plan(users, current, rule);
    expect(lines(p)).toEqual(expected);
    expect(p.items.map((i) => i.number)).toEqual(numbers);
  });

  it('U3 FROM_PROPERTY reads any property, e.g. employeeId', () => {
    const p = plan(
      [user('a', { properties: { employeeId: '3001' } })],
      [],
      userRule({ numbering: { mode: 'FROM_PROPERTY', property: 'employeeId' } }),
    );
    expect(p.items[0]).toMatchObject({ action: 'CREATE', number: '3001' });
  });

  it('U3 FROM_PROPERTY with U5: the taken-over extension moves to the property number when it is free', () => {
    const p = plan(
      [phone('a', '2100')],
      [manualExt('m1', '1000', { email: 'a@contoso.com' })],
      userRule({ ...rule, autoAssociate: true }),
    );
    expect(lines(p)).toEqual(['ASSOCIATE EMAIL_MATCH a']);
    expect(only(p.items, 'ASSOCIATE')[0].changes[0]).toEqual({ field: 'number', from: '1000', to: '2100' });
  });
});

describe('U4 delete when disabled / deleted', () => {
  const eighty = new Date(NOW.getTime() - 80 * 24 * 3600 * 1000).toISOString();
  const tenDays = new Date(NOW.getTime() - 10 * 24 * 3600 * 1000).toISOString();
  const states: [string, DirectoryUser | null][] = [
    ['disabled', user('a', { accountEnabled: false, jobTitle: 'Changed' })],
    ['soft-deleted', user('a', { deletionState: 'SOFT_DELETED', deletedDateTime: tenDays })],
    ['soft-deleted over 30 days ago', user('a', { deletionState: 'SOFT_DELETED', deletedDateTime: eighty })],
    ['hard-deleted', user('a', { deletionState: 'HARD_DELETED' })],
    ['absent from the directory', null],
  ];
  const expected = (state: string, disabled: boolean, deleted: boolean): string => {
    if (state === 'disabled') return disabled ? 'DELETE USER_DISABLED a' : 'UPDATE USER_CHANGED a';
    if (state === 'soft-deleted') return deleted ? 'DELETE USER_SOFT_DELETED a' : 'SKIP USER_SOFT_DELETED a';
    return deleted ? 'DELETE USER_DELETED a' : 'RELEASE USER_DELETED a';
  };
  const cases: [string, boolean, boolean, DirectoryUser | null, string][] = [];
  for (const [state, u] of states) {
    for (const disabled of [true, false]) {
      for (const deleted of [true, false])
        cases.push([state, disabled, deleted, u, expected(state, disabled, deleted)]);
    }
  }
  it.each(cases)('U4 a %s user with disabled=%s deleted=%s', (_state, disabled, deleted, u, line) => {
    const p = plan(
      u ? [u] : [],
      [syncedExt(user('a'), '1000')],
      userRule({ deleteWhen: { disabled, deleted } }),
    );
    expect(lines(p)).toEqual([line]);
    expect(p.items[0]).toMatchObject({ extensionId: 'ext-a', number: '1000' });
  });

  it.each<[boolean, string[]]>([
    [true, ['SKIP USER_DISABLED a']],
    [false, ['CREATE NEW_USER a']],
  ])('U4 disabled=%s: a disabled user without an extension', (disabled, expectedLines) => {
    const p = plan(
      [user('a', { accountEnabled: false })],
      [],
      userRule({ deleteWhen: { disabled, deleted: true } }),
    );
    expect(lines(p)).toEqual(expectedLines);
  });

  it('U4 deleted users without an extension plan nothing', () => {
    const p = plan(
      [user('a', { deletionState: 'SOFT_DELETED' }), user('b', { deletionState: 'HARD_DELETED' })],
      [],
      userRule({ deleteWhen: { disabled: false, deleted: false } }),
    );
    expect(p.items).toEqual([]);
  });

  it('U4 a restored user (soft-deleted, kept) carries on with its extension and number', () => {
    const rule = userRule({ deleteWhen: { disabled: true, deleted: false } });
    const current = [syncedExt(user('a'), '1000')];
    const deletedPlan = plan([user('a', { deletionState: 'SOFT_DELETED' })], current, rule);
    const after = applyUserPlan(current, deletedPlan);
    expect(after).toEqual(current);
    expect(plan([user('a')], after, rule).items).toEqual([]);
  });

  it('U4 out of range comes before disabled: U2 decides', () => {
    const p = plan(
      [user('a', { accountEnabled: false, userType: 'Guest' })],
      [syncedExt(user('a'), '1000')],
      userRule({ autoDelete: false, range: { type: 'BY_TYPE', userTypes: ['Member'] } }),
    );
    expect(lines(p)).toEqual(['RELEASE OUT_OF_RANGE a']);
  });
});

describe('U5 auto associate by email', () => {
  const holder = manualExt('m1', '1234', {
    email: 'Alice@Contoso.com',
    firstName: 'Old',
    jobTitle: 'Old job',
  });
  const alice = user('a', {
    mail: 'alice@contoso.com',
    givenName: 'Alice',
    surname: 'Smith',
    jobTitle: 'CTO',
  });
  it.each<[string, boolean, DirectoryUser[], PbxExtension[], string[]]>([
    ['on: takes over the unsynced extension', true, [alice], [holder], ['ASSOCIATE EMAIL_MATCH a']],
    ['off: duplicate email reported', false, [alice], [holder], ['FAIL DUPLICATE_EMAIL a']],
    [
      'on: the UPN counts when there is no mail',
      true,
      [user('a', { mail: null, userPrincipalName: 'ALICE@contoso.com' })],
      [holder],
      ['ASSOCIATE EMAIL_MATCH a'],
    ],
    [
      'on: an email held by another synced user is never taken',
      true,
      [alice, user('b', { mail: 'alice@contoso.com' })],
      [syncedExt(user('b', { mail: 'alice@contoso.com' }), '1500')],
      ['FAIL DUPLICATE_EMAIL a'],
    ],
    [
      'on: two new users with one email: neither',
      true,
      [alice, user('b', { mail: 'ALICE@contoso.com' })],
      [holder],
      ['FAIL DUPLICATE_EMAIL a', 'FAIL DUPLICATE_EMAIL b'],
    ],
    [
      'off: two new users with one free email: neither (emails are unique among created extensions)',
      false,
      [alice, user('b', { mail: 'alice@contoso.com' })],
      [],
      ['FAIL DUPLICATE_EMAIL a', 'FAIL DUPLICATE_EMAIL b'],
    ],
    [
      "on: a synced user's new email held by an unsynced extension is reported, not associated",
      true,
      [alice],
      [holder, syncedExt(user('a'), '1000')],
      ['FAIL DUPLICATE_EMAIL a'],
    ],
  ])('U5 %s', (_name, autoAssociate, users, current, expected) => {
    const p = plan(users, current, userRule({ autoAssociate }));
    expect(lines(p)).toEqual(expected);
  });

  it('U5 on: the user information of the taken-over extension is overwritten, its number kept (AUTO)', () => {
    const p = plan([alice], [holder], userRule({ autoAssociate: true }));
    const item = only(p.items, 'ASSOCIATE')[0];
    expect(item).toMatchObject({ extensionId: 'm1', number: '1234' });
    expect(item.extension).toEqual({
      number: '1234',
      firstName: 'Alice',
      lastName: 'Smith',
      email: 'alice@contoso.com',
      mobileNumber: null,
      jobTitle: 'CTO',
    });
    expect(item.changes.map((c) => c.field)).toEqual(['firstName', 'lastName', 'email', 'jobTitle']);
  });

  it('U5 a failed synced user keeps its extension as it is (no partial update)', () => {
    const p = plan([alice], [holder, syncedExt(user('a'), '1000')], userRule({ autoAssociate: true }));
    expect(p.items[0]).toMatchObject({ action: 'FAIL', extensionId: 'ext-a', number: '1000' });
    expect(p.items[0].detail).toContain('m1');
  });
});

describe('U6 welcome email', () => {
  it.each([true, false])('U6 welcomeEmail=%s is carried on CREATE', (welcomeEmail) => {
    const p = plan([user('a')], [], userRule({ welcomeEmail }));
    expect(only(p.items, 'CREATE')[0].sendWelcomeEmail).toBe(welcomeEmail);
  });
});

describe('U9 synced fields', () => {
  it('U9 CREATE carries names, email, mobile and job title; no given/surname falls back to displayName', () => {
    const p = plan(
      [
        user('a', { givenName: ' Ann ', surname: 'Lee', mobilePhone: '+1 425 555 0199', jobTitle: 'Ops' }),
        user('b', { givenName: null, surname: null, displayName: 'Front Desk', mail: '  ' }),
      ],
      [],
      userRule(),
    );
    expect(only(p.items, 'CREATE').map((i) => i.extension)).toEqual([
      {
        number: '1000',
        firstName: 'Ann',
        lastName: 'Lee',
        email: 'a@contoso.com',
        mobileNumber: '+1 425 555 0199',
        jobTitle: 'Ops',
      },
      {
        number: '1001',
        firstName: 'Front Desk',
        lastName: '',
        email: 'b@contoso.com',
        mobileNumber: null,
        jobTitle: null,
      },
    ]);
  });

  it('U9 a hand edit of a synced field is overwritten at the next sync', () => {
    const a = user('a');
    const edited = { ...syncedExt(a, '1000'), lastName: 'Hand-edited', mobileNumber: '123' };
    const p = plan([a], [edited], userRule());
    expect(only(p.items, 'UPDATE')[0].changes).toEqual([
      { field: 'lastName', from: 'Hand-edited', to: 'Sur-a' },
      { field: 'mobileNumber', from: '123', to: null },
    ]);
  });
});

describe('U10 capacity', () => {
  const users = ['e', 'a', 'd', 'b', 'c'].map((id) => user(id));
  it('U10 users past the capacity fail CAPACITY_REACHED, the last ones by UPN', () => {
    const p = plan(users, [manualExt('m1', '1000'), manualExt('m2', '1001')], userRule(), [], 5);
    expect(lines(p)).toEqual([
      'CREATE NEW_USER a',
      'CREATE NEW_USER b',
      'CREATE NEW_USER c',
      'FAIL CAPACITY_REACHED d',
      'FAIL CAPACITY_REACHED e',
    ]);
    expect(only(p.items, 'CREATE').map((i) => i.number)).toEqual(['1002', '1003', '1004']);
    expect(p.suppressed.map((s) => [s.policy, s.outcome, s.item.action, s.item.userId])).toEqual([
      ['CAPACITY', 'FAILED', 'CREATE', 'd'],
      ['CAPACITY', 'FAILED', 'CREATE', 'e'],
    ]);
  });

  it('U10 deletes applied in the same run free room; ASSOCIATE needs none', () => {
    const p = plan(
      [user('a'), user('b'), user('c', { mail: 'c@x' })],
      [syncedExt(user('gone'), '1000'), manualExt('m1', '1001', { email: 'c@x' })],
      userRule({ autoAssociate: true }),
      [],
      2,
    );
    expect(lines(p)).toEqual([
      'DELETE USER_DELETED gone',
      'ASSOCIATE EMAIL_MATCH c',
      'CREATE NEW_USER a',
      'FAIL CAPACITY_REACHED b',
    ]);
  });

  it('U10 held deletes free no room', () => {
    const gone = Array.from({ length: 20 }, (_, i) => syncedExt(user(`gone${i}`), String(2000 + i)));
    const p = plan([user('a')], gone, userRule(), [], 20);
    expect(p.held).toBe(true);
    expect(lines(p)).toEqual(['FAIL CAPACITY_REACHED a']);
  });
});

describe('deletion guard in the user plan', () => {
  const synced = Array.from({ length: 100 }, (_, i) => user(`u${String(i).padStart(3, '0')}`));
  const current = synced.map((u, i) => syncedExt(u, String(1000 + i)));
  it('holds a mass delete (11 of 100 synced: more than 10 and more than 10 %), naming each', () => {
    const p = plan([...synced.slice(11), user('new')], current, userRule());
    expect(p.held).toBe(true);
    expect(p.items.some((i) => i.action === 'DELETE')).toBe(false);
    expect(p.heldDeletes.map((i) => `${i.action} ${i.reason} ${i.userId} ${i.extensionId}`)).toEqual(
      synced.slice(0, 11).map((u) => `DELETE USER_DELETED ${u.id} ext-${u.id}`),
    );
    expect(lines(p)).toEqual(['CREATE NEW_USER new']);
    expect(p.guard).toEqual({
      deletes: 11,
      recentDeletes: 0,
      synced: 100,
      maxDeletes: 10,
      maxDeleteRatio: 0.1,
      held: true,
    });
    expect(summarizePlan(p)).toMatchObject({ delete: 0, create: 1, held: 11 });
  });

  it('does not hold a small one (10 of 100)', () => {
    const p = plan(synced.slice(10), current, userRule());
    expect(p.held).toBe(false);
    expect(only(p.items, 'DELETE')).toHaveLength(10);
  });

  it('the thresholds are settable', () => {
    const p = planUserSync({
      directory: { users: synced.slice(3) },
      current: { extensions: current },
      rule: userRule(),
      capacity: BIG,
      now: NOW,
      deletionGuard: { maxDeletes: 2, maxDeleteRatio: 0.01 },
    });
    expect(p.held).toBe(true);
    expect(p.heldDeletes).toHaveLength(3);
  });

  it('does not count releases (U2 off) as deletes', () => {
    const p = plan([], current, userRule({ deleteWhen: { disabled: true, deleted: false } }));
    expect(p.held).toBe(false);
    expect(only(p.items, 'RELEASE')).toHaveLength(100);
  });
});

describe('matching', () => {
  it('users match extensions by object id, never by name or email', () => {
    const renamed = user('a', {
      displayName: 'Totally new',
      givenName: 'New',
      surname: 'Name',
      mail: 'new@x',
    });
    const p = plan([renamed], [syncedExt(user('a'), '1000')], userRule());
    expect(lines(p)).toEqual(['UPDATE USER_CHANGED a']);
    expect(p.items[0].extensionId).toBe('ext-a');
  });

  it('an unsynced extension with the same name is not matched', () => {
    const a = user('a', { mail: 'a@x' });
    const p = plan(
      [a],
      [{ ...manualExt('m1', '1000'), firstName: 'Given-a', lastName: 'Sur-a' }],
      userRule(),
    );
    expect(lines(p)).toEqual(['CREATE NEW_USER a']);
  });

  it('a second synced extension of one user is reported, not deleted', () => {
    const a = user('a');
    const p = planUserChanges({
      directory: { users: [a] },
      current: { extensions: [syncedExt(a, '1001', 'x2'), syncedExt(a, '1000', 'x1')] },
      rule: userRule(),
      capacity: BIG,
      now: NOW,
    });
    expect(p.items.map((i) => `${i.action} ${i.reason} ${i.extensionId}`)).toEqual([
      'FAIL DUPLICATE_EXTERNAL_ID x2',
    ]);
  });

  it("duplicates name their user when it is in the directory, the extension's name when it is gone", () => {
    const a = user('a', { displayName: 'Alice A' });
    const gone = user('gone');
    const p = planUserChanges({
      directory: { users: [user('b'), a] },
      current: {
        extensions: [
          syncedExt(gone, '1003', 'y2'),
          syncedExt(a, '1001', 'x2'),
          syncedExt(a, '1000', 'x1'),
          syncedExt(gone, '1002', 'y1'),
        ],
      },
      rule: userRule(),
      capacity: BIG,
      now: NOW,
    });
    expect(p.items.map((i) => `${i.action} ${i.reason} ${i.extensionId} ${i.displayName}`)).toEqual([
      'DELETE USER_DELETED y1 Given-gone Sur-gone',
      'CREATE NEW_USER null User b',
      'FAIL DUPLICATE_EXTERNAL_ID y2 Given-gone Sur-gone',
      'FAIL DUPLICATE_EXTERNAL_ID x2 Alice A',
    ]);
  });
});
