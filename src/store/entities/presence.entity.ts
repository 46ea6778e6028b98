import { Entity, Index, ManyToOne, OneToOne, OptionalProps, Property } from '@mikro-orm/core';
import { updatedNow } from '../clock.js';
import { Extension } from './extension.entity.js';
import { Pbx } from './pbx.entity.js';

/** P1: presence sync of one PBX's integration on or off. */
@Entity({ tableName: 'presence_settings' })
export class PresenceSettingsRow {
  [OptionalProps]?: 'enabled' | 'retryAt' | 'updatedAt';

  /** One row per PBX. */
  @OneToOne(() => Pbx, { primary: true, owner: true, deleteRule: 'cascade' })
  pbx!: Pbx;

  @Property({ type: 'boolean' })
  enabled: boolean = false;

  /** No presence request before this time (a 429's Retry-After); null: none pending. */
  @Property({ type: Date, nullable: true })
  retryAt: Date | null = null;

  @Property({ type: Date, onUpdate: updatedNow })
  updatedAt: Date = new Date();
}

/**
 * P2, P3: one extension's presence, its switch and its mapping. A row exists once the extension
 * was read from Teams, set by hand or configured; an extension without one is on with the default
 * mapping. Goes with its extension (cascade).
 */
@Entity({ tableName: 'extension_presence' })
@Index({ name: 'extension_presence_pbx_index', properties: ['pbx'] })
export class ExtensionPresenceRow {
  [OptionalProps]?:
    | 'enabled'
    | 'mapping'
    | 'status'
    | 'source'
    | 'teamsAvailability'
    | 'teamsActivity'
    | 'changedAt'
    | 'updatedAt';

  @OneToOne(() => Extension, { primary: true, owner: true, deleteRule: 'cascade' })
  extension!: Extension;

  @ManyToOne(() => Pbx, { deleteRule: 'cascade' })
  pbx!: Pbx;

  @Property({ type: 'boolean' })
  enabled: boolean = true;

  /** The entries that differ from the default mapping, as JSON; null: the default. */
  @Property({ type: 'text', nullable: true })
  mapping: string | null = null;

  @Property({ type: 'string', length: 16, nullable: true })
  status: string | null = null;

  /** TEAMS or MANUAL */
  @Property({ type: 'string', length: 8, nullable: true })
  source: string | null = null;

  @Property({ type: 'string', length: 32, nullable: true })
  teamsAvailability: string | null = null;

  @Property({ type: 'string', length: 32, nullable: true })
  teamsActivity: string | null = null;

  @Property({ type: Date, nullable: true })
  changedAt: Date | null = null;

  @Property({ type: Date, onUpdate: updatedNow })
  updatedAt: Date = new Date();
}
