import { describe, expect, it } from 'vitest';
import type { DirectoryGroup } from '../../src/domain/directory.types.js';
import { groupKindOf } from '../../src/domain/directory.types.js';
import { createMembershipResolver } from '../../src/domain/directory-membership.js';
import { group } from './domain.fixtures.js';

const groups = new Map<string, DirectoryGroup>(
  [
    group('a', { memberUserIds: ['u1'], memberGroupIds: ['b', 'gone'] }),
    group('b', { memberUserIds: ['u2'], memberGroupIds: ['c'] }),
    group('c', { memberUserIds: ['u3'], memberGroupIds: ['a'] }),
    group('d', { memberUserIds: ['u4'], memberGroupIds: ['a'], transitiveMemberUserIds: ['u4', 'u9'] }),
    group('e', { memberUserIds: ['u5'], memberGroupIds: ['x'] }),
    group('x', { memberUserIds: ['u6'], deletionState: 'SOFT_DELETED' }),
  ].map((g) => [g.id, g]),
);

describe('G5 / U1 membership: direct, or nested', () => {
  it.each<[string, boolean, string[]]>([
    ['a', false, ['u1']],
    ['a', true, ['u1', 'u2', 'u3']],
    ['c', true, ['u1', 'u2', 'u3']],
    ['d', true, ['u4', 'u9']],
    ['d', false, ['u4']],
    ['e', true, ['u5']],
    ['x', false, []],
    ['unknown', true, []],
  ])('group %s nested=%s', (id, nested, expected) => {
    expect([...createMembershipResolver(groups, nested)(id)].sort()).toEqual(expected);
  });
});

describe('G1 group kinds from Graph', () => {
  it.each<[object, string]>([
    [{ groupTypes: ['Unified'], securityEnabled: false, mailEnabled: true }, 'MICROSOFT_365'],
    [{ groupTypes: ['Unified', 'DynamicMembership'], securityEnabled: true }, 'MICROSOFT_365'],
    [{ groupTypes: [], securityEnabled: true, mailEnabled: false }, 'SECURITY'],
    [{ groupTypes: [], securityEnabled: true, mailEnabled: true }, 'SECURITY'],
    [{ groupTypes: [], securityEnabled: false, mailEnabled: true }, 'OTHER'],
    [{}, 'OTHER'],
  ])('%j → %s', (graph, kind) => {
    expect(groupKindOf(graph)).toBe(kind);
  });
});
