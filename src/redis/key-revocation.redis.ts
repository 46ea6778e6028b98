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
 * Announces revoked keys on a Redis channel (`<QUEUE_PREFIX>:keys-revoked`, JSON: `{"keyIds":
 * [...]}`, or `{"pbxIds": [...]}` for keys of PBXs gone without their ids at hand): every
 * gateway process listening on the same Redis and prefix closes its open sockets of those keys
 * and forgets them (src/app/known-keys.ts).
 */
export class RedisKeyRevocations implements KeyRevocationNotifier {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  announce(keyIds: readonly string[]) {
    return this.publish('keyIds', keyIds);
  }

  announcePbxKeys(pbxIds: readonly string[]) {
    return this.publish('pbxIds', pbxIds);
  }

  private async publish(field: 'keyIds' | 'pbxIds', ids: readonly string[]) {
    for (let i = 0; i < ids.length; i += IDS_PER_MESSAGE) {
      await this.redis.publish(
        revokedKeysChannel(this.prefix),
        JSON.stringify({ [field]: ids.slice(i, i + IDS_PER_MESSAGE) }),
      );
    }
  }
}

/**
 * Listens for revoked keys on a connection of its own (subscriber mode). `revoked` gets the
 * ids of each announcement, from any process; `pbxKeysRevoked` the PBXs of keys announced by
 * PBX. `listening(true)` is called each time the channel is subscribed (at start, and again
 * after each loss of the connection, when announcements may have been missed), `listening(false)`
 * each time the connection drops: meanwhile announcements are not heard.
 */
export function listenForRevokedKeys(
  url: string,
  prefix: string,
  logger: Logger,
  handlers: {
    revoked(keyIds: string[]): void;
    pbxKeysRevoked(pbxIds: string[]): void;
    listening(on: boolean): void;
  },
): { close(): Promise<void> } {
  const channel = revokedKeysChannel(prefix);
  const sub = createRedis(url, 'blocking', logger, 'keys-revoked:sub');
  let heard = false;
  const deaf = () => {
    if (!heard) return;
    heard = false;
    handlers.listening(false);
  };
  sub.on('close', deaf);
  sub.on('end', deaf);
  // Subscribed (again) on each connection: from the reply on, every announcement arrives.
  sub.on('ready', () => {
    sub.subscribe(channel).then(
      () => {
        heard = true;
        handlers.listening(true);
      },
      (err: Error) =>
        // ioredis subscribes again once connected; the sweep covers what is missed meanwhile.
        logger.warn({ err: err.message }, 'could not subscribe to revoked keys yet (will retry)'),
    );
  });
  const strings = (v: unknown) =>
    Array.isArray(v) ? v.filter((k): k is string => typeof k === 'string') : null;
  sub.on('message', (from: string, message: string) => {
    if (from !== channel) return;
    try {
      const parsed = JSON.parse(message) as { keyIds?: unknown; pbxIds?: unknown };
      const keyIds = strings(parsed.keyIds);
      const pbxIds = strings(parsed.pbxIds);
      if (keyIds) handlers.revoked(keyIds);
      if (pbxIds) handlers.pbxKeysRevoked(pbxIds);
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'ignored a malformed revoked-keys message');
    }
  });
  return {
    async close() {
      deaf();
      // Shutdown, best effort: QUIT fails when the connection is down already; disconnect() closes it anyway.
      await sub.quit().catch(() => {});
      sub.disconnect();
    },
  };
}
