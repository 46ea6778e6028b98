import { Authorized, Ctx, Query, Resolver } from 'type-graphql';
import { getIntegration } from '../../app/pbx.js';
import { ApiRole } from '../../domain/access.js';
import type { GraphQLContext } from '../context.js';
import { IntegrationType } from '../types/integration.type.js';

@Resolver(() => IntegrationType)
export class IntegrationResolver {
  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER)
  @Query(() => IntegrationType, { description: "The PBX's Microsoft 365 integration." })
  integration(@Ctx() ctx: GraphQLContext) {
    return getIntegration(ctx.store, ctx.caller);
  }
}
