import { Arg, Authorized, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { getLinkusSso, saveLinkusSso } from '../../app/linkus-sso.js';
import { ApiRole } from '../../domain/access.js';
import type { GraphQLContext } from '../context.js';
import { LinkusSsoInput, LinkusSsoType } from '../types/linkus-sso.type.js';

@Resolver(() => LinkusSsoType)
export class LinkusSsoResolver {
  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER)
  @Query(() => LinkusSsoType, { description: 'S1: single sign-on for Linkus with Microsoft.' })
  linkusSso(@Ctx() ctx: GraphQLContext) {
    return getLinkusSso({ store: ctx.store }, ctx.caller);
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => LinkusSsoType, {
    description:
      "S1: turns single sign-on for Linkus on or off and registers the Linkus clients' redirect URIs. Refused with INTEGRATION_NOT_CONNECTED or INTEGRATION_DISABLED unless the integration is connected; INVALID_INPUT names each bad redirect URI.",
  })
  saveLinkusSso(@Arg('input', () => LinkusSsoInput) input: LinkusSsoInput, @Ctx() ctx: GraphQLContext) {
    return saveLinkusSso({ store: ctx.store, webOrigins: ctx.services.linkusWebOrigins }, ctx.caller, input);
  }
}
