import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { PageInfo } from './page-info.type.js';

export enum WelcomeEmailStatusEnum {
  QUEUED = 'QUEUED',
  SENT = 'SENT',
  FAILED = 'FAILED',
}
registerEnumType(WelcomeEmailStatusEnum, {
  name: 'WelcomeEmailStatus',
  description:
    'QUEUED: waiting to be sent, or for a retry (lastError says why); SENT; FAILED: given up (lastError says why).',
});

@ObjectType('WelcomeEmail', {
  description: 'U6: the Linkus welcome email of one extension a sync run created.',
})
export class WelcomeEmailType {
  @Field(() => ID)
  id!: string;
  @Field(() => ID, { description: 'The extension it welcomes (it may since have been deleted).' })
  extensionId!: string;
  @Field(() => String, { description: 'The extension number, as when the email was queued.' })
  number!: string;
  @Field(() => String)
  name!: string;
  @Field(() => String, { nullable: true, description: 'The address it was sent, or last tried, to.' })
  recipient!: string | null;
  @Field(() => WelcomeEmailStatusEnum)
  status!: WelcomeEmailStatusEnum;
  @Field(() => Int, { description: 'Sends tried so far.' })
  attempts!: number;
  @Field(() => String, { nullable: true, description: 'Why the last try failed (e.g. the SMTP answer).' })
  lastError!: string | null;
  @Field(() => Date)
  queuedAt!: Date;
  @Field(() => Date, { nullable: true })
  sentAt!: Date | null;
}

@ObjectType('WelcomeEmailCounts')
export class WelcomeEmailCountsType {
  @Field(() => Int)
  queued!: number;
  @Field(() => Int)
  sent!: number;
  @Field(() => Int)
  failed!: number;
}

@ObjectType('WelcomeEmailEdge')
export class WelcomeEmailEdge {
  @Field(() => String)
  cursor!: string;
  @Field(() => WelcomeEmailType)
  node!: WelcomeEmailType;
}

@ObjectType('WelcomeEmailConnection')
export class WelcomeEmailConnection {
  @Field(() => [WelcomeEmailEdge])
  edges!: WelcomeEmailEdge[];
  @Field(() => [WelcomeEmailType])
  nodes!: WelcomeEmailType[];
  @Field(() => PageInfo)
  pageInfo!: PageInfo;
  @Field(() => Int, { description: 'How many match the filter.' })
  totalCount!: number;
  @Field(() => WelcomeEmailCountsType, {
    description: "All of the run's welcome emails, by status (not filtered).",
  })
  counts!: WelcomeEmailCountsType;
}
