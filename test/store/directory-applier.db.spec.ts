import { randomUUID } from 'node:crypto';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPbx } from '../../src/app/pbx.js';
import type { Store } from '../../src/app/ports/store.port.js';
import type { UserPlanItem } from '../../src/domain/sync-plan.types.js';
import { type Orm, openDatabase } from '../../src/store/orm.js';
import { openStore } from '../../src/store/store.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';

/**
 * U1: the extensions a sync creates are written with bound values (src/store/bound-insert.ts),
 * not through MikroORM: what is read back through the ORM must be exactly what was planned,
 * dates and booleans included, on both databases, and a taken number must fail as MikroORM's
 * unique-violation exception, leaving the transaction's other rows out.
 */

function create(
  n: number,
  extension: Partial<Extract<UserPlanItem, { action: 'CREATE' }>['extension']> = {},
) {
  const number = String(3000 + n);
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
      firstName: 'Zoë',
      lastName: `O'Brien ${n}`,
      email: `User${n}@Contoso.test`,
      mobileNumber: '+1 425 555 0100',
      jobTitle: 'Engineer "lead"',
      ...extension,
    },
  } satisfies UserPlanItem;
}

describeEachDb('sync applier: new extensions written with bound values (U1)', (leg) => {
  let db: TestDatabase;
  let orm: Orm;
  let store: Store;
  let pbxId: string;

  beforeAll(async () => {
    db = await leg.create();
    orm = await openDatabase(db.config);
    store = openStore(orm, () => new Date());
    pbxId = (await createPbx(store, { name: 'Applier PBX', extensionCapacity: 1000 })).id;
  });
  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });

  it('U1 reads back every planned field, the source, the link to the user and the dates', async () => {
    const before = Date.now();
    const items = [create(1), create(2, { email: null, mobileNumber: null, jobTitle: null })];
    const created = await store.transactional((tx) => tx.applier.applyUserItems(pbxId, items));
    const after = Date.now();
    for (const item of items) {
      const id = created.get(item.userId) as string;
      const ext = await store.directory.findExtension(pbxId, id);
      expect(ext).toMatchObject({
        pbxId,
        ...item.extension,
        source: 'SYNCED',
        externalId: item.userId,
        callerIdName: null,
        voicemailEnabled: true,
        notes: null,
      });
      expect(ext?.createdAt).toBeInstanceOf(Date);
      expect(ext?.createdAt.getTime()).toBeGreaterThanOrEqual(before - 1);
      expect(ext?.createdAt.getTime()).toBeLessThanOrEqual(after + 1);
      expect(ext?.updatedAt.getTime()).toBe(ext?.createdAt.getTime());
    }
    // Found by number and (case-insensitively) by email: number_sort and email_key were written.
    expect((await store.directory.findExtensionByNumber(pbxId, '3001'))?.externalId).toBe(items[0]?.userId);
    expect((await store.directory.findExtensionByEmail(pbxId, 'user1@contoso.TEST'))?.number).toBe('3001');
  });

  it('U1 a number taken since the plan fails as a unique violation and the batch leaves nothing', async () => {
    const count = await store.directory.countExtensions(pbxId);
    const error = await store
      .transactional((tx) =>
        tx.applier.applyUserItems(pbxId, [create(3), create(1, { email: 'other@contoso.test' })]),
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UniqueConstraintViolationException);
    expect(await store.directory.countExtensions(pbxId)).toBe(count);
    expect(await store.directory.findExtensionByNumber(pbxId, '3003')).toBeNull();
  });
});

describeEachDb("sync applier: caller ID's key of a synced mobile number (issue 13)", (leg) => {
  let db: TestDatabase;
  let orm: Orm;
  let store: Store;
  let pbxId: string;
  beforeAll(async () => {
    db = await leg.create();
    orm = await openDatabase(db.config);
    store = openStore(orm, () => new Date());
    pbxId = (await createPbx(store, { name: 'Mobile PBX', defaultCountry: 'US' })).id;
  });
  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });
  const callerId = async (e164: string) =>
    (
      await openStore(orm, () => new Date()).contacts.lookupNumber(
        pbxId,
        null,
        { key: e164, extensionNumber: null, e164 },
        5,
      )
    ).matches.map((m) => [m.source, m.extensionNumber, m.number]);

  it('a created extension is found by its mobile number, and by the new one once the sync changes it', async () => {
    const item = create(7, { mobileNumber: '(206) 201-2345' });
    const id = (await store.transactional((tx) => tx.applier.applyUserItems(pbxId, [item]))).get(
      item.userId,
    ) as string;
    expect(await callerId('+12062012345')).toEqual([['EXTENSION', '3007', '(206) 201-2345']]);
    await store.transactional((tx) =>
      tx.applier.applyUserItems(pbxId, [
        {
          action: 'UPDATE',
          reason: 'USER_CHANGED',
          userId: item.userId,
          displayName: 'User 7',
          userPrincipalName: null,
          extensionId: id,
          number: '3007',
          detail: null,
          changes: [{ field: 'mobileNumber', from: '(206) 201-2345', to: '206-201-2346' }],
        },
      ]),
    );
    expect(await callerId('+12062012345')).toEqual([]);
    expect(await callerId('+12062012346')).toEqual([['EXTENSION', '3007', '206-201-2346']]);
  });
});
