import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { QueueCounts } from '../app/ports/jobs.port.js';

/** One registry per gateway instance (tests run several in one process). */
export class Metrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by method, route and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by method and route.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly graphqlOperations = new Counter({
    name: 'graphql_operations_total',
    help: 'GraphQL operations by type, name and outcome (ok / error).',
    labelNames: ['type', 'operation', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly graphqlDuration = new Histogram({
    name: 'graphql_operation_duration_seconds',
    help: 'GraphQL operation latency by type and name.',
    labelNames: ['type', 'operation'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly graphNotifications = new Counter({
    name: 'graph_notifications_total',
    help: 'Items posted to the Graph webhook, by endpoint and outcome (accepted: a known subscription and its clientState; rejected: not; ignored: past the per-body cap).',
    labelNames: ['endpoint', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly subscriptionCacheLoads = new Counter({
    name: 'graph_subscription_cache_loads_total',
    help: 'Reads of the known Graph subscriptions from the database by the webhook (at start, after a change, or when the cache is old).',
    registers: [this.registry],
  });

  readonly webhookBodies = new Gauge({
    name: 'graph_webhook_bodies',
    help: 'Bodies at the Graph webhook: being read and checked (one at a time), or waiting unread for their turn.',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });

  readonly rateLimited = new Counter({
    name: 'rate_limited_total',
    help: 'Requests answered 429, by limit (webhook, login, auth-failures).',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });

  constructor(queueCounts?: () => Promise<Array<{ name: string; counts: QueueCounts }>>) {
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'queue_jobs',
      help: 'Jobs per queue and state (waiting, active, delayed, completed, failed).',
      labelNames: ['queue', 'state'] as const,
      registers: [this.registry],
      async collect() {
        if (!queueCounts) return;
        this.reset();
        try {
          for (const q of await queueCounts()) {
            for (const [state, n] of Object.entries(q.counts)) this.set({ queue: q.name, state }, n);
          }
        } catch {
          // Redis down: /readyz says so; the gauge just has no samples this scrape.
        }
      },
    });
  }
}

/** Constant-time comparison of a presented bearer token with the configured one. */
function bearerMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer\s+(.+)$/i.exec(header ?? '')?.[1] ?? '';
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b) && given.length > 0;
}

export interface MetricsOptions {
  /** when set, `Authorization: Bearer <token>` is required */
  token: string | null;
}

/** `GET /metrics` on a fastify instance: the Prometheus text, behind the token when one is set. */
export function registerMetricsRoute(app: FastifyInstance, metrics: Metrics, opts: MetricsOptions) {
  app.get('/metrics', async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('x-content-type-options', 'nosniff');
    if (opts.token && !bearerMatches(request.headers.authorization, opts.token)) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="metrics"')
        .send({ error: 'UNAUTHENTICATED', message: 'GET /metrics needs the metrics token (METRICS_TOKEN).' });
    }
    reply.header('cache-control', 'no-store');
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}

/**
 * `/metrics` on a port of its own (METRICS_PORT), e.g. one only the monitoring network
 * reaches; the main port then has no `/metrics`.
 */
export async function startMetricsServer(
  metrics: Metrics,
  opts: MetricsOptions & { host: string; port: number },
): Promise<{ url: string; close(): Promise<void> }> {
  const app = Fastify({ logger: false, forceCloseConnections: true });
  registerMetricsRoute(app, metrics, opts);
  const address = await app.listen({ host: opts.host, port: opts.port });
  return { url: address.replace('0.0.0.0', '127.0.0.1'), close: () => app.close() };
}
