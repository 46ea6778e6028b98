import { expect, it } from 'vitest';
import { IntegrationStatus } from '../../src/domain/integration.js';
import { describeEachDb, useStore } from '../support/db.js';

/** The integration row of a PBX (src/store/integration.repository.ts): sealed secrets, status, warnings. */
describeEachDb('integration repository: one row per PBX, secrets kept sealed (L2, L3)', (leg) => {
  const t = useStore(leg);

  it('a PBX starts NOT_CONNECTED with nothing set', async () => {
    const pbxId = await t.pbx();
    expect(await t.store().integrations.get(pbxId)).toMatchObject({
      pbxId,
      status: IntegrationStatus.NOT_CONNECTED,
      userSyncPaused: false,
      groupSyncPaused: false,
      clientId: null,
      secretSealed: null,
      tokenCacheSealed: null,
      connectedAt: null,
      warnings: null,
    });
  });

  it('L2 keeps what a connect writes, sealed values and dates included, exactly', async () => {
    const pbxId = await t.pbx();
    const patch = {
      status: IntegrationStatus.CONNECTED,
      clientId: '11111111-2222-3333-4444-555555555555',
      tenantId: '66666666-7777-8888-9999-000000000000',
      secretSealed: `v1.${'s'.repeat(300)}`,
      secretLast4: 'abcd',
      secretExpiresAt: new Date('2031-05-06T07:08:09.000Z'),
      tokenCacheSealed: `v1.${'t'.repeat(5000)}`,
      accountUsername: 'admin@contoso.test',
      accountName: 'Zoë Admin',
      organizationName: 'Contoso Ltd.',
      directoryGroupCount: 42,
      connectedAt: new Date('2030-01-01T00:00:00.000Z'),
      connectAttempt: null,
    };
    const written = await t.store().integrations.update(pbxId, patch);
    expect(written).toMatchObject(patch);
    const read = await t.store().integrations.get(pbxId);
    expect(read).toMatchObject(patch);
    expect(read).toEqual(written);
  });

  it('L3 an update changes only the fields given (warnings, pause flags)', async () => {
    const pbxId = await t.pbx();
    await t.store().integrations.update(pbxId, { clientId: 'client', secretSealed: 'sealed' });
    const checkedAt = new Date('2030-02-03T04:05:06.000Z');
    await t.store().integrations.update(pbxId, {
      warnings: 'SECRET_EXPIRES_SOON',
      warningsCheckedAt: checkedAt,
      userSyncPaused: true,
    });
    expect(await t.store().integrations.get(pbxId)).toMatchObject({
      clientId: 'client',
      secretSealed: 'sealed',
      warnings: 'SECRET_EXPIRES_SOON',
      warningsCheckedAt: checkedAt,
      userSyncPaused: true,
      groupSyncPaused: false,
    });
  });

  it('listAll returns every PBX’s integration with its sealed values (for key rotation and the daily check)', async () => {
    const [a, b] = [await t.pbx(), await t.pbx()];
    await t.store().integrations.update(a, { secretSealed: 'sealed-a', tokenCacheSealed: 'cache-a' });
    await t.store().integrations.update(b, { secretSealed: 'sealed-b' });
    const all = await t.store().integrations.listAll();
    const byPbx = new Map(all.map((i) => [i.pbxId, i]));
    expect(byPbx.get(a)).toMatchObject({ secretSealed: 'sealed-a', tokenCacheSealed: 'cache-a' });
    expect(byPbx.get(b)).toMatchObject({ secretSealed: 'sealed-b', tokenCacheSealed: null });
    expect(all.map((i) => i.id)).toEqual([...all.map((i) => i.id)].sort());
  });

  it('listAll reads what another unit of work wrote since (refresh, not a stale identity map)', async () => {
    const pbxId = await t.pbx();
    const reader = t.store();
    await reader.integrations.listAll();
    await t.store().integrations.update(pbxId, { secretSealed: 'rotated' });
    const again = (await reader.integrations.listAll()).find((i) => i.pbxId === pbxId);
    expect(again?.secretSealed).toBe('rotated');
  });
});
