import type { Redis } from 'ioredis';
import type { ChangeDebouncer } from '../src/app/ports/change-notifications.port.js';
import { JobName, jobOptions } from './contracts.js';
import type { JobQueues } from './queues.js';

/** How long gathered changes are kept at most, should every flush be lost. */
const COUNTER_TTL_SECONDS = 24 * 3600;

/**
 * T2 debounce in Redis and BullMQ: a counter per PBX, and one delayed `flush-changes` job per
 * window, deduplicated by BullMQ (one id per PBX until it has run), so any number of gateway
 * processes receiving notifications schedule one flush.
 */
export class RedisChangeDebouncer implements ChangeDebouncer {
  constructor(
    private readonly redis: Redis,
    private readonly queues: JobQueues,
    private readonly prefix: string,
  ) {}

  private key(pbxId: string) {
    return `${this.prefix}:changes:${pbxId}`;
  }

  async add(pbxId: string, count: number) {
    const [[, total]] = (await this.redis
      .multi()
      .incrby(this.key(pbxId), count)
      .expire(this.key(pbxId), COUNTER_TTL_SECONDS)
      .exec()) as [[Error | null, number], [Error | null, number]];
    return Number(total);
  }

  async take(pbxId: string) {
    return Number((await this.redis.getdel(this.key(pbxId))) ?? 0);
  }

  async scheduleFlush(pbxId: string, delayMs: number) {
    const payload = { pbxId };
    await this.queues.queue('system').add(JobName.FlushChanges, payload, {
      ...jobOptions(JobName.FlushChanges, payload),
      delay: delayMs,
      deduplication: { id: `flush-changes:${pbxId}` },
    });
  }
}
