import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MicrosoftError } from '../../src/app/ports/microsoft.port.js';
import type { DirectoryGroup, DirectoryUser } from '../../src/domain/directory.types.js';
import {
  applyDirectoryDelta,
  createDirectorySnapshot,
  type GroupDeltaRecord,
  type UserDeltaRecord,
} from '../../src/domain/directory-delta.js';
import type { GraphDirectoryReader } from '../../src/m365/directory.reader.js';
import type { AdminGroup, AdminUser } from '../../src/sandbox/index.js';
import {
  consentAsAdmin,
  removeTestDataDir,
  startTestSandbox,
  type TestSandbox,
} from '../sandbox/sandbox-test.helpers.js';
import {
  allAdminGroups,
  allAdminUsers,
  appOf,
  byId,
  drain,
  expectedGroup,
  expectedUser,
  readerFor,
} from './reader-test.helpers.js';

/**
 * GraphDirectoryReader against the sandbox tenant, through the real msal-node and
 * graph-client: what it reads is compared with the tenant as the admin API shows it.
 */

let t: TestSandbox;
let reader: GraphDirectoryReader;

beforeAll(async () => {
  // 30 groups: the seed then nests location groups under regions, and regions under SG-Global.
  t = await startTestSandbox({ users: 300, groups: 30 });
  await consentAsAdmin(t);
  reader = readerFor(t);
});

afterAll(async () => {
  await t?.close();
  removeTestDataDir();
});

function plainUsers(users: readonly AdminUser[]): AdminUser[] {
  return users.filter((u) => !u.deleted && !u.isAdmin && u.userType === 'Member' && u.accountEnabled);
}

async function expectMicrosoftError(p: Promise<unknown>, code: string): Promise<MicrosoftError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MicrosoftError);
  expect((err as MicrosoftError).code).toBe(code);
  return err as MicrosoftError;
}

describe('full read', () => {
  it('reads exactly the tenant’s users, soft-deleted ones as SOFT_DELETED, with the right fields and extra properties', async () => {
    const before = plainUsers(await allAdminUsers(t.sandbox));
    const binned = before[7] as AdminUser;
    await t.sandbox.admin.softDeleteUser(binned.id);
    await t.sandbox.admin.updateUser((before[8] as AdminUser).id, {
      employeeId: '424242',
      mobilePhone: null,
    });

    const stream = await reader.readUsers(appOf(t.sandbox), {
      extraProperties: ['employeeId', 'officeLocation'],
    });
    const { items } = await drain(stream);
    const admin = await allAdminUsers(t.sandbox);
    expect(items).toHaveLength(admin.length);
    expect(byId(items)).toEqual(
      new Map(admin.map((u) => [u.id, expectedUser(u, ['employeeId', 'officeLocation'])])),
    );

    const soft = items.find((u) => u.id === binned.id) as DirectoryUser;
    expect(soft.deletionState).toBe('SOFT_DELETED');
    expect(soft.deletedDateTime).toMatch(/^\d{4}-\d\d-\d\dT/);
    const guests = items.filter((u) => u.userType === 'Guest');
    expect(guests.length).toBeGreaterThan(0);
    expect(items.some((u) => !u.accountEnabled)).toBe(true);
    expect(items.find((u) => u.id === (before[8] as AdminUser).id)).toMatchObject({
      mobilePhone: null,
      properties: { employeeId: '424242' },
    });
    expect(stream.deltaLink()).toMatch(/\/users\/delta\?\$deltatoken=/);
    await t.sandbox.admin.restoreUser(binned.id);
  });

  it('reads every group with its direct members (users and groups) and a groups delta link', async () => {
    const admin = await allAdminGroups(t.sandbox);
    const groupIds = new Set(admin.map((g) => g.id));
    const stream = await reader.readGroups(appOf(t.sandbox));
    expect(() => stream.deltaLink()).toThrow(/once every page/);
    const { items } = await drain(stream);
    expect(byId(items)).toEqual(new Map(admin.map((g) => [g.id, expectedGroup(g, groupIds)])));
    expect(items.some((g) => (g.memberGroupIds ?? []).length > 0)).toBe(true);
    expect([...new Set(items.map((g) => g.kind))].sort()).toEqual(['MICROSOFT_365', 'SECURITY']);
    expect(stream.deltaLink()).toMatch(/\/groups\/delta\?\$deltatoken=/);
  });

  it('reads the same groups through $batch of /members (groupRead: batch)', async () => {
    const admin = await allAdminGroups(t.sandbox);
    const groupIds = new Set(admin.map((g) => g.id));
    const batchReader = readerFor(t, { groupRead: 'batch' });
    await t.sandbox.admin.resetStats();
    const stream = await batchReader.readGroups(appOf(t.sandbox));
    const { items } = await drain(stream);
    expect(byId(items)).toEqual(new Map(admin.map((g) => [g.id, expectedGroup(g, groupIds)])));
    const stats = await t.sandbox.admin.stats();
    // 1 delta-latest + 1 page of groups + ceil(30 / 20) batches
    expect(stats.graphRequests).toBe(1 + 1 + 2);
    expect(batchReader.stats()).toEqual({ requests: 4, throttled: 0 });
    expect(stream.deltaLink()).toMatch(/\/groups\/delta\?\$deltatoken=/);
  });

  it('fails with the identity error’s own code when the app cannot get a token', async () => {
    const stranger = readerFor(t);
    const err = await expectMicrosoftError(
      stranger.readUsers({ ...appOf(t.sandbox), clientSecret: 'wrong' }, { extraProperties: [] }),
      'INVALID_SECRET',
    );
    expect(err.message).toMatch(/AADSTS7000215/);
  });

  it('refuses a property name that cannot be selected', async () => {
    await expectMicrosoftError(
      reader.readUsers(appOf(t.sandbox), { extraProperties: ['bad name;'] }),
      'UNKNOWN',
    );
  });
});

describe('delta rounds', () => {
  it('after admin changes, one round returns exactly those changes, and merged they give what a full read gives', async () => {
    const app = appOf(t.sandbox);
    const usersBefore = await drain(await reader.readUsers(app, { extraProperties: ['employeeId'] }));
    const groupsStream = await reader.readGroups(app);
    const groupsBefore = await drain(groupsStream);
    const userLink = (await reader.readUsers(app, { extraProperties: ['employeeId'] })).deltaLink();
    const groupLink = groupsStream.deltaLink();

    const adminUsers = plainUsers(await allAdminUsers(t.sandbox));
    const adminGroups = await allAdminGroups(t.sandbox);
    const [updated, disabled, softDeleted, restored, hardDeleted, x] = adminUsers.slice(
      20,
      26,
    ) as AdminUser[];
    const named = (u: AdminUser | undefined) => u as AdminUser;
    const project = adminGroups.find(
      (g) => g.members.length > 2 && !g.members.includes(named(x).id) && g.displayName !== 'All Company',
    ) as AdminGroup;
    const memberY = project.members.find((m) => adminUsers.some((u) => u.id === m)) as string;
    const renamed = adminGroups.find((g) => g.id !== project.id && g.groupTypes.length === 0) as AdminGroup;

    await t.sandbox.admin.updateUser(named(updated).id, {
      jobTitle: 'Chief Tester',
      mobilePhone: null,
      employeeId: '900001',
    });
    await t.sandbox.admin.disableUser(named(disabled).id);
    await t.sandbox.admin.softDeleteUser(named(softDeleted).id);
    await t.sandbox.admin.softDeleteUser(named(restored).id);
    await t.sandbox.admin.restoreUser(named(restored).id);
    await t.sandbox.admin.hardDeleteUser(named(hardDeleted).id);
    const created = await t.sandbox.admin.createUser({
      userPrincipalName: `new.person@${String(named(x).userPrincipalName).split('@')[1]}`,
      displayName: 'New Person',
      givenName: 'New',
      surname: 'Person',
      jobTitle: 'Hire',
      businessPhones: ['+1 206 555 0199'],
    });
    await t.sandbox.admin.renameGroup(renamed.id, 'Renamed Group');
    await t.sandbox.admin.addMember(project.id, named(x).id);
    await t.sandbox.admin.removeMember(project.id, memberY);

    await t.sandbox.admin.resetStats();
    const userRound = reader.readUserChanges(app, userLink);
    const users = (await drain(userRound)).items;
    const groupRound = reader.readGroupChanges(app, groupLink);
    const groups = (await drain(groupRound)).items;
    expect((await t.sandbox.admin.stats()).graphRequests).toBe(2);

    // users: exactly the six that changed
    const u = byId(users);
    expect([...u.keys()].sort()).toEqual(
      [updated, disabled, softDeleted, restored, hardDeleted]
        .map((v) => named(v).id)
        .concat(created.id)
        .sort(),
    );
    expect(u.get(named(updated).id)).toMatchObject({
      jobTitle: 'Chief Tester',
      mobilePhone: null,
      properties: { employeeId: '900001' },
      accountEnabled: true,
    });
    expect(u.get(named(disabled).id)).toMatchObject({
      accountEnabled: false,
      displayName: named(disabled).displayName,
    });
    expect(u.get(named(softDeleted).id)).toEqual({ id: named(softDeleted).id, removed: 'changed' });
    expect(u.get(named(hardDeleted).id)).toEqual({ id: named(hardDeleted).id, removed: 'deleted' });
    expect(u.get(named(restored).id)).toMatchObject({ userPrincipalName: named(restored).userPrincipalName });
    expect((u.get(named(restored).id) as UserDeltaRecord).removed).toBeUndefined();
    expect(u.get(created.id)).toMatchObject({
      displayName: 'New Person',
      businessPhones: ['+1 206 555 0199'],
      userType: 'Member',
      accountEnabled: true,
    });

    // groups: the rename, the member added and removed, and the groups the deleted users left
    const left = adminGroups
      .filter((g) => g.members.includes(named(softDeleted).id) || g.members.includes(named(hardDeleted).id))
      .map((g) => g.id);
    const g = byId(groups);
    expect([...g.keys()].sort()).toEqual([...new Set([renamed.id, project.id, ...left])].sort());
    expect(g.get(renamed.id)).toMatchObject({
      displayName: 'Renamed Group',
      kind: expectedGroup(renamed, new Set()).kind,
    });
    const projectRecord = g.get(project.id) as Extract<GroupDeltaRecord, { removed?: undefined }>;
    expect(projectRecord.membersDelta).toEqual(
      expect.arrayContaining([
        { id: named(x).id, type: 'user' },
        { id: memberY, type: 'user', removed: true },
      ]),
    );

    // merged into the snapshot they give what a new full read gives
    const merged = applyDirectoryDelta(
      createDirectorySnapshot(usersBefore.items, groupsBefore.items),
      { users, groups },
      new Date(),
    );
    const usersAfter = (await drain(await reader.readUsers(app, { extraProperties: ['employeeId'] }))).items;
    const groupsAfter = (await drain(await reader.readGroups(app))).items;
    const withoutDeletedTime = (list: Iterable<DirectoryUser>) =>
      new Map([...list].map((v) => [v.id, { ...v, deletedDateTime: null }]));
    expect(withoutDeletedTime(merged.users.values())).toEqual(withoutDeletedTime(usersAfter));
    const present = (list: Iterable<DirectoryGroup>) =>
      new Map([...list].map((v) => [v.id, { deletionState: 'PRESENT', ...v }]));
    expect(present(merged.groups.values())).toEqual(present(groupsAfter));

    // a round with no change: one request each, nothing in it
    await t.sandbox.admin.resetStats();
    expect((await drain(reader.readUserChanges(app, userRound.deltaLink()))).items).toEqual([]);
    expect((await drain(reader.readGroupChanges(app, groupRound.deltaLink()))).items).toEqual([]);
    expect((await t.sandbox.admin.stats()).graphRequests).toBe(2);
  });

  it('under Prefer: return=minimal, a changed user carries only what changed', async () => {
    const app = appOf(t.sandbox);
    const minimal = readerFor(t, { minimalDelta: true });
    const link = (await minimal.readUsers(app, { extraProperties: [] })).deltaLink();
    const someone = plainUsers(await allAdminUsers(t.sandbox))[40] as AdminUser;
    await t.sandbox.admin.updateUser(someone.id, { department: 'Minimalism', jobTitle: null });
    const { items } = await drain(minimal.readUserChanges(app, link));
    expect(items).toEqual([{ id: someone.id, department: 'Minimalism', jobTitle: null }]);
  });

  it('a delta round over several pages: records of every page and the deltaLink at the end', async () => {
    const app = appOf(t.sandbox);
    const small = readerFor(t, { deltaPageSize: 2 });
    const link = (await small.readUsers(app, { extraProperties: [] })).deltaLink();
    const some = plainUsers(await allAdminUsers(t.sandbox)).slice(50, 55);
    for (const [i, v] of some.entries()) await t.sandbox.admin.updateUser(v.id, { jobTitle: `Paged ${i}` });
    const round = small.readUserChanges(app, link);
    expect(() => round.deltaLink()).toThrow(/once every page/);
    const { items, pages } = await drain(round);
    expect(pages).toBe(3);
    expect(items.map((r) => r.id).sort()).toEqual(some.map((v) => v.id).sort());
    expect(round.deltaLink()).toMatch(/\$deltatoken=/);
  });

  it('an expired delta link is DELTA_EXPIRED, and so is a link of another cloud', async () => {
    const app = appOf(t.sandbox);
    const userLink = (await reader.readUsers(app, { extraProperties: [] })).deltaLink();
    const groupStream = await reader.readGroups(app);
    await drain(groupStream);
    await t.sandbox.admin.expireDeltaTokens();
    await expectMicrosoftError(drain(reader.readUserChanges(app, userLink)), 'DELTA_EXPIRED');
    await expectMicrosoftError(drain(reader.readGroupChanges(app, groupStream.deltaLink())), 'DELTA_EXPIRED');
    await expectMicrosoftError(
      drain(reader.readUserChanges(app, 'https://graph.microsoft.com/v1.0/users/delta?$deltatoken=abc')),
      'DELTA_EXPIRED',
    );
  });

  it('the expiry code compares case-insensitively: 400 syncStateNotFound and 400 SyncStateNotFound are both DELTA_EXPIRED', async () => {
    const app = appOf(t.sandbox);
    for (const code of ['syncStateNotFound', 'SyncStateNotFound']) {
      const userLink = (await reader.readUsers(app, { extraProperties: [] })).deltaLink();
      const groupStream = await reader.readGroups(app);
      await drain(groupStream);
      await t.sandbox.admin.expireDeltaTokens({ code });
      const err = await expectMicrosoftError(drain(reader.readUserChanges(app, userLink)), 'DELTA_EXPIRED');
      expect(err.message).toContain(`400 ${code}`);
      await expectMicrosoftError(
        drain(reader.readGroupChanges(app, groupStream.deltaLink())),
        'DELTA_EXPIRED',
      );
    }
    await t.sandbox.admin.expireDeltaTokens();
  });

  it('a synchronization reset (410 Gone with a Location) is DELTA_EXPIRED; a full read then gives links that work', async () => {
    const app = appOf(t.sandbox);
    const userLink = (await reader.readUsers(app, { extraProperties: [] })).deltaLink();
    const groupStream = await reader.readGroups(app);
    await drain(groupStream);
    await t.sandbox.admin.forceDeltaResync();
    const err = await expectMicrosoftError(drain(reader.readUserChanges(app, userLink)), 'DELTA_EXPIRED');
    expect(err.message).toContain('410 resyncRequired');
    await expectMicrosoftError(drain(reader.readGroupChanges(app, groupStream.deltaLink())), 'DELTA_EXPIRED');

    const users = await reader.readUsers(app, { extraProperties: [] });
    await drain(users);
    const groups = await reader.readGroups(app);
    await drain(groups);
    expect((await drain(reader.readUserChanges(app, users.deltaLink()))).items).toEqual([]);
    expect((await drain(reader.readGroupChanges(app, groups.deltaLink()))).items).toEqual([]);
  });
});

describe('throttling', () => {
  it('a 429 with a (decimal) Retry-After is waited out and retried; the read completes', async () => {
    const app = appOf(t.sandbox);
    const fresh = readerFor(t);
    await t.sandbox.admin.resetStats();
    await t.sandbox.admin.forceThrottle({ count: 3, retryAfterSeconds: 0.4, pathContains: 'users' });
    const started = Date.now();
    const { items } = await drain(await fresh.readUsers(app, { extraProperties: [] }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(1100);
    expect(items).toHaveLength((await allAdminUsers(t.sandbox)).length);
    const stats = await t.sandbox.admin.stats();
    expect(stats.throttled).toBe(3);
    expect(fresh.stats()).toEqual({ requests: stats.graphRequests, throttled: 3 });
  });

  it('a request throttled more often than graph-client retries fails as THROTTLED with retryAfterMs', async () => {
    const app = appOf(t.sandbox);
    const impatient = readerFor(t, { maxRetries: 1 });
    await t.sandbox.admin.forceThrottle({ count: 2, retryAfterSeconds: 0.1, pathContains: 'users/delta' });
    const err = await expectMicrosoftError(impatient.readUsers(app, { extraProperties: [] }), 'THROTTLED');
    expect(err.retryAfterMs).toBe(100);
    await t.sandbox.admin.resetFaults();
  });

  it('with a tiny resource-unit budget, $batch items throttled by Graph are sent again and the read completes', async () => {
    const app = appOf(t.sandbox);
    const admin = await allAdminGroups(t.sandbox);
    const groupIds = new Set(admin.map((g) => g.id));
    const batchReader = readerFor(t, { groupRead: 'batch' });
    await t.sandbox.admin.setFaults({ resourceUnitLimit: 45 });
    try {
      const { items } = await drain(await batchReader.readGroups(app));
      expect(byId(items)).toEqual(new Map(admin.map((g) => [g.id, expectedGroup(g, groupIds)])));
      expect(batchReader.stats().throttled).toBeGreaterThan(0);
    } finally {
      await t.sandbox.admin.resetFaults();
    }
  }, 60_000);
});

describe('nested groups, search and lookup', () => {
  it('reads transitive member users through $batch, items throttled on their own retried', async () => {
    const app = appOf(t.sandbox);
    const users = plainUsers(await allAdminUsers(t.sandbox)).slice(100, 104) as AdminUser[];
    const [u1, u2, u3, u4] = users.map((v) => v.id) as [string, string, string, string];
    const inner = await t.sandbox.admin.createGroup({ displayName: 'Nest Inner', members: [u3, u4] });
    const middle = await t.sandbox.admin.createGroup({ displayName: 'Nest Middle', members: [u2, inner.id] });
    const outer = await t.sandbox.admin.createGroup({
      displayName: 'Nest Outer',
      members: [u1, middle.id, u4],
    });
    const all = await allAdminGroups(t.sandbox);
    const many = all.slice(0, 25).map((g) => g.id); // more than one $batch

    await t.sandbox.admin.resetStats();
    await t.sandbox.admin.forceThrottle({
      count: 2,
      retryAfterSeconds: 0.2,
      pathContains: 'transitiveMembers',
    });
    const fresh = readerFor(t);
    const result = await fresh.readTransitiveMemberUsers(app, [
      outer.id,
      middle.id,
      inner.id,
      '00000000-0000-0000-0000-000000000000',
      ...many,
    ]);
    expect(result.get(outer.id)).toEqual([u1, u2, u3, u4].sort());
    expect(result.get(middle.id)).toEqual([u2, u3, u4].sort());
    expect(result.get(inner.id)).toEqual([u3, u4].sort());
    expect(result.has('00000000-0000-0000-0000-000000000000')).toBe(false);
    const allCompany = all.find((g) => g.displayName === 'All Company') as AdminGroup;
    expect(result.get(allCompany.id)).toHaveLength(allCompany.members.length);
    expect(fresh.stats().throttled).toBe(2);
    const stats = await t.sandbox.admin.stats();
    expect(stats.throttled).toBe(2);
    // 29 groups in 2 batches, plus one more batch for the 2 throttled items (+ any next pages)
    expect(stats.graphByPath['POST /$batch']).toBe(fresh.stats().requests);
    expect(fresh.stats().requests).toBeLessThanOrEqual(4);
  });

  it('searchGroups finds groups by a word of their name, sorted, at most `first`', async () => {
    const app = appOf(t.sandbox);
    const found = await reader.searchGroups(app, 'nest', 10);
    expect(found.map((g) => g.displayName)).toEqual(['Nest Inner', 'Nest Middle', 'Nest Outer']);
    expect(found[0]).toMatchObject({ kind: 'SECURITY', description: null });
    expect(await reader.searchGroups(app, 'nest', 2)).toHaveLength(2);
    expect(await reader.searchGroups(app, 'no-such-group-anywhere', 10)).toEqual([]);
    expect(await reader.searchGroups(app, 'quote " and \\ slash', 10)).toEqual([]);
    const firstFive = await reader.searchGroups(app, '', 5);
    expect(firstFive).toHaveLength(5);
    const names = firstFive.map((g) => g.displayName.toLowerCase());
    expect(names).toEqual([...names].sort());
  });

  it('findGroups returns the groups among the ids, in their order, leaving unknown ids out', async () => {
    const app = appOf(t.sandbox);
    const all = await allAdminGroups(t.sandbox);
    const ids = all.map((g) => g.id).reverse(); // more than 15: several filters in one $batch
    const fresh = readerFor(t);
    const found = await fresh.findGroups(app, [
      'not-a-guid',
      '11111111-2222-3333-4444-555555555555',
      ...ids,
      ids[0] as string,
    ]);
    expect(found.map((g) => g.id)).toEqual(ids);
    const first = all.at(-1) as AdminGroup;
    expect(found[0]).toEqual({
      id: first.id,
      displayName: first.displayName,
      kind: expectedGroup(first, new Set()).kind,
      description: first.description ?? null,
    });
    expect(fresh.stats().requests).toBe(1);
    expect(await fresh.findGroups(app, [])).toEqual([]);
  });
});
