import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPbx } from '../../src/app/pbx.js';
import type { Store } from '../../src/app/ports/store.port.js';
import type { UserPlanItem } from '../../src/domain/sync-plan.types.js';
import { type Orm, openDatabase } from '../../src/store/orm.js';
import { openStore } from '../../src/store/store.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';

/**
 * Issue 16 item 3: the group sync reads the extensions as keys only (id, source, externalId),
 * in pages on SQLite: the same extensions as `listExtensions`, with nothing else held.
 */

function create(n: number): UserPlanItem {
  const number = String(10_000 + n);
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
      lastName: `${n}`,
      email: null,
      mobileNumber: null,
      jobTitle: null,
    },
  };
}

describeEachDb('listExtensionKeys (issue 16 item 3)', (leg) => {
  let db: TestDatabase;
  let orm: Orm;
  let store: Store;
  let pbxId: string;

  beforeAll(async () => {
    db = await leg.create();
    orm = await openDatabase(db.config);
    store = openStore(orm, () => new Date());
    pbxId = (await createPbx(store, { name: 'Keys PBX', extensionCapacity: 10_000 })).id;
  });
  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });

  it('gives every extension (more than a page of 2,000) as id, source and externalId', async () => {
    const items = Array.from({ length: 2500 }, (_, i) => create(i));
    await store.transactional((tx) => tx.applier.applyUserItems(pbxId, items));
    const manual = await store.directory.createExtension(pbxId, {
      number: '500',
      firstName: 'Manual',
      lastName: 'Ext',
      email: null,
      mobileNumber: null,
      jobTitle: null,
    });
    const keys = await store.directory.listExtensionKeys(pbxId);
    const full = await store.directory.listExtensions(pbxId);
    expect(keys).toHaveLength(2501);
    expect(new Map(keys.map((k) => [k.id, k]))).toEqual(
      new Map(full.map((e) => [e.id, { id: e.id, source: e.source, externalId: e.externalId }])),
    );
    expect(keys.find((k) => k.id === manual.id)).toEqual({
      id: manual.id,
      source: 'MANUAL',
      externalId: null,
    });
    expect(new Set(keys.filter((k) => k.source === 'SYNCED').map((k) => k.externalId))).toEqual(
      new Set(items.map((i) => i.userId)),
    );
  });
});
