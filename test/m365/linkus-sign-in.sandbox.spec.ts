import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MicrosoftError } from '../../src/app/ports/microsoft.port.js';
import { MsalLinkusSignIn } from '../../src/m365/linkus-sign-in.adapter.js';
import type { AdminTenant } from '../../src/sandbox/index.js';
import {
  consentAsAdmin,
  decodeJwt,
  form,
  removeTestDataDir,
  startTestSandbox,
  type TestSandbox,
} from '../sandbox/sandbox-test.helpers.js';

/**
 * The Microsoft leg of a Linkus sign-in (S2), adapter against the sandbox: the authorize URL
 * msal-node builds (PKCE S256, nonce, OpenID scopes), the code redeemed for an ID token, and the
 * ID token checked with jose as https://learn.microsoft.com/entra/identity-platform/id-tokens
 * asks; every way a token is not acceptable has its own problem. And the sandbox's ID tokens
 * carry what Microsoft's carry, with the scopes Microsoft needs for each claim.
 */

const REDIRECT = 'https://gateway.example.com/linkus/sso/microsoft/callback';

let t: TestSandbox;
let other: AdminTenant;
let member: { id: string; upn: string; mail: string | null };
let signIn: MsalLinkusSignIn;
let clockSkewMs = 0;
const app = () => ({
  clientId: t.sandbox.info.clientId,
  tenantId: t.sandbox.info.tenantId,
  clientSecret: t.sandbox.info.clientSecret,
});

beforeAll(async () => {
  t = await startTestSandbox({ users: 20, autoSignIn: true });
  await consentAsAdmin(t);
  await t.sandbox.admin.addRedirectUri(t.sandbox.info.clientId, REDIRECT);
  const users = await t.sandbox.admin.listUsers({ top: 100, userType: 'Member', accountEnabled: true });
  const u = users.value.find((x) => !x.isAdmin && x.mail);
  member = { id: String(u?.id), upn: String(u?.userPrincipalName), mail: (u?.mail as string) ?? null };
  other = await t.sandbox.admin.addTenant({ users: 3, seed: 77, provisionApps: [t.sandbox.info.clientId] });
  signIn = new MsalLinkusSignIn(t.endpoints, () => new Date(Date.now() + clockSkewMs));
});

afterAll(async () => {
  await t?.close();
  removeTestDataDir();
});

/** Follows an authorize URL with auto sign-in (login_hint): Microsoft's redirect back. */
async function authorize(url: string, loginHint = member.upn): Promise<URL> {
  const u = new URL(url);
  u.searchParams.set('login_hint', loginHint);
  const res = await t.http(u.toString());
  expect(res.status, res.text.slice(0, 300)).toBe(302);
  return new URL(res.headers.location as string);
}

/** A whole sign-in through the adapter: the raw ID token and the nonce it was asked with. */
async function idTokenFor(nonce = `n-${Math.random()}`) {
  const pkce = await signIn.generatePkce();
  const url = await signIn.signInUrl(app(), {
    redirectUri: REDIRECT,
    state: 's'.repeat(20),
    nonce,
    codeChallenge: pkce.challenge,
  });
  const back = await authorize(url);
  const code = back.searchParams.get('code') as string;
  const idToken = await signIn.redeemSignIn(app(), {
    code,
    redirectUri: REDIRECT,
    codeVerifier: pkce.verifier,
    nonce,
  });
  return { idToken, nonce, code, verifier: pkce.verifier };
}

const expected = (nonce: string) => ({ tenantId: app().tenantId, clientId: app().clientId, nonce });

describe('Linkus sign-in, the Microsoft leg (S2)', () => {
  it('asks for openid profile email with PKCE S256, a nonce and the state, in query mode', async () => {
    const url = new URL(
      await signIn.signInUrl(app(), {
        redirectUri: REDIRECT,
        state: 'state-abc-0123456789',
        nonce: 'nonce-xyz',
        codeChallenge: 'c'.repeat(43),
      }),
    );
    expect(url.pathname).toBe(`/${app().tenantId}/oauth2/v2.0/authorize`);
    expect(url.searchParams.get('scope')?.split(' ')).toEqual(
      expect.arrayContaining(['openid', 'profile', 'email']),
    );
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      response_type: 'code',
      response_mode: 'query',
      code_challenge_method: 'S256',
      code_challenge: 'c'.repeat(43),
      nonce: 'nonce-xyz',
      state: 'state-abc-0123456789',
      redirect_uri: REDIRECT,
      client_id: app().clientId,
    });
  });

  it('a signed-in user: the ID token checks out and names the user (oid, tid, username, name, email)', async () => {
    const { idToken, nonce } = await idTokenFor();
    const checked = await signIn.verifyIdToken(idToken, expected(nonce));
    expect(checked).toEqual({
      ok: true,
      claims: {
        oid: member.id,
        tid: app().tenantId,
        preferredUsername: member.upn,
        name: expect.any(String),
        email: member.mail,
      },
    });
  });

  it('refuses a token of another nonce, another app, another directory, out of its time, or not signed by the directory', async () => {
    const { idToken, nonce } = await idTokenFor();
    expect(await signIn.verifyIdToken(idToken, expected('another-nonce'))).toMatchObject({
      ok: false,
      problem: 'NONCE',
    });
    expect(
      await signIn.verifyIdToken(idToken, {
        ...expected(nonce),
        clientId: '11111111-2222-3333-4444-555555555555',
      }),
    ).toMatchObject({ ok: false, problem: 'AUDIENCE' });
    // Checked as if the integration were connected to the other directory (same signing keys here).
    expect(
      await signIn.verifyIdToken(idToken, { ...expected(nonce), tenantId: other.tenantId }),
    ).toMatchObject({
      ok: false,
      problem: 'TENANT',
    });
    clockSkewMs = 2 * 3600_000;
    try {
      expect(await signIn.verifyIdToken(idToken, expected(nonce))).toMatchObject({
        ok: false,
        problem: 'EXPIRED',
      });
    } finally {
      clockSkewMs = 0;
    }
    // The same claims, signed by someone else's key with the directory's key id.
    const claims = decodeJwt(idToken);
    const header = JSON.parse(Buffer.from(idToken.split('.')[0] as string, 'base64url').toString()) as {
      kid: string;
    };
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: header.kid })
      .sign(privateKey);
    expect(await signIn.verifyIdToken(forged, expected(nonce))).toMatchObject({
      ok: false,
      problem: 'SIGNATURE',
    });
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${idToken.split('.')[1]}.`;
    expect(await signIn.verifyIdToken(unsigned, expected(nonce))).toMatchObject({
      ok: false,
      problem: 'SIGNATURE',
    });
  });

  it("the directory's keys out of reach: KEYS_UNAVAILABLE, not a bad token", async () => {
    const { idToken, nonce } = await idTokenFor();
    const offline = new MsalLinkusSignIn({ ...t.endpoints, authorityHost: 'https://127.0.0.1:9' });
    const checked = await offline.verifyIdToken(idToken, expected(nonce));
    expect(checked).toMatchObject({ ok: false, problem: 'KEYS_UNAVAILABLE' });
  });

  it('a sign-in costs Microsoft the authorize and the token request only (the OpenID configuration is reused)', async () => {
    await idTokenFor();
    const before = await t.sandbox.admin.stats();
    const { idToken, nonce } = await idTokenFor();
    const after = await t.sandbox.admin.stats();
    expect((await signIn.verifyIdToken(idToken, expected(nonce))).ok).toBe(true);
    expect(after.identityRequests - before.identityRequests).toBe(2);
    expect(after.tokenRequests - before.tokenRequests).toBe(1);
  });

  it('a code redeemed twice, or with another verifier, is refused by Microsoft (invalid_grant)', async () => {
    const { code, verifier, nonce } = await idTokenFor();
    const again = signIn.redeemSignIn(app(), { code, redirectUri: REDIRECT, codeVerifier: verifier, nonce });
    await expect(again).rejects.toBeInstanceOf(MicrosoftError);
    await expect(again).rejects.toThrow(/AADSTS54005/);
  });
});

describe('the sandbox: ID tokens as Microsoft issues them', () => {
  /** authorize (auto sign-in) + the token endpoint, raw: the ID token's claims for `scope`. */
  async function claimsFor(scope: string) {
    const { authorityHost, tenantId, clientId, clientSecret } = t.sandbox.info;
    const back = await authorize(
      `${authorityHost}/${tenantId}/oauth2/v2.0/authorize?${form({
        client_id: clientId,
        response_type: 'code',
        redirect_uri: REDIRECT,
        scope,
        state: 'st',
        nonce: 'nonce-1',
      })}`,
    );
    const res = await t.http(`${authorityHost}/${tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form({
        grant_type: 'authorization_code',
        client_id: clientId,
        client_secret: clientSecret,
        code: back.searchParams.get('code') as string,
        redirect_uri: REDIRECT,
        scope,
      }),
    });
    expect(res.status, res.text).toBe(200);
    return decodeJwt(res.json<{ id_token: string }>().id_token);
  }

  it('oid, preferred_username and name need profile; email needs email; tid, nonce, aud and the v2.0 issuer always', async () => {
    const bare = await claimsFor('openid');
    expect(bare).toMatchObject({
      aud: t.sandbox.info.clientId,
      iss: `${t.sandbox.info.authorityHost}/${t.sandbox.info.tenantId}/v2.0`,
      tid: t.sandbox.info.tenantId,
      nonce: 'nonce-1',
      ver: '2.0',
    });
    for (const claim of ['oid', 'preferred_username', 'name', 'email']) expect(bare[claim]).toBeUndefined();
    const full = await claimsFor('openid profile email');
    expect(full).toMatchObject({ oid: member.id, preferred_username: member.upn, email: member.mail });
    expect(typeof full.name).toBe('string');
  });
});
