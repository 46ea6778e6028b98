import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChangeTriggersDocument,
  DisconnectDocument,
  SaveChangeTriggersDocument,
  SaveUserSyncRuleDocument,
  SyncNowDocument,
  SyncRunsDocument,
} from '../generated/graphql.js';
import { type E2e, startE2e } from '../support/e2e.js';
import { gql } from '../support/gateway.js';
import { waitForRun } from '../support/sandbox.js';
import { eventually, staysTrue } from '../support/wait.js';

const RULE = {
  range: 'ALL' as const,
  numbering: 'AUTO' as const,
  startNumber: '2000',
  autoDelete: true,
  deleteWhenDisabled: true,
  deleteWhenDeleted: true,
  autoAssociate: false,
  welcomeEmail: false,
};

describe('change triggers: Graph change notifications with debounce (T2, T3)', () => {
  let w: E2e;

  const runs = async () =>
    (await gql(w.gateway.url, w.keys.admin, SyncRunsDocument, { first: 100 })).body.data?.syncRuns.nodes ??
    [];
  const changeRuns = async () => (await runs()).filter((r) => r.trigger === 'CHANGE');
  const ourSubscriptions = async () =>
    (await w.sandbox.admin.listSubscriptions()).filter((s) => s.notificationUrl.startsWith(w.gateway.url));
  /** Change notifications Graph has delivered to the gateway (and had answered) for our users subscription. */
  const deliveredUserChanges = async () =>
    (await ourSubscriptions()).find((s) => s.resource === 'users')?.stats.notificationsDelivered ?? 0;
  /** The CHANGE runs once there are more than `count`. */
  const changeRunsPast = (count: number) =>
    eventually(
      async () => {
        const r = await changeRuns();
        return r.length > count && r;
      },
      { interval: 100, message: `more than ${count} CHANGE runs` },
    );
  const settle = async () => {
    // Wait until no run of the PBX is queued or running.
    await eventually(
      async () => (await runs()).every((r) => ['SUCCEEDED', 'FAILED', 'HELD'].includes(r.status)),
      { timeout: 30_000, interval: 100, message: 'every run of the PBX to end' },
    );
  };

  beforeAll(async () => {
    w = await startE2e({
      sandbox: {
        users: 60,
        groups: 6,
        seed: 21,
        notifications: { batchWindowMs: 50, retryInitialDelayMs: 200, retryMaxDelayMs: 1000 },
      },
    });
    const saved = await gql(w.gateway.url, w.keys.admin, SaveUserSyncRuleDocument, { input: RULE });
    await waitForRun(w.gateway.url, w.keys.admin, saved.body.data?.saveUserSyncRule.initialRun?.id as string);
  }, 60_000);
  afterAll(async () => {
    await w?.close();
  });

  it('connect subscribes to users and groups at Graph, with the handshake and a clientState', async () => {
    const subs = await eventually(
      async () => {
        const s = await ourSubscriptions();
        return s.length === 2 && s;
      },
      { message: 'two subscriptions' },
    );
    expect(subs.map((s) => s.resource).sort()).toEqual(['groups', 'users']);
    expect(subs.every((s) => s.clientState && s.clientState.length >= 32)).toBe(true);
    expect(subs.every((s) => s.lifecycleNotificationUrl?.endsWith('/graph/lifecycle'))).toBe(true);
    const status = (await gql(w.gateway.url, w.keys.admin, ChangeTriggersDocument)).body.data?.changeTriggers;
    expect(status?.mode).toBe('NOTIFICATIONS');
    expect(status?.subscriptions).toHaveLength(2);
  });

  it('10 changes trigger one run at once', async () => {
    await gql(w.gateway.url, w.keys.admin, SaveChangeTriggersDocument, {
      debounceSeconds: 600,
      threshold: 10,
    });
    await settle();
    const before = (await changeRuns()).length;
    const users = (await w.sandbox.admin.listUsers({ top: 100, accountEnabled: true })).value.slice(0, 10);
    for (const [i, u] of users.entries())
      await w.sandbox.admin.updateUser(u.id, { jobTitle: `Changed ${i} ${Date.now()}` });
    const after = await changeRunsPast(before);
    expect(after.length).toBe(before + 1);
    const run = await waitForRun(w.gateway.url, w.keys.admin, after[0].id);
    expect(run.users.updated).toBe(10);
    // Nothing more comes: the window was emptied when the run was requested.
    await staysTrue(async () => (await changeRuns()).length === before + 1, {
      for: 1500,
      interval: 100,
      message: 'no second CHANGE run',
    });
  });

  it('1 change triggers one run after the debounce, not before', async () => {
    await gql(w.gateway.url, w.keys.admin, SaveChangeTriggersDocument, { debounceSeconds: 3, threshold: 10 });
    await settle();
    const before = (await changeRuns()).length;
    const [u] = (await w.sandbox.admin.listUsers({ top: 5, accountEnabled: true })).value;
    const changedAt = Date.now();
    await w.sandbox.admin.updateUser(u.id, { jobTitle: `One change ${changedAt}` });
    await staysTrue(async () => (await changeRuns()).length === before, {
      for: 1500,
      interval: 100,
      message: 'no CHANGE run before the debounce',
    });
    const after = await changeRunsPast(before);
    expect(after.length).toBe(before + 1);
    expect(Date.parse(after[0].queuedAt) - changedAt).toBeGreaterThanOrEqual(3000);
    expect((await waitForRun(w.gateway.url, w.keys.admin, after[0].id)).users.updated).toBe(1);
  });

  it('a notification with a wrong clientState is answered 202 and triggers nothing; the handshake echoes the token', async () => {
    await gql(w.gateway.url, w.keys.admin, SaveChangeTriggersDocument, { debounceSeconds: 0, threshold: 1 });
    await settle();
    const before = (await runs()).length;
    const [sub] = await ourSubscriptions();
    const res = await fetch(`${w.gateway.url}/graph/notifications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        value: [
          { subscriptionId: sub.id, clientState: 'forged', changeType: 'updated', resource: 'Users/x' },
        ],
      }),
    });
    expect(res.status).toBe(202);
    await staysTrue(async () => (await runs()).length === before, {
      for: 500,
      interval: 100,
      message: 'no run from a forged notification',
    });
    const echo = await fetch(
      `${w.gateway.url}/graph/notifications?validationToken=Validation%3A+Testing+client+application`,
      {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
      },
    );
    expect(echo.status).toBe(200);
    expect(echo.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await echo.text()).toBe('Validation: Testing client application');
  });

  it('T3 two syncNow calls and a change notification arriving together produce one run plus at most one follow-up', async () => {
    await gql(w.gateway.url, w.keys.admin, SaveChangeTriggersDocument, { debounceSeconds: 0, threshold: 1 });
    await settle();
    const before = new Set((await runs()).map((r) => r.id));
    const delivered = await deliveredUserChanges();
    const [u] = (await w.sandbox.admin.listUsers({ top: 5, accountEnabled: true })).value;
    await Promise.all([
      gql(w.gateway.url, w.keys.admin, SyncNowDocument, {}),
      gql(w.gateway.url, w.keys.admin, SyncNowDocument, {}),
      w.sandbox.admin.updateUser(u.id, { jobTitle: `Together ${Date.now()}` }),
    ]);
    // The change notification has reached the gateway (Graph counts it delivered once the
    // gateway has answered, after handling it); then every run it caused has ended.
    await eventually(async () => (await deliveredUserChanges()) > delivered, {
      interval: 100,
      message: 'the change notification to be delivered',
    });
    await settle();
    const created = (await runs()).filter((r) => !before.has(r.id));
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(created.length).toBeLessThanOrEqual(2);
  });

  it('subscriptions are renewed before half their life is gone, and re-created after reauthorizationRequired fails', async () => {
    const store = w.gateway.openStore();
    const [mine] = await store.subscriptions.list(w.pbx.id);
    const at = (await w.sandbox.admin.getSubscription(mine.id)).expirationDateTime;
    await store.subscriptions.save({ ...mine, expiresAt: new Date(Date.now() + 3600_000) });
    await w.gateway.queues.enqueue('maintain-subscriptions', { pbxId: w.pbx.id });
    const renewed = await eventually(
      async () => {
        const s = await w.sandbox.admin.getSubscription(mine.id);
        return s.expirationDateTime !== at && s;
      },
      { interval: 100, message: 'the subscription to be renewed' },
    );
    expect(Date.parse(renewed.expirationDateTime)).toBeGreaterThan(Date.parse(at) - 60_000);

    const sent = await w.sandbox.admin.forceLifecycleEvent(mine.id, 'reauthorizationRequired');
    expect(sent.sent).toBe(true);
    const after = await eventually(
      async () => {
        const s = await w.sandbox.admin.getSubscription(mine.id);
        return !s.reauthorizationRequired && s;
      },
      { interval: 100, message: 'the subscription to be reauthorized or re-created' },
    );
    expect(after.reauthorizationRequired).toBe(false);
    expect(after.state).toBe('active');
  });

  it('disconnect deletes the subscriptions at Graph', async () => {
    await settle();
    await gql(w.gateway.url, w.keys.admin, DisconnectDocument, {
      deleteExtensions: false,
      deleteGroups: false,
    });
    expect(await ourSubscriptions()).toHaveLength(0);
    expect(await w.gateway.openStore().subscriptions.list(w.pbx.id)).toHaveLength(0);
  });
});
