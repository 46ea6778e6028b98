import { createHash } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import type { BeforeHookResult, BoardHooks, HookContext, IServerAdapter } from '@bull-board/api/typings/app';
import { FastifyAdapter } from '@bull-board/fastify';
import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import type { Queue } from 'bullmq';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { recordMutation } from '../app/audit.js';
import {
  DASHBOARD_SESSION_TTL_SECONDS,
  type DashboardDeps,
  endDashboardSession,
  jobBelongsTo,
  mayChangeJob,
  payloadPbxId,
  resumeDashboardSession,
  startDashboardSession,
} from '../app/jobs-admin.js';
import type { DashboardSession, DashboardSessionStore } from '../app/ports/dashboard-session.port.js';
import type { JobAdmin } from '../app/ports/jobs.port.js';
import type { Store } from '../app/ports/store.port.js';
import { ApiRole } from '../domain/access.js';
import { PORTAL_COOKIE } from './portal.js';
import { crossSite, isHttps } from './same-origin.js';

/**
 * The job dashboard (issue 6 item 5): bull-board at /admin/queues behind a login form.
 *
 * - The form takes an ADMIN or VIEWER key by POST (never in a URL), checks it, and sets an
 *   HttpOnly, SameSite=Strict cookie (Path=/admin) holding a random session id; the session
 *   lives in Redis for 8 hours and holds the PBX, role and key id, never the key.
 * - Every bull-board route, its API and its static files, needs the session.
 * - Queues are shared by every PBX. Reading is open to both roles, but the content of a job
 *   (payload, result, error, logs) is shown only for the session's own PBX's jobs; others
 *   show as id, name, state and times. Stack traces are never shown. A VIEWER changes nothing
 *   (403; its board shows no action buttons); an ADMIN may retry or remove a job of its own
 *   PBX. Queue-wide actions (pause, empty, clean, retry all, add jobs, schedulers ...) touch
 *   every PBX's jobs, so no PBX key may use them (403), nor see the Redis server's or the
 *   workers' details.
 * - Every change, and every refused attempt to change, is written to the PBX's audit log.
 */

export const DASHBOARD_PATH = '/admin/queues';
export const LOGIN_PATH = '/admin/login';
export const LOGOUT_PATH = '/admin/logout';
export const SESSION_COOKIE = 'epg_dashboard';
const COOKIE_PATH = '/admin';
const HIDDEN = 'hidden: this job is not of your PBX';

export interface DashboardOptions {
  /** BullMQ queues to show. */
  queues: Queue[];
  jobs: JobAdmin;
  sessions: DashboardSessionStore;
  openStore: () => Store;
  now: () => Date;
  /** Counts a sign-in attempt of the request's address (src/http/rate-limits.ts); none: no limit. */
  loginLimit?: (request: FastifyRequest) => Promise<{ refused: boolean; retryAfterS: number }>;
}

// ---- what each bull-board API route may do -----------------------------------------------------

/**
 * Every bull-board API route the dashboard allows, by `method route`; anything else (and any
 * route a later bull-board adds) is refused with 403.
 * - `read`: any session; job content in the answer is hidden unless the job is the PBX's own.
 * - `read-own-job`: the route shows one job's content (logs, flow): own PBX's job only.
 * - `change-own-job`: ADMIN, own PBX's job only.
 */
export type BoardRouteKind = 'read' | 'read-own-job' | 'change-own-job' | 'refused';
const BOARD_ROUTES: Record<string, Exclude<BoardRouteKind, 'refused'>> = {
  'get /api/queues': 'read',
  'get /api/job-schedulers': 'read',
  'get /api/queues/:queueName/metrics': 'read',
  'get /api/queues/:queueName/default-job-options': 'read',
  'get /api/queues/:queueName/rate-limit': 'read',
  'get /api/queues/:queueName/job-data-schema': 'read',
  'get /api/queues/:queueName/:jobId': 'read',
  'get /api/queues/:queueName/:jobId/logs': 'read-own-job',
  'get /api/queues/:queueName/:jobId/flow': 'read-own-job',
  'put /api/queues/:queueName/:jobId/retry': 'change-own-job',
  'put /api/queues/:queueName/:jobId/clean': 'change-own-job',
  // Not listed, so refused: /api/redis/stats and /api/queues/:queueName/workers (the shared
  // Redis and the worker hosts are the operator's business), and every queue-wide change.
};

const OPERATIONS: Record<string, string> = {
  'put /api/queues/:queueName/:jobId/retry': 'dashboard.retryJob',
  'put /api/queues/:queueName/:jobId/clean': 'dashboard.removeJob',
};

/** The audit log's name for a dashboard action. */
export function boardOperation(method: string, route: string): string {
  const key = `${method.toLowerCase()} ${route}`;
  return OPERATIONS[key] ?? `dashboard ${method.toUpperCase()} ${route}`;
}

const forbidden = (message: string): BeforeHookResult => ({
  allow: false,
  status: 403,
  errorKey: 'ERRORS.FORBIDDEN',
  message,
});

export function classifyBoardRoute(method: string, route: string): BoardRouteKind {
  return BOARD_ROUTES[`${method.toLowerCase()} ${route}`] ?? 'refused';
}

type BoardJob = {
  id?: unknown;
  data?: unknown;
  returnValue?: unknown;
  failedReason?: unknown;
  progress?: unknown;
  opts?: unknown;
  delay?: unknown;
};

/** An id that tells nothing (a job id names its PBX, its run, its schedule time), stable per job. */
function opaqueJobId(id: unknown): string {
  return `hidden-${createHash('sha256').update(String(id)).digest('hex').slice(0, 12)}`;
}

/**
 * A job as a PBX's session sees it. Stack traces (server paths and code) are never shown; the
 * error message is. A job of another PBX, or of the system, shows without content: no payload,
 * result or error, and neither its id nor its options or delay (they name the PBX, its runs and
 * its schedule).
 */
export function hideJobContent<T extends BoardJob>(job: T, pbxId: string): T {
  if (jobBelongsTo({ pbxId: payloadPbxId(job.data) }, pbxId)) return { ...job, stacktrace: [] };
  return {
    ...job,
    ...(job.id !== undefined ? { id: opaqueJobId(job.id) } : {}),
    ...(job.opts !== undefined ? { opts: {} } : {}),
    ...(job.delay !== undefined ? { delay: 0 } : {}),
    data: {},
    returnValue: null,
    failedReason: job.failedReason ? HIDDEN : job.failedReason,
    stacktrace: [],
    progress: typeof job.progress === 'number' ? job.progress : 0,
  };
}

/** Hides other PBXs' job content in a bull-board answer; a VIEWER's board shows no buttons that change. */
export function filterBoardAnswer(
  route: string,
  body: unknown,
  session: Pick<DashboardSession, 'pbxId' | 'role'>,
): unknown {
  if (!body || typeof body !== 'object') return body;
  const b = body as Record<string, unknown>;
  if (route === '/api/queues' && Array.isArray(b.queues)) {
    return {
      ...b,
      queues: b.queues.map((q: Record<string, unknown>) => ({
        ...q,
        jobs: Array.isArray(q.jobs) ? q.jobs.map((j: BoardJob) => hideJobContent(j, session.pbxId)) : q.jobs,
        ...(session.role === ApiRole.ADMIN
          ? {}
          : { readOnlyMode: true, allowRetries: false, allowCompletedRetries: false }),
      })),
    };
  }
  if (route === '/api/queues/:queueName/:jobId' && b.job && typeof b.job === 'object') {
    return { ...b, job: hideJobContent(b.job as BoardJob, session.pbxId) };
  }
  if (route === '/api/job-schedulers' && Array.isArray(b.schedulers)) {
    return {
      ...b,
      schedulers: b.schedulers.map((s: { template?: { data?: unknown } }) =>
        s.template && !jobBelongsTo({ pbxId: payloadPbxId(s.template.data) }, session.pbxId)
          ? { ...s, template: { ...s.template, data: {} } }
          : s,
      ),
    };
  }
  return body;
}

// ---- pages -------------------------------------------------------------------------------------

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );

export function loginPage(error?: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Job dashboard: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:5rem auto;padding:0 1rem;color:#222}
label{display:block;margin:1rem 0 .3rem}input{width:100%;padding:.5rem;font:inherit;box-sizing:border-box}
button{margin-top:1rem;padding:.5rem 1.2rem;font:inherit}.error{color:#a4262c}</style></head>
<body><main><h1>Job dashboard</h1>
<p>Sign in with an ADMIN or VIEWER API key of your PBX.</p>
${error ? `<p class="error" role="alert" id="login-error">${escapeHtml(error)}</p>` : ''}
<form method="post" action="${LOGIN_PATH}" autocomplete="off" id="login">
<label for="key">API key</label>
<input id="key" name="key" type="password" required autocomplete="off" spellcheck="false" autofocus>
<button type="submit">Sign in</button>
</form></main></body></html>`;
}

const LOGIN_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";
// bull-board's page: its own scripts and styles, inline styles, its own API; nothing from elsewhere
// (its stylesheet link to Google Fonts is blocked, so the browser makes no third-party request).
const BOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "font-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'";

function sendLogin(reply: FastifyReply, status: number, error?: string) {
  return reply
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', LOGIN_CSP)
    .send(loginPage(error));
}

// ---- registration ------------------------------------------------------------------------------

export async function registerDashboard(app: FastifyInstance, opts: DashboardOptions): Promise<void> {
  const deps = (): DashboardDeps => ({ store: opts.openStore(), sessions: opts.sessions, now: opts.now });
  // The session of a bull-board request, found by its headers object (bull-board hands its hooks
  // the same object); a request without one is refused (fail closed).
  const sessionOf = new WeakMap<object, { session: DashboardSession; requestId: string }>();

  /** A dashboard change (or a refused attempt) goes into the PBX's audit log, as a GraphQL mutation does. */
  const audit = async (
    who: { session: DashboardSession; requestId: string },
    method: string,
    route: string,
    params: unknown,
    outcome: string,
    message: string | null,
  ) => {
    try {
      await recordMutation(opts.openStore(), who.session, {
        operation: boardOperation(method, route),
        args: params && typeof params === 'object' ? (params as Record<string, unknown>) : {},
        outcome,
        message,
        requestId: who.requestId,
        at: opts.now(),
      });
    } catch (err) {
      app.log.warn({ err: (err as Error).message, route }, 'dashboard action not audited');
    }
  };
  const isChange = (method: string) => method.toLowerCase() !== 'get';

  const decide = async (context: HookContext, session: DashboardSession): Promise<BeforeHookResult> => {
    const kind = classifyBoardRoute(context.method, context.route);
    if (kind === 'refused')
      return forbidden('The queues are shared by every PBX; this is not for a PBX key.');
    if (kind === 'read') return { allow: true };
    if (kind === 'change-own-job' && session.role !== ApiRole.ADMIN)
      return forbidden('A VIEWER key is read-only.');
    const { queueName, jobId } = context.request.params as { queueName?: string; jobId?: string };
    const job =
      queueName && jobId && opts.jobs.queueNames().includes(queueName)
        ? await opts.jobs.get(queueName, jobId)
        : null;
    if (!job) return { allow: false, status: 404, errorKey: 'ERRORS.JOB_NOT_FOUND' };
    const allowed = kind === 'read-own-job' ? jobBelongsTo(job, session.pbxId) : mayChangeJob(session, job);
    return allowed ? { allow: true } : forbidden('This job is not of your PBX.');
  };

  const hooks: BoardHooks = {
    async before(context: HookContext): Promise<BeforeHookResult> {
      const who = sessionOf.get(context.request.headers);
      if (!who) return forbidden('No session.');
      const decision = await decide(context, who.session);
      if (decision && !decision.allow && isChange(context.method)) {
        const outcome = decision.status === 404 ? 'NOT_FOUND' : 'FORBIDDEN';
        await audit(
          who,
          context.method,
          context.route,
          context.request.params,
          outcome,
          decision.message ?? null,
        );
      }
      return decision;
    },
    async after(context, result) {
      const who = sessionOf.get(context.request.headers);
      if (!who) return result;
      const status = result.status ?? 200;
      if (isChange(context.method)) {
        const error = (result.body as { error?: { key?: string } } | undefined)?.error?.key;
        const outcome = status < 300 ? 'OK' : (error?.replace(/^ERRORS\./, '') ?? `HTTP_${status}`);
        await audit(who, context.method, context.route, context.request.params, outcome, null);
      }
      if (status >= 300) return result;
      return {
        ...result,
        body: filterBoardAnswer(context.route, result.body, who.session) as typeof result.body,
      };
    },
  };

  const serverAdapter = new FastifyAdapter();
  createBullBoard({
    queues: opts.queues.map((q) => new BullMQAdapter(q)),
    // @bull-board/fastify 9.10.1 (its latest) types itself against its own nested @bull-board/api
    // 9.10.1, while the project pins @bull-board/api 9.10.2: the same interface from two copies.
    // At run time the adapter only receives setter calls. Pinning @bull-board/api to 9.10.1 removes this cast.
    serverAdapter: serverAdapter as unknown as IServerAdapter,
    options: {
      handlerHooks: hooks,
      uiConfig: {
        boardTitle: 'Gateway jobs',
        hideDocsLink: true,
        hideRedisDetails: true,
        showWorkers: false,
        miscLinks: [{ text: 'Log out', url: LOGOUT_PATH }],
      },
    },
  });

  await app.register(async (admin) => {
    await admin.register(fastifyCookie);
    await admin.register(fastifyFormbody, { bodyLimit: 4096 });

    admin.addHook('onSend', async (request, reply) => {
      const isStatic = request.url.startsWith(`${DASHBOARD_PATH}/static/`) && reply.statusCode === 200;
      // Static files are bull-board's own (hashed names); everything else is per session.
      reply.header('cache-control', isStatic ? 'private, max-age=86400' : 'no-store');
      reply.header('x-content-type-options', 'nosniff');
      // same-origin, not no-referrer: with no-referrer a browser posts the login form with `Origin: null`.
      reply.header('referrer-policy', 'same-origin');
      reply.header('x-frame-options', 'DENY');
      if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', BOARD_CSP);
    });

    // The portal's session (issue 17, the same sessions) opens the board too: its link needs no second sign-in.
    const currentSession = async (request: FastifyRequest) =>
      (await resumeDashboardSession(deps(), request.cookies[SESSION_COOKIE])) ??
      resumeDashboardSession(deps(), request.cookies[PORTAL_COOKIE]);

    admin.get(LOGIN_PATH, async (request, reply) => {
      // A key in the query string is never read.
      const session = await currentSession(request).catch((err) => {
        request.log.warn(
          { err: (err as Error).message },
          'dashboard session check unavailable; showing the sign-in page',
        );
        return null;
      });
      if (session) return reply.redirect(DASHBOARD_PATH, 303);
      return sendLogin(reply, 200);
    });

    admin.post<{ Body: { key?: unknown } | undefined }>(LOGIN_PATH, async (request, reply) => {
      if (crossSite(request)) return sendLogin(reply, 403, 'Sign in from this page.');
      const limit = await opts.loginLimit?.(request);
      if (limit?.refused) {
        request.log.info({ ip: request.ip }, 'dashboard login rate limited');
        reply.header('retry-after', String(limit.retryAfterS));
        return sendLogin(
          reply,
          429,
          `Too many sign-in attempts from this address. Try again in ${limit.retryAfterS} s.`,
        );
      }
      const key = typeof request.body?.key === 'string' ? request.body.key : '';
      if (!key.trim()) return sendLogin(reply, 401, 'Enter an API key.');
      let login: Awaited<ReturnType<typeof startDashboardSession>>;
      try {
        login = await startDashboardSession(deps(), key);
      } catch (err) {
        request.log.warn({ err: (err as Error).message }, 'dashboard login unavailable');
        return sendLogin(reply, 503, 'The gateway cannot check keys right now. Try again shortly.');
      }
      if (!login.ok) {
        request.log.info({ code: login.code }, 'dashboard login refused');
        return sendLogin(reply, login.code === 'FORBIDDEN' ? 403 : 401, login.message);
      }
      request.log.info(
        { pbxId: login.session.pbxId, role: login.session.role, keyId: login.session.keyId },
        'dashboard login',
      );
      // A new login replaces the browser's previous session, if any.
      await endDashboardSession(deps(), request.cookies[SESSION_COOKIE]).catch((err) =>
        request.log.warn(
          { err: (err as Error).message },
          'could not end the previous dashboard session; it expires by itself',
        ),
      );
      return reply
        .setCookie(SESSION_COOKIE, login.sessionId, {
          path: COOKIE_PATH,
          httpOnly: true,
          sameSite: 'strict',
          secure: isHttps(request),
          maxAge: DASHBOARD_SESSION_TTL_SECONDS,
        })
        .redirect(DASHBOARD_PATH, 303);
    });

    admin.route({
      method: ['GET', 'POST'],
      url: LOGOUT_PATH,
      handler: async (request, reply) => {
        if (request.method === 'POST' && crossSite(request)) return reply.code(403).send();
        await endDashboardSession(deps(), request.cookies[SESSION_COOKIE]).catch((err) =>
          request.log.warn({ err: (err as Error).message }, 'dashboard logout: session not deleted'),
        );
        return reply
          .clearCookie(SESSION_COOKIE, {
            path: COOKIE_PATH,
            httpOnly: true,
            sameSite: 'strict',
            secure: isHttps(request),
          })
          .redirect(DASHBOARD_PATH, 303);
      },
    });

    await admin.register(async (board) => {
      board.addHook('onRequest', async (request, reply) => {
        let session: DashboardSession | null;
        try {
          session = await currentSession(request);
        } catch (err) {
          request.log.warn({ err: (err as Error).message }, 'dashboard session check unavailable');
          return reply.code(503).header('content-type', 'text/plain; charset=utf-8').send('Unavailable');
        }
        const path = request.url.split('?')[0];
        const isPage =
          (request.method === 'GET' || request.method === 'HEAD') &&
          !path.startsWith(`${DASHBOARD_PATH}/api/`) &&
          !path.startsWith(`${DASHBOARD_PATH}/static/`);
        if (!session) {
          if (isPage) return sendLogin(reply, 401);
          return reply.code(401).send({ error: 'UNAUTHENTICATED', message: 'Sign in at /admin/queues.' });
        }
        // Belt and braces: whatever bull-board's hooks say, a VIEWER changes nothing.
        if (session.role !== ApiRole.ADMIN && request.method !== 'GET' && request.method !== 'HEAD') {
          const route = (request.routeOptions.url ?? path).slice(DASHBOARD_PATH.length);
          await audit(
            { session, requestId: request.id },
            request.method,
            route,
            request.params,
            'FORBIDDEN',
            null,
          );
          return reply
            .code(403)
            .send({ error: { key: 'ERRORS.FORBIDDEN' }, message: 'A VIEWER key is read-only.' });
        }
        sessionOf.set(request.headers, { session, requestId: request.id });
      });
      await board.register(serverAdapter.registerPlugin(), { prefix: DASHBOARD_PATH });
    });
  });
}
