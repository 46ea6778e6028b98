import 'reflect-metadata';
import { createPubSub } from '@graphql-yoga/subscription';
import { type GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import { buildSchema, type PubSub } from 'type-graphql';
import { auditMutations } from './audit.middleware.js';
import { authChecker } from './auth-checker.js';
import { AuditResolver } from './resolvers/audit.resolver.js';
import { ChangeTriggersResolver } from './resolvers/change-triggers.resolver.js';
import { ContactResolver } from './resolvers/contact.resolver.js';
import { ContactSyncResolver } from './resolvers/contact-sync.resolver.js';
import { ExtensionResolver } from './resolvers/extension.resolver.js';
import { ExtensionGroupResolver } from './resolvers/extension-group.resolver.js';
import { FleetResolver } from './resolvers/fleet.resolver.js';
import { IntegrationResolver } from './resolvers/integration.resolver.js';
import { LinkusSessionResolver } from './resolvers/linkus-session.resolver.js';
import { LinkusSsoResolver } from './resolvers/linkus-sso.resolver.js';
import { PbxResolver } from './resolvers/pbx.resolver.js';
import { PresenceResolver } from './resolvers/presence.resolver.js';
import { QueueResolver } from './resolvers/queue.resolver.js';
import { ScheduleResolver } from './resolvers/schedule.resolver.js';
import { SyncResolver } from './resolvers/sync.resolver.js';
import { SyncProgressResolver } from './resolvers/sync-progress.resolver.js';
import { WelcomeEmailResolver } from './resolvers/welcome-email.resolver.js';

export const RESOLVERS = [
  PbxResolver,
  IntegrationResolver,
  ExtensionResolver,
  ExtensionGroupResolver,
  AuditResolver,
  QueueResolver,
  SyncResolver,
  WelcomeEmailResolver,
  SyncProgressResolver,
  ChangeTriggersResolver,
  ScheduleResolver,
  FleetResolver,
  ContactResolver,
  ContactSyncResolver,
  LinkusSsoResolver,
  LinkusSessionResolver,
  PresenceResolver,
] as const;

/** Builds the executable schema. `pubSub` carries subscription events (Redis-backed in the gateway). */
export async function buildGatewaySchema(pubSub: PubSub = createPubSub()): Promise<GraphQLSchema> {
  // Every mutation, of any resolver, is audited in one place (src/graphql/audit.middleware.ts).
  const schema = await buildSchema({
    resolvers: [...RESOLVERS],
    authChecker,
    authMode: 'error',
    pubSub,
    validate: false,
    emitSchemaFile: false,
  });
  return auditMutations(schema);
}

/** The SDL as committed in schema/schema.graphql: sorted, so it diffs cleanly. */
export function printGatewaySchema(schema: GraphQLSchema): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
