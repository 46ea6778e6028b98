import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { createSqliteDatabase, type TestDatabase } from '../support/db.js';
import { floodWebhook, forgedBody, loopbackSources } from '../support/flood.js';
import { startTestGateway, uniquePrefix } from '../support/gateway.js';

/**
 * Issue 12 item 1: the webhook's limits per source address are counted in Redis, so every
 * gateway process shares them: two `--role api` processes on one Redis prefix, and bodies from
 * one loopback address posted to one and then the other. On the code before, neither limit
 * existed (every body was answered 202, however many).
 */
describe('the webhook limits per source address, shared by every process (issue 12 item 1)', () => {
  let db: TestDatabase;
  let a: Gateway;
  let b: Gateway;
  const RATE = 5;
  const FORGED = 3;

  beforeAll(async () => {
    db = await createSqliteDatabase();
    const env = {
      QUEUE_PREFIX: uniquePrefix('webhook-limits'),
      WEBHOOK_RATE_LIMIT_PER_MINUTE: String(RATE),
      WEBHOOK_FORGED_PER_MINUTE: String(FORGED),
    };
    a = await startTestGateway(db, env, 'api');
    b = await startTestGateway(db, env, 'api');
  }, 60_000);

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await db?.drop();
  });

  const post = (gw: Gateway, source: string, bodies: number, body: string) =>
    floodWebhook(gw.url, {
      path: '/graph/notifications',
      bodies,
      clients: 1,
      body: () => body,
      sources: [source],
    });

  it(`WEBHOOK_RATE_LIMIT_PER_MINUTE: past ${RATE} requests a minute from one address, 429 on either process`, async () => {
    const [source, other] = loopbackSources(2, 300);
    const empty = JSON.stringify({ value: [] });
    expect((await post(a, source, 3, empty)).statuses).toEqual({ 202: 3 });
    // B counts what A counted: two more, then refused.
    expect((await post(b, source, 4, empty)).statuses).toEqual({ 202: 2, 429: 2 });
    expect((await post(a, source, 1, empty)).statuses).toEqual({ 429: 1 });
    // Another address is not affected.
    expect((await post(b, other, 1, empty)).statuses).toEqual({ 202: 1 });
  });

  it(`WEBHOOK_FORGED_PER_MINUTE: past ${FORGED} forged bodies from one address, its next ones are refused before they are read, on either process`, async () => {
    const [source] = loopbackSources(1, 310);
    const forged = forgedBody(100, []);
    expect((await post(a, source, 2, forged)).statuses).toEqual({ 202: 2 });
    expect((await post(b, source, 1, forged)).statuses).toEqual({ 202: 1 });
    // Three counted, shared: both refuse the fourth, with 429 (the request limit of 5 is not reached).
    expect((await post(a, source, 1, forged)).statuses).toEqual({ 429: 1 });
    expect((await post(b, source, 1, forged)).statuses).toEqual({ 429: 1 });
  });
});
