import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CryptoProvider } from '@azure/msal-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createConfidentialClient, graphDefaultScope } from '../../src/m365/microsoft-clients.js';
import type { AdminUser } from '../../src/sandbox/index.js';
import { eventually, staysTrue } from '../support/wait.js';
import { type RawResponse, startTestSandbox, type TestSandbox } from './sandbox-test.helpers.js';

/**
 * Presence subscriptions in the sandbox (issue 15 item 1), as Graph serves them
 * (https://learn.microsoft.com/graph/changenotifications-for-presence): delegated Presence.Read.All
 * only, at most 650 ids, at most 60 minutes, one per user per app (409), renewed with PATCH, and a
 * basic change notification (the user's id, no presence data) when a watched user's availability
 * or activity changes.
 */
const REDIRECT = 'http://localhost/callback';
const PRESENCE_ALL = 'https://graph.microsoft.com/Presence.Read.All';

interface Notification {
  subscriptionId: string;
  clientState: string | null;
  changeType: string;
  tenantId: string;
  organizationId?: string;
  resource: string;
  subscriptionExpirationDateTime: string;
  resourceData: Record<string, unknown>;
  lifecycleEvent?: string;
}

/** The subscriber's endpoint: echoes validation tokens, keeps what is posted. */
async function endpoint() {
  const posts: Array<{ path: string; value: Notification[] }> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const token = url.searchParams.get('validationToken');
      if (token !== null) {
        res.writeHead(200, { 'content-type': 'text/plain' }).end(token);
        return;
      }
      posts.push({ path: url.pathname, value: JSON.parse(Buffer.concat(chunks).toString()).value });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    posts,
    of: (path: string) => posts.filter((p) => p.path === path).flatMap((p) => p.value),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('presence subscriptions in the sandbox (issue 15 item 1)', () => {
  let t: TestSandbox;
  let ep: Awaited<ReturnType<typeof endpoint>>;
  let users: AdminUser[];
  let admin: AdminUser;

  const cca = () =>
    createConfidentialClient(t.endpoints, {
      clientId: t.sandbox.info.clientId,
      tenantId: t.sandbox.info.tenantId,
      clientSecret: t.sandbox.info.clientSecret,
    });
  const userToken = async (upn: string, scopes = [PRESENCE_ALL]) => {
    const client = cca();
    const pkce = await new CryptoProvider().generatePkceCodes();
    const url = await client.getAuthCodeUrl({
      scopes,
      redirectUri: REDIRECT,
      codeChallenge: pkce.challenge,
      codeChallengeMethod: 'S256',
      loginHint: upn,
    });
    const res = await t.http(url);
    const code = new URL(res.headers.location as string).searchParams.get('code') as string;
    return (
      await client.acquireTokenByCode({ code, scopes, redirectUri: REDIRECT, codeVerifier: pkce.verifier })
    ).accessToken;
  };
  const graph = (method: string, path: string, token: string, body?: unknown): Promise<RawResponse> =>
    t.http(`${t.sandbox.info.graphBaseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const inMinutes = (m: number) => new Date(Date.now() + m * 60_000).toISOString();
  const resourceOf = (ids: string[]) =>
    `/communications/presences?$filter=id in (${ids.map((i) => `'${i}'`).join(',')})`;
  const subscribe = (token: string, ids: string[], extra: Record<string, unknown> = {}) =>
    graph('POST', '/subscriptions', token, {
      changeType: 'updated',
      notificationUrl: `${ep.base}/notify`,
      lifecycleNotificationUrl: `${ep.base}/lifecycle`,
      resource: resourceOf(ids),
      expirationDateTime: inMinutes(55),
      clientState: 'presence-state',
      ...extra,
    });

  beforeAll(async () => {
    t = await startTestSandbox({
      users: 30,
      autoSignIn: true,
      notifications: { batchWindowMs: 30, sweepIntervalMs: 50, reauthorizationGraceMs: 60_000 },
    });
    await t.sandbox.admin.addRedirectUri(t.sandbox.info.clientId, REDIRECT);
    const all = (await t.sandbox.admin.listUsers({ top: 1000 })).value;
    admin = all.find((u) => u.isAdmin) as AdminUser;
    users = all.filter((u) => !u.isAdmin && u.accountEnabled);
    ep = await endpoint();
  });
  afterAll(async () => {
    await ep?.close();
    await t?.close();
  });
  beforeEach(async () => {
    await t.sandbox.admin.resetSubscriptions();
    ep.posts.length = 0;
  });

  it('app-only tokens are refused (delegated only); a delegated Presence.Read.All token subscribes', async () => {
    await t.sandbox.admin.grantConsent(t.sandbox.info.clientId, { appRoles: ['Presence.Read.All'] });
    const app = (
      await cca().acquireTokenByClientCredential({
        scopes: [graphDefaultScope(t.endpoints)],
        skipCache: true,
      })
    )?.accessToken as string;
    const refused = await subscribe(app, [users[0]?.id as string]);
    expect(refused.status).toBe(403);
    const read = await userToken(String(admin.userPrincipalName), [
      'https://graph.microsoft.com/Presence.Read',
    ]);
    expect((await subscribe(read, [users[0]?.id as string])).status).toBe(403);

    const token = await userToken(String(admin.userPrincipalName));
    const created = await subscribe(token, [users[0]?.id as string, users[1]?.id as string]);
    expect(created.status, created.text).toBe(201);
    expect(created.json<{ creatorId: string; changeType: string }>()).toMatchObject({
      creatorId: admin.id,
      changeType: 'updated',
    });
  });

  it('at most 650 ids, at most 60 minutes, one subscription per user per app (409 Conflict)', async () => {
    const token = await userToken(String(admin.userPrincipalName));
    const ids = Array.from(
      { length: 651 },
      (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    );
    expect((await subscribe(token, ids)).status).toBe(400);
    const long = await subscribe(token, ids.slice(0, 650), { expirationDateTime: inMinutes(61) });
    expect(long.status).toBe(400);
    expect(long.json<{ error: { message: string } }>().error.message).toBe(
      'Subscription expiration can only be 60 minutes in the future.',
    );
    expect((await subscribe(token, ids.slice(0, 650))).status).toBe(201);
    const second = await subscribe(token, [users[2]?.id as string]);
    expect(second.status).toBe(409);
    expect(second.json<{ error: { message: string } }>().error.message).toContain(
      'A subscripton already exists',
    );
    // Another user of the same app may hold one of their own.
    const other = await userToken(String(users[5]?.userPrincipalName));
    expect((await subscribe(other, [users[2]?.id as string])).status).toBe(201);
  });

  it('a watched user’s presence change is notified (basic: the id, no presence data); others and no-change are not', async () => {
    const token = await userToken(String(admin.userPrincipalName));
    const [a, b, c] = users as [AdminUser, AdminUser, AdminUser];
    const sub = (await subscribe(token, [a.id, b.id])).json<{ id: string }>();
    const before = await t.sandbox.admin.presence(a.id);
    const next = before.availability === 'Busy' ? ['Away', 'Away'] : ['Busy', 'InACall'];
    await t.sandbox.admin.setPresence(a.id, next[0] as string, next[1] as string);
    await t.sandbox.admin.setPresence(c.id, 'DoNotDisturb', 'Presenting');
    const [n] = await eventually(
      () => {
        const got = ep.of('/notify');
        expect(got).toHaveLength(1);
        return got;
      },
      { message: 'the presence change notification' },
    );
    expect(n).toMatchObject({
      subscriptionId: sub.id,
      clientState: 'presence-state',
      changeType: 'updated',
      tenantId: t.sandbox.info.tenantId,
      organizationId: t.sandbox.info.tenantId,
      resource: `communications/presences/${a.id}`,
      resourceData: {
        '@odata.type': '#microsoft.graph.presence',
        '@odata.id': `users/${a.id}/presence`,
        id: a.id,
      },
    });
    expect(n?.resourceData).not.toHaveProperty('availability');
    // The same pair again is no change; c is not watched.
    await t.sandbox.admin.setPresence(a.id, next[0] as string, next[1] as string);
    await staysTrue(() => ep.of('/notify').length === 1, { for: 300, interval: 50 });
    // Many at once (the bench's way) too; BusyIdle / InAConferenceCall is a pair the seed never gives.
    await t.sandbox.admin.setPresences([
      { userId: b.id, availability: 'BusyIdle', activity: 'InAConferenceCall' },
    ]);
    await eventually(() => expect(ep.of('/notify').map((x) => x.resourceData.id)).toContain(b.id));
  });

  it('renewed with PATCH (≤ 60 min); once expired or deleted nothing more comes, and the user may subscribe again', async () => {
    const token = await userToken(String(admin.userPrincipalName));
    const a = users[3] as AdminUser;
    const sub = (await subscribe(token, [a.id])).json<{ id: string }>();
    const renewed = await graph('PATCH', `/subscriptions/${sub.id}`, token, {
      expirationDateTime: inMinutes(60),
    });
    expect(renewed.status).toBe(200);
    expect(
      (await graph('PATCH', `/subscriptions/${sub.id}`, token, { expirationDateTime: inMinutes(90) })).status,
    ).toBe(400);
    await t.sandbox.admin.expireSubscription(sub.id);
    expect((await graph('GET', `/subscriptions/${sub.id}`, token)).status).toBe(404);
    await t.sandbox.admin.setPresence(a.id, 'BeRightBack', 'BeRightBack');
    await staysTrue(() => ep.of('/notify').length === 0, { for: 300, interval: 50 });
    expect((await subscribe(token, [a.id])).status).toBe(201);
  });

  it('consent to delegated Presence.Read.All revoked: reauthorizationRequired to the lifecycle URL, renewal refused', async () => {
    await t.sandbox.admin.grantConsent(t.sandbox.info.clientId, { scopes: ['Presence.Read.All'] });
    const token = await userToken(String(admin.userPrincipalName));
    const sub = (await subscribe(token, [users[4]?.id as string])).json<{ id: string }>();
    await t.sandbox.admin.revokeConsent(t.sandbox.info.clientId, { scopes: ['Presence.Read.All'] });
    const [n] = await eventually(
      () => {
        const got = ep.of('/lifecycle');
        expect(got.length).toBeGreaterThan(0);
        return got;
      },
      { message: 'reauthorizationRequired' },
    );
    expect(n).toMatchObject({ subscriptionId: sub.id, lifecycleEvent: 'reauthorizationRequired' });
  });
});
