import type { Redis } from 'ioredis';
import type { KeyRevocationNotifier } from '../app/ports/key-revocation.port.js';
import type { Logger } from '../logger.js';
import { createRedis } from './connection.js';

/** Ids per announcement message. */
const IDS_PER_MESSAGE = 1000;

export function revokedKeysChannel(prefix: string): string {
  return `${prefix}:keys-revoked`;
}

/**
 * Announces revoked keys on a Redis channel (`<QUEUE_PREFIX>:keys-revoked`, a JSON list of
 * key ids): every gateway process listening on the same Redis and prefix closes its open
 * sockets of those keys.
 */
export class RedisKeyRevocations implements KeyRevocationNotifier {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async announce(keyIds: readonly string[]) {
    for (let i = 0; i < keyIds.length; i += IDS_PER_MESSAGE) {
      await this.redis.publish(
        revokedKeysChannel(this.prefix),
        JSON.stringify({ keyIds: keyIds.slice(i, i + IDS_PER_MESSAGE) }),
      );
    }
  }
}

/**
 * Listens for revoked keys on a connection of its own (subscriber mode). `revoked` gets the
 * ids of each announcement, from any process. `resumed` is called each time the connection
 * comes back after a loss, when announcements may have been missed (ioredis subscribes again
 * by itself).
 */
export function listenForRevokedKeys(
  url: string,
  prefix: string,
  logger: Logger,
  handlers: { revoked(keyIds: string[]): void; resumed(): void },
): { close(): Promise<void> } {
  const channel = revokedKeysChannel(prefix);
  const sub = createRedis(url, 'blocking', logger, 'keys-revoked:sub');
  let readyBefore = false;
  sub.on('ready', () => {
    if (readyBefore) handlers.resumed();
    readyBefore = true;
  });
  sub.on('message', (from: string, message: string) => {
    if (from !== channel) return;
    try {
      const { keyIds } = JSON.parse(message) as { keyIds?: unknown };
      if (Array.isArray(keyIds)) handlers.revoked(keyIds.filter((k): k is string => typeof k === 'string'));
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'ignored a malformed revoked-keys message');
    }
  });
  sub.subscribe(channel).catch((err: Error) =>
    // ioredis subscribes again once connected; the sweep covers what is missed meanwhile.
    logger.warn({ err: err.message }, 'could not subscribe to revoked keys yet (will retry)'),
  );
  return {
    async close() {
      // Shutdown, best effort: QUIT fails when the connection is down already; disconnect() closes it anyway.
      await sub.quit().catch(() => {});
      sub.disconnect();
    },
  };
}
