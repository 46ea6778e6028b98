import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApiKey, createOperatorKey } from '../../src/app/access.js';
import { createPbx } from '../../src/app/pbx.js';
import type { Store } from '../../src/app/ports/store.port.js';
import { ApiRole } from '../../src/domain/access.js';
import type { DirectoryUser } from '../../src/domain/directory.types.js';
import type { UserPlanItem } from '../../src/domain/sync-plan.types.js';
import { type Orm, openDatabase } from '../../src/store/orm.js';
import { openStore } from '../../src/store/store.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';

/**
 * Deleting a PBX (issue 11 item 5): every row of it goes, in one transaction, in statements of
 * bounded size (more rows than one statement deletes, here), and no row of another PBX.
 */
const N = 2_345;

function create(n: number): UserPlanItem {
  const number = String(1000 + n);
  return {
    action: 'CREATE',
    reason: 'NEW_USER',
    userId: randomUUID(),
    displayName: `User ${n}`,
    userPrincipalName: `user${n}@contoso.test`,
    extensionId: null,
    number,
    detail: null,
    sendWelcomeEmail: false,
    extension: {
      number,
      firstName: 'User',
      lastName: String(n),
      email: null,
      mobileNumber: null,
      jobTitle: null,
    },
  };
}

const TABLES = [
  'extension',
  'extension_group',
  'directory_object',
  'sync_run',
  'welcome_email',
  'graph_subscription',
  'audit_entry',
  'api_key',
  'sync_settings',
  'integration',
] as const;

describeEachDb('deleting a PBX: every row of it, in one transaction, and nothing else', (leg) => {
  let db: TestDatabase;
  let orm: Orm;
  let store: Store;

  beforeAll(async () => {
    db = await leg.create();
    orm = await openDatabase(db.config);
    store = openStore(orm, () => new Date());
  }, 60_000);
  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });

  const count = async (table: string, pbxId: string) => {
    const rows = await orm.em
      .fork()
      .getConnection()
      .execute(`select count(*) as n from ${table} where pbx_id = ?`, [pbxId]);
    return Number(rows[0].n);
  };
  const countVia = async (sql: string, pbxId: string) =>
    Number((await orm.em.fork().getConnection().execute(sql, [pbxId]))[0].n);
  const members = (pbxId: string) =>
    countVia(
      'select count(*) as n from extension_group_member m join extension_group g on g.id = m.group_id where g.pbx_id = ?',
      pbxId,
    );
  const items = (pbxId: string) =>
    countVia(
      'select count(*) as n from sync_run_item i join sync_run r on r.id = i.run_id where r.pbx_id = ?',
      pbxId,
    );

  async function seed(name: string, size: number) {
    const pbx = await createPbx(store, { name, extensionCapacity: 100_000 });
    await store.transactional((tx) =>
      tx.applier.applyUserItems(
        pbx.id,
        Array.from({ length: size }, (_, n) => create(n)),
      ),
    );
    const extensions = await store.directory.listExtensions(pbx.id);
    await store.transactional((tx) =>
      tx.directory.createExtensionGroup(pbx.id, { name: 'Everyone', memberIds: extensions.map((e) => e.id) }),
    );
    const users = extensions.map(
      (e, n) =>
        ({ id: `u-${n}`, userPrincipalName: `u${n}@x.test`, displayName: e.lastName }) as DirectoryUser,
    );
    await store.transactional((tx) => tx.sync.replaceSnapshot(pbx.id, 'USER', users));
    const run = await store.sync.createRun({
      pbxId: pbx.id,
      trigger: 'MANUAL',
      scopes: ['USERS'],
      queuedAt: new Date(),
    });
    await store.transactional((tx) =>
      tx.sync.addItems(
        run.id,
        extensions.map((e, seq) => ({
          seq,
          scope: 'USER' as const,
          action: 'CREATE' as const,
          reason: 'NEW_USER',
          objectId: `u-${seq}`,
          objectName: e.lastName,
          objectSecondary: null,
          number: e.number,
          targetId: e.id,
          detail: null,
          changes: null,
          state: 'APPLIED' as const,
        })),
      ),
    );
    await store.welcomeEmails.record(
      extensions.slice(0, 10).map((e) => ({
        pbxId: pbx.id,
        runId: run.id,
        extensionId: e.id,
        number: e.number,
        name: e.lastName,
        queuedAt: new Date(),
      })),
    );
    await store.subscriptions.save({
      id: `sub-${randomUUID()}`,
      pbxId: pbx.id,
      resource: '/users',
      expiresAt: new Date(Date.now() + 3600_000),
      clientStateHash: 'h',
    });
    const key = await createApiKey(store, { pbxId: pbx.id, role: 'admin' });
    await createApiKey(store, { pbxId: pbx.id, role: 'viewer' });
    await store.audit.record({
      pbxId: pbx.id,
      keyId: key.id,
      role: ApiRole.ADMIN,
      operation: 'updatePbx',
      arguments: {},
      outcome: 'OK',
      message: null,
      requestId: null,
      at: new Date(),
    });
    await store.sync.getSettings(pbx.id);
    return pbx;
  }

  it('deletes thousands of rows of every kind, keeps another PBX whole, and rolls back with its transaction', async () => {
    const doomed = await seed('Doomed', N);
    const kept = await seed('Kept', 3);
    const operator = await createOperatorKey(store, { label: 'ops' });
    const before = async (pbxId: string) =>
      Object.fromEntries([
        ...(await Promise.all(TABLES.map(async (t) => [t, await count(t, pbxId)] as const))),
        ['extension_group_member', await members(pbxId)],
        ['sync_run_item', await items(pbxId)],
      ]);
    const doomedRows = await before(doomed.id);
    expect(doomedRows).toMatchObject({
      extension: N,
      extension_group_member: N,
      sync_run_item: N,
      api_key: 2,
    });
    const keptRows = await before(kept.id);

    // A transaction that fails after the delete takes it back: all of it.
    await expect(
      store.transactional(async (tx) => {
        await tx.tenants.deletePbx(doomed.id);
        throw new Error('something after the delete failed');
      }),
    ).rejects.toThrow('something after the delete failed');
    expect(await before(doomed.id)).toEqual(doomedRows);

    const deleted = await store.transactional((tx) => tx.tenants.deletePbx(doomed.id));
    expect(deleted?.pbx.name).toBe('Doomed');
    expect(deleted?.keyIds).toHaveLength(2);
    expect(deleted?.rows).toMatchObject({
      extension: N,
      extension_group_member: N,
      sync_run_item: N,
      pbx: 1,
    });
    for (const [table, n] of Object.entries(await before(doomed.id))) expect([table, n]).toEqual([table, 0]);
    // (A fresh unit of work: this test's own one still holds the PBX it loaded before.)
    expect(await openStore(orm, () => new Date()).tenants.findPbx(doomed.id)).toBeNull();
    expect(await before(kept.id)).toEqual(keptRows);
    expect(await store.tenants.findKey(operator.id)).toMatchObject({ pbxId: null, role: ApiRole.OPERATOR });
    expect(await store.transactional((tx) => tx.tenants.deletePbx(doomed.id))).toBeNull();
  });

  it('keeps keys and audit entries of the fleet (no PBX) apart from every PBX', async () => {
    const op = await createOperatorKey(store, { label: 'fleet' });
    await store.audit.record({
      pbxId: null,
      keyId: op.id,
      role: ApiRole.OPERATOR,
      operation: 'createPbx',
      arguments: { input: { name: 'X' } },
      outcome: 'OK',
      message: null,
      requestId: null,
      at: new Date(),
    });
    const fleet = await store.audit.page(null, { first: 10 });
    expect(fleet.edges.map((e) => e.node)).toEqual([
      expect.objectContaining({ pbxId: null, keyId: op.id, operation: 'createPbx' }),
    ]);
    // A key is found by the start of its shown prefix, with LIKE's wildcards taken literally.
    for (const prefix of ['tst_a_b9xy', 'tst_aXb9xy']) {
      await store.tenants.createKey({
        pbxId: null,
        role: ApiRole.OPERATOR,
        hash: prefix.padEnd(64, '0'),
        prefix,
        label: null,
      });
    }
    expect((await store.tenants.findKeysByPrefix('tst_a_b')).map((k) => k.prefix)).toEqual(['tst_a_b9xy']);
    expect((await store.tenants.findKeysByPrefix('tst_a')).length).toBe(2);
    const keys = await store.tenants.pageKeys({ operators: true }, { includeRevoked: false }, { first: 10 });
    expect(keys.edges.map((e) => e.node.id)).toContain(op.id);
    expect(keys.edges.every((e) => e.node.pbxId === null && e.node.role === ApiRole.OPERATOR)).toBe(true);
  });
});

describeEachDb('the operators migration keeps existing keys and audit entries', (leg) => {
  let db: TestDatabase;
  afterAll(async () => {
    await db?.drop();
  });

  it('makes api_key.pbx_id and audit_entry.pbx_id nullable without losing a row', async () => {
    db = await leg.create();
    const orm = await openDatabase(db.config, { migrate: false });
    try {
      const migrator = orm.getMigrator();
      const all = (await migrator.getPendingMigrations()).map((m) => m.name);
      const operators = all.findIndex((n) => n.endsWith('_operators'));
      expect(operators).toBeGreaterThan(0);
      await migrator.up({ to: all[operators - 1] });
      const conn = orm.em.fork().getConnection();
      const now = new Date();
      await conn.execute(
        'insert into pbx (id, name, time_zone, extension_capacity, default_country, created_at, updated_at) values (?, ?, ?, ?, ?, ?, ?)',
        ['p-1', 'Old', 'UTC', 10, 'US', now, now],
      );
      await conn.execute(
        'insert into api_key (id, pbx_id, role, hash, prefix, label, created_at) values (?, ?, ?, ?, ?, ?, ?)',
        ['k-1', 'p-1', 'ADMIN', 'h'.repeat(64), 'epg_abcdef', 'old', now],
      );
      await conn.execute(
        'insert into audit_entry (id, pbx_id, key_id, role, operation, arguments, outcome, at) values (?, ?, ?, ?, ?, ?, ?, ?)',
        ['a-1', 'p-1', 'k-1', 'ADMIN', 'updatePbx', '{}', 'OK', now],
      );
      await migrator.up();
      const s = openStore(orm, () => new Date());
      expect(await s.tenants.findKey('k-1')).toMatchObject({ pbxId: 'p-1', role: 'ADMIN', label: 'old' });
      expect((await s.audit.page('p-1', { first: 5 })).edges.map((e) => e.node.id)).toEqual(['a-1']);
      const op = await createOperatorKey(s);
      expect(await s.tenants.findKey(op.id)).toMatchObject({ pbxId: null });
      // The foreign keys still hold: deleting the PBX takes its key and entry along.
      await conn.execute('delete from pbx where id = ?', ['p-1']);
      expect(await openStore(orm, () => new Date()).tenants.findKey('k-1')).toBeNull();
    } finally {
      await orm.close(true);
    }
  });
});
