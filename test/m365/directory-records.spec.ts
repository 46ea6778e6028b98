import { describe, expect, it } from 'vitest';
import {
  GroupAssembly,
  toDirectoryUser,
  toGroupDeltaRecord,
  toGroupSummary,
  toMembersDelta,
  toUserDeltaRecord,
  userSelect,
} from '../../src/m365/directory-records.js';
import { asPage, retryAfterMs, versionRelative } from '../../src/m365/graph-paging.js';
import { splitGraphBaseUrl } from '../../src/m365/graph-transport.js';

describe('Graph JSON → directory records (pure)', () => {
  it('selects the core user properties plus the top-level name of each extra one, once', () => {
    const { select, extras } = userSelect([
      'employeeId',
      'onPremisesExtensionAttributes.extensionAttribute1',
      'onPremisesExtensionAttributes.extensionAttribute2',
      'businessPhones',
      ' employeeId ',
      'extension_0123456789abcdef0123456789abcdef_ext',
    ]);
    expect(extras).toEqual([
      'employeeId',
      'onPremisesExtensionAttributes',
      'extension_0123456789abcdef0123456789abcdef_ext',
    ]);
    expect(select).toEqual([
      'id',
      'displayName',
      'givenName',
      'surname',
      'mail',
      'userPrincipalName',
      'mobilePhone',
      'businessPhones',
      'jobTitle',
      'department',
      'accountEnabled',
      'userType',
      ...extras,
    ]);
    expect(() => userSelect(['a,b'])).toThrow(RangeError);
    expect(() => userSelect(['$top=1'])).toThrow(RangeError);
  });

  it('maps a user of GET /users, nulls and all', () => {
    expect(
      toDirectoryUser(
        {
          id: 'u1',
          displayName: 'Zoë Müller',
          givenName: null,
          surname: 'Müller',
          mail: null,
          userPrincipalName: 'zoe@contoso.com',
          mobilePhone: null,
          businessPhones: ['+49 30 1234567'],
          jobTitle: null,
          department: 'Sales',
          accountEnabled: false,
          userType: 'Guest',
          employeeId: null,
          onPremisesExtensionAttributes: { extensionAttribute1: '1234' },
        },
        ['employeeId', 'onPremisesExtensionAttributes'],
      ),
    ).toEqual({
      id: 'u1',
      displayName: 'Zoë Müller',
      givenName: null,
      surname: 'Müller',
      mail: null,
      userPrincipalName: 'zoe@contoso.com',
      mobilePhone: null,
      businessPhones: ['+49 30 1234567'],
      jobTitle: null,
      department: 'Sales',
      accountEnabled: false,
      userType: 'Guest',
      deletionState: 'PRESENT',
      deletedDateTime: null,
      properties: { onPremisesExtensionAttributes: { extensionAttribute1: '1234' } },
    });
    expect(
      toDirectoryUser(
        { id: 'u2', userPrincipalName: 'x@y', userType: null, deletedDateTime: '2026-01-02T03:04:05Z' },
        [],
        true,
      ),
    ).toMatchObject({
      businessPhones: [],
      accountEnabled: true,
      userType: 'Member',
      deletionState: 'SOFT_DELETED',
      deletedDateTime: '2026-01-02T03:04:05Z',
    });
  });

  it('maps users delta items: removed reasons, full and minimal representations', () => {
    expect(toUserDeltaRecord({ id: 'a', '@removed': { reason: 'changed' } })).toEqual({
      id: 'a',
      removed: 'changed',
    });
    expect(toUserDeltaRecord({ id: 'a', '@removed': { reason: 'deleted' } })).toEqual({
      id: 'a',
      removed: 'deleted',
    });
    expect(toUserDeltaRecord({ id: 'a', '@removed': {} })).toEqual({ id: 'a', removed: 'changed' });
    // full: every selected property with a value; never-set ones absent; cleared ones null
    expect(
      toUserDeltaRecord({
        id: 'b',
        displayName: 'B',
        userPrincipalName: 'b@c',
        businessPhones: [],
        accountEnabled: true,
        userType: 'Member',
        mobilePhone: null,
        employeeId: '7',
      }),
    ).toEqual({
      id: 'b',
      displayName: 'B',
      userPrincipalName: 'b@c',
      businessPhones: [],
      accountEnabled: true,
      userType: 'Member',
      mobilePhone: null,
      properties: { employeeId: '7' },
    });
    // minimal: only what changed; null clears, also for an extra property
    expect(toUserDeltaRecord({ id: 'c', jobTitle: null, businessPhones: null, employeeId: null })).toEqual({
      id: 'c',
      jobTitle: null,
      businessPhones: null,
      properties: { employeeId: null },
    });
    expect(toUserDeltaRecord({ id: 'd', '@odata.type': '#microsoft.graph.user' })).toEqual({ id: 'd' });
  });

  it('maps groups delta items and members@delta', () => {
    expect(toMembersDelta(undefined)).toEqual([]);
    expect(
      toMembersDelta([
        { '@odata.type': '#microsoft.graph.user', id: 'u' },
        { '@odata.type': '#microsoft.graph.group', id: 'g', '@removed': { reason: 'deleted' } },
        { '@odata.type': '#microsoft.graph.servicePrincipal', id: 's' },
        { id: 7 },
      ]),
    ).toEqual([
      { id: 'u', type: 'user' },
      { id: 'g', type: 'group', removed: true },
      { id: 's', type: 'other' },
    ]);
    expect(
      toGroupDeltaRecord({
        id: 'g1',
        displayName: 'Sales',
        groupTypes: [],
        securityEnabled: true,
        mailEnabled: false,
        'members@delta': [{ '@odata.type': '#microsoft.graph.user', id: 'u' }],
      }),
    ).toEqual({
      id: 'g1',
      displayName: 'Sales',
      kind: 'SECURITY',
      membersDelta: [{ id: 'u', type: 'user' }],
    });
    expect(toGroupDeltaRecord({ id: 'g2', groupTypes: ['Unified'] })).toEqual({
      id: 'g2',
      kind: 'MICROSOFT_365',
    });
    // not enough to tell the kind (minimal: only securityEnabled changed): left out
    expect(toGroupDeltaRecord({ id: 'g3', securityEnabled: false })).toEqual({ id: 'g3' });
    expect(toGroupDeltaRecord({ id: 'g4', '@removed': { reason: 'deleted' } })).toEqual({
      id: 'g4',
      removed: 'deleted',
    });
    expect(toGroupSummary({ id: 'g5', displayName: 'DL', groupTypes: [], securityEnabled: false })).toEqual({
      id: 'g5',
      displayName: 'DL',
      kind: 'OTHER',
      description: null,
    });
  });

  it('assembles a group whose members come over several items', () => {
    const g = new GroupAssembly('g');
    g.take({ displayName: 'Big', groupTypes: ['Unified'], securityEnabled: false });
    for (const m of toMembersDelta([
      { '@odata.type': '#microsoft.graph.user', id: 'b' },
      { '@odata.type': '#microsoft.graph.group', id: 'n' },
    ]))
      g.member(m);
    g.take({ displayName: 'Big' });
    for (const m of toMembersDelta([
      { '@odata.type': '#microsoft.graph.user', id: 'a' },
      { '@odata.type': '#microsoft.graph.user', id: 'b' },
      { '@odata.type': '#microsoft.graph.device', id: 'd' },
    ]))
      g.member(m);
    expect(g.toGroup()).toEqual({
      id: 'g',
      displayName: 'Big',
      kind: 'MICROSOFT_365',
      memberUserIds: ['a', 'b'],
      memberGroupIds: ['n'],
    });
  });
});

describe('paging helpers (pure)', () => {
  it('reads pages, Retry-After and version-relative links', () => {
    expect(asPage({ value: [{ id: 1 }], '@odata.nextLink': 'n' })).toEqual({
      value: [{ id: 1 }],
      nextLink: 'n',
      deltaLink: undefined,
    });
    expect(asPage(undefined)).toEqual({ value: [], nextLink: undefined, deltaLink: undefined });
    expect(retryAfterMs('1.5')).toBe(1500);
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs('soon')).toBeUndefined();
    const at = new Date(Date.now() + 60_000).toUTCString();
    expect(retryAfterMs(at)).toBeGreaterThan(55_000);
    expect(
      versionRelative(
        'https://graph.microsoft.com/v1.0/groups/1/members?$top=999&$skiptoken=X',
        'https://graph.microsoft.com/v1.0',
      ),
    ).toBe('/groups/1/members?$top=999&$skiptoken=X');
    expect(versionRelative('https://h:8443/p/v1.0/users?a=b', 'https://h:8443/p/v1.0/')).toBe('/users?a=b');
    expect(() =>
      versionRelative('https://evil.example/v1.0/users', 'https://graph.microsoft.com/v1.0'),
    ).toThrow(/outside/);
    expect(splitGraphBaseUrl('https://h:8443/p/v1.0/')).toEqual({
      baseUrl: 'https://h:8443/p',
      version: 'v1.0',
      host: 'h',
    });
  });
});
