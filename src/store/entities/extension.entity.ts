import { randomUUID } from 'node:crypto';
import { Entity, Index, ManyToOne, OptionalProps, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import type { SyncSource } from '../../domain/pbx.types.js';
import { updatedNow } from '../clock.js';
import { Pbx } from './pbx.entity.js';

/**
 * An extension of one PBX. The gateway is the system of record for it (ARCHITECTURE).
 * Uniqueness per PBX: the number, the email (case-insensitively, through `emailKey`) and
 * the Entra object id (when set; NULLs never collide).
 */
@Entity({ tableName: 'extension' })
@Unique({ name: 'extension_pbx_number_unique', properties: ['pbx', 'number'] })
@Unique({ name: 'extension_pbx_email_key_unique', properties: ['pbx', 'emailKey'] })
@Unique({ name: 'extension_pbx_external_id_unique', properties: ['pbx', 'externalId'] })
@Index({ name: 'extension_pbx_number_sort_index', properties: ['pbx', 'numberSort'] })
@Index({ name: 'extension_pbx_mobile_e164_index', properties: ['pbx', 'mobileE164'] })
// Issue 16: a delta run's fingerprint of the PBX directory (max updated_at) and its synced
// count are read along these, not by scanning the PBX's 100,000 extensions.
@Index({ name: 'extension_pbx_updated_at_index', properties: ['pbx', 'updatedAt'] })
@Index({ name: 'extension_pbx_source_index', properties: ['pbx', 'source'] })
export class Extension {
  [OptionalProps]?:
    | 'email'
    | 'emailKey'
    | 'mobileNumber'
    | 'mobileE164'
    | 'jobTitle'
    | 'source'
    | 'externalId'
    | 'callerIdName'
    | 'voicemailEnabled'
    | 'notes'
    | 'createdAt'
    | 'updatedAt';

  @PrimaryKey({ type: 'string', length: 36 })
  id: string = randomUUID();

  @ManyToOne(() => Pbx, { deleteRule: 'cascade' })
  pbx!: Pbx;

  /** 1–7 digits (Yeastar P-Series). */
  @Property({ type: 'string', length: 7 })
  number!: string;

  /** The number as an integer: lists are ordered by it (999 before 1000). Kept by the repository. */
  @Property({ type: 'integer' })
  numberSort!: number;

  @Property({ type: 'string', length: 64 })
  firstName!: string;

  @Property({ type: 'string', length: 64 })
  lastName!: string;

  @Property({ type: 'string', length: 254, nullable: true })
  email: string | null = null;

  /** The email trimmed and lower-cased: the case-insensitive unique key. */
  @Property({ type: 'string', length: 254, nullable: true })
  emailKey: string | null = null;

  @Property({ type: 'string', length: 32, nullable: true })
  mobileNumber: string | null = null;

  /** The mobile number in E.164 under the PBX's country: caller ID's key (src/store/mobile-key.ts). */
  @Property({ type: 'string', length: 16, nullable: true })
  mobileE164: string | null = null;

  @Property({ type: 'string', length: 128, nullable: true })
  jobTitle: string | null = null;

  // Kept as text (no CHECK), like the other enums: the domain validates the value.
  @Property({ type: 'string', length: 16 })
  source: SyncSource = 'MANUAL';

  /** The Entra user object id while synced. */
  @Property({ type: 'string', length: 64, nullable: true })
  externalId: string | null = null;

  /** PBX-managed: editable by hand even while synced. */
  @Property({ type: 'string', length: 64, nullable: true })
  callerIdName: string | null = null;

  @Property({ type: 'boolean' })
  voicemailEnabled: boolean = true;

  @Property({ type: 'text', nullable: true })
  notes: string | null = null;

  @Property({ type: Date })
  createdAt: Date = new Date();

  @Property({ type: Date, onUpdate: updatedNow })
  updatedAt: Date = new Date();
}
