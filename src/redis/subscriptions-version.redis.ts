import type { Redis } from 'ioredis';
import type { SubscriptionsVersion } from '../app/ports/change-notifications.port.js';

/** The version of the known Graph subscriptions, one counter per installation (QUEUE_PREFIX). */
export class RedisSubscriptionsVersion implements SubscriptionsVersion {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private get key() {
    return `${this.prefix}:graph-subscriptions:version`;
  }

  async current() {
    return (await this.redis.get(this.key)) ?? '0';
  }

  async bump() {
    await this.redis.incr(this.key);
  }
}
