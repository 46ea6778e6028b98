import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { PageInfo } from './page-info.type.js';

@ObjectType('AuditEntry', { description: 'One mutation as it happened.' })
export class AuditEntryType {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true, description: 'The API key that made it.' })
  keyId!: string | null;

  @Field(() => String, { description: "The key's role." })
  role!: string;

  @Field(() => String, { description: 'The mutation, e.g. createExtension.' })
  operation!: string;

  @Field(() => GraphQLJSONObject, { description: 'Its arguments; secrets are "[redacted]".' })
  arguments!: Record<string, unknown>;

  @Field(() => String, { description: 'OK, or the error code the caller got.' })
  outcome!: string;

  @Field(() => String, { nullable: true, description: 'The error message, when it failed.' })
  message!: string | null;

  @Field(() => String, { nullable: true })
  requestId!: string | null;

  @Field(() => Date)
  at!: Date;
}

@ObjectType('AuditEntryEdge')
export class AuditEntryEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => AuditEntryType)
  node!: AuditEntryType;
}

@ObjectType('AuditEntryConnection', { description: 'A page of the audit log, newest first.' })
export class AuditEntryConnection {
  @Field(() => [AuditEntryEdge])
  edges!: AuditEntryEdge[];

  @Field(() => [AuditEntryType])
  nodes!: AuditEntryType[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int)
  totalCount!: number;
}
