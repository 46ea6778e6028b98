import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import {
  createExtension,
  deleteExtension,
  getExtension,
  listExtensions,
  updateExtension,
} from '../../app/extensions.js';
import { ApiRole } from '../../domain/access.js';
import { type ExtensionRecord, LOCKED_EXTENSION_FIELDS } from '../../domain/extension-rules.js';
import type { GraphQLContext } from '../context.js';
import {
  CreateExtensionInput,
  ExtensionConnection,
  ExtensionFilterInput,
  ExtensionType,
  UpdateExtensionInput,
} from '../types/extension.type.js';
import { toConnection } from '../types/page-info.type.js';

@Resolver(() => ExtensionType)
export class ExtensionResolver {
  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER)
  @Query(() => ExtensionConnection, {
    description: "The PBX's extensions, ordered by number (cursor-paged).",
  })
  async extensions(
    @Arg('first', () => Int, { nullable: true, defaultValue: 50, description: '1 to 500.' }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('filter', () => ExtensionFilterInput, { nullable: true }) filter: ExtensionFilterInput | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return toConnection(await listExtensions(ctx.store, ctx.caller, { first, after, filter }));
  }

  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER)
  @Query(() => ExtensionType, { nullable: true, description: 'One extension of the PBX, or null.' })
  extension(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return getExtension(ctx.store, ctx.caller, id);
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => ExtensionType, {
    description: 'Creates an extension by hand (capacity and uniqueness hold).',
  })
  createExtension(
    @Arg('input', () => CreateExtensionInput) input: CreateExtensionInput,
    @Ctx() ctx: GraphQLContext,
  ) {
    return createExtension(ctx.store, ctx.caller, { ...input });
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => ExtensionType, {
    description: 'Changes an extension; synced ones keep their locked fields (U9).',
  })
  updateExtension(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateExtensionInput) input: UpdateExtensionInput,
    @Ctx() ctx: GraphQLContext,
  ) {
    return updateExtension(ctx.store, ctx.caller, id, { ...input });
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => ID, {
    description: 'Deletes a hand-made extension; returns its id. Synced ones cannot be (U9).',
  })
  deleteExtension(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return deleteExtension({ store: ctx.store, linkusSessions: ctx.services.linkusSessions }, ctx.caller, id);
  }

  @FieldResolver(() => [String])
  lockedFields(@Root() extension: ExtensionRecord): string[] {
    return extension.source === 'SYNCED' ? [...LOCKED_EXTENSION_FIELDS] : [];
  }

  @FieldResolver(() => String, { description: 'First and last name, as Linkus shows the user (S4).' })
  name(@Root() extension: ExtensionRecord): string {
    return `${extension.firstName} ${extension.lastName}`.trim();
  }
}
