import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createConfidentialClient, graphDefaultScope } from '../../src/m365/microsoft-clients.js';
import type { NotificationSettings } from '../../src/sandbox/index.js';
import { eventually, staysTrue } from '../support/wait.js';
import {
  consentAsAdmin,
  removeTestDataDir,
  startTestSandbox,
  type TestSandbox,
} from './sandbox-test.helpers.js';

/**
 * Change notifications against the sandbox: Graph's `/subscriptions` endpoints, the
 * validation handshake, deliveries with retries and lifecycle notifications, with a real
 * HTTP server in the test as the subscriber's endpoint.
 */

// ---------------------------------------------------------------- the subscriber's endpoint

interface Received {
  path: string;
  query: URLSearchParams;
  rawQuery: string;
  contentType: string | undefined;
  body: string;
  at: number;
}

type ValidationMode = 'echo' | 'wrong' | 'status500' | 'json' | 'slow' | 'decodeURIComponent';

interface Notification {
  subscriptionId: string;
  subscriptionExpirationDateTime: string;
  changeType?: string;
  resource?: string;
  resourceData?: Record<string, unknown>;
  clientState: string | null;
  tenantId: string;
  lifecycleEvent?: string;
}

class Endpoint {
  readonly validations: Received[] = [];
  readonly posts: Received[] = [];
  validation: ValidationMode = 'echo';
  /** the next N notification POSTs answer 500 */
  failNext = 0;
  /** every notification POST answers 503 */
  failAlways = false;
  /** notification POSTs wait this long before answering */
  delayMs = 0;
  private constructor(
    private readonly server: Server,
    readonly base: string,
  ) {}

  static async start(): Promise<Endpoint> {
    let self: Endpoint | undefined;
    const server = createServer((req, res) => void self?.handle(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    self = new Endpoint(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return self;
  }

  url(path = '/notify'): string {
    return `${this.base}${path}`;
  }

  reset(): void {
    this.validations.length = 0;
    this.posts.length = 0;
    this.validation = 'echo';
    this.failNext = 0;
    this.failAlways = false;
    this.delayMs = 0;
  }

  /** Notifications received on a path, flattened from the POSTs' `value` arrays. */
  notifications(path = '/notify'): Notification[] {
    return this.posts
      .filter((p) => p.path === path)
      .flatMap((p) => (JSON.parse(p.body) as { value: Notification[] }).value);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', this.base);
    const rec: Received = {
      path: url.pathname,
      query: url.searchParams,
      rawQuery: url.search,
      contentType: req.headers['content-type'],
      body: Buffer.concat(chunks).toString('utf8'),
      at: Date.now(),
    };
    const token = url.searchParams.get('validationToken');
    if (token !== null) {
      this.validations.push(rec);
      switch (this.validation) {
        case 'echo':
          res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(token);
          return;
        case 'wrong':
          res.writeHead(200, { 'content-type': 'text/plain' }).end('not the token');
          return;
        case 'status500':
          res.writeHead(500).end();
          return;
        case 'json':
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(token));
          return;
        case 'slow':
          setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end(token), 1500);
          return;
        case 'decodeURIComponent': {
          // a client that decodes the query by hand and forgets that '+' means a space
          const raw = /validationToken=([^&]*)/.exec(url.search)?.[1] ?? '';
          res.writeHead(200, { 'content-type': 'text/plain' }).end(decodeURIComponent(raw));
          return;
        }
      }
    }
    this.posts.push(rec);
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.failAlways || this.failNext > 0) {
      if (this.failNext > 0) this.failNext--;
      res.writeHead(this.failAlways ? 503 : 500).end();
      return;
    }
    res.writeHead(202).end();
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

// ---------------------------------------------------------------- sandbox and Graph calls

const FAST: Partial<NotificationSettings> = {
  batchWindowMs: 60,
  retryInitialDelayMs: 150,
  retryMaxDelayMs: 600,
  retryForMs: 10_000,
  sweepIntervalMs: 50,
};

let t: TestSandbox;
let ep: Endpoint;
let token: string;

async function appToken(): Promise<string> {
  const cca = createConfidentialClient(t.endpoints, {
    clientId: t.sandbox.info.clientId,
    tenantId: t.sandbox.info.tenantId,
    clientSecret: t.sandbox.info.clientSecret,
  });
  const r = await cca.acquireTokenByClientCredential({
    scopes: [graphDefaultScope(t.endpoints)],
    skipCache: true,
  });
  return r?.accessToken as string;
}

function graph(method: string, path: string, body?: unknown, bearer = token) {
  return t.http(`${t.sandbox.info.graphBaseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${bearer}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

function inMinutes(min: number): string {
  return new Date(Date.now() + min * 60_000).toISOString();
}

interface SubscriptionJson {
  id: string;
  resource: string;
  changeType: string;
  clientState: string | null;
  notificationUrl: string;
  lifecycleNotificationUrl: string | null;
  expirationDateTime: string;
  applicationId: string;
  creatorId: string;
  latestSupportedTlsVersion: string;
}

async function subscribe(overrides: Record<string, unknown> = {}): Promise<SubscriptionJson> {
  const res = await graph('POST', '/subscriptions', {
    changeType: 'updated,deleted',
    notificationUrl: ep.url(),
    resource: 'users',
    expirationDateTime: inMinutes(60),
    clientState: 'secret-client-state',
    ...overrides,
  });
  if (res.status !== 201) throw new Error(`subscribe: ${res.status} ${res.text}`);
  return res.json<SubscriptionJson>();
}

async function someUserId(i = 0): Promise<string> {
  const page = await t.sandbox.admin.listUsers({ top: 10 });
  return (page.value[i] as { id: string }).id;
}

beforeAll(async () => {
  t = await startTestSandbox({ users: 50, notifications: FAST });
  await consentAsAdmin(t);
  ep = await Endpoint.start();
  token = await appToken();
});

afterAll(async () => {
  await ep?.close();
  await t?.close();
  removeTestDataDir();
});

beforeEach(async () => {
  await t.sandbox.admin.resetSubscriptions();
  await t.sandbox.admin.resetNotificationSettings();
  ep.reset();
});

// ---------------------------------------------------------------- tests

describe('POST /subscriptions: validation handshake', () => {
  it('validates the notification URL with a text/plain token, then answers 201 with the subscription', async () => {
    const sub = await subscribe();
    expect(sub).toMatchObject({
      resource: 'users',
      changeType: 'updated,deleted',
      clientState: 'secret-client-state',
      notificationUrl: ep.url(),
      lifecycleNotificationUrl: null,
      applicationId: t.sandbox.info.clientId,
      latestSupportedTlsVersion: 'v1_2',
    });
    expect(sub.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(sub.creatorId).toMatch(/^[0-9a-f-]{36}$/);
    expect(sub.expirationDateTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/);

    expect(ep.validations).toHaveLength(1);
    const v = ep.validations[0] as Received;
    expect(v.path).toBe('/notify');
    expect(v.contentType).toMatch(/^text\/plain/);
    // opaque text with spaces and colons, form-encoded ('+' for a space) as Graph sends it
    expect(v.query.get('validationToken')).toMatch(/^Validation: Testing client application reachability/);
    expect(v.rawQuery).toContain('+');

    const list = await graph('GET', '/subscriptions');
    expect(list.status).toBe(200);
    expect(list.json<{ value: SubscriptionJson[] }>().value.map((s) => s.id)).toEqual([sub.id]);
    const one = await graph('GET', `/subscriptions/${sub.id}`);
    expect(one.status).toBe(200);
    expect(one.json()).toMatchObject({ id: sub.id, clientState: 'secret-client-state' });
  });

  it("keeps the notification URL's own query string, for the validation request and the notifications", async () => {
    const url = ep.url('/notify?pbx=a%20b&x=1');
    await subscribe({ notificationUrl: url });
    expect(ep.validations[0]?.rawQuery).toMatch(/^\?pbx=a%20b&x=1&validationToken=Validation%3A\+Testing/);
    await t.sandbox.admin.updateUser(await someUserId(), { jobTitle: 'Query kept' });
    await eventually(() => ep.posts.length > 0, { message: 'notification' });
    expect(ep.posts[0]?.rawQuery).toBe('?pbx=a%20b&x=1');
  });

  it('answers 400 and creates nothing when the endpoint does not echo the token', async () => {
    const cases: Array<[ValidationMode, RegExp]> = [
      ['wrong', /Response must exactly match validationToken query parameter/],
      ['decodeURIComponent', /Response must exactly match validationToken query parameter/],
      ['status500', /Notification endpoint must respond with 200 OK to validation request/],
      ['json', /text\/plain/],
    ];
    for (const [mode, message] of cases) {
      ep.validation = mode;
      const res = await graph('POST', '/subscriptions', {
        changeType: 'updated',
        notificationUrl: ep.url(),
        resource: 'users',
        expirationDateTime: inMinutes(60),
      });
      expect(res.status, mode).toBe(400);
      const err = res.json<{ error: { code: string; message: string; innerError: object } }>().error;
      expect(err.code, mode).toBe('ValidationError');
      expect(err.message, mode).toMatch(message);
      expect(err.innerError).toHaveProperty('request-id');
    }
    const list = await graph('GET', '/subscriptions');
    expect(list.json<{ value: unknown[] }>().value).toEqual([]);
  });

  it('times out a slow endpoint and fails an unreachable one', async () => {
    await t.sandbox.admin.setNotificationSettings({ validationTimeoutMs: 300 });
    ep.validation = 'slow';
    const slow = await graph('POST', '/subscriptions', {
      changeType: 'updated',
      notificationUrl: ep.url(),
      resource: 'users',
      expirationDateTime: inMinutes(60),
    });
    expect(slow.status).toBe(400);
    expect(slow.json<{ error: { message: string } }>().error.message).toBe(
      'Subscription validation request timed out.',
    );

    const gone = await Endpoint.start();
    const goneUrl = gone.url();
    await gone.close();
    const unreachable = await graph('POST', '/subscriptions', {
      changeType: 'updated',
      notificationUrl: goneUrl,
      resource: 'users',
      expirationDateTime: inMinutes(60),
    });
    expect(unreachable.status).toBe(400);
    expect(unreachable.json<{ error: { code: string } }>().error.code).toBe('ValidationError');
  });

  it('validates the lifecycleNotificationUrl too', async () => {
    const sub = await subscribe({ lifecycleNotificationUrl: ep.url('/lifecycle') });
    expect(sub.lifecycleNotificationUrl).toBe(ep.url('/lifecycle'));
    expect(ep.validations.map((v) => v.path)).toEqual(['/notify', '/lifecycle']);

    ep.reset();
    const bad = await graph('POST', '/subscriptions', {
      changeType: 'updated',
      notificationUrl: ep.url(),
      lifecycleNotificationUrl: 'https://127.0.0.1:1/lifecycle',
      resource: 'users',
      expirationDateTime: inMinutes(60),
    });
    expect(bad.status).toBe(400);
    expect(ep.validations).toHaveLength(1);
  });
});

describe('POST /subscriptions: what Graph refuses', () => {
  it('enforces the lifetime per resource: users and groups ≤ 41,760 minutes, contacts ≤ 4,230, none in the past', async () => {
    const tooFar = await graph('POST', '/subscriptions', {
      changeType: 'updated',
      notificationUrl: ep.url(),
      resource: 'groups',
      expirationDateTime: inMinutes(41_760 + 2),
    });
    expect(tooFar.status).toBe(400);
    expect(tooFar.json<{ error: { code: string; message: string } }>().error).toEqual(
      expect.objectContaining({
        code: 'InvalidRequest',
        message: 'Subscription expiration can only be 41760 minutes in the future.',
      }),
    );
    const past = await graph('POST', '/subscriptions', {
      changeType: 'updated',
      notificationUrl: ep.url(),
      resource: 'users',
      expirationDateTime: inMinutes(-1),
    });
    expect(past.status).toBe(400);
    const longest = await subscribe({ resource: '/groups', expirationDateTime: inMinutes(41_759) });
    expect(longest.resource).toBe('/groups');

    const uid = await someUserId();
    // Contacts of any mailbox need the application permission Contacts.Read, which the seeded
    // registration does not ask for: granted here as an admin would (API permissions + consent).
    await t.sandbox.admin.grantConsent(t.sandbox.info.clientId, { appRoles: ['Contacts.Read'], scopes: [] });
    const contactsToken = (
      await createConfidentialClient(t.endpoints, {
        clientId: t.sandbox.info.clientId,
        tenantId: t.sandbox.info.tenantId,
        clientSecret: t.sandbox.info.clientSecret,
      }).acquireTokenByClientCredential({ scopes: [graphDefaultScope(t.endpoints)], skipCache: true })
    )?.accessToken as string;
    const contacts = await graph(
      'POST',
      '/subscriptions',
      {
        changeType: 'created,updated,deleted',
        notificationUrl: ep.url(),
        resource: `users/${uid}/contacts`,
        expirationDateTime: inMinutes(4231),
      },
      contactsToken,
    );
    expect(contacts.status).toBe(400);
    expect(contacts.json<{ error: { message: string } }>().error.message).toBe(
      'Subscription expiration can only be 4230 minutes in the future.',
    );
    expect(ep.validations).toHaveLength(1); // only the accepted one was validated
  });

  it('refuses created for users and groups, a long clientState, plain http off loopback, unknown resources', async () => {
    const base = {
      changeType: 'updated',
      notificationUrl: ep.url(),
      resource: 'users',
      expirationDateTime: inMinutes(60),
    };
    const post = (b: Record<string, unknown>) => graph('POST', '/subscriptions', { ...base, ...b });
    const created = await post({ changeType: 'created,updated' });
    expect(created.status).toBe(400);
    expect(created.json<{ error: { message: string } }>().error.message).toBe(
      "Invalid 'changeType' attribute: 'created'.",
    );
    expect((await post({ clientState: 'x'.repeat(129) })).status).toBe(400);
    expect((await post({ clientState: 'x'.repeat(128) })).status).toBe(201);
    expect((await post({ notificationUrl: 'http://example.com/notify' })).status).toBe(400);
    expect((await post({ expirationDateTime: undefined })).status).toBe(400);
    expect((await post({ latestSupportedTlsVersion: 'v2_0' })).status).toBe(400);
    expect((await post({ includeResourceData: true })).status).toBe(400);
    const messages = await post({ resource: 'me/messages' });
    expect(messages.status).toBe(400);
    expect(messages.json<{ error: { message: string } }>().error.message).toMatch(/does not serve/);
    expect((await post({ resource: 'directoryObjects' })).status).toBe(400);
    expect((await post({ resource: 'users/no-such-user' })).status).toBe(404);
    // presence is delegated-only
    const presence = await post({
      resource: '/communications/presences/abc',
      expirationDateTime: inMinutes(30),
    });
    expect(presence.status).toBe(403);
  });

  it('needs the read permission of the resource and applies the users + groups quota (403)', async () => {
    await t.sandbox.admin.setNotificationSettings({ directoryQuotaPerAppAndTenant: 2 });
    await subscribe();
    await subscribe({ resource: 'groups' });
    const third = await graph('POST', '/subscriptions', {
      changeType: 'updated',
      notificationUrl: ep.url(),
      resource: 'users',
      expirationDateTime: inMinutes(60),
    });
    expect(third.status).toBe(403);
    expect(third.json<{ error: { message: string } }>().error.message).toMatch(
      /quota.*per application and tenant/,
    );

    await t.sandbox.admin.resetNotificationSettings();
    const appId = t.sandbox.info.clientId;
    await t.sandbox.admin.revokeConsent(appId);
    try {
      const noRoles = await appToken();
      const denied = await graph(
        'POST',
        '/subscriptions',
        {
          changeType: 'updated',
          notificationUrl: ep.url(),
          resource: 'users',
          expirationDateTime: inMinutes(60),
        },
        noRoles,
      );
      expect(denied.status).toBe(403);
    } finally {
      await t.sandbox.admin.grantConsent(appId);
    }
  });
});

describe('change notifications', () => {
  it('a user change delivers a notification with Graph shape and the clientState', async () => {
    const sub = await subscribe();
    const uid = await someUserId();
    await t.sandbox.admin.updateUser(uid, { jobTitle: 'Notified' });
    const [n] = await eventually(() => ep.notifications().length > 0 && ep.notifications(), {
      message: 'notification',
    });
    expect(n).toEqual({
      subscriptionId: sub.id,
      subscriptionExpirationDateTime: sub.expirationDateTime,
      changeType: 'updated',
      resource: `Users/${uid}`,
      resourceData: {
        '@odata.type': '#Microsoft.Graph.User',
        '@odata.id': `Users/${uid}`,
        id: uid,
        organizationId: t.sandbox.info.tenantId,
        eventTime: expect.any(String),
        sequenceNumber: expect.any(Number),
      },
      clientState: 'secret-client-state',
      tenantId: t.sandbox.info.tenantId,
    });
    expect(ep.posts[0]?.contentType).toMatch(/^application\/json/);
    const admin = await t.sandbox.admin.getSubscription(sub.id);
    expect(admin.stats).toMatchObject({
      notificationsQueued: 1,
      notificationsDelivered: 1,
      deliveryAttempts: 1,
    });
  });

  it('creation and soft deletion come as updated, deletion for good as deleted; changes together share one POST', async () => {
    const all = await subscribe();
    const onlyDeleted = await subscribe({ changeType: 'deleted' });
    const created = await t.sandbox.admin.createUser({
      userPrincipalName: `notified.${Date.now()}@${(await t.sandbox.admin.info()).defaultDomain}`,
      displayName: 'Notified Person',
    });
    await t.sandbox.admin.updateUser(created.id, { jobTitle: 'First' });
    await t.sandbox.admin.disableUser(created.id);
    await eventually(() => ep.notifications().length >= 3, { message: 'three notifications' });
    // one batch window: one POST carries all three
    expect(ep.posts).toHaveLength(1);
    expect(ep.notifications().map((n) => [n.subscriptionId, n.changeType])).toEqual([
      [all.id, 'updated'],
      [all.id, 'updated'],
      [all.id, 'updated'],
    ]);

    ep.reset();
    await t.sandbox.admin.softDeleteUser(created.id);
    await eventually(() => ep.notifications().length >= 1, { message: 'soft delete' });
    await staysTrue(() => expect(ep.notifications().map((n) => n.changeType)).toEqual(['updated']), {
      for: 150,
      message: 'a soft delete notifies "updated" only',
    });

    ep.reset();
    await t.sandbox.admin.hardDeleteUser(created.id);
    await eventually(() => ep.notifications().length >= 2, { message: 'hard delete' });
    // the two subscriptions share the URL, so one POST carries both
    expect(ep.posts).toHaveLength(1);
    expect(
      ep
        .notifications()
        .map((n) => [n.subscriptionId, n.changeType, n.resource])
        .sort(),
    ).toEqual(
      [
        [all.id, 'deleted', `Users/${created.id}`],
        [onlyDeleted.id, 'deleted', `Users/${created.id}`],
      ].sort(),
    );
  });

  it('group membership changes notify group subscriptions; /users/{id} watches one user', async () => {
    const groups = await subscribe({ resource: 'groups' });
    const uid = await someUserId(0);
    const other = await someUserId(1);
    const one = await subscribe({ resource: `/users/${uid}`, notificationUrl: ep.url('/one') });
    const group = await t.sandbox.admin.createGroup({ displayName: `Notified ${Date.now()}` });
    await t.sandbox.admin.addMember(group.id, uid);
    await t.sandbox.admin.updateUser(other, { jobTitle: 'Not watched' });
    await t.sandbox.admin.updateUser(uid, { jobTitle: 'Watched' });
    await eventually(() => ep.notifications().length >= 2 && ep.notifications('/one').length >= 1, {
      message: 'both',
    });
    await staysTrue(
      () => {
        expect(
          ep.notifications().map((n) => [n.subscriptionId, n.resource, n.resourceData?.['@odata.type']]),
        ).toEqual([
          [groups.id, `Groups/${group.id}`, '#Microsoft.Graph.Group'],
          [groups.id, `Groups/${group.id}`, '#Microsoft.Graph.Group'],
        ]);
        expect(ep.notifications('/one').map((n) => [n.subscriptionId, n.resource])).toEqual([
          [one.id, `Users/${uid}`],
        ]);
      },
      { for: 150, message: 'no other notification' },
    );
  });
});

describe('several directories', () => {
  it("each directory's changes notify that directory's subscriptions only, with its tenantId", async () => {
    const other = await t.sandbox.admin.addTenant({ users: 4, provisionApps: [t.sandbox.info.clientId] });
    await consentAsAdmin(t, { tenantId: other.tenantId, adminUpn: other.adminUpn });
    const cca = createConfidentialClient(t.endpoints, {
      clientId: t.sandbox.info.clientId,
      tenantId: other.tenantId,
      clientSecret: t.sandbox.info.clientSecret,
    });
    const otherToken = (
      await cca.acquireTokenByClientCredential({ scopes: [graphDefaultScope(t.endpoints)] })
    )?.accessToken as string;
    const mine = await subscribe({ notificationUrl: ep.url('/seeded') });
    const res = await graph(
      'POST',
      '/subscriptions',
      {
        changeType: 'updated,deleted',
        notificationUrl: ep.url('/other'),
        resource: 'users',
        expirationDateTime: inMinutes(60),
        clientState: 'other-state',
      },
      otherToken,
    );
    expect(res.status, res.text).toBe(201);
    const theirs = res.json<SubscriptionJson>();
    // Each directory lists its own subscriptions only.
    const listed = (await graph('GET', '/subscriptions', undefined, otherToken)).json<{
      value: SubscriptionJson[];
    }>();
    expect(listed.value.map((x) => x.id)).toEqual([theirs.id]);

    const otherUser = (
      (await graph('GET', '/users?$top=1', undefined, otherToken)).json<{ value: Array<{ id: string }> }>()
        .value[0] as { id: string }
    ).id;
    await t.sandbox.admin.updateUserIn(other.tenantId, otherUser, { jobTitle: 'Elsewhere' });
    const [n] = await eventually(() => ep.notifications('/other').length > 0 && ep.notifications('/other'));
    expect(n).toMatchObject({
      subscriptionId: theirs.id,
      resource: `Users/${otherUser}`,
      clientState: 'other-state',
      tenantId: other.tenantId,
      resourceData: { organizationId: other.tenantId },
    });
    const seededUser = await someUserId();
    await t.sandbox.admin.updateUser(seededUser, { jobTitle: 'Here' });
    const [m] = await eventually(() => ep.notifications('/seeded').length > 0 && ep.notifications('/seeded'));
    expect(m).toMatchObject({ subscriptionId: mine.id, tenantId: t.sandbox.info.tenantId });
    await staysTrue(
      () => {
        expect(ep.notifications('/seeded').map((x) => x.resource)).toEqual([`Users/${seededUser}`]);
        expect(ep.notifications('/other').map((x) => x.resource)).toEqual([`Users/${otherUser}`]);
      },
      { for: 300, message: "each directory's notification only" },
    );
  });
});

describe('delivery retries', () => {
  it('retries with backoff after the endpoint failed twice, then delivers once', async () => {
    const sub = await subscribe();
    ep.failNext = 2;
    await t.sandbox.admin.updateUser(await someUserId(), { jobTitle: 'Retried' });
    await eventually(() => ep.posts.length >= 3, { message: 'three attempts' });
    await staysTrue(() => ep.posts.length === 3, { for: 700, message: 'no fourth attempt' });
    const [a, b, c] = ep.posts as [Received, Received, Received];
    expect(b.body).toBe(a.body);
    expect(c.body).toBe(a.body);
    // 150 ms, then 300 ms (doubling)
    expect(b.at - a.at).toBeGreaterThanOrEqual(140);
    expect(c.at - b.at).toBeGreaterThanOrEqual(290);
    const s = await t.sandbox.admin.getSubscription(sub.id);
    expect(s.stats).toMatchObject({
      notificationsDelivered: 1,
      deliveryAttempts: 3,
      failedAttempts: 2,
      notificationsDropped: 0,
    });
    expect(s.stats.lastError).toMatch(/HTTP 500/);
  });

  it('counts a slow answer (past the 3 s deadline, here 200 ms) as a failure and retries', async () => {
    await t.sandbox.admin.setNotificationSettings({ deliveryTimeoutMs: 200 });
    const sub = await subscribe();
    ep.delayMs = 400;
    await t.sandbox.admin.updateUser(await someUserId(), { jobTitle: 'Slow' });
    await eventually(() => ep.posts.length >= 1, { message: 'first attempt' });
    ep.delayMs = 0;
    const s = await eventually(
      async () => {
        const x = await t.sandbox.admin.getSubscription(sub.id);
        return x.stats.notificationsDelivered === 1 && x;
      },
      { message: 'delivery stats' },
    );
    expect(s.stats).toMatchObject({ notificationsDelivered: 1, failedAttempts: 1, deliveryAttempts: 2 });
    expect(s.stats.lastError).toMatch(/timeout/);
  });

  it('gives up after retryForMs and drops the notification', async () => {
    await t.sandbox.admin.setNotificationSettings({ retryForMs: 500 });
    const sub = await subscribe();
    ep.failAlways = true;
    await t.sandbox.admin.updateUser(await someUserId(), { jobTitle: 'Dropped' });
    const s = await eventually(
      async () => {
        const x = await t.sandbox.admin.getSubscription(sub.id);
        return x.stats.notificationsDropped > 0 && x;
      },
      { message: 'delivery stats' },
    );
    expect(s.stats).toMatchObject({ notificationsDropped: 1, notificationsDelivered: 0 });
    const attempts = ep.posts.length;
    expect(attempts).toBeGreaterThanOrEqual(2);
    await staysTrue(() => ep.posts.length === attempts, { for: 800, message: 'no attempt after the drop' });
  });
});

describe('no delivery after DELETE or expiry', () => {
  it('DELETE answers 204; later changes and pending retries deliver nothing; GET answers 404', async () => {
    const sub = await subscribe();
    ep.failAlways = true;
    const uid = await someUserId();
    await t.sandbox.admin.updateUser(uid, { jobTitle: 'Before delete' });
    await eventually(() => ep.posts.length >= 1, { message: 'first attempt' });
    const del = await graph('DELETE', `/subscriptions/${sub.id}`);
    expect(del.status).toBe(204);
    const attempts = ep.posts.length;
    ep.failAlways = false;
    await t.sandbox.admin.updateUser(uid, { jobTitle: 'After delete' });
    await staysTrue(() => ep.posts.length === attempts, { for: 800, message: 'no delivery after DELETE' });
    expect((await graph('GET', `/subscriptions/${sub.id}`)).status).toBe(404);
    expect((await graph('DELETE', `/subscriptions/${sub.id}`)).status).toBe(404);
    const admin = await t.sandbox.admin.getSubscription(sub.id);
    expect(admin.state).toBe('deleted');
  });

  it('an expired subscription delivers nothing and is gone (at its time, or forced)', async () => {
    const short = await subscribe({ expirationDateTime: new Date(Date.now() + 1500).toISOString() });
    const forced = await subscribe({ resource: 'groups' });
    await t.sandbox.admin.expireSubscription(forced.id);
    // Past its expirationDateTime, the sweep ends it (waited for, not slept on).
    await eventually(async () => (await t.sandbox.admin.getSubscription(short.id)).state === 'expired', {
      message: 'the short subscription to expire',
    });
    await t.sandbox.admin.updateUser(await someUserId(), { jobTitle: 'After expiry' });
    const g = await t.sandbox.admin.createGroup({ displayName: `After expiry ${Date.now()}` });
    await t.sandbox.admin.updateGroup(g.id, { description: 'x' });
    await staysTrue(() => ep.posts.length === 0, { for: 400, message: 'no delivery after expiry' });
    expect((await graph('GET', `/subscriptions/${short.id}`)).status).toBe(404);
    expect(
      (await graph('PATCH', `/subscriptions/${forced.id}`, { expirationDateTime: inMinutes(60) })).status,
    ).toBe(404);
    const states = (await t.sandbox.admin.listSubscriptions({ includeEnded: true })).map((s) => [
      s.id,
      s.state,
    ]);
    expect(states).toEqual(
      expect.arrayContaining([
        [short.id, 'expired'],
        [forced.id, 'expired'],
      ]),
    );
  });
});

describe('renewal and lifecycle', () => {
  it('PATCH renews expirationDateTime within the same limits', async () => {
    const sub = await subscribe({ expirationDateTime: inMinutes(10) });
    const later = inMinutes(41_000);
    const res = await graph('PATCH', `/subscriptions/${sub.id}`, { expirationDateTime: later });
    expect(res.status).toBe(200);
    const renewed = res.json<SubscriptionJson>();
    expect(Date.parse(renewed.expirationDateTime)).toBe(Date.parse(later));
    expect(renewed.id).toBe(sub.id);
    const tooFar = await graph('PATCH', `/subscriptions/${sub.id}`, {
      expirationDateTime: inMinutes(41_800),
    });
    expect(tooFar.status).toBe(400);
    const resource = await graph('PATCH', `/subscriptions/${sub.id}`, { resource: 'groups' });
    expect(resource.status).toBe(400);
    const got = await graph('GET', `/subscriptions/${sub.id}`);
    expect(Date.parse(got.json<SubscriptionJson>().expirationDateTime)).toBe(Date.parse(later));
    // the renewed expiry travels in the next notification
    await t.sandbox.admin.updateUser(await someUserId(), { jobTitle: 'Renewed' });
    const [n] = await eventually(() => ep.notifications().length > 0 && ep.notifications(), {
      message: 'notification',
    });
    expect(Date.parse(n?.subscriptionExpirationDateTime ?? '')).toBe(Date.parse(later));
  });

  it('PATCH renews over $batch too', async () => {
    const sub = await subscribe();
    const later = inMinutes(120);
    const res = await graph('POST', '/$batch', {
      requests: [
        {
          id: '1',
          method: 'PATCH',
          url: `/subscriptions/${sub.id}`,
          headers: { 'content-type': 'application/json' },
          body: { expirationDateTime: later },
        },
        { id: '2', method: 'GET', url: '/subscriptions' },
      ],
    });
    expect(res.status).toBe(200);
    const responses = res.json<{
      responses: Array<{ id: string; status: number; body: { value?: unknown[] } }>;
    }>().responses;
    expect(responses.map((r) => [r.id, r.status])).toEqual([
      ['1', 200],
      ['2', 200],
    ]);
  });

  it('reauthorizationRequired goes to the lifecycle URL; after the grace period changes pause until /reauthorize', async () => {
    const sub = await subscribe({ lifecycleNotificationUrl: ep.url('/lifecycle') });
    await t.sandbox.admin.setNotificationSettings({ reauthorizationGraceMs: 0 });
    const forced = await t.sandbox.admin.forceLifecycleEvent(sub.id);
    expect(forced.sent).toBe(true);
    const [lc] = await eventually(
      () => ep.notifications('/lifecycle').length > 0 && ep.notifications('/lifecycle'),
      { message: 'lifecycle notification' },
    );
    expect(lc).toMatchObject({
      subscriptionId: sub.id,
      subscriptionExpirationDateTime: sub.expirationDateTime,
      tenantId: t.sandbox.info.tenantId,
      clientState: 'secret-client-state',
      lifecycleEvent: 'reauthorizationRequired',
    });
    expect(ep.notifications()).toHaveLength(0);

    // paused: this change is lost, as Graph warns
    const uid = await someUserId();
    await t.sandbox.admin.updateUser(uid, { jobTitle: 'While paused' });
    await staysTrue(() => ep.notifications().length === 0, { for: 300, message: 'nothing while paused' });
    expect((await t.sandbox.admin.getSubscription(sub.id)).paused).toBe(true);

    const re = await graph('POST', `/subscriptions/${sub.id}/reauthorize`);
    expect(re.status).toBe(204);
    await t.sandbox.admin.updateUser(uid, { jobTitle: 'Resumed' });
    await eventually(() => ep.notifications().length > 0, { message: 'resumed notification' });
    const s = await t.sandbox.admin.getSubscription(sub.id);
    expect(s).toMatchObject({ reauthorizationRequired: false, paused: false });
    expect(s.stats).toMatchObject({
      lifecycleDelivered: 1,
      notificationsDropped: 1,
      notificationsDelivered: 1,
    });
  });

  it('without a lifecycleNotificationUrl nothing is sent; a renewal also answers the challenge', async () => {
    const sub = await subscribe();
    const forced = await t.sandbox.admin.forceLifecycleEvent(sub.id);
    expect(forced.sent).toBe(false);
    expect(forced.subscription.reauthorizationRequired).toBe(true);
    await graph('PATCH', `/subscriptions/${sub.id}`, { expirationDateTime: inMinutes(90) });
    expect((await t.sandbox.admin.getSubscription(sub.id)).reauthorizationRequired).toBe(false);
  });

  it('revoked consent raises reauthorizationRequired by itself; /reauthorize answers 403 until consent is back', async () => {
    const sub = await subscribe({ lifecycleNotificationUrl: ep.url('/lifecycle') });
    const appId = t.sandbox.info.clientId;
    await t.sandbox.admin.revokeConsent(appId);
    try {
      await eventually(() => ep.notifications('/lifecycle').length > 0, {
        message: 'lifecycle after revoke',
      });
      expect(ep.notifications('/lifecycle')[0]?.lifecycleEvent).toBe('reauthorizationRequired');
      expect((await graph('POST', `/subscriptions/${sub.id}/reauthorize`)).status).toBe(403);
    } finally {
      await t.sandbox.admin.grantConsent(appId);
    }
    expect((await graph('POST', `/subscriptions/${sub.id}/reauthorize`)).status).toBe(204);
  });

  it('subscriptionRemoved (admin) removes the subscription and tells the lifecycle URL', async () => {
    const sub = await subscribe({ lifecycleNotificationUrl: ep.url('/lifecycle') });
    const removed = await t.sandbox.admin.removeSubscription(sub.id, { notify: true });
    expect(removed).toMatchObject({ sent: true, subscription: { state: 'removed' } });
    const [lc] = await eventually(
      () => ep.notifications('/lifecycle').length > 0 && ep.notifications('/lifecycle'),
      { message: 'subscriptionRemoved' },
    );
    expect(lc?.lifecycleEvent).toBe('subscriptionRemoved');
    expect((await graph('GET', `/subscriptions/${sub.id}`)).status).toBe(404);
  });
});
