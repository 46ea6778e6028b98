import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminGroup, AdminUser } from '../../src/sandbox/index.js';
import { removeTestDataDir, startTestSandbox, type TestSandbox } from './sandbox-test.helpers.js';

let t: TestSandbox;
let users: AdminUser[];
let groups: AdminGroup[];

beforeAll(async () => {
  t = await startTestSandbox({ users: 1000, seed: 42 });
  users = (await t.sandbox.admin.listUsers({ top: 5000 })).value;
  groups = (await t.sandbox.admin.listGroups({ top: 5000 })).value;
});

afterAll(async () => {
  await t?.close();
  removeTestDataDir();
});

describe('seeded tenant', () => {
  it('is deterministic from the seed', async () => {
    const same = await startTestSandbox({ users: 1000, seed: 42 });
    const other = await startTestSandbox({ users: 1000, seed: 43 });
    try {
      const a = t.sandbox.info;
      const b = same.sandbox.info;
      expect([b.tenantId, b.clientId, b.clientSecret]).toEqual([a.tenantId, a.clientId, a.clientSecret]);
      const again = (await same.sandbox.admin.listUsers({ top: 5000 })).value;
      expect(again.map((u) => [u.id, u.userPrincipalName, u.displayName, u.businessPhones])).toEqual(
        users.map((u) => [u.id, u.userPrincipalName, u.displayName, u.businessPhones]),
      );
      const g2 = (await same.sandbox.admin.listGroups({ top: 5000 })).value;
      expect(g2.map((g) => [g.id, g.displayName, g.members.length])).toEqual(
        groups.map((g) => [g.id, g.displayName, g.members.length]),
      );
      expect(other.sandbox.info.tenantId).not.toBe(a.tenantId);
      expect(other.sandbox.info.clientSecret).not.toBe(a.clientSecret);
    } finally {
      await same.close();
      await other.close();
    }
  });

  it('has 1000 users with names from several locales, members and guests, some disabled, some without mail', () => {
    expect(users).toHaveLength(1000);
    const languages = new Set(users.map((u) => u.preferredLanguage).filter(Boolean));
    expect(languages.size).toBeGreaterThanOrEqual(8);
    expect(users.some((u) => /[^\u0020-\u007e]/.test(u.displayName) && /[À-ž]/.test(u.displayName))).toBe(
      true,
    ); // diacritics
    expect(users.some((u) => /[\u3040-\u30ff\u4e00-\u9fff]/.test(u.displayName))).toBe(true); // CJK
    expect(users.every((u) => /^[\x21-\x7e]+$/.test(u.userPrincipalName))).toBe(true); // UPNs stay ASCII
    const guests = users.filter((u) => u.userType === 'Guest');
    expect(guests.length).toBeGreaterThan(40);
    expect(guests.every((g) => g.userPrincipalName.includes('#EXT#') && typeof g.mail === 'string')).toBe(
      true,
    );
    const disabled = users.filter((u) => u.accountEnabled === false);
    expect(disabled.length).toBeGreaterThan(10);
    expect(disabled.length).toBeLessThan(150);
    const noMail = users.filter((u) => u.userType === 'Member' && !u.mail);
    expect(noMail.length).toBeGreaterThan(5);
    expect(noMail.length).toBeLessThan(100);
    expect(new Set(users.map((u) => u.userPrincipalName.toLowerCase())).size).toBe(1000);
  });

  it('fills phones and job data unevenly; some businessPhones look like extensions', () => {
    const share = (f: (u: AdminUser) => boolean) => users.filter(f).length / users.length;
    const withPhone = share((u) => (u.businessPhones ?? []).length > 0);
    expect(withPhone).toBeGreaterThan(0.35);
    expect(withPhone).toBeLessThan(0.8);
    const ext = users.filter((u) =>
      (u.businessPhones ?? []).some((p) => /^(x?\d{3,5}|.* ext\. \d+)$/.test(p)),
    );
    expect(ext.length).toBeGreaterThan(20);
    const e164 = users.filter((u) => (u.businessPhones ?? []).some((p) => /^\+\d/.test(p)));
    expect(e164.length).toBeGreaterThan(200);
    for (const f of [
      (u: AdminUser) => !!u.mobilePhone,
      (u: AdminUser) => !!u.jobTitle,
      (u: AdminUser) => !!u.department,
    ]) {
      const s = share(f);
      expect(s).toBeGreaterThan(0.3);
      expect(s).toBeLessThan(0.95);
    }
    expect(users.filter((u) => u.isAdmin)).toHaveLength(1);
  });

  it('has Microsoft 365, security and distribution groups, nested groups and memberships', () => {
    expect(groups).toHaveLength(50);
    const unified = groups.filter((g) => g.groupTypes.includes('Unified'));
    const security = groups.filter((g) => g.groupTypes.length === 0 && g.securityEnabled);
    const distribution = groups.filter(
      (g) => g.groupTypes.length === 0 && !g.securityEnabled && g.mailEnabled,
    );
    expect(unified.length).toBeGreaterThan(5);
    expect(security.length).toBeGreaterThan(10);
    expect(distribution.length + unified.length + security.length).toBe(50);
    for (const g of unified) expect(g).toMatchObject({ mailEnabled: true, securityEnabled: false });
    const groupIds = new Set(groups.map((g) => g.id));
    const nested = groups.filter((g) => g.members.some((m) => groupIds.has(m)));
    expect(nested.length).toBeGreaterThan(1);
    expect(nested.every((g) => !g.groupTypes.includes('Unified'))).toBe(true);
    expect(groups.filter((g) => g.members.length === 0).length).toBeLessThan(10);
  });
});

describe('admin API', () => {
  it('needs its token', async () => {
    const res = await t.http(`${t.sandbox.info.adminUrl}/info`, {
      headers: { authorization: 'Bearer nope' },
    });
    expect(res.status).toBe(401);
  });

  it('creates, updates, disables, enables, soft-deletes, restores and hard-deletes users', async () => {
    const info = await t.sandbox.admin.info();
    const u = await t.sandbox.admin.createUser({
      userPrincipalName: `ada.lovelace@${String(info.defaultDomain)}`,
      displayName: 'Ada Lovelace',
      businessPhones: ['4242'],
    });
    expect(u).toMatchObject({ accountEnabled: true, userType: 'Member', deleted: false });
    await expect(
      t.sandbox.admin.createUser({ userPrincipalName: u.userPrincipalName, displayName: 'dup' }),
    ).rejects.toMatchObject({ status: 400 });
    expect(
      (
        await t.sandbox.admin.updateUser(u.id, { jobTitle: 'Analyst', businessPhones: ['4243'] })
      ).changed.sort(),
    ).toEqual(['businessPhones', 'jobTitle']);
    expect((await t.sandbox.admin.disableUser(u.id)).accountEnabled).toBe(false);
    expect((await t.sandbox.admin.enableUser(u.id)).accountEnabled).toBe(true);
    await t.sandbox.admin.softDeleteUser(u.id);
    expect((await t.sandbox.admin.getUser(u.id)).deleted).toBe(true);
    expect((await t.sandbox.admin.restoreUser(u.id)).deleted).toBe(false);
    await t.sandbox.admin.hardDeleteUser(u.id);
    await expect(t.sandbox.admin.getUser(u.id)).rejects.toMatchObject({ status: 404 });
  });

  it('sets latency live', async () => {
    await t.sandbox.admin.setLatency(300);
    const started = Date.now();
    await t.http(`${t.sandbox.info.graphBaseUrl}/users`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    await t.sandbox.admin.resetFaults();
    expect((await t.sandbox.admin.faults()).latencyMs).toBe(0);
  });
});
