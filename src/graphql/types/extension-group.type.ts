import { Field, ID, Int, ObjectType } from 'type-graphql';
import { SyncSourceEnum } from './extension.type.js';
import { PageInfo } from './page-info.type.js';

@ObjectType('ExtensionGroup', { description: 'An extension group of the PBX (at most 63).' })
export class ExtensionGroupType {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { description: 'Unique in the PBX.' })
  name!: string;

  @Field(() => SyncSourceEnum, { description: 'SYNCED groups carry the Microsoft 365 label (G4).' })
  source!: 'SYNCED' | 'MANUAL';

  @Field(() => String, {
    nullable: true,
    description:
      'The Entra ID group object id: of the group it is synced to (SYNCED), or, for a group the sync released (MANUAL), of the group it was synced from: a later sync takes it over again if that group comes back.',
  })
  externalId!: string | null;

  @Field(() => [ID], { description: 'The member extensions.' })
  memberIds!: string[];

  @Field(() => Int)
  memberCount!: number;

  @Field(() => [String], {
    description: 'Fields that cannot be changed by hand (G4): empty unless the group is synced.',
  })
  lockedFields!: string[];

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  updatedAt!: Date;
}

@ObjectType('ExtensionGroupEdge')
export class ExtensionGroupEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => ExtensionGroupType)
  node!: ExtensionGroupType;
}

@ObjectType('ExtensionGroupConnection', { description: 'A page of extension groups, ordered by name.' })
export class ExtensionGroupConnection {
  @Field(() => [ExtensionGroupEdge])
  edges!: ExtensionGroupEdge[];

  @Field(() => [ExtensionGroupType])
  nodes!: ExtensionGroupType[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int)
  totalCount!: number;
}
