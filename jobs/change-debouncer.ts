import type { Redis } from 'ioredis';
import type { ChangeDebouncer } from '../src/app/ports/change-notifications.port.js';
import { JobName, jobOptions } from './contracts.js';
import type { JobQueues } from './queues.js';

/** One flush per PBX and window: BullMQ's deduplication id. */
const flushId = (pbxId: string) => `flush-changes:${pbxId}`;

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
      deduplication: { id: flushId(pbxId) },
    });
  }

  async cancelFlush(pbxId: string) {
    const queue = this.queues.queue('system');
    const jobId = await queue.getDeduplicationJobId(flushId(pbxId));
    const job = jobId ? await queue.getJob(jobId) : undefined;
    // Only a flush still waiting: one already running finishes (it finds nothing to take).
    if (!job || !(await job.isDelayed())) return;
    // Removing the job frees its deduplication id too (only while that id still names it).
    // Promoted and picked up meanwhile, it cannot be removed: it runs, and takes what is left.
    await job.remove().catch(() => undefined);
  }
}
