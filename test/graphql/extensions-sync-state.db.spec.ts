import 'reflect-metadata';
import { afterAll, beforeEach, expect, it } from 'vitest';
import type { PbxDirectoryRepository } from '../../src/app/ports/store.port.js';
import type { ExtensionFields } from '../../src/domain/extension-rules.js';
import type { Gateway } from '../../src/gateway.js';
import {
  DeleteExtensionDocument,
  DeleteExtensionGroupDocument,
  ExtensionDocument,
  ExtensionGroupsDocument,
  ExtensionsDocument,
  UpdateExtensionDocument,
  UpdateExtensionGroupDocument,
} from '../generated/graphql.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';
import { gql, seedPbx, startTestGateway } from '../support/gateway.js';

type Tenant = Awaited<ReturnType<typeof seedPbx>>;

const fields = (number: string, firstName: string, email: string | null = null): ExtensionFields => ({
  number,
  firstName,
  lastName: 'Test',
  email,
  mobileNumber: null,
  jobTitle: null,
  callerIdName: null,
  voicemailEnabled: true,
  notes: null,
});

/**
 * The repository's bulk operations that the lifecycle (pause / disable / disconnect with
 * delete-or-retain, L4–L7) and the sync engine build on, checked through the API.
 */
describeEachDb('PBX directory: whole-PBX reads, deleteSynced and releaseSynced', (leg) => {
  let db: TestDatabase | undefined;
  let gw: Gateway | undefined;
  let t: Tenant;
  let other: Tenant;
  let dir: PbxDirectoryRepository;
  let ids: Record<string, string>;
  let groups: Record<string, string>;

  beforeEach(async () => {
    if (!gw) {
      db = await leg.create();
      gw = await startTestGateway(db);
    }
    const g = gw;
    t = await seedPbx(g);
    other = await seedPbx(g);
    dir = g.openStore().directory;
    ids = {};
    // Two synced, two manual extensions; a synced group with a synced and a manual member;
    // a manual group with both kinds too.
    ids.s1 = (
      await dir.createExtension(t.pbx.id, {
        ...fields('100', 'Synced1', 's1@x.com'),
        source: 'SYNCED',
        externalId: 'u-1',
      })
    ).id;
    ids.s2 = (
      await dir.createExtension(t.pbx.id, {
        ...fields('101', 'Synced2'),
        source: 'SYNCED',
        externalId: 'u-2',
      })
    ).id;
    ids.m1 = (await dir.createExtension(t.pbx.id, fields('200', 'Manual1', 'm1@x.com'))).id;
    ids.m2 = (await dir.createExtension(t.pbx.id, fields('99', 'Manual2'))).id;
    ids.o1 = (
      await dir.createExtension(other.pbx.id, {
        ...fields('100', 'OtherSynced'),
        source: 'SYNCED',
        externalId: 'u-1',
      })
    ).id;
    groups = {};
    groups.synced = (
      await dir.createExtensionGroup(t.pbx.id, {
        name: 'Entra',
        source: 'SYNCED',
        externalId: 'g-1',
        memberIds: [ids.s1, ids.m1],
      })
    ).id;
    groups.manual = (
      await dir.createExtensionGroup(t.pbx.id, { name: 'Local', memberIds: [ids.s2, ids.m2] })
    ).id;
    groups.other = (
      await dir.createExtensionGroup(other.pbx.id, {
        name: 'Entra',
        source: 'SYNCED',
        externalId: 'g-1',
        memberIds: [ids.o1],
      })
    ).id;
  });
  afterAll(async () => {
    await gw?.stop();
    await db?.drop();
  });

  const extensions = async (tenant: Tenant) =>
    (
      await gql(gw?.url as string, tenant.keys.admin, ExtensionsDocument, { first: 500 })
    ).body.data?.extensions.edges.map((e) => e.node) ?? [];
  const groupList = async (tenant: Tenant) =>
    (await gql(gw?.url as string, tenant.keys.admin, ExtensionGroupsDocument, {})).body.data?.extensionGroups
      .nodes ?? [];

  it('lists a whole PBX as domain records: extensions in number order, groups with sorted member ids', async () => {
    const all = await dir.listExtensions(t.pbx.id);
    expect(all.map((e) => e.number)).toEqual(['99', '100', '101', '200']);
    expect(all.find((e) => e.id === ids.s1)).toMatchObject({
      pbxId: t.pbx.id,
      firstName: 'Synced1',
      lastName: 'Test',
      email: 's1@x.com',
      mobileNumber: null,
      jobTitle: null,
      source: 'SYNCED',
      externalId: 'u-1',
      voicemailEnabled: true,
    });
    expect(all[0].createdAt).toBeInstanceOf(Date);
    expect(Number.isNaN(all[0].createdAt.getTime())).toBe(false);

    const gs = await dir.listExtensionGroups(t.pbx.id);
    expect(gs.map((g) => g.name)).toEqual(['Entra', 'Local']);
    expect(gs[0]).toMatchObject({
      id: groups.synced,
      source: 'SYNCED',
      externalId: 'g-1',
      memberExtensionIds: [ids.s1, ids.m1].sort(),
    });
    expect(gs[1].memberExtensionIds).toEqual([ids.s2, ids.m2].sort());
    // An empty group is listed too.
    await dir.createExtensionGroup(t.pbx.id, { name: 'Empty' });
    expect(
      (await dir.listExtensionGroups(t.pbx.id)).find((g) => g.name === 'Empty')?.memberExtensionIds,
    ).toEqual([]);
    expect(await dir.countExtensions(t.pbx.id)).toBe(4);
    expect(await dir.countExtensionGroups(t.pbx.id)).toBe(3);
  });

  it('deleteSynced(EXTENSIONS) deletes only the synced extensions of that PBX, and drops them from groups', async () => {
    expect(await dir.deleteSynced(t.pbx.id, 'EXTENSIONS')).toBe(2);
    expect((await extensions(t)).map((e) => e.number)).toEqual(['99', '200']);
    const gs = await groupList(t);
    expect(gs.find((g) => g.id === groups.synced)?.memberIds).toEqual([ids.m1]);
    expect(gs.find((g) => g.id === groups.manual)?.memberIds).toEqual([ids.m2]);
    // Groups stay as they were (still synced, still locked).
    expect(gs.find((g) => g.id === groups.synced)?.source).toBe('SYNCED');
    // The other PBX keeps its synced extension.
    expect((await extensions(other)).map((e) => e.id)).toEqual([ids.o1]);
  });

  it('releaseSynced(EXTENSIONS) makes them fully PBX-managed: MANUAL, label gone, editable, deletable', async () => {
    expect(await dir.releaseSynced(t.pbx.id, 'EXTENSIONS')).toBe(2);
    const all = await extensions(t);
    expect(all).toHaveLength(4);
    for (const e of all) expect(e).toMatchObject({ source: 'MANUAL', externalId: null, lockedFields: [] });
    const url = gw?.url as string;
    const edit = await gql(url, t.keys.admin, UpdateExtensionDocument, {
      id: ids.s1,
      input: { firstName: 'Edited' },
    });
    expect(edit.body.data?.updateExtension.firstName).toBe('Edited');
    expect(
      (await gql(url, t.keys.admin, DeleteExtensionDocument, { id: ids.s2 })).body.errors,
    ).toBeUndefined();
    // Groups are untouched by an extension release; the other PBX too.
    expect((await groupList(t)).find((g) => g.id === groups.synced)?.source).toBe('SYNCED');
    expect((await extensions(other))[0]).toMatchObject({ source: 'SYNCED', externalId: 'u-1' });
  });

  it('retained synced extensions stay locked until released', async () => {
    const url = gw?.url as string;
    const edit = await gql(url, t.keys.admin, UpdateExtensionDocument, {
      id: ids.s1,
      input: { lastName: 'X' },
    });
    expect(edit.body.errors?.[0].extensions).toMatchObject({ code: 'LOCKED_BY_SYNC', fields: ['lastName'] });
    const del = await gql(url, t.keys.admin, DeleteExtensionDocument, { id: ids.s1 });
    expect(del.body.errors?.[0].extensions?.code).toBe('LOCKED_BY_SYNC');
    await dir.releaseSynced(t.pbx.id, 'EXTENSIONS');
    const read = await gql(url, t.keys.admin, ExtensionDocument, { id: ids.s1 });
    expect(read.body.data?.extension?.source).toBe('MANUAL');
    const edit2 = await gql(url, t.keys.admin, UpdateExtensionDocument, {
      id: ids.s1,
      input: { lastName: 'X' },
    });
    expect(edit2.body.data?.updateExtension.lastName).toBe('X');
  });

  it('deleteSynced(GROUPS) deletes only synced groups; their extensions stay', async () => {
    expect(await dir.deleteSynced(t.pbx.id, 'GROUPS')).toBe(1);
    const gs = await groupList(t);
    expect(gs.map((g) => g.id)).toEqual([groups.manual]);
    expect(await extensions(t)).toHaveLength(4);
    expect((await groupList(other)).map((g) => g.id)).toEqual([groups.other]);
  });

  it('releaseSynced(GROUPS) unlocks the groups: rename, change members and delete work after', async () => {
    expect(await dir.releaseSynced(t.pbx.id, 'GROUPS')).toBe(1);
    const url = gw?.url as string;
    const gs = await groupList(t);
    // Unlocked and PBX-managed; it keeps the id of the directory group it was synced from.
    expect(gs.find((g) => g.id === groups.synced)).toMatchObject({
      source: 'MANUAL',
      externalId: expect.any(String),
      lockedFields: [],
    });
    const upd = await gql(url, t.keys.admin, UpdateExtensionGroupDocument, {
      id: groups.synced,
      name: 'Was Entra',
      memberIds: [ids.m2],
    });
    expect(upd.body.data?.updateExtensionGroup).toMatchObject({ name: 'Was Entra', memberIds: [ids.m2] });
    expect(
      (await gql(url, t.keys.admin, DeleteExtensionGroupDocument, { id: groups.synced })).body.errors,
    ).toBeUndefined();
    // Extensions keep their own lock state.
    expect((await extensions(t)).filter((e) => e.source === 'SYNCED')).toHaveLength(2);
    expect((await groupList(other))[0]).toMatchObject({ source: 'SYNCED' });
  });

  it('maps unique-index conflicts at the repository to NUMBER_IN_USE / EMAIL_IN_USE / NAME_IN_USE', async () => {
    await expect(dir.createExtension(t.pbx.id, fields('100', 'Dup'))).rejects.toMatchObject({
      code: 'NUMBER_IN_USE',
    });
    await expect(dir.createExtension(t.pbx.id, fields('300', 'Dup', 'S1@X.COM'))).rejects.toMatchObject({
      code: 'EMAIL_IN_USE',
    });
    await expect(dir.createExtensionGroup(t.pbx.id, { name: 'Local' })).rejects.toMatchObject({
      code: 'NAME_IN_USE',
    });
    // The repository stays usable after a refused write.
    const fresh = gw?.openStore().directory as PbxDirectoryRepository;
    expect((await fresh.createExtension(t.pbx.id, fields('300', 'Fine'))).number).toBe('300');
    expect((await dir.createExtension(t.pbx.id, fields('301', 'Fine too'))).number).toBe('301');
  });

  it('creates with the sync fields alone: the PBX-managed ones take their defaults', async () => {
    const made = await dir.createExtension(t.pbx.id, {
      number: '1234567',
      firstName: 'Only',
      lastName: '',
      email: null,
      mobileNumber: null,
      jobTitle: null,
      source: 'SYNCED',
      externalId: 'u-9',
    });
    expect(made).toMatchObject({ voicemailEnabled: true, callerIdName: null, notes: null, source: 'SYNCED' });
    expect((await dir.listExtensions(t.pbx.id)).at(-1)?.number).toBe('1234567');
  });
});
