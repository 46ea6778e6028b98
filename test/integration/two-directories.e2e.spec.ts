import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminTenant } from '../../src/sandbox/index.js';
import {
  ConnectDocument,
  IntegrationDetailsDocument,
  SaveChangeTriggersDocument,
  SaveUserSyncRuleDocument,
  SyncRunsDocument,
  UpdatePbxDocument,
} from '../generated/graphql.js';
import { type E2e, startE2e } from '../support/e2e.js';
import { gql, seedPbx } from '../support/gateway.js';
import { allExtensions, followAuthorization, waitForRun } from '../support/sandbox.js';
import { eventually, staysTrue } from '../support/wait.js';

/**
 * A provider hosts many PBXs, each synced to its own organisation. Two PBXs on one gateway,
 * connected to two directories of the sandbox (the second uses the provider's multi-tenant
 * app): each holds its own directory's users, and a change in one directory reaches its PBX
 * only (change notifications are routed by subscription, not by tenant).
 */

const RULE = {
  range: 'ALL' as const,
  numbering: 'AUTO' as const,
  startNumber: '1000',
  autoDelete: true,
  deleteWhenDisabled: true,
  deleteWhenDeleted: true,
  autoAssociate: false,
  welcomeEmail: false,
};

type Pbx = { url: string; key: string };

describe('two PBXs on two directories (L2, U1, T2)', () => {
  let w: E2e;
  let other: AdminTenant;
  let a: Pbx;
  let b: Pbx;

  const changeRuns = async (p: Pbx) =>
    ((await gql(p.url, p.key, SyncRunsDocument, { first: 50 })).body.data?.syncRuns.nodes ?? []).filter(
      (r) => r.trigger === 'CHANGE',
    );
  const firstSync = async (p: Pbx) => {
    const saved = await gql(p.url, p.key, SaveUserSyncRuleDocument, { input: RULE });
    const run = await waitForRun(p.url, p.key, saved.body.data?.saveUserSyncRule.initialRun?.id as string);
    expect(run.status).toBe('SUCCEEDED');
    // One change is enough to sync at once.
    await gql(p.url, p.key, SaveChangeTriggersDocument, { debounceSeconds: 600, threshold: 1 });
  };

  beforeAll(async () => {
    w = await startE2e({ sandbox: { users: 30, groups: 3, seed: 31, notifications: { batchWindowMs: 50 } } });
    const { sandbox, agent } = w;
    other = await sandbox.admin.addTenant({ users: 12, seed: 4242, provisionApps: [sandbox.info.clientId] });
    a = { url: w.gateway.url, key: w.keys.admin };

    const second = await seedPbx(w.gateway);
    b = { url: w.gateway.url, key: second.keys.admin };
    await gql(b.url, b.key, UpdatePbxDocument, { input: { publicBaseUrl: w.gateway.url } });
    const res = await gql(b.url, b.key, ConnectDocument, {
      input: {
        clientId: sandbox.info.clientId,
        tenantId: other.tenantId,
        clientSecret: sandbox.info.clientSecret,
      },
    });
    const url = res.body.data?.connect.authorizationUrl as string;
    expect((await followAuthorization(agent, url, other.adminUpn)).result).toBe('CONNECTED');
    await firstSync(a);
    await firstSync(b);
  }, 60_000);
  afterAll(async () => {
    await w?.close();
  });

  it('each PBX is connected to its own organisation and holds its users only', async () => {
    const details = async (p: Pbx) =>
      (await gql(p.url, p.key, IntegrationDetailsDocument)).body.data?.integration;
    expect(await details(a)).toMatchObject({ status: 'CONNECTED', tenantId: w.sandbox.info.tenantId });
    expect(await details(b)).toMatchObject({
      status: 'CONNECTED',
      tenantId: other.tenantId,
      organizationName: other.tenantName,
      authorizationAccount: { username: other.adminUpn },
    });
    const domainOf = (email: string | null | undefined) => email?.split('@')[1];
    const inB = await allExtensions(b.url, b.key);
    const inA = await allExtensions(a.url, a.key);
    expect(inB.length).toBeGreaterThan(5);
    expect(inB.every((e) => domainOf(e.email) === other.defaultDomain)).toBe(true);
    expect(inA.length).toBeGreaterThan(20);
    expect(inA.some((e) => domainOf(e.email) === other.defaultDomain)).toBe(false);
  });

  it("a change in one directory syncs that directory's PBX, and not the other", async () => {
    // Both PBXs subscribed at their own directory.
    await eventually(
      async () => {
        const subs = await w.sandbox.admin.listSubscriptions();
        expect(subs.filter((x) => x.notificationUrl.startsWith(w.gateway.url))).toHaveLength(4);
      },
      { message: 'four subscriptions (users and groups of each PBX)' },
    );
    const [beforeA, beforeB] = [(await changeRuns(a)).length, (await changeRuns(b)).length];
    const target = (await allExtensions(b.url, b.key))[0];
    await w.sandbox.admin.updateUserIn(other.tenantId, target?.externalId as string, {
      jobTitle: 'Moved elsewhere',
    });

    const runsB = await eventually(
      async () => {
        const r = await changeRuns(b);
        return r.length > beforeB && r;
      },
      { message: "a CHANGE run of the changed directory's PBX" },
    );
    expect(runsB.length).toBe(beforeB + 1);
    const run = await waitForRun(b.url, b.key, runsB[0]?.id as string);
    expect(run.users.updated).toBe(1);
    const updated = (await allExtensions(b.url, b.key)).find((e) => e.id === target?.id);
    expect(updated?.jobTitle).toBe('Moved elsewhere');
    await staysTrue(async () => (await changeRuns(a)).length === beforeA, {
      for: 1000,
      interval: 100,
      message: 'no CHANGE run of the other PBX',
    });
  });
});
