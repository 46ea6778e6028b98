import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { QueueName } from '../../jobs/contracts.js';
import { createApiKey } from '../../src/app/access.js';
import type { Gateway } from '../../src/gateway.js';
import { DASHBOARD_PATH, LOGIN_PATH, LOGOUT_PATH, SESSION_COOKIE } from '../../src/http/dashboard.js';
import { AuditLogDocument } from '../generated/graphql.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';
import { gql, seedPbx, startTestGateway } from '../support/gateway.js';
import { eventually } from '../support/wait.js';

type Tenant = Awaited<ReturnType<typeof seedPbx>>;

const BOGUS_JOB = 'test-no-such-job';
const API = `${DASHBOARD_PATH}/api`;

/** Posts the login form as a browser does (urlencoded body, no key in the URL). */
function postLogin(url: string, key: string, headers: Record<string, string> = {}, path = LOGIN_PATH) {
  return fetch(`${url}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ key }).toString(),
  });
}

function sessionCookie(res: Response): { value: string; header: string } | null {
  const header = res.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`));
  if (!header) return null;
  return { value: header.slice(SESSION_COOKIE.length + 1).split(';')[0], header };
}

describeEachDb('job dashboard at /admin/queues: sessions, roles, each PBX its own jobs', (leg) => {
  let db: TestDatabase;
  let gw: Gateway;
  let a: Tenant;
  let b: Tenant;
  let redis: Redis;
  const cookies: { admin: string; viewer: string; adminB: string } = { admin: '', viewer: '', adminB: '' };
  let jobA: string;
  let jobB: string;

  const get = (path: string, cookie?: string) =>
    fetch(`${gw.url}${path}`, {
      redirect: 'manual',
      headers: cookie ? { cookie: `${SESSION_COOKIE}=${cookie}` } : {},
    });
  const put = (path: string, cookie: string) =>
    fetch(`${gw.url}${path}`, { method: 'PUT', headers: { cookie: `${SESSION_COOKIE}=${cookie}` } });
  const login = async (key: string) => {
    const res = await postLogin(gw.url, key);
    expect(res.status).toBe(303);
    return sessionCookie(res)?.value as string;
  };
  const enqueueFailing = async (pbxId: string) =>
    (await gw.queues.queue(QueueName.System).add(BOGUS_JOB, { pbxId }, { attempts: 1 })).id as string;
  const jobState = async (id: string) => (await gw.queues.queue(QueueName.System).getJob(id))?.getState();

  beforeAll(async () => {
    db = await leg.create();
    // Every test signs in from 127.0.0.1: the sign-in limit (test/http/edge-limits.e2e.spec.ts) is raised here.
    gw = await startTestGateway(db, {
      LOGIN_RATE_LIMIT_PER_MINUTE: '1000',
      AUTH_FAILURES_PER_MINUTE: '1000',
    });
    redis = new Redis(inject('redisUrl'));
    a = await seedPbx(gw, { name: 'Alpha' });
    b = await seedPbx(gw, { name: 'Bravo' });
    jobA = await enqueueFailing(a.pbx.id);
    jobB = await enqueueFailing(b.pbx.id);
    await eventually(async () => (await jobState(jobA)) === 'failed' && (await jobState(jobB)) === 'failed', {
      message: 'both jobs to fail',
    });
    cookies.admin = await login(a.keys.admin);
    cookies.viewer = await login(a.keys.viewer);
    cookies.adminB = await login(b.keys.admin);
  });
  afterAll(async () => {
    redis?.disconnect();
    await gw?.stop();
    await db?.drop();
  });

  it('shows the login form without a session, and refuses the API and static files with 401', async () => {
    for (const path of [DASHBOARD_PATH, `${DASHBOARD_PATH}/`, `${DASHBOARD_PATH}/queue/system`]) {
      const res = await get(path);
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/text\/html/);
      const html = await res.text();
      expect(html).toContain(`<form method="post" action="${LOGIN_PATH}"`);
      expect(html).toMatch(/<input id="key" name="key" type="password"/);
      expect(html).not.toContain('__UI_CONFIG__');
    }
    expect((await get(`${API}/queues`)).status).toBe(401);
    const page = await (await get(DASHBOARD_PATH, cookies.admin)).text();
    const script = /src="(static\/js\/[^"]+)"/.exec(page)?.[1] as string;
    expect((await get(`${DASHBOARD_PATH}/${script}`, cookies.admin)).status).toBe(200);
    expect((await get(`${DASHBOARD_PATH}/${script}`)).status).toBe(401);
    const form = await get(LOGIN_PATH);
    expect(form.status).toBe(200);
    expect(form.headers.get('cache-control')).toBe('no-store');
    expect(form.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });

  it('refuses a wrong key with 401, re-showing the form with an error and setting no cookie', async () => {
    for (const key of ['epg_wrong-key', 'garbage', ' ']) {
      const res = await postLogin(gw.url, key);
      expect(res.status).toBe(401);
      const html = await res.text();
      expect(html).toContain('id="login-error"');
      expect(html).toContain(`<form method="post" action="${LOGIN_PATH}"`);
      expect(html).not.toContain(key.trim() || '<never>');
      expect(sessionCookie(res)).toBeNull();
    }
  });

  it('refuses a LINKUS key with 403: the dashboard is for ADMIN and VIEWER keys', async () => {
    const res = await postLogin(gw.url, a.keys.linkus);
    expect(res.status).toBe(403);
    expect(await res.text()).toMatch(/ADMIN or VIEWER key; this key has LINKUS/);
    expect(sessionCookie(res)).toBeNull();
  });

  it('logs in with an ADMIN key: a 303 to the board and an HttpOnly, SameSite=Strict, Path=/admin session cookie', async () => {
    const res = await postLogin(gw.url, a.keys.admin);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(DASHBOARD_PATH);
    const cookie = sessionCookie(res);
    expect(cookie?.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const flags = (cookie?.header ?? '').split(';').map((f) => f.trim().toLowerCase());
    expect(flags).toContain('httponly');
    expect(flags).toContain('samesite=strict');
    expect(flags).toContain('path=/admin');
    expect(flags).toContain(`max-age=${8 * 3600}`);
    expect(cookie?.header).not.toContain(a.keys.admin);
    // Over HTTPS (a TLS-terminating proxy says so) the cookie is Secure too.
    const tls = sessionCookie(await postLogin(gw.url, a.keys.admin, { 'x-forwarded-proto': 'https' }));
    expect(tls?.header.toLowerCase()).toContain('; secure');

    const board = await get(DASHBOARD_PATH, cookie?.value);
    expect(board.status).toBe(200);
    const html = await board.text();
    expect(html).toContain('<base href="/admin/queues/"');
    expect(html).toContain('Gateway jobs');
    expect(board.headers.get('content-security-policy')).toContain("connect-src 'self'");
    const api = await get(
      `${API}/queues?activeQueue=system&status=failed&page=1&jobsPerPage=50`,
      cookie?.value,
    );
    expect(api.status).toBe(200);
    const body = (await api.json()) as { queues: Array<{ name: string; counts: Record<string, number> }> };
    expect(body.queues.map((q) => q.name).sort()).toEqual(Object.values(QueueName).sort());
    expect(body.queues.find((q) => q.name === QueueName.System)?.counts.failed).toBeGreaterThanOrEqual(2);
  });

  it('keeps the session in Redis under a hash of its id, with a TTL, and never stores the key', async () => {
    const prefix = gw.config.redis.queuePrefix;
    const names = await redis.keys(`${prefix}:dashboard-session:*`);
    expect(names.length).toBeGreaterThanOrEqual(3);
    for (const name of names) {
      expect(name).not.toContain(cookies.admin);
      const ttl = await redis.ttl(name);
      expect(ttl).toBeGreaterThan(8 * 3600 - 120);
      expect(ttl).toBeLessThanOrEqual(8 * 3600);
    }
    for (const name of await redis.keys(`${prefix}:*`)) {
      const type = await redis.type(name);
      const dump =
        type === 'string'
          ? await redis.get(name)
          : type === 'hash'
            ? JSON.stringify(await redis.hgetall(name))
            : type === 'list'
              ? JSON.stringify(await redis.lrange(name, 0, -1))
              : type === 'zset'
                ? JSON.stringify(await redis.zrange(name, 0, -1))
                : type === 'set'
                  ? JSON.stringify(await redis.smembers(name))
                  : '';
      for (const key of Object.values(a.keys)) expect(dump).not.toContain(key);
      expect(dump).not.toContain(cookies.admin);
    }
  });

  it('never takes a key from a URL', async () => {
    const viaQuery = await fetch(`${gw.url}${LOGIN_PATH}?key=${encodeURIComponent(a.keys.admin)}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
    });
    expect(viaQuery.status).toBe(401);
    expect(sessionCookie(viaQuery)).toBeNull();
    const getForm = await get(`${LOGIN_PATH}?key=${encodeURIComponent(a.keys.admin)}`);
    expect(getForm.status).toBe(200);
    expect(sessionCookie(getForm)).toBeNull();
    const board = await get(`${DASHBOARD_PATH}?key=${encodeURIComponent(a.keys.admin)}`);
    expect(board.status).toBe(401);
    // The redirect after login carries nothing but the board's path.
    expect((await postLogin(gw.url, a.keys.viewer)).headers.get('location')).toBe(DASHBOARD_PATH);
  });

  it('refuses a login form posted from another site', async () => {
    const res = await postLogin(gw.url, a.keys.admin, { origin: 'https://evil.example' });
    expect(res.status).toBe(403);
    expect(sessionCookie(res)).toBeNull();
    const fetchSite = await postLogin(gw.url, a.keys.admin, { 'sec-fetch-site': 'cross-site' });
    expect(fetchSite.status).toBe(403);
  });

  it('lets a VIEWER look but not change: its board is read-only and the mutating API answers 403', async () => {
    const res = await get(
      `${API}/queues?activeQueue=system&status=failed&page=1&jobsPerPage=50`,
      cookies.viewer,
    );
    const body = (await res.json()) as {
      queues: Array<{
        name: string;
        readOnlyMode: boolean;
        allowRetries: boolean;
        jobs: Array<{ id: string }>;
      }>;
    };
    for (const q of body.queues) expect(q).toMatchObject({ readOnlyMode: true, allowRetries: false });
    const system = body.queues.find((q) => q.name === QueueName.System);
    expect(system?.jobs.map((j) => j.id)).toContain(jobA);
    for (const path of [
      `${API}/queues/system/${jobA}/retry`,
      `${API}/queues/system/${jobA}/clean`,
      `${API}/queues/system/retry/failed`,
      `${API}/queues/system/pause`,
    ]) {
      const r = await put(path, cookies.viewer);
      expect([path, r.status]).toEqual([path, 403]);
    }
    expect(await jobState(jobA)).toBe('failed');
  });

  it("lets an ADMIN retry its own PBX's failed job, but not another PBX's, nor act on the whole queue", async () => {
    const foreign = await put(`${API}/queues/system/${jobB}/retry`, cookies.admin);
    expect(foreign.status).toBe(403);
    expect(await jobState(jobB)).toBe('failed');
    for (const path of [
      `${API}/queues/system/pause`,
      `${API}/queues/system/retry/failed`,
      `${API}/queues/system/empty`,
    ]) {
      expect([path, (await put(path, cookies.admin)).status]).toEqual([path, 403]);
    }
    expect((await get(`${API}/redis/stats`, cookies.admin)).status).toBe(403);
    const own = await put(`${API}/queues/system/${jobA}/retry`, cookies.admin);
    expect(own.status).toBe(204);
    const job = await eventually(
      async () => {
        const j = await gw.queues.queue(QueueName.System).getJob(jobA);
        return j && j.attemptsMade === 2 && (await j.getState()) === 'failed' ? j : false;
      },
      { message: 'the retried job to fail again' },
    );
    expect(job.failedReason).toMatch(/does not belong/);
  });

  it("shows another PBX's jobs without their content (payload, error, logs)", async () => {
    const mine = (await (await get(`${API}/queues/system/${jobA}`, cookies.admin)).json()) as {
      job: { data: { pbxId?: string }; failedReason: string };
    };
    expect(mine.job.data.pbxId).toBe(a.pbx.id);
    expect(mine.job.failedReason).toMatch(/does not belong/);
    const theirs = (await (await get(`${API}/queues/system/${jobB}`, cookies.admin)).json()) as {
      job: { id: string; name: string; data: unknown; failedReason: string; stacktrace: unknown[] };
    };
    // Not even its id: job ids name a PBX, its runs and its schedule times.
    expect(theirs.job).toMatchObject({ name: BOGUS_JOB, data: {}, stacktrace: [] });
    expect(theirs.job.id).toMatch(/^hidden-[0-9a-f]{12}$/);
    expect(theirs.job.failedReason).toMatch(/not of your PBX/);
    expect(JSON.stringify(theirs)).not.toContain(b.pbx.id);
    const list = await get(
      `${API}/queues?activeQueue=system&status=failed&page=1&jobsPerPage=50`,
      cookies.admin,
    );
    expect(await list.text()).not.toContain(b.pbx.id);
    expect((await get(`${API}/queues/system/${jobB}/logs`, cookies.admin)).status).toBe(403);
    expect((await get(`${API}/queues/system/${jobA}/logs`, cookies.admin)).status).toBe(200);
    // ... and the other way round.
    const fromB = await get(`${API}/queues/system/${jobB}`, cookies.adminB);
    expect(((await fromB.json()) as { job: { data: { pbxId?: string } } }).job.data.pbxId).toBe(b.pbx.id);
  });

  it('writes dashboard changes, and refused attempts, into the PBX audit log', async () => {
    const res = await gql(gw.url, a.keys.admin, AuditLogDocument, { first: 100 });
    const entries = (res.body.data?.auditLog.nodes ?? []).map((e) => ({
      operation: e.operation,
      outcome: e.outcome,
      role: e.role,
      arguments: e.arguments,
    }));
    expect(entries).toContainEqual({
      operation: 'dashboard.retryJob',
      outcome: 'OK',
      role: 'ADMIN',
      arguments: { queueName: 'system', jobId: jobA },
    });
    expect(entries).toContainEqual({
      operation: 'dashboard.retryJob',
      outcome: 'FORBIDDEN',
      role: 'ADMIN',
      arguments: { queueName: 'system', jobId: jobB },
    });
    expect(entries).toContainEqual({
      operation: 'dashboard.retryJob',
      outcome: 'FORBIDDEN',
      role: 'VIEWER',
      arguments: { queueName: 'system', jobId: jobA },
    });
    expect(entries).toContainEqual({
      operation: 'dashboard PUT /api/queues/:queueName/pause',
      outcome: 'FORBIDDEN',
      role: 'ADMIN',
      arguments: { queueName: 'system' },
    });
    // Nothing of PBX A's dashboard use lands in PBX B's log.
    const other = await gql(gw.url, b.keys.admin, AuditLogDocument, { first: 100 });
    expect(other.body.data?.auditLog.nodes.filter((e) => e.operation.startsWith('dashboard'))).toEqual([]);
  });

  it('replaces the previous session of a browser at a new login', async () => {
    const first = await login(a.keys.viewer);
    const res = await fetch(`${gw.url}${LOGIN_PATH}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `${SESSION_COOKIE}=${first}` },
      body: new URLSearchParams({ key: a.keys.admin }).toString(),
    });
    const second = sessionCookie(res)?.value as string;
    expect(second).not.toBe(first);
    expect((await get(`${API}/queues`, first)).status).toBe(401);
    expect((await get(`${API}/queues`, second)).status).toBe(200);
  });

  it('logs out: the session is gone from Redis and the old cookie no longer opens the board', async () => {
    const cookie = await login(a.keys.admin);
    expect((await get(`${API}/queues`, cookie)).status).toBe(200);
    const stored = `${gw.config.redis.queuePrefix}:dashboard-session:${createHash('sha256').update(cookie).digest('hex')}`;
    expect(await redis.exists(stored)).toBe(1);
    const res = await get(LOGOUT_PATH, cookie);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(DASHBOARD_PATH);
    const cleared = sessionCookie(res);
    expect(cleared?.value).toBe('');
    expect(cleared?.header.toLowerCase()).toContain('path=/admin');
    expect(await redis.exists(stored)).toBe(0);
    expect((await get(`${API}/queues`, cookie)).status).toBe(401);
    expect((await get(DASHBOARD_PATH, cookie)).status).toBe(401);
  });

  it('ends a session when its key is revoked', async () => {
    const store = gw.openStore();
    const { key } = await createApiKey(store, { pbxId: a.pbx.id, role: 'viewer', label: 'dashboard-revoke' });
    const cookie = await login(key);
    expect((await get(`${API}/queues`, cookie)).status).toBe(200);
    await store.tenants.revokeKeys(a.pbx.id, 'dashboard-revoke', new Date());
    expect((await get(`${API}/queues`, cookie)).status).toBe(401);
  });

  it('ignores a forged or unknown session id', async () => {
    for (const forged of ['x', 'A'.repeat(43), `${cookies.admin}x`]) {
      expect((await get(`${API}/queues`, forged)).status).toBe(401);
    }
  });
});
