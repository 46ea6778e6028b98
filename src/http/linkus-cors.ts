import type { FastifyInstance } from 'fastify';
import type { LinkusWebOrigins } from '../app/linkus-web-origins.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** A CORS preflight this hook answered (the `OPTIONS *` route answers 404 otherwise). */
    corsPreflightEnabled: boolean;
  }
}

/**
 * The paths a Linkus web client calls from its own origin (S2): its token endpoint, the API and
 * the plain HTTP caller ID (src/http/linkus-lookup.ts).
 */
const CORS_PATHS = new Set(['/graphql', '/linkus/sso/token', '/linkus/sso/logout', '/linkus/lookup/caller']);

const ALLOW_METHODS = 'GET, POST';
const ALLOW_HEADERS = 'authorization, content-type';
/** How long a browser keeps a preflight's answer, in seconds. */
const MAX_AGE_S = '600';

/**
 * CORS for the Linkus web client (S2): a page served from the origin of a registered redirect
 * URI may call the token endpoint, /graphql and the caller lookup and read their answers; every other origin, and
 * every other path, gets no CORS header (the browser keeps the answer from the page). Bearer
 * tokens only: no credentials mode, no cookies. Preflights are cached by the browser for 10 min.
 *
 * What @fastify/cors did with a per-request delegator, as its own hook: that plugin made and
 * merged its options for every request, those without an Origin (every caller lookup of a PBX)
 * too, a fortieth of a GraphQL caller lookup's CPU (issue 13). The same answers: every response
 * varies with Origin; a registered origin on these paths gets Access-Control-Allow-Origin, and
 * its preflight (OPTIONS with Access-Control-Request-Method) 204 with the methods, headers and
 * max age; a preflight without that header 400; anything else is left to the routes (an
 * OPTIONS no route answers: 404).
 */
export async function registerLinkusCors(app: FastifyInstance, origins: LinkusWebOrigins) {
  app.decorateRequest('corsPreflightEnabled', false);
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('vary', 'Origin');
    const origin = request.headers.origin;
    if (!origin) return done();
    const q = request.url.indexOf('?');
    if (!CORS_PATHS.has(q < 0 ? request.url : request.url.slice(0, q))) return done();
    origins.allows(origin).then(
      (allowed) => {
        if (!allowed) return done();
        reply.header('access-control-allow-origin', origin);
        if (request.raw.method !== 'OPTIONS') return done();
        if (!request.headers['access-control-request-method']) {
          reply.code(400).type('text/plain').send('Invalid Preflight Request');
          return;
        }
        request.corsPreflightEnabled = true;
        // Safari waits for a body after a 204 without Content-Length: 0.
        reply
          .header('access-control-allow-methods', ALLOW_METHODS)
          .header('access-control-allow-headers', ALLOW_HEADERS)
          .header('access-control-max-age', MAX_AGE_S)
          .code(204)
          .header('content-length', '0')
          .send();
      },
      (err: Error) => done(err),
    );
  });
  // Every path takes OPTIONS, answered by the hook above when it is a preflight it allows.
  app.options('*', (request, reply) => {
    if (!request.corsPreflightEnabled) return reply.callNotFound();
    return reply.send();
  });
}
