import { Entity, Index, ManyToOne, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { Pbx } from './pbx.entity.js';

/**
 * S2/S4: one Linkus session, from one sign-in: the family of its rotating refresh tokens. The
 * extension is kept by id (no foreign key): a session of an extension that is deleted is revoked,
 * not deleted, so that the admin still sees why it ended.
 */
@Entity({ tableName: 'linkus_session' })
@Index({ name: 'linkus_session_extension_index', properties: ['pbx', 'extensionId', 'createdAt'] })
// Every process loads the sessions revoked within an access token's lifetime (start, sweep).
@Index({ name: 'linkus_session_revoked_index', properties: ['revokedAt'] })
export class LinkusSessionRow {
  [OptionalProps]?: 'revokedAt' | 'revokedReason';

  @PrimaryKey({ type: 'string', length: 36 })
  id!: string;

  @ManyToOne(() => Pbx, { deleteRule: 'cascade' })
  pbx!: Pbx;

  @Property({ type: 'string', length: 36 })
  extensionId!: string;

  /** The Entra object id the sign-in proved. */
  @Property({ type: 'string', length: 64 })
  entraObjectId!: string;

  @Property({ type: Date })
  createdAt!: Date;

  /** The last sign-in or refresh. */
  @Property({ type: Date })
  lastUsedAt!: Date;

  /** When its refresh tokens stop working, refreshed or not (the family's absolute lifetime). */
  @Property({ type: Date })
  expiresAt!: Date;

  @Property({ type: Date, nullable: true })
  revokedAt: Date | null = null;

  /** Why it ended (SIGNED_OUT, ADMIN_REVOKED, REFRESH_TOKEN_REUSED, CODE_REPLAYED, EXTENSION_GONE, INTEGRATION_DISABLED, …). */
  @Property({ type: 'string', length: 40, nullable: true })
  revokedReason: string | null = null;
}

/** A refresh token of a session: its SHA-256 only, and when it was used (once: rotation). */
@Entity({ tableName: 'linkus_refresh_token' })
export class LinkusRefreshTokenRow {
  [OptionalProps]?: 'usedAt';

  @PrimaryKey({ type: 'string', length: 64 })
  hash!: string;

  @ManyToOne(() => LinkusSessionRow, { deleteRule: 'cascade', index: true })
  session!: LinkusSessionRow;

  @Property({ type: Date })
  createdAt!: Date;

  @Property({ type: Date, nullable: true })
  usedAt: Date | null = null;
}

/** The keys access tokens are signed with (HS256), sealed with SECRET_KEY; the newest signs. */
@Entity({ tableName: 'linkus_signing_key' })
export class LinkusSigningKeyRow {
  /** The JWT `kid`. */
  @PrimaryKey({ type: 'string', length: 36 })
  id!: string;

  @Property({ type: 'text' })
  sealed!: string;

  @Property({ type: Date })
  createdAt!: Date;
}
