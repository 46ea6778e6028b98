import type { Redis } from 'ioredis';
import type { LinkusSignInStates, PendingLinkusSignIn } from '../app/ports/linkus-sign-in.port.js';

/**
 * The Microsoft leg's pending sign-ins (S2), in Redis with a TTL, taken with GETDEL so a state
 * works once whichever gateway process Microsoft's callback reaches. It holds the PKCE verifier
 * and the nonce of one sign-in, never a token or a secret.
 */
export class RedisLinkusSignInStates implements LinkusSignInStates {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(state: string) {
    return `${this.prefix}:linkus-sign-in:${state}`;
  }

  async put(state: string, value: PendingLinkusSignIn, ttlSeconds: number) {
    await this.redis.set(this.key(state), JSON.stringify(value), 'EX', ttlSeconds);
  }

  async take(state: string): Promise<PendingLinkusSignIn | null> {
    if (!/^[A-Za-z0-9_-]{16,128}$/.test(state)) return null;
    const raw = await this.redis.getdel(this.key(state));
    return raw ? (JSON.parse(raw) as PendingLinkusSignIn) : null;
  }
}
