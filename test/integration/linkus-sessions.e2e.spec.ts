import { createHash, randomBytes } from 'node:crypto';
import { createClient } from 'graphql-ws';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { LinkusSessions } from '../../src/app/linkus-sessions.js';
import { ACCESS_TOKEN_TTL_S } from '../../src/app/linkus-tokens.js';
import type { LinkusSignInGrant } from '../../src/app/ports/linkus-sso.port.js';
import { SecretBox } from '../../src/app/secret-box.js';
import type { SyncedContactInput } from '../../src/domain/contact.types.js';
import { toE164 } from '../../src/domain/phone-number.js';
import { type Gateway, startGateway } from '../../src/gateway.js';
import { RedisKeyRevocations } from '../../src/redis/key-revocation.redis.js';
import { RedisSignInCodeStore } from '../../src/redis/linkus-codes.redis.js';
import type { AdminUser } from '../../src/sandbox/index.js';
import {
  AuditLogDocument,
  DisableDocument,
  LinkusMeDocument,
  LinkusSessionsDocument,
  LookupCallerDocument,
  PauseDocument,
  RevokeLinkusSessionsDocument,
  SearchContactsDocument,
} from '../generated/graphql.js';
import { describeEachDb } from '../support/db.js';
import { gql, seedPbx, TEST_SECRET_KEY } from '../support/gateway.js';
import { databaseUrl, runScript } from '../support/process.js';
import { eventually } from '../support/wait.js';
import { type PbxClient, type SyncWorld, startSyncWorld } from './sync-world.js';

/**
 * S2/S4: Linkus sessions end to end. A grant is what the Microsoft leg (another branch) hands
 * over once a synced user is proven: here it is made with `services.linkusSessions.issue`
 * directly. Everything after it goes over real HTTP and WebSocket, against a gateway on both
 * databases and a real Redis, with the sandbox tenant as the directory the extensions are synced
 * from; a second gateway process on the same database and Redis stands for another replica.
 */

const REDIRECT_URI = 'https://linkus.example.com/sso/callback';
const REVOKE_DEADLINE_MS = 5_000;

const verifierPair = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

type TokenAnswer = {
  status: number;
  headers: Headers;
  body: {
    access_token?: string;
    token_type?: string;
    expires_in?: number;
    refresh_token?: string;
    extension?: { number: string; name: string };
    error?: string;
    error_description?: string;
    code?: string;
  };
};

async function postToken(url: string, params: Record<string, string>, json = false): Promise<TokenAnswer> {
  const res = await fetch(`${url}/linkus/sso/token`, {
    method: 'POST',
    headers: { 'content-type': json ? 'application/json' : 'application/x-www-form-urlencoded' },
    body: json ? JSON.stringify(params) : new URLSearchParams(params).toString(),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as TokenAnswer['body'] };
}

let serial = 0;
const contact = (displayName: string, numbers: string[]): SyncedContactInput => {
  serial += 1;
  const [firstName, ...rest] = displayName.split(' ');
  return {
    firstName,
    lastName: rest.join(' ') || null,
    displayName,
    company: null,
    jobTitle: null,
    emails: [],
    numbers: numbers.map((dialled) => ({ kind: 'BUSINESS' as const, dialled, e164: toE164(dialled, 'US') })),
    source: { mailboxId: 'mbx', folderId: 'contacts', contactId: `outlook-${serial}`, changeKey: 'ck' },
  };
};

describeEachDb('S2/S4 Linkus sessions: tokens, refresh, revocation', (leg) => {
  let world: SyncWorld;
  let p: PbxClient;
  let gw: Gateway;
  let other: Gateway;
  let redis: Redis;
  const users: Record<string, AdminUser> = {};
  const ext: Record<string, { id: string; number: string; email: string | null }> = {};

  const grantFor = (name: string, challenge: string): LinkusSignInGrant => ({
    pbxId: p.pbxId,
    extensionId: ext[name].id,
    entraObjectId: users[name].id,
    redirectUri: REDIRECT_URI,
    codeChallenge: challenge,
    codeChallengeMethod: 'S256',
  });

  /** The Microsoft leg's hand-over, then the Linkus client's redemption: a session. */
  async function signIn(name: string, url = gw.url) {
    const { verifier, challenge } = verifierPair();
    const code = await gw.services.linkusSessions.issue(grantFor(name, challenge));
    const res = await postToken(url, {
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: REDIRECT_URI,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return { ...res.body, code, verifier } as Required<TokenAnswer['body']> & {
      code: string;
      verifier: string;
    };
  }

  const me = (url: string, token: string) => gql(url, token, LinkusMeDocument);
  /** An access token signed with the gateway's own key by a clock `behindMs` behind. */
  const signBehind = (behindMs: number, claims: { sessionId: string; pbxId: string; extensionId: string }) =>
    new LinkusSessions({
      codes: new RedisSignInCodeStore(redis, gw.config.redis.queuePrefix),
      openStore: gw.openStore,
      secrets: new SecretBox(Buffer.from(TEST_SECRET_KEY, 'hex')),
      revocations: new RedisKeyRevocations(redis, gw.config.redis.queuePrefix),
      now: () => new Date(Date.now() - behindMs),
      log: () => {},
    }).keys.sign(claims);
  const refresh = (token: string) => postToken(gw.url, { grant_type: 'refresh_token', refresh_token: token });

  beforeAll(async () => {
    world = await startSyncWorld(leg);
    gw = world.gateway;
    p = await world.pbx();
    for (const name of ['Alice', 'Bob', 'Carol']) users[name] = await world.user(`Linkus${name}`);
    await p.saveUserRule();
    const byUser = await p.extensionsByUser();
    for (const name of Object.keys(users)) {
      const e = byUser.get(users[name].id);
      if (!e) throw new Error(`${name} has no extension`);
      ext[name] = { id: e.id, number: e.number, email: e.email ?? null };
    }
    // Another replica: same database, same Redis and prefix, API only.
    other = await startGateway({ ...gw.config, role: 'api' });
    redis = new Redis(inject('redisUrl'));
  });
  afterAll(async () => {
    await other?.stop();
    await redis?.quit();
    await world?.cleanup();
    await world?.close();
  });

  it('S2 a code redeemed with its verifier gives a session: JSON, no-store, the extension; `me` answers as the LINKUS caller', async () => {
    const { verifier, challenge } = verifierPair();
    const code = await gw.services.linkusSessions.issue(grantFor('Alice', challenge));
    const res = await postToken(gw.url, {
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: REDIRECT_URI,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 600,
      extension: { number: ext.Alice.number, name: 'LinkusAlice Test' },
    });
    expect(res.body.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const [header, payload] = String(res.body.access_token)
      .split('.')
      .slice(0, 2)
      .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
    expect(header).toMatchObject({ alg: 'HS256', kid: expect.any(String) });
    expect(payload).toMatchObject({ pbx: p.pbxId, ext: ext.Alice.id, sub: expect.any(String) });
    expect(payload.exp - payload.iat).toBe(600);

    for (const url of [gw.url, other.url]) {
      const who = await me(url, String(res.body.access_token));
      expect(who.body.errors).toBeUndefined();
      expect(who.body.data?.me).toEqual({
        role: 'LINKUS',
        pbxId: p.pbxId,
        keyId: payload.sub,
        extension: {
          id: ext.Alice.id,
          number: ext.Alice.number,
          name: 'LinkusAlice Test',
          email: ext.Alice.email,
        },
      });
    }
    // The admin sees the session, never a token.
    const list = await gql(gw.url, p.key, LinkusSessionsDocument, { extensionId: ext.Alice.id });
    const row = list.body.data?.linkusSessions.find((s) => s.id === payload.sub);
    expect(row).toMatchObject({ extensionId: ext.Alice.id, revokedAt: null, revokedReason: null });
    expect(JSON.stringify(list.body)).not.toContain(String(res.body.refresh_token));
    // Only its hash is stored.
    const store = gw.openStore();
    const stored = await store.linkusSessions.findRefreshToken(
      createHash('sha256').update(String(res.body.refresh_token)).digest('hex'),
    );
    expect(stored?.session.id).toBe(payload.sub);
  });

  it('S2 the token endpoint takes JSON too; an unknown grant_type is unsupported_grant_type, a missing code invalid_request', async () => {
    const { verifier, challenge } = verifierPair();
    const code = await gw.services.linkusSessions.issue(grantFor('Alice', challenge));
    const ok = await postToken(
      gw.url,
      { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT_URI },
      true,
    );
    expect(ok.status).toBe(200);
    const odd = await postToken(gw.url, { grant_type: 'password', username: 'x' });
    expect(odd).toMatchObject({
      status: 400,
      body: { error: 'unsupported_grant_type', code: 'INVALID_REQUEST' },
    });
    const missing = await postToken(gw.url, {
      grant_type: 'authorization_code',
      code_verifier: verifier,
      redirect_uri: REDIRECT_URI,
    });
    expect(missing).toMatchObject({
      status: 400,
      body: { error: 'invalid_request', code: 'INVALID_REQUEST' },
    });
    expect(missing.headers.get('cache-control')).toBe('no-store');
  });

  it('S3 a replayed code is refused (CODE_REPLAYED) and the session its first redemption made is revoked', async () => {
    const first = await signIn('Alice');
    expect((await me(gw.url, first.access_token)).status).toBe(200);
    const again = await postToken(gw.url, {
      grant_type: 'authorization_code',
      code: first.code,
      code_verifier: first.verifier,
      redirect_uri: REDIRECT_URI,
    });
    expect(again).toMatchObject({ status: 400, body: { error: 'invalid_grant', code: 'CODE_REPLAYED' } });
    expect((await me(gw.url, first.access_token)).status).toBe(401);
    await eventually(async () => expect((await me(other.url, first.access_token)).status).toBe(401), {
      timeout: REVOKE_DEADLINE_MS,
    });
    expect((await refresh(first.refresh_token)).body.code).toBe('SESSION_REVOKED');
  });

  it('S3 an expired code is refused (CODE_EXPIRED); an unknown one CODE_INVALID', async () => {
    // The same Redis codes, issued with a lifetime of 0 (injectable, instead of waiting 60 s).
    const expiring = new LinkusSessions({
      codes: new RedisSignInCodeStore(redis, gw.config.redis.queuePrefix),
      openStore: gw.openStore,
      secrets: new SecretBox(Buffer.from(TEST_SECRET_KEY, 'hex')),
      revocations: new RedisKeyRevocations(redis, gw.config.redis.queuePrefix),
      now: () => new Date(),
      log: () => {},
      codeTtlMs: 0,
    });
    const { verifier, challenge } = verifierPair();
    const code = await expiring.issue(grantFor('Alice', challenge));
    const res = await postToken(gw.url, {
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: REDIRECT_URI,
    });
    expect(res).toMatchObject({ status: 400, body: { error: 'invalid_grant', code: 'CODE_EXPIRED' } });
    const unknown = await postToken(gw.url, {
      grant_type: 'authorization_code',
      code: randomBytes(32).toString('base64url'),
      code_verifier: verifier,
      redirect_uri: REDIRECT_URI,
    });
    expect(unknown).toMatchObject({ status: 400, body: { error: 'invalid_grant', code: 'CODE_INVALID' } });
  });

  it('S3 a wrong verifier is PKCE_MISMATCH, a wrong redirect_uri invalid_grant; neither gives a session, and the code is spent', async () => {
    const { verifier, challenge } = verifierPair();
    const issue = () => gw.services.linkusSessions.issue(grantFor('Alice', challenge));
    const wrongVerifier = await issue();
    const bad = await postToken(gw.url, {
      grant_type: 'authorization_code',
      code: wrongVerifier,
      code_verifier: verifierPair().verifier,
      redirect_uri: REDIRECT_URI,
    });
    expect(bad).toMatchObject({ status: 400, body: { error: 'invalid_grant', code: 'PKCE_MISMATCH' } });
    // Spent: the right verifier after a wrong one is a replay, not a session.
    const after = await postToken(gw.url, {
      grant_type: 'authorization_code',
      code: wrongVerifier,
      code_verifier: verifier,
      redirect_uri: REDIRECT_URI,
    });
    expect(after.body.code).toBe('CODE_REPLAYED');
    const wrongRedirect = await postToken(gw.url, {
      grant_type: 'authorization_code',
      code: await issue(),
      code_verifier: verifier,
      redirect_uri: 'https://evil.example.com/callback',
    });
    expect(wrongRedirect).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant', code: 'CODE_INVALID' },
    });
    expect(wrongRedirect.body.access_token).toBeUndefined();
  });

  it('S4 refresh rotates: a new access and refresh token; the old refresh token used again revokes the family, the new one with it', async () => {
    const s = await signIn('Bob');
    const r1 = await refresh(s.refresh_token);
    expect(r1.status).toBe(200);
    expect(r1.body.refresh_token).not.toBe(s.refresh_token);
    expect(r1.body.access_token).not.toBe(s.access_token);
    expect((await me(gw.url, String(r1.body.access_token))).body.data?.me.extension?.id).toBe(ext.Bob.id);
    // The old one again: reuse. The whole family ends.
    const reuse = await refresh(s.refresh_token);
    expect(reuse).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant', code: 'REFRESH_TOKEN_REUSED' },
    });
    expect((await refresh(String(r1.body.refresh_token))).body.code).toBe('SESSION_REVOKED');
    expect((await me(gw.url, String(r1.body.access_token))).status).toBe(401);
    expect((await me(gw.url, s.access_token)).status).toBe(401);
    const unknown = await refresh(randomBytes(32).toString('base64url'));
    expect(unknown.body.code).toBe('REFRESH_TOKEN_INVALID');
  });

  it('S4 of two refreshes racing with one token, one rotates and the other is a reuse', async () => {
    const s = await signIn('Bob');
    const [a, b] = await Promise.all([refresh(s.refresh_token), refresh(s.refresh_token)]);
    const codes = [a, b].map((r) => (r.status === 200 ? 'OK' : r.body.code)).sort();
    expect(codes).toEqual(['OK', 'REFRESH_TOKEN_REUSED']);
  });

  it('S4 sign-out ends the session (refresh token or access token)', async () => {
    const s = await signIn('Bob');
    const out = await fetch(`${gw.url}/linkus/sso/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ refresh_token: s.refresh_token }).toString(),
    });
    expect(out.status).toBe(200);
    expect((await me(gw.url, s.access_token)).status).toBe(401);
    expect((await refresh(s.refresh_token)).body.code).toBe('SESSION_REVOKED');
    const t = await signIn('Bob');
    await fetch(`${gw.url}/linkus/sso/logout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.access_token}` },
    });
    expect((await me(gw.url, t.access_token)).status).toBe(401);
  });

  it('S4 the admin revokes an extension’s sessions: HTTP refused at once, open graphql-ws closed within 5 s on both processes; audited; a VIEWER may not', async () => {
    const s = await signIn('Carol');
    const closed: Array<Promise<{ code: number; at: number }>> = [];
    for (const url of [gw.url, other.url]) {
      let onClose: (c: { code: number; at: number }) => void = () => {};
      closed.push(new Promise((resolve) => (onClose = resolve)));
      // Not lazy: the socket stays open with no operation running (a LINKUS caller has no
      // subscription field to hold it open with).
      const client = createClient({
        url: `${url.replace(/^http/, 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${s.access_token}` },
        lazy: false,
        // The close this test waits for is not an error to print.
        onNonLazyError: () => {},
        retryAttempts: 0,
        shouldRetry: () => false,
        on: { closed: (event) => onClose({ code: (event as { code: number }).code, at: Date.now() }) },
      });
      const answered = await new Promise((resolve, reject) =>
        client.subscribe(
          { query: '{ me { extension { id } } }' },
          { next: resolve, error: reject, complete() {} },
        ),
      );
      expect(answered).toMatchObject({ data: { me: { extension: { id: ext.Carol.id } } } });
    }
    const viewer = (await seedPbx(gw)).keys.viewer; // another PBX's viewer: refused anyway
    expect(
      (await gql(gw.url, viewer, RevokeLinkusSessionsDocument, { extensionId: ext.Carol.id })).body
        .errors?.[0]?.extensions?.code,
    ).toMatch(/FORBIDDEN|NOT_FOUND/);

    const t0 = Date.now();
    const res = await gql(gw.url, p.key, RevokeLinkusSessionsDocument, { extensionId: ext.Carol.id });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.revokeLinkusSessions.revoked).toBeGreaterThanOrEqual(1);
    expect(res.body.data?.revokeLinkusSessions.sessions[0]).toMatchObject({ revokedReason: 'ADMIN_REVOKED' });
    expect((await me(gw.url, s.access_token)).status).toBe(401);
    await eventually(async () => expect((await me(other.url, s.access_token)).status).toBe(401), {
      timeout: REVOKE_DEADLINE_MS,
    });
    const ends = await Promise.all(closed);
    for (const end of ends) {
      expect(end.code).toBe(4403);
      expect(end.at - t0).toBeLessThan(REVOKE_DEADLINE_MS);
    }
    expect((await refresh(s.refresh_token)).body.code).toBe('SESSION_REVOKED');
    const audit = await gql(gw.url, p.key, AuditLogDocument, { first: 5 });
    expect(audit.body.data?.auditLog.nodes.map((n) => n.operation)).toContain('revokeLinkusSessions');
  });

  it('S4 a session sees its own personal contacts, never another extension’s', async () => {
    const store = gw.openStore();
    await store.contacts.upsertSynced(p.pbxId, { kind: 'EXTENSION', extensionId: ext.Alice.id }, [
      contact('Zed Alicefriend', ['+1 415 555 0101']),
    ]);
    await store.contacts.upsertSynced(p.pbxId, { kind: 'EXTENSION', extensionId: ext.Bob.id }, [
      contact('Zed Bobsecret', ['+1 415 555 0199']),
    ]);
    const alice = await signIn('Alice');
    const search = await gql(gw.url, alice.access_token, SearchContactsDocument, { query: 'Zed', first: 50 });
    expect(search.body.errors).toBeUndefined();
    const names = search.body.data?.searchContacts.edges.map((e) => e.node.displayName) ?? [];
    expect(names).toContain('Zed Alicefriend');
    expect(names).not.toContain('Zed Bobsecret');
    const own = await gql(gw.url, alice.access_token, LookupCallerDocument, { number: '+14155550101' });
    expect(own.body.data?.lookupCaller).toMatchObject({ source: 'PERSONAL_CONTACT' });
    const bobs = await gql(gw.url, alice.access_token, LookupCallerDocument, { number: '+14155550199' });
    expect(bobs.body.errors).toBeUndefined();
    expect(bobs.body.data?.lookupCaller).toBeNull();
  });

  it('S4 access tokens are signed with a key sealed at rest; after a rotation, tokens of the previous key still work and new ones use the new key', async () => {
    const before = await signIn('Alice');
    const kidOf = (t: string) => JSON.parse(Buffer.from(t.split('.')[0], 'base64url').toString()).kid;
    const rows = await gw.openStore().linkusSessions.signingKeys(5);
    expect(rows.length).toBeGreaterThanOrEqual(1);
    for (const row of rows) expect(row.sealed).toMatch(/^v1\./);
    const kid = await gw.services.linkusSessions.keys.rotate();
    expect(kid).not.toBe(kidOf(before.access_token));
    const after = await signIn('Alice');
    expect(kidOf(after.access_token)).toBe(kid);
    // The other process has not seen the new key: it loads it on the first token naming it.
    for (const url of [gw.url, other.url]) {
      expect((await me(url, before.access_token)).status).toBe(200);
      expect((await me(url, after.access_token)).status).toBe(200);
    }
    // A token of a key that is not the gateway's is refused.
    const [h, b] = after.access_token.split('.');
    expect((await me(gw.url, `${h}.${b}.${randomBytes(32).toString('base64url')}`)).status).toBe(401);
  });

  it('S4 `npm run keys -- rotate-linkus-signing-key` adds a sealed signing key; tokens already out keep working', async () => {
    const before = await signIn('Alice');
    const kidOf = (t: string) => JSON.parse(Buffer.from(t.split('.')[0], 'base64url').toString()).kid;
    const res = await runScript('src/cli/keys.ts', ['rotate-linkus-signing-key'], {
      DATABASE_URL: databaseUrl(world.db.config),
      SECRET_KEY: TEST_SECRET_KEY,
      LOG_LEVEL: 'silent',
    });
    expect(res.code, res.stderr).toBe(0);
    const [newest] = await gw.openStore().linkusSessions.signingKeys(1);
    expect(newest?.sealed).toMatch(/^v1\./);
    expect(res.stdout).toContain(`New signing key ${newest?.id}`);
    expect(newest?.id).not.toBe(kidOf(before.access_token));
    for (const url of [gw.url, other.url]) expect((await me(url, before.access_token)).status).toBe(200);
  });

  it('S4 an extension deleted by a sync ends its sessions (HTTP 401, refresh SESSION_REVOKED, EXTENSION_GONE)', async () => {
    const s = await signIn('Carol');
    expect((await me(gw.url, s.access_token)).status).toBe(200);
    await world.sandbox.admin.hardDeleteUser(users.Carol.id);
    const run = await p.sync(['USERS']);
    expect(run.users?.deleted).toBe(1);
    await eventually(async () => expect((await me(other.url, s.access_token)).status).toBe(401), {
      timeout: REVOKE_DEADLINE_MS,
    });
    expect((await me(gw.url, s.access_token)).status).toBe(401);
    expect((await refresh(s.refresh_token)).body.code).toBe('SESSION_REVOKED');
    const list = await gw.openStore().linkusSessions.listOfExtension(p.pbxId, ext.Carol.id, 10);
    expect(
      list.find(
        (x) => x.id === JSON.parse(Buffer.from(s.access_token.split('.')[1], 'base64url').toString()).sub,
      ),
    ).toMatchObject({ revokedReason: 'EXTENSION_GONE' });
  });

  it('S4 an access token past its 10 minutes is refused (401); the refresh token gives a fresh one', async () => {
    const s = await signIn('Alice');
    const sub = JSON.parse(Buffer.from(s.access_token.split('.')[1], 'base64url').toString()).sub as string;
    // Signed with the gateway's own key, by a clock 11 minutes behind: expired a minute ago.
    const stale = await signBehind(11 * 60_000, {
      sessionId: sub,
      pbxId: p.pbxId,
      extensionId: ext.Alice.id,
    });
    expect((await me(gw.url, stale)).status).toBe(401);
    const fresh = await refresh(s.refresh_token);
    expect(fresh.status).toBe(200);
    expect((await me(gw.url, String(fresh.body.access_token))).status).toBe(200);
  });

  it('S4 a graphql-ws socket opened with an access token is closed (4401) when the token expires; a refreshed token connects again', async () => {
    const s = await signIn('Bob');
    const sub = JSON.parse(Buffer.from(s.access_token.split('.')[1], 'base64url').toString()).sub as string;
    // Signed with the gateway's own key by a clock 9 min 57 s behind: it expires in about 3 s.
    const shortLived = await signBehind((ACCESS_TOKEN_TTL_S - 3) * 1000, {
      sessionId: sub,
      pbxId: p.pbxId,
      extensionId: ext.Bob.id,
    });
    const exp = JSON.parse(Buffer.from(shortLived.split('.')[1], 'base64url').toString()).exp as number;
    const open = async (token: string) => {
      let onClose: (c: { code: number; reason: string; at: number }) => void = () => {};
      const closed = new Promise<{ code: number; reason: string; at: number }>((r) => (onClose = r));
      const client = createClient({
        url: `${gw.url.replace(/^http/, 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${token}` },
        lazy: false,
        onNonLazyError: () => {},
        retryAttempts: 0,
        shouldRetry: () => false,
        on: {
          closed: (event) => {
            const e = event as { code: number; reason: string };
            onClose({ code: e.code, reason: String(e.reason), at: Date.now() });
          },
        },
      });
      const answered = await new Promise((resolve, reject) =>
        client.subscribe(
          { query: '{ me { extension { id } } }' },
          { next: resolve, error: reject, complete() {} },
        ),
      );
      return { client, answered, closed };
    };
    const first = await open(shortLived);
    expect(first.answered).toMatchObject({ data: { me: { extension: { id: ext.Bob.id } } } });
    const end = await first.closed;
    expect(end.code).toBe(4401);
    expect(end.reason).toMatch(/expired/);
    // Closed at the expiry (the token's `exp` has whole seconds), not at a later sweep.
    expect(end.at).toBeGreaterThanOrEqual(exp * 1000 - 1000);
    expect(end.at).toBeLessThan(exp * 1000 + 5000);
    const fresh = await refresh(s.refresh_token);
    expect(fresh.status).toBe(200);
    const again = await open(String(fresh.body.access_token));
    expect(again.answered).toMatchObject({ data: { me: { extension: { id: ext.Bob.id } } } });
    await again.client.dispose();
  });

  it('S4 a process that missed the announcement finds the revoked session at its next sweep (the database)', async () => {
    const s = await signIn('Alice');
    const sub = JSON.parse(Buffer.from(s.access_token.split('.')[1], 'base64url').toString()).sub as string;
    expect((await me(other.url, s.access_token)).status).toBe(200);
    // Revoked in the database only, as if the announcement had been lost.
    await gw.openStore().linkusSessions.revoke({ sessionId: sub }, 'ADMIN_REVOKED', new Date());
    expect((await me(other.url, s.access_token)).status).toBe(200);
    await other.services.linkusSessions.refreshRevoked();
    expect((await me(other.url, s.access_token)).status).toBe(401);
  });

  it('S4 a session is a LINKUS caller: admin fields are refused', async () => {
    const s = await signIn('Alice');
    const res = await gql(gw.url, s.access_token, LinkusSessionsDocument, { extensionId: ext.Alice.id });
    expect(res.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const revoke = await gql(gw.url, s.access_token, RevokeLinkusSessionsDocument, {
      extensionId: ext.Bob.id,
    });
    expect(revoke.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('S4 pausing user sync with its extensions deleted ends their sessions (another PBX: the others stay)', async () => {
    const q = await world.pbx();
    await q.saveUserRule();
    const alice = (await q.extensionsByUser()).get(users.Alice.id);
    if (!alice) throw new Error('Alice has no extension in the second PBX');
    const { verifier, challenge } = verifierPair();
    const code = await gw.services.linkusSessions.issue({
      ...grantFor('Alice', challenge),
      pbxId: q.pbxId,
      extensionId: alice.id,
    });
    const mine = await postToken(gw.url, {
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: REDIRECT_URI,
    });
    expect(mine.status).toBe(200);
    const elsewhere = await signIn('Alice');
    const paused = await q.raw(PauseDocument, { target: 'USERS', deleteSynced: true });
    expect(paused.body.errors).toBeUndefined();
    expect((await me(gw.url, String(mine.body.access_token))).status).toBe(401);
    expect((await refresh(String(mine.body.refresh_token))).body.code).toBe('SESSION_REVOKED');
    const [row] = await gw.openStore().linkusSessions.listOfExtension(q.pbxId, alice.id, 1);
    expect(row).toMatchObject({ revokedReason: 'EXTENSION_GONE' });
    // The first PBX's session of the same user is not touched.
    expect((await me(gw.url, elsewhere.access_token)).status).toBe(200);
  });

  it('S4 disabling the integration ends every session of the PBX; no new one is issued', async () => {
    const a = await signIn('Alice');
    const b = await signIn('Bob');
    const res = await p.raw(DisableDocument, { deleteExtensions: false, deleteGroups: false });
    expect(res.body.errors).toBeUndefined();
    for (const s of [a, b]) {
      expect((await me(gw.url, s.access_token)).status).toBe(401);
      expect((await refresh(s.refresh_token)).body.code).toBe('SESSION_REVOKED');
    }
    const { verifier, challenge } = verifierPair();
    const code = await gw.services.linkusSessions.issue(grantFor('Alice', challenge));
    const refused = await postToken(gw.url, {
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: REDIRECT_URI,
    });
    expect(refused).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant', code: 'INTEGRATION_DISABLED' },
    });
  });
});
