/**
 * Revoking a key ends its sessions everywhere: the use case that revokes (or deletes) keys
 * announces them, and every gateway process closes its open WebSocket sessions of those keys
 * (Redis pub/sub, src/redis/key-revocation.redis.ts) and forgets them if it remembered them
 * valid (src/app/known-keys.ts: HTTP requests trust a key found valid for a few seconds, and
 * only while these announcements are heard). Every change that makes a key stop working is
 * announced, after it commits.
 */
export interface KeyRevocationNotifier {
  /** Tells every gateway process, now, that these keys (or Linkus sessions) no longer work. */
  announce(keyIds: readonly string[]): Promise<void>;
  /**
   * Tells every gateway process, now, that keys of these PBXs went without their ids at hand
   * (LINKUS keys deleted with their extensions): each reads the PBXs' keys again and re-checks
   * its open sockets' keys.
   */
  announcePbxKeys(pbxIds: readonly string[]): Promise<void>;
}
