import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';

@ObjectType('Pbx', { description: 'A PBX (tenant).' })
export class PbxType {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String, { description: 'IANA time zone; schedules run in it.' })
  timeZone!: string;

  @Field(() => String, { nullable: true, description: 'Public base URL of the PBX portal.' })
  publicBaseUrl!: string | null;

  @Field(() => Int, { description: 'Extensions the PBX licence allows.' })
  extensionCapacity!: number;

  @Field(() => String, { description: 'ISO 3166-1 alpha-2 country for reading phone numbers.' })
  defaultCountry!: string;

  @Field(() => Date)
  createdAt!: Date;
}

@InputType('UpdatePbxInput')
export class UpdatePbxInput {
  @Field(() => String, { nullable: true })
  name?: string;

  @Field(() => String, { nullable: true })
  timeZone?: string;

  @Field(() => String, { nullable: true })
  publicBaseUrl?: string | null;

  @Field(() => Int, { nullable: true })
  extensionCapacity?: number;

  @Field(() => String, { nullable: true })
  defaultCountry?: string;
}
