import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { expect, it } from 'vitest';
import { ApiRole } from '../../src/domain/access.js';
import type { PbxRecord } from '../../src/domain/tenant.js';
import { describeEachDb, useStore } from '../support/db.js';

/** The PBXs and their API keys (src/store/tenant.repository.ts), read back through a new unit of work. */
describeEachDb('tenant repository: PBXs and their API keys', (leg) => {
  const t = useStore(leg);

  it('creates a PBX with its settings and an integration row (NOT_CONNECTED), and finds it again', async () => {
    const created = await t.store().tenants.createPbx({
      name: 'Contoso Berlin',
      timeZone: 'Europe/Berlin',
      publicBaseUrl: 'https://pbx.contoso.test',
      extensionCapacity: 1200,
      defaultCountry: 'DE',
    });
    const found = await t.store().tenants.findPbx(created.id);
    expect(found).toEqual(created);
    expect(found).toMatchObject({
      name: 'Contoso Berlin',
      timeZone: 'Europe/Berlin',
      publicBaseUrl: 'https://pbx.contoso.test',
      extensionCapacity: 1200,
      defaultCountry: 'DE',
    });
    expect((await t.store().integrations.get(created.id)).status).toBe('NOT_CONNECTED');
    expect(await t.store().tenants.findPbx('00000000-0000-4000-8000-000000000000')).toBeNull();
  });

  it('updates only the settings given, and moves updatedAt', async () => {
    const id = await t.pbx({ name: 'Before', timeZone: 'UTC' });
    const before = (await t.store().tenants.findPbx(id)) as PbxRecord;
    const after = await t.store().tenants.updatePbx(id, { name: 'After', publicBaseUrl: 'https://x.test' });
    expect(after).toMatchObject({ name: 'After', publicBaseUrl: 'https://x.test', timeZone: 'UTC' });
    expect(after.updatedAt.getTime()).toBeGreaterThanOrEqual(before.updatedAt.getTime());
    expect(await t.store().tenants.findPbx(id)).toEqual(after);
    await expect(
      t.store().tenants.updatePbx('00000000-0000-4000-8000-000000000000', { name: 'x' }),
    ).rejects.toThrow();
  });

  it('lists every PBX oldest first', async () => {
    const ids = [await t.pbx(), await t.pbx(), await t.pbx()];
    const listed = (await t.store().tenants.listPbxs()).map((p) => p.id);
    expect(listed.filter((id) => ids.includes(id))).toEqual(ids);
  });

  it('finds an active key by its hash; a revoked one is no longer found', async () => {
    const pbxId = await t.pbx();
    const key = await t.store().tenants.createKey({
      pbxId,
      role: ApiRole.VIEWER,
      hash: `hash-${pbxId}`,
      prefix: 'epg_abc',
      label: 'portal',
    });
    expect(key).toMatchObject({
      pbxId,
      role: ApiRole.VIEWER,
      prefix: 'epg_abc',
      label: 'portal',
      revokedAt: null,
    });
    expect(await t.store().tenants.findActiveKeyByHash(`hash-${pbxId}`)).toEqual(key);
    expect(await t.store().tenants.findActiveKeyByHash('no-such-hash')).toBeNull();

    const at = new Date('2030-01-02T03:04:05.000Z');
    expect(await t.store().tenants.revokeKeys(pbxId, 'portal', at)).toBe(1);
    expect(await t.store().tenants.findActiveKeyByHash(`hash-${pbxId}`)).toBeNull();
    // Revoking again changes nothing: the key is already revoked.
    expect(await t.store().tenants.revokeKeys(pbxId, 'portal', new Date())).toBe(0);
  });

  it('revokes only the keys of that PBX with that label', async () => {
    const [a, b] = [await t.pbx(), await t.pbx()];
    const mk = (pbxId: string, label: string | null, n: number) =>
      t
        .store()
        .tenants.createKey({ pbxId, role: ApiRole.ADMIN, hash: `h-${pbxId}-${n}`, prefix: 'epg_x', label });
    await mk(a, 'demo', 1);
    await mk(a, 'demo', 2);
    await mk(a, 'other', 3);
    await mk(a, null, 4);
    await mk(b, 'demo', 5);
    expect(await t.store().tenants.revokeKeys(a, 'demo', new Date())).toBe(2);
    for (const [pbxId, n, active] of [
      [a, 1, false],
      [a, 2, false],
      [a, 3, true],
      [a, 4, true],
      [b, 5, true],
    ] as const) {
      expect(Boolean(await t.store().tenants.findActiveKeyByHash(`h-${pbxId}-${n}`)), `key ${n}`).toBe(
        active,
      );
    }
  });

  it('refuses a second key with the same hash', async () => {
    const pbxId = await t.pbx();
    const input = { pbxId, role: ApiRole.ADMIN, hash: `dup-${pbxId}`, prefix: 'epg_d', label: null };
    await t.store().tenants.createKey(input);
    await expect(t.store().tenants.createKey(input)).rejects.toBeInstanceOf(
      UniqueConstraintViolationException,
    );
  });
});
