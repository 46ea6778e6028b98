import { Arg, Authorized, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { getPbx } from '../../app/pbx.js';
import { updatePbxAndSchedule } from '../../app/schedule.js';
import { scheduleDeps } from '../../app/services.js';
import { ApiRole } from '../../domain/access.js';
import type { GraphQLContext } from '../context.js';
import { PbxType, UpdatePbxInput } from '../types/pbx.type.js';

@Resolver(() => PbxType)
export class PbxResolver {
  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER)
  @Query(() => PbxType, { description: "The caller's PBX." })
  pbx(@Ctx() ctx: GraphQLContext) {
    return getPbx(ctx.store, ctx.caller);
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => PbxType, {
    description: "Changes the caller's PBX settings. A new time zone moves the next scheduled sync (T1).",
  })
  updatePbx(@Arg('input', () => UpdatePbxInput) input: UpdatePbxInput, @Ctx() ctx: GraphQLContext) {
    const patch = Object.fromEntries(Object.entries({ ...input }).filter(([, v]) => v !== undefined));
    return updatePbxAndSchedule(scheduleDeps(ctx.services, ctx.store), ctx.caller, patch);
  }
}
