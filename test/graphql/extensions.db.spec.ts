import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import {
  CreateExtensionDocument,
  CreateExtensionGroupDocument,
  type CreateExtensionInput,
  DeleteExtensionDocument,
  DeleteExtensionGroupDocument,
  ExtensionDocument,
  ExtensionGroupDocument,
  ExtensionGroupsDocument,
  type ExtensionGroupsQuery,
  ExtensionsDocument,
  type ExtensionsQueryVariables,
  UpdateExtensionDocument,
  UpdateExtensionGroupDocument,
} from '../generated/graphql.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';
import { type GqlResponse, gql, seedPbx, startTestGateway } from '../support/gateway.js';

type Tenant = Awaited<ReturnType<typeof seedPbx>>;

describeEachDb('the PBX side for admins: extensions and extension groups over GraphQL', (leg) => {
  let db: TestDatabase;
  let gw: Gateway;
  let a: Tenant;
  let b: Tenant;

  beforeAll(async () => {
    db = await leg.create();
    gw = await startTestGateway(db);
    a = await seedPbx(gw, { name: 'Alpha' });
    b = await seedPbx(gw, { name: 'Bravo' });
  });
  afterAll(async () => {
    await gw?.stop();
    await db?.drop();
  });

  const create = (t: Tenant, input: CreateExtensionInput, key = t.keys.admin) =>
    gql(gw.url, key, CreateExtensionDocument, { input });
  const createOk = async (t: Tenant, input: CreateExtensionInput) => {
    const res = await create(t, input);
    expect(res.body.errors).toBeUndefined();
    const ext = res.body.data?.createExtension;
    if (!ext) throw new Error('no extension');
    return ext;
  };
  const errorOf = (res: { body: { errors?: Array<{ extensions?: Record<string, unknown> }> } }) =>
    res.body.errors?.[0]?.extensions ?? {};
  /** What the sync engine will do: mark rows as synced (it is not written yet). */
  const markSynced = (t: Tenant, id: string, externalId: string) =>
    gw.openStore().directory.updateExtension(t.pbx.id, id, { source: 'SYNCED', externalId });

  describe('extensions', () => {
    it('creates an extension, trimmed, MANUAL, with defaults, and reads it back', async () => {
      const ext = await createOk(a, {
        number: ' 1001 ',
        firstName: ' Ann ',
        lastName: 'Archer',
        email: 'Ann.Archer@Example.com',
        mobileNumber: '+1 425 555 0100',
        jobTitle: 'Engineer',
      });
      expect(ext).toMatchObject({
        number: '1001',
        firstName: 'Ann',
        lastName: 'Archer',
        email: 'Ann.Archer@Example.com',
        mobileNumber: '+1 425 555 0100',
        jobTitle: 'Engineer',
        source: 'MANUAL',
        externalId: null,
        lockedFields: [],
        voicemailEnabled: true,
        callerIdName: null,
        notes: null,
      });
      const read = await gql(gw.url, a.keys.viewer, ExtensionDocument, { id: ext.id });
      expect(read.body.data?.extension).toEqual(ext);
    });

    it('refuses invalid input with INVALID_INPUT naming the field', async () => {
      for (const number of ['0123', '12345678', '12a', '']) {
        const res = await create(a, { number, firstName: 'X' });
        expect(errorOf(res)).toMatchObject({ code: 'INVALID_INPUT', field: 'number' });
      }
      expect(errorOf(await create(a, { number: '1990', firstName: '  ' }))).toMatchObject({
        code: 'INVALID_INPUT',
        field: 'firstName',
      });
      expect(
        errorOf(await create(a, { number: '1990', firstName: 'X', email: 'not-an-email' })),
      ).toMatchObject({
        code: 'INVALID_INPUT',
        field: 'email',
      });
      expect(
        errorOf(await create(a, { number: '1990', firstName: 'X', mobileNumber: 'call me' })),
      ).toMatchObject({
        code: 'INVALID_INPUT',
        field: 'mobileNumber',
      });
      expect(errorOf(await create(a, { number: '1990', firstName: 'X'.repeat(65) }))).toMatchObject({
        code: 'INVALID_INPUT',
        field: 'firstName',
      });
    });

    it('keeps numbers unique per PBX: NUMBER_IN_USE on create and on update', async () => {
      await createOk(a, { number: '1100', firstName: 'One' });
      const other = await createOk(a, { number: '1101', firstName: 'Two' });
      expect(errorOf(await create(a, { number: '1100', firstName: 'Dup' }))).toMatchObject({
        code: 'NUMBER_IN_USE',
        field: 'number',
      });
      const upd = await gql(gw.url, a.keys.admin, UpdateExtensionDocument, {
        id: other.id,
        input: { number: '1100' },
      });
      expect(errorOf(upd)).toMatchObject({ code: 'NUMBER_IN_USE', field: 'number' });
      // Its own number again is no conflict.
      const same = await gql(gw.url, a.keys.admin, UpdateExtensionDocument, {
        id: other.id,
        input: { number: '1101' },
      });
      expect(same.body.errors).toBeUndefined();
    });

    it('keeps emails unique per PBX case-insensitively: EMAIL_IN_USE on create and on update', async () => {
      await createOk(a, { number: '1200', firstName: 'Bea', email: 'bea@example.com' });
      const other = await createOk(a, { number: '1201', firstName: 'Cy', email: 'cy@example.com' });
      expect(
        errorOf(await create(a, { number: '1202', firstName: 'B', email: ' BEA@Example.COM ' })),
      ).toMatchObject({
        code: 'EMAIL_IN_USE',
        field: 'email',
      });
      const upd = await gql(gw.url, a.keys.admin, UpdateExtensionDocument, {
        id: other.id,
        input: { email: 'Bea@Example.com' },
      });
      expect(errorOf(upd)).toMatchObject({ code: 'EMAIL_IN_USE', field: 'email' });
      // Changing the case of one's own email is fine.
      const own = await gql(gw.url, a.keys.admin, UpdateExtensionDocument, {
        id: other.id,
        input: { email: 'CY@example.com' },
      });
      expect(own.body.data?.updateExtension.email).toBe('CY@example.com');
      // Many extensions may have no email at all.
      await createOk(a, { number: '1203', firstName: 'No mail' });
      await createOk(a, { number: '1204', firstName: 'No mail either' });
    });

    it('updates only the given fields; null clears; deletes; a deleted one is gone (NOT_FOUND after)', async () => {
      const ext = await createOk(a, {
        number: '1300',
        firstName: 'Dan',
        lastName: 'Dale',
        email: 'dan@example.com',
        jobTitle: 'Sales',
      });
      const upd = await gql(gw.url, a.keys.admin, UpdateExtensionDocument, {
        id: ext.id,
        input: { lastName: 'Dalton', email: null, number: '1301', voicemailEnabled: false, notes: 'desk 4' },
      });
      expect(upd.body.data?.updateExtension).toMatchObject({
        number: '1301',
        firstName: 'Dan',
        lastName: 'Dalton',
        email: null,
        jobTitle: 'Sales',
        voicemailEnabled: false,
        notes: 'desk 4',
      });
      // The freed email and number can be used again.
      await createOk(a, { number: '1300', firstName: 'Eve', email: 'dan@example.com' });

      const del = await gql(gw.url, a.keys.admin, DeleteExtensionDocument, { id: ext.id });
      expect(del.body.data?.deleteExtension).toBe(ext.id);
      expect(
        (await gql(gw.url, a.keys.admin, ExtensionDocument, { id: ext.id })).body.data?.extension,
      ).toBeNull();
      const again = await gql(gw.url, a.keys.admin, DeleteExtensionDocument, { id: ext.id });
      expect(errorOf(again)).toMatchObject({ code: 'NOT_FOUND' });
      const updGone = await gql(gw.url, a.keys.admin, UpdateExtensionDocument, {
        id: ext.id,
        input: { notes: 'x' },
      });
      expect(errorOf(updGone)).toMatchObject({ code: 'NOT_FOUND' });
    });

    it("enforces the PBX's extension capacity on create (CAPACITY_REACHED), and frees room on delete", async () => {
      const small = await seedPbx(gw, { extensionCapacity: 3 });
      const made = [];
      for (let i = 0; i < 3; i++) made.push(await createOk(small, { number: `20${i}`, firstName: `N${i}` }));
      const full = await create(small, { number: '299', firstName: 'Over' });
      expect(errorOf(full)).toMatchObject({ code: 'CAPACITY_REACHED', capacity: 3 });
      await gql(gw.url, small.keys.admin, DeleteExtensionDocument, { id: made[0].id });
      await createOk(small, { number: '299', firstName: 'Fits now' });
    });

    it('holds the capacity under concurrent creates', async () => {
      const small = await seedPbx(gw, { extensionCapacity: 4 });
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => create(small, { number: `${300 + i}`, firstName: `C${i}` })),
      );
      const ok = results.filter((r) => r.body.data?.createExtension);
      const refused = results.filter((r) => errorOf(r).code === 'CAPACITY_REACHED');
      expect(ok).toHaveLength(4);
      expect(refused).toHaveLength(36);
      const list = await gql(gw.url, small.keys.admin, ExtensionsDocument, {});
      expect(list.body.data?.extensions.totalCount).toBe(4);
    });
  });

  describe('paging and filters', () => {
    let p: Tenant;
    const numbers = ['5', '42', '99', '100', '101', '109', '1000', '1001', '1010', '2000', '9999999', '110'];
    beforeAll(async () => {
      p = await seedPbx(gw, { name: 'Paging' });
      const names = [
        ['Ann', 'Smith'],
        ['anna', 'Jones'],
        ['Bob', 'Annex'],
        ['Carl', 'Brown'],
      ];
      for (const [i, number] of numbers.entries()) {
        const [firstName, lastName] = names[i % names.length];
        await createOk(p, {
          number,
          firstName,
          lastName,
          email: `user${i}@${i % 2 ? 'odd' : 'even'}.example.com`,
        });
      }
    });

    const list = (vars: ExtensionsQueryVariables) => gql(gw.url, p.keys.viewer, ExtensionsDocument, vars);

    it('pages through every extension in number order (999 before 1000) with opaque cursors', async () => {
      const seen: string[] = [];
      let after: string | null | undefined = null;
      let pages = 0;
      for (;;) {
        const res = await list({ first: 5, after });
        expect(res.body.errors).toBeUndefined();
        const conn = res.body.data?.extensions;
        if (!conn) throw new Error('no data');
        expect(conn.totalCount).toBe(numbers.length);
        expect(conn.nodes.map((n) => n.number)).toEqual(conn.edges.map((e) => e.node.number));
        expect(conn.pageInfo.endCursor).toBe(conn.edges.at(-1)?.cursor ?? null);
        seen.push(...conn.nodes.map((n) => n.number));
        pages++;
        if (!conn.pageInfo.hasNextPage) break;
        after = conn.pageInfo.endCursor;
        expect(after).not.toMatch(/^\d+$/);
      }
      expect(pages).toBe(3);
      expect(seen).toEqual([...numbers].sort((x, y) => Number(x) - Number(y)));
    });

    it('filters by number prefix, name, email and source, alone and together', async () => {
      const numbersOf = async (vars: ExtensionsQueryVariables) => {
        const res = await list({ first: 100, ...vars });
        expect(res.body.errors).toBeUndefined();
        return {
          total: res.body.data?.extensions.totalCount,
          numbers: res.body.data?.extensions.nodes.map((n) => n.number),
        };
      };
      expect(await numbersOf({ filter: { number: '10' } })).toEqual({
        total: 6,
        numbers: ['100', '101', '109', '1000', '1001', '1010'],
      });
      // "ann" matches Ann Smith, anna Jones and Bob Annex (any case, first or last name).
      const ann = await numbersOf({ filter: { name: 'ANN' } });
      expect(ann.total).toBe(9);
      expect((await numbersOf({ filter: { name: 'ann smith' } })).total).toBe(3);
      expect((await numbersOf({ filter: { email: 'ODD.example' } })).total).toBe(6);
      expect((await numbersOf({ filter: { number: '10', email: '@odd' } })).numbers).toEqual([
        '100',
        '109',
        '1001',
      ]);
      // LIKE wildcards in a filter are taken literally.
      expect((await numbersOf({ filter: { name: '%' } })).total).toBe(0);
      expect((await numbersOf({ filter: { email: '_' } })).total).toBe(0);

      const first = (await list({ first: 1, filter: { number: '42' } })).body.data?.extensions.nodes[0];
      await markSynced(p, first?.id as string, 'entra-42');
      expect(await numbersOf({ filter: { source: 'SYNCED' } })).toEqual({ total: 1, numbers: ['42'] });
      expect((await numbersOf({ filter: { source: 'MANUAL' } })).total).toBe(numbers.length - 1);
    });

    it('pages a filtered list, and keeps totalCount to the filter', async () => {
      const one = await list({ first: 2, filter: { number: '10' } });
      expect(one.body.data?.extensions).toMatchObject({ totalCount: 6, pageInfo: { hasNextPage: true } });
      const two = await list({
        first: 10,
        filter: { number: '10' },
        after: one.body.data?.extensions.pageInfo.endCursor,
      });
      expect(two.body.data?.extensions.nodes.map((n) => n.number)).toEqual(['109', '1000', '1001', '1010']);
      expect(two.body.data?.extensions.pageInfo.hasNextPage).toBe(false);
    });

    it('refuses a bad cursor or page size with INVALID_INPUT', async () => {
      expect(errorOf(await list({ after: 'garbage' }))).toMatchObject({
        code: 'INVALID_INPUT',
        field: 'after',
      });
      const groupCursor = Buffer.from(JSON.stringify(['extensionGroup', 'x', 'y'])).toString('base64url');
      expect(errorOf(await list({ after: groupCursor }))).toMatchObject({
        code: 'INVALID_INPUT',
        field: 'after',
      });
      expect(errorOf(await list({ first: 0 }))).toMatchObject({ code: 'INVALID_INPUT', field: 'first' });
      expect(errorOf(await list({ first: 501 }))).toMatchObject({ code: 'INVALID_INPUT', field: 'first' });
    });

    it('answers an empty page for an empty PBX', async () => {
      const empty = await seedPbx(gw);
      const res = await gql(gw.url, empty.keys.admin, ExtensionsDocument, {});
      expect(res.body.data?.extensions).toEqual({
        totalCount: 0,
        pageInfo: { endCursor: null, hasNextPage: false },
        edges: [],
        nodes: [],
      });
    });
  });

  describe('synced extensions are locked (U9)', () => {
    let id: string;
    beforeAll(async () => {
      const ext = await createOk(a, {
        number: '4000',
        firstName: 'Sync',
        lastName: 'User',
        email: 'sync.user@example.com',
        mobileNumber: '+44 20 7946 0000',
        jobTitle: 'Analyst',
      });
      id = ext.id;
      await markSynced(a, id, '11111111-2222-3333-4444-555555555555');
    });

    it('shows the label and the locked fields', async () => {
      const res = await gql(gw.url, a.keys.admin, ExtensionDocument, { id });
      expect(res.body.data?.extension).toMatchObject({
        source: 'SYNCED',
        externalId: '11111111-2222-3333-4444-555555555555',
        lockedFields: ['firstName', 'lastName', 'email', 'mobileNumber', 'jobTitle'],
      });
    });

    it.each([
      ['firstName', { firstName: 'Changed' }],
      ['lastName', { lastName: 'Changed' }],
      ['email', { email: 'changed@example.com' }],
      ['email', { email: null }],
      ['mobileNumber', { mobileNumber: '+1 555 0101' }],
      ['jobTitle', { jobTitle: 'Boss' }],
      ['jobTitle', { jobTitle: null }],
    ])('refuses a change of %s with LOCKED_BY_SYNC naming it', async (field, input) => {
      const res = await gql(gw.url, a.keys.admin, UpdateExtensionDocument, { id, input });
      expect(errorOf(res)).toMatchObject({ code: 'LOCKED_BY_SYNC', field, fields: [field] });
      expect((await gql(gw.url, a.keys.admin, ExtensionDocument, { id })).body.data?.extension).toMatchObject(
        {
          firstName: 'Sync',
          lastName: 'User',
          email: 'sync.user@example.com',
          mobileNumber: '+44 20 7946 0000',
          jobTitle: 'Analyst',
        },
      );
    });

    it('names every locked field a request tries to change, and changes nothing', async () => {
      const res = await gql(gw.url, a.keys.admin, UpdateExtensionDocument, {
        id,
        input: { jobTitle: 'X', firstName: 'Y', notes: 'would be fine alone' },
      });
      expect(errorOf(res)).toMatchObject({ code: 'LOCKED_BY_SYNC', fields: ['firstName', 'jobTitle'] });
      expect(
        (await gql(gw.url, a.keys.admin, ExtensionDocument, { id })).body.data?.extension?.notes,
      ).toBeNull();
    });

    it('refuses to delete it with LOCKED_BY_SYNC', async () => {
      const res = await gql(gw.url, a.keys.admin, DeleteExtensionDocument, { id });
      expect(errorOf(res)).toMatchObject({ code: 'LOCKED_BY_SYNC' });
      expect((await gql(gw.url, a.keys.admin, ExtensionDocument, { id })).body.data?.extension?.id).toBe(id);
    });

    it('still lets the number and the PBX-managed fields change, and the locked ones be sent unchanged', async () => {
      const res = await gql(gw.url, a.keys.admin, UpdateExtensionDocument, {
        id,
        input: {
          number: '4001',
          callerIdName: 'Sync U.',
          voicemailEnabled: false,
          notes: 'front desk',
          // A form sending the synced values back as they are is not refused.
          firstName: 'Sync',
          lastName: 'User',
          email: 'SYNC.USER@example.com',
          mobileNumber: '+44 20 7946 0000',
          jobTitle: 'Analyst',
        },
      });
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data?.updateExtension).toMatchObject({
        number: '4001',
        callerIdName: 'Sync U.',
        voicemailEnabled: false,
        notes: 'front desk',
        source: 'SYNCED',
        firstName: 'Sync',
      });
    });
  });

  describe('extension groups', () => {
    let g: Tenant;
    let ids: string[];
    beforeAll(async () => {
      g = await seedPbx(gw, { name: 'Groups' });
      ids = [];
      for (let i = 0; i < 4; i++) ids.push((await createOk(g, { number: `50${i}`, firstName: `M${i}` })).id);
    });
    const createGroup = (name: string, memberIds?: string[] | null, t: Tenant = g) =>
      gql(gw.url, t.keys.admin, CreateExtensionGroupDocument, { name, memberIds });

    it('creates a group with members, reads it, renames it, replaces its members, deletes it', async () => {
      const res = await createGroup(' Sales ', [ids[0], ids[1], ids[1]]);
      expect(res.body.errors).toBeUndefined();
      const group = res.body.data?.createExtensionGroup;
      expect(group).toMatchObject({ name: 'Sales', source: 'MANUAL', memberCount: 2, lockedFields: [] });
      expect(group?.memberIds).toEqual([ids[0], ids[1]].sort());
      const id = group?.id as string;

      const upd = await gql(gw.url, g.keys.admin, UpdateExtensionGroupDocument, {
        id,
        name: 'Sales EU',
        memberIds: [ids[1], ids[2], ids[3]],
      });
      expect(upd.body.data?.updateExtensionGroup).toMatchObject({ name: 'Sales EU', memberCount: 3 });
      expect(upd.body.data?.updateExtensionGroup.memberIds).toEqual([ids[1], ids[2], ids[3]].sort());
      // Only the name: members stay.
      const rename = await gql(gw.url, g.keys.admin, UpdateExtensionGroupDocument, { id, name: 'Sales DE' });
      expect(rename.body.data?.updateExtensionGroup).toMatchObject({ name: 'Sales DE', memberCount: 3 });

      const del = await gql(gw.url, g.keys.admin, DeleteExtensionGroupDocument, { id });
      expect(del.body.data?.deleteExtensionGroup).toBe(id);
      expect(
        (await gql(gw.url, g.keys.admin, ExtensionGroupDocument, { id })).body.data?.extensionGroup,
      ).toBeNull();
      // Its extensions stay.
      expect(
        (await gql(gw.url, g.keys.admin, ExtensionDocument, { id: ids[1] })).body.data?.extension?.id,
      ).toBe(ids[1]);
    });

    it('drops a deleted extension from its groups', async () => {
      const extra = await createOk(g, { number: '599', firstName: 'Leaves' });
      const res = await createGroup('Leavers', [ids[0], extra.id]);
      const id = res.body.data?.createExtensionGroup.id as string;
      await gql(gw.url, g.keys.admin, DeleteExtensionDocument, { id: extra.id });
      const read = await gql(gw.url, g.keys.admin, ExtensionGroupDocument, { id });
      expect(read.body.data?.extensionGroup?.memberIds).toEqual([ids[0]]);
      await gql(gw.url, g.keys.admin, DeleteExtensionGroupDocument, { id });
    });

    it('refuses a duplicate name (NAME_IN_USE), a blank name, and unknown members (INVALID_INPUT memberIds)', async () => {
      const first = await createGroup('Support');
      expect(first.body.errors).toBeUndefined();
      expect(errorOf(await createGroup('Support'))).toMatchObject({ code: 'NAME_IN_USE', field: 'name' });
      expect(errorOf(await createGroup('  '))).toMatchObject({ code: 'INVALID_INPUT', field: 'name' });
      const unknown = await createGroup('Ghosts', [ids[0], '00000000-0000-0000-0000-000000000000']);
      expect(errorOf(unknown)).toMatchObject({ code: 'INVALID_INPUT', field: 'memberIds' });
      const other = await createGroup('Support 2');
      const rename = await gql(gw.url, g.keys.admin, UpdateExtensionGroupDocument, {
        id: other.body.data?.createExtensionGroup.id as string,
        name: 'Support',
      });
      expect(errorOf(rename)).toMatchObject({ code: 'NAME_IN_USE', field: 'name' });
      for (const res of [first, other]) {
        await gql(gw.url, g.keys.admin, DeleteExtensionGroupDocument, {
          id: res.body.data?.createExtensionGroup.id as string,
        });
      }
    });

    it('locks a synced group: no rename, no member change, no delete (G4); unchanged values pass', async () => {
      const res = await createGroup('Entra Team', [ids[0], ids[1]]);
      const id = res.body.data?.createExtensionGroup.id as string;
      await gw
        .openStore()
        .directory.updateExtensionGroup(g.pbx.id, id, { source: 'SYNCED', externalId: 'grp-1' });

      const read = await gql(gw.url, g.keys.viewer, ExtensionGroupDocument, { id });
      expect(read.body.data?.extensionGroup).toMatchObject({
        source: 'SYNCED',
        externalId: 'grp-1',
        lockedFields: ['name', 'memberIds'],
      });
      const rename = await gql(gw.url, g.keys.admin, UpdateExtensionGroupDocument, { id, name: 'Other' });
      expect(errorOf(rename)).toMatchObject({ code: 'LOCKED_BY_SYNC', field: 'name', fields: ['name'] });
      const members = await gql(gw.url, g.keys.admin, UpdateExtensionGroupDocument, {
        id,
        memberIds: [ids[0]],
      });
      expect(errorOf(members)).toMatchObject({ code: 'LOCKED_BY_SYNC', fields: ['memberIds'] });
      const both = await gql(gw.url, g.keys.admin, UpdateExtensionGroupDocument, {
        id,
        name: 'Other',
        memberIds: [],
      });
      expect(errorOf(both)).toMatchObject({ code: 'LOCKED_BY_SYNC', fields: ['name', 'memberIds'] });
      const del = await gql(gw.url, g.keys.admin, DeleteExtensionGroupDocument, { id });
      expect(errorOf(del)).toMatchObject({ code: 'LOCKED_BY_SYNC' });
      const same = await gql(gw.url, g.keys.admin, UpdateExtensionGroupDocument, {
        id,
        name: 'Entra Team',
        memberIds: [ids[1], ids[0]],
      });
      expect(same.body.errors).toBeUndefined();
      expect(
        (await gql(gw.url, g.keys.admin, ExtensionGroupDocument, { id })).body.data?.extensionGroup,
      ).toMatchObject({
        name: 'Entra Team',
        memberCount: 2,
      });
      await gw.openStore().directory.releaseSynced(g.pbx.id, 'GROUPS');
      expect(
        (await gql(gw.url, g.keys.admin, DeleteExtensionGroupDocument, { id })).body.errors,
      ).toBeUndefined();
    });

    it('holds at most 63 extension groups (GROUP_LIMIT_REACHED), and pages them by name', async () => {
      const full = await seedPbx(gw, { name: 'Full' });
      const store = gw.openStore();
      for (let i = 0; i < 62; i++) {
        await store.directory.createExtensionGroup(full.pbx.id, { name: `G${String(i).padStart(2, '0')}` });
      }
      expect((await createGroup('G62', null, full)).body.errors).toBeUndefined();
      expect(errorOf(await createGroup('G63', null, full))).toMatchObject({
        code: 'GROUP_LIMIT_REACHED',
        limit: 63,
      });

      const names: string[] = [];
      let after: string | null | undefined = null;
      for (;;) {
        const res: GqlResponse<ExtensionGroupsQuery> = await gql(
          gw.url,
          full.keys.viewer,
          ExtensionGroupsDocument,
          {
            first: 25,
            after,
          },
        );
        const conn = res.body.data?.extensionGroups;
        if (!conn) throw new Error(JSON.stringify(res.body.errors));
        expect(conn.totalCount).toBe(63);
        names.push(...conn.nodes.map((n) => n.name));
        if (!conn.pageInfo.hasNextPage) break;
        after = conn.pageInfo.endCursor;
      }
      expect(names).toEqual(Array.from({ length: 63 }, (_, i) => `G${String(i).padStart(2, '0')}`));
    });
  });

  describe('tenancy and roles', () => {
    it("never shows or touches another PBX's extensions and groups", async () => {
      const mine = await createOk(a, { number: '7000', firstName: 'Mine', email: 'shared@example.com' });
      const group = (
        await gql(gw.url, a.keys.admin, CreateExtensionGroupDocument, {
          name: 'A only',
          memberIds: [mine.id],
        })
      ).body.data?.createExtensionGroup;
      // The same number and email are free in the other PBX.
      const theirs = await createOk(b, { number: '7000', firstName: 'Theirs', email: 'SHARED@example.com' });

      const listB = await gql(gw.url, b.keys.admin, ExtensionsDocument, { first: 500 });
      expect(listB.body.data?.extensions.nodes.map((n) => n.id)).toEqual([theirs.id]);
      expect(
        (await gql(gw.url, b.keys.admin, ExtensionDocument, { id: mine.id })).body.data?.extension,
      ).toBeNull();
      expect(
        errorOf(
          await gql(gw.url, b.keys.admin, UpdateExtensionDocument, {
            id: mine.id,
            input: { firstName: 'Hacked' },
          }),
        ),
      ).toMatchObject({ code: 'NOT_FOUND' });
      expect(
        errorOf(await gql(gw.url, b.keys.admin, DeleteExtensionDocument, { id: mine.id })),
      ).toMatchObject({
        code: 'NOT_FOUND',
      });
      expect(
        errorOf(
          await gql(gw.url, b.keys.admin, CreateExtensionGroupDocument, {
            name: 'Steal',
            memberIds: [mine.id],
          }),
        ),
      ).toMatchObject({ code: 'INVALID_INPUT', field: 'memberIds' });
      const gid = group?.id as string;
      expect(
        (await gql(gw.url, b.keys.admin, ExtensionGroupDocument, { id: gid })).body.data?.extensionGroup,
      ).toBeNull();
      expect(
        errorOf(
          await gql(gw.url, b.keys.admin, UpdateExtensionGroupDocument, { id: gid, memberIds: [theirs.id] }),
        ),
      ).toMatchObject({ code: 'NOT_FOUND' });
      expect(
        errorOf(await gql(gw.url, b.keys.admin, DeleteExtensionGroupDocument, { id: gid })),
      ).toMatchObject({
        code: 'NOT_FOUND',
      });
      const groupsB = await gql(gw.url, b.keys.admin, ExtensionGroupsDocument, {});
      expect(groupsB.body.data?.extensionGroups.nodes.map((n) => n.id)).not.toContain(gid);

      const stillMine = await gql(gw.url, a.keys.admin, ExtensionDocument, { id: mine.id });
      expect(stillMine.body.data?.extension).toMatchObject({
        firstName: 'Mine',
        email: 'shared@example.com',
      });
    });

    it('lets a VIEWER read but refuses every mutation with FORBIDDEN; LINKUS may not even read', async () => {
      const ext = await createOk(a, { number: '7100', firstName: 'Viewed' });
      expect(
        (await gql(gw.url, a.keys.viewer, ExtensionDocument, { id: ext.id })).body.data?.extension?.id,
      ).toBe(ext.id);
      const attempts = [
        create(a, { number: '7101', firstName: 'No' }, a.keys.viewer),
        gql(gw.url, a.keys.viewer, UpdateExtensionDocument, { id: ext.id, input: { notes: 'no' } }),
        gql(gw.url, a.keys.viewer, DeleteExtensionDocument, { id: ext.id }),
        gql(gw.url, a.keys.viewer, CreateExtensionGroupDocument, { name: 'No' }),
        gql(gw.url, a.keys.viewer, UpdateExtensionGroupDocument, { id: ext.id, name: 'No' }),
        gql(gw.url, a.keys.viewer, DeleteExtensionGroupDocument, { id: ext.id }),
      ];
      for (const res of await Promise.all(attempts))
        expect(errorOf(res)).toMatchObject({ code: 'FORBIDDEN' });
      expect(
        (await gql(gw.url, a.keys.admin, ExtensionDocument, { id: ext.id })).body.data?.extension?.notes,
      ).toBeNull();
      expect(errorOf(await gql(gw.url, a.keys.linkus, ExtensionsDocument, {}))).toMatchObject({
        code: 'FORBIDDEN',
      });
      expect(errorOf(await gql(gw.url, a.keys.linkus, ExtensionGroupsDocument, {}))).toMatchObject({
        code: 'FORBIDDEN',
      });
    });
  });
});
