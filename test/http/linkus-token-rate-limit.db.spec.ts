import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { LINKUS_TOKEN_PATH } from '../../src/http/linkus-token.js';
import { createSqliteDatabase, type TestDatabase } from '../support/db.js';
import { loopbackSources } from '../support/flood.js';
import { startTestGateway, uniquePrefix } from '../support/gateway.js';

/**
 * S4 hardening: the Linkus token endpoint's refusals of a guessed (unknown) refresh token or code
 * (400 invalid_grant) count as auth failures of the address, shared by every process
 * through Redis; past AUTH_FAILURES_PER_MINUTE the address gets 429 with Retry-After there.
 * Before, any number of guesses a minute was answered.
 */
describe('the Linkus token endpoint is rate limited per address on its refusals (S4)', () => {
  let db: TestDatabase;
  let a: Gateway;
  let b: Gateway;
  const LIMIT = 3;

  beforeAll(async () => {
    db = await createSqliteDatabase();
    const env = { QUEUE_PREFIX: uniquePrefix('token-limits'), AUTH_FAILURES_PER_MINUTE: String(LIMIT) };
    a = await startTestGateway(db, env, 'api');
    b = await startTestGateway(db, env, 'api');
  }, 60_000);

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await db?.drop();
  });

  /** `n` token requests with an unknown refresh token from `source`, one after the other. */
  async function guesses(gw: Gateway, source: string, n: number) {
    const pool = new Pool(gw.url, { connections: 1, localAddress: source });
    const answers: Array<{ status: number; retryAfter: string | undefined; body: unknown }> = [];
    try {
      for (let i = 0; i < n; i++) {
        const res = await pool.request({
          path: LINKUS_TOKEN_PATH,
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `grant_type=refresh_token&refresh_token=guess-${i}`,
        });
        answers.push({
          status: res.statusCode,
          retryAfter: res.headers['retry-after'] as string | undefined,
          body: await res.body.json(),
        });
      }
    } finally {
      await pool.close();
    }
    return answers;
  }

  it(`past ${LIMIT} refused token requests a minute from one address, 429 with Retry-After on either process; another address is not affected`, async () => {
    const [source, other] = loopbackSources(2, 320);
    const first = await guesses(a, source, LIMIT);
    expect(first.map((r) => r.status)).toEqual(Array(LIMIT).fill(400));
    expect(first[0].body).toMatchObject({ error: 'invalid_grant' });
    // The other process counted them too.
    const next = await guesses(b, source, 2);
    expect(next.map((r) => r.status)).toEqual([429, 429]);
    expect(Number(next[0].retryAfter)).toBeGreaterThan(0);
    expect(next[0].body).toMatchObject({ error: 'TOO_MANY_REQUESTS' });
    expect((await guesses(a, other, 1)).map((r) => r.status)).toEqual([400]);
  });
});
