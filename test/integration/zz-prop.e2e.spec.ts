import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { describeEachDb } from '../support/db.js';
import { type SyncWorld, startSyncWorld, tag } from './sync-world.js';

describeEachDb('prop', (leg) => {
  let world: SyncWorld;
  beforeAll(async () => { world = await startSyncWorld(leg); });
  afterEach(async () => world.cleanup());
  afterAll(async () => world?.close());
  it.each(['employeeId', 'onPremisesExtensionAttributes.extensionAttribute1', 'mobilePhone'])('prop %s', async (prop) => {
    const a = await world.user('pa', { employeeId: '7001', mobilePhone: '7002' });
    const g = await world.group(`P ${tag()}`, { members: [a.id] });
    const p = await world.pbx();
    const r = await p.saveUserRule({ range: 'BY_GROUPS', groupIds: [g.id], numbering: 'FROM_PROPERTY', numberProperty: prop });
    console.log(prop, r?.status, r?.error, JSON.stringify(r?.users), JSON.stringify((await p.items(r?.id as string)).map((i) => [i.action, i.reason, i.detail, i.number])));
    await world.sandbox.admin.updateUser(a.id, { employeeId: '7011', mobilePhone: '7012' });
    const r2 = await p.sync(['USERS']);
    console.log(prop, r2?.status, r2.mode, r2.message, JSON.stringify(r2?.users), JSON.stringify((await p.items(r2.id)).map((i) => [i.action, i.reason, i.detail, i.number])));
  });
});
