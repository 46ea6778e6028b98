import type { Redis } from 'ioredis';
import type { AuthStateStore, PendingAuthorization } from '../app/ports/auth-state.port.js';

/**
 * The connect flow's `state` values, in Redis with a TTL, taken with GETDEL so a state
 * works once. It holds the PBX id and the PKCE verifier, never a secret or a token.
 */
export class RedisAuthStateStore implements AuthStateStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(state: string) {
    return `${this.prefix}:auth-state:${state}`;
  }

  async put(state: string, value: PendingAuthorization, ttlSeconds: number) {
    await this.redis.set(this.key(state), JSON.stringify(value), 'EX', ttlSeconds);
  }

  async take(state: string): Promise<PendingAuthorization | null> {
    if (!/^[A-Za-z0-9_-]{16,128}$/.test(state)) return null;
    const raw = await this.redis.getdel(this.key(state));
    return raw ? (JSON.parse(raw) as PendingAuthorization) : null;
  }
}
