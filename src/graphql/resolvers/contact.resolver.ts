import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import {
  deleteContact,
  listPhonebooks,
  lookupCaller,
  savePhonebookVisibility,
  searchContacts,
  whoAmI,
} from '../../app/contact-lookup.js';
import type { ContactMatch } from '../../app/ports/contact-lookup.port.js';
import { ApiRole } from '../../domain/access.js';
import { SearchRank } from '../../domain/contact-search.js';
import type { GraphQLContext } from '../context.js';
import {
  ContactMatchType,
  ContactSearchConnection,
  MeType,
  PhonebookType,
  PhonebookVisibilityInput,
  SEARCH_PAGE_DESCRIPTION,
} from '../types/contact.type.js';

const toMatch = (m: ContactMatch) => ({ ...m, rank: SearchRank[m.rank] as keyof typeof SearchRank });

@Resolver()
export class ContactResolver {
  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER, ApiRole.LINKUS)
  @Query(() => ContactMatchType, {
    nullable: true,
    description:
      "Caller ID: who calls from this number. First match wins: an extension number of the PBX, then the caller's own contacts (Linkus), then the phonebooks the caller sees (by phonebook name). Numbers compare in E.164 under the PBX's default country. Null when none. Also over plain HTTP, the same answer with the same keys: GET /linkus/lookup/caller?number=<as dialled> (README, Endpoints).",
  })
  async lookupCaller(@Arg('number', () => String) number: string, @Ctx() ctx: GraphQLContext) {
    const found = await lookupCaller(ctx.store, ctx.caller, number);
    return found ? toMatch(found) : null;
  }

  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER, ApiRole.LINKUS)
  @Query(() => ContactSearchConnection, {
    description:
      'Extensions and contacts the caller sees, by name, company or the start of a number; ranked (SearchRank), then extensions, personal contacts, phonebooks, then alphabetically (cursor-paged).',
  })
  async searchContacts(
    @Arg('query', () => String) query: string,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20, description: SEARCH_PAGE_DESCRIPTION })
    first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    const page = await searchContacts(ctx.store, ctx.caller, { query, first, after });
    const edges = page.edges.map((e) => ({ cursor: e.cursor, node: toMatch(e.node) }));
    return {
      edges,
      nodes: edges.map((e) => e.node),
      pageInfo: { endCursor: page.endCursor, hasNextPage: page.hasNextPage },
    };
  }

  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER)
  @Query(() => [PhonebookType], { description: "The PBX's phonebooks with who sees each, by name." })
  phonebooks(@Ctx() ctx: GraphQLContext) {
    return listPhonebooks(ctx.store, ctx.caller);
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => PhonebookType, {
    description: 'C3: who sees a phonebook: all extensions, or chosen extensions and extension groups.',
  })
  savePhonebookVisibility(
    @Arg('input', () => PhonebookVisibilityInput) input: PhonebookVisibilityInput,
    @Ctx() ctx: GraphQLContext,
  ) {
    return savePhonebookVisibility(ctx.store, ctx.caller, { ...input });
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => ID, {
    description: 'Deletes a contact made by hand; returns its id. Synced ones cannot be (LOCKED_BY_SYNC).',
  })
  deleteContact(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return deleteContact(ctx.store, ctx.caller, id);
  }

  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER, ApiRole.LINKUS)
  @Query(() => MeType, { description: 'Who the key is: its role, and for a Linkus key its extension.' })
  me(@Ctx() ctx: GraphQLContext) {
    return whoAmI(ctx.store, ctx.caller);
  }
}
