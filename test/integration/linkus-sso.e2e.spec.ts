import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AdminTenant, AdminUser } from '../../src/sandbox/index.js';
import {
  AuditLogDocument,
  DisableDocument,
  DisconnectDocument,
  EnableDocument,
  LinkusSsoDocument,
  MeDocument,
  PauseDocument,
  ResumeDocument,
  SaveLinkusSsoDocument,
  SaveUserSyncRuleDocument,
  SyncNowDocument,
} from '../generated/graphql.js';
import { describeEachDb } from '../support/db.js';
import { type E2e, startE2e } from '../support/e2e.js';
import { captureLogger, gql } from '../support/gateway.js';
import {
  clientParams,
  gatewayGet,
  type Hop,
  pkcePair,
  type StartParams,
  signInAtMicrosoft,
  startUrl,
} from '../support/linkus-sso.js';
import { allExtensions, waitForRun } from '../support/sandbox.js';

/**
 * S1–S3 end to end over HTTP: a Linkus client starts at the gateway, its user signs in at the
 * sandbox's sign-in page (the form, as a browser posts it), and the client's redirect URI gets a
 * one-time code, or a refusal with its own code, never a code. The journey in a real browser, up
 * to the session, is test/http/linkus-sso-browser.db.spec.ts.
 */

const CLIENT = 'https://linkus.example.com/sso/callback';
const MOBILE = 'com.yeastar.linkus:/oauth2redirect';
/** Starts a minute per address in this file (the default is 600); the last test goes past it. */
const RATE_LIMIT = 100;

const RULE = {
  range: 'ALL' as const,
  numbering: 'AUTO' as const,
  startNumber: '1000',
  autoDelete: true,
  // A user disabled in Entra keeps the extension: Microsoft itself must refuse the sign-in (S3).
  deleteWhenDisabled: false,
  deleteWhenDeleted: true,
  autoAssociate: false,
  welcomeEmail: false,
};

describeEachDb('Linkus sign-in with Microsoft (S1, S2, S3)', (leg) => {
  let w: E2e;
  let other: AdminTenant;
  let users: AdminUser[];
  // Every refusal is one log line naming its code (S3): the lines since the last start.
  const log = captureLogger('info');
  let mark = 0;
  const refusalLines = () => log.lines.filter((l) => l.includes('"msg":"linkus sign-in refused: '));
  const admin = () => ({ url: w.gateway.url, key: w.keys.admin });
  const save = (input: { enabled: boolean; redirectUris: string[] }) =>
    gql(w.gateway.url, w.keys.admin, SaveLinkusSsoDocument, { input });
  const user = (i: number) => users[i] as AdminUser;

  /** Starts a sign-in as a Linkus client: the gateway's first answer. */
  const start = (p: Partial<StartParams> = {}) => {
    mark = refusalLines().length;
    return gatewayGet(
      startUrl(w.gateway.url, {
        pbx: w.pbx.id,
        redirectUri: CLIENT,
        state: 'client-state-1',
        codeChallenge: pkcePair().challenge,
        codeChallengeMethod: 'S256',
        ...p,
      }),
    );
  };

  /** The whole journey for `login`; `beforeCallback` runs while the browser holds Microsoft's answer. */
  const journey = async (
    login: string,
    opts: { client?: Partial<StartParams>; beforeCallback?: () => Promise<void>; password?: string } = {},
  ) => {
    const started = await start(opts.client);
    expect(started.status, started.body).toBe(302);
    const atMicrosoft = await signInAtMicrosoft(w.agent, started.location as string, login, opts);
    if (!atMicrosoft.location) return { atMicrosoft, back: null };
    expect(atMicrosoft.location.startsWith(`${w.gateway.url}/linkus/sso/microsoft/callback?`)).toBe(true);
    await opts.beforeCallback?.();
    const back = await gatewayGet(atMicrosoft.location);
    return { atMicrosoft, back };
  };
  const refusedWith = (back: { status: number; location: string | null } | null, code: string) => {
    expect(back?.status).toBe(302);
    const p = clientParams(back?.location ?? null);
    expect(back?.location?.startsWith(`${CLIENT}?`)).toBe(true);
    expect(p.error).toBe(code);
    expect(p.error_description).toBeTruthy();
    expect(p.code).toBeUndefined();
    const lines = refusalLines().slice(mark);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ code, msg: `linkus sign-in refused: ${code}` });
    return p;
  };

  beforeAll(async () => {
    w = await startE2e({
      leg,
      sandbox: { users: 12, groups: 2, seed: 14 },
      logger: log.logger,
      env: { LINKUS_SSO_RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT) },
    });
    const saved = await gql(w.gateway.url, w.keys.admin, SaveUserSyncRuleDocument, { input: RULE });
    const run = await waitForRun(
      w.gateway.url,
      w.keys.admin,
      saved.body.data?.saveUserSyncRule.initialRun?.id as string,
    );
    expect(run.status).toBe('SUCCEEDED');
    users = (await w.sandbox.admin.listUsers({ top: 100 })).value.filter(
      (u) => !u.isAdmin && u.accountEnabled !== false && u.userType !== 'Guest',
    );
    other = await w.sandbox.admin.addTenant({
      users: 4,
      seed: 1414,
      provisionApps: [w.sandbox.info.clientId],
    });
  }, 120_000);
  afterAll(async () => {
    await w?.close();
  });

  it('S1: the settings show the URIs, validate the redirect URIs, and are ADMIN only', async () => {
    const before = await gql(w.gateway.url, w.keys.viewer, LinkusSsoDocument);
    expect(before.body.data?.linkusSso).toMatchObject({
      enabled: false,
      microsoftRedirectUri: `${w.gateway.url}/linkus/sso/microsoft/callback`,
      redirectUris: [],
      integrationStatus: 'CONNECTED',
    });
    expect(before.body.data?.linkusSso.startUrl).toBe(
      `${w.gateway.url}/linkus/sso/microsoft/start?pbx=${w.pbx.id}`,
    );
    const bad = await save({
      enabled: true,
      redirectUris: [
        'http://linkus.example.com/cb',
        'https://linkus.example.com/cb#frag',
        'javascript:alert(1)',
        'https://user:pw@linkus.example.com/cb',
        `https://linkus.example.com/${'x'.repeat(300)}`,
        'linkus:/cb',
      ],
    });
    expect(bad.body.errors?.[0]?.extensions?.code).toBe('INVALID_INPUT');
    const fields = ((bad.body.errors?.[0]?.extensions?.problems ?? []) as Array<{ field: string }>).map(
      (p) => p.field,
    );
    expect(fields).toEqual([0, 1, 2, 3, 4, 5].map((i) => `redirectUris[${i}]`));
    expect((await save({ enabled: true, redirectUris: [] })).body.errors?.[0]?.extensions?.code).toBe(
      'INVALID_INPUT',
    );
    const viewer = await gql(w.gateway.url, w.keys.viewer, SaveLinkusSsoDocument, {
      input: { enabled: true, redirectUris: [CLIENT] },
    });
    expect(viewer.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const ok = await save({ enabled: true, redirectUris: [CLIENT, MOBILE, 'http://127.0.0.1/linkus'] });
    expect(ok.body.errors).toBeUndefined();
    // Audited: the refused saves with their codes, the good one OK.
    const audit = await gql(w.gateway.url, w.keys.admin, AuditLogDocument, { first: 50 });
    const saves = (audit.body.data?.auditLog.nodes ?? []).filter((n) => n.operation === 'saveLinkusSso');
    expect(saves.map((n) => n.outcome).sort()).toEqual(['FORBIDDEN', 'INVALID_INPUT', 'INVALID_INPUT', 'OK']);
    expect(ok.body.data?.saveLinkusSso).toMatchObject({
      enabled: true,
      redirectUris: [CLIENT, MOBILE, 'http://127.0.0.1/linkus'],
    });
  });

  it('S3: without the gateway callback registered in Entra, Microsoft refuses (AADSTS50011) and no code is made', async () => {
    const started = await start();
    expect(started.status).toBe(302);
    const at = await signInAtMicrosoft(
      w.agent,
      started.location as string,
      String(user(0).userPrincipalName),
    );
    expect(at.location).toBeNull();
    expect(at.page).toContain('AADSTS50011');
    await w.sandbox.admin.addRedirectUri(
      w.sandbox.info.clientId,
      `${w.gateway.url}/linkus/sso/microsoft/callback`,
    );
  });

  it('S2: a synced user signs in and the client gets a one-time code bound to the extension, its redirect URI and challenge', async () => {
    const { challenge } = pkcePair();
    const u = user(0);
    const { back } = await journey(String(u.userPrincipalName), {
      client: { codeChallenge: challenge, state: 'st-S2' },
    });
    expect(back?.status).toBe(302);
    const p = clientParams(back?.location ?? null);
    expect(p.state).toBe('st-S2');
    expect(p.error).toBeUndefined();
    expect(p.code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const ext = (await allExtensions(w.gateway.url, w.keys.admin)).find((e) => e.email === u.mail);
    const redeemed = await w.gateway.services.linkusSessions.redeemCode(p.code as string);
    expect(redeemed).toMatchObject({
      outcome: 'REDEEMED',
      grant: {
        pbxId: w.pbx.id,
        extensionId: ext?.id,
        entraObjectId: u.id,
        redirectUri: CLIENT,
        codeChallenge: challenge,
        codeChallengeMethod: 'S256',
      },
    });
  });

  it("S2: the client redeems the code with its verifier at the token endpoint; the session is the user's extension", async () => {
    const { verifier, challenge } = pkcePair();
    const u = user(1);
    const { back } = await journey(String(u.userPrincipalName), { client: { codeChallenge: challenge } });
    const { code } = clientParams(back?.location ?? null);
    const token = await fetch(`${w.gateway.url}/linkus/sso/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: code as string,
        code_verifier: verifier,
        redirect_uri: CLIENT,
      }),
    });
    expect(token.status).toBe(200);
    const session = (await token.json()) as { access_token: string };
    const me = await gql(w.gateway.url, session.access_token, MeDocument);
    const ext = (await allExtensions(w.gateway.url, w.keys.admin)).find((e) => e.email === u.mail);
    expect(me.body.data?.me).toMatchObject({ role: 'LINKUS', pbxId: w.pbx.id, extension: { id: ext?.id } });
  });

  it('S2: the web client of a registered https redirect URI may call the token endpoint and /graphql across origins; no other origin or path', async () => {
    const preflight = (path: string, origin: string) =>
      fetch(`${w.gateway.url}${path}`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type',
        },
      });
    const allowedOrigin = new URL(CLIENT).origin;
    for (const path of ['/linkus/sso/token', '/graphql']) {
      const ok = await preflight(path, allowedOrigin);
      expect(ok.headers.get('access-control-allow-origin'), path).toBe(allowedOrigin);
      expect(ok.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
      expect(ok.headers.get('access-control-allow-credentials')).toBeNull();
      // Another origin (or the registered one on another port) reads nothing.
      for (const origin of ['https://evil.example.com', `${allowedOrigin}:8443`]) {
        const no = await preflight(path, origin);
        expect(no.headers.get('access-control-allow-origin'), `${path} ${origin}`).toBeNull();
      }
    }
    // The actual answer carries the header too, and only on the web client's paths.
    const answer = await fetch(`${w.gateway.url}/graphql`, {
      method: 'POST',
      headers: {
        origin: allowedOrigin,
        'content-type': 'application/json',
        authorization: `Bearer ${w.keys.admin}`,
      },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(answer.headers.get('access-control-allow-origin')).toBe(allowedOrigin);
    const health = await fetch(`${w.gateway.url}/healthz`, { headers: { origin: allowedOrigin } });
    expect(health.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('S2: a mobile app scheme and a loopback redirect URI on any port work too', async () => {
    for (const redirectUri of [MOBILE, 'http://127.0.0.1:53124/linkus']) {
      const started = await start({ redirectUri });
      const at = await signInAtMicrosoft(
        w.agent,
        started.location as string,
        String(user(1).userPrincipalName),
      );
      const back = await gatewayGet(at.location as string);
      expect(back.location?.startsWith(`${redirectUri}?`), back.location ?? back.body).toBe(true);
      expect(clientParams(back.location).code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    }
  });

  it('S3: an unregistered or missing redirect URI gets the error page, never a redirect', async () => {
    for (const redirectUri of ['https://evil.example.com/cb', `${CLIENT}/other`, undefined]) {
      const r = await start({ redirectUri });
      expect(r.status).toBe(400);
      expect(r.location).toBeNull();
      expect(r.body).toContain(redirectUri ? 'REDIRECT_URI_NOT_REGISTERED' : 'INVALID_REQUEST');
    }
    const unknownPbx = await start({ pbx: '00000000-0000-4000-8000-000000000000' });
    expect(unknownPbx.status).toBe(400);
    expect(unknownPbx.location).toBeNull();
  });

  it('S3: a bad request (no state, no PKCE, plain PKCE) goes back to the client as INVALID_REQUEST', async () => {
    expect(clientParams((await start({ state: undefined })).location).error).toBe('INVALID_REQUEST');
    expect(clientParams((await start({ codeChallenge: undefined })).location).error).toBe('INVALID_REQUEST');
    const plain = clientParams((await start({ codeChallengeMethod: 'plain' })).location);
    expect(plain).toMatchObject({ error: 'INVALID_REQUEST', state: 'client-state-1' });
    // Microsoft's callback with an unknown (or replayed) state: no client to trust, the page.
    const forged = await gatewayGet(
      `${w.gateway.url}/linkus/sso/microsoft/callback?code=abc&state=${'x'.repeat(43)}`,
    );
    expect(forged.status).toBe(400);
    expect(forged.body).toContain('INVALID_REQUEST');
  });

  it('S3: a replayed Microsoft callback makes no second code', async () => {
    const started = await start();
    const at = await signInAtMicrosoft(
      w.agent,
      started.location as string,
      String(user(2).userPrincipalName),
    );
    expect(clientParams((await gatewayGet(at.location as string)).location).code).toBeTruthy();
    const again = await gatewayGet(at.location as string);
    expect(again.status).toBe(400);
    expect(again.location).toBeNull();
  });

  it('S3: SSO turned off', async () => {
    await save({ enabled: false, redirectUris: [CLIENT] });
    refusedWith(await start(), 'SSO_DISABLED');
    // Turned off while the user was at Microsoft: refused on the way back.
    await save({ enabled: true, redirectUris: [CLIENT] });
    const { back } = await journey(String(user(0).userPrincipalName), {
      beforeCallback: async () => {
        await save({ enabled: false, redirectUris: [CLIENT] });
      },
    });
    expect(refusedWith(back, 'SSO_DISABLED').state).toBe('client-state-1');
    await save({ enabled: true, redirectUris: [CLIENT, MOBILE, 'http://127.0.0.1/linkus'] });
  });

  it('S3: user sync paused, then the integration disabled (L6)', async () => {
    const { url, key } = admin();
    await gql(url, key, PauseDocument, { target: 'USERS', deleteSynced: false });
    refusedWith(await start(), 'USERS_PAUSED');
    await gql(url, key, ResumeDocument, { target: 'USERS' });
    await gql(url, key, DisableDocument, { deleteExtensions: false, deleteGroups: false });
    refusedWith(await start(), 'INTEGRATION_DISABLED');
    const saved = await save({ enabled: true, redirectUris: [CLIENT] });
    expect(saved.body.errors?.[0]?.extensions?.code).toBe('INTEGRATION_DISABLED');
    await gql(url, key, EnableDocument, {});
    // Disabled while the user was at Microsoft.
    const { back } = await journey(String(user(0).userPrincipalName), {
      beforeCallback: async () => {
        await gql(url, key, DisableDocument, { deleteExtensions: false, deleteGroups: false });
      },
    });
    refusedWith(back, 'INTEGRATION_DISABLED');
    await gql(url, key, EnableDocument, {});
  });

  it('S3: a user who is not synced (created since the last sync)', async () => {
    const fresh = await w.sandbox.admin.createUser({
      userPrincipalName: `sso.newcomer@${String(user(0).userPrincipalName).split('@')[1]}`,
      displayName: 'SSO Newcomer',
      mail: null,
    });
    const { back } = await journey(String(fresh.userPrincipalName));
    refusedWith(back, 'USER_NOT_SYNCED');
  });

  it('S3: a user whose extension was deleted since (deleted in Entra, synced, restored): USER_NOT_SYNCED', async () => {
    const u = user(4);
    await w.sandbox.admin.softDeleteUser(u.id);
    const run = await gql(w.gateway.url, w.keys.admin, SyncNowDocument, { scopes: ['USERS'] });
    expect((await waitForRun(w.gateway.url, w.keys.admin, run.body.data?.syncNow.id as string)).status).toBe(
      'SUCCEEDED',
    );
    expect((await allExtensions(w.gateway.url, w.keys.admin)).some((e) => e.externalId === u.id)).toBe(false);
    // Back in Entra (Microsoft signs the user in again), but no extension until the next sync.
    await w.sandbox.admin.restoreUser(u.id);
    const { back } = await journey(String(u.userPrincipalName));
    refusedWith(back, 'USER_NOT_SYNCED');
  });

  it('S3: a user disabled in Entra: Microsoft refuses at its page (AADSTS50057), or at the code redemption', async () => {
    const u = user(3);
    await w.sandbox.admin.disableUser(u.id);
    const { atMicrosoft, back } = await journey(String(u.userPrincipalName));
    expect(back).toBeNull();
    expect(atMicrosoft.page).toContain('AADSTS50057');
    await w.sandbox.admin.enableUser(u.id);
    // Disabled after Microsoft sent the code: the redemption answers invalid_grant AADSTS50057.
    const late = await journey(String(u.userPrincipalName), {
      beforeCallback: async () => {
        await w.sandbox.admin.disableUser(u.id);
      },
    });
    refusedWith(late.back, 'USER_DISABLED');
    await w.sandbox.admin.enableUser(u.id);
  });

  it('S3: an account of another directory: Microsoft refuses it (AADSTS50020); a code of that directory is refused (WRONG_DIRECTORY)', async () => {
    const atHome = await journey(other.adminUpn);
    expect(atHome.back).toBeNull();
    expect(atHome.atMicrosoft.page).toContain('AADSTS50020');
    // The authorize request sent to the other directory instead (a tampered link): its code
    // comes back with the gateway's state, and the connected directory's token endpoint refuses it.
    const started = await start();
    const tampered = (started.location as string).replace(
      `/${w.sandbox.info.tenantId}/`,
      `/${other.tenantId}/`,
    );
    const at = await signInAtMicrosoft(w.agent, tampered, other.adminUpn);
    expect(at.location?.startsWith(`${w.gateway.url}/linkus/sso/microsoft/callback?`)).toBe(true);
    refusedWith(await gatewayGet(at.location as string), 'WRONG_DIRECTORY');
  });

  it('S3: Microsoft answers with an error (consent declined, or no session for prompt=none): MICROSOFT_ERROR', async () => {
    const started = await start();
    const silent = new URL(started.location as string);
    silent.searchParams.set('prompt', 'none');
    const at = await signInAtMicrosoft(w.agent, silent.toString(), String(user(0).userPrincipalName));
    expect(clientParams(at.location).error).toBe('login_required');
    refusedWith(await gatewayGet(at.location as string), 'MICROSOFT_ERROR');
  });

  it('S1: a disconnected integration turns SSO off and refuses the settings (INTEGRATION_NOT_CONNECTED)', async () => {
    const { url, key } = admin();

    await gql(url, key, DisconnectDocument, { deleteExtensions: false, deleteGroups: false });
    refusedWith(await start(), 'INTEGRATION_NOT_CONNECTED');
    const view = await gql(url, key, LinkusSsoDocument);
    expect(view.body.data?.linkusSso).toMatchObject({ enabled: false, integrationStatus: 'NOT_CONNECTED' });
    const saved = await save({ enabled: true, redirectUris: [CLIENT] });
    expect(saved.body.errors?.[0]?.extensions?.code).toBe('INTEGRATION_NOT_CONNECTED');
  });

  it('S2: a source address gets LINKUS_SSO_RATE_LIMIT_PER_MINUTE starts a minute, then 429', async () => {
    let refused: Hop | undefined;
    for (let i = 0; i <= RATE_LIMIT && !refused; i++) {
      const r = await start({ pbx: '00000000-0000-4000-8000-000000000000' });
      if (r.status === 429) refused = r;
      else expect(r.status).toBe(400);
    }
    expect(refused?.status).toBe(429);
  });
});
