/** S2/S4: a Linkus session as the store keeps it (never a token: refresh tokens by hash only). */
export interface LinkusSessionData {
  id: string;
  pbxId: string;
  extensionId: string;
  entraObjectId: string;
  createdAt: Date;
  lastUsedAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  revokedReason: string | null;
}

/** A refresh token's row, with its session. */
export interface LinkusRefreshTokenData {
  hash: string;
  usedAt: Date | null;
  session: LinkusSessionData;
}

/** A signing key of access tokens, sealed (SecretBox) under its `kid`. */
export interface LinkusSigningKeyData {
  id: string;
  sealed: string;
  createdAt: Date;
}

/** Which sessions a revocation ends. */
export type LinkusSessionScope =
  | { sessionId: string }
  | { pbxId: string; extensionId: string }
  | { pbxId: string; extensionIds: readonly string[] }
  | { pbxId: string }
  /** Every session of the PBX whose extension is no longer a synced extension of it. */
  | { pbxId: string; extensionNotSynced: true };

/** The sessions, their refresh tokens, and the signing keys (SQLite / PostgreSQL). */
export interface LinkusSessionRepository {
  create(session: Omit<LinkusSessionData, 'revokedAt' | 'revokedReason'>, refreshHash: string): Promise<void>;
  findRefreshToken(hash: string): Promise<LinkusRefreshTokenData | null>;
  /**
   * Marks a refresh token used and adds its successor, if the token was unused: false when
   * another request used it first (a conditional update: never both).
   */
  rotateRefreshToken(hash: string, next: string, at: Date): Promise<boolean>;
  findSession(id: string): Promise<LinkusSessionData | null>;
  /** Newest first. */
  listOfExtension(pbxId: string, extensionId: string, limit: number): Promise<LinkusSessionData[]>;
  /** Ends the live sessions of the scope; returns their ids (those revoked already are left as they were). */
  revoke(scope: LinkusSessionScope, reason: string, at: Date): Promise<string[]>;
  /** Ids of sessions revoked at or after `since` (each process's revoked set). */
  revokedSince(since: Date): Promise<Array<{ id: string; revokedAt: Date }>>;
  /** The newest signing keys, newest first. */
  signingKeys(limit: number): Promise<LinkusSigningKeyData[]>;
  addSigningKey(key: LinkusSigningKeyData): Promise<void>;
  /** Compare-and-set of a signing key's sealed value (re-sealing under a new SECRET_KEY). */
  replaceSealedSigningKey(id: string, expected: string, next: string): Promise<boolean>;
}
