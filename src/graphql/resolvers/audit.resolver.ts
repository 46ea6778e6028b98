import { Arg, Authorized, Ctx, Int, Query, Resolver } from 'type-graphql';
import { listAuditLog } from '../../app/audit.js';
import { ApiRole } from '../../domain/access.js';
import type { GraphQLContext } from '../context.js';
import { AuditEntryConnection, AuditEntryType } from '../types/audit.type.js';
import { toConnection } from '../types/page-info.type.js';

@Resolver(() => AuditEntryType)
export class AuditResolver {
  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER)
  @Query(() => AuditEntryConnection, {
    description:
      "The PBX's audit log: every mutation, newest first (ADMIN and VIEWER: a VIEWER sees everything).",
  })
  async auditLog(
    @Arg('first', () => Int, { nullable: true, defaultValue: 50, description: '1 to 500.' }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return toConnection(await listAuditLog(ctx.store, ctx.caller, { first, after }));
  }
}
