import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPbx } from '../../src/app/pbx.js';
import type { Store } from '../../src/app/ports/store.port.js';
import type { SyncRunItemData } from '../../src/app/ports/sync.port.js';
import type { DirectoryRead } from '../../src/app/sync/directory-source.js';
import { scopedDirectory } from '../../src/app/sync/scoped-directory.js';
import type { DirectoryUser } from '../../src/domain/directory.types.js';
import type { UserDeltaRecord } from '../../src/domain/directory-delta.js';
import { type Orm, openDatabase } from '../../src/store/orm.js';
import { openStore } from '../../src/store/store.js';
import { user as fixtureUser } from '../domain/domain.fixtures.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';

/**
 * Issue 16: a delta run does not plan again the users the last run could not sync when their
 * FAIL stands as it was (DUPLICATE_EMAIL with nobody planned claiming that email,
 * INVALID_EXTENSION_NUMBER): their report rows are copied from the last run. Which users those
 * are (scopedDirectory's `carried`), how the last run's rows say whether it freed an email or a
 * number, and the copy, on both databases. The end state and the FAIL reports of delta runs
 * against full runs: test/integration/sync-scoped.e2e.spec.ts.
 */

/** A directory user with this mail (the domain tests' fixture). */
const user = (id: string, mail: string | null): DirectoryUser =>
  fixtureUser(id, {
    displayName: id,
    givenName: null,
    surname: null,
    mail,
    userPrincipalName: `${id}@contoso.test`,
  });

function deltaRead(users: UserDeltaRecord[]): DirectoryRead {
  return {
    mode: 'DELTA',
    notes: [],
    readAt: new Date(),
    usersSelect: '',
    users: { full: null, changes: users, deltaLink: 'u' },
    groups: { full: null, changes: [], deltaLink: 'g' },
    empty: users.length === 0,
  };
}

const row = (
  seq: number,
  action: SyncRunItemData['action'],
  reason: string,
  objectId: string,
  extra: Partial<Omit<SyncRunItemData, 'id' | 'runId'>> = {},
): Omit<SyncRunItemData, 'id' | 'runId'> => ({
  seq,
  scope: 'USER',
  action,
  reason,
  objectId,
  objectName: `Name ${objectId}`,
  objectSecondary: `${objectId}@contoso.test`,
  number: null,
  targetId: null,
  detail: action === 'FAIL' ? `detail of ${objectId}` : null,
  changes: null,
  state: action === 'FAIL' ? 'REPORTED' : 'APPLIED',
  ...extra,
});

describeEachDb('issue 16: failures carried over by a delta run', (leg) => {
  let db: TestDatabase;
  let orm: Orm;
  let store: () => Store;
  let pbxId: string;
  const rule = { userRule: null } as const;

  beforeAll(async () => {
    db = await leg.create();
    orm = await openDatabase(db.config);
    store = () => openStore(orm, () => new Date());
    pbxId = (await createPbx(store(), { name: 'Carry PBX', extensionCapacity: 1000 })).id;
    // a and b share an email (both failed DUPLICATE_EMAIL); c failed INVALID_EXTENSION_NUMBER;
    // d failed CAPACITY_REACHED (never carried); e and f are fine.
    await store().sync.replaceSnapshot(pbxId, 'USER', [
      user('a', 'shared@contoso.test'),
      user('b', 'Shared@Contoso.test'),
      user('c', 'c@contoso.test'),
      user('d', 'd@contoso.test'),
      user('e', 'e@contoso.test'),
      user('f', 'f@contoso.test'),
    ]);
  });
  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });

  const claims = {
    from: 'last-run',
    failures: new Map([
      ['a', 'DUPLICATE_EMAIL'],
      ['b', 'DUPLICATE_EMAIL'],
      ['c', 'INVALID_EXTENSION_NUMBER'],
    ]),
  };
  type Pending = Parameters<typeof scopedDirectory>[4];
  const pending: Pending = { users: ['a', 'b', 'c', 'd'], groups: [], claims };
  const scope = async (changes: UserDeltaRecord[], p = pending) => {
    const scoped = await scopedDirectory(store(), pbxId, deltaRead(changes), rule, p, new Date());
    if (!scoped) throw new Error('not scoped');
    return {
      carried: [...(scoped.carried?.userIds ?? [])].sort(),
      planned: [...scoped.userIds].sort(),
      loaded: [...scoped.snapshot.users.keys()].sort(),
    };
  };

  it('a change elsewhere: the duplicate-email pair and the invalid number stand, only the others are planned', async () => {
    expect(await scope([{ id: 'e', jobTitle: 'Boss' } as UserDeltaRecord])).toEqual({
      carried: ['a', 'b', 'c'],
      planned: ['d', 'e'],
      loaded: ['d', 'e'],
    });
  });

  it('a user taking the shared email, or leaving it, or one of the pair changed: the pair is planned again', async () => {
    const taking = await scope([{ id: 'e', mail: 'SHARED@contoso.test' } as UserDeltaRecord]);
    expect(taking.carried).toEqual(['c']);
    expect(taking.planned).toEqual(['a', 'b', 'd', 'e']);
    // b leaves the email: a may sync now.
    const leaving = await scope([{ id: 'b', mail: 'b@contoso.test' } as UserDeltaRecord]);
    expect(leaving.carried).toEqual(['c']);
    expect(leaving.planned).toEqual(['a', 'b', 'd']);
    // b deleted for good: its stored email still counts.
    const deleted = await scope([{ id: 'b', removed: 'deleted' }]);
    expect(deleted.carried).toEqual(['c']);
    expect(deleted.planned).toEqual(['a', 'b', 'd']);
    // c itself changed: planned again.
    expect((await scope([{ id: 'c', jobTitle: 'x' } as UserDeltaRecord])).carried).toEqual(['a', 'b']);
  });

  it('the stored rows of the users to plan again, loaded beforehand (side by side with the read), give the same scope', async () => {
    const stored = new Map(
      (await store().sync.loadSnapshotUsers(pbxId, pending.users)).map((u) => [u.id, u]),
    );
    for (const changes of [
      [{ id: 'e', jobTitle: 'Boss' } as UserDeltaRecord],
      [{ id: 'e', mail: 'SHARED@contoso.test' } as UserDeltaRecord],
      [{ id: 'b', removed: 'deleted' } as UserDeltaRecord],
      [{ id: 'c', jobTitle: 'x' } as UserDeltaRecord],
    ])
      expect(await scope(changes, { ...pending, stored })).toEqual(await scope(changes));
    // A user the snapshot does not hold (gone before) is not made up.
    const missing = { ...pending, users: [...pending.users, 'zz'], stored };
    expect(await scope([], missing)).toEqual(await scope([], { ...pending, users: missing.users }));
  });

  it('without claims (the last run freed an email or a number) nothing is carried', async () => {
    const none = await scope([{ id: 'e', jobTitle: 'x' } as UserDeltaRecord], { ...pending, claims: null });
    expect(none.carried).toEqual([]);
    expect(none.planned).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('the last run: its carriable failures, whether it freed a claim, and the copy of FAIL rows', async () => {
    const run = async () =>
      (await store().sync.createRun({ pbxId, trigger: 'MANUAL', scopes: ['USERS'], queuedAt: new Date() }))
        .id;
    const last = await run();
    await store().sync.addItems(last, [
      row(0, 'FAIL', 'DUPLICATE_EMAIL', 'a', { number: '1001', targetId: randomUUID() }),
      row(1, 'FAIL', 'DUPLICATE_EMAIL', 'b'),
      row(2, 'FAIL', 'INVALID_EXTENSION_NUMBER', 'c'),
      row(3, 'FAIL', 'CAPACITY_REACHED', 'd'),
      row(4, 'UPDATE', 'USER_CHANGED', 'e', {
        changes: JSON.stringify([{ field: 'jobTitle', from: null, to: 'Boss' }]),
      }),
      row(5, 'CREATE', 'NEW_USER', 'f', { number: '1002' }),
    ]);
    expect(await store().sync.claimFailures(last)).toEqual(
      new Map([
        ['a', 'DUPLICATE_EMAIL'],
        ['b', 'DUPLICATE_EMAIL'],
        ['c', 'INVALID_EXTENSION_NUMBER'],
      ]),
    );
    expect(await store().sync.freedClaims(last)).toBe(false);
    for (const [action, changes] of [
      ['UPDATE', JSON.stringify([{ field: 'email', from: 'x@contoso.test', to: 'y@contoso.test' }])],
      ['UPDATE', JSON.stringify([{ field: 'number', from: '1001', to: '1003' }])],
      ['DELETE', null],
      ['RELEASE', null],
      ['ASSOCIATE', null],
    ] as const) {
      const freeing = await run();
      await store().sync.addItems(freeing, [row(0, action, 'R', 'e', { changes })]);
      expect(await store().sync.freedClaims(freeing), `${action} ${changes}`).toBe(true);
    }
    // A held delete is not applied: it freed nothing.
    const held = await run();
    await store().sync.addItems(held, [row(0, 'DELETE', 'USER_DELETED', 'e', { state: 'HELD' })]);
    expect(await store().sync.freedClaims(held)).toBe(false);

    const next = await run();
    await store().sync.addItems(next, [row(0, 'UPDATE', 'USER_CHANGED', 'e'), row(1, 'FAIL', 'X', 'd')]);
    expect(await store().sync.copyFailRows(last, next, ['b', 'a', 'e', 'missing'], 2)).toBe(2);
    const items = (await store().sync.pageItems(next, {}, { first: 10 })).edges.map((e) => e.node);
    expect(items.map((i) => [i.seq, i.objectId, i.action])).toEqual([
      [0, 'e', 'UPDATE'],
      [1, 'd', 'FAIL'],
      [2, 'a', 'FAIL'],
      [3, 'b', 'FAIL'],
    ]);
    const from = (await store().sync.pageItems(last, {}, { first: 10 })).edges.map((e) => e.node);
    const strip = ({ id: _i, runId: _r, seq: _s, ...rest }: SyncRunItemData) => rest;
    expect(strip(items[2])).toEqual(strip(from[0]));
    expect(items[2].id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(items.map((i) => i.id)).size).toBe(4);
    expect(await store().sync.maxSeq(next)).toBe(3);
  });

  it('copies thousands of FAIL rows (more than one statement of the old 500-id chunks), numbered one after another', async () => {
    const run = async () =>
      (await store().sync.createRun({ pbxId, trigger: 'MANUAL', scopes: ['USERS'], queuedAt: new Date() }))
        .id;
    const last = await run();
    const ids = Array.from({ length: 1_203 }, (_, i) => `u${String(i).padStart(4, '0')}`);
    for (let i = 0; i < ids.length; i += 500)
      await store().sync.addItems(
        last,
        ids.slice(i, i + 500).map((id, n) => row(i + n, 'FAIL', 'DUPLICATE_EMAIL', id)),
      );
    const next = await run();
    await store().sync.addItems(next, [row(0, 'UPDATE', 'USER_CHANGED', 'x')]);
    // Every id but one, given in another order, and one the last run did not report.
    const asked = [...ids.slice(1)].reverse().concat('missing');
    expect(await store().sync.copyFailRows(last, next, asked, 1)).toBe(1_202);
    const items: SyncRunItemData[] = [];
    let after: string | null = null;
    for (;;) {
      const page = await store().sync.pageItems(next, {}, { first: 500, after });
      items.push(...page.edges.map((e) => e.node));
      if (!page.hasNextPage) break;
      after = page.endCursor;
    }
    expect(items.map((i) => i.seq)).toEqual(Array.from({ length: 1_203 }, (_, i) => i));
    expect(
      items
        .slice(1)
        .map((i) => i.objectId)
        .sort(),
    ).toEqual(ids.slice(1));
    expect(new Set(items.map((i) => i.id)).size).toBe(1_203);
    expect(await store().sync.itemCounts(next)).toMatchObject({ users: { update: 1, fail: 1_202 } });
  });
});
