import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { PresencePollQueue } from '../src/app/ports/presence.port.js';
import { JOB_QUEUE, JobName, jobOptions } from './contracts.js';
import type { JobQueues } from './queues.js';

/** The job scheduler of a PBX's presence poll. Dashes, not colons (BullMQ's own ids use those). */
export function presencePollSchedulerId(pbxId: string): string {
  return `presence-${pbxId}`;
}

/**
 * P1–P3: one BullMQ job scheduler per PBX whose presence sync is on, repeating `poll-presence`
 * every interval (src/app/presence-sync.ts picks it from the number of users). `upsertJobScheduler`
 * is idempotent and replaces the interval; every worker process may call it.
 */
export class BullPresencePollQueue implements PresencePollQueue {
  private readonly known = new Map<string, number>();

  constructor(
    private readonly queues: JobQueues,
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /**
   * One round of a PBX at a time, in every process: a Redis key held for the round (NX, expiring
   * after `ttlMs` should its holder die). A round that finds it held is skipped: the next one is
   * an interval away, and two rounds side by side would send requests past a Retry-After.
   */
  async claim(pbxId: string, ttlMs: number): Promise<(() => Promise<void>) | null> {
    const key = `${this.prefix}:presence-round:${pbxId}`;
    const token = randomUUID();
    const ok = await this.redis.set(key, token, 'PX', ttlMs, 'NX');
    if (ok !== 'OK') return null;
    return async () => {
      await this.redis.eval(
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
        1,
        key,
        token,
      );
    };
  }

  private get queue() {
    return this.queues.queue(JOB_QUEUE[JobName.PollPresence]);
  }

  async ensure(pbxId: string, intervalMs: number) {
    // Asked every round: Redis is asked again only when the interval moves (or once per process).
    if (this.known.get(pbxId) === intervalMs) return;
    const payload = { pbxId };
    await this.queue.upsertJobScheduler(
      presencePollSchedulerId(pbxId),
      { every: intervalMs },
      { name: JobName.PollPresence, data: payload, opts: jobOptions(JobName.PollPresence, payload) },
    );
    this.known.set(pbxId, intervalMs);
  }

  async stop(pbxId: string) {
    this.known.delete(pbxId);
    await this.queue.removeJobScheduler(presencePollSchedulerId(pbxId));
  }
}
