/**
 * Revoking a key ends its sessions everywhere: the use case that revokes (or deletes) keys
 * announces them, and every gateway process closes its open WebSocket sessions of those keys
 * (Redis pub/sub, src/redis/key-revocation.redis.ts). HTTP requests and dashboard sessions
 * need no announcement: they look the key up each time.
 */
export interface KeyRevocationNotifier {
  /** Tells every gateway process, now, that these keys no longer work. */
  announce(keyIds: readonly string[]): Promise<void>;
}
