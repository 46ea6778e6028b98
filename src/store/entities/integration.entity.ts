import { randomUUID } from 'node:crypto';
import { Entity, OneToOne, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { IntegrationStatus } from '../../domain/integration.js';
import { Pbx } from './pbx.entity.js';

/** The PBX's Microsoft 365 integration (one per PBX). */
@Entity({ tableName: 'integration' })
export class Integration {
  [OptionalProps]?: 'status' | 'createdAt' | 'updatedAt';

  @PrimaryKey({ type: 'string', length: 36 })
  id: string = randomUUID();

  @OneToOne(() => Pbx, { owner: true, unique: true, deleteRule: 'cascade' })
  pbx!: Pbx;

  // Kept as text (no CHECK): MikroORM cannot read SQLite CHECK constraints back, and the
  // domain validates the value anyway.
  @Property({ type: 'string', length: 32 })
  status: IntegrationStatus = IntegrationStatus.NOT_CONNECTED;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
