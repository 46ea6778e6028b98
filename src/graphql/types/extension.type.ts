import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { PageInfo } from './page-info.type.js';

/** The GraphQL face of the domain's SyncSource. */
export const SyncSourceEnum = { SYNCED: 'SYNCED', MANUAL: 'MANUAL' } as const;

registerEnumType(SyncSourceEnum, {
  name: 'SyncSource',
  description: 'Who manages an extension or extension group.',
  valuesConfig: {
    SYNCED: {
      description: 'Created or associated by the Microsoft 365 integration, which still manages it (locked).',
    },
    MANUAL: { description: 'Managed on the PBX by hand.' },
  },
});

@ObjectType('Extension', { description: 'An extension of the PBX.' })
export class ExtensionType {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { description: '1 to 7 digits, unique in the PBX.' })
  number!: string;

  @Field(() => String)
  firstName!: string;

  @Field(() => String)
  lastName!: string;

  @Field(() => String, { nullable: true, description: 'Unique in the PBX (case-insensitively).' })
  email!: string | null;

  @Field(() => String, { nullable: true })
  mobileNumber!: string | null;

  @Field(() => String, { nullable: true })
  jobTitle!: string | null;

  @Field(() => SyncSourceEnum, { description: 'SYNCED extensions carry the Microsoft 365 label (U9).' })
  source!: 'SYNCED' | 'MANUAL';

  @Field(() => String, { nullable: true, description: 'The Entra ID user object id, while synced.' })
  externalId!: string | null;

  @Field(() => [String], {
    description: 'Fields that cannot be changed by hand (U9): empty unless the extension is synced.',
  })
  lockedFields!: string[];

  @Field(() => String, { nullable: true, description: 'PBX-managed; editable even while synced.' })
  callerIdName!: string | null;

  @Field(() => Boolean, { description: 'PBX-managed; editable even while synced.' })
  voicemailEnabled!: boolean;

  @Field(() => String, { nullable: true, description: 'PBX-managed; editable even while synced.' })
  notes!: string | null;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  updatedAt!: Date;
}

@ObjectType('ExtensionEdge')
export class ExtensionEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => ExtensionType)
  node!: ExtensionType;
}

@ObjectType('ExtensionConnection', { description: 'A page of extensions, ordered by number.' })
export class ExtensionConnection {
  @Field(() => [ExtensionEdge])
  edges!: ExtensionEdge[];

  @Field(() => [ExtensionType])
  nodes!: ExtensionType[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int, { description: 'How many extensions match the filter, in all pages.' })
  totalCount!: number;
}

@InputType('ExtensionFilter', { description: 'All given conditions must hold.' })
export class ExtensionFilterInput {
  @Field(() => String, { nullable: true, description: 'Numbers starting with these digits.' })
  number?: string | null;

  @Field(() => String, { nullable: true, description: 'Part of "first last" name, any case.' })
  name?: string | null;

  @Field(() => String, { nullable: true, description: 'Part of the email, any case.' })
  email?: string | null;

  @Field(() => SyncSourceEnum, { nullable: true })
  source?: 'SYNCED' | 'MANUAL' | null;
}

@InputType('CreateExtensionInput')
export class CreateExtensionInput {
  @Field(() => String, { description: '1 to 7 digits, not starting with 0; unique in the PBX.' })
  number!: string;

  @Field(() => String)
  firstName!: string;

  @Field(() => String, { nullable: true })
  lastName?: string | null;

  @Field(() => String, { nullable: true })
  email?: string | null;

  @Field(() => String, { nullable: true })
  mobileNumber?: string | null;

  @Field(() => String, { nullable: true })
  jobTitle?: string | null;

  @Field(() => String, { nullable: true })
  callerIdName?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'Default true.' })
  voicemailEnabled?: boolean | null;

  @Field(() => String, { nullable: true })
  notes?: string | null;
}

@InputType('UpdateExtensionInput', {
  description:
    'Only the fields given change; null clears a field that may be empty. On a synced extension, ' +
    'firstName, lastName, email, mobileNumber and jobTitle are locked (LOCKED_BY_SYNC).',
})
export class UpdateExtensionInput {
  @Field(() => String, { nullable: true })
  number?: string | null;

  @Field(() => String, { nullable: true })
  firstName?: string | null;

  @Field(() => String, { nullable: true })
  lastName?: string | null;

  @Field(() => String, { nullable: true })
  email?: string | null;

  @Field(() => String, { nullable: true })
  mobileNumber?: string | null;

  @Field(() => String, { nullable: true })
  jobTitle?: string | null;

  @Field(() => String, { nullable: true })
  callerIdName?: string | null;

  @Field(() => Boolean, { nullable: true })
  voicemailEnabled?: boolean | null;

  @Field(() => String, { nullable: true })
  notes?: string | null;
}
