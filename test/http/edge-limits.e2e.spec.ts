import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { LOGIN_PATH } from '../../src/http/dashboard.js';
import { createSqliteDatabase, type TestDatabase } from '../support/db.js';
import { gql, seedPbx, startTestGateway } from '../support/gateway.js';
import { freePort } from '../support/process.js';

/**
 * Issue 12 items 1 and 6 at the edge of the gateway (one process, SQLite, Redis): the webhook's
 * validation echo, body limit and bad bodies; /metrics behind a token and on a port of its
 * own; the dashboard sign-in limit; the limit on 401 answers per address.
 */
describe('edge limits (issue 12 items 1 and 6)', () => {
  let db: TestDatabase;
  let gw: Gateway;
  let gwAuth: Gateway;
  let keys: { admin: string; viewer: string };
  const TOKEN = 'metrics-token-0123456789';

  beforeAll(async () => {
    db = await createSqliteDatabase();
    gw = await startTestGateway(db, {
      LOGIN_RATE_LIMIT_PER_MINUTE: '3',
      WEBHOOK_BODY_LIMIT_BYTES: '2048',
      WEBHOOK_VALIDATION_TOKEN_MAX: '100',
      METRICS_TOKEN: TOKEN,
      METRICS_PORT: String(await freePort()),
    });
    gwAuth = await startTestGateway(db, { AUTH_FAILURES_PER_MINUTE: '3' });
    ({ keys } = await seedPbx(gw));
  });
  afterAll(async () => {
    await gw?.stop();
    await gwAuth?.stop();
    await db?.drop();
  });

  it('echoes a validation token as plain text with nosniff, and refuses one past the cap', async () => {
    const ok = await fetch(`${gw.url}/graph/notifications?validationToken=${'a'.repeat(100)}`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(ok.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await ok.text()).toBe('a'.repeat(100));
    const long = await fetch(`${gw.url}/graph/lifecycle?validationToken=${'a'.repeat(101)}`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
    });
    expect(long.status).toBe(400);
    expect(long.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await long.text()).not.toContain('aaaa');
  });

  it('refuses a body past WEBHOOK_BODY_LIMIT_BYTES (413) and one that is not {"value": [...]} (400)', async () => {
    const post = (body: string) =>
      fetch(`${gw.url}/graph/notifications`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
    expect((await post(JSON.stringify({ value: [{ x: 'y'.repeat(3000) }] }))).status).toBe(413);
    expect((await post(JSON.stringify({ values: [] }))).status).toBe(400);
    expect((await post('{not json')).status).toBe(400);
    const empty = await post(JSON.stringify({ value: [] }));
    expect(empty.status).toBe(202);
    expect(empty.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('serves /metrics on its own port only, behind METRICS_TOKEN', async () => {
    expect(gw.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(`${gw.url}/metrics`)).status).toBe(404);
    const none = await fetch(`${gw.metricsUrl}/metrics`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const wrong = await fetch(`${gw.metricsUrl}/metrics`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    const ok = await fetch(`${gw.metricsUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-content-type-options')).toBe('nosniff');
    const text = await ok.text();
    expect(text).toContain('http_requests_total');
    expect(text).toContain('graph_notifications_total');
    // Without the settings /metrics stays public on the main port (as documented).
    expect((await fetch(`${gwAuth.url}/metrics`)).status).toBe(200);
  });

  it('limits dashboard sign-in attempts per address (429 with the sign-in page and Retry-After)', async () => {
    const attempt = (key: string) =>
      fetch(`${gw.url}${LOGIN_PATH}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ key }).toString(),
      });
    expect((await attempt('wrong-1')).status).toBe(401);
    expect((await attempt('wrong-2')).status).toBe(401);
    expect((await attempt(keys.admin)).status).toBe(303);
    const refused = await attempt(keys.admin);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.text()).toContain('Too many sign-in attempts');
  });

  it('after too many 401s an address gets 429 on /graphql without a valid key, a valid key is still answered, and /healthz stays up', async () => {
    const { keys: k } = await seedPbx(gwAuth);
    expect((await gql(gwAuth.url, k.admin, '{ __typename }')).status).toBe(200);
    // AUTH_FAILURES_PER_MINUTE=3: exactly three 401s, then 429.
    for (let i = 0; i < 3; i++)
      expect((await gql(gwAuth.url, `bad-${i}`, '{ __typename }')).status).toBe(401);
    const refused = await fetch(`${gwAuth.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer bad-3' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await gql(gwAuth.url, null, '{ __typename }')).status).toBe(429);
    // One client with a bad key does not lock the address's other clients (an office behind
    // one NAT address) out of the API: a valid key is answered (src/http/rate-limits.ts).
    expect((await gql(gwAuth.url, k.admin, '{ __typename }')).status).toBe(200);
    expect((await fetch(`${gwAuth.url}/healthz`)).status).toBe(200);
    // /metrics on the main port is one of the paths a 401 is counted on: refused too.
    expect((await fetch(`${gwAuth.url}/metrics`)).status).toBe(429);
    // The webhook is not (its own limits apply).
    const hook = await fetch(`${gwAuth.url}/graph/notifications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ value: [] }),
    });
    expect(hook.status).toBe(202);
  });
});
