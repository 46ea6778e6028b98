import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MAILBOX_PATH, mailboxUser } from './contacts.routes.js';
import {
  answerGraph,
  authenticate,
  type GraphAnswer,
  type GraphCall,
  graphError,
  statKey,
} from './graph.handler.js';
import type { SandboxContext } from './sandbox.context.js';
import { answerSubscriptions, isSubscriptionsPath } from './subscriptions.graph.js';

/**
 * Graph v1.0 over HTTP: `/v1.0/*` and `POST /v1.0/$batch`, with the fault knobs that act
 * on the HTTP request (latency, 503/504 error rate) and the request statistics the
 * tests read through the admin API.
 *
 * JSON batching (https://learn.microsoft.com/graph/json-batching): at most 20 requests,
 * relative URLs, `dependsOn` orders them (a failed dependency gives 424), each item is
 * authorised and throttled on its own (a throttled item comes back as a 429 item with its
 * own Retry-After while the envelope is 200; SDKs do not retry items).
 */
const MAX_BATCH = 20;

interface BatchItem {
  id?: unknown;
  method?: unknown;
  url?: unknown;
  headers?: Record<string, string>;
  body?: unknown;
  dependsOn?: unknown;
}

function lower(h: Record<string, unknown>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(h))
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v == null ? undefined : String(v);
  return out;
}

/** The path after `/v1.0/`, for routing; null when it cannot be decoded. */
function graphPath(url: URL): string | null {
  try {
    return decodeURI(url.pathname)
      .replace(/^\/v1\.0\/?/, '')
      .replace(/\/+$/, '');
  } catch {
    return null;
  }
}

/**
 * Outlook's per-mailbox limits (mailbox.throttle.ts) for a request to a mailbox: null when the
 * request names no mailbox the token could reach (it is answered as usual), a release to call
 * once it is answered, or the 429 to send instead.
 */
function admitMailbox(ctx: SandboxContext, call: GraphCall): { release: () => void } | GraphAnswer | null {
  if (!ctx.faults.throttling || !ctx.mailboxThrottle.settings.enabled) return null;
  const path = graphPath(call.url);
  const m = path === null ? null : MAILBOX_PATH.exec(path);
  if (!m) return null;
  const p = authenticate(ctx, call);
  if ('status' in p) return null;
  const owner = mailboxUser(p.tenant, p, m[1]);
  if (!owner) return null;
  const a = ctx.mailboxThrottle.admit(`${p.tenant.tenant.id}|${p.appId}|${owner.id}`);
  if (a.ok) return { release: a.release };
  ctx.stats.throttled++;
  const answer = graphError(429, a.code, a.message, call, { 'Retry-After': String(a.retryAfterSeconds) });
  const inner = (answer.body as { error: { innerError: Record<string, string> } }).error.innerError;
  inner.code = '429';
  inner.status = '429';
  return answer;
}

/** One Graph request: `/subscriptions` is answered asynchronously (it calls the subscriber). */
async function answer(ctx: SandboxContext, call: GraphCall): Promise<GraphAnswer> {
  const path = graphPath(call.url);
  if (path !== null && isSubscriptionsPath(path)) return answerSubscriptions(ctx, call);
  return answerGraph(ctx, call);
}

async function runBatch(ctx: SandboxContext, outer: GraphCall): Promise<GraphAnswer> {
  const body = outer.body as { requests?: BatchItem[] } | undefined;
  if (!body || !Array.isArray(body.requests))
    return graphError(400, 'BadRequest', 'Invalid batch payload format.', outer);
  const requests = body.requests;
  if (requests.length > MAX_BATCH) {
    return graphError(
      400,
      'BadRequest',
      `The number of requests in the batch (${requests.length}) exceeds the limit of ${MAX_BATCH}.`,
      outer,
    );
  }
  if (requests.length === 0)
    return graphError(400, 'BadRequest', 'The batch request contains no requests.', outer);
  const ids = new Set<string>();
  for (const r of requests) {
    const id = String(r.id ?? '');
    if (!id) return graphError(400, 'BadRequest', 'Each request in a batch must have an id.', outer);
    if (ids.has(id)) return graphError(400, 'BadRequest', `Batch request id '${id}' is not unique.`, outer);
    ids.add(id);
  }
  const byId = new Map(requests.map((r) => [String(r.id), r]));
  const itemUrl = (item: BatchItem): URL | null => {
    const rawUrl = String(item.url ?? '');
    if (/^https?:\/\//i.test(rawUrl) || !rawUrl) return null;
    return new URL(`${ctx.graphBaseUrl}/${rawUrl.replace(/^\/+/, '')}`);
  };
  const results = new Map<
    string,
    { id: string; status: number; headers: Record<string, string>; body?: unknown }
  >();
  const visiting = new Set<string>();

  const run = async (item: BatchItem): Promise<{ status: number }> => {
    const id = String(item.id);
    const done = results.get(id);
    if (done) return done;
    if (visiting.has(id)) {
      const r = {
        id,
        status: 400,
        headers: {},
        body: graphError(400, 'BadRequest', 'Circular dependsOn.', outer).body,
      };
      results.set(id, r);
      return r;
    }
    visiting.add(id);
    const deps = Array.isArray(item.dependsOn) ? item.dependsOn.map(String) : [];
    for (const d of deps) {
      const dep = byId.get(d);
      const res = dep ? await run(dep) : { status: 400 };
      if (res.status >= 400) {
        const failed = graphError(
          424,
          'FailedDependency',
          `The request depends on request '${d}', which failed.`,
          outer,
        );
        const r = { id, status: 424, headers: failed.headers, body: failed.body };
        results.set(id, r);
        return r;
      }
    }
    const url = itemUrl(item);
    if (!url) {
      const bad = graphError(
        400,
        'BadRequest',
        'Invalid request URL: batch requests take URLs relative to the version, e.g. /users.',
        outer,
      );
      const r = { id, status: 400, headers: bad.headers, body: bad.body };
      results.set(id, r);
      return r;
    }
    const key = statKey(String(item.method ?? 'GET'), url);
    ctx.stats.batchItemsByPath[key] = (ctx.stats.batchItemsByPath[key] ?? 0) + 1;
    const a = await answer(ctx, {
      method: String(item.method ?? 'GET').toUpperCase(),
      url,
      headers: { ...lower(item.headers ?? {}), authorization: outer.headers.authorization },
      body: item.body,
    });
    const r = { id, status: a.status, headers: a.headers, body: a.text ?? a.body };
    results.set(id, r);
    return r;
  };

  // Items not chained by dependsOn run in parallel on Graph: each level of the dependency graph
  // (items whose dependencies all ran) is in flight at once, and its items aimed at one mailbox
  // count against Outlook's concurrency limit together (the fifth gets 429 MailboxConcurrency).
  const levels = new Map<string, number>();
  const levelOf = (item: BatchItem, seen: Set<string>): number => {
    const id = String(item.id);
    const known = levels.get(id);
    if (known !== undefined) return known;
    if (seen.has(id)) return 0; // a cycle: run() answers it
    seen.add(id);
    const deps = Array.isArray(item.dependsOn) ? item.dependsOn.map(String) : [];
    let level = 0;
    for (const d of deps) {
      const dep = byId.get(d);
      if (dep) level = Math.max(level, levelOf(dep, seen) + 1);
    }
    levels.set(id, level);
    return level;
  };
  const byLevel: BatchItem[][] = [];
  for (const item of requests) {
    const level = levelOf(item, new Set());
    const list = byLevel[level] ?? [];
    list.push(item);
    byLevel[level] = list;
  }
  for (const level of byLevel) {
    if (!level) continue;
    const releases: Array<() => void> = [];
    for (const item of level) {
      const url = itemUrl(item);
      if (!url) continue;
      const admitted = admitMailbox(ctx, {
        method: String(item.method ?? 'GET').toUpperCase(),
        url,
        headers: { authorization: outer.headers.authorization },
      });
      if (admitted === null) continue;
      if ('release' in admitted) releases.push(admitted.release);
      else {
        const id = String(item.id);
        results.set(id, { id, status: admitted.status, headers: admitted.headers, body: admitted.body });
      }
    }
    try {
      for (const item of level) await run(item);
    } finally {
      for (const release of releases) release();
    }
  }
  return {
    status: 200,
    headers: { 'Content-Type': 'application/json' },
    body: { responses: requests.map((r) => results.get(String(r.id))) },
  };
}

export function registerGraphRoutes(app: FastifyInstance, ctx: SandboxContext): void {
  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const url = new URL(req.url, ctx.graphBaseUrl);
    ctx.stats.graphRequests++;
    const key = statKey(req.method, url);
    ctx.stats.graphByPath[key] = (ctx.stats.graphByPath[key] ?? 0) + 1;

    const call: GraphCall = {
      method: req.method,
      url,
      headers: lower(req.headers as Record<string, unknown>),
      body: req.body,
    };
    // A request to a mailbox is in flight from here until it is answered (latency included).
    const admitted = admitMailbox(ctx, call);
    if (admitted && !('release' in admitted)) return send(reply, admitted);
    try {
      return await handle(req, reply, call, url);
    } finally {
      admitted?.release();
    }
  };
  const handle = async (req: FastifyRequest, reply: FastifyReply, call: GraphCall, url: URL) => {
    if (ctx.faults.latencyMs > 0) await new Promise((r) => setTimeout(r, ctx.faults.latencyMs));
    const held = ctx.gate.pathContains;
    if (held !== null && decodeURIComponent(`${url.pathname}${url.search}`).includes(held)) {
      await new Promise<void>((resolve) => ctx.gate.waiting.push(resolve));
    }
    if (ctx.faults.errorRate > 0 && Math.random() < ctx.faults.errorRate) {
      ctx.stats.faults++;
      const gateway = Math.random() < 0.5;
      const a = gateway
        ? graphError(504, 'UnknownError', 'The gateway did not receive a response in time.', call, {
            'Retry-After': '1',
          })
        : graphError(
            503,
            'serviceNotAvailable',
            'The service is temporarily unavailable. Please retry later.',
            call,
            {
              'Retry-After': '1',
            },
          );
      return send(reply, a);
    }
    const isBatch = /^\/v1\.0\/\$batch\/?$/.test(decodeURIComponent(url.pathname));
    if (isBatch) {
      if (req.method !== 'POST')
        return send(
          reply,
          graphError(
            405,
            'Request_BadRequest',
            'Specified HTTP method is not allowed for the request target.',
            call,
          ),
        );
      // The envelope needs a token like any request; its items are authorised one by one.
      if (!call.headers.authorization)
        return send(reply, graphError(401, 'InvalidAuthenticationToken', 'Access token is empty.', call));
      return send(reply, await runBatch(ctx, call));
    }
    return send(reply, await answer(ctx, call));
  };
  app.route({ method: ['GET', 'POST', 'PATCH', 'PUT', 'DELETE'], url: '/v1.0/*', handler });
}

function send(reply: FastifyReply, a: GraphAnswer): FastifyReply {
  reply.code(a.status);
  for (const [k, v] of Object.entries(a.headers)) reply.header(k, v);
  if (a.text !== undefined) return reply.send(a.text);
  if (a.body === undefined) return reply.send();
  return reply.send(JSON.stringify(a.body));
}
