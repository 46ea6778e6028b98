import { createPublicKey, createVerify } from 'node:crypto';
import { CryptoProvider, type ICachePlugin } from '@azure/msal-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

const REDIRECT = 'http://localhost:53100/callback';

let t: TestSandbox;

beforeAll(async () => {
  t = await startTestSandbox({ users: 60, autoSignIn: true });
  await consentAsAdmin(t);
  await t.sandbox.admin.addRedirectUri(t.sandbox.info.clientId, 'http://localhost/callback');
});

afterAll(async () => {
  await t?.close();
  removeTestDataDir();
});

function app(
  secret = t.sandbox.info.clientSecret,
  clientId = t.sandbox.info.clientId,
  tenantId = t.sandbox.info.tenantId,
) {
  return createConfidentialClient(t.endpoints, { clientId, tenantId, clientSecret: secret });
}

async function adminUpn(): Promise<string> {
  const users = await t.sandbox.admin.listUsers({ top: 1000 });
  const admin = users.value.find((u) => u.isAdmin);
  return String(admin?.userPrincipalName);
}

async function memberUpn(): Promise<{ id: string; upn: string }> {
  const users = await t.sandbox.admin.listUsers({ top: 1000, userType: 'Member', accountEnabled: true });
  const u = users.value.find((x) => !x.isAdmin && String(x.userPrincipalName).includes('@'));
  return { id: String(u?.id), upn: String(u?.userPrincipalName) };
}

/** Drives authorize with a plain HTTP client: returns the redirect URL. */
async function authorize(url: string): Promise<URL> {
  const res = await t.http(url);
  expect(res.status, res.text.slice(0, 300)).toBe(302);
  return new URL(res.headers.location as string);
}

describe('identity platform: metadata', () => {
  it('serves openid-configuration whose issuer msal accepts, and a JWKS that verifies id tokens', async () => {
    const { authorityHost, tenantId } = t.sandbox.info;
    const cfg = (await t.http(`${authorityHost}/${tenantId}/v2.0/.well-known/openid-configuration`)).json<
      Record<string, string>
    >();
    expect(cfg.issuer).toBe(`${authorityHost}/${tenantId}/v2.0`);
    expect(cfg.token_endpoint).toBe(`${authorityHost}/${tenantId}/oauth2/v2.0/token`);
    expect(cfg.authorization_endpoint).toBe(`${authorityHost}/${tenantId}/oauth2/v2.0/authorize`);
    const jwks = (await t.http(cfg.jwks_uri as string)).json<{ keys: Array<Record<string, string>> }>();
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', use: 'sig' });

    const unknown = await t.http(
      `${authorityHost}/00000000-0000-0000-0000-000000000001/v2.0/.well-known/openid-configuration`,
    );
    expect(unknown.status).toBe(400);
    expect(unknown.json<{ error_description: string }>().error_description).toMatch(/^AADSTS90002: Tenant/);
  });
});

describe('identity platform: client credentials', () => {
  it('msal-node gets an app token with roles; graph-client reads users with it', async () => {
    const cca = app();
    const result = await cca.acquireTokenByClientCredential({ scopes: [graphDefaultScope(t.endpoints)] });
    expect(result?.accessToken).toBeTruthy();
    const claims = decodeJwt(result?.accessToken as string);
    expect(claims).toMatchObject({
      tid: t.sandbox.info.tenantId,
      appid: t.sandbox.info.clientId,
      idtyp: 'app',
      ver: '1.0',
      iss: `${t.sandbox.info.authorityHost}/${t.sandbox.info.tenantId}/`,
    });
    expect(claims.roles).toEqual(expect.arrayContaining(['User.Read.All', 'Group.Read.All']));
    expect(Number(claims.exp) - Number(claims.iat)).toBe(3600);

    const graph = createGraphClient(t.endpoints, async () => result?.accessToken as string);
    const users = await graph.api('/users').top(5).get();
    expect(users.value).toHaveLength(5);
  });

  it('also accepts https://graph.microsoft.com/.default (aud = https://graph.microsoft.com)', async () => {
    const result = await app().acquireTokenByClientCredential({
      scopes: ['https://graph.microsoft.com/.default'],
      skipCache: true,
    });
    expect(decodeJwt(result?.accessToken as string).aud).toBe('https://graph.microsoft.com');
  });

  it('a wrong secret fails with AADSTS7000215 in the error message', async () => {
    await expect(
      app('not-the-secret').acquireTokenByClientCredential({ scopes: [graphDefaultScope(t.endpoints)] }),
    ).rejects.toThrow(/AADSTS7000215/);
  });

  it('an expired secret fails with AADSTS7000222', async () => {
    const { clientId } = t.sandbox.info;
    const secret = await t.sandbox.admin.addSecret(clientId, { displayName: 'old' });
    // works while valid
    await app(secret.secretText).acquireTokenByClientCredential({ scopes: [graphDefaultScope(t.endpoints)] });
    await t.sandbox.admin.expireSecret(clientId, secret.keyId);
    await expect(
      app(secret.secretText).acquireTokenByClientCredential({
        scopes: [graphDefaultScope(t.endpoints)],
        skipCache: true,
      }),
    ).rejects.toThrow(/AADSTS7000222/);
    await t.sandbox.admin.removeSecret(clientId, secret.keyId);
    await expect(
      app(secret.secretText).acquireTokenByClientCredential({
        scopes: [graphDefaultScope(t.endpoints)],
        skipCache: true,
      }),
    ).rejects.toThrow(/AADSTS7000215/);
  });

  it('an unknown client id fails with AADSTS700016', async () => {
    await expect(
      app(t.sandbox.info.clientSecret, '11111111-2222-3333-4444-555555555555').acquireTokenByClientCredential(
        {
          scopes: [graphDefaultScope(t.endpoints)],
        },
      ),
    ).rejects.toThrow(/AADSTS700016/);
  });

  it('a wrong tenant fails: AADSTS90002 from the token endpoint, and msal cannot resolve the authority', async () => {
    const other = '99999999-8888-7777-6666-555555555555';
    const raw = await t.http(`${t.sandbox.info.authorityHost}/${other}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form({
        grant_type: 'client_credentials',
        client_id: t.sandbox.info.clientId,
        client_secret: t.sandbox.info.clientSecret,
        scope: graphDefaultScope(t.endpoints),
      }),
    });
    expect(raw.status).toBe(400);
    expect(raw.json<{ error_codes: number[] }>().error_codes).toEqual([90002]);
    await expect(
      app(t.sandbox.info.clientSecret, t.sandbox.info.clientId, other).acquireTokenByClientCredential({
        scopes: [graphDefaultScope(t.endpoints)],
      }),
    ).rejects.toThrow();
  });

  it('keeps the token cache through a cache plugin', async () => {
    let stored = '';
    let reads = 0;
    const plugin: ICachePlugin = {
      async beforeCacheAccess(c) {
        reads++;
        if (stored) c.tokenCache.deserialize(stored);
      },
      async afterCacheAccess(c) {
        if (c.cacheHasChanged) stored = c.tokenCache.serialize();
      },
    };
    const { clientId, tenantId, clientSecret } = t.sandbox.info;
    const first = createConfidentialClient(t.endpoints, { clientId, tenantId, clientSecret }, plugin);
    const a = await first.acquireTokenByClientCredential({ scopes: [graphDefaultScope(t.endpoints)] });
    expect(reads).toBeGreaterThan(0);
    expect(JSON.parse(stored).AccessToken).toBeTruthy();
    const second = createConfidentialClient(t.endpoints, { clientId, tenantId, clientSecret }, plugin);
    const b = await second.acquireTokenByClientCredential({ scopes: [graphDefaultScope(t.endpoints)] });
    expect(b?.accessToken).toBe(a?.accessToken);
    expect(b?.fromCache).toBe(true);
  });

  it('client credentials needs a /.default scope (AADSTS1002012)', async () => {
    await expect(
      app().acquireTokenByClientCredential({ scopes: ['User.Read.All'], skipCache: true }),
    ).rejects.toThrow(/AADSTS1002012/);
  });
});

describe('identity platform: authorization code with PKCE', () => {
  it('auto sign-in: msal-node gets a delegated token (scp, upn, nonce) and refreshes it', async () => {
    const cca = app();
    const pkce = await new CryptoProvider().generatePkceCodes();
    const upn = await adminUpn();
    const url = await cca.getAuthCodeUrl({
      scopes: ['User.Read.All', 'Group.Read.All'],
      redirectUri: REDIRECT,
      codeChallenge: pkce.challenge,
      codeChallengeMethod: 'S256',
      state: 'state-123',
      nonce: 'nonce-456',
      loginHint: upn,
      prompt: 'login',
    });
    const back = await authorize(url);
    expect(`${back.origin}${back.pathname}`).toBe(REDIRECT);
    expect(back.searchParams.get('state')).toBe('state-123');
    const code = back.searchParams.get('code') as string;
    expect(code).toBeTruthy();

    // msal-node compares the id token's nonce with the request's: pass the nonce sent to authorize
    const result = await cca.acquireTokenByCode({
      code,
      scopes: ['User.Read.All', 'Group.Read.All'],
      redirectUri: REDIRECT,
      codeVerifier: pkce.verifier,
      nonce: 'nonce-456',
      state: 'state-123',
    });
    const claims = decodeJwt(result.accessToken);
    expect(claims).toMatchObject({
      idtyp: 'user',
      upn,
      tid: t.sandbox.info.tenantId,
      appid: t.sandbox.info.clientId,
    });
    expect(String(claims.scp).split(' ')).toEqual(
      expect.arrayContaining(['User.Read.All', 'Group.Read.All']),
    );
    expect(result.idTokenClaims).toMatchObject({
      nonce: 'nonce-456',
      preferred_username: upn,
      tid: t.sandbox.info.tenantId,
    });
    expect(result.account?.username).toBe(upn);

    // the id token verifies against the JWKS
    const jwks = (
      await t.http(`${t.sandbox.info.authorityHost}/${t.sandbox.info.tenantId}/discovery/v2.0/keys`)
    ).json<{ keys: Array<Record<string, string>> }>();
    const [h, p, s] = result.idToken.split('.') as [string, string, string];
    const key = createPublicKey({ key: jwks.keys[0] as never, format: 'jwk' });
    expect(createVerify('RSA-SHA256').update(`${h}.${p}`).verify(key, Buffer.from(s, 'base64url'))).toBe(
      true,
    );

    // /me with the delegated token
    const graph = createGraphClient(t.endpoints, async () => result.accessToken);
    const me = await graph.api('/me').get();
    expect(me.userPrincipalName).toBe(upn);

    // refresh_token grant (msal uses the cached refresh token)
    const refreshed = await cca.acquireTokenSilent({
      account: result.account as never,
      scopes: ['User.Read.All'],
      forceRefresh: true,
    });
    expect(refreshed.accessToken).not.toBe(result.accessToken);
    expect(decodeJwt(refreshed.accessToken).upn).toBe(upn);

    // the code is single-use
    await expect(
      cca.acquireTokenByCode({
        code,
        scopes: ['User.Read.All'],
        redirectUri: REDIRECT,
        codeVerifier: pkce.verifier,
      }),
    ).rejects.toThrow(/invalid_grant[\s\S]*AADSTS54005|AADSTS54005/);
  });

  it('a wrong code verifier or a made-up code is invalid_grant', async () => {
    const cca = app();
    const pkce = await new CryptoProvider().generatePkceCodes();
    const url = await cca.getAuthCodeUrl({
      scopes: ['User.Read'],
      redirectUri: REDIRECT,
      codeChallenge: pkce.challenge,
      codeChallengeMethod: 'S256',
      loginHint: await adminUpn(),
    });
    const code = (await authorize(url)).searchParams.get('code') as string;
    const other = await new CryptoProvider().generatePkceCodes();
    await expect(
      cca.acquireTokenByCode({
        code,
        scopes: ['User.Read'],
        redirectUri: REDIRECT,
        codeVerifier: other.verifier,
      }),
    ).rejects.toThrow(/AADSTS50148/);
    await expect(
      cca.acquireTokenByCode({
        code: 'made-up',
        scopes: ['User.Read'],
        redirectUri: REDIRECT,
        codeVerifier: pkce.verifier,
      }),
    ).rejects.toThrow(/invalid_grant/);
  });

  it('sign-in and consent pages; a refused consent goes back as access_denied', async () => {
    const { authorityHost, tenantId, clientId } = t.sandbox.info;
    const user = await memberUpn();
    const pkce = await new CryptoProvider().generatePkceCodes();
    const url = await app().getAuthCodeUrl({
      scopes: ['User.Read'],
      redirectUri: REDIRECT,
      codeChallenge: pkce.challenge,
      codeChallengeMethod: 'S256',
      state: 'refuse-me',
      prompt: 'consent',
    });
    const page = await t.http(url);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Sign in');
    const flow = /name="flow" value="([^"]+)"/.exec(page.text)?.[1] as string;

    const wrong = await t.http(`${authorityHost}/${tenantId}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form({ flow, login: user.upn, password: 'nope' }),
    });
    expect(wrong.text).toContain('AADSTS50126');

    const consent = await t.http(`${authorityHost}/${tenantId}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form({ flow, login: user.upn, password: SANDBOX_PASSWORD }),
    });
    expect(consent.status).toBe(200);
    expect(consent.text).toContain('Permissions requested');
    expect(consent.text).toContain('User.Read');

    const refused = await t.http(`${authorityHost}/${tenantId}/consent`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form({ flow, decision: 'cancel' }),
    });
    expect(refused.status).toBe(302);
    const back = new URL(refused.headers.location as string);
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('error_description')).toMatch(/^AADSTS65004/);
    expect(back.searchParams.get('state')).toBe('refuse-me');
    expect(clientId).toBeTruthy();
  });

  it('an unregistered redirect URI is refused on a page (AADSTS50011), never redirected', async () => {
    const url = await app().getAuthCodeUrl({ scopes: ['User.Read'], redirectUri: 'https://evil.example/cb' });
    const res = await t.http(url);
    expect(res.status).toBe(400);
    expect(res.text).toContain('AADSTS50011');
  });

  it('prompt=none without a session answers login_required', async () => {
    const url = await app().getAuthCodeUrl({
      scopes: ['User.Read'],
      redirectUri: REDIRECT,
      prompt: 'none',
      state: 's',
    });
    const back = await authorize(url);
    expect(back.searchParams.get('error')).toBe('login_required');
  });
});

describe('identity platform: consent', () => {
  it('revoked consent: app tokens lose their roles and Graph answers 403; admin consent brings them back', async () => {
    const { clientId, tenantId, authorityHost } = t.sandbox.info;
    await t.sandbox.admin.revokeConsent(clientId);
    try {
      const result = await app().acquireTokenByClientCredential({
        scopes: [graphDefaultScope(t.endpoints)],
        skipCache: true,
      });
      expect(decodeJwt(result?.accessToken as string).roles).toBeUndefined();
      const graph = createGraphClient(t.endpoints, async () => result?.accessToken as string);
      await expect(graph.api('/users').get()).rejects.toMatchObject({
        statusCode: 403,
        code: 'Authorization_RequestDenied',
      });

      const consentUrl = `${authorityHost}/${tenantId}/v2.0/adminconsent?${form({
        client_id: clientId,
        scope: 'https://graph.microsoft.com/.default',
        redirect_uri: REDIRECT,
        state: 'ac',
        login_hint: await adminUpn(),
      })}`;
      const back = await authorize(consentUrl);
      expect(back.searchParams.get('admin_consent')).toBe('True');
      expect(back.searchParams.get('tenant')).toBe(tenantId);
      expect(back.searchParams.get('state')).toBe('ac');
      const again = await app().acquireTokenByClientCredential({
        scopes: [graphDefaultScope(t.endpoints)],
        skipCache: true,
      });
      expect(decodeJwt(again?.accessToken as string).roles).toEqual(
        expect.arrayContaining(['User.Read.All']),
      );
    } finally {
      await t.sandbox.admin.grantConsent(clientId);
    }
  });
});

describe('identity platform: several directories', () => {
  it('another directory signs in, issues tokens and answers Graph for itself only', async () => {
    const other = await t.sandbox.admin.addTenant({ users: 5, provisionApps: [t.sandbox.info.clientId] });
    expect(other.tenantId).not.toBe(t.sandbox.info.tenantId);
    expect(other.apps).toEqual(expect.arrayContaining([other.clientId, t.sandbox.info.clientId]));
    // Nothing is consented in a new directory until its admin consents, app by app.
    for (const clientId of [other.clientId, t.sandbox.info.clientId]) {
      const before = await app(
        clientId === other.clientId ? other.clientSecret : undefined,
        clientId,
        other.tenantId,
      ).acquireTokenByClientCredential({ scopes: [graphDefaultScope(t.endpoints)], skipCache: true });
      expect(decodeJwt(before?.accessToken as string).roles).toBeUndefined();
      await consentAsAdmin(t, { tenantId: other.tenantId, clientId, adminUpn: other.adminUpn });
    }

    const meta = await t.http(
      `${t.sandbox.info.authorityHost}/${other.tenantId}/v2.0/.well-known/openid-configuration`,
    );
    expect(meta.json().issuer).toBe(`${t.sandbox.info.authorityHost}/${other.tenantId}/v2.0`);

    // Its own app, and the provisioned multi-tenant app with the home directory's secret.
    for (const creds of [
      { clientId: other.clientId, secret: other.clientSecret },
      { clientId: t.sandbox.info.clientId, secret: t.sandbox.info.clientSecret },
    ]) {
      const result = await app(creds.secret, creds.clientId, other.tenantId).acquireTokenByClientCredential({
        scopes: [graphDefaultScope(t.endpoints)],
        skipCache: true,
      });
      const token = result?.accessToken as string;
      expect(decodeJwt(token)).toMatchObject({ tid: other.tenantId, appid: creds.clientId });
      const graph = createGraphClient(t.endpoints, async () => token);
      // App-only /organization needs Organization.Read.All, which these registrations do not ask for.
      await expect(graph.api('/organization').get()).rejects.toMatchObject({
        statusCode: 403,
        code: 'Authorization_RequestDenied',
      });
      const users = (await graph.api('/users').top(999).get()) as {
        value: Array<{ userPrincipalName: string }>;
      };
      expect(users.value).toHaveLength(5);
      expect(users.value.every((u) => u.userPrincipalName.endsWith(other.defaultDomain))).toBe(true);
    }
  });

  it('a code is redeemed only in the directory that issued it (AADSTS700005); a foreign account is refused on the sign-in page (AADSTS50020)', async () => {
    const other = await t.sandbox.admin.addTenant({ users: 3, provisionApps: [t.sandbox.info.clientId] });
    const pkce = await new CryptoProvider().generatePkceCodes();
    const request = {
      scopes: ['User.Read.All'],
      redirectUri: REDIRECT,
      codeChallenge: pkce.challenge,
      codeChallengeMethod: 'S256' as const,
      state: 's',
    };
    // The other directory's admin at the seeded directory's authorize: a page, no redirect.
    const foreignUrl = await app().getAuthCodeUrl({ ...request, loginHint: other.adminUpn });
    const page = await t.http(foreignUrl);
    expect(page.status).toBe(200);
    expect(page.headers.location).toBeUndefined();
    expect(page.text).toContain('AADSTS50020');

    // Signed in at the other directory, redeemed at the seeded one: refused.
    const otherApp = app(undefined, undefined, other.tenantId);
    const back = await authorize(await otherApp.getAuthCodeUrl({ ...request, loginHint: other.adminUpn }));
    const code = back.searchParams.get('code') as string;
    await expect(
      app().acquireTokenByCode({
        code,
        scopes: request.scopes,
        redirectUri: REDIRECT,
        codeVerifier: pkce.verifier,
      }),
    ).rejects.toMatchObject({ errorMessage: expect.stringContaining('AADSTS700005') });

    // Redeemed where it was issued: a token for that directory and its admin.
    const back2 = await authorize(await otherApp.getAuthCodeUrl({ ...request, loginHint: other.adminUpn }));
    const result = await otherApp.acquireTokenByCode({
      code: back2.searchParams.get('code') as string,
      scopes: request.scopes,
      redirectUri: REDIRECT,
      codeVerifier: pkce.verifier,
    });
    expect(result.idTokenClaims).toMatchObject({ tid: other.tenantId, preferred_username: other.adminUpn });
    expect(result.account?.tenantId).toBe(other.tenantId);
  });
});
