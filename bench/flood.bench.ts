/**
 * `npm run bench -- flood [--bodies 200] [--probes 500] [--items 1000] [--clients 20]
 *   [--replays 200] [--db sqlite|postgresql] [--rate-limit 600]`: the public webhook under
 * attack (issue 12 item 1). A gateway process (`src/main.ts --role all`, on a new SQLite file or PostgreSQL
 * database from TEST_DATABASE_URL, real Redis) holds a few PBXs with known Graph subscriptions;
 * this process then, over loopback only and bounded in count and time:
 *   1. baseline: probes /healthz and `{ __typename }` (with a key) for 3 s;
 *   2. flood: posts bodies of `items` forged notifications (half name a known subscription
 *      with a wrong clientState) from `clients` concurrent connections, at least `bodies` of
 *      them and on until `probes` probes of each kind were answered during the flood (so that
 *      the p99 is not just the slowest of a hundred), the bodies coming from loopback
 *      addresses in turn (127.0.x.y, each sending fewer than WEBHOOK_FORGED_PER_MINUTE: no
 *      source passes its limits, so every body is read), probing meanwhile; reports answers,
 *      probe p50 / p99 / max, the gateway's event-loop delay and GC pauses (its /metrics),
 *      the system queue's backlog, the cache loads (database reads) and its CPU and RSS;
 *      then the same flood from one address (past WEBHOOK_FORGED_PER_MINUTE it gets 429
 *      before its bodies are read);
 *   3. lifecycle: the same with forged `missed` lifecycle events;
 *   4. replay: `replays` replays of one valid notification (threshold 10, debounce 600 s):
 *      how many sync runs they start (one per debounce window is the design);
 *   5. over the limit: tiny valid bodies from one address past `--rate-limit` requests a
 *      minute: how many are answered 429.
 * Target (issue 12): /healthz and GraphQL p99 ≤ 50 ms during the flood, backlog bounded.
 * Not a test: it prints figures and writes bench/results/flood.json.
 */
import 'reflect-metadata';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { JobQueues } from '../jobs/queues.js';
import { createPostgresDatabase, createSqliteDatabase, type TestDatabase } from '../test/support/db.js';
import {
  eventLoopWatch,
  floodWebhook,
  forgedBody,
  loopbackSources,
  metricValue,
  probeLatency,
  seedFloodWorld,
  summary,
  validBody,
} from '../test/support/flood.js';
import { databaseUrl, startScript } from '../test/support/process.js';
import { listRuns } from './support/gateway-client.js';
import { cpuTimeMs, mb, procStatus } from './support/proc.js';
import { benchCommand, writeResults } from './support/results.js';

const SECRET_KEY = '0123456789abcdef'.repeat(4);
const TARGET_P99_MS = 50;
/** The gateway's WEBHOOK_FORGED_PER_MINUTE (its default): forged bodies a source may send in a minute. */
const FORGED_PER_MINUTE = 20;
/** At most this many bodies in the flood, whatever `--probes` asks. */
const MAX_FLOOD_BODIES = 5000;
/** The event-loop delay as prom-client reads it includes its 10 ms timer: an idle loop reads 10 ms. */
const EVENT_LOOP_TIMER_MS = 10;

export async function main(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      bodies: { type: 'string', default: '200' },
      probes: { type: 'string', default: '500' },
      items: { type: 'string', default: '1000' },
      clients: { type: 'string', default: '20' },
      replays: { type: 'string', default: '200' },
      db: { type: 'string', default: 'sqlite' },
      'rate-limit': { type: 'string', default: '600' },
    },
  });
  const args = {
    bodies: Number(values.bodies),
    probes: Number(values.probes),
    items: Number(values.items),
    clients: Number(values.clients),
    replays: Number(values.replays),
    db: values.db as 'sqlite' | 'postgresql',
    rateLimitPerMinute: Number(values['rate-limit']),
  };
  if (args.bodies > MAX_FLOOD_BODIES || args.items > 100_000 || args.clients > 200)
    throw new Error('bounded: at most 5,000 bodies, 100,000 items a body, 200 clients');
  let db: TestDatabase;
  if (args.db === 'postgresql') {
    const base = process.env.TEST_DATABASE_URL;
    if (!base) throw new Error('--db postgresql needs TEST_DATABASE_URL');
    db = await createPostgresDatabase(base);
  } else {
    db = await createSqliteDatabase();
  }
  // The machine's load when the bench starts (writeResults records it again at the end).
  const loadAverageAtStart = loadavg().map((l) => Math.round(l * 100) / 100);
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = `bench-flood-${Date.now()}`;
  const world = await seedFloodWorld(db.config, {
    pbxs: 3,
    debounceSeconds: 600,
    threshold: 10,
    secretKey: SECRET_KEY,
  });
  const proc = startScript(
    'src/main.ts',
    ['--role', 'all'],
    {
      DATABASE_URL: databaseUrl(db.config),
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: prefix,
      SECRET_KEY,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      WEBHOOK_RATE_LIMIT_PER_MINUTE: String(args.rateLimitPerMinute),
      WEBHOOK_FORGED_PER_MINUTE: String(FORGED_PER_MINUTE),
    },
    /"url":"(http:\/\/[^"]+)","role":"all"[^\n]*"msg":"gateway started"/,
  );
  const url = (await proc.match)[1];
  const pid = proc.child.pid as number;
  const redis = new Redis(redisUrl);
  const queues = new JobQueues(redis, prefix);
  const key = world[0].adminKey;
  const known = world.flatMap((p) => p.subscriptions.map((s) => s.id));

  /** Samples the system queue's waiting + active jobs (its delayed ones are the schedulers'). */
  const backlog = () => {
    let max = 0;
    let running = true;
    const loop = (async () => {
      while (running) {
        const c = await queues.queue('system').getJobCounts('waiting', 'active', 'prioritized');
        max = Math.max(max, (c.waiting ?? 0) + (c.active ?? 0) + (c.prioritized ?? 0));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    return {
      stop: async () => {
        running = false;
        await loop;
        return max;
      },
    };
  };

  try {
    console.log(`gateway ${url} (pid ${pid}, ${args.db}); baseline…`);
    const warm = probeLatency(url, key, 10);
    await new Promise((r) => setTimeout(r, 1000));
    await warm.stop();
    const baseLoop = await eventLoopWatch(url);
    const base = probeLatency(url, key, 20);
    await new Promise((r) => setTimeout(r, 3000));
    const baseline = await base.stop();
    const baselineLoop = await baseLoop.stop();

    console.log(
      `flood: ≥ ${args.bodies} bodies × ${args.items} forged items from ${args.clients} clients, until ${args.probes} probes…`,
    );
    const loadsBefore = await metricValue(url, /^graph_subscription_cache_loads_total /);
    const cpuBefore = cpuTimeMs(pid);
    const body = forgedBody(args.items, known);
    const queueDuring = backlog();
    const loop = await eventLoopWatch(url);
    const probe = probeLatency(url, key, 20);
    // The bodies from addresses in turn (127.0.4.x on), each sending fewer than its limit of
    // forged bodies: a distributed flood, so that every body is read and checked (the in-memory
    // path, measured), none refused unread.
    const sources = loopbackSources(Math.ceil(MAX_FLOOD_BODIES / (FORGED_PER_MINUTE - 5)), 1000);
    const flood = await floodWebhook(url, {
      path: '/graph/notifications',
      bodies: MAX_FLOOD_BODIES,
      clients: args.clients,
      body: () => body,
      maxMs: 300_000,
      sources,
      until: (sent) =>
        sent >= args.bodies && Math.min(probe.answered().healthz, probe.answered().graphql) >= args.probes,
    });
    const during = await probe.stop();
    const eventLoop = await loop.stop();
    const backlogMax = await queueDuring.stop();
    const cpuFlood = (cpuTimeMs(pid) ?? 0) - (cpuBefore ?? 0);
    const rss = procStatus(pid);
    // What goes on after the last answer: nothing should (no queued work).
    const afterStart = performance.now();
    const after = probeLatency(url, key, 20);
    await new Promise((r) => setTimeout(r, 1000));
    const afterFlood = await after.stop();
    const probedAfterMs = Math.round(performance.now() - afterStart);
    const backlogAfter = await queues.queue('system').getJobCounts('waiting', 'active');
    const loadsAfter = await metricValue(url, /^graph_subscription_cache_loads_total /);
    const rejected = await metricValue(url, /^graph_notifications_total\{[^}]*outcome="rejected"\}/);

    console.log('one source: the same flood from one address…');
    const oneProbe = probeLatency(url, key, 20);
    const oneSource = await floodWebhook(url, {
      path: '/graph/notifications',
      bodies: args.bodies,
      clients: args.clients,
      body: () => body,
      maxMs: 300_000,
      sources: loopbackSources(1, 240),
    });
    const duringOne = await oneProbe.stop();

    console.log('lifecycle: forged missed events…');
    const lifecycleBody = forgedBody(Math.min(args.items, 1000), known, 'missed');
    const lifecycleProbe = probeLatency(url, key, 20);
    const lifecycle = await floodWebhook(url, {
      path: '/graph/lifecycle',
      bodies: Math.max(1, Math.floor(args.bodies / 4)),
      clients: args.clients,
      body: () => lifecycleBody,
      maxMs: 120_000,
      sources: loopbackSources(args.clients, 120),
    });
    const duringLifecycle = await lifecycleProbe.stop();
    const runsAfterForged = (await Promise.all(world.map((p) => listRuns(url, p.adminKey)))).flat().length;

    console.log(`replay: one valid notification ${args.replays} times…`);
    const replayBacklog = backlog();
    const replay = await floodWebhook(url, {
      path: '/graph/notifications',
      bodies: args.replays,
      clients: Math.min(args.clients, 10),
      body: () => validBody(1, world[1].subscriptions[0]),
    });
    await new Promise((r) => setTimeout(r, 3000));
    const replayBacklogMax = await replayBacklog.stop();
    const replayRuns = (await listRuns(url, world[1].adminKey)).length;

    console.log('over the limit: tiny valid bodies from one address…');
    const tiny = validBody(1, world[2].subscriptions[0]);
    const over = await floodWebhook(url, {
      path: '/graph/notifications',
      bodies: args.rateLimitPerMinute + 100,
      clients: Math.min(args.clients, 10),
      body: () => tiny,
      maxMs: 50_000,
      sources: loopbackSources(1, 245),
    });

    const figures = {
      targetP99Ms: TARGET_P99_MS,
      loadAverageAtStart,
      baseline: {
        healthzMs: summary(baseline.healthzMs),
        graphqlMs: summary(baseline.graphqlMs),
        eventLoopDelayMs: baselineLoop.eventLoopDelayMs,
        gcPauses: baselineLoop.gc,
      },
      flood: {
        bodies: flood.bodies,
        itemsPerBody: args.items,
        clients: flood.clients,
        seconds: Math.round(flood.ms) / 1000,
        megabytes: Math.round((flood.bytes / 1048576) * 10) / 10,
        answers: flood.statuses,
        healthzMs: summary(during.healthzMs),
        graphqlMs: summary(during.graphqlMs),
        probeFailures: during.failures,
        // prom-client's reading, its 10 ms timer included (an idle loop reads 10 ms)
        eventLoopDelayMs: eventLoop.eventLoopDelayMs,
        eventLoopTimerMs: EVENT_LOOP_TIMER_MS,
        gcPauses: eventLoop.gc,
        itemsRejected: rejected,
        subscriptionCacheLoads: loadsAfter - loadsBefore,
        systemQueueBacklogMax: backlogMax,
        systemQueueBacklogAfter: (backlogAfter.waiting ?? 0) + (backlogAfter.active ?? 0),
        gatewayCpuMs: cpuFlood,
        gatewayRssMB: rss ? Math.round(mb(rss.rssBytes) ?? 0) : null,
        afterLastAnswer: {
          healthzMs: summary(afterFlood.healthzMs),
          graphqlMs: summary(afterFlood.graphqlMs),
          probedMs: probedAfterMs,
        },
      },
      oneSource: {
        bodies: oneSource.bodies,
        seconds: Math.round(oneSource.ms) / 1000,
        answers: oneSource.statuses,
        healthzMs: summary(duringOne.healthzMs),
        graphqlMs: summary(duringOne.graphqlMs),
      },
      lifecycle: {
        bodies: lifecycle.bodies,
        answers: lifecycle.statuses,
        healthzMs: summary(duringLifecycle.healthzMs),
        graphqlMs: summary(duringLifecycle.graphqlMs),
        runsStartedByForged: runsAfterForged,
      },
      replay: {
        bodies: replay.bodies,
        answers: replay.statuses,
        runsStarted: replayRuns,
        systemQueueBacklogMax: replayBacklogMax,
      },
      overLimit: { bodies: over.bodies, answers: over.statuses, ratePerMinute: args.rateLimitPerMinute },
    };
    console.log(JSON.stringify(figures, null, 2));
    writeResults('flood', { command: benchCommand('flood', argv), args, figures });
  } finally {
    proc.child.kill('SIGTERM');
    await proc.exited;
    await queues.close();
    redis.disconnect();
    await db.drop();
  }
}

export type FloodFigures = {
  targetP99Ms: number;
  baseline?: { healthzMs: { p99: number }; graphqlMs: { p99: number } };
  flood: {
    bodies: number;
    itemsPerBody: number;
    clients: number;
    seconds: number;
    answers: Record<string, number>;
    healthzMs: { count: number; p50: number; p99: number; max: number };
    graphqlMs: { count: number; p50: number; p99: number; max: number };
    eventLoopDelayMs?: { p50: number; p99: number; max: number };
    eventLoopTimerMs?: number;
    subscriptionCacheLoads: number;
    systemQueueBacklogMax: number;
    gatewayCpuMs: number;
  };
  oneSource: { bodies: number; answers: Record<string, number>; healthzMs: { p99: number } };
  replay: { bodies: number; runsStarted: number };
  overLimit: { bodies: number; answers: Record<string, number>; ratePerMinute: number };
};
