import { Field, ObjectType } from 'type-graphql';
import type { Page } from '../../app/ports/store.port.js';

@ObjectType('PageInfo', { description: 'Where a cursor-paged list stands.' })
export class PageInfo {
  @Field(() => String, {
    nullable: true,
    description: 'The cursor of the last item; pass it as `after` for the next page.',
  })
  endCursor!: string | null;

  @Field(() => Boolean)
  hasNextPage!: boolean;
}

/** A use case's page in the shape of a GraphQL connection (edges, nodes, pageInfo, totalCount). */
export function toConnection<T>(page: Page<T>) {
  return {
    edges: page.edges,
    nodes: page.edges.map((e) => e.node),
    pageInfo: { endCursor: page.endCursor, hasNextPage: page.hasNextPage },
    totalCount: page.totalCount,
  };
}
