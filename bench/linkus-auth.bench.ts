/**
 * `npm run bench -- linkus-auth [--samples 20000] [--revoked 10000]`
 *
 * S4: what checking a bearer costs per request, in process (SQLite): a Linkus access token
 * (`authenticate`'s token path: an HS256 JWT verified with a key held in memory, and the
 * revoked-session set, no database read) against an API key (the key path: a SHA-256 and a
 * lookup by hash in the database), with `--revoked` revoked sessions in the set. p50 / p99 in
 * µs and checks a second, one after another (a fresh unit of work per check, as a request has).
 * Not a test: it prints figures and writes bench/results/linkus-auth.json.
 */
import 'reflect-metadata';
import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { authenticate, createApiKey } from '../src/app/access.js';
import { LinkusSessions } from '../src/app/linkus-sessions.js';
import { createPbx } from '../src/app/pbx.js';
import { SecretBox } from '../src/app/secret-box.js';
import { RedisKeyRevocations } from '../src/redis/key-revocation.redis.js';
import { RedisSignInCodeStore } from '../src/redis/linkus-codes.redis.js';
import { openDatabase } from '../src/store/orm.js';
import { openStore } from '../src/store/store.js';
import { Args } from './support/args.js';
import { benchCommand, writeResults } from './support/results.js';
import { createSqlite, ensureRedis } from './support/services.js';

const SECRET_KEY = '0123456789abcdef'.repeat(4);

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

async function timeEach(n: number, fn: (i: number) => Promise<unknown>) {
  const ns: number[] = [];
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await fn(i);
    ns.push(Number(process.hrtime.bigint() - t));
  }
  const totalS = Number(process.hrtime.bigint() - start) / 1e9;
  ns.sort((a, b) => a - b);
  return {
    p50Us: Math.round(pct(ns, 0.5) / 100) / 10,
    p99Us: Math.round(pct(ns, 0.99) / 100) / 10,
    perSecond: Math.round(n / totalS),
  };
}

export async function main(argv: string[]) {
  const args = new Args(argv);
  const opts = { samples: args.number('samples', 20_000), revoked: args.number('revoked', 10_000) };
  const redisService = await ensureRedis();
  const db = createSqlite();
  const orm = await openDatabase(db.config);
  const redis = new Redis(redisService.url);
  const prefix = `bench-linkus-${randomBytes(4).toString('hex')}`;
  try {
    const now = () => new Date();
    const store = () => openStore(orm, now);
    const sessions = new LinkusSessions({
      codes: new RedisSignInCodeStore(redis, prefix),
      openStore: store,
      secrets: new SecretBox(Buffer.from(SECRET_KEY, 'hex')),
      revocations: new RedisKeyRevocations(redis, prefix),
      now,
      log: () => {},
    });
    const pbx = await createPbx(store(), { name: 'Bench' });
    const ext = await store().directory.createExtension(pbx.id, {
      number: '1000',
      firstName: 'Bench',
      lastName: 'User',
      email: null,
      mobileNumber: null,
      jobTitle: null,
    });
    const key = (await createApiKey(store(), { pbxId: pbx.id, role: 'linkus', extensionNumber: '1000' })).key;
    const token = await sessions.keys.sign({ sessionId: randomUUID(), pbxId: pbx.id, extensionId: ext.id });
    sessions.markRevoked(Array.from({ length: opts.revoked }, () => randomUUID()));
    // Warm both paths (keys loaded, revoked set loaded, statements prepared).
    if (!(await authenticate(store(), token, sessions))) throw new Error('the token does not authenticate');
    if (!(await authenticate(store(), key, sessions))) throw new Error('the key does not authenticate');
    const tokenPath = await timeEach(opts.samples, () => authenticate(store(), token, sessions));
    const keyPath = await timeEach(opts.samples, () => authenticate(store(), key, sessions));
    const figures = { database: 'sqlite', tokenPath, keyPath };
    console.log(JSON.stringify(figures, null, 2));
    writeResults('linkus-auth', { command: benchCommand('linkus-auth', argv), args: opts, figures });
  } finally {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
    await orm.close(true);
    await db.drop();
    redisService.stop();
  }
}
