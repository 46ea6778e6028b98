import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { fastifyApolloDrainPlugin, fastifyApolloHandler } from '@as-integrations/fastify';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type GraphQLSchema, Kind, type OperationDefinitionNode, type ValidationRule } from 'graphql';
import { authenticate, bearerToken } from '../app/access.js';
import type { Store } from '../app/ports/store.port.js';
import type { AppServices } from '../app/services.js';
import type { Config } from '../config.js';
import type { KeyHolder } from '../domain/access.js';
import { auditRefusedMutation } from '../graphql/audit.middleware.js';
import { buildContext, type GraphQLContext, namedPbx, PBX_HEADER, scopeRefusal } from '../graphql/context.js';
import { checkOperation } from '../graphql/edge.js';
import { formatGraphQLError } from '../graphql/errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from './metrics.js';
import type { PortalSessions } from './portal.js';
import { type RateLimits, tooManyFailures } from './rate-limits.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: KeyHolder;
    namedPbxId?: string | null;
    store?: Store;
  }
}

/** The same limits guard HTTP and WebSocket operations. */
export function createArmor(config: Config['graphql']) {
  return new ApolloArmor({
    maxDepth: { n: config.maxDepth, ignoreIntrospection: true },
    maxAliases: { n: config.maxAliases },
    // The cost limit is the gateway's own (src/graphql/edge.ts): it counts pages by their
    // `first`, literal or variable, which armor's rule cannot see (it runs before variables).
    costLimit: { enabled: false },
    // Token limits are enforced by the parser itself (parseOptions.maxTokens), which answers
    // a bad document with a plain 400 GRAPHQL_PARSE_FAILED instead of armor's 500.
    maxTokens: { enabled: false },
    maxDirectives: { n: 50 },
    blockFieldSuggestion: { enabled: false },
  }).protect();
}

/** The first root field names the operation in metrics: bounded by the schema, unlike client-chosen names. */
export function operationLabel(op: OperationDefinitionNode | undefined | null): string {
  const first = op?.selectionSet.selections.find((s) => s.kind === Kind.FIELD);
  return first && first.kind === Kind.FIELD ? first.name.value : 'unknown';
}

export function unauthenticatedBody(message: string) {
  return { errors: [{ message, extensions: { code: 'UNAUTHENTICATED' } }] };
}

export async function registerGraphQLHttp(
  app: FastifyInstance,
  deps: {
    schema: GraphQLSchema;
    config: Config;
    logger: Logger;
    metrics: Metrics;
    openStore: () => Store;
    services: AppServices;
    armor: { plugins: ApolloServerPlugin[]; validationRules: ValidationRule[] };
    /** The address's limit of 401s (src/http/rate-limits.ts). */
    authFailures: RateLimits['authFailures'];
    /** The portal's session cookie (issue 17), taken from same-origin POSTs without a key. */
    portalSessions?: PortalSessions;
  },
): Promise<ApolloServer<GraphQLContext>> {
  const { config, logger, metrics } = deps;
  // One plugin, one listener per request (each plugin's listener is called at every step of
  // Apollo's pipeline): the edge's checks, then metrics and the answer's cache header.
  const requestPlugin: ApolloServerPlugin<GraphQLContext> = {
    async requestDidStart() {
      const start = process.hrtime.bigint();
      return {
        // Input and cost at the edge (src/graphql/edge.ts), once the operation and its variables
        // are known and before any resolver: a refusal answers 400, and a refused mutation is audited.
        async didResolveOperation({ document, operation, operationName, request, contextValue }) {
          const refusal = checkOperation(
            deps.schema,
            document,
            operationName ?? request.operationName,
            request.variables,
            config.graphql.maxCost,
          );
          if (!refusal) return;
          if (refusal.kind === 'input' && operation?.operation === 'mutation') {
            await auditRefusedMutation(contextValue, document, operation, request.variables, refusal.error);
          }
          refusal.error.extensions.http = { status: 400 };
          throw refusal.error;
        },
        async willSendResponse({ operation, response }) {
          // Every answer is the key's own business: never kept by a cache (Apollo's cache-control
          // plugin, which said so too, is off: see below).
          response.http.headers.set('cache-control', 'no-store');
          const type = operation?.operation ?? 'unknown';
          const name = operationLabel(operation);
          const hasErrors =
            response.body.kind === 'single' ? Boolean(response.body.singleResult.errors?.length) : false;
          metrics.graphqlOperations.inc({ type, operation: name, outcome: hasErrors ? 'error' : 'ok' });
          metrics.graphqlDuration.observe(
            { type, operation: name },
            Number(process.hrtime.bigint() - start) / 1e9,
          );
        },
      };
    },
  };

  const apollo = new ApolloServer<GraphQLContext>({
    schema: deps.schema,
    // No cache hints: Apollo's cache-control plugin would only say `no-store` (set above), and it
    // hooks into the resolution of every field (a cache policy object per field, per request).
    plugins: [
      fastifyApolloDrainPlugin(app),
      ApolloServerPluginCacheControlDisabled(),
      ...deps.armor.plugins,
      requestPlugin,
    ],
    validationRules: deps.armor.validationRules,
    parseOptions: { maxTokens: config.graphql.maxTokens },
    allowBatchedHttpRequests: false,
    csrfPrevention: true,
    introspection: !config.production,
    includeStacktraceInErrorResponses: !config.production,
    formatError: (formatted, error) =>
      formatGraphQLError(formatted, error, logger, {
        includeStack: !config.production,
        hideSuggestions: config.production,
      }),
    logger: {
      debug: (m) => logger.debug(m),
      info: (m) => logger.info(m),
      warn: (m) => logger.warn(m),
      error: (m) => logger.error(m),
    },
  });
  await apollo.start();

  const authenticateRequest = async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.method === 'OPTIONS') return;
    const store = deps.openStore();
    let principal: KeyHolder | null;
    try {
      const token = bearerToken(request.headers.authorization);
      principal = await authenticate(store, token, deps.services.linkusSessions, deps.services.knownKeys);
      // No key: the portal's session cookie, from a same-origin POST only (src/http/portal.ts).
      if (!principal && !token && request.method === 'POST' && deps.portalSessions)
        principal = (await deps.portalSessions.fromHeaders(request.headers))?.principal ?? null;
    } catch (err) {
      request.log.warn({ err: (err as Error).message }, 'authentication unavailable');
      return reply.code(503).send({
        errors: [
          {
            message: 'The gateway cannot check keys right now (database unavailable).',
            extensions: { code: 'UNAVAILABLE' },
          },
        ],
      });
    }
    if (!principal) {
      // Past the address's limit of 401s, 429 instead (src/http/rate-limits.ts): read only now,
      // so a request with a valid key costs no Redis round trip.
      const limit = await deps.authFailures.refused(request);
      if (limit.refused) return tooManyFailures(reply, limit.retryAfterS);
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send(unauthenticatedBody('A valid API key is required: send "Authorization: Bearer <key>".'));
    }
    const named = namedPbx(request.headers[PBX_HEADER]);
    const refusal = scopeRefusal(principal, named);
    if (refusal) {
      return reply.code(403).send({ errors: [{ message: refusal, extensions: { code: 'FORBIDDEN' } }] });
    }
    request.principal = principal;
    request.namedPbxId = named;
    request.store = store;
  };

  app.route({
    method: ['GET', 'POST', 'OPTIONS'],
    url: '/graphql',
    preHandler: authenticateRequest,
    handler: fastifyApolloHandler<GraphQLContext>(apollo, {
      context: async (request) =>
        buildContext({
          principal: request.principal as KeyHolder,
          namedPbxId: request.namedPbxId ?? null,
          store: request.store as Store,
          requestId: request.id,
          logger: () =>
            logger.child({
              requestId: request.id,
              pbxId: request.principal?.pbxId ?? request.namedPbxId ?? undefined,
              ...(request.principal?.pbxId === null ? { operatorKeyId: request.principal.keyId } : {}),
            }),
          services: deps.services,
        }),
    }),
  });
  return apollo;
}
