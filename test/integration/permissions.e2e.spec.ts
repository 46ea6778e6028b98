import { readFileSync } from 'node:fs';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { type Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { JobName } from '../../jobs/contracts.js';
import type { Gateway } from '../../src/gateway.js';
import { createConfidentialClient, graphDefaultScope } from '../../src/m365/microsoft-clients.js';
import { SANDBOX_PASSWORD, type Sandbox } from '../../src/sandbox/index.js';
import {
  ConnectDocument,
  IntegrationDetailsDocument,
  IntegrationHealthDocument,
  ReconsentDocument,
  SaveUserSyncRuleDocument,
  SyncNowDocument,
  TestConnectionPermissionsDocument,
  UpdateSecretDocument,
} from '../generated/graphql.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';
import { gql } from '../support/gateway.js';
import {
  adminUpn,
  connectIntegration,
  finishAtGateway,
  followAuthorization,
  startGatewayWithSandbox,
  startTestSandbox,
  waitForRun,
} from '../support/sandbox.js';

/**
 * Permissions as Microsoft enforces them (issue 11 item 1) and health the admin can trust
 * (item 3), against a sandbox that grants nothing until an admin consents. Each test has a
 * tenant of its own: consent given or revoked in one never leaks into another.
 */

const RULE = {
  range: 'ALL' as const,
  numbering: 'AUTO' as const,
  startNumber: '1000',
  autoDelete: true,
  deleteWhenDisabled: true,
  deleteWhenDeleted: true,
  autoAssociate: false,
  welcomeEmail: false,
};

describeEachDb('permissions, admin consent and health (L2, L3)', (leg) => {
  let db: TestDatabase;
  const gateways: Gateway[] = [];
  const sandboxes: Array<{ sandbox: Sandbox; agent: Agent }> = [];

  beforeAll(async () => {
    db = await leg.create();
  });
  afterEach(async () => {
    for (const g of gateways.splice(0)) await g.stop();
    for (const s of sandboxes.splice(0)) {
      await s.agent.close();
      await s.sandbox.close();
    }
  });
  afterAll(async () => {
    await db?.drop();
  });

  /** A tenant of its own (nothing consented), a gateway and a PBX whose redirect URI is registered. */
  async function world(autoSignIn = true) {
    const { sandbox, agent } = await startTestSandbox({ autoSignIn, users: 15, groups: 3 });
    sandboxes.push({ sandbox, agent });
    const w = await startGatewayWithSandbox(db, sandbox);
    gateways.push(w.gateway);
    const q = <TData, TVars>(doc: TypedDocumentNode<TData, TVars>, vars?: TVars) =>
      gql(w.gateway.url, w.keys.admin, doc, vars);
    return { ...w, sandbox, agent, q };
  }
  type World = Awaited<ReturnType<typeof world>>;

  const details = async (w: World) => (await w.q(IntegrationDetailsDocument)).body.data?.integration;
  const health = async (w: World) => (await w.q(IntegrationHealthDocument)).body.data?.integration.health;

  /** connect through the journey, then the first sync (the user rule saved). */
  async function connectedAndSynced(w: World) {
    expect((await connectIntegration(w, w.sandbox, w.agent)).result).toBe('CONNECTED');
    const saved = await w.q(SaveUserSyncRuleDocument, { input: RULE });
    const run = await waitForRun(
      w.gateway.url,
      w.keys.admin,
      saved.body.data?.saveUserSyncRule.initialRun?.id as string,
    );
    expect(run.status, run.error ?? '').toBe('SUCCEEDED');
  }

  async function syncNow(w: World) {
    const res = await w.q(SyncNowDocument, {});
    return waitForRun(w.gateway.url, w.keys.admin, res.body.data?.syncNow.id as string);
  }

  /** A new app token of the PBX's app, as Microsoft issues it now, and its roles. */
  async function appRoles(w: World) {
    const endpoints = {
      authorityHost: w.sandbox.info.authorityHost,
      graphBaseUrl: w.sandbox.info.graphBaseUrl,
      extraCaPem: readFileSync(w.sandbox.info.caFile, 'utf8'),
    };
    const { clientId, tenantId, clientSecret } = w.sandbox.info;
    const r = await createConfidentialClient(endpoints, {
      clientId,
      tenantId,
      clientSecret,
    }).acquireTokenByClientCredential({ scopes: [graphDefaultScope(endpoints)], skipCache: true });
    const claims = JSON.parse(
      Buffer.from((r?.accessToken ?? '').split('.')[1] ?? '', 'base64url').toString(),
    );
    return { token: r?.accessToken as string, roles: (claims.roles ?? []) as string[] };
  }

  it('L2 no admin consent yet: the sign-in goes on to Microsoft admin consent in the same journey and ends CONNECTED; Organization.Read.All is not needed', async () => {
    const w = await world();
    expect((await w.sandbox.admin.getApp(w.sandbox.info.clientId)).grantedAppRoles).toEqual([]);
    expect((await appRoles(w)).roles).toEqual([]);

    const outcome = await connectIntegration(w, w.sandbox, w.agent);
    expect(outcome.result).toBe('CONNECTED');
    expect(outcome.microsoft).toEqual([
      `/${w.sandbox.info.tenantId}/oauth2/v2.0/authorize`,
      `/${w.sandbox.info.tenantId}/v2.0/adminconsent`,
    ]);
    expect((await appRoles(w)).roles.sort()).toEqual([
      'Group.Read.All',
      'Presence.Read.All',
      'User.Read.All',
    ]);

    const after = await details(w);
    expect(after).toMatchObject({
      status: 'CONNECTED',
      authorizationAccount: { username: await adminUpn(w.sandbox) },
      lastError: null,
      health: { status: 'OK', codes: [], missingPermissions: [], message: null },
    });
    expect(after?.health.lastHealthyAt).toBeTruthy();
    // The organisation was read with the admin's delegated User.Read: the app has no
    // Organization.Read.All, and app-only /organization answers 403 as on Microsoft.
    expect(after?.organizationName).toBeTruthy();
    const org = await request(`${w.sandbox.info.graphBaseUrl}/organization`, {
      dispatcher: w.agent,
      headers: { authorization: `Bearer ${(await appRoles(w)).token}` },
    });
    expect(org.statusCode).toBe(403);
    expect(await org.body.json()).toMatchObject({ error: { code: 'Authorization_RequestDenied' } });

    const check = (await w.q(TestConnectionPermissionsDocument)).body.data?.testConnection;
    expect(check).toMatchObject({ appAccess: true, delegatedAccess: true, problems: [] });
    expect(check?.permissions.map((p) => [p.name, p.type, p.present])).toEqual([
      ['User.Read.All', 'APPLICATION', true],
      ['Group.Read.All', 'APPLICATION', true],
      ['Presence.Read.All', 'APPLICATION', true],
      ['User.Read', 'DELEGATED', true],
      ['Contacts.Read.Shared', 'DELEGATED', true],
      ['offline_access', 'DELEGATED', true],
    ]);
    expect(check?.permissions.every((p) => p.usedFor && p.stopsWithout)).toBe(true);
  });

  it('L2 no admin consent yet, with adminConsent: false: MISSING_PERMISSIONS names each missing permission and nothing is saved', async () => {
    const w = await world();
    const res = await w.q(ConnectDocument, {
      input: {
        clientId: w.sandbox.info.clientId,
        tenantId: w.sandbox.info.tenantId,
        clientSecret: w.sandbox.info.clientSecret,
        adminConsent: false,
      },
    });
    const err = res.body.errors?.[0];
    expect(err?.extensions).toMatchObject({
      code: 'MISSING_PERMISSIONS',
      // Presence.Read.All is one optional feature's: connect does not wait for it (the health names it).
      missing: ['User.Read.All', 'Group.Read.All'],
    });
    expect(err?.message).toContain('User.Read.All (application), Group.Read.All (application)');
    expect(await details(w)).toMatchObject({ status: 'NOT_CONNECTED', clientId: null, secretLast4: null });

    // Granted in Entra beforehand: the same connect goes straight through the sign-in.
    await w.sandbox.admin.grantConsent(w.sandbox.info.clientId);
    const ok = await w.q(ConnectDocument, {
      input: {
        clientId: w.sandbox.info.clientId,
        tenantId: w.sandbox.info.tenantId,
        clientSecret: w.sandbox.info.clientSecret,
        adminConsent: false,
      },
    });
    const done = await followAuthorization(
      w.agent,
      ok.body.data?.connect.authorizationUrl as string,
      await adminUpn(w.sandbox),
    );
    expect(done.result).toBe('CONNECTED');
    expect(done.microsoft).toHaveLength(1);
  });

  it('L2 the admin declines admin consent: CONSENT_DENIED names the missing permissions, and nothing is half-saved', async () => {
    const w = await world(false);
    const res = await w.q(ConnectDocument, {
      input: {
        clientId: w.sandbox.info.clientId,
        tenantId: w.sandbox.info.tenantId,
        clientSecret: w.sandbox.info.clientSecret,
      },
    });
    const origin = w.sandbox.info.authorityHost;
    const tenant = w.sandbox.info.tenantId;
    const admin = await adminUpn(w.sandbox);
    const browse = async (url: string, body?: Record<string, string>) => {
      const r = await request(url, {
        method: body ? 'POST' : 'GET',
        dispatcher: w.agent,
        headers: body ? { 'content-type': 'application/x-www-form-urlencoded' } : {},
        body: body ? new URLSearchParams(body).toString() : undefined,
      });
      return {
        status: r.statusCode,
        location: r.headers.location as string | undefined,
        html: await r.body.text(),
      };
    };
    /** Sign-in page, then the consent page; answers it. */
    const signInAndAnswer = async (url: string, decision: 'accept' | 'cancel') => {
      const page = await browse(url);
      const flow = /name="flow" value="([^"]+)"/.exec(page.html)?.[1] as string;
      const consent = await browse(`${origin}/${tenant}/login`, {
        flow,
        login: admin,
        password: SANDBOX_PASSWORD,
      });
      expect(consent.html).toContain('decision');
      const answered = await browse(`${origin}/${tenant}/consent`, { flow, decision, consent_for_org: 'on' });
      expect(answered.status).toBe(302);
      return answered.location as string;
    };
    // The delegated sign-in, accepted; the gateway sends the browser on to admin consent.
    const first = await finishAtGateway(
      await signInAndAnswer(res.body.data?.connect.authorizationUrl as string, 'accept'),
    );
    expect(first.continueAt).toContain(`/${tenant}/v2.0/adminconsent?`);
    expect(new URL(first.continueAt as string).searchParams.get('scope')).toMatch(/\/\.default$/);
    expect((await details(w))?.status).toBe('AWAITING_CONSENT');
    // Declined: Microsoft answers admin_consent=True&error=consent_required (AADSTS65004).
    const back = await signInAndAnswer(first.continueAt as string, 'cancel');
    expect(new URL(back).searchParams.get('error')).toBe('consent_required');
    const outcome = await finishAtGateway(back);
    expect(outcome.result).toBe('CONSENT_DENIED');
    const after = await details(w);
    expect(after).toMatchObject({
      status: 'NOT_CONNECTED',
      clientId: null,
      secretLast4: null,
      authorizationAccount: null,
      lastError: { code: 'CONSENT_DENIED' },
    });
    expect(after?.lastError?.message).toContain('User.Read.All (application), Group.Read.All (application)');
    expect(after?.lastError?.message).toContain('AADSTS65004');
    expect(after?.lastError?.message).not.toMatch(/\r|Trace ID/);
    expect(JSON.stringify(await w.gateway.openStore().integrations.get(w.pbx.id))).not.toContain(
      '"tokenCacheSealed":"v1',
    );
  });

  it('L2 the app registration does not ask for Group.Read.All: after admin consent MISSING_PERMISSIONS names it, and nothing is half-saved', async () => {
    const w = await world();
    await w.sandbox.admin.setRequiredPermissions(w.sandbox.info.clientId, { appRoles: ['User.Read.All'] });
    const outcome = await connectIntegration(w, w.sandbox, w.agent);
    expect(outcome.result).toBe('MISSING_PERMISSIONS');
    expect(outcome.page).toContain('Application permissions are missing');
    const after = await details(w);
    expect(after).toMatchObject({
      status: 'NOT_CONNECTED',
      clientId: null,
      authorizationAccount: null,
      lastError: { code: 'MISSING_PERMISSIONS' },
    });
    expect(after?.lastError?.message).toContain('Group.Read.All (application)');
    expect(after?.lastError?.message).not.toContain('User.Read.All');
  });

  it('L2/P1 an app registration made before presence existed (no Presence.Read.All): connect and user sync go on; the health names it for Teams presence', async () => {
    const w = await world();
    await w.sandbox.admin.setRequiredPermissions(w.sandbox.info.clientId, {
      appRoles: ['User.Read.All', 'Group.Read.All'],
    });
    await connectedAndSynced(w);
    expect((await syncNow(w)).status).toBe('SUCCEEDED');
    const h = await health(w);
    expect(h?.missingPermissions).toEqual(['Presence.Read.All (application)']);
    expect(h?.message).toContain('Presence.Read.All');
  });

  it('L3 secret deleted in Entra: the next run fails SECRET_REFUSED with a clean message, health says so while the status stays CONNECTED; updateSecret brings it back', async () => {
    const w = await world();
    await connectedAndSynced(w);
    const healthy = await health(w);
    const app = await w.sandbox.admin.getApp(w.sandbox.info.clientId);
    for (const s of app.secrets) await w.sandbox.admin.removeSecret(w.sandbox.info.clientId, s.keyId);

    const run = await syncNow(w);
    expect(run.status).toBe('FAILED');
    expect(run.error).toMatch(
      /^SECRET_REFUSED: Microsoft refuses the stored client secret \(AADSTS7000215\)/,
    );
    expect(run.error).not.toMatch(/[\r\n]|Trace ID/);
    const after = await details(w);
    expect(after?.status).toBe('CONNECTED');
    expect(after?.health).toMatchObject({ status: 'FAILING', codes: ['SECRET_REFUSED'] });
    expect(after?.health.message).toContain('updateSecret');
    expect(after?.health.lastHealthyAt).toBe(healthy?.lastHealthyAt);
    expect(new Date(after?.health.checkedAt as string).getTime()).toBeGreaterThan(
      new Date(healthy?.checkedAt as string).getTime(),
    );

    const fresh = await w.sandbox.admin.addSecret(w.sandbox.info.clientId, { expiresInDays: 90 });
    const updated = await w.q(UpdateSecretDocument, {
      secret: fresh.secretText,
      expiresAt: fresh.endDateTime,
    });
    expect(updated.body.errors).toBeUndefined();
    expect((await syncNow(w)).status).toBe('SUCCEEDED');
    expect(await health(w)).toMatchObject({ status: 'OK', codes: [], message: null });
  });

  it('L3 refresh token revoked: the daily check says DELEGATED_ACCESS_LOST; reconsent gives a fresh sign-in without disconnecting and health is OK again', async () => {
    const w = await world();
    await connectedAndSynced(w);
    const admin = await w.sandbox.admin.getUser(await adminUpn(w.sandbox));
    await w.sandbox.admin.revokeSignInSessions(admin.id);

    const { id } = await w.gateway.queues.enqueue(JobName.CheckSecretExpiry, {});
    const queue = w.gateway.queues.queue('system');
    for (let i = 0; i < 100 && !(await (await queue.getJob(id))?.isCompleted()); i++)
      await new Promise((r) => setTimeout(r, 100));
    const job = await queue.getJob(id);
    expect(job?.returnvalue.unhealthy).toContainEqual({ pbxId: w.pbx.id, codes: ['DELEGATED_ACCESS_LOST'] });
    const lost = await details(w);
    expect(lost?.status).toBe('CONNECTED');
    expect(lost?.health).toMatchObject({ status: 'FAILING', codes: ['DELEGATED_ACCESS_LOST'] });
    expect(lost?.health.message).toMatch(/sign-in sessions were revoked .*\(AADSTS50173\)\. Run reconsent/);
    expect(lost?.health.message).not.toContain('\r');
    // User sync needs no delegated access: runs go on.
    expect((await syncNow(w)).status).toBe('SUCCEEDED');
    expect((await health(w))?.codes).toEqual(['DELEGATED_ACCESS_LOST']);

    const again = await w.q(ReconsentDocument);
    const url = again.body.data?.reconsent.authorizationUrl as string;
    expect(url).toContain('/oauth2/v2.0/authorize?');
    expect(again.body.data?.reconsent.integration).toMatchObject({
      status: 'CONNECTED',
      clientId: w.sandbox.info.clientId,
    });
    expect((await details(w))?.status).toBe('CONNECTED');
    const done = await followAuthorization(w.agent, url, await adminUpn(w.sandbox));
    expect(done.result).toBe('RECONSENTED');
    expect(done.page).toContain('Access to Microsoft 365 renewed');
    expect(await health(w)).toMatchObject({ status: 'OK', codes: [] });
    const check = (await w.q(TestConnectionPermissionsDocument)).body.data?.testConnection;
    expect(check).toMatchObject({ appAccess: true, delegatedAccess: true, problems: [] });
  });

  it('L3 consent revoked: the next run fails PERMISSIONS_MISSING naming each permission; testConnection reports them missing; reconsent goes through admin consent and runs work again', async () => {
    const w = await world();
    await connectedAndSynced(w);
    await w.sandbox.admin.revokeConsent(w.sandbox.info.clientId);

    const run = await syncNow(w);
    expect(run.status).toBe('FAILED');
    expect(run.error).toMatch(
      /^PERMISSIONS_MISSING: The app has no admin consent for User\.Read\.All \(application\), Group\.Read\.All \(application\)/,
    );
    const h = await health(w);
    expect(h).toMatchObject({
      status: 'FAILING',
      codes: ['PERMISSIONS_MISSING'],
      missingPermissions: [
        'User.Read.All (application)',
        'Group.Read.All (application)',
        'Presence.Read.All (application)',
      ],
    });
    expect((await details(w))?.status).toBe('CONNECTED');

    // The live check sees the delegated consent gone too (AADSTS65001).
    const check = (await w.q(TestConnectionPermissionsDocument)).body.data?.testConnection;
    expect(check?.appAccess).toBe(true);
    expect(check?.delegatedAccess).toBe(false);
    expect(check?.permissions.map((p) => [p.name, p.present])).toEqual([
      ['User.Read.All', false],
      ['Group.Read.All', false],
      ['Presence.Read.All', false],
      ['User.Read', false],
      ['Contacts.Read.Shared', false],
      ['offline_access', false],
    ]);
    expect(check?.health.codes).toEqual(['PERMISSIONS_MISSING', 'DELEGATED_ACCESS_LOST']);
    expect(check?.health.message).toContain('AADSTS65001');

    const again = await w.q(ReconsentDocument);
    const done = await followAuthorization(
      w.agent,
      again.body.data?.reconsent.authorizationUrl as string,
      await adminUpn(w.sandbox),
    );
    expect(done.result).toBe('RECONSENTED');
    expect(done.microsoft[1]).toBe(`/${w.sandbox.info.tenantId}/v2.0/adminconsent`);
    expect(await health(w)).toMatchObject({ status: 'OK', codes: [], missingPermissions: [] });
    expect((await syncNow(w)).status).toBe('SUCCEEDED');
  });

  it('L3 application permissions revoked one by one: the run names exactly the missing one', async () => {
    const w = await world();
    await connectedAndSynced(w);
    await w.sandbox.admin.revokeConsent(w.sandbox.info.clientId, { appRoles: ['Group.Read.All'] });
    const run = await syncNow(w);
    expect(run.status).toBe('FAILED');
    expect(run.error).toMatch(
      /^PERMISSIONS_MISSING: The app has no admin consent for Group\.Read\.All \(application\) /,
    );
    expect((await health(w))?.missingPermissions).toEqual(['Group.Read.All (application)']);
  });
});
