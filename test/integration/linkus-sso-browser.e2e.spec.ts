import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminUser } from '../../src/sandbox/index.js';
import { SANDBOX_PASSWORD } from '../../src/sandbox/tenant.seed.js';
import { SaveLinkusSsoDocument, SaveUserSyncRuleDocument } from '../generated/graphql.js';
import { chromiumMissing, launchChromium } from '../support/chromium.js';
import { describeEachDb } from '../support/db.js';
import { type E2e, startE2e } from '../support/e2e.js';
import { gql } from '../support/gateway.js';
import { allExtensions, waitForRun } from '../support/sandbox.js';
import { USER_RULE } from './sync-world.js';

/**
 * S2, the whole journey in a real browser (Debian's headless Chromium, driven by playwright-core,
 * as test/http/dashboard-browser.db.spec.ts does): a page that stands for the Linkus web client
 * (served by this test on 127.0.0.1) makes its PKCE pair and state, sends the browser to the
 * gateway's start URL; the user signs in at the sandbox's real sign-in page (typing login and
 * password); the gateway's callback sends the browser back to the client page with a one-time
 * code, which the page checks against its state and redeems with its PKCE verifier at
 * `/linkus/sso/token` across origins (CORS); the session's access token answers `me` with the user's extension. Without
 * /usr/bin/chromium the suite is skipped, loudly.
 */
const missing = chromiumMissing;

/** The Linkus web client: the start page and its redirect URI (`/callback`), plain script. */
function clientPage(startUrl: string, gatewayUrl: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Linkus</title></head><body>
<p id="status">starting</p><pre id="result"></pre>
<script>
const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
async function start() {
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const state = b64url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem('pkce', JSON.stringify({ verifier, state }));
  const u = new URL(${JSON.stringify(startUrl)});
  u.searchParams.set('redirect_uri', location.origin + '/callback');
  u.searchParams.set('state', state);
  u.searchParams.set('code_challenge', challenge);
  u.searchParams.set('code_challenge_method', 'S256');
  location.assign(u.toString());
}
async function callback() {
  const q = new URLSearchParams(location.search);
  const saved = JSON.parse(sessionStorage.getItem('pkce') || '{}');
  const result = { stateMatches: q.get('state') === saved.state, code: q.get('code'), error: q.get('error') };
  if (result.stateMatches && result.code) {
    // The code and this page's PKCE verifier, for a Linkus session.
    // Cross-origin: the gateway answers CORS for the origin of a registered redirect URI.
    const token = await fetch(${JSON.stringify(gatewayUrl)} + '/linkus/sso/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: result.code,
        code_verifier: saved.verifier,
        redirect_uri: location.origin + '/callback',
      }),
    });
    result.tokenStatus = token.status;
    const session = await token.json();
    result.tokenType = session.token_type;
    result.hasRefreshToken = typeof session.refresh_token === 'string';
    const me = await fetch(${JSON.stringify(gatewayUrl)} + '/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer ' + session.access_token },
      body: JSON.stringify({ query: '{ me { role pbxId extension { id number name email } } }' }),
    });
    result.me = (await me.json()).data?.me ?? null;
  }
  document.getElementById('result').textContent = JSON.stringify(result);
  document.getElementById('status').textContent = result.me ? 'signed in' : result.code ? 'code received' : 'refused';
}
if (location.pathname === '/callback') callback().catch((e) => { document.getElementById('status').textContent = 'failed: ' + e.message; }); else start();
</script></body></html>`;
}

if (missing) {
  const bar = '!'.repeat(78);
  console.warn(`\n${bar}\n!! The Linkus sign-in browser test is SKIPPED: ${missing}.\n${bar}\n`);
  describe.skip(`Linkus sign-in in headless Chromium SKIPPED: ${missing}`, () => {
    it('signs in through the sandbox sign-in page', () => {});
  });
} else {
  describeEachDb('Linkus sign-in in headless Chromium (S2)', (leg) => {
    let w: E2e;
    let browser: Browser;
    let client: Server;
    let clientUrl: string;
    let users: AdminUser[];

    beforeAll(async () => {
      w = await startE2e({ leg, sandbox: { users: 8, groups: 1, seed: 1402 } });
      const saved = await gql(w.gateway.url, w.keys.admin, SaveUserSyncRuleDocument, { input: USER_RULE });
      const run = await waitForRun(
        w.gateway.url,
        w.keys.admin,
        saved.body.data?.saveUserSyncRule.initialRun?.id as string,
      );
      expect(run.status).toBe('SUCCEEDED');
      users = (await w.sandbox.admin.listUsers({ top: 100 })).value.filter(
        (u) => !u.isAdmin && u.accountEnabled !== false && u.userType !== 'Guest',
      );
      // The admin's two steps: the gateway's callback in the app registration (Entra), and SSO
      // on with the web client's redirect URI (S1).
      await w.sandbox.admin.addRedirectUri(
        w.sandbox.info.clientId,
        `${w.gateway.url}/linkus/sso/microsoft/callback`,
      );
      // The Linkus web client's origin, another than the gateway's: its page calls the token
      // endpoint and /graphql across origins (CORS for the registered redirect URI's origin).
      client = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(clientPage(`${w.gateway.url}/linkus/sso/microsoft/start?pbx=${w.pbx.id}`, w.gateway.url));
      });
      await new Promise<void>((resolve) => client.listen(0, '127.0.0.1', resolve));
      clientUrl = `http://127.0.0.1:${(client.address() as AddressInfo).port}`;
      const sso = await gql(w.gateway.url, w.keys.admin, SaveLinkusSsoDocument, {
        input: { enabled: true, redirectUris: [`${clientUrl}/callback`] },
      });
      expect(sso.body.errors).toBeUndefined();
      browser = await launchChromium();
    }, 120_000);
    afterAll(async () => {
      await browser?.close();
      await new Promise((resolve) => (client ? client.close(resolve) : resolve(undefined)));
      await w?.close();
    });

    type Result = {
      stateMatches: boolean;
      code: string | null;
      error: string | null;
      tokenStatus: number;
      tokenType: string;
      hasRefreshToken: boolean;
      me: {
        role: string;
        pbxId: string;
        extension: { id: string; number: string; email: string | null };
      } | null;
    };

    /**
     * One Linkus sign-in in `page`: opens the client page; at Microsoft's sign-in page (when the
     * browser has no Microsoft session) types login and password, and accepts a consent page if
     * one is shown; waits for the client page's result. `passwordPage` says whether it was shown.
     */
    const signIn = async (page: Page, u: AdminUser) => {
      await page.goto(clientUrl);
      await page.waitForURL(
        (url) =>
          url.href.startsWith(w.sandbox.info.authorityHost) || url.href.startsWith(`${clientUrl}/callback`),
        { timeout: 15_000 },
      );
      const passwordPage = !page.url().startsWith(`${clientUrl}/callback`);
      if (passwordPage) {
        await page.locator('#login').fill(String(u.userPrincipalName));
        await page.locator('#password').fill(SANDBOX_PASSWORD);
        await page.locator('button[type=submit][value=signin]').click();
        // A first sign-in may ask the user to consent to the app reading their profile and email.
        await page.waitForURL(
          (url) => url.href.startsWith(`${clientUrl}/callback`) || url.pathname.endsWith('/login'),
          { timeout: 15_000 },
        );
        if (!page.url().startsWith(`${clientUrl}/callback`)) {
          await page.locator('button[value=accept]').click();
          await page.waitForURL((url) => url.href.startsWith(`${clientUrl}/callback`), { timeout: 15_000 });
        }
      }
      await page
        .locator('#status', { hasText: /signed in|code received|refused|failed/ })
        .waitFor({ timeout: 15_000 });
      const result = JSON.parse((await page.locator('#result').textContent()) ?? '{}') as Result;
      return { result, passwordPage, status: await page.locator('#status').textContent() };
    };

    const expectSession = async (result: Result, u: AdminUser) => {
      expect(result).toMatchObject({
        stateMatches: true,
        error: null,
        tokenStatus: 200,
        hasRefreshToken: true,
      });
      expect(result.code).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(result.tokenType).toMatch(/^bearer$/i);
      // The session is the signed-in user's extension, as a LINKUS caller.
      const ext = (await allExtensions(w.gateway.url, w.keys.admin)).find((e) => e.email === u.mail);
      expect(result.me).toMatchObject({
        role: 'LINKUS',
        pbxId: w.pbx.id,
        extension: { id: ext?.id, number: ext?.number, email: u.mail },
      });
    };

    it('S2: a synced user signs in at the sandbox sign-in page; the Linkus web client redeems its code with its verifier and the session answers me', async () => {
      const u = users[0] as AdminUser;
      // The sandbox is HTTPS with its own CA; this browser trusts it as the gateway does (MS_EXTRA_CA_FILE).
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      const first = await signIn(page, u);
      expect(first.passwordPage).toBe(true);
      await expectSession(first.result, u);
      expect(first.status).toBe('signed in');
      expect(errors).toEqual([]);
      await context.close();
    });

    it("S2: signed in to Microsoft already, the next Linkus sign-in asks no password; after Entra revokes the user's sign-in sessions it does", async () => {
      const u = users[1] as AdminUser;
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      const page = await context.newPage();
      expect((await signIn(page, u)).passwordPage).toBe(true);
      const again = await signIn(page, u);
      expect(again.passwordPage).toBe(false);
      await expectSession(again.result, u);
      // Graph's revokeSignInSessions (the sandbox's admin API): the browser's Microsoft session ends.
      await w.sandbox.admin.revokeSignInSessions(u.id);
      const afterRevoke = await signIn(page, u);
      expect(afterRevoke.passwordPage).toBe(true);
      await expectSession(afterRevoke.result, u);
      await context.close();
    });
  });
}
