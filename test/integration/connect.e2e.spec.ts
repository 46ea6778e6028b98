import { type Agent, request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import type { Sandbox } from '../../src/sandbox/index.js';
import { openDatabase } from '../../src/store/orm.js';
import {
  ConnectDocument,
  IntegrationDetailsDocument,
  TestConnectionDocument,
  UpdateSecretDocument,
} from '../generated/graphql.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';
import { gql, startTestGateway } from '../support/gateway.js';
import {
  adminUpn,
  connectIntegration,
  finishAtGateway,
  followAuthorization,
  sandboxEnv,
  startGatewayWithSandbox,
  startTestSandbox,
} from '../support/sandbox.js';

describeEachDb('connect and updateSecret against the sandbox (L1, L2, L3)', (leg) => {
  let db: TestDatabase;
  let sandbox: Sandbox;
  let agent: Agent;
  const gateways: Gateway[] = [];

  beforeAll(async () => {
    db = await leg.create();
    ({ sandbox, agent } = await startTestSandbox({ autoSignIn: true }));
  });
  afterAll(async () => {
    for (const g of gateways) await g.stop();
    await agent?.close();
    await sandbox?.close();
    await db?.drop();
  });

  async function world() {
    const w = await startGatewayWithSandbox(db, sandbox);
    gateways.push(w.gateway);
    return w;
  }

  /** The connect mutation with the sandbox app's credentials: the authorization URL it answers. */
  const startConnect = async (w: { gateway: Gateway; keys: { admin: string } }) => {
    const res = await gql(w.gateway.url, w.keys.admin, ConnectDocument, {
      input: {
        clientId: sandbox.info.clientId,
        tenantId: sandbox.info.tenantId,
        clientSecret: sandbox.info.clientSecret,
      },
    });
    expect(res.body.errors).toBeUndefined();
    return res.body.data?.connect.authorizationUrl as string;
  };

  const details = async (w: { gateway: Gateway; keys: { admin: string } }) =>
    (await gql(w.gateway.url, w.keys.admin, IntegrationDetailsDocument)).body.data?.integration;

  it('L1 shows the redirect URIs built from the public base URL; L2 connects through consent to CONNECTED and survives a restart', async () => {
    const w = await world();
    const before = await details(w);
    expect(before?.redirectUri).toBe(`${w.gateway.url}/oauth/microsoft/callback`);
    expect(before?.linkusSsoRedirectUris).toEqual([`${w.gateway.url}/linkus/sso/microsoft/callback`]);

    const outcome = await connectIntegration(w, sandbox, agent, { secretExpiresAt: '2099-01-01T00:00:00Z' });
    expect(outcome.result).toBe('CONNECTED');
    expect(outcome.page).toContain('Connected to Microsoft 365');
    const after = await details(w);
    expect(after).toMatchObject({
      status: 'CONNECTED',
      clientId: sandbox.info.clientId,
      tenantId: sandbox.info.tenantId,
      secretLast4: sandbox.info.clientSecret.slice(-4),
      authorizationAccount: { username: await adminUpn(sandbox) },
      warnings: [],
      lastError: null,
    });
    expect(after?.organizationName).toBeTruthy();
    expect(after?.directoryGroupCount).toBeGreaterThan(0);
    expect(JSON.stringify(after)).not.toContain(sandbox.info.clientSecret);

    // Restart: a new gateway process on the same database is still connected and can call
    // Graph for the authorization account without a new sign-in (refresh token from the sealed cache).
    await w.gateway.stop();
    gateways.splice(gateways.indexOf(w.gateway), 1);
    const again = await startTestGateway(db, sandboxEnv(sandbox));
    gateways.push(again);
    expect(
      (await gql(again.url, w.keys.admin, IntegrationDetailsDocument)).body.data?.integration.status,
    ).toBe('CONNECTED');
    const check = await gql(again.url, w.keys.admin, TestConnectionDocument);
    expect(check.body.data?.testConnection).toEqual({
      appAccess: true,
      delegatedAccess: true,
      delegatedAs: await adminUpn(sandbox),
      problems: [],
    });

    // Connecting twice is refused.
    const twice = await gql(again.url, w.keys.admin, ConnectDocument, {
      input: {
        clientId: sandbox.info.clientId,
        tenantId: sandbox.info.tenantId,
        clientSecret: sandbox.info.clientSecret,
      },
    });
    expect(twice.body.errors?.[0].extensions?.code).toBe('INVALID_STATE');
  });

  it('L2 refuses bad IDs with INVALID_INPUT naming the field, and saves nothing', async () => {
    const w = await world();
    const res = await gql(w.gateway.url, w.keys.admin, ConnectDocument, {
      input: { clientId: 'not-a-guid', tenantId: sandbox.info.tenantId, clientSecret: 'x'.repeat(20) },
    });
    expect(res.body.errors?.[0].extensions).toMatchObject({ code: 'INVALID_INPUT', field: 'clientId' });
    expect((await details(w))?.status).toBe('NOT_CONNECTED');
    expect((await details(w))?.clientId).toBeNull();
  });

  it('L2 maps each credential failure to its code: wrong secret, expired secret, unknown client, unknown tenant', async () => {
    const w = await world();
    const expired = await sandbox.admin.addSecret(sandbox.info.clientId, { expiresInSeconds: 3600 });
    await sandbox.admin.expireSecret(sandbox.info.clientId, expired.keyId);
    const cases = [
      { input: { clientSecret: 'WrongSecret~0123456789' }, code: 'INVALID_SECRET', aadsts: 'AADSTS7000215' },
      { input: { clientSecret: expired.secretText }, code: 'SECRET_EXPIRED', aadsts: 'AADSTS7000222' },
      {
        input: { clientId: '11111111-2222-3333-4444-555555555555' },
        code: 'INVALID_CLIENT',
        aadsts: 'AADSTS700016',
      },
      {
        input: { tenantId: '99999999-2222-3333-4444-555555555555' },
        code: 'INVALID_INPUT',
        aadsts: 'AADSTS90002',
      },
    ];
    for (const c of cases) {
      const res = await gql(w.gateway.url, w.keys.admin, ConnectDocument, {
        input: {
          clientId: sandbox.info.clientId,
          tenantId: sandbox.info.tenantId,
          clientSecret: sandbox.info.clientSecret,
          ...c.input,
        },
      });
      const err = res.body.errors?.[0];
      expect(err?.extensions?.code, `${c.code}: ${err?.message}`).toBe(c.code);
      expect(err?.message).toContain(c.aadsts);
      expect((await details(w))?.status).toBe('NOT_CONNECTED');
    }
  });

  it('L2 ends in CONSENT_DENIED when the admin refuses consent, and leaves nothing half-saved', async () => {
    const { sandbox: manual, agent: manualAgent } = await startTestSandbox({ autoSignIn: false });
    try {
      const w = await startGatewayWithSandbox(db, manual);
      gateways.push(w.gateway);
      await manual.admin.revokeConsent(manual.info.clientId);
      const res = await gql(w.gateway.url, w.keys.admin, ConnectDocument, {
        input: {
          clientId: manual.info.clientId,
          tenantId: manual.info.tenantId,
          clientSecret: manual.info.clientSecret,
        },
      });
      expect(res.body.data?.connect.integration.status).toBe('AWAITING_CONSENT');
      const authUrl = res.body.data?.connect.authorizationUrl as string;
      // The sign-in page, then the consent page, answered "Cancel", as a person would.
      const form = async (url: string, body?: Record<string, string>) => {
        const r = await request(url, {
          method: body ? 'POST' : 'GET',
          dispatcher: manualAgent,
          headers: body ? { 'content-type': 'application/x-www-form-urlencoded' } : {},
          body: body ? new URLSearchParams(body).toString() : undefined,
        });
        return {
          status: r.statusCode,
          location: r.headers.location as string | undefined,
          html: await r.body.text(),
        };
      };
      const signIn = await form(authUrl);
      const flow = /name="flow" value="([^"]+)"/.exec(signIn.html)?.[1] as string;
      const origin = new URL(authUrl).origin;
      const consent = await form(`${origin}/${manual.info.tenantId}/login`, {
        flow,
        login: await adminUpn(manual),
        password: (await import('../../src/sandbox/index.js')).SANDBOX_PASSWORD,
        action: 'signin',
      });
      expect(consent.html).toContain('decision');
      const denied = await form(`${origin}/${manual.info.tenantId}/consent`, { flow, decision: 'cancel' });
      expect(denied.status).toBe(302);
      const outcome = await finishAtGateway(denied.location as string);
      expect(outcome.result).toBe('CONSENT_DENIED');
      expect(outcome.page).toContain('Consent was refused');
      const after = await details(w);
      expect(after).toMatchObject({ status: 'NOT_CONNECTED', clientId: null, secretLast4: null });
      expect(after?.lastError?.code).toBe('CONSENT_DENIED');
    } finally {
      await manualAgent.close();
      await manual.close();
    }
  });

  it('L2 ends in TENANT_MISMATCH when the sign-in is made in another directory, and leaves nothing half-saved', async () => {
    // A second organisation in the sandbox, where the same (multi-tenant) app is consented too,
    // as with an app a provider publishes to all its customers.
    const other = await sandbox.admin.addTenant({ provisionApps: [sandbox.info.clientId] });
    expect(other.tenantId).not.toBe(sandbox.info.tenantId);
    const w = await world();
    const res = await gql(w.gateway.url, w.keys.admin, ConnectDocument, {
      input: {
        clientId: sandbox.info.clientId,
        tenantId: sandbox.info.tenantId,
        clientSecret: sandbox.info.clientSecret,
      },
    });
    const authUrl = res.body.data?.connect.authorizationUrl as string;
    expect(authUrl).toContain(`/${sandbox.info.tenantId}/oauth2/v2.0/authorize`);

    // The other organisation's admin at the configured directory's sign-in: Microsoft answers
    // AADSTS50020 on its own page and never sends the browser back; the PBX keeps waiting.
    const foreign = new URL(authUrl);
    foreign.searchParams.set('login_hint', other.adminUpn);
    const page = await request(foreign, { dispatcher: agent });
    expect(page.statusCode).toBe(200);
    expect(page.headers.location).toBeUndefined();
    expect(await page.body.text()).toContain('AADSTS50020');
    expect((await details(w))?.status).toBe('AWAITING_CONSENT');

    // The same sign-in request made in the other directory (its own sign-in page, a proxy or an
    // edited link): that directory issues the code and the browser brings it back with this PBX's
    // state. Microsoft refuses to redeem it in the configured directory (AADSTS700005).
    const elsewhere = new URL(foreign);
    elsewhere.pathname = elsewhere.pathname.replace(sandbox.info.tenantId, other.tenantId);
    const signedIn = await request(elsewhere, { dispatcher: agent });
    await signedIn.body.text();
    expect(signedIn.statusCode).toBe(302);
    const outcome = await finishAtGateway(String(signedIn.headers.location));
    expect(outcome.result).toBe('TENANT_MISMATCH');
    expect(outcome.page).toContain('Wrong Microsoft 365 organisation');
    const after = await details(w);
    expect(after).toMatchObject({
      status: 'NOT_CONNECTED',
      clientId: null,
      secretLast4: null,
      authorizationAccount: null,
    });
    expect(after?.lastError?.code).toBe('TENANT_MISMATCH');
    expect(after?.lastError?.message).toContain(sandbox.info.tenantId);

    // Nothing was kept: connecting again with an admin of the configured directory works.
    expect((await connectIntegration(w, sandbox, agent)).result).toBe('CONNECTED');
    expect((await details(w))?.authorizationAccount?.username).toBe(await adminUpn(sandbox));
  });

  it('L2 refuses a replayed, unknown or superseded state with STATE_INVALID', async () => {
    const w = await world();
    const url = await startConnect(w);
    const first = await followAuthorization(agent, url, await adminUpn(sandbox));
    expect(first.result).toBe('CONNECTED');
    const replay = await finishAtGateway(first.callbackUrl);
    expect(replay.result).toBe('STATE_INVALID');
    const unknown = await finishAtGateway(
      `${w.gateway.url}/oauth/microsoft/callback?state=${'x'.repeat(32)}&code=abc`,
    );
    expect(unknown.result).toBe('STATE_INVALID');
    expect((await details(w))?.status).toBe('CONNECTED');
  });

  it('L2: a callback the gateway cannot complete (its database fails) sends the browser to a page that says so, with a request id and nothing of the error', async () => {
    const w = await world();
    const authorize = new URL(await startConnect(w));
    authorize.searchParams.set('login_hint', await adminUpn(sandbox));
    const signedIn = await request(authorize, { dispatcher: agent });
    await signedIn.body.text();
    const callback = signedIn.headers.location as string;
    expect(callback).toContain('/oauth/microsoft/callback');
    // The database fails under the callback: its table renamed away, for this call only.
    const orm = await openDatabase(db.config);
    try {
      await orm.em.getConnection().execute('alter table integration rename to integration_gone');
      const cb = await fetch(callback, { redirect: 'manual' });
      expect(cb.status).toBe(303);
      const next = new URL(cb.headers.get('location') as string, callback);
      expect(next.pathname).toBe('/oauth/microsoft/result');
      expect(next.searchParams.get('result')).toBe('UNAVAILABLE');
      const requestId = next.searchParams.get('request') as string;
      expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
      const page = await (await fetch(next)).text();
      expect(page).toContain('The gateway could not finish the connection');
      expect(page).toContain(requestId);
      for (const leak of ['integration_gone', 'select', 'SQLITE', 'relation'])
        expect(page.toLowerCase()).not.toContain(leak.toLowerCase());
    } finally {
      await orm.em.getConnection().execute('alter table integration_gone rename to integration');
      await orm.close(true);
    }
    // Only a request id as the gateway makes them is shown on the page; anything else is not echoed.
    const forged = await fetch(
      `${w.gateway.url}/oauth/microsoft/result?result=UNAVAILABLE&request=%3Cscript%3E`,
    );
    expect(await forged.text()).not.toContain('<script>');
    // Started again from the portal, the connection completes.
    expect((await connectIntegration(w, sandbox, agent)).result).toBe('CONNECTED');
  });

  it('L3 updateSecret: a bad secret is refused and the old one keeps working; a good one is used next', async () => {
    const w = await world();
    await connectIntegration(w, sandbox, agent);
    const bad = await gql(w.gateway.url, w.keys.admin, UpdateSecretDocument, {
      secret: 'NotTheSecret~12345678',
    });
    expect(bad.body.errors?.[0].extensions?.code).toBe('INVALID_SECRET');
    expect((await details(w))?.secretLast4).toBe(sandbox.info.clientSecret.slice(-4));
    expect(
      (await gql(w.gateway.url, w.keys.admin, TestConnectionDocument)).body.data?.testConnection.appAccess,
    ).toBe(true);

    const fresh = await sandbox.admin.addSecret(sandbox.info.clientId, { expiresInDays: 10 });
    const good = await gql(w.gateway.url, w.keys.admin, UpdateSecretDocument, {
      secret: fresh.secretText,
      expiresAt: fresh.endDateTime,
    });
    expect(good.body.data?.updateSecret).toMatchObject({
      secretLast4: fresh.secretText.slice(-4),
      warnings: ['SECRET_EXPIRES_SOON'],
    });
    // The old secret is removed in Entra: the app still gets tokens, so the new one is in use.
    const app = await sandbox.admin.getApp(sandbox.info.clientId);
    const old = app.secrets.find((s) => sandbox.info.clientSecret.startsWith(s.hint));
    if (old) await sandbox.admin.removeSecret(sandbox.info.clientId, old.keyId);
    const check = await gql(w.gateway.url, w.keys.admin, TestConnectionDocument);
    expect(check.body.data?.testConnection.appAccess).toBe(true);
    // (Restore the default secret for the other tests.)
    const restored = await sandbox.admin.getApp(sandbox.info.clientId);
    expect(restored.secrets.length).toBeGreaterThan(0);
  });
});
