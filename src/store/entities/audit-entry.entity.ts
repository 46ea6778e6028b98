import { randomUUID } from 'node:crypto';
import { Entity, Index, ManyToOne, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { Pbx } from './pbx.entity.js';

/**
 * One GraphQL mutation as it happened: who (key, role), which PBX (none for the fleet's own
 * operations), what (the mutation field
 * and its arguments, secrets redacted), when, and how it ended (OK or the error code).
 * Written once, never changed.
 */
@Entity({ tableName: 'audit_entry' })
@Index({ name: 'audit_entry_pbx_at_index', properties: ['pbx', 'at', 'id'] })
export class AuditEntry {
  [OptionalProps]?: 'pbx' | 'keyId' | 'requestId' | 'message' | 'at';

  @PrimaryKey({ type: 'string', length: 36 })
  id: string = randomUUID();

  /** The PBX acted on; null for the fleet's own operations (an operator's createPbx, deletePbx, keys). */
  @ManyToOne(() => Pbx, { deleteRule: 'cascade', nullable: true })
  pbx: Pbx | null = null;

  /** The API key that called (no foreign key: the entry outlives any change to keys). */
  @Property({ type: 'string', length: 36, nullable: true })
  keyId: string | null = null;

  @Property({ type: 'string', length: 16 })
  role!: string;

  /** The mutation field, e.g. `createExtension`. */
  @Property({ type: 'string', length: 100 })
  operation!: string;

  /** The arguments as sent, with secrets replaced by "[redacted]". */
  @Property({ type: 'json' })
  arguments!: Record<string, unknown>;

  /** `OK`, or the error code the caller got. */
  @Property({ type: 'string', length: 64 })
  outcome!: string;

  @Property({ type: 'string', length: 1000, nullable: true })
  message: string | null = null;

  @Property({ type: 'string', length: 36, nullable: true })
  requestId: string | null = null;

  @Property({ type: Date })
  at: Date = new Date();
}
