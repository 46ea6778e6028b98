import { Entity, Index, ManyToOne, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { Pbx } from './pbx.entity.js';

/**
 * A Microsoft Graph change-notification subscription the gateway holds for one PBX (T2).
 * Only a hash of its clientState is kept: enough to check a notification, useless to forge one.
 */
@Entity({ tableName: 'graph_subscription' })
@Index({ name: 'graph_subscription_pbx_index', properties: ['pbx'] })
export class GraphSubscription {
  [OptionalProps]?: 'createdAt' | 'renewedAt';

  /** Graph's subscription id. */
  @PrimaryKey({ type: 'string', length: 64 })
  id!: string;

  @ManyToOne(() => Pbx, { deleteRule: 'cascade' })
  pbx!: Pbx;

  /** `users` or `groups` */
  @Property({ type: 'string', length: 32 })
  resource!: string;

  @Property({ type: Date })
  expiresAt!: Date;

  /** SHA-256 (hex) of the clientState sent at creation. */
  @Property({ type: 'string', length: 64 })
  clientStateHash!: string;

  @Property({ type: Date })
  createdAt: Date = new Date();

  @Property({ type: Date, nullable: true })
  renewedAt: Date | null = null;
}
