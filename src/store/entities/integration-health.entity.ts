import { randomUUID } from 'node:crypto';
import { Entity, OneToOne, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { Pbx } from './pbx.entity.js';

/**
 * What the last check of an integration's access to Microsoft found (issue 11 item 3): a run,
 * the daily check or testConnection. Kept apart from `integration`, whose `updatedAt` says when
 * the settings changed (a run that finds nothing changed since the last one skips planning).
 */
@Entity({ tableName: 'integration_health' })
export class IntegrationHealth {
  [OptionalProps]?: 'codes' | 'missingPermissions' | 'message' | 'checkedAt' | 'lastHealthyAt';

  @PrimaryKey({ type: 'string', length: 36 })
  id: string = randomUUID();

  @OneToOne(() => Pbx, { owner: true, unique: true, deleteRule: 'cascade' })
  pbx!: Pbx;

  /** Comma-separated HealthCode values; null when nothing is wrong. */
  @Property({ type: 'string', length: 200, nullable: true })
  codes: string | null = null;

  /** Comma-separated "Name (type)" of the required permissions found missing. */
  @Property({ type: 'string', length: 500, nullable: true })
  missingPermissions: string | null = null;

  @Property({ type: 'string', length: 1000, nullable: true })
  message: string | null = null;

  @Property({ type: Date, nullable: true })
  checkedAt: Date | null = null;

  @Property({ type: Date, nullable: true })
  lastHealthyAt: Date | null = null;
}
