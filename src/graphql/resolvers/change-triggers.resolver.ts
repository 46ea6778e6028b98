import { Arg, Authorized, Ctx, Field, Int, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import { changeTriggerStatus, saveChangeTriggers } from '../../app/change-notifications.js';
import { ApiRole } from '../../domain/access.js';
import type { GraphQLContext } from '../context.js';

@ObjectType('ChangeSubscription')
class ChangeSubscriptionType {
  @Field(() => String)
  resource!: string;
  @Field(() => Date)
  expiresAt!: Date;
}

@ObjectType('ChangeTriggers', {
  description:
    'T2: how directory changes trigger syncs. NOTIFICATIONS when Graph can reach the PBX public URL, else POLL (delta links).',
})
class ChangeTriggersType {
  @Field(() => String)
  mode!: string;
  @Field(() => Int, { description: 'A sync this many seconds after the first change (0: at once).' })
  debounceSeconds!: number;
  @Field(() => Int, { description: '... or at once when this many changes have gathered.' })
  threshold!: number;
  @Field(() => Int)
  pollMinutes!: number;
  @Field(() => Date, { nullable: true })
  lastPolledAt!: Date | null;
  @Field(() => [ChangeSubscriptionType])
  subscriptions!: ChangeSubscriptionType[];
}

@Resolver()
export class ChangeTriggersResolver {
  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER)
  @Query(() => ChangeTriggersType)
  changeTriggers(@Ctx() ctx: GraphQLContext) {
    return changeTriggerStatus(ctx, ctx.caller.pbxId);
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => ChangeTriggersType, {
    description: 'T2 settings (the P-Series defaults are 600 s and 10 changes).',
  })
  async saveChangeTriggers(
    @Arg('debounceSeconds', () => Int) debounceSeconds: number,
    @Arg('threshold', () => Int) threshold: number,
    @Arg('pollMinutes', () => Int, { defaultValue: 5 }) pollMinutes: number,
    @Ctx() ctx: GraphQLContext,
  ) {
    await saveChangeTriggers(ctx, ctx.caller.pbxId, { debounceSeconds, threshold, pollMinutes });
    return changeTriggerStatus(ctx, ctx.caller.pbxId);
  }
}
