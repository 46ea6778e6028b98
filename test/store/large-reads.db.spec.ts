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
 * The reads a sync plans from (every extension, the stored directory snapshot) go in pages,
 * so that no statement holds SQLite's synchronous driver for long: every row comes back
 * exactly once, in order, across page boundaries, and another PBX's rows never do.
 */
const N = 4_321;

function create(n: number): UserPlanItem {
  const number = String(1000 + ((n * 7) % N));
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

function directoryUser(n: number): DirectoryUser {
  return {
    id: `u-${String(n).padStart(5, '0')}`,
    userPrincipalName: `user${n}@contoso.test`,
    displayName: `User ${n}`,
    accountEnabled: true,
  } as DirectoryUser;
}

describeEachDb('large reads in pages: every extension and snapshot row once, in order', (leg) => {
  let db: TestDatabase;
  let orm: Orm;
  let store: Store;
  let pbxId: string;
  let otherId: string;

  beforeAll(async () => {
    db = await leg.create();
    orm = await openDatabase(db.config);
    store = openStore(orm, () => new Date());
    pbxId = (await createPbx(store, { name: 'Big PBX', extensionCapacity: 100_000 })).id;
    otherId = (await createPbx(store, { name: 'Other PBX', extensionCapacity: 100 })).id;
  }, 60_000);
  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });

  it('listExtensions returns all of them, by number (numerically), across pages', async () => {
    const items = Array.from({ length: N }, (_, n) => create(n));
    await store.transactional((tx) => tx.applier.applyUserItems(pbxId, items));
    await store.transactional((tx) => tx.applier.applyUserItems(otherId, [create(0)]));
    const listed = await store.directory.listExtensions(pbxId);
    expect(listed).toHaveLength(N);
    expect(new Set(listed.map((e) => e.id)).size).toBe(N);
    expect(listed.map((e) => Number(e.number))).toEqual(
      items.map((i) => Number(i.number)).sort((a, b) => a - b),
    );
    expect(listed.every((e) => e.pbxId === pbxId)).toBe(true);
  });

  it('loadSnapshot returns every stored user and group of the PBX, and only those', async () => {
    const users = Array.from({ length: N }, (_, n) => directoryUser(n));
    const groups = [{ id: 'g-1', displayName: 'All', members: users.map((u) => u.id) }];
    await store.transactional(async (tx) => {
      await tx.sync.replaceSnapshot(pbxId, 'USER', users);
      await tx.sync.replaceSnapshot(pbxId, 'GROUP', groups);
      await tx.sync.replaceSnapshot(otherId, 'USER', [directoryUser(99_999)]);
    });
    const loaded = await store.sync.loadSnapshot(pbxId);
    expect(loaded.users.map((u) => u.id).sort()).toEqual(users.map((u) => u.id));
    expect(loaded.users[0]).toEqual(users[0]);
    expect(loaded.groups).toEqual(groups);
    expect((await store.sync.loadSnapshot(otherId)).users.map((u) => u.id)).toEqual(['u-99999']);
  });
});
