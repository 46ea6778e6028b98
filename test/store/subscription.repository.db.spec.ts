import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import type { SubscriptionRecord } from '../../src/app/ports/change-notifications.port.js';
import { describeEachDb, useStore } from '../support/db.js';

/** The Graph subscriptions the gateway holds (src/store/subscription.repository.ts), for T2. */
describeEachDb('subscription repository: Graph subscriptions per PBX (T2)', (leg) => {
  const t = useStore(leg);
  const record = (
    pbxId: string,
    resource: string,
    patch: Partial<SubscriptionRecord> = {},
  ): SubscriptionRecord => ({
    id: randomUUID(),
    pbxId,
    resource,
    expiresAt: new Date('2030-06-01T12:00:00.000Z'),
    clientStateHash: 'a'.repeat(64),
    ...patch,
  });

  it('saves a subscription and finds it by id, and lists a PBX’s own ordered by resource', async () => {
    const [a, b] = [await t.pbx(), await t.pbx()];
    const users = record(a, 'users');
    const groups = record(a, 'groups', { clientStateHash: 'b'.repeat(64) });
    await t.store().subscriptions.save(users);
    await t.store().subscriptions.save(groups);
    await t.store().subscriptions.save(record(b, 'users'));
    expect(await t.store().subscriptions.find(users.id)).toEqual(users);
    expect(await t.store().subscriptions.list(a)).toEqual([groups, users]);
    expect(await t.store().subscriptions.find(randomUUID())).toBeNull();
  });

  it('saving a known id renews it: the new expiry is kept, its PBX, resource and clientState hash are not changed', async () => {
    const pbxId = await t.pbx();
    const s = record(pbxId, 'users');
    await t.store().subscriptions.save(s);
    const renewedTo = new Date('2030-07-01T00:00:00.000Z');
    await t.store().subscriptions.save({
      ...s,
      expiresAt: renewedTo,
      resource: 'groups',
      clientStateHash: 'c'.repeat(64),
    });
    expect(await t.store().subscriptions.find(s.id)).toEqual({ ...s, expiresAt: renewedTo });
    expect(await t.store().subscriptions.list(pbxId)).toHaveLength(1);
  });

  it('removes one subscription; pbxIds names each PBX that holds any, once', async () => {
    const [a, b, c] = [await t.pbx(), await t.pbx(), await t.pbx()];
    const [a1, a2, b1] = [record(a, 'users'), record(a, 'groups'), record(b, 'users')];
    for (const s of [a1, a2, b1]) await t.store().subscriptions.save(s);
    const ids = await t.store().subscriptions.pbxIds();
    expect(ids.filter((id) => id === a)).toHaveLength(1);
    expect(ids).toContain(b);
    expect(ids).not.toContain(c);

    await t.store().subscriptions.remove(b1.id);
    await t.store().subscriptions.remove(randomUUID());
    expect(await t.store().subscriptions.pbxIds()).not.toContain(b);
    expect(await t.store().subscriptions.list(a)).toHaveLength(2);
  });
});
