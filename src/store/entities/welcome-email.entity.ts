import { Entity, Index, ManyToOne, OptionalProps, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { updatedNow } from '../clock.js';
import { Pbx } from './pbx.entity.js';
import { SyncRun } from './sync.entity.js';

/**
 * U6: one Linkus welcome email of one sync run, and how it went. One per run and
 * extension. The extension is kept by id only (no foreign key): the report outlives it.
 */
@Entity({ tableName: 'welcome_email' })
@Unique({ name: 'welcome_email_run_extension_unique', properties: ['run', 'extensionId'] })
@Index({ name: 'welcome_email_pbx_run_index', properties: ['pbx', 'run', 'id'] })
// The sweep of QUEUED emails (requeueWelcomeEmails) pages through this, in id order.
@Index({ name: 'welcome_email_status_index', properties: ['status', 'id'] })
export class WelcomeEmailRow {
  [OptionalProps]?: 'recipient' | 'status' | 'attempts' | 'lastError' | 'sentAt' | 'updatedAt';

  /** A UUID v7: ids sort in the order the emails were queued. */
  @PrimaryKey({ type: 'string', length: 36 })
  id!: string;

  @ManyToOne(() => Pbx, { deleteRule: 'cascade' })
  pbx!: Pbx;

  @ManyToOne(() => SyncRun, { deleteRule: 'cascade' })
  run!: SyncRun;

  @Property({ type: 'string', length: 36 })
  extensionId!: string;

  /** The extension's number and name when queued. */
  @Property({ type: 'string', length: 7 })
  number!: string;

  @Property({ type: 'string', length: 200 })
  name!: string;

  /** The address it was sent (or last tried) to. */
  @Property({ type: 'string', length: 254, nullable: true })
  recipient: string | null = null;

  /** QUEUED, SENT, FAILED */
  @Property({ type: 'string', length: 8 })
  status: string = 'QUEUED';

  @Property({ type: 'integer' })
  attempts: number = 0;

  @Property({ type: 'string', length: 1000, nullable: true })
  lastError: string | null = null;

  @Property({ type: Date })
  queuedAt!: Date;

  @Property({ type: Date, nullable: true })
  sentAt: Date | null = null;

  @Property({ type: Date, onUpdate: updatedNow })
  updatedAt: Date = new Date();
}
