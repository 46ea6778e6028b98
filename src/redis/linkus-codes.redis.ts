import type { Redis } from 'ioredis';
import type { CodeRedemption, SignInCodeStore } from '../app/ports/linkus-codes.port.js';
import type { LinkusSignInGrant } from '../app/ports/linkus-sso.port.js';

/**
 * Redeems a code in one step (a Lua script runs atomically on Redis, so two gateway processes
 * can never both redeem it). KEYS[1]: the code's hash; ARGV: now (ms), how long to keep the trace.
 * The first redemption removes the grant and keeps a trace (state REDEEMED) for replay detection.
 */
const REDEEM = `
local exp = redis.call('HGET', KEYS[1], 'exp')
if not exp then return {'UNKNOWN'} end
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'ISSUED' then
  if tonumber(ARGV[1]) >= tonumber(exp) then return {'EXPIRED'} end
  local grant = redis.call('HGET', KEYS[1], 'grant')
  redis.call('HDEL', KEYS[1], 'grant')
  redis.call('HSET', KEYS[1], 'state', 'REDEEMED')
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {'REDEEMED', grant}
end
redis.call('HSET', KEYS[1], 'replayed', '1')
return {'REPLAYED', redis.call('HGET', KEYS[1], 'pbx') or '', redis.call('HGET', KEYS[1], 'session') or ''}
`;

/** Records the session of a redemption; answers 1 when the code was replayed meanwhile. */
const ATTACH = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'session', ARGV[1])
if redis.call('HGET', KEYS[1], 'replayed') == '1' then return 1 end
return 0
`;

/** Linkus sign-in codes in Redis (`<QUEUE_PREFIX>:linkus-code:<sha256 of the code>`, a hash). */
export class RedisSignInCodeStore implements SignInCodeStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(codeHash: string) {
    return `${this.prefix}:linkus-code:${codeHash}`;
  }

  async put(codeHash: string, grant: LinkusSignInGrant, expiresAt: Date, keepMs: number) {
    await this.redis
      .multi()
      .hset(this.key(codeHash), {
        state: 'ISSUED',
        exp: String(expiresAt.getTime()),
        pbx: grant.pbxId,
        grant: JSON.stringify(grant),
      })
      .pexpire(this.key(codeHash), Math.max(1, keepMs))
      .exec();
  }

  async redeem(codeHash: string, now: Date, keepMs: number): Promise<CodeRedemption> {
    const [outcome, a, b] = (await this.redis.eval(
      REDEEM,
      1,
      this.key(codeHash),
      String(now.getTime()),
      String(Math.max(1, keepMs)),
    )) as [string, string?, string?];
    if (outcome === 'REDEEMED') return { outcome, grant: JSON.parse(a as string) as LinkusSignInGrant };
    if (outcome === 'REPLAYED') return { outcome, pbxId: a ?? '', sessionId: b || null };
    if (outcome === 'EXPIRED') return { outcome };
    return { outcome: 'UNKNOWN' };
  }

  async attachSession(codeHash: string, sessionId: string) {
    const replayed = await this.redis.eval(ATTACH, 1, this.key(codeHash), sessionId);
    return { replayed: replayed === 1 };
  }
}
