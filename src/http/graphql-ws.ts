import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import {
  type ExecutionArgs,
  GraphQLError,
  type GraphQLSchema,
  getArgumentValues,
  getOperationAST,
  Kind,
  NoSchemaIntrospectionCustomRule,
  type OperationDefinitionNode,
  parse,
  specifiedRules,
  type ValidationRule,
  validate,
} from 'graphql';
import { CloseCode, type ServerOptions } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { type WebSocket, WebSocketServer } from 'ws';
import { authenticate, bearerToken, hashApiKey } from '../app/access.js';
import { recordMutation } from '../app/audit.js';
import type { Store } from '../app/ports/store.port.js';
import type { AppServices } from '../app/services.js';
import type { KeyHolder } from '../domain/access.js';
import { auditRefusedMutation } from '../graphql/audit.middleware.js';
import { buildContext, namedPbx, PBX_HEADER, scopeRefusal } from '../graphql/context.js';
import { checkOperation } from '../graphql/edge.js';
import { formatGraphQLError } from '../graphql/errors.js';
import { WS_AUTH_TIMEOUT_MS, WS_INIT_TIMEOUT_MS } from '../limits.js';
import type { Logger } from '../logger.js';
import type { PortalSessions } from './portal.js';

const withCode = (e: GraphQLError, code: string) =>
  new GraphQLError(e.message, {
    nodes: e.nodes,
    source: e.source,
    positions: e.positions,
    extensions: { ...e.extensions, code },
  });

/** WebSocket close codes the gateway uses. */
export const WS_CLOSE = {
  NORMAL: 1000,
  /** No key, or an unknown or revoked one, at connection; or the Linkus access token expired. */
  UNAUTHORIZED: 4401,
  /** The key was revoked (or its PBX deleted) while the socket was open, or it names another PBX. */
  FORBIDDEN: 4403,
} as const;

export const REVOKED_REASON = 'Forbidden: the key was revoked';
export const EXPIRED_REASON = 'Unauthorized: the access token expired';

/** How often each process re-checks the keys of its open sockets, should an announcement be lost. */
export const KEY_SWEEP_MS = 30_000;

/** What a connection remembers of its key: who it is and its lookup hash (never the key). */
interface Session {
  principal: KeyHolder;
  keyHash: string;
  namedPbxId: string | null;
  /** A portal session's id (issue 17), when the socket signed in with its cookie. */
  portalSessionId?: string;
}

/**
 * graphql-ws on the same port and path as HTTP GraphQL. The key travels in
 * `connectionParams.authorization` ("Bearer <key>", or the bare key); no or a bad key
 * closes the socket with 4401. An OPERATOR key names its PBX in `connectionParams["x-pbx-id"]`.
 * Operations pass the same armor rules as HTTP.
 *
 * Revocation (issue 12 item 2): every operation re-checks its key first, so one sent after
 * the key was revoked is refused (UNAUTHENTICATED, a mutation audited as refused) and the
 * socket closed with 4403. `closeSessionsOf` closes every socket of announced keys at once
 * (the gateway calls it on each announcement, from any process), and `sweep` re-checks the
 * keys of every open socket (every 30 s, and when the announcements' Redis connection comes
 * back, for announcements that may have been missed). A socket opened with a Linkus access token
 * closes with 4401 when the token expires (S4).
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
    keySweepMs?: number;
    /** The largest message, in bytes: HTTP's body limit (a bigger one closes the socket, 1009). */
    maxPayload: number;
    /** GRAPHQL_MAX_COST: the edge's cost limit (src/graphql/edge.ts). */
    maxCost: number;
    /** Whether sockets are taken yet: while the gateway starts, an upgrade is answered 503. */
    accepting?: () => boolean;
    /** The portal's session cookie (issue 17): a same-origin upgrade without a key signs in with it. */
    portalSessions?: PortalSessions;
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

  /** Open sockets by key id (a Linkus session's id for its sockets). */
  const byKey = new Map<string, Set<WebSocket>>();
  /** Which of those ids are Linkus sessions (S4), not keys. */
  const linkusSessionIds = new Set<string>();
  const register = (keyId: string, socket: WebSocket, linkusSession: boolean) => {
    const set = byKey.get(keyId) ?? new Set<WebSocket>();
    byKey.set(keyId, set);
    if (linkusSession) linkusSessionIds.add(keyId);
    set.add(socket);
    socket.once('close', () => {
      set.delete(socket);
      if (set.size === 0 && byKey.get(keyId) === set) {
        byKey.delete(keyId);
        linkusSessionIds.delete(keyId);
      }
    });
  };
  const closeRevoked = (socket: WebSocket) => {
    if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING)
      socket.close(WS_CLOSE.FORBIDDEN, REVOKED_REASON);
  };

  /**
   * A socket opened with a Linkus access token (S4) lives no longer than the token: it is closed
   * with 4401 when the token expires, and the client reconnects with its refreshed token.
   */
  const closeAtExpiry = (socket: WebSocket, expiresAt: Date | undefined) => {
    if (!expiresAt) return;
    const close = () => {
      if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING)
        socket.close(WS_CLOSE.UNAUTHORIZED, EXPIRED_REASON);
    };
    // setTimeout takes at most 2^31-1 ms; an access token lives minutes.
    const timer = setTimeout(close, Math.max(0, expiresAt.getTime() - deps.services.now().getTime()));
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  };

  /** Closes every open socket of these keys with 4403; returns how many it closed. */
  const closeSessionsOf = (keyIds: readonly string[]): number => {
    let closed = 0;
    for (const id of keyIds) {
      for (const socket of byKey.get(id) ?? []) {
        closeRevoked(socket);
        closed++;
      }
    }
    if (closed) logger.info({ keys: keyIds.length, sockets: closed }, 'closed the sockets of revoked keys');
    return closed;
  };

  /**
   * Re-checks the key of every open socket; closes those whose key is revoked or gone. The
   * revoked Linkus sessions (S4) are loaded again first (announcements this process missed: its
   * HTTP requests are checked against them too), and the sockets of sessions checked against them.
   */
  const sweep = async (): Promise<number> => {
    const all = [...byKey.keys()];
    const sessionIds = all.filter((id) => linkusSessionIds.has(id));
    const ids = all.filter((id) => !linkusSessionIds.has(id));
    const linkus = deps.services.linkusSessions;
    await linkus.refreshRevoked();
    const closed = closeSessionsOf(sessionIds.filter((id) => linkus.isRevoked(id)));
    if (ids.length === 0) return closed;
    const active = await deps.openStore().tenants.activeKeyIds(ids);
    return closed + closeSessionsOf(ids.filter((id) => !active.has(id)));
  };
  const sweepTimer = setInterval(() => {
    sweep().catch((err: Error) =>
      logger.warn({ err: err.message }, 'could not re-check the keys of open sockets (will try again)'),
    );
  }, deps.keySweepMs ?? KEY_SWEEP_MS);
  sweepTimer.unref();

  /** A mutation refused because its key was revoked goes into the audit log, as over HTTP a refused one does. */
  const auditRefused = async (
    store: Store,
    session: Session,
    op: OperationDefinitionNode,
    variables: Record<string, unknown> | null | undefined,
    requestId: string,
  ) => {
    const mutation = schema.getMutationType();
    if (!mutation) return;
    // The entry goes to the PBX acted on while it exists (a deleted PBX's keys go with it).
    const target = session.principal.pbxId ?? session.namedPbxId;
    const pbxId = target && (await store.tenants.findPbx(target)) ? target : null;
    for (const selection of op.selectionSet.selections) {
      if (selection.kind !== Kind.FIELD) continue;
      const field = mutation.getFields()[selection.name.value];
      let args: Record<string, unknown> = {};
      try {
        if (field) args = getArgumentValues(field, selection, variables ?? {});
      } catch {
        args = {}; // arguments that do not even coerce are recorded as none
      }
      await recordMutation(
        store,
        { pbxId, keyId: session.principal.keyId, role: session.principal.role },
        {
          operation: selection.name.value,
          args,
          outcome: 'UNAUTHENTICATED',
          message: 'The key was revoked.',
          requestId,
          at: deps.services.now(),
        },
      ).catch((err: Error) =>
        logger.error({ err, operation: selection.name.value }, 'could not write the audit entry'),
      );
    }
  };

  const disposable = useServer<Record<string, unknown>, { session?: Session }>(
    withInitTimeouts({
      schema,
      onConnect: async (ctx) => {
        const raw = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
        const key = typeof raw === 'string' ? (bearerToken(raw) ?? raw) : null;
        let principal: KeyHolder | null = null;
        let portal: Awaited<ReturnType<PortalSessions['fromHeaders']>> = null;
        try {
          principal = await authenticate(deps.openStore(), key, deps.services.linkusSessions);
          // No key: the portal's session cookie, when the upgrade came from the gateway's own origin.
          if (!key && deps.portalSessions) {
            portal = await deps.portalSessions.fromHeaders(ctx.extra.request.headers);
            principal = portal?.principal ?? null;
          }
        } catch (err) {
          logger.warn({ err: (err as Error).message }, 'websocket authentication unavailable');
        }
        if (!principal || !(key || portal)) {
          ctx.extra.socket.close(WS_CLOSE.UNAUTHORIZED, 'Unauthorized: a valid API key is required');
          return false;
        }
        const named = namedPbx(ctx.connectionParams?.[PBX_HEADER]);
        const refusal = scopeRefusal(principal, named);
        if (refusal) {
          ctx.extra.socket.close(WS_CLOSE.FORBIDDEN, `Forbidden: ${refusal}`.slice(0, 120));
          return false;
        }
        // A Linkus session (S4) is re-checked in memory (revoked sessions), a key by its hash.
        const keyHash = portal ? portal.keyHash : principal.sessionId || !key ? '' : hashApiKey(key);
        ctx.extra.session = {
          principal,
          keyHash,
          namedPbxId: named,
          ...(portal ? { portalSessionId: portal.sessionId } : {}),
        };
        register(principal.keyId, ctx.extra.socket, Boolean(principal.sessionId));
        closeAtExpiry(ctx.extra.socket, principal.expiresAt);
        return true;
      },
      onSubscribe: async (ctx, _id, payload) => {
        const session = ctx.extra.session as Session;
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
        const store = deps.openStore();
        // Every operation re-checks its key: one sent after a revocation is refused even
        // before the announcement closes the socket.
        const sessionId = session.principal.sessionId;
        const expiresAt = session.principal.expiresAt;
        if (expiresAt && expiresAt <= deps.services.now()) {
          setTimeout(() => ctx.extra.socket.close(WS_CLOSE.UNAUTHORIZED, EXPIRED_REASON), 50).unref();
          return [
            new GraphQLError('This access token expired: refresh it and connect again.', {
              extensions: { code: 'UNAUTHENTICATED' },
            }),
          ];
        }
        let current: { id: string } | null;
        try {
          current = sessionId
            ? deps.services.linkusSessions.isRevoked(sessionId)
              ? null
              : { id: sessionId }
            : session.portalSessionId && deps.portalSessions
              ? // A portal session ends with sign-out and with its key (issue 17).
                (await deps.portalSessions.resume(session.portalSessionId)) && { id: session.principal.keyId }
              : await store.tenants.findActiveKeyByHash(session.keyHash);
        } catch (err) {
          logger.warn({ err: (err as Error).message }, 'websocket key re-check unavailable');
          return [
            new GraphQLError('The gateway cannot check keys right now (database unavailable).', {
              extensions: { code: 'UNAVAILABLE' },
            }),
          ];
        }
        if (current?.id !== session.principal.keyId) {
          if (op?.operation === 'mutation')
            await auditRefused(store, session, op, payload.variables, requestId);
          // The error goes out first; the close follows it.
          setTimeout(() => closeRevoked(ctx.extra.socket), 50).unref();
          return [
            new GraphQLError('This key was revoked: the operation is refused and the connection closes.', {
              extensions: { code: 'UNAUTHENTICATED' },
            }),
          ];
        }
        const { principal, namedPbxId } = session;
        const contextValue = buildContext({
          principal,
          namedPbxId,
          store,
          requestId,
          logger: logger.child({
            requestId,
            pbxId: principal.pbxId ?? namedPbxId ?? undefined,
            operation: op?.operation,
          }),
          services: deps.services,
        });
        // Input and cost at the edge (src/graphql/edge.ts), as over HTTP: a refused mutation is audited.
        const refusal = checkOperation(
          schema,
          document,
          payload.operationName,
          payload.variables,
          deps.maxCost,
        );
        if (refusal) {
          if (refusal.kind === 'input' && op?.operation === 'mutation') {
            await auditRefusedMutation(contextValue, document, op, payload.variables, refusal.error).catch(
              (err: Error) => logger.warn({ err: err.message }, 'could not audit a refused mutation'),
            );
          }
          return [refusal.error];
        }
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
    closeSessionsOf,
    sweep,
    /** How many authenticated sockets are open. */
    openSockets: () => [...byKey.values()].reduce((n, s) => n + s.size, 0),
    /** Closes every client with a normal close code, then the server. */
    async close() {
      clearInterval(sweepTimer);
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
