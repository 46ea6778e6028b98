import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import {
  type ExecutionArgs,
  GraphQLError,
  type GraphQLSchema,
  getOperationAST,
  parse,
  specifiedRules,
  type ValidationRule,
  validate,
} from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { authenticate, bearerToken } from '../app/access.js';
import type { Store } from '../app/ports/store.port.js';
import type { AppServices } from '../app/services.js';
import type { Caller } from '../domain/access.js';
import type { GraphQLContext } from '../graphql/context.js';
import { formatGraphQLError } from '../graphql/errors.js';
import type { Logger } from '../logger.js';

const withCode = (e: GraphQLError, code: string) =>
  new GraphQLError(e.message, {
    nodes: e.nodes,
    source: e.source,
    positions: e.positions,
    extensions: { ...e.extensions, code },
  });

/** WebSocket close codes the gateway uses. */
export const WS_CLOSE = { NORMAL: 1000, UNAUTHORIZED: 4401 } as const;

/**
 * graphql-ws on the same port and path as HTTP GraphQL. The key travels in
 * `connectionParams.authorization` ("Bearer <key>", or the bare key); no or a bad key
 * closes the socket with 4401. Operations pass the same armor rules as HTTP.
 */
export function attachGraphQLWebSocket(
  server: Server,
  deps: {
    schema: GraphQLSchema;
    logger: Logger;
    openStore: () => Store;
    services: AppServices;
    validationRules: ValidationRule[];
    production: boolean;
    maxTokens: number;
  },
) {
  const { schema, logger } = deps;
  const wss = new WebSocketServer({ server, path: '/graphql' });
  const rules = [...specifiedRules, ...deps.validationRules];
  const format = (errors: readonly GraphQLError[]) =>
    errors.map((e) => formatGraphQLError(e.toJSON(), e, logger, { includeStack: !deps.production }));

  const disposable = useServer<Record<string, unknown>, { caller: Caller }>(
    {
      schema,
      onConnect: async (ctx) => {
        const raw = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
        const key = typeof raw === 'string' ? (bearerToken(raw) ?? raw) : null;
        let caller: Caller | null = null;
        try {
          caller = await authenticate(deps.openStore(), key);
        } catch (err) {
          logger.warn({ err: (err as Error).message }, 'websocket authentication unavailable');
        }
        if (!caller) {
          ctx.extra.socket.close(WS_CLOSE.UNAUTHORIZED, 'Unauthorized: a valid API key is required');
          return false;
        }
        ctx.extra.caller = caller;
        return true;
      },
      onSubscribe: (ctx, _id, payload) => {
        let document: ReturnType<typeof parse>;
        try {
          document = parse(payload.query, { maxTokens: deps.maxTokens });
        } catch (err) {
          return [withCode(err as GraphQLError, 'GRAPHQL_PARSE_FAILED')];
        }
        const errors = validate(schema, document, rules);
        if (errors.length) return errors.map((e) => withCode(e, 'GRAPHQL_VALIDATION_FAILED'));
        const op = getOperationAST(document, payload.operationName);
        const requestId = randomUUID();
        const contextValue: GraphQLContext = {
          caller: ctx.extra.caller as Caller,
          store: deps.openStore(),
          requestId,
          logger: logger.child({ requestId, pbxId: ctx.extra.caller?.pbxId, operation: op?.operation }),
          services: deps.services,
        };
        const args: ExecutionArgs = {
          schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue,
        };
        return args;
      },
      onError: (_ctx, _id, _payload, errors) => format(errors),
      onNext: (_ctx, _id, _payload, _args, result) =>
        result.errors ? { ...result, errors: format(result.errors) } : undefined,
    },
    wss,
  );

  return {
    wss,
    /** Closes every client with a normal close code, then the server. */
    async close() {
      const clients = [...wss.clients];
      for (const client of clients) client.close(WS_CLOSE.NORMAL, 'Server shutting down');
      // Give clients a moment to answer the close handshake, then cut what is left.
      const deadline = Date.now() + 2000;
      while (clients.some((c) => c.readyState !== c.CLOSED) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      for (const client of clients) if (client.readyState !== client.CLOSED) client.terminate();
      await disposable.dispose();
    },
  };
}
