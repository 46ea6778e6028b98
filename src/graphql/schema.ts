import 'reflect-metadata';
import { createPubSub } from '@graphql-yoga/subscription';
import { type GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import { buildSchema, type PubSub } from 'type-graphql';
import { authChecker } from './auth-checker.js';
import { IntegrationResolver } from './resolvers/integration.resolver.js';
import { PbxResolver } from './resolvers/pbx.resolver.js';

export const RESOLVERS = [PbxResolver, IntegrationResolver] as const;

/** Builds the executable schema. `pubSub` carries subscription events (Redis-backed in the gateway). */
export async function buildGatewaySchema(pubSub: PubSub = createPubSub()): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: [...RESOLVERS],
    authChecker,
    authMode: 'error',
    pubSub,
    validate: false,
    emitSchemaFile: false,
  });
}

/** The SDL as committed in schema/schema.graphql: sorted, so it diffs cleanly. */
export function printGatewaySchema(schema: GraphQLSchema): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
