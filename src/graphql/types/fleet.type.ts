import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { ApiRole } from '../../domain/access.js';
import { PageInfo } from './page-info.type.js';
import { PbxType } from './pbx.type.js';

registerEnumType(ApiRole, {
  name: 'ApiRole',
  description: 'What a key may do.',
  valuesConfig: {
    ADMIN: { description: 'The PBX portal: everything for its PBX.' },
    VIEWER: { description: 'Read-only, for its PBX.' },
    LINKUS: { description: 'A Linkus user session of its PBX.' },
    OPERATOR: {
      description: 'The fleet: PBXs and their keys; acts on one PBX only by naming it (x-pbx-id).',
    },
  },
});

/** The roles a PBX's key may be created with (operator keys are made with the CLI only). */
export const PbxKeyRoleEnum = { ADMIN: 'ADMIN', VIEWER: 'VIEWER', LINKUS: 'LINKUS' } as const;
registerEnumType(PbxKeyRoleEnum, { name: 'PbxKeyRole', description: 'The role of a new PBX key.' });

@ObjectType('PbxEdge')
export class PbxEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => PbxType)
  node!: PbxType;
}

@ObjectType('PbxConnection', { description: 'A page of PBXs, in the order they were created.' })
export class PbxConnection {
  @Field(() => [PbxEdge])
  edges!: PbxEdge[];

  @Field(() => [PbxType])
  nodes!: PbxType[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int)
  totalCount!: number;
}

@ObjectType('ApiKey', {
  description: 'An API key as stored: never the key itself, only its first characters.',
})
export class ApiKeyType {
  @Field(() => ID)
  id!: string;

  @Field(() => ID, { nullable: true, description: 'Its PBX; null for an OPERATOR key.' })
  pbxId!: string | null;

  @Field(() => ApiRole)
  role!: ApiRole;

  @Field(() => String, { description: 'The first 10 characters of the key, to tell keys apart.' })
  prefix!: string;

  @Field(() => String, { nullable: true })
  label!: string | null;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When it was revoked; null while it works.' })
  revokedAt!: Date | null;
}

@ObjectType('ApiKeyEdge')
export class ApiKeyEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => ApiKeyType)
  node!: ApiKeyType;
}

@ObjectType('ApiKeyConnection', { description: 'A page of API keys, oldest first.' })
export class ApiKeyConnection {
  @Field(() => [ApiKeyEdge])
  edges!: ApiKeyEdge[];

  @Field(() => [ApiKeyType])
  nodes!: ApiKeyType[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int)
  totalCount!: number;
}

@ObjectType('CreatedApiKey', { description: 'A new key: `key` is shown this once and never again.' })
export class CreatedApiKeyType {
  @Field(() => String, { description: 'The key itself ("Authorization: Bearer <key>"). Store it now.' })
  key!: string;

  @Field(() => ApiKeyType)
  apiKey!: ApiKeyType;
}

@ObjectType('DeletedPbx', { description: 'What deletePbx removed.' })
export class DeletedPbxType {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => Int, { description: 'Its keys, deleted with it: their open sessions are closed.' })
  keysRevoked!: number;

  @Field(() => Int, {
    description: 'Every row deleted (extensions, groups, runs, audit entries ...), the PBX included.',
  })
  rowsDeleted!: number;
}

@InputType('CreatePbxInput')
export class CreatePbxInput {
  @Field(() => String, { description: '1 to 200 characters.' })
  name!: string;

  @Field(() => String, { nullable: true, description: 'IANA time zone; default UTC.' })
  timeZone?: string;

  @Field(() => String, { nullable: true })
  publicBaseUrl?: string | null;

  @Field(() => Int, { nullable: true, description: 'Default 500.' })
  extensionCapacity?: number;

  @Field(() => String, { nullable: true, description: 'ISO 3166-1 alpha-2; default US.' })
  defaultCountry?: string;
}

@InputType('CreateApiKeyInput')
export class CreateApiKeyInput {
  @Field(() => ID)
  pbxId!: string;

  @Field(() => PbxKeyRoleEnum)
  role!: keyof typeof PbxKeyRoleEnum;

  @Field(() => String, { nullable: true, description: 'A note to tell keys apart (at most 200 characters).' })
  label?: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      'LINKUS keys only, and required for them: the number of the extension whose Linkus session the key is.',
  })
  extensionNumber?: string | null;
}
