import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import type { LinkusWebOrigins } from '../app/linkus-web-origins.js';

/**
 * The paths a Linkus web client calls from its own origin (S2): its token endpoint, the API and
 * the plain HTTP caller ID (src/http/linkus-lookup.ts).
 */
const CORS_PATHS = new Set(['/graphql', '/linkus/sso/token', '/linkus/sso/logout', '/linkus/lookup/caller']);

/**
 * CORS for the Linkus web client (S2): a page served from the origin of a registered redirect
 * URI may call the token endpoint, /graphql and the caller lookup and read their answers; every other origin, and
 * every other path, gets no CORS header (the browser keeps the answer from the page). Bearer
 * tokens only: no credentials mode, no cookies. Preflights are cached by the browser for 10 min.
 */
export async function registerLinkusCors(app: FastifyInstance, origins: LinkusWebOrigins) {
  await app.register(cors, {
    delegator: (req, callback) => {
      const path = (req.url ?? '').split('?')[0];
      const origin = req.headers.origin;
      if (!origin || !CORS_PATHS.has(path)) return callback(null, { origin: false });
      origins.allows(origin).then(
        (allowed) =>
          callback(null, {
            origin: allowed ? origin : false,
            methods: ['GET', 'POST'],
            allowedHeaders: ['authorization', 'content-type'],
            credentials: false,
            maxAge: 600,
          }),
        (err: Error) => callback(err),
      );
    },
  });
}
