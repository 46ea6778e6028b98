import { createHash, randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CODE_TTL_MS, LinkusSessions } from '../../src/app/linkus-sessions.js';
import type { LinkusSignInGrant } from '../../src/app/ports/linkus-sso.port.js';
import { SecretBox } from '../../src/app/secret-box.js';
import { RedisSignInCodeStore } from '../../src/redis/linkus-codes.redis.js';
import { TEST_SECRET_KEY, uniquePrefix } from '../support/gateway.js';

/**
 * S2: the one-time codes of Linkus sign-in, on a real Redis: 256 random bits, stored only as
 * their SHA-256 with the grant, redeemable once within 60 s, atomically across processes (two
 * connections racing stand for two gateway processes).
 */
describe('S2 Linkus sign-in codes (Redis)', () => {
  let redis: Redis;
  let prefix: string;
  const others: Redis[] = [];
  const sessions = (opts: { codeTtlMs?: number; connection?: Redis } = {}) =>
    new LinkusSessions({
      codes: new RedisSignInCodeStore(opts.connection ?? redis, prefix),
      now: () => new Date(),
      log: () => {},
      codeTtlMs: opts.codeTtlMs,
      // Codes alone: no session is made here (the token endpoint's tests make them).
      openStore: () => {
        throw new Error('no store in the code tests');
      },
      secrets: new SecretBox(Buffer.from(TEST_SECRET_KEY, 'hex')),
      revocations: { announce: async () => {}, announcePbxKeys: async () => {} },
    });
  const grant = (): LinkusSignInGrant => ({
    pbxId: `pbx-${randomBytes(4).toString('hex')}`,
    extensionId: 'ext-1',
    entraObjectId: 'oid-1',
    redirectUri: 'https://linkus.example.com/sso/callback',
    codeChallenge: createHash('sha256').update('verifier').digest('base64url'),
    codeChallengeMethod: 'S256',
  });

  beforeAll(() => {
    redis = new Redis(inject('redisUrl'));
    prefix = uniquePrefix('linkus-codes');
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
    for (const other of others) await other.quit();
  });

  it('S2 a code is 256 random bits; Redis holds its hash with the grant, never the code, for at most 60 s of use', async () => {
    const g = grant();
    const code = await sessions().issue(g);
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(code, 'base64url')).toHaveLength(32);
    const keys = await redis.keys(`${prefix}:*`);
    const mine = keys.filter((k) => k.endsWith(createHash('sha256').update(code).digest('hex')));
    expect(mine).toHaveLength(1);
    for (const key of keys) {
      expect(key).not.toContain(code);
      expect(JSON.stringify(await redis.hgetall(key))).not.toContain(code);
    }
    expect(Number(await redis.hget(mine[0] as string, 'exp')) - Date.now()).toBeLessThanOrEqual(CODE_TTL_MS);
    expect(await redis.pttl(mine[0] as string)).toBeGreaterThan(0);
  });

  it('S2 a code is redeemed once: the grant, then a replay naming the session the first made', async () => {
    const s = sessions();
    const g = grant();
    const code = await s.issue(g);
    expect(await s.redeemCode(code)).toEqual({ outcome: 'REDEEMED', grant: g });
    expect(await s.attachSession(code, 'session-1')).toEqual({ replayed: false });
    expect(await s.redeemCode(code)).toEqual({ outcome: 'REPLAYED', pbxId: g.pbxId, sessionId: 'session-1' });
  });

  it('S2 a replay while the first redemption is still making its session is told to it', async () => {
    const s = sessions();
    const code = await s.issue(grant());
    expect((await s.redeemCode(code)).outcome).toBe('REDEEMED');
    expect(await s.redeemCode(code)).toMatchObject({ outcome: 'REPLAYED', sessionId: null });
    expect(await s.attachSession(code, 'session-1')).toEqual({ replayed: true });
  });

  it('S2 of 20 redemptions racing on separate connections (processes), exactly one gets the grant', async () => {
    const code = await sessions().issue(grant());
    const racers = Array.from({ length: 20 }, () => {
      const connection = new Redis(inject('redisUrl'));
      others.push(connection);
      return sessions({ connection });
    });
    const outcomes = await Promise.all(racers.map((r) => r.redeemCode(code)));
    expect(outcomes.filter((o) => o.outcome === 'REDEEMED')).toHaveLength(1);
    expect(outcomes.filter((o) => o.outcome === 'REPLAYED')).toHaveLength(19);
  });

  it('S2 a code past its lifetime is refused as expired (the lifetime is injectable), an unknown one as unknown', async () => {
    const s = sessions({ codeTtlMs: 0 });
    const code = await s.issue(grant());
    expect(await s.redeemCode(code)).toEqual({ outcome: 'EXPIRED' });
    expect(await s.redeemCode(code)).toEqual({ outcome: 'EXPIRED' });
    expect(await s.redeemCode(randomBytes(32).toString('base64url'))).toEqual({ outcome: 'UNKNOWN' });
    expect(await s.redeemCode('not a code')).toEqual({ outcome: 'UNKNOWN' });
  });

  it('S2 a grant without an S256 challenge gets no code', async () => {
    await expect(sessions().issue({ ...grant(), codeChallenge: 'short' })).rejects.toThrow(/S256/);
  });
});
