import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { listLinkusSessions, revokeLinkusSessions } from '../../app/linkus-sessions.js';
import { ApiRole } from '../../domain/access.js';
import type { GraphQLContext } from '../context.js';
import { LinkusSessionType, RevokedLinkusSessionsType } from '../types/linkus-session.type.js';

@Resolver(() => LinkusSessionType)
export class LinkusSessionResolver {
  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER)
  @Query(() => [LinkusSessionType], {
    description: "S4: an extension's Linkus sessions, newest first (at most 100): never a token.",
  })
  linkusSessions(@Arg('extensionId', () => ID) extensionId: string, @Ctx() ctx: GraphQLContext) {
    return listLinkusSessions(ctx.store, ctx.caller, extensionId);
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => RevokedLinkusSessionsType, {
    description:
      'S4: ends every live Linkus session of an extension. Their HTTP requests answer 401 at once, their refresh tokens are refused (SESSION_REVOKED), and their open graphql-ws sockets close with 4403 within 5 s on every gateway process.',
  })
  revokeLinkusSessions(@Arg('extensionId', () => ID) extensionId: string, @Ctx() ctx: GraphQLContext) {
    return revokeLinkusSessions(ctx.services.linkusSessions, ctx.store, ctx.caller, extensionId);
  }
}
