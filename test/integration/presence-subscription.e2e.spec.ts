import { print } from 'graphql';
import type { Agent } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Topic } from '../../src/app/topics.js';
import type { Gateway } from '../../src/gateway.js';
import type { AdminSubscription, AdminUser, Sandbox } from '../../src/sandbox/index.js';
import {
  ExtensionPresenceChangedDocument,
  type ExtensionPresenceChangedSubscription,
  ExtensionPresencesDocument,
  type ExtensionPresencesQuery,
  PresenceSyncDocument,
  SavePresenceMappingDocument,
  SavePresenceSyncDocument,
  SaveUserSyncRuleDocument,
  UpdatePbxDocument,
} from '../generated/graphql.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';
import { type E2e, startE2e } from '../support/e2e.js';
import {
  type GqlResponse,
  gql,
  seedPbx,
  startTestGateway,
  topicListened,
  uniquePrefix,
  wsClient,
} from '../support/gateway.js';
import { connectIntegration, sandboxEnv, startTestSandbox, waitForRun } from '../support/sandbox.js';
import { eventually, staysTrue } from '../support/wait.js';
import { USER_RULE } from './sync-world.js';

/**
 * Issue 15 item 2 (and P1–P3), end to end on both databases: presence subscriptions where the
 * authorization account can hold one. The gateway subscribes its first ≤ 650 presence-enabled users
 * with the account's delegated token (delegated Presence.Read.All granted by the admin), polls only
 * the others, applies notified changes through the same write-only-what-changed path
 * (`extensionPresenceChanged`), renews the subscription when Graph asks, drops a user whose
 * presence is turned off, and falls back to polling everyone, saying why, when it cannot hold one.
 * Item 3: two PBXs connected to the same tenant with the same app share the quota.
 */
type Change = ExtensionPresenceChangedSubscription['extensionPresenceChanged'];
type Ext = ExtensionPresencesQuery['extensions']['edges'][number]['node'];
const PRESENCE_PATH = 'POST /communications/getPresencesByUserId';

describeEachDb('presence subscriptions (issue 15 item 2)', (leg) => {
  let w: E2e;
  const prefix = uniquePrefix('presencesub');
  const changes: Change[] = [];
  let unsubscribe: (() => void) | undefined;
  let users: AdminUser[];
  const extOf = new Map<string, string>();

  const q = async <TData, TVars>(doc: Parameters<typeof gql<TData, TVars>>[2], vars?: TVars) => {
    const res: GqlResponse<TData> = await gql(w.gateway.url, w.keys.admin, doc, vars);
    if (res.body.errors?.length || !res.body.data) throw new Error(JSON.stringify(res.body.errors));
    return res.body.data;
  };
  const status = async () => (await q(PresenceSyncDocument)).presenceSync;
  const presenceRequests = async () => (await w.sandbox.admin.stats()).graphByPath[PRESENCE_PATH] ?? 0;
  const presenceSubs = async (): Promise<AdminSubscription[]> =>
    (await w.sandbox.admin.listSubscriptions()).filter((s) =>
      s.resource.includes('communications/presences'),
    );
  const nextChange = (extensionId: string, want: (c: Change) => boolean, from: number) =>
    eventually(
      () => {
        const c = changes.slice(from).find((x) => x.extensionId === extensionId && want(x));
        expect(c, `a presence change of ${extensionId}`).toBeDefined();
        return c as Change;
      },
      { timeout: 20_000, message: `a presence change of ${extensionId}` },
    );
  /** Moves `u` to a Teams state it is not in, and waits for its extension to follow. */
  const moveAndSee = async (u: AdminUser) => {
    const cur = await w.sandbox.admin.presence(u.id);
    const [availability, activity] =
      cur.availability === 'BusyIdle' ? ['BeRightBack', 'BeRightBack'] : ['BusyIdle', 'InAConferenceCall'];
    const from = changes.length;
    await w.sandbox.admin.setPresence(u.id, availability as string, activity as string);
    return nextChange(extOf.get(u.id) as string, (c) => c.teamsAvailability === availability, from);
  };

  beforeAll(async () => {
    w = await startE2e({
      leg,
      sandbox: { users: 14, groups: 2, seed: 151, notifications: { batchWindowMs: 20, sweepIntervalMs: 50 } },
      env: {
        QUEUE_PREFIX: prefix,
        PRESENCE_POLL_MS: '150',
        PRESENCE_SUBSCRIBE_RETRY_MS: '300',
        // No safety-net round during the test: covered users are read only when notified.
        PRESENCE_SAFETY_NET_MS: '3600000',
      },
    });
    const saved = await q(SaveUserSyncRuleDocument, { input: USER_RULE });
    await waitForRun(w.gateway.url, w.keys.admin, saved.saveUserSyncRule.initialRun?.id as string, {
      interval: 20,
    });
    const exts = await q(ExtensionPresencesDocument, { first: 500 });
    for (const e of exts.extensions.edges.map((x) => x.node as Ext))
      if (e.externalId) extOf.set(e.externalId, e.id);
    users = (await w.sandbox.admin.listUsers({ top: 1000 })).value.filter((u) => extOf.has(u.id));
    expect(users.length).toBeGreaterThanOrEqual(8);
    const client = wsClient(w.gateway.url, w.keys.viewer);
    unsubscribe = client.subscribe(
      { query: print(ExtensionPresenceChangedDocument), variables: {} },
      {
        next: (msg) => {
          const c = (msg.data as ExtensionPresenceChangedSubscription | undefined)?.extensionPresenceChanged;
          if (c) changes.push(c);
        },
        error: () => undefined,
        complete: () => undefined,
      },
    );
    await topicListened(prefix, Topic.extensionPresence(w.pbx.id));
  }, 120_000);
  afterAll(async () => {
    unsubscribe?.();
    await w?.close();
  });

  it('without delegated Presence.Read.All: no subscription, everyone polled, and presenceSync says why', async () => {
    await q(SavePresenceSyncDocument, { enabled: true });
    await eventually(
      async () => {
        const s = await status();
        expect(s).toMatchObject({ mode: 'POLL', subscribedUsers: 0, polledUsers: users.length });
        expect(s.fallbackReason).toMatch(/Presence\.Read\.All/);
        return true;
      },
      { message: 'the fallback to be reported' },
    );
    expect(await presenceSubs()).toHaveLength(0);
    expect((await moveAndSee(users[0] as AdminUser)).source).toBe('TEAMS');
  });

  it('delegated Presence.Read.All granted: one subscription of the users, covered users are not polled, a change is notified and streamed', async () => {
    await w.sandbox.admin.grantConsent(w.sandbox.info.clientId, { scopes: ['Presence.Read.All'] });
    await eventually(
      async () => {
        expect(await status()).toMatchObject({
          mode: 'SUBSCRIPTION',
          subscribedUsers: users.length,
          polledUsers: 0,
          fallbackReason: null,
        });
        return true;
      },
      { message: 'the presence subscription', timeout: 20_000 },
    );
    const [sub] = await presenceSubs();
    expect(sub).toBeDefined();
    for (const u of users) expect(sub?.resource).toContain(u.id);
    expect(Date.parse(sub?.expirationDateTime as string) - Date.now()).toBeLessThanOrEqual(60 * 60_000);
    // All covered, nothing notified: no presence request goes out, though rounds run every 150 ms.
    const settled = await presenceRequests();
    await staysTrue(async () => (await presenceRequests()) === settled, {
      for: 1200,
      interval: 100,
      message: 'no polling of covered users',
    });
    const u = users[1] as AdminUser;
    const c = await moveAndSee(u);
    expect(c).toMatchObject({ source: 'TEAMS', teamsActivity: expect.any(String) });
    const delivered = await w.sandbox.admin.getSubscription(sub?.id as string);
    expect(delivered.stats.notificationsDelivered).toBeGreaterThanOrEqual(1);
    // The notified user was read in one request (not a poll of everyone each round).
    expect((await presenceRequests()) - settled).toBeLessThanOrEqual(2);
  });

  it('renewed when Graph asks (reauthorizationRequired): PATCH moves its expiry, notifications go on', async () => {
    const [sub] = await presenceSubs();
    const before = sub?.expirationDateTime;
    await w.sandbox.admin.forceLifecycleEvent(sub?.id as string, 'reauthorizationRequired');
    await eventually(
      async () => {
        const now = await w.sandbox.admin.getSubscription(sub?.id as string);
        expect(now.reauthorizationRequired).toBe(false);
        expect(now.expirationDateTime).not.toBe(before);
        return true;
      },
      { message: 'the renewal', timeout: 20_000 },
    );
    expect((await presenceSubs()).map((s) => s.id)).toEqual([sub?.id]);
    await moveAndSee(users[2] as AdminUser);
  });

  it('presence turned off for a user: the subscription is made again without them, and they are not read', async () => {
    const [off, probe] = [users[3] as AdminUser, users[4] as AdminUser];
    const ext = extOf.get(off.id) as string;
    await q(SavePresenceMappingDocument, { extensionIds: [ext], enabled: false });
    await eventually(
      async () => {
        const subs = await presenceSubs();
        expect(subs).toHaveLength(1);
        expect(subs[0]?.resource).not.toContain(off.id);
        expect(await status()).toMatchObject({ mode: 'SUBSCRIPTION', subscribedUsers: users.length - 1 });
        return true;
      },
      { message: 'the subscription without the user', timeout: 20_000 },
    );
    const from = changes.length;
    await w.sandbox.admin.setPresence(off.id, 'DoNotDisturb', 'UrgentInterruptionsOnly');
    await moveAndSee(probe);
    expect(changes.slice(from).some((x) => x.extensionId === ext)).toBe(false);
    await q(SavePresenceMappingDocument, { extensionIds: [ext], enabled: true });
    await nextChange(ext, (x) => x.teamsAvailability === 'DoNotDisturb', from);
  });

  it('delegated consent revoked: the renewal fails, the gateway falls back to polling everyone and says so', async () => {
    // The subscription of every user again (the last test turned the user back on) before the
    // revocation: else that re-subscription, racing with it, decides what this test sees.
    await eventually(
      async () => {
        expect(await status()).toMatchObject({ mode: 'SUBSCRIPTION', subscribedUsers: users.length });
        return true;
      },
      { message: 'the subscription of every user', timeout: 20_000 },
    );
    await w.sandbox.admin.revokeConsent(w.sandbox.info.clientId, { scopes: ['Presence.Read.All'] });
    // The gateway finds out at the subscription's next reauthorization (lifecycle event), here
    // asked for at once instead of waited for.
    const [sub] = await presenceSubs();
    await w.sandbox.admin.forceLifecycleEvent(sub?.id as string, 'reauthorizationRequired');
    await eventually(
      async () => {
        const s = await status();
        expect(s).toMatchObject({ mode: 'POLL', subscribedUsers: 0, polledUsers: users.length });
        expect(s.fallbackReason).toMatch(/presence subscription/);
        return true;
      },
      { message: 'the fallback after revocation', timeout: 20_000 },
    );
    // Retries (every 300 ms here) take a fresh token, which no longer carries the permission: no
    // new subscription on the access token cached from before the revocation.
    await staysTrue(async () => (await status()).mode === 'POLL' && (await presenceSubs()).length === 0, {
      for: 1500,
      interval: 100,
      message: 'polling, with no subscription made on a token from before the revocation',
    });
    expect((await moveAndSee(users[5] as AdminUser)).source).toBe('TEAMS');
  });

  it('presence sync off: the subscription is deleted', async () => {
    await w.sandbox.admin.grantConsent(w.sandbox.info.clientId, { scopes: ['Presence.Read.All'] });
    await q(SavePresenceSyncDocument, { enabled: false });
    await q(SavePresenceSyncDocument, { enabled: true });
    await eventually(async () => expect((await status()).mode).toBe('SUBSCRIPTION'), { timeout: 20_000 });
    await q(SavePresenceSyncDocument, { enabled: false });
    await eventually(async () => expect(await presenceSubs()).toHaveLength(0), { timeout: 20_000 });
  });
});

describeEachDb('two PBXs on one tenant and app share the presence quota (issue 15 item 3)', (leg) => {
  const prefix = uniquePrefix('presencebudget');
  let db: TestDatabase;
  let sandbox: Sandbox;
  let agent: Agent;
  let gateway: Gateway;
  const keys: string[] = [];

  const sync = async (key: string) => {
    const saved = await gql(gateway.url, key, SaveUserSyncRuleDocument, { input: USER_RULE });
    await waitForRun(gateway.url, key, saved.body.data?.saveUserSyncRule.initialRun?.id as string, {
      interval: 50,
      timeout: 180_000,
    });
  };
  const statusOf = async (key: string) =>
    (await gql(gateway.url, key, PresenceSyncDocument, {})).body.data?.presenceSync;

  beforeAll(async () => {
    // 2,000 users (about 1,800 synced by each PBX): 3 requests of ≤ 650 ids a round each; no
    // delegated consent, so no subscription: everyone is polled.
    db = await leg.create();
    ({ sandbox, agent } = await startTestSandbox({ autoSignIn: true, users: 2000, groups: 1, seed: 152 }));
    gateway = await startTestGateway(db, {
      ...sandboxEnv(sandbox),
      QUEUE_PREFIX: prefix,
      PRESENCE_POLL_MS: '100',
    });
    await sandbox.admin.addRedirectUri(sandbox.info.clientId, `${gateway.url}/oauth/microsoft/callback`);
    for (let i = 0; i < 2; i++) {
      const seeded = await seedPbx(gateway, { extensionCapacity: 100_000 });
      await gql(gateway.url, seeded.keys.admin, UpdatePbxDocument, { input: { publicBaseUrl: gateway.url } });
      expect((await connectIntegration({ gateway, keys: seeded.keys }, sandbox, agent)).result).toBe(
        'CONNECTED',
      );
      await sync(seeded.keys.admin);
      keys.push(seeded.keys.admin);
    }
  }, 400_000);
  afterAll(async () => {
    await gateway?.stop();
    await agent?.close();
    await sandbox?.close();
    await db?.drop();
  });

  it('one PBX alone plans for its own requests; with the second on, both plan for the sum and the pair stays within half the quota', async () => {
    // Half the quota planned at 45 %: 1,500 × 0.45 per 30 s = 0.0225 requests a ms.
    await gql(gateway.url, keys[0] as string, SavePresenceSyncDocument, { enabled: true });
    const requests = Math.ceil(((await statusOf(keys[0] as string))?.users ?? 0) / 650);
    expect(requests).toBeGreaterThanOrEqual(3);
    const alone = Math.ceil(requests / 0.0225);
    const together = Math.ceil((2 * requests) / 0.0225);
    await eventually(async () => expect((await statusOf(keys[0] as string))?.intervalMs).toBe(alone), {
      message: 'the first PBX’s interval',
    });
    await gql(gateway.url, keys[1] as string, SavePresenceSyncDocument, { enabled: true });
    await eventually(
      async () => {
        expect((await statusOf(keys[0] as string))?.intervalMs).toBe(together);
        expect((await statusOf(keys[1] as string))?.intervalMs).toBe(together);
        return true;
      },
      { message: 'both PBXs to share the budget', timeout: 20_000 },
    );
    // What the pair sends: 6 rounds of both take at least 4 shared intervals; at each PBX's own
    // interval they would take about 3.
    const before = (await sandbox.admin.stats()).graphByPath[PRESENCE_PATH] ?? 0;
    const start = Date.now();
    await eventually(
      async () =>
        expect(
          ((await sandbox.admin.stats()).graphByPath[PRESENCE_PATH] ?? 0) - before,
        ).toBeGreaterThanOrEqual(12 * requests),
      { message: 'six rounds of the pair', timeout: 20_000, interval: 20 },
    );
    expect(Date.now() - start).toBeGreaterThanOrEqual(4 * together);
    // The second off: the first plans for its own requests again.
    await gql(gateway.url, keys[1] as string, SavePresenceSyncDocument, { enabled: false });
    await eventually(async () => expect((await statusOf(keys[0] as string))?.intervalMs).toBe(alone), {
      message: 'the budget given back',
    });
  });
});
