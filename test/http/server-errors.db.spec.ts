import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { type Orm, openDatabase } from '../../src/store/orm.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';
import { captureLogger, seedPbx, startTestGateway } from '../support/gateway.js';

/**
 * An error no route answers itself (src/http/server-errors.ts): the database fails under a
 * route (its table renamed away, so the statement fails as it would on a real fault). The
 * answer names the request id and nothing of the error; the log has the error at error level
 * under that id. Fastify's default handler sent the driver's message (the SQL statement and its
 * values) to whoever asked and logged nothing.
 */
describeEachDb('errors no route answered: logged under the request id, never sent', (leg) => {
  let db: TestDatabase;
  let orm: Orm;
  let gw: Gateway;
  let pbxId: string;
  const log = captureLogger('info');
  const lines = () =>
    log.lines.flatMap((l) =>
      l
        .split('\n')
        .filter(Boolean)
        .map((x) => JSON.parse(x)),
    );

  beforeAll(async () => {
    db = await leg.create();
    gw = await startTestGateway(db, {}, 'all', log.logger);
    pbxId = (await seedPbx(gw)).pbx.id;
    orm = await openDatabase(db.config);
  });
  afterAll(async () => {
    await gw?.stop();
    await orm?.close(true);
    await db?.drop();
  });

  it('a route whose database statement fails answers 500 with a request id, and the log has the error under it', async () => {
    await orm.em.getConnection().execute('alter table integration rename to integration_gone');
    try {
      const res = await fetch(
        `${gw.url}/linkus/sso/microsoft/start?pbx=${pbxId}&redirect_uri=${encodeURIComponent('https://app.example/cb')}`,
      );
      const text = await res.text();
      expect(res.status).toBe(500);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const body = JSON.parse(text);
      expect(body).toMatchObject({ statusCode: 500, code: 'INTERNAL', error: 'Internal Server Error' });
      expect(body.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(body.message).toContain(body.requestId);
      // Nothing of the statement, the table or the driver's words.
      for (const leak of ['integration', 'select', 'from', 'SQLITE', 'relation', pbxId])
        expect(text.toLowerCase()).not.toContain(leak.toLowerCase());
      const logged = lines().find((l) => l.msg === 'request failed' && l.reqId === body.requestId);
      expect(logged).toBeDefined();
      expect(logged.level).toBe(50);
      expect(logged.route).toBe('/linkus/sso/microsoft/start');
      expect(JSON.stringify(logged.err)).toContain('integration');
    } finally {
      await orm.em.getConnection().execute('alter table integration_gone rename to integration');
    }
    // The table back, the same route answers as before (a redirect URI it does not know).
    const again = await fetch(
      `${gw.url}/linkus/sso/microsoft/start?pbx=${pbxId}&redirect_uri=${encodeURIComponent('https://app.example/cb')}`,
      { redirect: 'manual' },
    );
    expect(again.status).toBeLessThan(500);
  });

  it("a client error keeps Fastify's answer: a body that is no JSON is a 400 that says so", async () => {
    const res = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query": ',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ statusCode: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' });
  });
});
