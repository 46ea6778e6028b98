import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  consentAsAdmin,
  decodeJwt,
  form,
  startTestSandbox,
  type TestSandbox,
} from './sandbox-test.helpers.js';

/**
 * The sandbox's state file (persistState): a sandbox restarted on the same dataDir is the same
 * tenant for a client connected before — consents, refresh tokens, admin API changes, secrets —
 * and a delta link from before answers as Graph does.
 */
mkdirSync(path.resolve('.data'), { recursive: true });
const dir = mkdtempSync(path.resolve('.data/sandbox-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const REDIRECT = 'http://localhost';

async function appToken(t: TestSandbox, clientSecret = t.sandbox.info.clientSecret) {
  const { authorityHost, tenantId, clientId } = t.sandbox.info;
  return t.http(`${authorityHost}/${tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
      scope: 'https://graph.microsoft.com/.default',
    }),
  });
}

async function refresh(t: TestSandbox, refreshToken: string) {
  const { authorityHost, tenantId, clientId, clientSecret } = t.sandbox.info;
  return t.http(`${authorityHost}/${tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form({
      grant_type: 'refresh_token',
      client_id: clientId,
      client_secret: clientSecret,
      refresh_token: refreshToken,
      scope: 'offline_access User.Read',
    }),
  });
}

/** A delegated sign-in (autoSignIn with login_hint), redeemed at the token endpoint. */
async function signIn(t: TestSandbox, upn: string): Promise<{ refresh_token: string; access_token: string }> {
  const { authorityHost, tenantId, clientId, clientSecret } = t.sandbox.info;
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const res = await t.http(
    `${authorityHost}/${tenantId}/oauth2/v2.0/authorize?${form({
      client_id: clientId,
      response_type: 'code',
      redirect_uri: REDIRECT,
      scope: 'openid profile offline_access User.Read',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      login_hint: upn,
      state: 's',
    })}`,
  );
  expect(res.status, res.text.slice(0, 300)).toBe(302);
  const code = new URL(res.headers.location as string).searchParams.get('code');
  expect(code).toBeTruthy();
  const token = await t.http(`${authorityHost}/${tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form({
      grant_type: 'authorization_code',
      client_id: clientId,
      client_secret: clientSecret,
      code: code as string,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
      scope: 'openid profile offline_access User.Read',
    }),
  });
  expect(token.status, token.text).toBe(200);
  return token.json();
}

async function graphGet(t: TestSandbox, url: string, token: string) {
  return t.http(url.startsWith('https:') ? url : `${t.sandbox.info.graphBaseUrl}${url}`, {
    headers: { authorization: `Bearer ${token}` },
  });
}

/** Follows a delta round to its deltaLink; returns the items and the link. */
async function deltaRound(t: TestSandbox, start: string, token: string) {
  const items: Array<Record<string, unknown>> = [];
  let url = start;
  for (;;) {
    const res = await graphGet(t, url, token);
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    const page = res.json<Record<string, unknown>>();
    items.push(...(page.value as Array<Record<string, unknown>>));
    if (page['@odata.deltaLink']) return { items, deltaLink: page['@odata.deltaLink'] as string };
    url = page['@odata.nextLink'] as string;
  }
}

const stateFile = path.join(dir, 'state.json');

describe('sandbox state file (persistState)', () => {
  let port = 0;
  let before: {
    tenantId: string;
    clientId: string;
    refreshToken: string;
    newUserId: string;
    disabledId: string;
    secret: string;
    deltaLink: string;
    groupDeltaLink: string;
    domain: string;
  };

  it('keeps consents, refresh tokens, admin API changes and secrets across a restart', async () => {
    const t = await startTestSandbox({ dataDir: dir, persistState: true, autoSignIn: true });
    port = Number(new URL(t.sandbox.info.authorityHost).port);
    try {
      expect(existsSync(stateFile)).toBe(false);
      await consentAsAdmin(t);
      const admin = (await t.sandbox.admin.listUsers({ top: 999 })).value.find((u) => u.isAdmin);
      const tokens = await signIn(t, String(admin?.userPrincipalName));
      expect(tokens.refresh_token).toBeTruthy();
      const app = (await appToken(t)).json<{ access_token: string }>().access_token;
      expect(decodeJwt(app).roles).toEqual(expect.arrayContaining(['User.Read.All', 'Group.Read.All']));
      const users = await deltaRound(t, '/users/delta?$select=id,displayName,accountEnabled,jobTitle', app);
      const groups = await deltaRound(t, '/groups/delta', app);

      const created = await t.sandbox.admin.createUser({
        displayName: 'Kept Across Restarts',
        userPrincipalName: `kept@${String(admin?.userPrincipalName).split('@')[1]}`,
      });
      const victim = (await t.sandbox.admin.listUsers({ top: 999 })).value.find(
        (u) => !u.isAdmin && u.accountEnabled,
      );
      await t.sandbox.admin.disableUser(String(victim?.id));
      const secret = await t.sandbox.admin.addSecret(t.sandbox.info.clientId, { displayName: 'second' });
      before = {
        tenantId: t.sandbox.info.tenantId,
        clientId: t.sandbox.info.clientId,
        refreshToken: tokens.refresh_token,
        newUserId: created.id,
        disabledId: String(victim?.id),
        secret: secret.secretText,
        deltaLink: users.deltaLink,
        groupDeltaLink: groups.deltaLink,
        domain: String(admin?.userPrincipalName).split('@')[1],
      };
      // saved a moment after the changes (debounced), owner-only
      await vi.waitFor(() => expect(existsSync(stateFile)).toBe(true), { timeout: 5000 });
      if (process.platform !== 'win32') expect(statSync(stateFile).mode & 0o777).toBe(0o600);
    } finally {
      await t.close();
    }
    const saved = JSON.parse(readFileSync(stateFile, 'utf8'));
    expect(saved.version).toBe(1);
    expect(saved.port).toBe(port);

    const t2 = await startTestSandbox({ dataDir: dir, persistState: true, port });
    try {
      expect(t2.sandbox.info.tenantId).toBe(before.tenantId);
      expect(t2.sandbox.info.clientId).toBe(before.clientId);
      // the user created and the user disabled through the admin API
      expect((await t2.sandbox.admin.getUser(before.newUserId)).displayName).toBe('Kept Across Restarts');
      expect((await t2.sandbox.admin.getUser(before.disabledId)).accountEnabled).toBe(false);
      // admin consent: the app token carries the granted roles
      const app = (await appToken(t2)).json<{ access_token: string }>().access_token;
      expect(decodeJwt(app).roles).toEqual(expect.arrayContaining(['User.Read.All', 'Group.Read.All']));
      // the secret added before works
      const withSecond = await appToken(t2, before.secret);
      expect(withSecond.status, withSecond.text).toBe(200);
      // the delegated refresh token redeems
      const refreshed = await refresh(t2, before.refreshToken);
      expect(refreshed.status, refreshed.text).toBe(200);
      expect(refreshed.json<{ access_token: string }>().access_token).toBeTruthy();

      // a delta link from before the restart: the change log was small, so it goes on with the
      // changes made since it was issued
      const users = await deltaRound(t2, before.deltaLink, app);
      const ids = users.items.map((u) => u.id);
      expect(ids).toEqual(expect.arrayContaining([before.newUserId, before.disabledId]));
      expect(users.items.find((u) => u.id === before.disabledId)?.accountEnabled).toBe(false);
      const groups = await deltaRound(t2, before.groupDeltaLink, app);
      expect(groups.items).toEqual([]);

      // a user created now shows in the next round, once
      const later = await t2.sandbox.admin.createUser({
        displayName: 'After Restart',
        userPrincipalName: `after@${before.domain}`,
      });
      const next = await deltaRound(t2, users.deltaLink, app);
      expect(next.items.map((u) => u.id)).toEqual([later.id]);
    } finally {
      await t2.close();
    }
  });

  it('a large change log is left out: a delta link from before answers 400 syncStateNotFound, a full read works', async () => {
    const t = await startTestSandbox({ dataDir: dir, persistState: true, port, stateChangeLogLimit: 0 });
    let deltaLink: string;
    try {
      const app = (await appToken(t)).json<{ access_token: string }>().access_token;
      deltaLink = (await deltaRound(t, '/users/delta?$select=id,displayName,accountEnabled,jobTitle', app))
        .deltaLink;
      await t.sandbox.admin.updateUser(before.newUserId, { jobTitle: 'Kept' });
    } finally {
      await t.close();
    }
    expect(JSON.parse(readFileSync(stateFile, 'utf8')).tenants[0].changeLogs).toBeNull();

    const t2 = await startTestSandbox({ dataDir: dir, persistState: true, port });
    try {
      const app = (await appToken(t2)).json<{ access_token: string }>().access_token;
      const res = await graphGet(t2, deltaLink, app);
      expect(res.status).toBe(400);
      expect(res.json<{ error: { code: string } }>().error.code).toBe('syncStateNotFound');
      const full = await deltaRound(t2, '/users/delta?$select=id,displayName,accountEnabled,jobTitle', app);
      const kept = full.items.find((u) => u.id === before.newUserId);
      expect(kept?.jobTitle).toBe('Kept');
      expect(full.items.find((u) => u.id === before.disabledId)?.accountEnabled).toBe(false);
      // and incremental rounds work again from the new link
      await t2.sandbox.admin.updateUser(before.newUserId, { jobTitle: 'Kept twice' });
      const next = await deltaRound(t2, full.deltaLink, app);
      expect(next.items.map((u) => u.id)).toEqual([before.newUserId]);
      expect((await refresh(t2, before.refreshToken)).status).toBe(200);
    } finally {
      await t2.close();
    }
  });

  it('a corrupt or other-version state file starts seeded and says why in one line', async () => {
    const other = mkdtempSync(path.resolve('.data/sandbox-state-bad-'));
    const lines: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      writeFileSync(path.join(other, 'state.json'), '{"version": 1, "tenants": [');
      const t = await startTestSandbox({ dataDir: other, persistState: true });
      try {
        const seeded = await t.sandbox.admin.listUsers({ top: 999 });
        expect(seeded.value.length).toBe(50);
        const app = (await appToken(t)).json<{ access_token: string }>().access_token;
        expect(decodeJwt(app).roles).toBeUndefined();
      } finally {
        await t.close();
      }
      writeFileSync(path.join(other, 'state.json'), JSON.stringify({ version: 99 }));
      const t2 = await startTestSandbox({ dataDir: other, persistState: true });
      await t2.close();
    } finally {
      spy.mockRestore();
      rmSync(other, { recursive: true, force: true });
    }
    const notLoaded = lines.filter((l) => l.includes('state not loaded'));
    expect(notLoaded).toHaveLength(2);
    expect(notLoaded[0]).toMatch(/unreadable JSON/);
    expect(notLoaded[1]).toMatch(/version 99/);
    for (const l of notLoaded) expect(l.trim().split('\n')).toHaveLength(1);
  });

  it('keeps every hosted directory; a provisioned multi-tenant app still shares its app object', async () => {
    const other = mkdtempSync(path.resolve('.data/sandbox-state-multi-'));
    try {
      const t = await startTestSandbox({ dataDir: other, persistState: true, users: 5 });
      let added: { tenantId: string };
      try {
        added = await t.sandbox.admin.addTenant({ users: 3, provisionApps: [t.sandbox.info.clientId] });
      } finally {
        await t.close();
      }
      const t2 = await startTestSandbox({ dataDir: other, persistState: true, users: 5 });
      try {
        // a secret added to the app after the restart works in the other directory too
        const secret = await t2.sandbox.admin.addSecret(t2.sandbox.info.clientId, { displayName: 'after' });
        const { authorityHost, clientId } = t2.sandbox.info;
        const res = await t2.http(`${authorityHost}/${added.tenantId}/oauth2/v2.0/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: form({
            grant_type: 'client_credentials',
            client_id: clientId,
            client_secret: secret.secretText,
            scope: 'https://graph.microsoft.com/.default',
          }),
        });
        expect(res.status, res.text).toBe(200);
        expect(decodeJwt(res.json<{ access_token: string }>().access_token).tid).toBe(added.tenantId);
      } finally {
        await t2.close();
      }
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
