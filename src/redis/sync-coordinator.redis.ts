import type { Redis } from 'ioredis';
import type { SyncCoordinator } from '../app/ports/sync-coordinator.port.js';

/** Deletes or extends a key only when it still holds our value (no one else's lock is touched). */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

/** Pending runs wait at most this long before a new trigger may start another. */
const PENDING_TTL_MS = 24 * 3600 * 1000;

export class RedisSyncCoordinator implements SyncCoordinator {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private pending(pbxId: string) {
    return `${this.prefix}:sync:pending:${pbxId}`;
  }

  private lock(pbxId: string) {
    return `${this.prefix}:sync:lock:${pbxId}`;
  }

  async claimPending(pbxId: string, runId: string): Promise<string | null> {
    const key = this.pending(pbxId);
    const ok = await this.redis.set(key, runId, 'PX', PENDING_TTL_MS, 'NX');
    if (ok === 'OK') return null;
    const current = await this.redis.get(key);
    // It ended between our SET and GET: try once more.
    if (current === null)
      return (await this.redis.set(key, runId, 'PX', PENDING_TTL_MS, 'NX')) === 'OK'
        ? null
        : this.redis.get(key);
    return current;
  }

  async releasePending(pbxId: string, runId: string) {
    await this.redis.eval(RELEASE, 1, this.pending(pbxId), runId);
  }

  async acquireLock(pbxId: string, runId: string, ttlMs: number) {
    const key = this.lock(pbxId);
    if ((await this.redis.set(key, runId, 'PX', ttlMs, 'NX')) === 'OK') return true;
    // A retried job of the same run may take its own lock back.
    return (await this.redis.get(key)) === runId && (await this.renewLock(pbxId, runId, ttlMs));
  }

  async renewLock(pbxId: string, runId: string, ttlMs: number) {
    return (await this.redis.eval(RENEW, 1, this.lock(pbxId), runId, String(ttlMs))) === 1;
  }

  async releaseLock(pbxId: string, runId: string) {
    await this.redis.eval(RELEASE, 1, this.lock(pbxId), runId);
  }
}
