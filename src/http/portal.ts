import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  DASHBOARD_SESSION_TTL_SECONDS,
  type DashboardDeps,
  endDashboardSession,
  resumeDashboardSession,
  startDashboardSession,
} from '../app/jobs-admin.js';
import type { DashboardSessionStore } from '../app/ports/dashboard-session.port.js';
import type { Store } from '../app/ports/store.port.js';
import type { KeyHolder } from '../domain/access.js';
import { cookieValue, crossSite, crossSiteHeaders, isHttps } from './same-origin.js';

/**
 * The PBX portal (issue 17): a single-page app (portal/, built by Vite into dist/portal) served
 * at /portal, speaking only the public GraphQL API.
 *
 * Sign-in takes an ADMIN or VIEWER key by POST to /portal/session and keeps the job
 * dashboard's session (src/app/jobs-admin.ts, in Redis; never the key) in an HttpOnly,
 * SameSite=Strict cookie. The cookie's path is `/`, so that it reaches /graphql (HTTP and the
 * graphql-ws upgrade) and the job dashboard (/admin/queues, which takes it too). /graphql takes
 * the cookie only from a same-origin request: a POST (Apollo's CSRF prevention then requires
 * `content-type: application/json` or a preflighted header) that no other site sent
 * (Sec-Fetch-Site / Origin), or a WebSocket upgrade whose Origin is the gateway's own.
 */

export const PORTAL_PATH = '/portal';
export const PORTAL_SESSION_PATH = '/portal/session';
export const PORTAL_COOKIE = 'epg_portal';

/** Where `npm run build` puts the portal: dist/portal beside package.json (from src/ and from dist/src/). */
export function defaultPortalDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, 'dist', 'portal');
}

/** A session of the portal: who it is, as a key would be. */
export interface PortalCaller {
  principal: KeyHolder;
  sessionId: string;
  keyHash: string;
}

/** The portal's sessions, as /graphql sees them. */
export class PortalSessions {
  constructor(private readonly deps: () => DashboardDeps) {}

  /** The caller behind a same-origin request's portal cookie, or null. */
  async fromHeaders(headers: IncomingHttpHeaders): Promise<PortalCaller | null> {
    if (crossSiteHeaders(headers)) return null;
    const sessionId = cookieValue(headers.cookie, PORTAL_COOKIE);
    if (!sessionId) return null;
    return this.resume(sessionId);
  }

  /** The session behind this id, or null once it ended or its key was revoked. */
  async resume(sessionId: string): Promise<PortalCaller | null> {
    const session = await resumeDashboardSession(this.deps(), sessionId);
    if (!session) return null;
    return {
      principal: { pbxId: session.pbxId, role: session.role, keyId: session.keyId },
      sessionId,
      keyHash: session.keyHash,
    };
  }
}

export interface PortalOptions {
  sessions: DashboardSessionStore;
  openStore: () => Store;
  now: () => Date;
  /** The built portal (index.html and assets/); default {@link defaultPortalDir}. */
  dir?: string;
  loginLimit?: (request: FastifyRequest) => Promise<{ refused: boolean; retryAfterS: number }>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
};

// Everything from the gateway itself: scripts, styles, GraphQL over HTTP and WebSocket.
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
  "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'";

const problem = (code: string, message: string, field?: string) => ({
  errors: [{ message, extensions: { code, ...(field ? { field } : {}) } }],
});

export async function registerPortal(app: FastifyInstance, opts: PortalOptions): Promise<void> {
  const dir = path.resolve(opts.dir ?? defaultPortalDir());
  const deps = (): DashboardDeps => ({ store: opts.openStore(), sessions: opts.sessions, now: opts.now });
  const cookieOptions = (request: FastifyRequest) =>
    `Path=/; HttpOnly; SameSite=Strict${isHttps(request) ? '; Secure' : ''}`;

  await app.register(async (portal) => {
    portal.addHook('onSend', async (_request, reply) => {
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'same-origin');
      reply.header('x-frame-options', 'DENY');
      reply.header('content-security-policy', CSP);
    });

    const send = async (reply: FastifyReply, file: string, immutable: boolean) => {
      const type = TYPES[path.extname(file)] ?? 'application/octet-stream';
      // A missing file is a 404.
      const body = await readFile(file).catch(() => null);
      if (!body) return reply.code(404).header('cache-control', 'no-store').send('Not found');
      return reply
        .header('content-type', type)
        .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
        .send(body);
    };
    const index = async (_request: FastifyRequest, reply: FastifyReply) => {
      if (!existsSync(path.join(dir, 'index.html'))) {
        return reply
          .code(503)
          .header('content-type', 'text/plain; charset=utf-8')
          .header('cache-control', 'no-store')
          .send('The portal is not built: run `npm run build` (or `npm run demo`).');
      }
      return send(reply, path.join(dir, 'index.html'), false);
    };
    portal.get(PORTAL_PATH, index);
    portal.get(`${PORTAL_PATH}/`, index);
    // Vite's hashed files: the name changes with the content.
    portal.get<{ Params: { '*': string } }>(`${PORTAL_PATH}/assets/*`, async (request, reply) => {
      const name = request.params['*'];
      if (!/^[A-Za-z0-9._-]+$/.test(name)) return reply.code(404).send('Not found');
      return send(reply, path.join(dir, 'assets', name), true);
    });

    const whoAmI = (s: { pbxId: string; role: string }) => ({ pbxId: s.pbxId, role: s.role });

    portal.get(PORTAL_SESSION_PATH, async (request, reply) => {
      reply.header('cache-control', 'no-store');
      const id = cookieValue(request.headers.cookie, PORTAL_COOKIE);
      // Sessions unreadable (Redis down): not signed in; the sign-in form says why when it is posted.
      const session = id ? await resumeDashboardSession(deps(), id).catch(() => null) : null;
      if (!session) return reply.code(401).send(problem('UNAUTHENTICATED', 'Not signed in.'));
      return whoAmI(session);
    });

    portal.post<{ Body: { key?: unknown } | undefined }>(
      PORTAL_SESSION_PATH,
      { bodyLimit: 4096 },
      async (request, reply) => {
        reply.header('cache-control', 'no-store');
        if (crossSite(request))
          return reply.code(403).send(problem('FORBIDDEN', 'Sign in from the portal itself.'));
        const limit = await opts.loginLimit?.(request);
        if (limit?.refused) {
          reply.header('retry-after', String(limit.retryAfterS));
          return reply
            .code(429)
            .send(
              problem(
                'RATE_LIMITED',
                `Too many sign-in attempts from this address. Try again in ${limit.retryAfterS} s.`,
                'key',
              ),
            );
        }
        const key = typeof request.body?.key === 'string' ? request.body.key : '';
        if (!key.trim()) return reply.code(400).send(problem('BAD_USER_INPUT', 'Enter an API key.', 'key'));
        let login: Awaited<ReturnType<typeof startDashboardSession>>;
        try {
          login = await startDashboardSession(deps(), key);
        } catch (err) {
          request.log.warn({ err: (err as Error).message }, 'portal sign-in unavailable');
          return reply
            .code(503)
            .send(problem('UNAVAILABLE', 'The gateway cannot check keys right now. Try again shortly.'));
        }
        if (!login.ok) {
          const message = login.message.replace('The dashboard needs', 'The portal needs');
          return reply.code(login.code === 'FORBIDDEN' ? 403 : 401).send(problem(login.code, message, 'key'));
        }
        request.log.info(
          { pbxId: login.session.pbxId, role: login.session.role, keyId: login.session.keyId },
          'portal sign-in',
        );
        await endDashboardSession(deps(), cookieValue(request.headers.cookie, PORTAL_COOKIE)).catch((err) =>
          request.log.warn(
            { err: (err as Error).message },
            'could not end the previous portal session; it expires by itself',
          ),
        );
        return reply
          .header(
            'set-cookie',
            `${PORTAL_COOKIE}=${login.sessionId}; Max-Age=${DASHBOARD_SESSION_TTL_SECONDS}; ${cookieOptions(request)}`,
          )
          .send(whoAmI(login.session));
      },
    );

    portal.delete(PORTAL_SESSION_PATH, async (request, reply) => {
      if (crossSite(request)) return reply.code(403).send(problem('FORBIDDEN', 'Sign out from the portal.'));
      await endDashboardSession(deps(), cookieValue(request.headers.cookie, PORTAL_COOKIE)).catch((err) =>
        request.log.warn({ err: (err as Error).message }, 'portal sign-out: session not deleted'),
      );
      return reply
        .header('cache-control', 'no-store')
        .header('set-cookie', `${PORTAL_COOKIE}=; Max-Age=0; ${cookieOptions(request)}`)
        .code(204)
        .send();
    });
  });
}

/** The portal's index.html exists (the build ran). */
export function portalBuilt(dir = defaultPortalDir()): boolean {
  try {
    return readFileSync(path.join(dir, 'index.html'), 'utf8').includes('<html');
  } catch {
    return false;
  }
}
