import path from 'node:path';
import { createClient } from 'graphql-ws';
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Gateway } from '../../src/gateway.js';
import { PORTAL_COOKIE, PORTAL_SESSION_PATH } from '../../src/http/portal.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';
import { seedPbx, testConfig } from '../support/gateway.js';

/**
 * Issue 17: the portal's sign-in and its session cookie at /graphql, without a browser. The
 * cookie is the job dashboard's session (same store, same checks) under the path `/`; /graphql
 * takes it from same-origin POSTs (JSON) and same-origin WebSocket upgrades only (CSRF, CSWSH).
 */
describeEachDb('portal session (issue 17)', (leg) => {
  let db: TestDatabase;
  let gw: Gateway;
  let keys: Awaited<ReturnType<typeof seedPbx>>['keys'];

  beforeAll(async () => {
    db = await leg.create();
    const { startGateway } = await import('../../src/gateway.js');
    // A portal directory that was never built.
    gw = await startGateway(testConfig(db), { portalDir: path.resolve('.data/test/no-such-portal') });
    keys = (await seedPbx(gw)).keys;
  });
  afterAll(async () => {
    await gw?.stop();
    await db?.drop();
  });

  const signIn = async (key: string) => {
    const r = await request(`${gw.url}${PORTAL_SESSION_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' },
      body: JSON.stringify({ key }),
    });
    const cookie = String(r.headers['set-cookie'] ?? '');
    return { status: r.statusCode, body: (await r.body.json()) as Record<string, unknown>, cookie };
  };
  const session = (cookie: string) => cookie.split(';')[0];
  const graphql = async (
    cookie: string,
    headers: Record<string, string> = {},
    query = '{ integration { status } }',
  ) => {
    const r = await request(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie, ...headers },
      body: JSON.stringify({ query }),
    });
    return {
      status: r.statusCode,
      body: (await r.body.json()) as {
        data?: Record<string, unknown>;
        errors?: Array<{ extensions?: { code?: string } }>;
      },
    };
  };

  it('refuses a wrong key and a LINKUS key with the code next to the key field; says when the portal is not built', async () => {
    const wrong = await signIn('epg_nope');
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ errors: [{ extensions: { code: 'UNAUTHENTICATED', field: 'key' } }] });
    expect(wrong.cookie).toBe('');
    const linkus = await signIn(keys.linkus);
    expect(linkus.status).toBe(403);
    expect(linkus.body).toMatchObject({ errors: [{ extensions: { code: 'FORBIDDEN', field: 'key' } }] });
    const crossSite = await request(`${gw.url}${PORTAL_SESSION_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' },
      body: JSON.stringify({ key: keys.admin }),
    });
    expect(crossSite.statusCode).toBe(403);
    expect(crossSite.headers['set-cookie']).toBeUndefined();
    await crossSite.body.dump();

    const page = await request(`${gw.url}/portal`);
    expect(page.statusCode).toBe(503);
    expect(await page.body.text()).toContain('npm run build');
  });

  it('keeps the session in an HttpOnly, SameSite=Strict cookie that same-origin JSON POSTs to /graphql carry', async () => {
    const viewer = await signIn(keys.viewer);
    expect(viewer.status).toBe(200);
    expect(viewer.body).toMatchObject({ role: 'VIEWER' });
    expect(viewer.cookie).toMatch(
      new RegExp(`^${PORTAL_COOKIE}=[A-Za-z0-9_-]{43}; Max-Age=\\d+; Path=/; HttpOnly; SameSite=Strict$`),
    );
    const cookie = session(viewer.cookie);

    expect((await graphql(cookie, { 'sec-fetch-site': 'same-origin' })).body.data).toEqual({
      integration: { status: 'NOT_CONNECTED' },
    });
    // An older browser without Sec-Fetch-Site: its Origin is the gateway's.
    expect((await graphql(cookie, { origin: gw.url })).body.data).toBeDefined();
    // A VIEWER changes nothing.
    const change = await graphql(cookie, {}, 'mutation { syncNow { id } }');
    expect(change.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    // The job dashboard takes the same session.
    const board = await request(`${gw.url}/admin/queues`, { headers: { cookie } });
    expect(board.statusCode).toBe(200);
    await board.body.dump();
  });

  it('does not take the cookie from another site, from a GET, or from a form-encoded POST (CSRF)', async () => {
    const cookie = session((await signIn(keys.admin)).cookie);
    expect((await graphql(cookie, { 'sec-fetch-site': 'cross-site' })).status).toBe(401);
    expect((await graphql(cookie, { origin: 'https://evil.example' })).status).toBe(401);
    const get = await request(`${gw.url}/graphql?query=${encodeURIComponent('{ integration { status } }')}`, {
      headers: { cookie, 'apollo-require-preflight': 'true' },
    });
    expect(get.statusCode).toBe(401);
    await get.body.dump();
    const form = await request(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', cookie },
      body: JSON.stringify({ query: 'mutation { syncNow { id } }' }),
    });
    expect(form.statusCode).toBe(400);
    expect(await form.body.text()).not.toContain('"data"');
  });

  it('signs a same-origin graphql-ws socket in with the cookie; refuses one from another origin (4401); sign-out ends it', async () => {
    const cookie = session((await signIn(keys.admin)).cookie);
    const socket = (origin: string) => {
      const closed: number[] = [];
      const client = createClient({
        url: `${gw.url.replace(/^http/, 'ws')}/graphql`,
        webSocketImpl: class extends WebSocket {
          constructor(url: string, protocols?: string | string[]) {
            super(url, protocols, { headers: { cookie, origin } });
          }
        },
        retryAttempts: 0,
        shouldRetry: () => false,
        on: { closed: (e) => closed.push((e as { code: number }).code) },
      });
      const once = () =>
        new Promise<{ data?: unknown; error?: unknown }>((resolve) => {
          const stop = client.subscribe(
            { query: '{ integration { status } }' },
            {
              next: (r) => {
                resolve({ data: r.data, error: r.errors });
                stop();
              },
              error: (error) => resolve({ error }),
              complete: () => {},
            },
          );
        });
      return { client, closed, once };
    };

    const same = socket(gw.url);
    expect((await same.once()).data).toEqual({ integration: { status: 'NOT_CONNECTED' } });
    await same.client.dispose();

    const other = socket('https://evil.example');
    await other.once();
    expect(other.closed).toContain(4401);
    await other.client.dispose();

    const out = await request(`${gw.url}${PORTAL_SESSION_PATH}`, {
      method: 'DELETE',
      headers: { cookie, 'sec-fetch-site': 'same-origin' },
    });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(new RegExp(`^${PORTAL_COOKIE}=; Max-Age=0; Path=/`));
    expect((await graphql(cookie)).status).toBe(401);
    const after = socket(gw.url);
    await after.once();
    expect(after.closed).toContain(4401);
    await after.client.dispose();
  });
});
