import { Writable } from 'node:stream';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { lazyRequestLogger } from '../../src/http/request-logger.js';
import { createLogger } from '../../src/logger.js';

/**
 * Issue 13: a request's logger is made only when the request logs. What it writes is what
 * Fastify's own child wrote: each line carries the request's id, redaction applies, and a line
 * below the level writes nothing; a route with a level of its own keeps it.
 */
const lines: Array<Record<string, unknown>> = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
    done();
  },
});
const app = Fastify({
  loggerInstance: createLogger('info', 'test', sink) as FastifyBaseLogger,
  disableRequestLogging: true,
  genReqId: () => `req-${lines.length}-${Math.random().toString(36).slice(2, 8)}`,
  childLoggerFactory: lazyRequestLogger,
});

beforeAll(async () => {
  app.get('/quiet', async (request) => {
    request.log.debug('below the level');
    return { ok: true };
  });
  app.get('/loud', async (request) => {
    request.log.debug('below the level');
    request.log.info({ headers: { authorization: 'Bearer secret' } }, 'at the level');
    request.log.child({ step: 2 }).warn('from a child');
    return { id: request.id };
  });
  app.get('/chatty', { logLevel: 'debug' }, async (request) => {
    request.log.debug('the route allows debug');
    return { id: request.id };
  });
  await app.ready();
});
afterAll(() => app.close());

it('a request that logs nothing at the level writes nothing', async () => {
  const before = lines.length;
  expect((await app.inject('/quiet')).statusCode).toBe(200);
  expect(lines.length).toBe(before);
});

it("a request's lines carry its id, through children too, with secrets redacted", async () => {
  const res = await app.inject('/loud');
  const id = res.json().id as string;
  const mine = lines.filter((l) => l.reqId === id);
  expect(mine.map((l) => l.msg)).toEqual(['at the level', 'from a child']);
  expect(mine[0]?.headers).toEqual({ authorization: '[redacted]' });
  expect(mine[1]?.step).toBe(2);
});

it("a route's own level is kept", async () => {
  const id = (await app.inject('/chatty')).json().id as string;
  expect(lines.filter((l) => l.reqId === id).map((l) => l.msg)).toEqual(['the route allows debug']);
});
