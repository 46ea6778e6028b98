import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { FAILED_JOBS_MAX, listFailedJobs, listQueues, retryFailedJob } from '../../app/jobs-admin.js';
import { ApiRole } from '../../domain/access.js';
import type { GraphQLContext } from '../context.js';
import { QueueJobType, QueueType } from '../types/queue.type.js';

@Resolver(() => QueueType)
export class QueueResolver {
  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER)
  @Query(() => [QueueType], {
    description: 'The job queues and their counts (shared by every PBX: the counts are totals).',
  })
  queues(@Ctx() ctx: GraphQLContext) {
    return listQueues(ctx.services.jobs);
  }

  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER)
  @Query(() => [QueueJobType], {
    description:
      "The failed jobs of the caller's PBX in one queue, newest first. Unknown queue: INVALID_INPUT.",
  })
  failedJobs(
    @Arg('queue', () => String) queue: string,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20, description: `1 to ${FAILED_JOBS_MAX}.` })
    first: number | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return listFailedJobs(ctx.services.jobs, ctx.caller, queue, first ?? 20);
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => QueueJobType, {
    description:
      "Retries a failed job of the caller's PBX. Unknown job (or another PBX's): NOT_FOUND; not failed: INVALID_STATE.",
  })
  retryJob(
    @Arg('queue', () => String) queue: string,
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: GraphQLContext,
  ) {
    return retryFailedJob(ctx.services.jobs, ctx.caller, queue, id);
  }
}
