import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { AdminGroup } from '../../src/sandbox/index.js';
import {
  DeleteExtensionGroupDocument,
  DirectoryGroupsDocument,
  DisconnectDocument,
  SaveGroupSyncRuleDocument,
  SyncRunsDocument,
  UpdateExtensionGroupDocument,
} from '../generated/graphql.js';
import { describeEachDb } from '../support/db.js';
import { connectIntegration } from '../support/sandbox.js';
import { byObject, errorsOf, GROUP_RULE, type SyncWorld, startSyncWorld, tag } from './sync-world.js';

/** Graph's kind of a group, as G1 BY_TYPE sees it. */
const kindOf = (g: AdminGroup) =>
  g.groupTypes.includes('Unified') ? 'MICROSOFT_365' : g.securityEnabled ? 'SECURITY' : 'OTHER';

/**
 * G1–G5 end to end: each test changes the sandbox tenant through its admin API and checks
 * the extension groups (names, members, locks) and the run after the next sync.
 */
describeEachDb('sync groups to extension groups (G1–G5)', (leg) => {
  let world: SyncWorld;
  beforeAll(async () => {
    world = await startSyncWorld(leg);
  });
  afterEach(async () => world.cleanup());
  afterAll(async () => world?.close());

  const tenantGroups = async () => (await world.sandbox.admin.listGroups({ top: 1000 })).value;

  /** One group of each kind, made by the test. */
  const oneOfEach = async () => {
    const t = tag();
    return {
      security: await world.group(`G1 Security ${t}`),
      unified: await world.group(`G1 Unified ${t}`, { groupTypes: ['Unified'] }),
      distribution: await world.group(`G1 Distribution ${t}`, { mailEnabled: true, securityEnabled: false }),
    };
  };

  it('G1 ALL: every group of the tenant becomes an extension group with its name', async () => {
    const mine = await oneOfEach();
    const p = await world.pbx();
    const run = await p.saveGroupRule({ range: 'ALL' });
    const groups = await tenantGroups();
    expect(groups.length).toBeLessThanOrEqual(63);
    const synced = await p.groupsByExternal();
    expect(new Set(synced.keys())).toEqual(new Set(groups.map((g) => g.id)));
    for (const g of groups)
      expect(synced.get(g.id)).toMatchObject({ name: g.displayName.trim(), source: 'SYNCED' });
    for (const g of Object.values(mine)) expect(synced.has(g.id)).toBe(true);
    expect(run).toMatchObject({ status: 'SUCCEEDED', trigger: 'RULES_SAVED', scopes: ['GROUPS'] });
    expect(run?.groups).toMatchObject({ created: groups.length, failed: 0 });
  });

  it.each([
    { kinds: ['SECURITY'] as const },
    { kinds: ['MICROSOFT_365'] as const },
    { kinds: ['SECURITY', 'MICROSOFT_365'] as const },
  ])('G1 BY_TYPE $kinds: only groups of those types (distribution lists never)', async ({ kinds }) => {
    const mine = await oneOfEach();
    const p = await world.pbx();
    const run = await p.saveGroupRule({ range: 'BY_TYPE', kinds: [...kinds] });
    const wanted = (await tenantGroups()).filter((g) => (kinds as readonly string[]).includes(kindOf(g)));
    const synced = await p.groupsByExternal();
    expect(new Set(synced.keys())).toEqual(new Set(wanted.map((g) => g.id)));
    expect(synced.has(mine.security.id)).toBe(kinds.includes('SECURITY' as never));
    expect(synced.has(mine.unified.id)).toBe(kinds.includes('MICROSOFT_365' as never));
    expect(synced.has(mine.distribution.id)).toBe(false);
    expect(run?.groups.created).toBe(wanted.length);
  });

  it('G1 SPECIFIC: groups picked from the searchable list (directoryGroups) and only those', async () => {
    const t = tag();
    const alpha = await world.group(`Picker Alpha ${t}`);
    const beta = await world.group(`Picker Beta ${t}`, { groupTypes: ['Unified'] });
    const other = await world.group(`Other ${t}`);
    const p = await world.pbx();

    // The picker: every group by default (up to 200, sorted by name), or a word-prefix search.
    const all = (await p.ok(DirectoryGroupsDocument, {})).directoryGroups;
    expect(new Set(all.map((g) => g.id))).toEqual(new Set((await tenantGroups()).map((g) => g.id)));
    const found = (await p.ok(DirectoryGroupsDocument, { search: t })).directoryGroups;
    expect(found.map((g) => g.id).sort()).toEqual([alpha.id, beta.id, other.id].sort());
    const picked = (await p.ok(DirectoryGroupsDocument, { search: `picker ${t}` })).directoryGroups;
    expect(picked.map((g) => [g.id, g.kind]).sort()).toEqual(
      [
        [alpha.id, 'SECURITY'],
        [beta.id, 'MICROSOFT_365'],
      ].sort(),
    );
    expect((await p.ok(DirectoryGroupsDocument, { search: '', first: 2 })).directoryGroups).toHaveLength(2);

    const run = await p.saveGroupRule({ range: 'SPECIFIC', groupIds: picked.map((g) => g.id) });
    expect(run?.groups).toMatchObject({ created: 2, failed: 0 });
    const synced = await p.groupsByExternal();
    expect(new Set(synced.keys())).toEqual(new Set([alpha.id, beta.id]));
    expect(synced.get(alpha.id)?.name).toBe(`Picker Alpha ${t}`);
  });

  it('G1 a group name longer than an extension group holds (128) is shortened, on both databases', async () => {
    const long = `G1 Long ${tag()} ${'Ω'.repeat(200)}`;
    const g = await world.group(long);
    const p = await world.pbx();
    const run = await p.saveGroupRule({ range: 'SPECIFIC', groupIds: [g.id] });
    expect(run).toMatchObject({
      status: 'SUCCEEDED',
      groups: expect.objectContaining({ created: 1, failed: 0 }),
    });
    expect((await p.groupsByExternal()).get(g.id)?.name).toBe(long.slice(0, 128));
    expect((await p.sync(['GROUPS'])).groups).toMatchObject({ updated: 0, failed: 0 });
  });

  it.each([true, false])('G2 groups deleted in the directory, auto-delete %s', async (autoDelete) => {
    const t = tag();
    const security = await world.group(`G2 Security ${t}`);
    const unified = await world.group(`G2 Unified ${t}`, { groupTypes: ['Unified'] });
    const stays = await world.group(`G2 Stays ${t}`);
    const p = await world.pbx();
    const first = await p.saveGroupRule({
      range: 'SPECIFIC',
      groupIds: [security.id, unified.id, stays.id],
      autoDelete,
    });
    expect(first?.groups.created).toBe(3);
    const before = await p.groupsByExternal();

    expect((await world.sandbox.admin.deleteGroup(security.id)).deleted).toBe('hard');
    expect((await world.sandbox.admin.deleteGroup(unified.id)).deleted).toBe('soft');
    const run = await p.sync(['GROUPS']);
    expect(run.groups).toMatchObject({
      deleted: autoDelete ? 2 : 0,
      released: autoDelete ? 0 : 2,
      created: 0,
      updated: 0,
      failed: 0,
    });
    const items = byObject(await p.items(run.id));
    for (const g of [security, unified]) {
      expect(items.get(g.id)).toMatchObject({
        scope: 'GROUP',
        action: autoDelete ? 'DELETE' : 'RELEASE',
        reason: 'GROUP_DELETED',
        targetId: before.get(g.id)?.id,
      });
    }
    const groups = await p.groups();
    const byId = new Map(groups.map((g) => [g.id, g]));
    expect(byId.get(before.get(stays.id)?.id as string)).toMatchObject({ source: 'SYNCED' });
    for (const g of [security, unified]) {
      const kept = byId.get(before.get(g.id)?.id as string);
      if (autoDelete) expect(kept).toBeUndefined();
      // Released: PBX-managed; it keeps its directory group's id, to be taken over again if it comes back.
      else
        expect(kept).toMatchObject({
          source: 'MANUAL',
          externalId: g.id,
          lockedFields: [],
          name: g.displayName,
        });
    }
    if (!autoDelete) {
      // Released: fully PBX-managed, so it can now be deleted by hand.
      const res = await p.raw(DeleteExtensionGroupDocument, { id: before.get(security.id)?.id as string });
      expect(res.body.errors).toBeUndefined();
    }
  });

  it('G3 at most 63 extension groups: the 64th group fails GROUP_LIMIT_REACHED until room is made', async () => {
    const t = tag();
    const groups: AdminGroup[] = [];
    for (let i = 1; i <= 64; i++)
      groups.push(await world.group(`G3 Limit ${t} ${String(i).padStart(3, '0')}`));
    const p = await world.pbx();
    const first = await p.saveGroupRule({ range: 'SPECIFIC', groupIds: groups.map((g) => g.id) });
    expect(first?.groups).toMatchObject({ created: 63, failed: 1 });
    const fails = await p.items(first?.id as string, 'FAIL');
    expect(fails).toEqual([
      expect.objectContaining({
        objectId: groups[63].id,
        objectName: groups[63].displayName,
        reason: 'GROUP_LIMIT_REACHED',
      }),
    ]);
    expect(fails[0].detail).toContain('63');
    const synced = await p.groupsByExternal();
    expect(synced.size).toBe(63);
    expect(synced.has(groups[63].id)).toBe(false);

    // One group goes: its delete frees the room the 64th takes in the same run.
    await world.sandbox.admin.deleteGroup(groups[0].id);
    const next = await p.sync(['GROUPS']);
    expect(next.groups).toMatchObject({ created: 1, deleted: 1, failed: 0 });
    const after = await p.groupsByExternal();
    expect(after.size).toBe(63);
    expect(after.has(groups[63].id)).toBe(true);
    expect(after.has(groups[0].id)).toBe(false);
  });

  it('G4 synced extension groups carry the label and are locked: no rename, no member edit, no delete', async () => {
    const user = await world.user('G4Member');
    const g = await world.group(`G4 ${tag()}`, { members: [user.id] });
    const p = await world.pbx();
    await p.saveUserRule({ range: 'BY_GROUPS', groupIds: [g.id] });
    await p.saveGroupRule({ range: 'SPECIFIC', groupIds: [g.id] });
    const group = (await p.groupsByExternal()).get(g.id);
    expect(group).toMatchObject({ source: 'SYNCED', name: g.displayName, memberCount: 1 });
    expect([...(group?.lockedFields ?? [])].sort()).toEqual(['memberIds', 'name']);
    const id = group?.id as string;

    const rename = await p.raw(UpdateExtensionGroupDocument, { id, name: 'By hand' });
    expect(errorsOf(rename)).toEqual([expect.objectContaining({ code: 'LOCKED_BY_SYNC', field: 'name' })]);
    const members = await p.raw(UpdateExtensionGroupDocument, { id, memberIds: [] });
    expect(errorsOf(members)).toEqual([
      expect.objectContaining({ code: 'LOCKED_BY_SYNC', field: 'memberIds' }),
    ]);
    const del = await p.raw(DeleteExtensionGroupDocument, { id });
    expect(errorsOf(del)).toEqual([expect.objectContaining({ code: 'LOCKED_BY_SYNC' })]);

    // A rename in the directory is followed.
    const renamed = `G4 Renamed ${tag()}`;
    await world.sandbox.admin.renameGroup(g.id, renamed);
    const run = await p.sync(['GROUPS']);
    expect(run.groups).toMatchObject({ updated: 1 });
    const [item] = await p.items(run.id, 'UPDATE');
    expect(item).toMatchObject({
      objectId: g.id,
      reason: 'GROUP_CHANGED',
      objectName: renamed,
      targetId: id,
    });
    expect((await p.groupsByExternal()).get(g.id)).toMatchObject({ id, name: renamed, memberCount: 1 });
  });

  it("G5 an extension group's members are its group's synced users, and follow membership changes", async () => {
    const [a, b, c] = await Promise.all(['G5a', 'G5b', 'G5c'].map((n) => world.user(n)));
    const off = await world.user('G5Disabled', { accountEnabled: false });
    const child = await world.group(`G5 Child ${tag()}`, { members: [c.id] });
    const g = await world.group(`G5 Parent ${tag()}`, { members: [a.id, b.id, child.id] });
    const p = await world.pbx();
    await p.saveUserRule({ range: 'ALL' });
    const first = await p.saveGroupRule({ range: 'SPECIFIC', groupIds: [g.id] });
    expect(first?.groups.created).toBe(1);
    const extOf = async () => new Map([...(await p.extensionsByUser())].map(([userId, e]) => [userId, e.id]));
    const membersOf = async () => [...((await p.groupsByExternal()).get(g.id)?.memberIds ?? [])].sort();
    let ext = await extOf();
    // Direct members only: c is in the nested group.
    expect(await membersOf()).toEqual([ext.get(a.id), ext.get(b.id)].sort());

    // d is new (created in this very run, and a member at once), b leaves, a disabled user
    // (not synced: U4) joins and is no member.
    const d = await world.user('G5d');
    await world.sandbox.admin.addMember(g.id, d.id);
    await world.sandbox.admin.removeMember(g.id, b.id);
    await world.sandbox.admin.addMember(g.id, off.id);
    const run = await p.sync();
    expect(run.mode).toBe('DELTA');
    expect(run.users).toMatchObject({ created: 1, deleted: 0 });
    expect(run.groups).toMatchObject({ updated: 1, created: 0 });
    ext = await extOf();
    expect(ext.has(off.id)).toBe(false);
    expect(await membersOf()).toEqual([ext.get(a.id), ext.get(d.id)].sort());
    const [item] = await p.items(run.id, 'UPDATE').then((items) => items.filter((i) => i.scope === 'GROUP'));
    expect(JSON.parse(item.changes ?? '{}')).toEqual({ name: null, added: 1, removed: 1 });

    // With nested members on (a later save: it applies at the next sync), c counts too.
    const saved = await p.ok(SaveGroupSyncRuleDocument, {
      input: { ...GROUP_RULE, range: 'SPECIFIC', groupIds: [g.id], includeNestedMembers: true },
    });
    expect(saved.saveGroupSyncRule.initialRun).toBeNull();
    expect(await membersOf()).toEqual([ext.get(a.id), ext.get(d.id)].sort());
    await p.sync(['GROUPS']);
    expect(await membersOf()).toEqual([ext.get(a.id), ext.get(c.id), ext.get(d.id)].sort());

    // A member whose extension goes (deleted user) leaves the group.
    await world.sandbox.admin.hardDeleteUser(a.id);
    await p.sync();
    expect(await membersOf()).toEqual([ext.get(c.id), ext.get(d.id)].sort());
    expect((await p.ok(SyncRunsDocument, { first: 10 })).syncRuns.totalCount).toBe(5);
  });
});

describeEachDb('groups come back after a disconnect that retained them (L7, G1)', (leg) => {
  let world: SyncWorld;
  beforeAll(async () => {
    world = await startSyncWorld(leg);
  });
  afterEach(async () => world.cleanup());
  afterAll(async () => world?.close());

  it('connected again, every retained extension group is taken over by its directory group (same ids, synced, no DUPLICATE_NAME) and the run says nothing failed', async () => {
    const t = tag();
    const sales = await world.group(`Back Sales ${t}`);
    const p = await world.pbx();
    await p.saveUserRule({ autoAssociate: true });
    expect(await p.saveGroupRule({ range: 'ALL' })).toMatchObject({ status: 'SUCCEEDED' });
    const before = await p.groupsByExternal();
    expect(before.get(sales.id)).toMatchObject({ source: 'SYNCED' });

    const out = await p.ok(DisconnectDocument, { deleteExtensions: false, deleteGroups: false });
    expect(out.disconnect.groupsReleased).toBe(before.size);
    expect((await p.groups()).every((g) => g.source === 'MANUAL')).toBe(true);

    const again = await connectIntegration(
      { gateway: world.gateway, keys: { admin: p.key } },
      world.sandbox,
      world.agent,
    );
    expect(again.result).toBe('CONNECTED');
    const run = await p.sync();
    expect(run.status).toBe('SUCCEEDED');
    expect(run.groups).toMatchObject({ associated: before.size, created: 0, failed: 0 });
    expect(run.message ?? '').not.toMatch(/Not synced/);
    const after = await p.groupsByExternal();
    expect(new Set(after.keys())).toEqual(new Set(before.keys()));
    for (const [id, g] of before)
      expect(after.get(id)).toMatchObject({ id: g.id, name: g.name, source: 'SYNCED' });
    const items = await p.items(run.id, 'ASSOCIATE');
    expect(items.filter((i) => i.scope === 'GROUP').map((i) => i.reason)).toEqual(
      [...before.keys()].map(() => 'KEPT_GROUP_ID'),
    );
  });
});
