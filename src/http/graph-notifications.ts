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
 * At most `max` notification bodies read and checked at once; the others wait, at most
 * `maxWaiting` of them, before their body is read (it stays in the socket, so memory is
 * bounded by `max` bodies, not by the connections). Twenty bodies parsed and checked at once
 * made /healthz and GraphQL wait behind all of them. Past `maxWaiting`, `enter` answers false
 * at once (the caller answers 503; Graph delivers again later).
 */
export class BodyGate {
  private inUse = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(
    private readonly max: number,
    private readonly maxWaiting: number,
    /** told the state after every change */
    private readonly onChange: (state: { reading: number; waiting: number }) => void = () => {},
  ) {}
  /** 'now', 'waited' (the turn came after others), or 'full' (not entered: the line is full). */
  async enter(): Promise<'now' | 'waited' | 'full'> {
    if (this.inUse < this.max) {
      this.inUse++;
      this.onChange(this.state);
      return 'now';
    }
    if (this.waiting.length >= this.maxWaiting) return 'full';
    const turn = new Promise<void>((resolve) => this.waiting.push(resolve));
    this.onChange(this.state);
    await turn;
    return 'waited';
  }
  leave(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.inUse--;
    this.onChange(this.state);
  }
  get state() {
    return { reading: this.inUse, waiting: this.waiting.length };
  }
}

/** The request's turn at the gate while it holds it, and the timer that ends a body too slow to come. */
const HOLDS_GATE = Symbol('holdsGate');
type Holder = FastifyRequest & { [HOLDS_GATE]?: { timer: NodeJS.Timeout } };

export interface GraphWebhookLimits {
  /** largest body accepted (413 past it, before it is read) */
  bodyLimitBytes: number;
  /** requests a minute per source address (429 past it; Redis, shared by every process) */
  ratePerMinute: number;
  /** longest validation token echoed (400 past it) */
  validationTokenMax: number;
  /**
   * longest a body may take to arrive once its turn came (the connection is closed past it,
   * and the next body gets the turn): a sender that trickles its body cannot hold the webhook
   */
  bodyTimeoutMs: number;
  /** bodies waiting for their turn (503 at once past it) */
  maxWaiting: number;
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
 * One body is read and checked at a time (`BodyGate`), the others wait unread, at most
 * `maxWaiting` of them; a body must arrive within `bodyTimeoutMs` of its turn.
 */
export function registerGraphNotifications(
  app: FastifyInstance,
  deps: {
    intake: NotificationIntake;
    logger: Logger;
    limits: GraphWebhookLimits;
    forged?: ForgedLimit;
    /** The gate's state after every change (a gauge). */
    observeGate?: (state: { reading: number; waiting: number }) => void;
  },
) {
  const { limits } = deps;
  const gate = new BodyGate(1, limits.maxWaiting, deps.observeGate);
  const leave = (request: FastifyRequest) => {
    const held = request as Holder;
    const turn = held[HOLDS_GATE];
    if (!turn) return;
    clearTimeout(turn.timer);
    held[HOLDS_GATE] = undefined;
    gate.leave();
  };
  const tooMany = (reply: FastifyReply, retryAfterS: number, message: string) =>
    reply
      .code(429)
      .header('retry-after', String(retryAfterS))
      .header('x-content-type-options', 'nosniff')
      .send({ error: 'TOO_MANY_REQUESTS', message });
  const FORGED = 'Too many notifications that prove nothing.';
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
    // A source that keeps posting forged bodies is refused before its next body is read: asked
    // before it waits for its turn (no wait for a refused source) and again when its turn comes
    // (the bodies it had waiting meanwhile are counted by then).
    onRequest: async (request: FastifyRequest, reply: FastifyReply) => {
      if (validationToken(request) !== null) return; // the handshake: no body to read
      const before = await deps.forged?.refused(request);
      if (before?.refused) return tooMany(reply, before.retryAfterS, FORGED);
      const entered = await gate.enter();
      if (entered === 'full') {
        return reply.code(503).header('retry-after', '1').header('x-content-type-options', 'nosniff').send({
          error: 'SERVICE_UNAVAILABLE',
          message: 'Too many notifications waiting; deliver again later.',
        });
      }
      const socket = request.raw.socket;
      const held = request as Holder;
      const timer = setTimeout(() => {
        deps.logger.warn(
          { path: request.url, ip: request.ip, timeoutMs: limits.bodyTimeoutMs },
          'Graph notifications body too slow; connection closed',
        );
        leave(request);
        socket.destroy();
      }, limits.bodyTimeoutMs);
      held[HOLDS_GATE] = { timer };
      // Gone while it waited (its abort hook found no turn to give back): give the turn on.
      if (request.raw.destroyed || socket.destroyed) {
        leave(request);
        return;
      }
      const after = entered === 'waited' ? await deps.forged?.refused(request) : undefined;
      if (after?.refused) {
        leave(request);
        return tooMany(reply, after.retryAfterS, FORGED);
      }
    },
    // The body is in: the time limit is over (the turn is kept until the answer).
    preHandler: async (request: FastifyRequest) => {
      const turn = (request as Holder)[HOLDS_GATE];
      if (turn) clearTimeout(turn.timer);
    },
    // Every way a request ends lets the next body in: answered (202, 400, 413, 503 …) or abandoned.
    onResponse: async (request: FastifyRequest) => leave(request),
    onRequestAbort: async (request: FastifyRequest) => leave(request),
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
