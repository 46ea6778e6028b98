import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { DashboardSession, DashboardSessionStore } from '../app/ports/dashboard-session.port.js';

/**
 * Job dashboard sessions in Redis with a TTL (issue 6 item 5), so every gateway process
 * knows them. The Redis key is the SHA-256 of the session id: someone who can read Redis
 * cannot take a session over. The value holds the PBX, role and key id, never the key.
 */
export class RedisDashboardSessionStore implements DashboardSessionStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(sessionId: string) {
    return `${this.prefix}:dashboard-session:${createHash('sha256').update(sessionId, 'utf8').digest('hex')}`;
  }

  async put(sessionId: string, session: DashboardSession, ttlSeconds: number) {
    await this.redis.set(this.key(sessionId), JSON.stringify(session), 'EX', ttlSeconds);
  }

  async get(sessionId: string): Promise<DashboardSession | null> {
    const raw = await this.redis.get(this.key(sessionId));
    return raw ? (JSON.parse(raw) as DashboardSession) : null;
  }

  async delete(sessionId: string) {
    await this.redis.del(this.key(sessionId));
  }
}
