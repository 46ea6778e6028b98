import { Field, ID, Int, ObjectType } from 'type-graphql';

@ObjectType('QueueCounts', { description: 'Jobs of one queue by state, over every PBX.' })
export class QueueCountsType {
  @Field(() => Int)
  waiting!: number;

  @Field(() => Int)
  active!: number;

  @Field(() => Int)
  delayed!: number;

  @Field(() => Int)
  completed!: number;

  @Field(() => Int)
  failed!: number;
}

@ObjectType('Queue', {
  description: 'A job queue. Queues are shared by every PBX of the installation; counts are totals.',
})
export class QueueType {
  @Field(() => String)
  name!: string;

  @Field(() => QueueCountsType)
  counts!: QueueCountsType;
}

@ObjectType('QueueJob', { description: "A job of the caller's PBX in a queue." })
export class QueueJobType {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  queue!: string;

  @Field(() => String, { description: 'The job name, e.g. sync.' })
  name!: string;

  @Field(() => String, {
    description: 'waiting, active, delayed, completed, failed, prioritized, waiting-children or unknown.',
  })
  state!: string;

  @Field(() => String, { nullable: true, description: 'Why the last attempt failed.' })
  failedReason!: string | null;

  @Field(() => Int, { description: 'Attempts made so far.' })
  attemptsMade!: number;

  @Field(() => Date, { description: 'When the job was queued.' })
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When its last attempt started.' })
  processedAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'When its last attempt ended.' })
  finishedAt!: Date | null;
}
