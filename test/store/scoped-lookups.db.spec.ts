import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPbx } from '../../src/app/pbx.js';
import type { Store } from '../../src/app/ports/store.port.js';
import type { DirectoryUser } from '../../src/domain/directory.types.js';
import type { UserPlanItem } from '../../src/domain/sync-plan.types.js';
import { type Orm, openDatabase } from '../../src/store/orm.js';
import { openStore } from '../../src/store/store.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';

/**
 * Issue 16: what a delta run reads instead of the whole PBX and snapshot: extensions by Entra
 * id, email key and number; the lowest free numbers (U3 AUTO); the counts the policies need;
 * snapshot rows by id; extension groups with the members of some; and the applier's batched
 * UPDATE statement (one per 200 items), read back exactly.
 */

function create(number: string, email: string | null, userId = randomUUID()) {
  return {
    action: 'CREATE',
    reason: 'NEW_USER',
    userId,
    displayName: `User ${number}`,
    userPrincipalName: `user${number}@contoso.test`,
    extensionId: null,
    number,
    detail: null,
    sendWelcomeEmail: false,
    extension: { number, firstName: 'F', lastName: number, email, mobileNumber: null, jobTitle: null },
  } satisfies UserPlanItem;
}

function user(id: string): DirectoryUser {
  return {
    id,
    displayName: id,
    givenName: null,
    surname: null,
    mail: `${id}@contoso.test`,
    userPrincipalName: `${id}@contoso.test`,
    mobilePhone: null,
    businessPhones: [],
    jobTitle: null,
    department: null,
    accountEnabled: true,
    userType: 'Member',
    deletionState: 'PRESENT',
    deletedDateTime: null,
  };
}

describeEachDb('issue 16: indexed lookups of a delta run', (leg) => {
  let db: TestDatabase;
  let orm: Orm;
  let store: () => Store;
  let pbxId: string;
  let otherPbx: string;
  const created = new Map<string, string>();

  beforeAll(async () => {
    db = await leg.create();
    orm = await openDatabase(db.config);
    store = () => openStore(orm, () => new Date());
    pbxId = (await createPbx(store(), { name: 'Scoped PBX', extensionCapacity: 1000 })).id;
    otherPbx = (await createPbx(store(), { name: 'Other PBX', extensionCapacity: 1000 })).id;
    // Numbers 1000-1004, 1006, 1009 and 1000000 taken; 1005, 1007, 1008, 1010 ... free.
    const items = ['1000', '1001', '1002', '1003', '1004', '1006', '1009', '1000000'].map((n) =>
      create(n, `User${n}@Contoso.test`),
    );
    const s = store();
    await s.transactional(async (tx) => {
      for (const [k, v] of await tx.applier.applyUserItems(pbxId, items)) created.set(k, v);
    });
    // The other PBX's numbers and emails are no business of this one.
    await store().transactional((tx) =>
      tx.applier.applyUserItems(otherPbx, [create('1005', 'User1000@Contoso.test')]),
    );
    await store().directory.createExtension(pbxId, {
      number: '1012',
      firstName: 'Hand',
      lastName: 'Made',
      email: null,
      mobileNumber: null,
      jobTitle: null,
    });
  });
  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });

  it('U3 AUTO: the lowest free numbers from the start number, gaps first, then past the last taken', async () => {
    const d = store().directory;
    expect(await d.freeExtensionNumbers(pbxId, '1000', 6)).toEqual([
      '1005',
      '1007',
      '1008',
      '1010',
      '1011',
      '1013',
    ]);
    expect(await d.freeExtensionNumbers(pbxId, '1007', 2)).toEqual(['1007', '1008']);
    expect(await d.freeExtensionNumbers(pbxId, '999', 2)).toEqual(['999', '1005']);
    expect(await d.freeExtensionNumbers(pbxId, '9999998', 5)).toEqual(['9999998', '9999999']);
    expect(await d.freeExtensionNumbers(pbxId, '1000', 0)).toEqual([]);
    expect(await d.freeExtensionNumbers(otherPbx, '1000', 2)).toEqual(['1000', '1001']);
  });

  it('U3 AUTO on an unbroken run of numbers: the free ones follow the highest (no walk over the used ones)', async () => {
    const dense = (await createPbx(store(), { name: 'Dense PBX', extensionCapacity: 1000 })).id;
    await store().transactional((tx) =>
      tx.applier.applyUserItems(
        dense,
        Array.from({ length: 10 }, (_, i) => create(String(2000 + i), null)),
      ),
    );
    const d = store().directory;
    expect(await d.freeExtensionNumbers(dense, '2000', 3)).toEqual(['2010', '2011', '2012']);
    expect(await d.freeExtensionNumbers(dense, '1998', 3)).toEqual(['1998', '1999', '2010']);
    expect(await d.freeExtensionNumbers(dense, '2004', 2)).toEqual(['2010', '2011']);
    expect(await d.freeExtensionNumbers(dense, '2009', 1)).toEqual(['2010']);
    expect(await d.freeExtensionNumbers(dense, '9999999', 1)).toEqual(['9999999']);
    // A gap made in the run: found again by the walk.
    const [ext] = await d.findExtensionsByKeys(dense, { numbers: ['2003'] });
    await store().directory.deleteExtension(dense, ext.id);
    expect(await store().directory.freeExtensionNumbers(dense, '2000', 2)).toEqual(['2003', '2010']);
  });

  it('the fingerprint and the synced count are read along indexes of the PBX, not by scanning its extensions', async () => {
    const conn = orm.em.getConnection();
    const names =
      leg.kind === 'sqlite'
        ? ((await conn.execute(
            "select name from sqlite_master where type = 'index' and tbl_name = 'extension'",
          )) as Array<{ name: string }>)
        : ((await conn.execute(
            "select indexname as name from pg_indexes where tablename = 'extension'",
          )) as Array<{
            name: string;
          }>);
    expect(names.map((n) => n.name)).toEqual(
      expect.arrayContaining(['extension_pbx_updated_at_index', 'extension_pbx_source_index']),
    );
    if (leg.kind === 'sqlite') {
      const plan = (sql: string) =>
        conn
          .execute(`explain query plan ${sql}`, [pbxId])
          .then((rows: Array<{ detail: string }>) => rows.map((r) => r.detail).join('; '));
      expect(
        await plan('select count(*) as n, max(updated_at) as m from extension where pbx_id = ?'),
      ).toMatch(/COVERING INDEX extension_pbx_updated_at_index/);
      expect(
        await plan("select count(*) as n from extension where pbx_id = ? and source = 'SYNCED'"),
      ).toMatch(/COVERING INDEX extension_pbx_source_index/);
    }
  });

  it('the applier names extensions by primary key: no UPDATE, RELEASE or DELETE walks the PBX (SQLite query plans)', async () => {
    const pbx = (await createPbx(store(), { name: 'Plan PBX', extensionCapacity: 1000 })).id;
    // Several ids to a statement (one id alone is a primary-key probe whatever else is written).
    const numbers = Array.from({ length: 10 }, (_, i) => String(3000 + i));
    const made = await store().transactional((tx) =>
      tx.applier.applyUserItems(
        pbx,
        numbers.map((n) => create(n, `plan${n}@contoso.test`)),
      ),
    );
    const byNumber = new Map(
      (await store().directory.findExtensionsByKeys(pbx, { numbers })).map((e) => [e.number, e]),
    );
    const at = (n: number) => {
      const e = byNumber.get(String(3000 + n));
      if (!e?.externalId || made.get(e.externalId) !== e.id) throw new Error(`no extension ${3000 + n}`);
      return [e.externalId, e.id] as const;
    };
    const knex = (orm.em.getConnection() as unknown as { getKnex(): import('knex').Knex }).getKnex();
    const seen: Array<{ sql: string; bindings: unknown[] }> = [];
    const listen = (q: { sql: string; bindings?: unknown[] }) => {
      if (/^(update|delete)[\s\S]*"?extension"?\s/i.test(q.sql) || /from extension where/i.test(q.sql))
        seen.push({ sql: q.sql, bindings: q.bindings ?? [] });
    };
    knex.on('query', listen);
    const item = (action: string, userId: string, extensionId: string, extra = {}) =>
      ({
        action,
        reason: 'R',
        userId,
        displayName: userId,
        userPrincipalName: null,
        extensionId,
        number: null,
        detail: null,
        ...extra,
      }) as unknown as UserPlanItem;
    try {
      await store().transactional((tx) =>
        tx.applier.applyUserItems(pbx, [
          ...[0, 1, 2].map((n) => item('DELETE', ...at(n))),
          ...[3, 4, 5].map((n) => item('RELEASE', ...at(n))),
          ...[6, 7, 8].map((n) =>
            item('UPDATE', ...at(n), { changes: [{ field: 'jobTitle', from: null, to: 'Planned' }] }),
          ),
        ]),
      );
    } finally {
      knex.removeListener('query', listen);
    }
    const left = await store().directory.findExtensionsByKeys(pbx, { numbers });
    expect(left.map((e) => [e.number, e.source, e.jobTitle])).toEqual([
      ['3003', 'MANUAL', null],
      ['3004', 'MANUAL', null],
      ['3005', 'MANUAL', null],
      ['3006', 'SYNCED', 'Planned'],
      ['3007', 'SYNCED', 'Planned'],
      ['3008', 'SYNCED', 'Planned'],
      ['3009', 'SYNCED', null],
    ]);
    expect(seen.length).toBeGreaterThanOrEqual(3);
    if (leg.kind === 'sqlite') {
      for (const q of seen) {
        const plan = (await orm.em
          .getConnection()
          .execute(`explain query plan ${q.sql}`, q.bindings as unknown[])) as Array<{ detail: string }>;
        const details = plan.map((r) => r.detail).join('; ');
        expect(details, q.sql).toMatch(
          /extension USING (COVERING )?INDEX sqlite_autoindex_extension_1 \(id=\?\)/,
        );
        expect(details, q.sql).not.toMatch(/extension USING (COVERING )?INDEX extension_pbx/);
      }
    }
  });

  it('extensions by Entra id, email key and number, each once, of this PBX only; counts by source', async () => {
    const d = store().directory;
    const ids = [...created.keys()];
    const found = await d.findExtensionsByKeys(pbxId, {
      externalIds: [ids[0], 'nobody'],
      emailKeys: ['user1000@contoso.test', 'user1001@contoso.test'],
      numbers: ['1001', '1012', '4242'],
    });
    expect(found.map((e) => e.number)).toEqual(['1000', '1001', '1012']);
    expect(found[0]).toMatchObject({ externalId: ids[0], email: 'User1000@Contoso.test', source: 'SYNCED' });
    expect(await d.findExtensionsByKeys(pbxId, {})).toEqual([]);
    expect(await d.extensionCounts(pbxId)).toEqual({ total: 9, synced: 8 });
  });

  it('snapshot rows by id; FAIL items of a run by scope', async () => {
    const s = store();
    await s.sync.replaceSnapshot(pbxId, 'USER', [user('u1'), user('u2'), user('u3')]);
    await s.sync.replaceSnapshot(otherPbx, 'USER', [user('u4')]);
    const rows = await store().sync.loadSnapshotUsers(pbxId, ['u3', 'u1', 'u4', 'missing']);
    expect(rows.map((u) => u.id).sort()).toEqual(['u1', 'u3']);
    expect(rows.find((u) => u.id === 'u1')).toEqual(user('u1'));
    const run = await store().sync.createRun({
      pbxId,
      trigger: 'MANUAL',
      scopes: ['USERS'],
      queuedAt: new Date(),
    });
    const row = (seq: number, scope: 'USER' | 'GROUP', action: string, reason: string, objectId: string) => ({
      seq,
      scope,
      action: action as 'FAIL',
      reason,
      objectId,
      objectName: objectId,
      objectSecondary: null,
      number: null,
      targetId: null,
      detail: null,
      changes: null,
      state: 'REPORTED' as const,
    });
    await store().sync.addItems(run.id, [
      row(0, 'USER', 'FAIL', 'DUPLICATE_EMAIL', 'u1'),
      row(1, 'USER', 'SKIP', 'USER_DISABLED', 'u2'),
      row(2, 'USER', 'SKIP', 'USER_SOFT_DELETED', 'u3'),
      row(3, 'GROUP', 'FAIL', 'DUPLICATE_NAME', 'g1'),
    ]);
    expect(await store().sync.failedObjectIds(run.id)).toEqual({ users: ['u1', 'u3'], groups: ['g1'] });
  });

  it('extension groups, with the members of those asked for only', async () => {
    const s = store();
    const [a, b] = [...created.values()];
    const g1 = await s.directory.createExtensionGroup(pbxId, { name: 'One', memberIds: [a, b] });
    const g2 = await store().directory.createExtensionGroup(pbxId, { name: 'Two', memberIds: [a] });
    const groups = await store().directory.listExtensionGroupsFor(pbxId, (g) => g.id === g1.id);
    expect(groups.map((g) => [g.name, g.memberExtensionIds])).toEqual([
      ['One', [a, b].sort()],
      ['Two', []],
    ]);
    expect(groups[1].id).toBe(g2.id);
  });

  it('UPDATE items, many to a statement, change exactly their fields, and only while synced to their user', async () => {
    const byUser = [...created.entries()];
    const before = await store().directory.findExtensionsByKeys(pbxId, {
      externalIds: byUser.map(([u]) => u),
    });
    const update = (
      i: number,
      changes: Array<{ field: string; from: unknown; to: unknown }>,
      userId?: string,
    ) => {
      const [u, extensionId] = byUser[i];
      return {
        action: 'UPDATE',
        reason: 'USER_CHANGED',
        userId: userId ?? u,
        displayName: u,
        userPrincipalName: null,
        extensionId,
        number: null,
        detail: null,
        changes,
      } as unknown as UserPlanItem;
    };
    await store().transactional((tx) =>
      tx.applier.applyUserItems(pbxId, [
        update(0, [
          { field: 'jobTitle', from: null, to: 'Boss' },
          { field: 'email', from: 'x', to: 'New.Mail@Contoso.test' },
        ]),
        update(1, [{ field: 'mobileNumber', from: null, to: '+1 425 555 0199' }]),
        update(2, [{ field: 'number', from: '1002', to: '1020' }]),
        // Not synced to this user (any more): left as it is.
        update(3, [{ field: 'jobTitle', from: null, to: 'Nope' }], 'someone-else'),
      ]),
    );
    const after = new Map(
      (await store().directory.findExtensionsByKeys(pbxId, { externalIds: byUser.map(([u]) => u) })).map(
        (e) => [e.externalId, e],
      ),
    );
    const was = new Map(before.map((e) => [e.externalId, e]));
    const [u0, u1, u2, u3, u4] = byUser.map(([u]) => u);
    expect(after.get(u0)).toMatchObject({ jobTitle: 'Boss', email: 'New.Mail@Contoso.test', number: '1000' });
    expect((await store().directory.findExtensionByEmail(pbxId, 'new.mail@contoso.test'))?.id).toBe(
      byUser[0][1],
    );
    expect(after.get(u1)).toMatchObject({ mobileNumber: '+1 425 555 0199', jobTitle: null });
    expect(after.get(u2)?.number).toBe('1020');
    expect(await store().directory.freeExtensionNumbers(pbxId, '1000', 1)).toEqual(['1002']);
    expect(after.get(u3)).toEqual(was.get(u3));
    expect(after.get(u4)).toEqual(was.get(u4));
    expect(after.get(u0)?.updatedAt.getTime()).toBeGreaterThanOrEqual(was.get(u0)?.updatedAt.getTime() ?? 0);
  });
});
