import { randomUUID } from 'node:crypto';
import {
  Collection,
  Entity,
  Index,
  ManyToOne,
  OneToMany,
  OptionalProps,
  PrimaryKey,
  PrimaryKeyProp,
  Property,
  Unique,
} from '@mikro-orm/core';
import type { SyncSource } from '../../domain/pbx.types.js';
import { updatedNow } from '../clock.js';
import { Extension } from './extension.entity.js';
import { Pbx } from './pbx.entity.js';

/** An extension group of one PBX (at most 63 per PBX, G3). Names are unique per PBX. */
@Entity({ tableName: 'extension_group' })
@Unique({ name: 'extension_group_pbx_name_unique', properties: ['pbx', 'name'] })
@Unique({ name: 'extension_group_pbx_external_id_unique', properties: ['pbx', 'externalId'] })
export class ExtensionGroup {
  [OptionalProps]?: 'source' | 'externalId' | 'createdAt' | 'updatedAt';

  @PrimaryKey({ type: 'string', length: 36 })
  id: string = randomUUID();

  @ManyToOne(() => Pbx, { deleteRule: 'cascade' })
  pbx!: Pbx;

  @Property({ type: 'string', length: 128 })
  name!: string;

  @Property({ type: 'string', length: 16 })
  source: SyncSource = 'MANUAL';

  /** The Entra group object id while synced. */
  @Property({ type: 'string', length: 64, nullable: true })
  externalId: string | null = null;

  /** Read only through queries; members are written in bulk as pivot rows by the repository. */
  @OneToMany(
    () => ExtensionGroupMember,
    (m) => m.group,
  )
  members = new Collection<ExtensionGroupMember>(this);

  @Property({ type: Date })
  createdAt: Date = new Date();

  @Property({ type: Date, onUpdate: updatedNow })
  updatedAt: Date = new Date();
}

/**
 * One extension in one group: an explicit pivot, so that members are added and removed
 * in bulk with plain inserts and deletes. Deleting the group or the extension deletes it.
 */
@Entity({ tableName: 'extension_group_member' })
@Index({ name: 'extension_group_member_extension_index', properties: ['extension'] })
export class ExtensionGroupMember {
  [PrimaryKeyProp]?: ['group', 'extension'];

  @ManyToOne(() => ExtensionGroup, { primary: true, deleteRule: 'cascade' })
  group!: ExtensionGroup;

  @ManyToOne(() => Extension, { primary: true, deleteRule: 'cascade' })
  extension!: Extension;
}
