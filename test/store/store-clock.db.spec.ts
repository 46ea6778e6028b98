import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Store } from '../../src/app/ports/store.port.js';
import { ApiRole } from '../../src/domain/access.js';
import type { GroupPlanItem, UserPlanItem } from '../../src/domain/sync-plan.types.js';
import { type Orm, openDatabase } from '../../src/store/orm.js';
import { openStore } from '../../src/store/store.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';

/**
 * The store writes time only from the clock it is opened with (openStore(orm, now)): new
 * rows carry it as createdAt / updatedAt, updates (through the unit of work or native
 * statements, the sync applier included) as updatedAt, and the ids that hold a time (audit
 * entries, welcome emails) too. Nothing reads the machine's clock.
 */

const T1 = new Date('2031-01-02T03:04:05.000Z');
const T2 = new Date('2032-06-07T08:09:10.000Z');
const T3 = new Date('2033-11-12T13:14:15.000Z');

/** A stored time as milliseconds, whichever way the database hands it back. */
function ms(value: unknown): number {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number') return value;
  const text = String(value);
  return /^\d+$/.test(text) ? Number(text) : Date.parse(text);
}

/** The Unix milliseconds in the first 48 bits of a UUID version 7. */
const uuidTime = (id: string) => Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16);

describeEachDb('the store writes the time of its clock', (leg) => {
  let db: TestDatabase;
  let orm: Orm;
  let clock = T1;
  let store: Store;

  const row = async (sql: string, params: unknown[]) => {
    const [found]: Array<Record<string, unknown>> = await orm.em.fork().getConnection().execute(sql, params);
    if (!found) throw new Error(`no row for ${sql}`);
    return found;
  };
  const times = async (table: string, id: string) => {
    const r = await row(`select created_at, updated_at from ${table} where id = ?`, [id]);
    return { createdAt: ms(r.created_at), updatedAt: ms(r.updated_at) };
  };

  beforeAll(async () => {
    db = await leg.create();
    orm = await openDatabase(db.config);
    store = openStore(orm, () => clock);
  });
  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });

  it('creates, updates and applies sync plans with the clock, and leaves updatedAt alone when nothing changes', async () => {
    // ---- created at T1
    clock = T1;
    const pbx = await store.tenants.createPbx({
      name: 'Clock PBX',
      timeZone: 'UTC',
      publicBaseUrl: null,
      extensionCapacity: 100,
      defaultCountry: 'US',
    });
    const key = await store.tenants.createKey({
      pbxId: pbx.id,
      role: ApiRole.ADMIN,
      hash: randomUUID(),
      prefix: 'k',
      label: null,
    });
    const manual = await store.directory.createExtension(pbx.id, {
      number: '100',
      firstName: 'Ada',
      lastName: 'Lovelace',
      email: 'ada@example.test',
      mobileNumber: null,
      jobTitle: null,
    });
    const group = await store.directory.createExtensionGroup(pbx.id, { name: 'Hand made' });
    const userId = randomUUID();
    const entraGroupId = randomUUID();
    const createdExtensions = await store.transactional((tx) =>
      tx.applier.applyUserItems(pbx.id, [
        {
          action: 'CREATE',
          reason: 'NEW_USER',
          userId,
          displayName: 'Grace Hopper',
          userPrincipalName: 'grace@example.test',
          extensionId: null,
          number: '200',
          detail: null,
          sendWelcomeEmail: true,
          extension: {
            number: '200',
            firstName: 'Grace',
            lastName: 'Hopper',
            email: 'grace@example.test',
            mobileNumber: null,
            jobTitle: null,
          },
        },
      ] satisfies UserPlanItem[]),
    );
    const synced = createdExtensions.get(userId) as string;
    const createdGroups = await store.transactional((tx) =>
      tx.applier.applyGroupItems(pbx.id, [
        {
          action: 'CREATE',
          reason: 'NEW_GROUP',
          groupId: entraGroupId,
          name: 'Synced',
          extensionGroupId: null,
          detail: null,
          memberExtensionIds: [synced],
        },
      ] satisfies GroupPlanItem[]),
    );
    const syncedGroup = createdGroups.get(entraGroupId) as string;
    await store.subscriptions.save({
      id: 'sub-1',
      pbxId: pbx.id,
      resource: 'users',
      expiresAt: new Date('2031-01-10T00:00:00.000Z'),
      clientStateHash: 'h',
    });
    await store.sync.getSettings(pbx.id);
    await store.audit.record({
      pbxId: pbx.id,
      keyId: key.id,
      role: 'admin',
      operation: 'test',
      arguments: {},
      outcome: 'OK',
      message: null,
      requestId: null,
      at: T1,
    });
    const run = await store.sync.createRun({
      pbxId: pbx.id,
      trigger: 'MANUAL',
      scopes: ['USERS'],
      queuedAt: T1,
    });
    await store.welcomeEmails.record([
      {
        pbxId: pbx.id,
        runId: run.id,
        extensionId: synced,
        number: '200',
        name: 'Grace Hopper',
        queuedAt: T1,
      },
    ]);

    const t1 = T1.getTime();
    expect(await times('pbx', pbx.id)).toEqual({ createdAt: t1, updatedAt: t1 });
    expect(ms((await row('select created_at from api_key where id = ?', [key.id])).created_at)).toBe(t1);
    const integrationId = (await store.integrations.get(pbx.id)).id;
    expect(await times('integration', integrationId)).toEqual({ createdAt: t1, updatedAt: t1 });
    for (const id of [manual.id, synced])
      expect(await times('extension', id)).toEqual({ createdAt: t1, updatedAt: t1 });
    for (const id of [group.id, syncedGroup])
      expect(await times('extension_group', id)).toEqual({ createdAt: t1, updatedAt: t1 });
    expect(
      ms((await row('select created_at from graph_subscription where id = ?', ['sub-1'])).created_at),
    ).toBe(t1);
    expect(
      ms((await row('select updated_at from sync_settings where pbx_id = ?', [pbx.id])).updated_at),
    ).toBe(t1);
    const audit = (await store.audit.page(pbx.id, { first: 1 })).edges[0]?.node;
    expect(uuidTime(audit?.id as string)).toBe(t1);
    const email = await store.welcomeEmails.get(pbx.id, run.id, synced);
    expect(uuidTime(email?.id as string)).toBe(t1);

    // ---- updated at T2
    clock = T2;
    await store.tenants.updatePbx(pbx.id, { name: 'Clock PBX 2' });
    await store.integrations.update(pbx.id, { warnings: 'checked' });
    await store.directory.updateExtension(pbx.id, manual.id, { jobTitle: 'Analyst' });
    await store.directory.updateExtensionGroup(pbx.id, group.id, { memberIds: [manual.id] });
    await store.transactional((tx) =>
      tx.applier.applyUserItems(pbx.id, [
        {
          action: 'UPDATE',
          reason: 'USER_CHANGED',
          userId,
          displayName: 'Grace Hopper',
          userPrincipalName: 'grace@example.test',
          extensionId: synced,
          number: '200',
          detail: null,
          changes: [{ field: 'jobTitle', from: null, to: 'Rear Admiral' }],
        },
      ] satisfies UserPlanItem[]),
    );
    await store.transactional((tx) =>
      tx.applier.applyGroupItems(pbx.id, [
        {
          action: 'UPDATE',
          reason: 'GROUP_CHANGED',
          groupId: entraGroupId,
          name: 'Synced',
          extensionGroupId: syncedGroup,
          detail: null,
          nameChange: { from: 'Synced', to: 'Synced 2' },
          memberExtensionIds: [synced],
          addedMemberExtensionIds: [],
          removedMemberExtensionIds: [],
        },
      ] satisfies GroupPlanItem[]),
    );
    await store.subscriptions.save({
      id: 'sub-1',
      pbxId: pbx.id,
      resource: 'users',
      expiresAt: new Date('2032-06-14T00:00:00.000Z'),
      clientStateHash: 'h',
    });
    await store.sync.updateSettings(pbx.id, { pollMinutes: 7 });
    await store.welcomeEmails.update(email?.id as string, { status: 'SENT', sentAt: T2 });

    const t2 = T2.getTime();
    expect(await times('pbx', pbx.id)).toEqual({ createdAt: t1, updatedAt: t2 });
    expect(await times('integration', integrationId)).toEqual({ createdAt: t1, updatedAt: t2 });
    expect((await store.integrations.get(pbx.id)).updatedAt.getTime()).toBe(t2);
    for (const id of [manual.id, synced])
      expect(await times('extension', id)).toEqual({ createdAt: t1, updatedAt: t2 });
    for (const id of [group.id, syncedGroup])
      expect(await times('extension_group', id)).toEqual({ createdAt: t1, updatedAt: t2 });
    expect(
      ms((await row('select renewed_at from graph_subscription where id = ?', ['sub-1'])).renewed_at),
    ).toBe(t2);
    expect(
      ms((await row('select updated_at from sync_settings where pbx_id = ?', [pbx.id])).updated_at),
    ).toBe(t2);
    expect(ms((await row('select updated_at from welcome_email where id = ?', [email?.id])).updated_at)).toBe(
      t2,
    );

    // ---- released at T3; an update that changes nothing leaves updatedAt as it was
    clock = T3;
    expect(await store.directory.releaseSynced(pbx.id, 'EXTENSIONS')).toBe(1);
    await store.integrations.update(pbx.id, { warnings: 'checked' });
    await store.tenants.updatePbx(pbx.id, { name: 'Clock PBX 2' });
    expect((await times('extension', synced)).updatedAt).toBe(T3.getTime());
    expect((await times('integration', integrationId)).updatedAt).toBe(t2);
    expect((await times('pbx', pbx.id)).updatedAt).toBe(t2);
  });
});
