import { Authorized, Ctx, Query, Resolver, Root, Subscription } from 'type-graphql';
import { getIntegration } from '../../app/pbx.js';
import { ApiRole } from '../../domain/access.js';
import type { IntegrationRecord } from '../../domain/tenant.js';
import type { GraphQLContext } from '../context.js';
import { Topic } from '../../app/topics.js';
import { IntegrationType } from '../types/integration.type.js';

@Resolver(() => IntegrationType)
export class IntegrationResolver {
  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER)
  @Query(() => IntegrationType, { description: "The PBX's Microsoft 365 integration." })
  integration(@Ctx() ctx: GraphQLContext) {
    return getIntegration(ctx.store, ctx.caller);
  }

  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER)
  @Subscription(() => IntegrationType, {
    description: "The integration, each time its status changes (the caller's PBX only).",
    topics: ({ context }) => Topic.integrationChanged((context as GraphQLContext).caller.pbxId),
  })
  integrationChanged(@Root() integration: IntegrationRecord): IntegrationRecord {
    return integration;
  }
}
