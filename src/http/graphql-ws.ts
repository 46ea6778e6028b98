import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import {
  type ExecutionArgs,
  GraphQLError,
  type GraphQLSchema,
  getOperationAST,
  NoSchemaIntrospectionCustomRule,
  parse,
  specifiedRules,
  type ValidationRule,
  validate,
} from 'graphql';
import { CloseCode, type ServerOptions } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { authenticate, bearerToken } from '../app/access.js';
import type { Store } from '../app/ports/store.port.js';
import type { AppServices } from '../app/services.js';
import type { Caller } from '../domain/access.js';
import { auditRefusedMutation } from '../graphql/audit.middleware.js';
import type { GraphQLContext } from '../graphql/context.js';
import { checkOperation } from '../graphql/edge.js';
import { formatGraphQLError } from '../graphql/errors.js';
import { WS_AUTH_TIMEOUT_MS, WS_INIT_TIMEOUT_MS } from '../limits.js';
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
    /** The largest message, in bytes: HTTP's body limit (a bigger one closes the socket, 1009). */
    maxPayload: number;
    /** GRAPHQL_MAX_COST: the edge's cost limit (src/graphql/edge.ts). */
    maxCost: number;
    /** Whether sockets are taken yet: while the gateway starts, an upgrade is answered 503. */
    accepting?: () => boolean;
  },
) {
  const { schema, logger } = deps;
  const wss = new WebSocketServer({
    server,
    path: '/graphql',
    maxPayload: deps.maxPayload,
    verifyClient: (_info, done) =>
      deps.accepting && !deps.accepting() ? done(false, 503, 'The gateway is starting') : done(true),
  });
  // Introspection off in production, as on HTTP (Apollo's `introspection: false`).
  const rules = [
    ...specifiedRules,
    ...deps.validationRules,
    ...(deps.production ? [NoSchemaIntrospectionCustomRule] : []),
  ];
  const format = (errors: readonly GraphQLError[]) =>
    errors.map((e) =>
      formatGraphQLError(e.toJSON(), e, logger, {
        includeStack: !deps.production,
        hideSuggestions: deps.production,
      }),
    );

  const disposable = useServer<Record<string, unknown>, { caller: Caller }>(
    withInitTimeouts({
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
        const refusal = checkOperation(
          schema,
          document,
          payload.operationName,
          payload.variables,
          deps.maxCost,
        );
        if (refusal) {
          if (refusal.kind !== 'input' || op?.operation !== 'mutation') return [refusal.error];
          const refused = {
            caller: ctx.extra.caller,
            store: deps.openStore(),
            logger,
            requestId: randomUUID(),
          };
          return auditRefusedMutation(refused, document, op, payload.variables, refusal.error).then(() => [
            refusal.error,
          ]);
        }
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
    }),
    wss,
  );
  // A socket error is a client's doing (a message over maxPayload, a broken frame): ws closes the
  // socket itself (1009, 1002). graphql-ws would print each with its stack to stderr; one debug
  // line says it instead, so that a client cannot flood the log.
  wss.on('connection', (socket) => {
    socket.removeAllListeners('error');
    socket.on('error', (err: Error & { code?: string }) =>
      logger.debug({ err: err.message, code: err.code }, 'websocket closed on a client error'),
    );
  });

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

/**
 * The time a socket has to say who it is: `connection_init` within {@link WS_INIT_TIMEOUT_MS}
 * of opening (graphql-ws closes it with 4408 otherwise), and its key checked within
 * {@link WS_AUTH_TIMEOUT_MS} after that: a key check that hangs (a database that does not answer)
 * closes the socket with 4408 too, instead of holding it, unauthenticated, for as long as it hangs.
 */
function withInitTimeouts<E extends { socket: { close(code: number, reason: string): void } }>(
  options: ServerOptions<Record<string, unknown>, E>,
): ServerOptions<Record<string, unknown>, E> {
  const onConnect = options.onConnect;
  return {
    ...options,
    connectionInitWaitTimeout: WS_INIT_TIMEOUT_MS,
    onConnect: onConnect
      ? (ctx) =>
          new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
              ctx.extra.socket.close(
                CloseCode.ConnectionInitialisationTimeout,
                'Connection initialisation timeout',
              );
              resolve(false);
            }, WS_AUTH_TIMEOUT_MS);
            Promise.resolve(onConnect(ctx)).then(
              (v) => {
                clearTimeout(timer);
                resolve(v);
              },
              (err) => {
                clearTimeout(timer);
                reject(err);
              },
            );
          })
      : undefined,
  };
}
