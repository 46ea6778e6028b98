import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import {
  createExtensionGroup,
  deleteExtensionGroup,
  getExtensionGroup,
  listExtensionGroups,
  updateExtensionGroup,
} from '../../app/extensions.js';
import { ApiRole } from '../../domain/access.js';
import { type ExtensionGroupRecord, LOCKED_GROUP_FIELDS } from '../../domain/extension-rules.js';
import type { GraphQLContext } from '../context.js';
import { ExtensionGroupConnection, ExtensionGroupType } from '../types/extension-group.type.js';
import { toConnection } from '../types/page-info.type.js';

@Resolver(() => ExtensionGroupType)
export class ExtensionGroupResolver {
  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER)
  @Query(() => ExtensionGroupConnection, {
    description: "The PBX's extension groups, ordered by name (cursor-paged).",
  })
  async extensionGroups(
    @Arg('first', () => Int, { nullable: true, defaultValue: 50, description: '1 to 500.' }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return toConnection(await listExtensionGroups(ctx.store, ctx.caller, { first, after }));
  }

  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER)
  @Query(() => ExtensionGroupType, {
    nullable: true,
    description: 'One extension group of the PBX, or null.',
  })
  extensionGroup(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return getExtensionGroup(ctx.store, ctx.caller, id);
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => ExtensionGroupType, { description: 'Creates an extension group by hand (at most 63, G3).' })
  createExtensionGroup(
    @Arg('name', () => String) name: string,
    @Arg('memberIds', () => [ID], { nullable: true, description: 'Extensions of this PBX.' })
    memberIds: string[] | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return createExtensionGroup(ctx.store, ctx.caller, { name, memberIds });
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => ExtensionGroupType, {
    description: 'Renames a group and/or replaces its members; synced groups are locked (G4).',
  })
  updateExtensionGroup(
    @Arg('id', () => ID) id: string,
    @Arg('name', () => String, { nullable: true }) name: string | null | undefined,
    @Arg('memberIds', () => [ID], { nullable: true, description: 'The new member set (replaces the old).' })
    memberIds: string[] | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return updateExtensionGroup(ctx.store, ctx.caller, id, { name, memberIds });
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => ID, {
    description: 'Deletes a hand-made extension group; returns its id. Synced ones cannot be (G4).',
  })
  deleteExtensionGroup(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return deleteExtensionGroup(ctx.store, ctx.caller, id);
  }

  @FieldResolver(() => [ID])
  memberIds(@Root() group: ExtensionGroupRecord): readonly string[] {
    return group.memberExtensionIds;
  }

  @FieldResolver(() => Int)
  memberCount(@Root() group: ExtensionGroupRecord): number {
    return group.memberExtensionIds.length;
  }

  @FieldResolver(() => [String])
  lockedFields(@Root() group: ExtensionGroupRecord): string[] {
    return group.source === 'SYNCED' ? [...LOCKED_GROUP_FIELDS] : [];
  }
}
