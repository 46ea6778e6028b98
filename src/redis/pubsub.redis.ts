import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { createPubSub } from '@graphql-yoga/subscription';
import type { Redis } from 'ioredis';
import type { PubSub } from 'type-graphql';
import type { Logger } from '../logger.js';
import { createRedis } from './connection.js';

export interface EventBus {
  pubSub: PubSub;
  close(): Promise<void>;
}

/**
 * Subscription events travel through Redis, so a client connected to one gateway
 * process sees what a worker in another process publishes. Topics are prefixed so that
 * several gateways (or test files) can share one Redis.
 */
export function createEventBus(redisUrl: string, prefix: string, logger: Logger): EventBus {
  const publishClient: Redis = createRedis(redisUrl, 'blocking', logger, 'events:pub');
  const subscribeClient: Redis = createRedis(redisUrl, 'blocking', logger, 'events:sub');
  const eventTarget = createRedisEventTarget({ publishClient, subscribeClient });
  const inner = createPubSub({ eventTarget });
  const topic = (name: string) => `${prefix}:${name}`;
  const pubSub: PubSub = {
    publish: (routingKey: string, ...args: unknown[]) =>
      (inner.publish as unknown as (k: string, ...a: unknown[]) => void)(topic(routingKey), ...args),
    subscribe: (routingKey: string, dynamicId?: unknown) =>
      (inner.subscribe as unknown as (k: string, id?: unknown) => AsyncIterable<unknown>)(
        topic(routingKey),
        dynamicId,
      ),
  };
  return {
    pubSub,
    async close() {
      // Shutdown, best effort: QUIT fails when the connection is down already (its errors are
      // logged by createRedis), and disconnect() below closes the socket either way.
      // A connection that is away would queue its QUIT until Redis is back: it is only cut.
      const quit = (c: Redis) => (c.status === 'ready' ? c.quit().catch(() => {}) : Promise.resolve());
      await Promise.all([quit(publishClient), quit(subscribeClient)]);
      publishClient.disconnect();
      subscribeClient.disconnect();
    },
  };
}
