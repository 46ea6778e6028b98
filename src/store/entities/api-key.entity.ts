import { randomUUID } from 'node:crypto';
import { Entity, ManyToOne, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { ApiRole } from '../../domain/access.js';
import { Extension } from './extension.entity.js';
import { Pbx } from './pbx.entity.js';

/**
 * An API key. Only its SHA-256 hash is stored; the key itself is shown once at creation.
 * A PBX's key (ADMIN, VIEWER, LINKUS) names its PBX; an OPERATOR key has none.
 */
@Entity({ tableName: 'api_key' })
export class ApiKey {
  [OptionalProps]?: 'pbx' | 'extension' | 'label' | 'createdAt' | 'revokedAt';

  @PrimaryKey({ type: 'string', length: 36 })
  id: string = randomUUID();

  @ManyToOne(() => Pbx, { deleteRule: 'cascade', nullable: true })
  pbx: Pbx | null = null;

  /**
   * A LINKUS key's extension: the key is that extension's Linkus session. Deleting the
   * extension deletes the key with it, so that at its next use the key is unknown (401), and
   * open sockets of it close at their next re-check (`activeKeyIds`).
   */
  @ManyToOne(() => Extension, { deleteRule: 'cascade', nullable: true })
  extension: Extension | null = null;

  // Kept as text (no CHECK): MikroORM cannot read SQLite CHECK constraints back, and the
  // domain validates the value anyway.
  @Property({ type: 'string', length: 16 })
  role!: ApiRole;

  @Property({ type: 'string', length: 64, unique: true })
  hash!: string;

  /** The first characters of the key, to tell keys apart in a list. */
  @Property({ type: 'string', length: 16 })
  prefix!: string;

  @Property({ type: 'string', length: 200, nullable: true })
  label: string | null = null;

  @Property({ type: Date })
  createdAt: Date = new Date();

  @Property({ type: Date, nullable: true })
  revokedAt: Date | null = null;
}
