import { describe, expect, it } from 'vitest';
import type { DirectoryGroup, DirectoryUser } from '../../src/domain/directory.types.js';
import {
  applyDirectoryDelta,
  createDirectorySnapshot,
  type DirectoryDelta,
  type DirectorySnapshot,
} from '../../src/domain/directory-delta.js';
import { group, NOW, user } from './domain.fixtures.js';

const alice = user('a', {
  jobTitle: 'Engineer',
  mobilePhone: '+1 555',
  businessPhones: ['x1000'],
  properties: { employeeId: '7' },
});
const bob = user('b');
const base = (): DirectorySnapshot =>
  createDirectorySnapshot(
    [alice, bob],
    [
      group('g', { memberUserIds: ['a'], memberGroupIds: [], transitiveMemberUserIds: ['a'] }),
      group('h', { memberUserIds: ['b'], transitiveMemberUserIds: ['b'] }),
    ],
  );

function userAfter(delta: DirectoryDelta, id = 'a'): DirectoryUser | undefined {
  return applyDirectoryDelta(base(), delta, NOW).users.get(id);
}
function groupAfter(delta: DirectoryDelta, id = 'g'): DirectoryGroup | undefined {
  return applyDirectoryDelta(base(), delta, NOW).groups.get(id);
}

describe('applyDirectoryDelta: users (Prefer: return=minimal)', () => {
  it.each<[string, DirectoryDelta, Partial<DirectoryUser> | undefined]>([
    [
      'an absent property is unchanged',
      { users: [{ id: 'a', surname: 'New' }] },
      { surname: 'New', jobTitle: 'Engineer', mobilePhone: '+1 555' },
    ],
    [
      'null clears a property',
      { users: [{ id: 'a', jobTitle: null, businessPhones: null }] },
      { jobTitle: null, businessPhones: [] },
    ],
    [
      'accountEnabled false',
      { users: [{ id: 'a', accountEnabled: false }] },
      { accountEnabled: false, jobTitle: 'Engineer' },
    ],
    [
      'properties merge key by key; null removes',
      { users: [{ id: 'a', properties: { employeeId: null, badge: 'x' } }] },
      { properties: { badge: 'x' } },
    ],
    [
      "@removed 'changed' soft-deletes and keeps the data",
      { users: [{ id: 'a', removed: 'changed' }] },
      { deletionState: 'SOFT_DELETED', deletedDateTime: NOW.toISOString(), jobTitle: 'Engineer' },
    ],
    ["@removed 'deleted' drops the user", { users: [{ id: 'a', removed: 'deleted' }] }, undefined],
    [
      'a restore after a soft delete makes the user present again',
      {
        users: [
          { id: 'a', removed: 'changed' },
          { id: 'a', displayName: 'Back' },
        ],
      },
      { deletionState: 'PRESENT', deletedDateTime: null, displayName: 'Back', jobTitle: 'Engineer' },
    ],
    [
      'later records about one user win',
      {
        users: [
          { id: 'a', surname: 'One' },
          { id: 'a', surname: 'Two' },
        ],
      },
      { surname: 'Two' },
    ],
  ])('%s', (_name, delta, expected) => {
    const after = userAfter(delta);
    if (expected === undefined) expect(after).toBeUndefined();
    else expect(after).toMatchObject(expected);
  });

  it('an unknown user starts from a blank, enabled Member record', () => {
    expect(userAfter({ users: [{ id: 'n', userPrincipalName: 'n@x', mail: 'n@x' }] }, 'n')).toMatchObject({
      id: 'n',
      userPrincipalName: 'n@x',
      mail: 'n@x',
      accountEnabled: true,
      userType: 'Member',
      deletionState: 'PRESENT',
      businessPhones: [],
    });
  });

  it('an unknown soft-deleted user becomes a blank soft-deleted record', () => {
    expect(userAfter({ users: [{ id: 'n', removed: 'changed' }] }, 'n')).toMatchObject({
      deletionState: 'SOFT_DELETED',
    });
  });

  it('keeps the first soft-delete time when the removal is replayed', () => {
    const once = applyDirectoryDelta(base(), { users: [{ id: 'a', removed: 'changed' }] }, NOW);
    const later = new Date(NOW.getTime() + 3600_000);
    const twice = applyDirectoryDelta(once, { users: [{ id: 'a', removed: 'changed' }] }, later);
    expect(twice.users.get('a')?.deletedDateTime).toBe(NOW.toISOString());
  });

  it('replaying a delta changes nothing more, and the old snapshot is untouched', () => {
    const snapshot = base();
    const delta: DirectoryDelta = {
      users: [
        { id: 'a', jobTitle: 'Lead' },
        { id: 'b', removed: 'deleted' },
      ],
      groups: [{ id: 'g', membersDelta: [{ id: 'b', type: 'user' }] }],
    };
    const once = applyDirectoryDelta(snapshot, delta, NOW);
    expect(applyDirectoryDelta(once, delta, NOW)).toEqual(once);
    expect(snapshot).toEqual(base());
  });
});

describe('applyDirectoryDelta: groups', () => {
  it.each<[string, DirectoryDelta, Partial<DirectoryGroup> | undefined]>([
    [
      'a renamed group',
      { groups: [{ id: 'g', displayName: 'Renamed' }] },
      { displayName: 'Renamed', memberUserIds: ['a'] },
    ],
    [
      'members@delta adds and removes users and groups, ignores other objects',
      {
        groups: [
          {
            id: 'g',
            membersDelta: [
              { id: 'c', type: 'user' },
              { id: 'a', type: 'user', removed: true },
              { id: 'h', type: 'group' },
              { id: 'dev', type: 'other' },
            ],
          },
        ],
      },
      { memberUserIds: ['c'], memberGroupIds: ['h'] },
    ],
    [
      "@removed 'changed' soft-deletes",
      { groups: [{ id: 'g', removed: 'changed' }] },
      { deletionState: 'SOFT_DELETED' },
    ],
    ["@removed 'deleted' drops the group", { groups: [{ id: 'g', removed: 'deleted' }] }, undefined],
  ])('%s', (_name, delta, expected) => {
    const after = groupAfter(delta);
    if (expected === undefined) expect(after).toBeUndefined();
    else expect(after).toMatchObject(expected);
  });

  it('a new group starts from a blank record', () => {
    const delta: DirectoryDelta = {
      groups: [
        { id: 'n', displayName: 'New', kind: 'MICROSOFT_365', membersDelta: [{ id: 'a', type: 'user' }] },
      ],
    };
    expect(groupAfter(delta, 'n')).toMatchObject({
      displayName: 'New',
      kind: 'MICROSOFT_365',
      memberUserIds: ['a'],
      deletionState: 'PRESENT',
    });
  });

  it('a membership change drops every (possibly stale) transitive member list', () => {
    const after = applyDirectoryDelta(
      base(),
      { groups: [{ id: 'g', membersDelta: [{ id: 'b', type: 'user' }] }] },
      NOW,
    );
    expect(after.groups.get('g')?.transitiveMemberUserIds).toBeUndefined();
    expect(after.groups.get('h')?.transitiveMemberUserIds).toBeUndefined();
  });

  it('a rename keeps the transitive member lists', () => {
    const after = applyDirectoryDelta(base(), { groups: [{ id: 'g', displayName: 'X' }] }, NOW);
    expect(after.groups.get('h')?.transitiveMemberUserIds).toEqual(['b']);
  });
});

describe('createDirectorySnapshot', () => {
  it("keeps every group as read, member ids in order (known users' ids shared, unknown ones kept)", () => {
    const read = group('g', { memberUserIds: ['b', 'zz', 'a'], memberGroupIds: ['h'] });
    const snapshot = createDirectorySnapshot([alice, bob], [read, group('h', { memberUserIds: [] })]);
    expect(snapshot.groups.get('g')).toEqual(read);
    expect(snapshot.groups.get('h')).toEqual(group('h', { memberUserIds: [] }));
    expect([...snapshot.users.values()]).toEqual([alice, bob]);
    // The group read is left as it was (the snapshot holds a copy with the shared ids).
    expect(read.memberUserIds).toEqual(['b', 'zz', 'a']);
  });
});
