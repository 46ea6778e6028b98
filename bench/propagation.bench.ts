/**
 * `npm run bench -- propagation [--changes 50] [--adds 10] [--users 500] [--db sqlite,postgresql]
 * [--latency 0,300]`: how long a change in the directory takes to reach the PBX. One leg per
 * latency and database (issue 16 item 5: every figure at 0 and 300 ms, on SQLite and PostgreSQL),
 * each in a process of its own (bench/support/leg-ipc.ts: under tsx, or compiled as `npm start`
 * runs it with BENCH_GATEWAY_CODE=compiled) with a fresh database, queue prefix and sandbox. The
 * sandbox tenant runs in the leg's process with change notifications on; the gateway (real Redis)
 * has a 0-second debounce. The initial sync runs at 0 ms; the sandbox's latency knob (as the sync
 * bench sets it: that many ms on every request to Microsoft) is set once it has ended, for the
 * changes measured (the full sync at 300 ms is the sync bench's figure). Users are changed one by one; for each, the time from the change in the tenant to
 * the extension showing the new job title through GraphQL is measured; then (issue 16) users
 * are added one by one, each timed until its new extension shows. Prints p50 / p95 / max of
 * each, and the longest
 * event-loop stall of the process (gateway role all, sandbox and harness: one process) while the
 * changes propagate (bench/support/event-loop.ts). Targets: p95 ≤ 5 s (issue 6); at 100,000
 * users a change or an added user becomes an extension with p95 ≤ 1 s (issue 16: a delta run
 * costs what changed, not the size of the directory).
 * Not a test: it prints figures, and writes them to bench/results/propagation.json.
 */
import { BENCH_USER_RULE } from './support/gateway-client.js';
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../src/config.js';
import { startGateway } from '../src/gateway.js';
import {
  ConnectDocument,
  ExtensionDocument,
  ExtensionsDocument,
  SaveChangeTriggersDocument,
  SaveUserSyncRuleDocument,
  SyncRunDocument,
  SyncRunsDocument,
  UpdatePbxDocument,
} from '../test/generated/graphql.js';
import { createPostgresDatabase, createSqliteDatabase } from '../test/support/db.js';
import { gql, seedPbx } from '../test/support/gateway.js';
import {
  adminUpn,
  followAuthorization,
  sandboxEnv,
  startTestSandbox,
  waitForRun,
} from '../test/support/sandbox.js';
import { Args } from './support/args.js';
import { type StallFigures, StallMonitor } from './support/event-loop.js';
import { askBench, legCode, runLegProcess } from './support/leg-ipc.js';
import { benchCommand, writeResults } from './support/results.js';
import { DEFAULT_POSTGRES_URL } from './support/services.js';

/** The extension a sync run queued after `since` (ms) created for this user, when it shows. */
async function createdExtension(url: string, key: string, userId: string, since: number) {
  const runs = await gql(url, key, SyncRunsDocument, { first: 3 });
  for (const node of runs.body.data?.syncRuns.nodes ?? []) {
    if (Date.parse(String(node.queuedAt)) < since) continue;
    const run = await gql(url, key, SyncRunDocument, { id: node.id, action: 'CREATE', first: 50 });
    const item = run.body.data?.syncRun?.items.nodes.find((n) => n.objectId === userId && n.targetId);
    if (!item) continue;
    const ext = await gql(url, key, ExtensionDocument, { id: item.targetId as string });
    if (ext.body.data?.extension?.externalId === userId) return true;
  }
  return false;
}

function percentile(sorted: number[], p: number) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export interface Spread {
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

/** Where a change's time went, from the runs the gateway records (ms, p50 / p95 / max over the changes). */
export interface PropagationBreakdown {
  /** the change in the tenant → the run queued (notification, webhook, debounce, enqueue) */
  toQueued: Spread;
  /** queued → started */
  wait: Spread;
  /** started → finished (the delta reads at the sandbox's latency, the writes) */
  run: Spread;
  /** finished → the new title seen through GraphQL (the bench's 20 ms poll; negative: seen before the run recorded its end) */
  toSeen: Spread;
  /** the changes whose run was found (the others are left out of these figures) */
  changes: number;
  /** Graph requests of the run, p50 / max */
  graphRequests: { p50: number; max: number };
}

export interface PropagationLeg {
  db: 'sqlite' | 'postgresql';
  latencyMs: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  targetP95Ms: number;
  latenciesMs: number[];
  added: (Spread & { latenciesMs: number[] }) | null;
  eventLoop: Omit<StallFigures, 'longest'> & { longest: Array<{ ms: number }> };
  breakdown: PropagationBreakdown | null;
  /** why the leg did not run or did not end (its figures are then 0) */
  error?: string;
}

export interface PropagationFigures {
  targetP95Ms: number;
  legs: PropagationLeg[];
}

interface LegInput {
  db: 'sqlite' | 'postgresql';
  latencyMs: number;
  users: number;
  changes: number;
  adds: number;
  redisUrl: string;
}

function spreadOf(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return { p50Ms: 0, p95Ms: 0, maxMs: 0 };
  return {
    p50Ms: Math.round(percentile(sorted, 50)),
    p95Ms: Math.round(percentile(sorted, 95)),
    maxMs: Math.round(sorted.at(-1) as number),
  };
}

/** Issue 16: at 100,000 users, p95 ≤ 1 s; issue 6: p95 ≤ 5 s. */
const targetFor = (users: number) => (users >= 100_000 ? 1000 : 5000);

/** One leg, in its own process (BENCH_LEG). */
async function propagationLeg(input: LegInput): Promise<PropagationLeg> {
  const { changes, adds } = input;
  const { sandbox, agent } = await startTestSandbox({ autoSignIn: true, users: input.users, seed: 5 });
  await sandbox.admin.setNotificationSettings({ batchWindowMs: 50 });
  const db =
    input.db === 'postgresql'
      ? await createPostgresDatabase(process.env.TEST_DATABASE_URL ?? DEFAULT_POSTGRES_URL)
      : await createSqliteDatabase();
  const base = loadConfig(
    {
      ...sandboxEnv(sandbox),
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'warn',
      REDIS_URL: input.redisUrl,
      QUEUE_PREFIX: `bench-propagation-${randomBytes(4).toString('hex')}`,
      SECRET_KEY: '0123456789abcdef'.repeat(4),
    },
    ['--role', 'all'],
  );
  const gateway = await startGateway({ ...base, database: db.config });
  try {
    // A PBX that holds the whole tenant: a capacity failure per user would be measured instead.
    const { keys } = await seedPbx(gateway, { extensionCapacity: 1_000_000 });
    await gql(gateway.url, keys.admin, UpdatePbxDocument, { input: { publicBaseUrl: gateway.url } });
    await sandbox.admin.addRedirectUri(sandbox.info.clientId, `${gateway.url}/oauth/microsoft/callback`);
    const connect = await gql(gateway.url, keys.admin, ConnectDocument, {
      input: {
        clientId: sandbox.info.clientId,
        tenantId: sandbox.info.tenantId,
        clientSecret: sandbox.info.clientSecret,
      },
    });
    await followAuthorization(
      agent,
      connect.body.data?.connect.authorizationUrl as string,
      await adminUpn(sandbox),
    );
    await gql(gateway.url, keys.admin, SaveChangeTriggersDocument, { debounceSeconds: 0, threshold: 1 });
    const saved = await gql(gateway.url, keys.admin, SaveUserSyncRuleDocument, {
      input: BENCH_USER_RULE,
    });
    await waitForRun(
      gateway.url,
      keys.admin,
      saved.body.data?.saveUserSyncRule.initialRun?.id as string,
      300_000,
    );
    // Subscriptions are made right after connect; give the handshake a moment.
    await new Promise((r) => setTimeout(r, 1000));
    await sandbox.admin.setLatency(input.latencyMs);

    // Users that have a synced extension (a seeded tenant has some that fail on purpose, e.g.
    // two users sharing an email): each change is followed on its own extension, by id.
    const synced = await gql(gateway.url, keys.admin, ExtensionsDocument, {
      first: changes,
      filter: { source: 'SYNCED' },
    });
    const targets = (synced.body.data?.extensions.edges ?? []).map((e) => e.node);
    if (targets.length < changes) throw new Error(`only ${targets.length} synced extensions to change`);
    const latencies: number[] = [];
    const seen: Array<{ changedAt: number; seenAt: number }> = [];
    const stalls = new StallMonitor(10, 100);
    await stalls.start();
    for (const [i, target] of targets.entries()) {
      const title = `Propagation ${i} ${Date.now()}`;
      const at = performance.now();
      const changedAt = Date.now();
      await sandbox.admin.updateUser(target.externalId as string, { jobTitle: title });
      for (;;) {
        // The extension by id (a primary-key read): an `extensions(filter: {email})` search is a
        // substring match over all 100,000 extensions, twice a poll (page and count), which on
        // SQLite held the gateway's event loop for most of the time being measured.
        const res = await gql(gateway.url, keys.admin, ExtensionDocument, { id: target.id });
        if (res.body.data?.extension?.jobTitle === title) break;
        if (performance.now() - at > 60_000) throw new Error(`change ${i} did not arrive within 60 s`);
        await new Promise((r) => setTimeout(r, 20));
      }
      latencies.push(performance.now() - at);
      seen.push({ changedAt, seenAt: Date.now() });
    }
    // Issue 16: a user added to the directory, until its extension shows.
    const domain = String((await sandbox.admin.info()).defaultDomain);
    const addLatencies: number[] = [];
    for (let i = 0; i < adds; i++) {
      const upn = `propagation.${Date.now().toString(36)}.${i}@${domain}`;
      const since = Date.now() - 1000;
      const at = performance.now();
      const user = await sandbox.admin.createUser({
        userPrincipalName: upn,
        displayName: `Propagation Added ${i}`,
        givenName: 'Propagation',
        surname: `Added ${i}`,
        mail: upn,
      });
      for (;;) {
        // The runs since the user was added and their CREATE items (index reads), then the
        // extension a CREATE of this user names, by id: not a substring search of every
        // extension's email per poll (see above).
        if (await createdExtension(gateway.url, keys.admin, user.id, since)) break;
        if (performance.now() - at > 60_000) throw new Error(`added user ${i} did not arrive within 60 s`);
        await new Promise((r) => setTimeout(r, 20));
      }
      addLatencies.push(performance.now() - at);
    }
    const loop = await stalls.stop();
    const add = addLatencies.length
      ? { ...spreadOf(addLatencies), latenciesMs: addLatencies.map((l) => Math.round(l)) }
      : null;
    return {
      db: input.db,
      latencyMs: input.latencyMs,
      ...spreadOf(latencies),
      targetP95Ms: targetFor(input.users),
      latenciesMs: latencies.map((l) => Math.round(l)),
      added: add,
      eventLoop: { ...loop, longest: loop.longest.map((l) => ({ ms: l.ms })) },
      breakdown: await breakdown(gateway.url, keys.admin, seen),
    };
  } finally {
    await gateway.stop();
    await agent.close();
    await sandbox.close();
    await db.drop();
  }
}

/** Each change's first run queued after it, from the runs the gateway records. */
async function breakdown(
  url: string,
  key: string,
  seen: Array<{ changedAt: number; seenAt: number }>,
): Promise<PropagationBreakdown | null> {
  const res = await gql(url, key, SyncRunsDocument, { first: Math.min(100, seen.length * 2 + 20) });
  if (res.body.errors) throw new Error(`syncRuns: ${JSON.stringify(res.body.errors)}`);
  const runs = (res.body.data?.syncRuns.nodes ?? [])
    .filter((r) => r.startedAt && r.finishedAt)
    .map((r) => ({
      queued: Date.parse(String(r.queuedAt)),
      started: Date.parse(String(r.startedAt)),
      finished: Date.parse(String(r.finishedAt)),
      requests: r.graphRequests ?? 0,
    }))
    .sort((a, b) => a.queued - b.queued);
  const parts = {
    toQueued: [] as number[],
    wait: [] as number[],
    run: [] as number[],
    toSeen: [] as number[],
  };
  const requests: number[] = [];
  for (const s of seen) {
    // The first run queued after the change and before it was seen: the title may show before
    // the run records its end (toSeen is then negative).
    const r = runs.find((x) => x.queued >= s.changedAt && x.queued <= s.seenAt);
    if (!r) continue;
    parts.toQueued.push(r.queued - s.changedAt);
    parts.wait.push(r.started - r.queued);
    parts.run.push(r.finished - r.started);
    parts.toSeen.push(s.seenAt - r.finished);
    requests.push(r.requests);
  }
  if (requests.length === 0) return null;
  const sortedRequests = [...requests].sort((a, b) => a - b);
  return {
    toQueued: spreadOf(parts.toQueued),
    wait: spreadOf(parts.wait),
    run: spreadOf(parts.run),
    toSeen: spreadOf(parts.toSeen),
    changes: requests.length,
    graphRequests: { p50: percentile(sortedRequests, 50) as number, max: sortedRequests.at(-1) as number },
  };
}

const NO_LOOP: PropagationLeg['eventLoop'] = {
  resolutionMs: 10,
  maxMs: 0,
  p99Ms: 0,
  meanMs: 0,
  ticks: 0,
  thresholdMs: 100,
  stalls: 0,
  stalledMs: 0,
  longest: [],
};

export async function runPropagation(argv: string[]) {
  const args = new Args(argv);
  const changes = args.number('changes', 50);
  const adds = args.number('adds', 10);
  const users = args.number('users', 500);
  const dbs = args.list('db', ['sqlite', 'postgresql']) as Array<'sqlite' | 'postgresql'>;
  for (const d of dbs) if (d !== 'sqlite' && d !== 'postgresql') throw new Error(`--db: unknown '${d}'`);
  const latencies = args.numbers('latency', [0, 300]);
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const target = targetFor(users);
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const missed = (p: number) => (p > target ? `   TARGET MISSED (p95 ≤ ${target / 1000} s)` : '');
  const legs: PropagationLeg[] = [];
  for (const latencyMs of latencies) {
    for (const db of dbs) {
      const input: LegInput = { db, latencyMs, users, changes, adds, redisUrl };
      let leg: PropagationLeg;
      try {
        leg = await runLegProcess<PropagationLeg>('bench/propagation.bench.ts', input, [], () => null);
      } catch (err) {
        leg = {
          db,
          latencyMs,
          p50Ms: 0,
          p95Ms: 0,
          maxMs: 0,
          targetP95Ms: target,
          latenciesMs: [],
          added: null,
          eventLoop: NO_LOOP,
          breakdown: null,
          error: (err as Error).message,
        };
      }
      legs.push(leg);
      const dbName = db === 'postgresql' ? 'PostgreSQL' : 'SQLite';
      console.log(
        `propagation: ${users.toLocaleString('en-US')} users; ${changes} changes, then ${adds} new users, one at a time, notifications on, 0 s debounce (${dbName}, ${latencyMs} ms latency, local Redis, gateway ${legCode()})`,
      );
      if (leg.error) {
        console.log(`  FAILED: ${leg.error}`);
        continue;
      }
      console.log(
        `  changed:  p50 ${s(leg.p50Ms)}   p95 ${s(leg.p95Ms)}   max ${s(leg.maxMs)}${missed(leg.p95Ms)}`,
      );
      if (leg.added)
        console.log(
          `  added:    p50 ${s(leg.added.p50Ms)}   p95 ${s(leg.added.p95Ms)}   max ${s(leg.added.maxMs)}${missed(leg.added.p95Ms)}`,
        );
      const b = leg.breakdown;
      if (b)
        console.log(
          `  a change's time (p50 / p95): to queued ${b.toQueued.p50Ms} / ${b.toQueued.p95Ms} ms, wait ${b.wait.p50Ms} / ${b.wait.p95Ms} ms, run ${b.run.p50Ms} / ${b.run.p95Ms} ms (${b.graphRequests.p50} Graph requests), to seen ${b.toSeen.p50Ms} / ${b.toSeen.p95Ms} ms (${b.changes} of ${leg.latenciesMs.length} changes' runs found)`,
        );
      console.log(
        `  longest event-loop stall ${Math.round(leg.eventLoop.maxMs)} ms (p99 ${Math.round(leg.eventLoop.p99Ms)} ms; ${leg.eventLoop.stalls} stalls ≥ ${leg.eventLoop.thresholdMs} ms) in the leg's process: gateway (role all), sandbox and harness`,
      );
    }
  }
  writeResults<PropagationFigures>('propagation', {
    command: benchCommand('propagation', argv),
    args: {
      changes,
      adds,
      users,
      debounceSeconds: 0,
      database: dbs,
      latencyMs: latencies,
      gatewayCode: legCode(),
    },
    figures: { targetP95Ms: target, legs },
  });
}

// A leg's process (runLegProcess above): runs the leg it is given and answers with its figures.
if (process.env.BENCH_LEG && process.send) {
  const ask = askBench();
  propagationLeg(JSON.parse(process.env.BENCH_LEG) as LegInput)
    .then((leg) => ask('result', leg))
    .then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(
          `leg failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
        );
        process.send?.({ type: 'failed', error: err instanceof Error ? err.message : String(err) });
        setTimeout(() => process.exit(1), 200);
      },
    );
}

if (import.meta.url === `file://${process.argv[1]}` && !process.env.BENCH_LEG) {
  runPropagation(process.argv.slice(2)).then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
