import type { Redis } from 'ioredis';
import type { ChangeDebouncer, NotificationQueue } from '../src/app/ports/change-notifications.port.js';
import { JobName, jobOptions } from './contracts.js';
import { presenceNotifiedKey } from './presence-poll.queue.js';
import type { JobQueues } from './queues.js';

/** How long gathered changes are kept at most, should every flush be lost. */
const COUNTER_TTL_SECONDS = 24 * 3600;
/** The longest debounce window (saveChangeTriggers allows 86,400 s): the last run's time is kept that long. */
const LAST_RUN_TTL_MS = 24 * 3600 * 1000;
/** A lifecycle event of one subscription is handled at most once in this time, however often it is posted. */
const LIFECYCLE_THROTTLE_MS = 60_000;

/**
 * Claims the change-run window: KEYS[1] holds when the last change-triggered run was asked
 * for (epoch ms). Returns 0 and sets it to ARGV[1] when that is at least ARGV[2] ms ago (or
 * never); else the ms left.
 */
const CLAIM_WINDOW = `
local last = tonumber(redis.call('get', KEYS[1]) or '')
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
if last and now - last < window then return window - (now - last) end
redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 0`;

/**
 * T2 debounce in Redis and BullMQ: a counter per PBX, one delayed `flush-changes` job per
 * window, deduplicated by BullMQ (one id per PBX until it has run), and the time of the last
 * change-triggered run, so any number of gateway processes receiving notifications schedule
 * one flush and start at most one run per window.
 *
 * It is also the webhook's queue (`NotificationQueue`): a valid notification only adds to the
 * counter and makes sure one `record-changes` job of its PBX is waiting (BullMQ deduplication
 * with keepLastIfActive: at most one waiting and one active per PBX, whatever the rate of
 * notifications); the job does the database work.
 */
export class RedisChangeDebouncer implements ChangeDebouncer, NotificationQueue {
  constructor(
    private readonly redis: Redis,
    private readonly queues: JobQueues,
    private readonly prefix: string,
  ) {}

  private key(pbxId: string) {
    return `${this.prefix}:changes:${pbxId}`;
  }

  private missedKey(pbxId: string) {
    return `${this.prefix}:changes:missed:${pbxId}`;
  }

  private lastRunKey(pbxId: string) {
    return `${this.prefix}:changes:last-run:${pbxId}`;
  }

  async add(pbxId: string, count: number) {
    const [[, total]] = (await this.redis
      .multi()
      .incrby(this.key(pbxId), count)
      .expire(this.key(pbxId), COUNTER_TTL_SECONDS)
      .exec()) as [[Error | null, number], [Error | null, number]];
    return Number(total);
  }

  async peek(pbxId: string) {
    return Number((await this.redis.get(this.key(pbxId))) ?? 0);
  }

  async take(pbxId: string) {
    return Number((await this.redis.getdel(this.key(pbxId))) ?? 0);
  }

  async takeMissed(pbxId: string) {
    return (await this.redis.getdel(this.missedKey(pbxId))) !== null;
  }

  async claimWindow(pbxId: string, nowMs: number, windowMs: number) {
    const left = await this.redis.eval(
      CLAIM_WINDOW,
      1,
      this.lastRunKey(pbxId),
      String(nowMs),
      String(windowMs),
      String(LAST_RUN_TTL_MS),
    );
    return Number(left);
  }

  async scheduleFlush(pbxId: string, delayMs: number, windowMs: number) {
    const payload = { pbxId };
    await this.queues.queue('system').add(JobName.FlushChanges, payload, {
      ...jobOptions(JobName.FlushChanges, payload),
      delay: delayMs,
      deduplication: { id: `flush-changes:${pbxId}:${windowMs}` },
    });
  }

  async changesArrived(pbxId: string, count: number, opts: { missed?: boolean } = {}) {
    const tx = this.redis.multi();
    if (count > 0) tx.incrby(this.key(pbxId), count).expire(this.key(pbxId), COUNTER_TTL_SECONDS);
    if (opts.missed) tx.set(this.missedKey(pbxId), '1', 'EX', COUNTER_TTL_SECONDS);
    await tx.exec();
    const payload = { pbxId };
    await this.queues.queue('system').add(JobName.RecordChanges, payload, {
      ...jobOptions(JobName.RecordChanges, payload),
      deduplication: { id: `record-changes:${pbxId}`, keepLastIfActive: true },
    });
  }

  async presenceChanged(pbxId: string, userIds: readonly string[]) {
    if (userIds.length === 0) return;
    const key = presenceNotifiedKey(this.prefix, pbxId);
    // Read by the PBX's next presence round (src/app/presence-sync.ts); kept a day at most.
    await this.redis
      .multi()
      .sadd(key, ...userIds)
      .expire(key, COUNTER_TTL_SECONDS)
      .exec();
  }

  async lifecycleArrived(subscriptionId: string, event: string) {
    const payload = { subscriptionId, event };
    await this.queues.queue('system').add(JobName.LifecycleEvent, payload, {
      ...jobOptions(JobName.LifecycleEvent, payload),
      deduplication: { id: `lifecycle:${subscriptionId}:${event}`, ttl: LIFECYCLE_THROTTLE_MS },
    });
  }
}
