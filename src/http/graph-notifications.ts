import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LIFECYCLE_PATH, NOTIFICATION_PATH } from '../app/change-notifications.js';
import {
  type IntakeReport,
  InvalidNotificationBody,
  type NotificationIntake,
} from '../app/notification-intake.js';
import type { Logger } from '../logger.js';

/**
 * The subscription validation token comes form-encoded ('+' for a space), so read it with
 * URLSearchParams from the raw query, not with decodeURIComponent.
 */
function validationToken(request: FastifyRequest): string | null {
  const query = request.raw.url?.split('?')[1] ?? '';
  return query ? new URLSearchParams(query).get('validationToken') : null;
}

/**
 * At most `max` notification bodies read and checked at once, the others wait before their
 * body is read (it stays in the socket). A body is parsed and checked in one stretch of the
 * event loop; twenty at once made /healthz and GraphQL wait behind all of them.
 */
class BodyGate {
  private inUse = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly max: number) {}
  async enter(): Promise<void> {
    if (this.inUse < this.max) {
      this.inUse++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  leave(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.inUse--;
  }
}

const HOLDS_GATE = Symbol('holdsGate');

export interface GraphWebhookLimits {
  /** largest body accepted (413 past it, before it is read) */
  bodyLimitBytes: number;
  /** requests a minute per source address (429 past it; Redis, shared by every process) */
  ratePerMinute: number;
  /** longest validation token echoed (400 past it) */
  validationTokenMax: number;
}

/** Bodies with no valid item, per source address (src/http/rate-limits.ts). */
export interface ForgedLimit {
  refused(request: FastifyRequest): Promise<{ refused: boolean; retryAfterS: number }>;
  count(request: FastifyRequest): Promise<void>;
}

/**
 * Where Microsoft Graph posts change and lifecycle notifications (T2). Not behind an API
 * key: each notification proves itself with its subscription's clientState. Anyone can post
 * here, so a request costs little and bounded work (issue 12 item 1): a rate limit per source
 * address, a tighter one on the bodies with no valid item (refused before the body is read), a body limit, at most WEBHOOK_MAX_ITEMS items looked at, each checked in memory
 * (src/app/notification-intake.ts), and the valid ones handed to a job; the answer (202)
 * never waits for the database. 503 when Redis cannot take them (Graph delivers again later).
 */
export function registerGraphNotifications(
  app: FastifyInstance,
  deps: { intake: NotificationIntake; logger: Logger; limits: GraphWebhookLimits; forged?: ForgedLimit },
) {
  const { limits } = deps;
  const gate = new BodyGate(1);
  const leave = async (request: FastifyRequest) => {
    const held = request as FastifyRequest & { [HOLDS_GATE]?: boolean };
    if (!held[HOLDS_GATE]) return;
    held[HOLDS_GATE] = false;
    gate.leave();
  };
  const handle =
    (work: (body: unknown) => Promise<IntakeReport>) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      reply.header('x-content-type-options', 'nosniff').header('cache-control', 'no-store');
      const token = validationToken(request);
      if (token !== null) {
        // The subscription handshake: echo the token, as plain text, at once.
        if (token.length > limits.validationTokenMax) {
          return reply.code(400).send({ error: 'BAD_REQUEST', message: 'validationToken is too long' });
        }
        return reply.code(200).header('content-type', 'text/plain; charset=utf-8').send(token);
      }
      try {
        const report = await work(request.body);
        if (report.accepted === 0 && report.rejected > 0) await deps.forged?.count(request);
      } catch (err) {
        if (err instanceof InvalidNotificationBody) {
          return reply.code(400).send({ error: 'BAD_REQUEST', message: err.message });
        }
        // Ours (Redis or, on a cache reload, the database is down): Graph delivers it again later.
        deps.logger.error(
          { err: (err as Error).message, path: request.url },
          'Graph notifications not taken',
        );
        return reply.code(503).send();
      }
      return reply.code(202).send();
    };
  const options = {
    bodyLimit: limits.bodyLimitBytes,
    config: { rateLimit: { max: limits.ratePerMinute, timeWindow: 60_000 } },
    // A source that keeps posting forged bodies is refused before its next body is read.
    onRequest: async (request: FastifyRequest, reply: FastifyReply) => {
      const limit = await deps.forged?.refused(request);
      if (!limit?.refused) {
        await gate.enter();
        (request as FastifyRequest & { [HOLDS_GATE]?: boolean })[HOLDS_GATE] = true;
        return;
      }
      return reply
        .code(429)
        .header('retry-after', String(limit.retryAfterS))
        .header('x-content-type-options', 'nosniff')
        .send({ error: 'TOO_MANY_REQUESTS', message: 'Too many notifications that prove nothing.' });
    },
    // Every way a request ends lets the next body in: answered (202, 400, 413, 503 …) or abandoned.
    onResponse: leave,
    onRequestAbort: leave,
  };
  app.post(
    NOTIFICATION_PATH,
    options,
    handle((body) => deps.intake.changes(body)),
  );
  app.post(
    LIFECYCLE_PATH,
    options,
    handle((body) => deps.intake.lifecycle(body)),
  );
}
