import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { PresencePollQueue, PresenceSubscriptionState } from '../src/app/ports/presence.port.js';
import { JOB_QUEUE, JobName, jobOptions } from './contracts.js';
import type { JobQueues } from './queues.js';

/** Where presence notifications leave the user ids they name, for the PBX's next round (jobs/change-debouncer.ts adds). */
export function presenceNotifiedKey(prefix: string, pbxId: string): string {
  return `${prefix}:presence-notified:${pbxId}`;
}

/** A budget entry not refreshed for this long no longer counts (its PBX stopped polling). */
const BUDGET_ENTRY_TTL_MS = 10 * 60_000;
/** At most this many notified ids are taken a round (8 requests of 650); the rest wait for the next. */
const NOTIFIED_PER_ROUND = 650 * 8;

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

  private budgetKey(key: string) {
    return `${this.prefix}:presence-budget:${key}`;
  }

  async shareBudget(budgetKey: string, pbxId: string, requestsPerRound: number): Promise<number> {
    const key = this.budgetKey(budgetKey);
    const now = Date.now();
    const res = (await this.redis
      .multi()
      .hset(key, pbxId, JSON.stringify({ r: requestsPerRound, at: now }))
      .pexpire(key, BUDGET_ENTRY_TTL_MS)
      .hgetall(key)
      .exec()) as Array<[Error | null, unknown]>;
    const all = (res[2]?.[1] ?? {}) as Record<string, string>;
    let total = 0;
    const stale: string[] = [];
    for (const [id, raw] of Object.entries(all)) {
      const e = JSON.parse(raw) as { r: number; at: number };
      if (now - e.at > BUDGET_ENTRY_TTL_MS) stale.push(id);
      else total += e.r;
    }
    if (stale.length) await this.redis.hdel(key, ...stale);
    return total;
  }

  async readBudget(budgetKey: string): Promise<number> {
    const all = await this.redis.hgetall(this.budgetKey(budgetKey));
    const now = Date.now();
    let total = 0;
    for (const raw of Object.values(all)) {
      const e = JSON.parse(raw) as { r: number; at: number };
      if (now - e.at <= BUDGET_ENTRY_TTL_MS) total += e.r;
    }
    return total;
  }

  async leaveBudget(budgetKey: string, pbxId: string): Promise<void> {
    await this.redis.hdel(this.budgetKey(budgetKey), pbxId);
  }

  private stateKey(pbxId: string) {
    return `${this.prefix}:presence-subscription:${pbxId}`;
  }

  async subscriptionState(pbxId: string): Promise<PresenceSubscriptionState | null> {
    const raw = await this.redis.get(this.stateKey(pbxId));
    return raw ? (JSON.parse(raw) as PresenceSubscriptionState) : null;
  }

  async saveSubscriptionState(pbxId: string, state: PresenceSubscriptionState | null): Promise<void> {
    if (state) await this.redis.set(this.stateKey(pbxId), JSON.stringify(state));
    else await this.redis.del(this.stateKey(pbxId));
  }

  async takeNotified(pbxId: string): Promise<string[]> {
    const ids = await this.redis.spop(presenceNotifiedKey(this.prefix, pbxId), NOTIFIED_PER_ROUND);
    return ids ?? [];
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
