import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../logger.js';
import { backoffMs } from '../startup.js';

/**
 * Redis connections, set as BullMQ's docs advise (docs.bullmq.io/guide/going-to-production):
 * - `blocking` (workers, pub/sub subscribers): `maxRetriesPerRequest: null`, so a command waits
 *   through a reconnect instead of failing;
 * - `command` (producers, health checks, locks): fail fast (`enableOfflineQueue: false`,
 *   one retry) so an HTTP request is answered with an error instead of hanging while Redis is down.
 * Every connection reconnects by itself, with a capped exponential backoff (0.5 s to 5 s), and
 * never crashes the process.
 */
export type RedisUse = 'blocking' | 'command';

export function createRedis(url: string, use: RedisUse, logger?: Logger, name?: string): Redis {
  const options: RedisOptions = {
    lazyConnect: false,
    connectionName: name,
    retryStrategy: (times) => backoffMs(times),
    ...(use === 'blocking'
      ? { maxRetriesPerRequest: null, enableReadyCheck: false }
      : { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000 }),
  };
  const redis = new Redis(url, options);
  let lastError = '';
  redis.on('error', (err: Error) => {
    // ioredis emits one error per failed reconnect. The gateway's one line per attempt, naming
    // Redis, comes from its watch of the command connection (src/startup.ts): here, debug only.
    if (err.message !== lastError)
      logger?.debug({ err: err.message, redis: name ?? use }, 'redis connection error');
    lastError = err.message;
  });
  redis.on('ready', () => {
    lastError = '';
  });
  return redis;
}

/** Resolves when the connection is ready, or after `timeoutMs` (never rejects). */
export function waitUntilReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    timer.unref();
    function done() {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    }
    redis.once('ready', done);
  });
}

export async function pingRedis(redis: Redis, timeoutMs = 1000): Promise<void> {
  await Promise.race([
    redis.ping(),
    new Promise((_, reject) =>
      setTimeout(() => reject(new Error('redis ping timed out')), timeoutMs).unref(),
    ),
  ]);
}
