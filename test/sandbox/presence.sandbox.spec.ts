import { CryptoProvider } from '@azure/msal-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConfidentialClient, graphDefaultScope } from '../../src/m365/microsoft-clients.js';
import type { AdminUser } from '../../src/sandbox/index.js';
import { eventually } from '../support/wait.js';
import {
  consentAsAdmin,
  type RawResponse,
  startTestSandbox,
  type TestSandbox,
} from './sandbox-test.helpers.js';

/**
 * Teams presence in the sandbox (issue 15 item 1): the presence resource as Graph serves it
 * (GET /users/{id}/presence, /communications/presences?$filter=id in (…), POST
 * /communications/getPresencesByUserId), its permissions (application Presence.Read.All after
 * admin consent; delegated Presence.Read for oneself, Presence.Read.All for others), the 650-id
 * limit, the 1,500 requests per 30 s limit, the admin API and the load mode.
 */
const REDIRECT = 'http://localhost/callback';

function cca(t: TestSandbox) {
  return createConfidentialClient(t.endpoints, {
    clientId: t.sandbox.info.clientId,
    tenantId: t.sandbox.info.tenantId,
    clientSecret: t.sandbox.info.clientSecret,
  });
}

async function appToken(t: TestSandbox): Promise<string> {
  const r = await cca(t).acquireTokenByClientCredential({
    scopes: [graphDefaultScope(t.endpoints)],
    skipCache: true,
  });
  return r?.accessToken as string;
}

async function userToken(t: TestSandbox, upn: string, scopes: string[]): Promise<string> {
  const client = cca(t);
  const pkce = await new CryptoProvider().generatePkceCodes();
  const url = await client.getAuthCodeUrl({
    scopes,
    redirectUri: REDIRECT,
    codeChallenge: pkce.challenge,
    codeChallengeMethod: 'S256',
    loginHint: upn,
  });
  const res = await t.http(url);
  expect(res.status, res.text.slice(0, 300)).toBe(302);
  const code = new URL(res.headers.location as string).searchParams.get('code') as string;
  const r = await client.acquireTokenByCode({
    code,
    scopes,
    redirectUri: REDIRECT,
    codeVerifier: pkce.verifier,
  });
  return r.accessToken;
}

function call(
  t: TestSandbox,
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<RawResponse> {
  return t.http(`${t.sandbox.info.graphBaseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

type Presence = { id: string; availability: string; activity: string; sequenceNumber: string | null };

describe('Teams presence in the sandbox', () => {
  let t: TestSandbox;
  let users: AdminUser[];
  let app: string;
  beforeAll(async () => {
    t = await startTestSandbox({ users: 20, autoSignIn: true });
    users = (await t.sandbox.admin.listUsers({ top: 1000 })).value.filter(
      (u) => !u.isAdmin && u.accountEnabled,
    );
    await t.sandbox.admin.addRedirectUri(t.sandbox.info.clientId, REDIRECT);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers 403 Authorization_RequestDenied to an app token until an admin consents to Presence.Read.All', async () => {
    const before = await call(t, 'GET', `/users/${users[0]?.id}/presence`, await appToken(t));
    expect(before.status).toBe(403);
    expect(before.json<{ error: { code: string } }>().error.code).toBe('Authorization_RequestDenied');
    await t.sandbox.admin.setRequiredPermissions(t.sandbox.info.clientId, {
      appRoles: ['User.Read.All', 'Group.Read.All', 'Presence.Read.All'],
    });
    await consentAsAdmin(t, { redirectUri: REDIRECT });
    app = await appToken(t);
    const after = await call(t, 'GET', `/users/${users[0]?.id}/presence`, app);
    expect(after.status, after.text).toBe(200);
    expect(after.json<Presence>()).toMatchObject({
      id: users[0]?.id,
      outOfOfficeSettings: { isOutOfOffice: false },
    });
  });

  it('serves the presence the admin API sets, on every read path, with a sequence number that grows', async () => {
    const u = users[1] as AdminUser;
    const first = await call(t, 'GET', `/communications/presences/${u.id}`, app);
    const set = await t.sandbox.admin.setPresence(u.id, 'DoNotDisturb', 'Presenting');
    expect(set).toMatchObject({ userId: u.id, availability: 'DoNotDisturb', activity: 'Presenting' });
    expect(set.changedAt).not.toBeNull();
    const one = (await call(t, 'GET', `/users/${u.id}/presence`, app)).json<Presence>();
    expect(one).toMatchObject({ availability: 'DoNotDisturb', activity: 'Presenting' });
    expect(String(one.sequenceNumber) > String(first.json<Presence>().sequenceNumber ?? '')).toBe(true);

    const list = await call(
      t,
      'GET',
      `/communications/presences?$filter=id in ('${u.id}','${users[2]?.id}')`,
      app,
    );
    expect(list.status, list.text).toBe(200);
    expect(list.json<{ value: Presence[] }>().value.map((p) => [p.id, p.availability])).toEqual([
      [u.id, 'DoNotDisturb'],
      [users[2]?.id, (await t.sandbox.admin.presence(users[2]?.id as string)).availability],
    ]);

    const many = await call(t, 'POST', '/communications/getPresencesByUserId', app, {
      ids: [u.id, '00000000-0000-0000-0000-000000000001'],
    });
    expect(many.status, many.text).toBe(200);
    expect(many.json<{ value: Presence[] }>().value).toMatchObject([
      { id: u.id, availability: 'DoNotDisturb', activity: 'Presenting' },
      {
        id: '00000000-0000-0000-0000-000000000001',
        availability: 'PresenceUnknown',
        activity: 'PresenceUnknown',
      },
    ]);
    // the admin API refuses what Graph does not name
    await expect(t.sandbox.admin.setPresence(u.id, 'Lunch', 'Away')).rejects.toThrow(/availability/);
  });

  it('getPresencesByUserId takes at most 650 ids: 651 answer 400 without saying why; /me is delegated only', async () => {
    const ids = Array.from(
      { length: 651 },
      (_, i) => `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`,
    );
    const over = await call(t, 'POST', '/communications/getPresencesByUserId', app, { ids });
    expect(over.status).toBe(400);
    expect(over.json<{ error: { code: string; message: string } }>().error.message).not.toMatch(/650/);
    const at = await call(t, 'POST', '/communications/getPresencesByUserId', app, { ids: ids.slice(0, 650) });
    expect(at.status).toBe(200);
    expect(at.json<{ value: Presence[] }>().value).toHaveLength(650);
    expect((await call(t, 'GET', '/me/presence', app)).status).toBe(400);
  });

  it('delegated: Presence.Read reads one’s own presence only; Presence.Read.All reads others and the batch', async () => {
    const me = users[3] as AdminUser;
    const own = await userToken(t, String(me.userPrincipalName), [
      'https://graph.microsoft.com/Presence.Read',
    ]);
    expect((await call(t, 'GET', '/me/presence', own)).json<Presence>().id).toBe(me.id);
    expect((await call(t, 'GET', `/users/${users[4]?.id}/presence`, own)).status).toBe(403);
    expect(
      (await call(t, 'POST', '/communications/getPresencesByUserId', own, { ids: [me.id] })).status,
    ).toBe(403);
    const all = await userToken(t, String(me.userPrincipalName), [
      'https://graph.microsoft.com/Presence.Read.All',
    ]);
    expect((await call(t, 'GET', `/users/${users[4]?.id}/presence`, all)).status).toBe(200);
    expect(
      (await call(t, 'POST', '/communications/getPresencesByUserId', all, { ids: [me.id] })).status,
    ).toBe(200);
  });

  it('1,500 requests per 30 s per app per tenant: past it 429 TooManyRequests with Retry-After (limit lowered to 5)', async () => {
    await t.sandbox.admin.setPresenceThrottling({ requests: 5, windowSeconds: 30 });
    try {
      const statuses: number[] = [];
      let last: RawResponse | undefined;
      for (let i = 0; i < 7; i++) {
        last = await call(t, 'POST', '/communications/getPresencesByUserId', app, { ids: [users[0]?.id] });
        statuses.push(last.status);
      }
      // the requests of the earlier tests of this file may already count in the window
      expect(statuses.at(-1)).toBe(429);
      expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(5);
      expect(Number(last?.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(last?.headers['retry-after'])).toBeLessThanOrEqual(30);
      expect(last?.json<{ error: { code: string } }>().error.code).toBe('TooManyRequests');
      // the single read shares the limit
      expect((await call(t, 'GET', `/users/${users[0]?.id}/presence`, app)).status).toBe(429);
    } finally {
      await t.sandbox.admin.resetFaults();
    }
    expect((await call(t, 'GET', `/users/${users[0]?.id}/presence`, app)).status).toBe(200);
  });

  it('the load mode changes the presence of users every second, at the rate asked', async () => {
    const start = await t.sandbox.admin.setPresenceLoad({ changesPerMinute: 600 });
    expect(start.changesPerMinute).toBe(600);
    const made = await eventually(
      async () => {
        const n = (await t.sandbox.admin.presenceLoad()).changesMade;
        expect(n).toBeGreaterThanOrEqual(20);
        return n;
      },
      { timeout: 30_000, interval: 200, message: 'the load mode to change 20 presences' },
    );
    await t.sandbox.admin.setPresenceLoad({ changesPerMinute: 0 });
    expect(made).toBeGreaterThanOrEqual(20);
    const changed = await Promise.all(users.map((u) => t.sandbox.admin.presence(u.id)));
    expect(changed.filter((p) => p.changedAt !== null).length).toBeGreaterThan(1);
  });
});
