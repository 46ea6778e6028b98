import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AdminUser } from '../../src/sandbox/index.js';
import {
  CreateExtensionDocument,
  ExtensionGroupsDocument,
  SaveGroupSyncRuleDocument,
  SaveUserSyncRuleDocument,
  SyncNowDocument,
  UpdatePbxDocument,
  type UserSyncRuleInput,
} from '../generated/graphql.js';
import { describeEachDb } from '../support/db.js';
import { type E2e, startE2e } from '../support/e2e.js';
import { gql } from '../support/gateway.js';
import { allExtensions, runItems, waitForRun } from '../support/sandbox.js';

const RULE: UserSyncRuleInput = {
  range: 'ALL',
  numbering: 'AUTO',
  startNumber: '1000',
  autoDelete: true,
  deleteWhenDisabled: true,
  deleteWhenDeleted: true,
  autoAssociate: false,
  welcomeEmail: false,
};

const clean = (v: string | null | undefined) => (v?.trim() ? v.trim() : null);

describeEachDb('users become extensions, groups become extension groups (U1–U10, G1–G5)', (leg) => {
  let w: E2e;

  beforeAll(async () => {
    w = await startE2e({ leg, sandbox: { users: 120, groups: 12, seed: 7 } });
  });
  afterAll(async () => {
    await w?.close();
  });

  it('U7 the first save of the rule runs the initial sync: one extension per user in range, right numbers and fields', async () => {
    const saved = await gql(w.gateway.url, w.keys.admin, SaveUserSyncRuleDocument, { input: RULE });
    const initial = saved.body.data?.saveUserSyncRule.initialRun;
    expect(initial?.trigger).toBe('RULES_SAVED');
    const run = await waitForRun(w.gateway.url, w.keys.admin, initial?.id as string);
    expect(run.status, run.error ?? '').toBe('SUCCEEDED');
    expect(run.mode).toBe('FULL');

    const users = (await w.sandbox.admin.listUsers({ top: 1000 })).value.filter((u) => !u.deleted);
    const enabled = users.filter((u) => u.accountEnabled);
    const exts = await allExtensions(w.gateway.url, w.keys.admin);
    expect(exts).toHaveLength(enabled.length);
    expect(run.users).toMatchObject({
      created: enabled.length,
      skipped: users.length - enabled.length,
      failed: 0,
    });

    // AUTO from 1000: consecutive numbers in UPN order.
    const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    const byUpn = [...enabled].sort(
      (a, b) => cmp(a.userPrincipalName.toLowerCase(), b.userPrincipalName.toLowerCase()) || cmp(a.id, b.id),
    );
    const byExternal = new Map(exts.map((e) => [e.externalId, e]));
    byUpn.forEach((u: AdminUser, i) => {
      const e = byExternal.get(u.id);
      expect(e, u.userPrincipalName).toBeDefined();
      expect(e?.number).toBe(String(1000 + i));
      expect(e?.source).toBe('SYNCED');
      expect(e?.email).toBe(clean(u.mail) ?? u.userPrincipalName);
      expect(e?.mobileNumber).toBe(clean(u.mobilePhone));
      expect(e?.jobTitle).toBe(clean(u.jobTitle));
      expect(e?.lastName).toBe(clean(u.surname) ?? '');
      if (clean(u.givenName)) expect(e?.firstName).toBe(clean(u.givenName));
      expect(e?.lockedFields.length).toBeGreaterThan(0);
    });

    const items = await runItems(w.gateway.url, w.keys.admin, run.id);
    expect(items.filter((i) => i.action === 'CREATE')).toHaveLength(enabled.length);
    expect(items.filter((i) => i.action === 'SKIP').every((i) => i.reason === 'USER_DISABLED')).toBe(true);
  });

  it('G1 G5 groups become extension groups with the synced users as members', async () => {
    const saved = await gql(w.gateway.url, w.keys.admin, SaveGroupSyncRuleDocument, {
      input: { range: 'ALL', autoDelete: true },
    });
    const run = await waitForRun(
      w.gateway.url,
      w.keys.admin,
      saved.body.data?.saveGroupSyncRule.initialRun?.id as string,
    );
    expect(run.status, run.error ?? '').toBe('SUCCEEDED');
    const groups = (await w.sandbox.admin.listGroups({ top: 1000 })).value.filter((g) => !g.deleted);
    const exts = await allExtensions(w.gateway.url, w.keys.admin);
    const extByUser = new Map(exts.map((e) => [e.externalId, e.id]));
    const pbxGroups = (await gql(w.gateway.url, w.keys.admin, ExtensionGroupsDocument, { first: 100 })).body
      .data?.extensionGroups.nodes;
    const byExternal = new Map((pbxGroups ?? []).map((g) => [g.externalId, g]));
    expect(pbxGroups?.length).toBe(Math.min(groups.length, 63));
    for (const g of groups) {
      const pg = byExternal.get(g.id);
      expect(pg?.name).toBe(g.displayName.trim());
      const expected = g.members
        .map((m) => extByUser.get(m))
        .filter(Boolean)
        .sort();
      expect([...(pg?.memberIds ?? [])].sort()).toEqual(expected);
    }
  });

  it('a re-sync with no change reads a delta and changes nothing', async () => {
    const res = await gql(w.gateway.url, w.keys.admin, SyncNowDocument, {});
    const run = await waitForRun(w.gateway.url, w.keys.admin, res.body.data?.syncNow.id as string);
    expect(run.status).toBe('SUCCEEDED');
    expect(run.mode).toBe('DELTA');
    expect(run.users).toMatchObject({ created: 0, updated: 0, deleted: 0, released: 0 });
    expect(run.groups).toMatchObject({ created: 0, updated: 0, deleted: 0 });
    expect(run.graphRequests).toBeLessThanOrEqual(3);
  });

  it('a re-sync with nothing changed anywhere skips planning; a PBX settings change makes the next one plan again', async () => {
    const sync = async () => {
      const res = await gql(w.gateway.url, w.keys.admin, SyncNowDocument, {});
      return waitForRun(w.gateway.url, w.keys.admin, res.body.data?.syncNow.id as string);
    };
    await sync();
    const quiet = await sync();
    expect(quiet.status).toBe('SUCCEEDED');
    expect(quiet.message).toContain('Nothing changed');
    expect(quiet.graphRequests).toBeLessThanOrEqual(3);
    await gql(w.gateway.url, w.keys.admin, UpdatePbxDocument, { input: { extensionCapacity: 5000 } });
    const planned = await sync();
    expect(planned.message ?? '').not.toContain('Nothing changed');
    expect(planned.users).toMatchObject({ created: 0, updated: 0, deleted: 0 });
    expect((await sync()).message).toContain('Nothing changed');
    // A hand-made extension (it could free or take a number or an email) makes the next run plan.
    await gql(w.gateway.url, w.keys.admin, CreateExtensionDocument, {
      input: { number: '9999', firstName: 'Hand', lastName: 'Made', email: 'hand.made@example.com' },
    });
    expect((await sync()).message ?? '').not.toContain('Nothing changed');
  });
});
