import { CryptoProvider } from '@azure/msal-node';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createConfidentialClient,
  createGraphClient,
  graphDefaultScope,
} from '../../src/m365/microsoft-clients.js';
import { SANDBOX_PASSWORD } from '../../src/sandbox/index.js';
import {
  consentAsAdmin,
  decodeJwt,
  form,
  removeTestDataDir,
  startTestSandbox,
  type TestSandbox,
} from './sandbox-test.helpers.js';

/**
 * Permissions as Microsoft enforces them (issue 11 item 1): a new app has nothing consented;
 * admin consent (https://learn.microsoft.com/entra/identity-platform/v2-admin-consent), an
 * admin's `.default` sign-in or the admin API grants; every Graph endpoint checks the
 * documented permission. Each test gets a tenant of its own.
 */

const REDIRECT = 'http://localhost/callback';
let t: TestSandbox;

beforeEach(async () => {
  t = await startTestSandbox({ users: 12, groups: 3, autoSignIn: true });
  await t.sandbox.admin.addRedirectUri(t.sandbox.info.clientId, REDIRECT);
});
afterEach(async () => {
  await t?.close();
});
afterAll(() => removeTestDataDir());

const cca = () =>
  createConfidentialClient(t.endpoints, {
    clientId: t.sandbox.info.clientId,
    tenantId: t.sandbox.info.tenantId,
    clientSecret: t.sandbox.info.clientSecret,
  });

async function appToken(): Promise<string> {
  const r = await cca().acquireTokenByClientCredential({
    scopes: [graphDefaultScope(t.endpoints)],
    skipCache: true,
  });
  return r?.accessToken as string;
}

async function adminUpn(): Promise<string> {
  return String(
    (await t.sandbox.admin.listUsers({ top: 100 })).value.find((u) => u.isAdmin)?.userPrincipalName,
  );
}

const get = (path: string, token: string) =>
  t.http(`${t.sandbox.info.graphBaseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });

const post = (path: string, fields: Record<string, string>) =>
  t.http(`${t.sandbox.info.authorityHost}/${t.sandbox.info.tenantId}/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form(fields),
  });

function adminConsentUrl(params: Record<string, string>): string {
  return `${t.sandbox.info.authorityHost}/${t.sandbox.info.tenantId}/v2.0/adminconsent?${form({
    client_id: t.sandbox.info.clientId,
    ...params,
  })}`;
}

/** A code-flow sign-in of `upn` (auto sign-in) for `scopes`; returns msal's result. */
async function signIn(upn: string, scopes: string[], prompt?: string) {
  const client = cca();
  const pkce = await new CryptoProvider().generatePkceCodes();
  const url = await client.getAuthCodeUrl({
    scopes,
    redirectUri: REDIRECT,
    codeChallenge: pkce.challenge,
    codeChallengeMethod: 'S256',
    loginHint: upn,
    prompt,
  });
  const res = await t.http(url);
  expect(res.status, res.text.slice(0, 300)).toBe(302);
  const back = new URL(res.headers.location as string);
  const code = back.searchParams.get('code');
  if (!code) throw new Error(`no code: ${back.search}`);
  return {
    client,
    result: await client.acquireTokenByCode({
      code,
      scopes,
      redirectUri: REDIRECT,
      codeVerifier: pkce.verifier,
    }),
  };
}

const forbidden = {
  error: {
    code: 'Authorization_RequestDenied',
    message: 'Insufficient privileges to complete the operation.',
  },
};

describe('a new app registration', () => {
  it('asks for permissions but has none granted: an app token has no roles and every directory read answers 403', async () => {
    const app = await t.sandbox.admin.getApp(t.sandbox.info.clientId);
    expect(app.requiredAppRoles).toEqual(['User.Read.All', 'Group.Read.All', 'Presence.Read.All']);
    expect(app.requiredScopes).toEqual(expect.arrayContaining(['User.Read', 'offline_access']));
    expect(app.grantedAppRoles).toEqual([]);
    expect(app.adminConsentedScopes).toEqual([]);

    const token = await appToken();
    expect(decodeJwt(token).roles).toBeUndefined();
    const group = (await t.sandbox.admin.listGroups({ top: 1 })).value[0]?.id as string;
    for (const path of [
      '/users',
      '/users/delta',
      '/groups',
      '/groups/delta',
      `/groups/${group}/members`,
      `/groups/${group}/transitiveMembers`,
      '/organization',
      '/directory/deletedItems/microsoft.graph.user',
    ]) {
      const res = await get(path, token);
      expect(res.status, path).toBe(403);
      expect(res.json(), path).toMatchObject(forbidden);
    }
    const sub = await t.http(`${t.sandbox.info.graphBaseUrl}/subscriptions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        changeType: 'updated',
        notificationUrl: 'https://127.0.0.1:1/n',
        resource: 'users',
        expirationDateTime: new Date(Date.now() + 3600_000).toISOString(),
      }),
    });
    expect(sub.status).toBe(403);
  });
});

describe('admin consent (/{tenant}/v2.0/adminconsent)', () => {
  it('needs redirect_uri and scope', async () => {
    const noRedirect = await t.http(adminConsentUrl({ scope: 'https://graph.microsoft.com/.default' }));
    expect(noRedirect.status).toBe(400);
    expect(noRedirect.text).toContain('AADSTS900144');
    const noScope = await t.http(
      adminConsentUrl({ redirect_uri: REDIRECT, state: 's', login_hint: await adminUpn() }),
    );
    expect(noScope.status).toBe(302);
    const back = new URL(noScope.headers.location as string);
    expect(back.searchParams.get('error')).toBe('invalid_request');
    expect(back.searchParams.get('error_description')).toMatch(/^AADSTS900144/);
    expect(back.searchParams.get('state')).toBe('s');
  });

  it('declined: back with admin_consent=True, error=consent_required and AADSTS65004; nothing granted', async () => {
    const page = await t.http(
      adminConsentUrl({ redirect_uri: REDIRECT, scope: 'https://graph.microsoft.com/.default', state: 'no' }),
    );
    const flow = /name="flow" value="([^"]+)"/.exec(page.text)?.[1] as string;
    const consent = await post('login', { flow, login: await adminUpn(), password: SANDBOX_PASSWORD });
    // The consent page lists the application permissions too.
    expect(consent.text).toContain('User.Read.All');
    expect(consent.text).toContain('Group.Read.All');
    const declined = await post('consent', { flow, decision: 'cancel' });
    expect(declined.status).toBe(302);
    const back = new URL(declined.headers.location as string);
    expect(back.searchParams.get('admin_consent')).toBe('True');
    expect(back.searchParams.get('error')).toBe('consent_required');
    expect(back.searchParams.get('error_description')).toMatch(
      /^AADSTS65004: The resource owner or authorization server denied the request\./,
    );
    expect(back.searchParams.get('state')).toBe('no');
    expect((await t.sandbox.admin.getApp(t.sandbox.info.clientId)).grantedAppRoles).toEqual([]);
    expect(decodeJwt(await appToken()).roles).toBeUndefined();
  });

  it('a user who is no admin cannot grant it', async () => {
    const member = (await t.sandbox.admin.listUsers({ top: 100 })).value.find(
      (u) => !u.isAdmin && u.accountEnabled,
    );
    const res = await t.http(
      adminConsentUrl({
        redirect_uri: REDIRECT,
        scope: 'https://graph.microsoft.com/.default',
        state: 'm',
        login_hint: String(member?.userPrincipalName),
      }),
    );
    const back = new URL(res.headers.location as string);
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('error_description')).toMatch(/^AADSTS90094/);
    expect(decodeJwt(await appToken()).roles).toBeUndefined();
  });

  it('accepted with /.default: the requested application and delegated permissions are granted; app tokens carry the roles', async () => {
    const back = await consentAsAdmin(t, { redirectUri: REDIRECT });
    expect(back.searchParams.get('admin_consent')).toBe('True');
    expect(back.searchParams.get('tenant')).toBe(t.sandbox.info.tenantId);
    expect(back.searchParams.get('scope')).toBe('https://graph.microsoft.com/.default');
    expect(back.searchParams.get('state')).toBe('admin-consent');
    const app = await t.sandbox.admin.getApp(t.sandbox.info.clientId);
    expect(app.grantedAppRoles.sort()).toEqual(['Group.Read.All', 'Presence.Read.All', 'User.Read.All']);
    expect(app.adminConsentedScopes).toEqual(expect.arrayContaining(['User.Read']));

    const token = await appToken();
    expect((decodeJwt(token).roles as string[]).sort()).toEqual([
      'Group.Read.All',
      'Presence.Read.All',
      'User.Read.All',
    ]);
    expect((await get('/users?$top=1', token)).status).toBe(200);
    expect((await get('/groups?$top=1', token)).status).toBe(200);
    // /organization app-only needs Organization.Read.All, which the registration does not ask for.
    expect((await get('/organization', token)).json()).toMatchObject(forbidden);
  });

  it('with dynamic scopes grants those delegated permissions only (application permissions need /.default)', async () => {
    const res = await t.http(
      adminConsentUrl({
        redirect_uri: REDIRECT,
        scope: 'https://graph.microsoft.com/User.Read.All',
        login_hint: await adminUpn(),
      }),
    );
    expect(new URL(res.headers.location as string).searchParams.get('admin_consent')).toBe('True');
    const app = await t.sandbox.admin.getApp(t.sandbox.info.clientId);
    expect(app.adminConsentedScopes).toEqual(['User.Read.All']);
    expect(app.grantedAppRoles).toEqual([]);
  });

  it('grants only what the registration asks for: a permission it does not list stays missing', async () => {
    await t.sandbox.admin.setRequiredPermissions(t.sandbox.info.clientId, { appRoles: ['User.Read.All'] });
    await consentAsAdmin(t, { redirectUri: REDIRECT });
    expect(decodeJwt(await appToken()).roles).toEqual(['User.Read.All']);
    expect((await get('/groups', await appToken())).status).toBe(403);
  });
});

describe('authorize with /.default', () => {
  it("an admin's sign-in that consents for the organisation grants the application permissions too", async () => {
    const { result } = await signIn(await adminUpn(), ['https://graph.microsoft.com/.default']);
    expect(String(decodeJwt(result.accessToken).scp).split(' ')).toContain('User.Read');
    expect((decodeJwt(await appToken()).roles as string[]).sort()).toEqual([
      'Group.Read.All',
      'Presence.Read.All',
      'User.Read.All',
    ]);
  });

  it('dynamic scopes never grant application permissions', async () => {
    await signIn(await adminUpn(), ['User.Read', 'User.Read.All']);
    expect(decodeJwt(await appToken()).roles).toBeUndefined();
  });

  it('once a delegated permission is granted, /.default signs in with no prompt and grants nothing more', async () => {
    const admin = await adminUpn();
    await signIn(admin, ['User.Read']);
    const { result } = await signIn(admin, ['https://graph.microsoft.com/.default']);
    const scp = String(decodeJwt(result.accessToken).scp).split(' ');
    expect(scp).toContain('User.Read');
    expect(scp).not.toContain('User.Read.All');
    expect(decodeJwt(await appToken()).roles).toBeUndefined();
  });
});

describe('delegated access ends', () => {
  it('revokeSignInSessions: refreshing answers invalid_grant AADSTS50173', async () => {
    const admin = await adminUpn();
    const { client, result } = await signIn(admin, ['User.Read']);
    const account = result.account as NonNullable<typeof result.account>;
    await client.acquireTokenSilent({ account, scopes: ['User.Read'], forceRefresh: true });
    const user = await t.sandbox.admin.getUser(admin);
    const revoked = await t.sandbox.admin.revokeSignInSessions(user.id);
    expect(revoked.revokedRefreshTokens).toBeGreaterThan(0);
    await expect(
      client.acquireTokenSilent({ account, scopes: ['User.Read'], forceRefresh: true }),
    ).rejects.toMatchObject({
      errorCode: 'invalid_grant',
      errorMessage: expect.stringMatching(/AADSTS50173/),
    });
  });

  it("revoking the organisation's delegated consent: refreshing answers AADSTS65001", async () => {
    const { client, result } = await signIn(await adminUpn(), ['User.Read']);
    const account = result.account as NonNullable<typeof result.account>;
    await t.sandbox.admin.revokeConsent(t.sandbox.info.clientId, { scopes: ['User.Read'] });
    await expect(
      client.acquireTokenSilent({ account, scopes: ['User.Read'], forceRefresh: true }),
    ).rejects.toMatchObject({ errorMessage: expect.stringMatching(/AADSTS65001/) });
  });

  it('revoking application permissions one by one: app tokens lose exactly those roles', async () => {
    await consentAsAdmin(t, { redirectUri: REDIRECT });
    await t.sandbox.admin.revokeConsent(t.sandbox.info.clientId, { appRoles: ['Group.Read.All'] });
    const token = await appToken();
    expect((decodeJwt(token).roles as string[]).sort()).toEqual(['Presence.Read.All', 'User.Read.All']);
    expect((await get('/users?$top=1', token)).status).toBe(200);
    expect((await get('/groups?$top=1', token)).json()).toMatchObject(forbidden);
  });
});

describe('Graph checks the documented permission', () => {
  it('/organization: app-only Organization.Read.All or Directory.Read.All; delegated User.Read reads id, displayName and verifiedDomains only', async () => {
    const { clientId } = t.sandbox.info;
    await t.sandbox.admin.grantConsent(clientId, { appRoles: ['Organization.Read.All'], scopes: [] });
    const full = (await get('/organization', await appToken())).json<{
      value: Array<Record<string, unknown>>;
    }>();
    expect(full.value[0]).toMatchObject({ id: t.sandbox.info.tenantId, tenantType: 'AAD' });

    const { result } = await signIn(await adminUpn(), ['User.Read']);
    const basic = await get('/organization', result.accessToken);
    expect(basic.status).toBe(200);
    const org = basic.json<{ value: Array<Record<string, unknown>> }>().value[0];
    expect(org).toMatchObject({ id: t.sandbox.info.tenantId, tenantType: null, countryLetterCode: null });
    expect(org?.displayName).toBeTruthy();
    expect(((org?.verifiedDomains ?? []) as unknown[]).length).toBeGreaterThan(0);
  });

  it('Directory.Read.All stands for the read permissions of users, groups, members and the organisation', async () => {
    await t.sandbox.admin.grantConsent(t.sandbox.info.clientId, {
      appRoles: ['Directory.Read.All'],
      scopes: [],
    });
    const token = await appToken();
    const group = (await t.sandbox.admin.listGroups({ top: 1 })).value[0]?.id as string;
    for (const path of ['/users', '/groups', `/groups/${group}/members`, '/organization']) {
      expect((await get(path, token)).status, path).toBe(200);
    }
  });

  it('GroupMember.Read.All reads groups and their members, not users', async () => {
    await t.sandbox.admin.grantConsent(t.sandbox.info.clientId, {
      appRoles: ['GroupMember.Read.All'],
      scopes: [],
    });
    const token = await appToken();
    const group = (await t.sandbox.admin.listGroups({ top: 1 })).value[0]?.id as string;
    expect((await get(`/groups/${group}/members`, token)).status).toBe(200);
    expect((await get('/groups', token)).status).toBe(200);
    expect((await get('/users', token)).status).toBe(403);
    // A graph-client call fails the same way.
    await expect(
      createGraphClient(t.endpoints, async () => token)
        .api('/users')
        .get(),
    ).rejects.toMatchObject({
      statusCode: 403,
      code: 'Authorization_RequestDenied',
    });
  });
});
