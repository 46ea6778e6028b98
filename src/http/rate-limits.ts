import fastifyRateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { Metrics } from './metrics.js';

/**
 * Rate limits per source address, counted in Redis (@fastify/rate-limit's Redis store) so every
 * gateway process shares them (issue 12 items 1 and 6):
 * - the Graph webhook: `WEBHOOK_RATE_LIMIT_PER_MINUTE` requests a minute per address (route
 *   option `config.rateLimit`, set in src/http/graph-notifications.ts);
 * - the dashboard sign-in: `LOGIN_RATE_LIMIT_PER_MINUTE` attempts a minute per address;
 * - bodies of forged notifications at the webhook (no valid item): past `WEBHOOK_FORGED_PER_MINUTE`
 *   of them in a minute, the address gets 429 there before its body is read, until the minute is over;
 * - answers 401 (a missing or bad key on /graphql, the caller ID route, the dashboard API,
 *   /metrics): past `AUTH_FAILURES_PER_MINUTE` of them in a minute, the address gets 429 on those
 *   paths until the minute is over: on the dashboard API and /metrics with or without a key; on
 *   /graphql and the caller ID route (src/http/linkus-lookup.ts), the API every Linkus client of
 *   an office calls, only without a valid key. Those two read the limit themselves, for a
 *   request whose key does not authenticate (`authFailures.refused`): a valid key costs them no
 *   Redis round trip (a tenth of a lookup's CPU), and one misconfigured client with a bad key
 *   does not lock its whole office (one address behind NAT) out of caller ID for the minute.
 *   The keys are random 256-bit secrets: a 429 or an answer tells a guesser nothing it could use. The Linkus token endpoint's
 *   refusals of an unknown code or refresh token (400 invalid_grant) count too, and past the
 *   limit it answers 429.
 * With Redis down the limits are skipped (`skipOnError`): the webhook then answers 503 anyway,
 * and /readyz says Redis is down.
 * The address is the connection's, or X-Forwarded-For's as far as TRUST_PROXY allows.
 */
export interface RateLimits {
  /** Counts one dashboard sign-in attempt of the request's address; `retryAfterS` when refused. */
  login(request: FastifyRequest): Promise<{ refused: boolean; retryAfterS: number }>;
  /**
   * The webhook's forged bodies (no valid item) per address: `refused` once more than
   * `WEBHOOK_FORGED_PER_MINUTE` of them came in the minute; `count` adds one.
   */
  forged: {
    refused(request: FastifyRequest): Promise<{ refused: boolean; retryAfterS: number }>;
    count(request: FastifyRequest): Promise<void>;
  };
  /**
   * The 401s of the request's address (read, not counted: the answered 401 is counted when it
   * goes out): `refused` once `AUTH_FAILURES_PER_MINUTE` were answered in the minute.
   */
  authFailures: {
    refused(request: FastifyRequest): Promise<{ refused: boolean; retryAfterS: number }>;
    /** Counts one failure of the request's address that is not a 401 (a guessed Linkus token). */
    count(request: FastifyRequest): Promise<void>;
  };
}

/** Paths whose 401 answers are counted, and which are refused once an address has too many. */
const AUTH_PATHS = [/^\/admin(\/|$)/, /^\/metrics(\?|$)/];
/**
 * The Linkus token endpoint (S2/S4) is refused past the limit too; it counts only the refusals
 * that guessing makes (an unknown code or refresh token, `authFailures.count`): a revoked
 * session's refresh, answered SESSION_REVOKED to every client of an office at once, is not held
 * against the office's address.
 */
const TOKEN_PATHS = [/^\/linkus\/sso\/token(\?|$)/];
/** Paths whose 401s are counted, and whose route reads the limit itself, after the key failed. */
const SELF_LIMITED_PATHS = [/^\/graphql(\?|$)/, /^\/linkus\/lookup\/caller(\?|$)/];

/** The 429 of an address past its limit of 401s. */
export function tooManyFailures(reply: FastifyReply, retryAfterS: number) {
  return reply
    .code(429)
    .header('retry-after', String(retryAfterS))
    .header('content-type', 'application/json; charset=utf-8')
    .send({
      error: 'TOO_MANY_REQUESTS',
      message: `Too many requests without a valid key from this address; try again in ${retryAfterS} s.`,
    });
}

export async function registerRateLimits(
  app: FastifyInstance,
  opts: {
    redis: Redis;
    prefix: string;
    loginPerMinute: number;
    authFailuresPerMinute: number;
    forgedPerMinute: number;
    metrics: Metrics;
    logger: Logger;
  },
): Promise<RateLimits> {
  await app.register(fastifyRateLimit, {
    global: false,
    redis: opts.redis,
    nameSpace: `${opts.prefix}:rate-limit:`,
    skipOnError: true,
    timeWindow: 60_000,
    onExceeded: (request) => {
      opts.metrics.rateLimited.inc({ limit: 'webhook' });
      request.log.debug({ ip: request.ip, url: request.url }, 'rate limited');
    },
  });
  const ip = (request: FastifyRequest) => normalizeIP(request.ip);
  const loginLimit = app.createRateLimit({
    max: opts.loginPerMinute,
    timeWindow: 60_000,
    keyGenerator: (request) => `login:${ip(request)}`,
  });
  const authLimit = app.createRateLimit({
    max: opts.authFailuresPerMinute,
    timeWindow: 60_000,
    keyGenerator: (request) => `auth-failures:${ip(request)}`,
  });
  const forgedLimit = app.createRateLimit({
    max: opts.forgedPerMinute,
    timeWindow: 60_000,
    keyGenerator: (request) => `webhook-forged:${ip(request)}`,
  });
  const guarded = (request: FastifyRequest) =>
    AUTH_PATHS.some((p) => p.test(request.url)) || TOKEN_PATHS.some((p) => p.test(request.url));
  const failed = (request: FastifyRequest, status: number) =>
    status === 401 && (guarded(request) || SELF_LIMITED_PATHS.some((p) => p.test(request.url)));

  // Callbacks, not async functions: most requests pass both hooks at once, with no promise (issue 13).
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
    if (!guarded(request)) return done();
    // Read, not counted: refused once the minute's 401s have reached the limit (a 401 is counted
    // when it is answered, so exactly `authFailuresPerMinute` are answered).
    authLimit(request, { increment: false }).then((status) => {
      if (status.isAllowed || status.remaining > 0) return done();
      opts.metrics.rateLimited.inc({ limit: 'auth-failures' });
      tooManyFailures(reply, Math.max(1, status.ttlInSeconds));
    }, done);
  });
  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    if (!failed(request, reply.statusCode)) return done();
    authLimit(request)
      .catch((err: Error) =>
        opts.logger.warn({ err: err.message }, 'could not count a 401 for its rate limit'),
      )
      .then(() => done());
  });

  return {
    authFailures: {
      async count(request) {
        await authLimit(request).catch((err: Error) =>
          opts.logger.warn({ err: err.message }, 'could not count an auth failure for its rate limit'),
        );
      },
      async refused(request) {
        const status = await authLimit(request, { increment: false });
        if (status.isAllowed || status.remaining > 0) return { refused: false, retryAfterS: 0 };
        opts.metrics.rateLimited.inc({ limit: 'auth-failures' });
        return { refused: true, retryAfterS: Math.max(1, status.ttlInSeconds) };
      },
    },
    async login(request) {
      const status = await loginLimit(request);
      if (status.isAllowed || !status.isExceeded) return { refused: false, retryAfterS: 0 };
      opts.metrics.rateLimited.inc({ limit: 'login' });
      return { refused: true, retryAfterS: Math.max(1, status.ttlInSeconds) };
    },
    forged: {
      async refused(request) {
        // Read, not counted: refused once the minute's count has reached the limit (a body is
        // counted after it was read and found forged, so exactly `forgedPerMinute` are read).
        const status = await forgedLimit(request, { increment: false });
        if (status.isAllowed || status.remaining > 0) return { refused: false, retryAfterS: 0 };
        opts.metrics.rateLimited.inc({ limit: 'webhook-forged' });
        return { refused: true, retryAfterS: Math.max(1, status.ttlInSeconds) };
      },
      async count(request) {
        await forgedLimit(request).catch((err: Error) =>
          opts.logger.warn({ err: err.message }, 'could not count a forged webhook body for its rate limit'),
        );
      },
    },
  };
}
