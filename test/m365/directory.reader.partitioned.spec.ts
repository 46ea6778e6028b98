import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countDirectory, fullReadLowerBound } from '../../bench/support/lower-bound.js';
import type { DirectoryGroup, DirectoryUser } from '../../src/domain/directory.types.js';
import {
  applyDirectoryDelta,
  createDirectorySnapshot,
  type GroupDeltaRecord,
  type UserDeltaRecord,
} from '../../src/domain/directory-delta.js';
import { upnRanges } from '../../src/m365/partitioned-read.js';
import type { AdminUser } from '../../src/sandbox/index.js';
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
 * The partitioned full read (issue 16 item 2): users in ranges of userPrincipalName, groups
 * in delta rounds filtered on 50 ids, side by side, after delta links taken with
 * `$deltatoken=latest`; then a catch-up round from those links. What it reads is compared
 * with the tenant as the admin API shows it, also when the tenant changes while it reads.
 */

let t: TestSandbox;

beforeAll(async () => {
  t = await startTestSandbox({ users: 2500, groups: 140 });
  await consentAsAdmin(t);
});

afterAll(async () => {
  await t?.close();
  removeTestDataDir();
});

async function expectTenant(users: readonly DirectoryUser[], groups: readonly DirectoryGroup[]) {
  const adminUsers = await allAdminUsers(t.sandbox);
  const adminGroups = await allAdminGroups(t.sandbox);
  const groupIds = new Set(adminGroups.map((g) => g.id));
  expect(users).toHaveLength(adminUsers.length);
  expect(byId(users)).toEqual(new Map(adminUsers.map((u) => [u.id, expectedUser(u)])));
  expect(byId(groups)).toEqual(new Map(adminGroups.map((g) => [g.id, expectedGroup(g, groupIds)])));
}

describe('upnRanges', () => {
  it('cuts at sorted, lower-cased bounds, first and last open', () => {
    expect(upnRanges(['M', 'c'])).toEqual([
      "userPrincipalName le 'c'",
      "userPrincipalName ge 'c' and userPrincipalName le 'm'",
      "userPrincipalName ge 'm'",
    ]);
  });
});

describe('partitioned full read (2,500 users, 140 groups)', () => {
  it('reads exactly the tenant, in partitions, within 1.2 × the lower bound', async () => {
    const reader = readerFor(t, { partitionAboveMs: 0 });
    await t.sandbox.admin.resetStats();
    const app = appOf(t.sandbox);
    const [users, groups] = await Promise.all([
      reader.readUsers(app, { extraProperties: [] }).then(drain),
      reader.readGroups(app).then(drain),
    ]);
    await expectTenant(users.items, groups.items);
    const stats = await t.sandbox.admin.stats();
    // 7 ranges of userPrincipalName (2,500 users: one page each), the recycle bin, the
    // group ids (1 page) and 3 filtered delta rounds (140 groups / 50), 2 delta-latest.
    expect(stats.graphByPath['GET /users']).toBe(7);
    expect(stats.graphByPath['GET /groups']).toBe(1);
    expect(stats.graphByPath['GET /users/delta']).toBe(1);
    expect(stats.graphByPath['GET /groups/delta']).toBeGreaterThanOrEqual(1 + 3);
    expect(reader.stats().requests).toBe(stats.graphRequests);
    const bound = fullReadLowerBound(await countDirectory(t.sandbox.admin)).requests;
    console.info(`partitioned full read: ${stats.graphRequests} requests (lower bound ${bound})`);
    // small tenants pay the ranges' part pages; the bench measures 100,000 users
    expect(stats.graphRequests).toBeLessThanOrEqual(bound + 7 + 3 + 1);
  });

  it('reads in one chain when Graph answers fast, in partitions when two answers are slow (partitionAboveMs)', async () => {
    const app = appOf(t.sandbox);
    const reader = readerFor(t, { partitionAboveMs: 400 });
    await t.sandbox.admin.resetStats();
    await drain(await reader.readUsers(app, { extraProperties: [] }));
    expect((await t.sandbox.admin.stats()).graphByPath['GET /users']).toBe(3); // ⌈2,500 / 999⌉
    await t.sandbox.admin.setLatency(450);
    try {
      await t.sandbox.admin.resetStats();
      await drain(await reader.readUsers(app, { extraProperties: [] }));
      expect((await t.sandbox.admin.stats()).graphByPath['GET /users']).toBe(7);
    } finally {
      await t.sandbox.admin.setLatency(0);
    }
  });

  it('misses no change made while it reads: the catch-up rounds bring them all', async () => {
    const app = appOf(t.sandbox);
    // One request at a time: the partitions are read one after another, so what is changed
    // after the first page is changed while most of the read is still to come.
    const reader = readerFor(t, { partitionAboveMs: 0, partitionConcurrency: 1 });
    const before = (await allAdminUsers(t.sandbox)).filter((u) => !u.deleted && !u.isAdmin);
    const groupsBefore = await allAdminGroups(t.sandbox);
    const upns = before.map((u) => u.userPrincipalName.toLowerCase()).sort();
    // users at both ends of the UPN order: some in a range already read, some in one to come
    const first = before.find((u) => u.userPrincipalName.toLowerCase() === upns[0]) as AdminUser;
    const last = before.find((u) => u.userPrincipalName.toLowerCase() === upns.at(-1)) as AdminUser;
    const middle = before.filter((u) => u !== first && u !== last);
    const [changed, deleted, binned] = [middle[10], middle[20], middle[30]] as AdminUser[];
    const group = groupsBefore.find((g) => g.members.length >= 2) as (typeof groupsBefore)[number];
    const leaving = group.members.find((m) => ![changed.id, deleted.id, binned.id].includes(m)) as string;
    const joining = middle.find(
      (u) => u.accountEnabled && !group.members.includes(u.id) && ![changed, deleted, binned].includes(u),
    ) as AdminUser;

    const usersStream = await reader.readUsers(app, { extraProperties: [] });
    const groupsStream = await reader.readGroups(app);
    const users: DirectoryUser[] = [];
    const groups: DirectoryGroup[] = [];
    const userPages = usersStream.pages[Symbol.asyncIterator]();
    const firstPage = await userPages.next();
    users.push(...(firstPage.value ?? []));

    // While the read runs: a user added, users changed, hard-deleted, soft-deleted, a group
    // created, memberships added and removed.
    const added = await t.sandbox.admin.createUser({
      userPrincipalName: `zz.during.read@${first.userPrincipalName.split('@')[1]}`,
      displayName: 'Added During Read',
    });
    const addedFirst = await t.sandbox.admin.createUser({
      userPrincipalName: `0.during.read@${first.userPrincipalName.split('@')[1]}`,
      displayName: 'Added During Read Too',
    });
    await t.sandbox.admin.updateUser(changed.id, { jobTitle: 'Changed During Read' });
    await t.sandbox.admin.updateUser(first.id, { department: 'Changed During Read' });
    await t.sandbox.admin.updateUser(last.id, { department: 'Changed During Read' });
    await t.sandbox.admin.hardDeleteUser(deleted.id);
    await t.sandbox.admin.softDeleteUser(binned.id);
    await t.sandbox.admin.addMember(group.id, joining.id);
    await t.sandbox.admin.addMember(group.id, added.id);
    await t.sandbox.admin.removeMember(group.id, leaving);
    const newGroup = await t.sandbox.admin.createGroup({
      displayName: 'Created During Read',
      members: [addedFirst.id, joining.id],
    });

    for (let p = await userPages.next(); !p.done; p = await userPages.next()) users.push(...p.value);
    for await (const page of groupsStream.pages) groups.push(...page);

    // The catch-up rounds, as readDirectory makes them, applied on top of the read.
    const userChanges = await drain<UserDeltaRecord>(reader.readUserChanges(app, usersStream.deltaLink()));
    const groupChanges = await drain<GroupDeltaRecord>(
      reader.readGroupChanges(app, groupsStream.deltaLink()),
    );
    expect(userChanges.items.length).toBeGreaterThanOrEqual(6);
    const snapshot = applyDirectoryDelta(
      createDirectorySnapshot(users, groups),
      { users: userChanges.items, groups: groupChanges.items },
      new Date(),
    );

    const adminUsers = await allAdminUsers(t.sandbox);
    const adminGroups = await allAdminGroups(t.sandbox);
    const groupIds = new Set(adminGroups.map((g) => g.id));
    const expected = new Map(adminUsers.map((u) => [u.id, expectedUser(u)]));
    expect(new Set(snapshot.users.keys())).toEqual(new Set(expected.keys()));
    for (const id of [added.id, addedFirst.id, changed.id, first.id, last.id]) {
      expect(snapshot.users.get(id)).toEqual(expected.get(id));
    }
    expect(snapshot.users.has(deleted.id)).toBe(false);
    expect(snapshot.users.get(binned.id)?.deletionState).toBe('SOFT_DELETED');
    // a group merged from a delta record says deletionState PRESENT, one read in full leaves it out
    const present = ({ deletionState, ...g }: DirectoryGroup) =>
      deletionState === 'PRESENT' || deletionState === undefined ? g : { deletionState, ...g };
    expect(new Map([...snapshot.groups].map(([id, g]) => [id, present(g)]))).toEqual(
      new Map(adminGroups.map((g) => [g.id, expectedGroup(g, groupIds)])),
    );
    const g = snapshot.groups.get(group.id) as DirectoryGroup;
    expect(g.memberUserIds).toEqual(expect.arrayContaining([joining.id, added.id]));
    expect(g.memberUserIds).not.toContain(leaving);
    expect(snapshot.groups.get(newGroup.id)?.memberUserIds).toEqual([addedFirst.id, joining.id].sort());

    // and a read now, in partitions, equals that end state
    const again = readerFor(t, { partitionAboveMs: 0 });
    const [u2, g2] = await Promise.all([
      again.readUsers(app, { extraProperties: [] }).then(drain),
      again.readGroups(app).then(drain),
    ]);
    await expectTenant(u2.items, g2.items);
    await t.sandbox.admin.restoreUser(binned.id);
  });
});

describe('partitioned full read of a huge group (All Company, ~2,400 members): its members in ranges', () => {
  it('reads exactly the tenant, the huge group by member ranges, within 1.2 × the lower bound + the ranges', async () => {
    const reader = readerFor(t, { partitionAboveMs: 0, hugeGroupMembers: 1000 });
    await t.sandbox.admin.resetStats();
    const app = appOf(t.sandbox);
    const [users, groups] = await Promise.all([
      reader.readUsers(app, { extraProperties: [] }).then(drain),
      reader.readGroups(app).then(drain),
    ]);
    await expectTenant(users.items, groups.items);
    const stats = await t.sandbox.admin.stats();
    // All Company's users in the 7 ranges (no group cast: a Microsoft 365 group has none)
    const memberReads = Object.entries(stats.graphByPath)
      .filter(([k]) => /^GET \/groups\/[^/]+\/members\//.test(k))
      .reduce((n, [, v]) => n + v, 0);
    expect(memberReads).toBeGreaterThanOrEqual(7);
    const bound = fullReadLowerBound(await countDirectory(t.sandbox.admin)).requests;
    console.info(
      `partitioned full read, huge group in ranges: ${stats.graphRequests} requests (lower bound ${bound}), ${JSON.stringify(stats.graphByPath)}`,
    );
    expect(stats.graphRequests).toBeLessThanOrEqual(Math.ceil(1.2 * bound) + 7 + 3 + 1 + 7);
  });

  it("catches the huge group's membership changes made while it reads (catch-up round)", async () => {
    const app = appOf(t.sandbox);
    const reader = readerFor(t, { partitionAboveMs: 0, partitionConcurrency: 1, hugeGroupMembers: 1000 });
    const adminGroups = await allAdminGroups(t.sandbox);
    const huge = adminGroups.find((g) => g.displayName === 'All Company') as (typeof adminGroups)[number];
    expect(huge.members.length).toBeGreaterThan(2000);
    const outside = (await allAdminUsers(t.sandbox)).filter(
      (u) => !u.deleted && !huge.members.includes(u.id),
    );
    const [leavingFirst, leavingLast] = [huge.members[0], huge.members.at(-1)] as string[];
    const joining = outside[0] as AdminUser;

    await t.sandbox.admin.resetStats();
    const groupsStream = await reader.readGroups(app);
    // the groups delta link is taken; the parts are still to come (one request at a time)
    const joined = await t.sandbox.admin.createUser({
      userPrincipalName: `mm.joined.during.read@${joining.userPrincipalName.split('@')[1]}`,
      displayName: 'Joined All Company During Read',
    });
    await t.sandbox.admin.addMember(huge.id, joined.id);
    await t.sandbox.admin.addMember(huge.id, joining.id);
    await t.sandbox.admin.removeMember(huge.id, leavingFirst);
    await t.sandbox.admin.removeMember(huge.id, leavingLast);
    const groups: DirectoryGroup[] = [];
    for await (const page of groupsStream.pages) groups.push(...page);
    const stats = await t.sandbox.admin.stats();
    expect(
      Object.keys(stats.graphByPath).some((k) => k === `GET /groups/${huge.id}/members/microsoft.graph.user`),
    ).toBe(true);

    const groupChanges = await drain<GroupDeltaRecord>(
      reader.readGroupChanges(app, groupsStream.deltaLink()),
    );
    const users = await drain(await reader.readUsers(app, { extraProperties: [] }));
    const snapshot = applyDirectoryDelta(
      createDirectorySnapshot(users.items, groups),
      { users: [], groups: groupChanges.items },
      new Date(),
    );
    const after = (await allAdminGroups(t.sandbox)).find(
      (g) => g.id === huge.id,
    ) as (typeof adminGroups)[number];
    const g = snapshot.groups.get(huge.id) as DirectoryGroup;
    expect(g.memberUserIds).toEqual([...after.members].sort());
    expect(g.memberUserIds).toEqual(expect.arrayContaining([joined.id, joining.id]));
    expect(g.memberUserIds).not.toContain(leavingFirst);
    expect(g.memberUserIds).not.toContain(leavingLast);
    await t.sandbox.admin.removeMember(huge.id, joining.id);
    await t.sandbox.admin.addMember(huge.id, leavingFirst);
    await t.sandbox.admin.addMember(huge.id, leavingLast);
    await t.sandbox.admin.hardDeleteUser(joined.id);
  });
});
