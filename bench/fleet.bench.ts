/**
 * A fleet of PBXs on one gateway (issue 16 item 4):
 *
 *   npm run bench -- fleet --pbxs 1000 --users 200 [--groups 5] [--workers 1,2] [--db sqlite,postgresql]
 *                          [--latency 0,300] [--concurrency N] [--connect-concurrency 32]
 *                          [--save-concurrency 50] [--timeout-min 30] [--seed 16]
 *
 * Starts the sandbox in a process of its own (throttling on), hosting one directory per PBX
 * (`addTenant`, `--users` users each, the provider's app provisioned in each as a multi-tenant
 * app). Then one leg per latency of `--latency` (the sandbox's latency knob: that many ms on
 * every request to Microsoft, as the sync bench sets it), per database of `--db` and per worker
 * count of `--workers` (issue 16 item 5: every figure at 0 and 300 ms, on SQLite and
 * PostgreSQL), each on a new database and queue prefix: one gateway process with `--role all` (API and workers), plus
 * `--role worker` processes up to the count, each running SYNC_CONCURRENCY (`--concurrency`, else
 * the gateway's default) runs at once. Through the OPERATOR API it creates the PBXs and their
 * ADMIN keys, connects each PBX to its own directory (auto sign-in and admin consent), then saves
 * every PBX's user rule at once (`--save-concurrency` requests in flight): a thousand initial syncs.
 * When half of them have ended, an admin presses Update Now on a PBX already synced, and on one
 * whose initial sync still waits (the Update Now joins it).
 *
 * Reports, from the runs as the database records them: the time from the first save to the end
 * of the last initial sync, the wait of a run (queued → started) p50 / p95 / max, how long each
 * Update Now waited (pressed → started), and the totals with one and with more worker processes
 * (their ratio). TARGET MISSED is printed next to a figure that misses the issue's targets. Not a
 * test: it exits 0 whatever the figures. Written to bench/results/fleet.json.
 *
 * PostgreSQL is the fleet's production database (every gateway process of a fleet shares it);
 * with SQLite all processes share one file, one writer at a time. The gateway processes run
 * under tsx, or compiled as `npm start` runs them with BENCH_GATEWAY_CODE=compiled
 * (bench/support/leg-ipc.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SqlEntityManager } from '@mikro-orm/knex';
import { Agent } from 'undici';
import { createOperatorKey } from '../src/app/access.js';
import { freePort } from '../src/net.js';
import type { AdminTenant } from '../src/sandbox/admin-client.js';
import { SyncRun } from '../src/store/entities/sync.entity.js';
import { type Orm, openDatabase } from '../src/store/orm.js';
import { openStore } from '../src/store/store.js';
import { Args } from './support/args.js';
import {
  BENCH_USER_RULE,
  connectThroughSandbox,
  gql,
  RUN_FIELDS,
  type RunView,
} from './support/gateway-client.js';
import { compiledScript, legCode } from './support/leg-ipc.js';
import { cpuTimeMs } from './support/proc.js';
import { benchCommand, writeResults } from './support/results.js';
import { type SandboxProcess, startSandboxProcess } from './support/sandbox-process.js';
import {
  type BenchDatabase,
  createPostgres,
  createSqlite,
  dropQueueKeys,
  ensureRedis,
} from './support/services.js';

/** The issue's targets (issue 16 item 4), on this 2-core machine. */
export const FLEET_TARGETS = {
  /** every initial sync of 1,000 PBXs ended */
  lastInitialSyncMs: 10 * 60_000,
  /** an Update Now pressed during that load has started */
  updateNowWaitMs: 10_000,
};

export interface Spread {
  p50: number;
  p95: number;
  max: number;
}

export interface UpdateNowFigures {
  /** how the PBX stood: its initial sync done, or still queued (the Update Now joined it) */
  pbx: 'synced' | 'queued';
  /** ms after the first save */
  pressedAtMs: number;
  /** pressed → the run started (ms), as the run records its start */
  waitMs: number | null;
  /** pressed → the gateway answered the syncNow mutation (ms): the API's share of the wait */
  requestMs: number;
  status: string;
}

export interface FleetLegFigures {
  workers: number;
  db: string;
  /** the sandbox's latency on every request to Microsoft during this leg */
  latencyMs: number;
  /** SYNC_CONCURRENCY of each worker process (null: the gateway's default) */
  syncConcurrency: number | null;
  pbxs: number;
  /** connecting every PBX (operator API, sign-in, consent): set-up, not measured against a target */
  connectMs: number;
  /** the first save of a rule → the last initial sync ended */
  lastInitialSyncMs: number | null;
  /** queued → started of the initial syncs */
  waitMs: Spread;
  /** started → finished of the initial syncs */
  runMs: Spread;
  initialRuns: Record<string, number>;
  /** the errors of initial runs that did not succeed (each once, at most 5) */
  failures: string[];
  updateNow: UpdateNowFigures[];
  /** 1-minute load average at the first save and at the end */
  load: [number, number];
  /**
   * CPU time (ms, user + system) from the first save to the end, per process: the gateway
   * (role all), each `--role worker` process, the sandbox (every directory's Microsoft), and this
   * bench process (it watches the runs). PostgreSQL and Redis are shared with other work and left out.
   */
  cpuMs: {
    gateway: number | null;
    workers: Array<number | null>;
    sandbox: number | null;
    bench: number;
    /** PostgreSQL's backends serving this leg's database (null on SQLite) */
    database: number | null;
  };
  /** PostgreSQL's own counts for this leg's database, first save → end (null on SQLite) */
  databaseWork: Record<string, number> | null;
  error?: string;
  /**
   * When the leg failed: the distinct errors its gateway processes logged (type, the statement's
   * first words, the database's message: never the statement's values), e.g. why a combination
   * cannot run.
   */
  gatewayErrors?: string[];
}

export interface FleetFigures {
  sandbox: { directories: number; usersEach: number; groupsEach: number; readyMs: number };
  legs: FleetLegFigures[];
  /**
   * Per database and latency: the total (first save → last initial sync) with one worker process
   * over that with the most (none where either leg has no total).
   */
  speedups: Array<{ db: string; latencyMs: number; workers: number; ratio: number }>;
  targets: typeof FLEET_TARGETS;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T, i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i] as T, i);
      }
    }),
  );
}

function spread(values: number[]): Spread {
  if (values.length === 0) return { p50: 0, p95: 0, max: 0 };
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] as number;
  return { p50: Math.round(at(0.5)), p95: Math.round(at(0.95)), max: Math.round(s[s.length - 1] as number) };
}

// ------------------------------------------------------------------ gateway processes

interface GatewayProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** `src/main.ts --role <role>` as `node --import tsx` or compiled (no wrapper process), ready once /readyz answers 200. */
async function startGatewayProcess(
  role: 'all' | 'worker',
  env: Record<string, string>,
  logFile: string,
  nodeArgs: readonly string[] = [],
): Promise<GatewayProcess> {
  const port = await freePort();
  const script =
    legCode() === 'compiled'
      ? ['--enable-source-maps', compiledScript('src/main.ts')]
      : ['--import', 'tsx', path.resolve('src/main.ts')];
  const child = spawn(process.execPath, [...nodeArgs, ...script, '--role', role], {
    env: { ...process.env, NODE_OPTIONS: '', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(logFile);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`gateway (--role ${role}) exited ${child.exitCode}: see ${logFile}`);
    try {
      const res = await fetch(`${url}/readyz`);
      await res.text();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`gateway (--role ${role}) not ready in 180 s: see ${logFile}`);
    await sleep(250);
  }
  return {
    url,
    child,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      log.end();
    },
  };
}

// ------------------------------------------------------------------ one leg

interface LegOptions {
  workers: number;
  db: 'sqlite' | 'postgresql';
  latencyMs: number;
  directories: AdminTenant[];
  sandbox: SandboxProcess;
  redisUrl: string;
  syncConcurrency: number | null;
  connectConcurrency: number;
  saveConcurrency: number;
  timeoutMs: number;
  logDir: string;
  /** node options of every gateway process (e.g. --cpu-prof) */
  nodeArgs: string[];
}

const RULE = BENCH_USER_RULE;

interface RunRow {
  id: string;
  pbxId: string;
  trigger: string;
  status: string;
  queuedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  error: string | null;
}

/** Every run of the database, as the runs record themselves. */
async function readRuns(orm: Orm): Promise<RunRow[]> {
  const rows = await orm.em.fork().find(SyncRun, {}, { disableIdentityMap: true });
  return rows.map((r) => ({
    id: r.id,
    pbxId: r.pbx.id,
    trigger: r.trigger,
    status: r.status,
    queuedAt: r.queuedAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    error: r.error,
  }));
}

/**
 * The id, PBX and status of every run: what the watch loop needs, read several times a second
 * (a plain query: hydrating a thousand entities each time cost this process more CPU than the
 * gateway's scheduler, on a machine whose two cores the gateway needs).
 */
async function readStatuses(orm: Orm): Promise<Array<{ id: string; pbxId: string; status: string }>> {
  const rows: Array<{ id: string; pbx_id: string; status: string }> = await (
    orm.em.fork() as SqlEntityManager
  ).execute('select id, pbx_id, status from sync_run');
  return rows.map((r) => ({ id: r.id, pbxId: r.pbx_id, status: r.status }));
}

/** CPU time (ms) of each PostgreSQL backend connected to this database, by pid (null on SQLite). */
async function databaseCpu(orm: Orm, db: 'sqlite' | 'postgresql'): Promise<Map<number, number> | null> {
  if (db !== 'postgresql') return null;
  const rows: Array<{ pid: number }> = await (orm.em.fork() as SqlEntityManager).execute(
    'select pid from pg_stat_activity where datname = current_database()',
  );
  const out = new Map<number, number>();
  for (const { pid } of rows) {
    const ms = cpuTimeMs(pid);
    if (ms != null) out.set(pid, ms);
  }
  return out;
}

/** pg_stat_database's counters of this database (statistics lag by up to a second). */
async function databaseWork(orm: Orm, db: 'sqlite' | 'postgresql'): Promise<Record<string, number> | null> {
  if (db !== 'postgresql') return null;
  const [row] = await (orm.em.fork() as SqlEntityManager).execute(
    `select xact_commit, xact_rollback, tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted
       from pg_stat_database where datname = current_database()`,
  );
  return row ? Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)])) : null;
}

const FINAL = new Set(['SUCCEEDED', 'FAILED', 'HELD']);

/**
 * The distinct errors (level ≥ 50) the gateway processes of a leg logged, at most 5: the error's
 * type, the first words of its SQL statement when it has one, and the database's own message
 * after it (a statement's values, sealed secrets among them, are left out).
 */
export function loggedErrors(files: readonly string[]): string[] {
  const out = new Set<string>();
  for (const file of files) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (!line.startsWith('{')) continue;
      let entry: { level?: number; msg?: string; err?: { type?: string; message?: string } | string };
      try {
        entry = JSON.parse(line);
      } catch {
        continue;
      }
      if ((entry.level ?? 0) < 50) continue;
      const err = typeof entry.err === 'string' ? { message: entry.err } : (entry.err ?? {});
      const message = err.message ?? entry.msg ?? '';
      const sql = /^(insert into|update|delete from|select) `?"?(\w+)/i.exec(message);
      const said = message.includes(' - ') ? message.slice(message.lastIndexOf(' - ') + 3) : message;
      out.add(
        `${err.type ?? 'error'}${sql ? ` (${sql[1]} ${sql[2]})` : ''}: ${said.slice(0, 200)} [${path.basename(file)}]`,
      );
      if (out.size >= 5) return [...out];
    }
  }
  return [...out];
}

async function runLeg(o: LegOptions): Promise<FleetLegFigures> {
  const label = `${o.db} @${o.latencyMs}ms, ${o.workers} worker process${o.workers > 1 ? 'es' : ''}`;
  const say = (msg: string) => console.error(`[${label}] ${msg}`);
  const db: BenchDatabase = o.db === 'sqlite' ? createSqlite() : await createPostgres();
  const queuePrefix = `bench-fleet-${randomBytes(4).toString('hex')}`;
  const orm = await openDatabase(db.config);
  const processes: GatewayProcess[] = [];
  const info = o.sandbox.info;
  const agent = new Agent({ connect: { ca: readFileSync(info.caFile, 'utf8') } });
  const tag = `${o.db}-${o.latencyMs}ms-${o.workers}`;
  const logFiles = Array.from({ length: o.workers }, (_, i) =>
    path.join(o.logDir, i === 0 ? `${tag}-all.log` : `${tag}-worker${i}.log`),
  );
  const figures: FleetLegFigures = {
    workers: o.workers,
    db: o.db,
    latencyMs: o.latencyMs,
    syncConcurrency: o.syncConcurrency,
    pbxs: o.directories.length,
    connectMs: 0,
    lastInitialSyncMs: null,
    waitMs: spread([]),
    runMs: spread([]),
    initialRuns: {},
    failures: [],
    updateNow: [],
    load: [os.loadavg()[0] as number, 0],
    cpuMs: { gateway: null, workers: [], sandbox: null, bench: 0, database: null },
    databaseWork: null,
  };
  try {
    const env: Record<string, string> = {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      DATABASE_URL: db.config.kind === 'sqlite' ? `sqlite:${db.config.file}` : db.config.url,
      REDIS_URL: o.redisUrl,
      QUEUE_PREFIX: queuePrefix,
      SECRET_KEY: randomBytes(32).toString('hex'),
      MS_AUTHORITY_HOST: info.authorityHost,
      MS_GRAPH_BASE_URL: info.graphBaseUrl,
      MS_EXTRA_CA_FILE: info.caFile,
      ...(o.syncConcurrency ? { SYNC_CONCURRENCY: String(o.syncConcurrency) } : {}),
    };
    const api = await startGatewayProcess('all', env, logFiles[0] as string, o.nodeArgs);
    processes.push(api);
    for (let i = 1; i < o.workers; i++) {
      processes.push(await startGatewayProcess('worker', env, logFiles[i] as string, o.nodeArgs));
    }
    say(`gateway at ${api.url} (+${o.workers - 1} worker process(es)); logs in ${o.logDir}`);
    await o.sandbox.admin.resetSubscriptions();
    await o.sandbox.admin.setLatency(o.latencyMs);
    await o.sandbox.admin.addRedirectUri(info.clientId, `${api.url}/oauth/microsoft/callback`);
    const operator = (
      await createOperatorKey(
        openStore(orm, () => new Date()),
        { label: 'fleet bench' },
      )
    ).key;

    // The PBXs, through the operator API, each connected to its own directory.
    const connectStarted = performance.now();
    const pbxs: Array<{ id: string; key: string }> = new Array(o.directories.length);
    await pool(o.directories, o.connectConcurrency, async (dir, i) => {
      const created = await gql<{ createPbx: { id: string } }>(
        api.url,
        operator,
        'mutation($input: CreatePbxInput!) { createPbx(input: $input) { id } }',
        { input: { name: `Fleet ${i + 1}`, publicBaseUrl: api.url, extensionCapacity: 100_000 } },
      );
      const id = created.createPbx.id;
      const { createApiKey } = await gql<{ createApiKey: { key: string } }>(
        api.url,
        operator,
        'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { key } }',
        { input: { pbxId: id, role: 'ADMIN', label: 'fleet bench' } },
      );
      const result = await connectThroughSandbox(
        api.url,
        createApiKey.key,
        { clientId: info.clientId, clientSecret: info.clientSecret, tenantId: dir.tenantId },
        dir.adminUpn,
        agent,
      );
      if (result !== 'CONNECTED') throw new Error(`PBX ${i + 1}: connect ended ${result}`);
      pbxs[i] = { id, key: createApiKey.key };
      if ((i + 1) % 100 === 0) say(`${i + 1} PBXs connected`);
    });
    figures.connectMs = Math.round(performance.now() - connectStarted);
    say(`${pbxs.length} PBXs connected in ${(figures.connectMs / 1000).toFixed(1)} s`);
    // What connecting queued (subscriptions, schedules) settles before the measure.
    await sleep(2000);

    // Every PBX saves its rule at once: one initial sync each.
    figures.load[0] = os.loadavg()[0] as number;
    const cpuOf = async () => ({
      processes: processes.map((p) => (p.child.pid ? cpuTimeMs(p.child.pid) : null)),
      sandbox: cpuTimeMs(o.sandbox.pid),
      bench: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
      database: await databaseCpu(orm, o.db),
    });
    const cpuAtStart = await cpuOf();
    const workAtStart = await databaseWork(orm, o.db);
    const t0 = Date.now();
    const initial = new Map<string, string>();
    await pool(pbxs, o.saveConcurrency, async (p) => {
      const data = await gql<{ saveUserSyncRule: { initialRun: { id: string } | null } }>(
        api.url,
        p.key,
        'mutation($input: UserSyncRuleInput!) { saveUserSyncRule(input: $input) { initialRun { id } } }',
        { input: RULE },
      );
      const run = data.saveUserSyncRule.initialRun;
      if (!run) throw new Error(`PBX ${p.id}: saving the rule queued no run`);
      initial.set(run.id, p.id);
    });
    say(`${initial.size} rules saved in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    // Watch the runs; at half-way, Update Now on a PBX already synced and on one still queued.
    const pressed: Array<{
      pbx: 'synced' | 'queued';
      at: number;
      answeredAt: number;
      runId: string;
      key: string;
    }> = [];
    const deadline = t0 + o.timeoutMs;
    let lastSaid = 0;
    for (;;) {
      const all = await readStatuses(orm);
      const runs = all.filter((r) => initial.has(r.id));
      const ended = runs.filter((r) => FINAL.has(r.status));
      if (pressed.length === 0 && ended.length >= initial.size / 2) {
        const synced = ended.find((r) => r.status === 'SUCCEEDED');
        const waiting = runs.find((r) => r.status === 'QUEUED');
        const press = async (pbx: 'synced' | 'queued', pbxId: string) => {
          const key = pbxs.find((p) => p.id === pbxId)?.key as string;
          const at = Date.now();
          const data = await gql<{ syncNow: RunView }>(
            api.url,
            key,
            `mutation { syncNow { ${RUN_FIELDS} } }`,
          );
          pressed.push({ pbx, at, answeredAt: Date.now(), runId: data.syncNow.id, key });
        };
        await Promise.all([
          synced ? press('synced', synced.pbxId) : null,
          waiting ? press('queued', waiting.pbxId) : null,
        ]);
        say(`Update Now pressed (${pressed.map((p) => p.pbx).join(', ')}) at ${ended.length} ended`);
      }
      const pressedDone = (pressed.length ? await readStatuses(orm) : all).filter(
        (r) => pressed.some((p) => p.runId === r.id) && FINAL.has(r.status),
      ).length;
      if (ended.length === initial.size && pressedDone === pressed.length && pressed.length > 0) break;
      if (ended.length === initial.size && pressed.length === 0) break;
      if (Date.now() > deadline) {
        figures.error = `timed out: ${ended.length} of ${initial.size} initial syncs ended after ${o.timeoutMs / 60_000} min`;
        say(figures.error);
        break;
      }
      if (Date.now() - lastSaid > 10_000) {
        lastSaid = Date.now();
        say(
          `${ended.length} / ${initial.size} initial syncs ended, ${((Date.now() - t0) / 1000).toFixed(0)} s`,
        );
      }
      await sleep(250);
    }
    figures.load[1] = os.loadavg()[0] as number;
    const cpuAtEnd = await cpuOf();
    const workAtEnd = await databaseWork(orm, o.db);
    if (workAtStart && workAtEnd)
      figures.databaseWork = Object.fromEntries(
        Object.entries(workAtEnd).map(([k, v]) => [k, v - (workAtStart[k] ?? 0)]),
      );
    const used = (a: number | null | undefined, b: number | null | undefined) =>
      a == null || b == null ? null : b - a;
    figures.cpuMs = {
      gateway: used(cpuAtStart.processes[0], cpuAtEnd.processes[0]),
      workers: cpuAtEnd.processes.slice(1).map((c, i) => used(cpuAtStart.processes[i + 1], c)),
      sandbox: used(cpuAtStart.sandbox, cpuAtEnd.sandbox),
      bench: Math.round(cpuAtEnd.bench - cpuAtStart.bench),
      database:
        cpuAtEnd.database && cpuAtStart.database
          ? [...cpuAtEnd.database].reduce(
              (sum, [pid, ms]) => sum + ms - (cpuAtStart.database?.get(pid) ?? 0),
              0,
            )
          : null,
    };

    const runs = await readRuns(orm);
    const mine = runs.filter((r) => initial.has(r.id));
    for (const r of mine) figures.initialRuns[r.status] = (figures.initialRuns[r.status] ?? 0) + 1;
    figures.failures = [
      ...new Set(
        mine
          .filter((r) => r.status !== 'SUCCEEDED')
          .map((r) => `${r.status}: ${r.error ?? 'no error recorded'}`),
      ),
    ].slice(0, 5);
    const finished = mine.filter((r) => r.finishedAt).map((r) => (r.finishedAt as Date).getTime());
    if (finished.length === mine.length && mine.length > 0)
      figures.lastInitialSyncMs = Math.max(...finished) - t0;
    figures.waitMs = spread(
      mine.filter((r) => r.startedAt).map((r) => (r.startedAt as Date).getTime() - r.queuedAt.getTime()),
    );
    figures.runMs = spread(
      mine
        .filter((r) => r.startedAt && r.finishedAt)
        .map((r) => (r.finishedAt as Date).getTime() - (r.startedAt as Date).getTime()),
    );
    for (const p of pressed) {
      const r = runs.find((x) => x.id === p.runId);
      figures.updateNow.push({
        pbx: p.pbx,
        pressedAtMs: p.at - t0,
        waitMs: r?.startedAt ? Math.max(0, r.startedAt.getTime() - p.at) : null,
        requestMs: p.answeredAt - p.at,
        status: r?.status ?? 'GONE',
      });
    }
    return figures;
  } catch (err) {
    figures.error = (err as Error).stack ?? String(err);
    figures.gatewayErrors = loggedErrors(logFiles);
    say(`failed: ${figures.error}`);
    for (const e of figures.gatewayErrors) say(`  the gateway logged: ${e}`);
    return figures;
  } finally {
    for (const p of processes.reverse()) await p.stop().catch(() => {});
    await agent.close().catch(() => {});
    await orm.close(true).catch(() => {});
    await db.drop().catch(() => {});
    await dropQueueKeys(o.redisUrl, queuePrefix).catch(() => 0);
  }
}

// ------------------------------------------------------------------ report

const sec = (ms: number | null | undefined) =>
  ms == null ? 'n/a' : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
const missed = (ok: boolean) => (ok ? '' : '  TARGET MISSED');

function report(figures: FleetFigures) {
  const t = FLEET_TARGETS;
  const full = figures.sandbox.directories >= 1000;
  for (const leg of figures.legs) {
    console.log(
      `\n${leg.pbxs} PBXs × ${figures.sandbox.usersEach} users, ${leg.db}, ${leg.workers} worker process(es), SYNC_CONCURRENCY ${leg.syncConcurrency ?? 'default'}, latency ${leg.latencyMs} ms, load ${leg.load[0].toFixed(1)} → ${leg.load[1].toFixed(1)}`,
    );
    if (leg.error) console.log(`  error: ${leg.error.split('\n')[0]}`);
    console.log(`  connecting the PBXs:        ${sec(leg.connectMs)}`);
    console.log(
      `  last initial sync ended:    ${sec(leg.lastInitialSyncMs)} after the first save${full ? missed(leg.lastInitialSyncMs != null && leg.lastInitialSyncMs <= t.lastInitialSyncMs) : ` (target ≤ ${t.lastInitialSyncMs / 60_000} min at 1,000 PBXs)`}`,
    );
    console.log(
      `  wait of a run (queued → started): p50 ${sec(leg.waitMs.p50)}, p95 ${sec(leg.waitMs.p95)}, max ${sec(leg.waitMs.max)}`,
    );
    console.log(
      `  run (started → finished):   p50 ${sec(leg.runMs.p50)}, p95 ${sec(leg.runMs.p95)}, max ${sec(leg.runMs.max)}`,
    );
    console.log(`  initial runs:               ${JSON.stringify(leg.initialRuns)}`);
    const c = leg.cpuMs;
    console.log(
      `  CPU first save → end:       gateway ${sec(c.gateway)}${c.workers.map((w, i) => `, worker ${i + 1} ${sec(w)}`).join('')}, sandbox ${sec(c.sandbox)}, bench ${sec(c.bench)}${c.database != null ? `, PostgreSQL ${sec(c.database)}` : ''}`,
    );
    for (const f of leg.failures)
      console.log(`    ${f.length > 300 ? `${f.slice(0, 60)} … ${f.slice(-240)}` : f}`);
    if (leg.databaseWork) {
      const n = Math.max(
        1,
        Object.values(leg.initialRuns).reduce((a, b) => a + b, 0),
      );
      console.log(
        `  PostgreSQL per initial sync: ${Object.entries(leg.databaseWork)
          .map(([k, v]) => `${k} ${(v / n).toFixed(0)}`)
          .join(', ')}`,
      );
    }
    for (const u of leg.updateNow) {
      console.log(
        `  Update Now (${u.pbx === 'synced' ? 'a PBX already synced' : 'a PBX whose initial sync still waited'}), pressed at ${sec(u.pressedAtMs)}: started after ${sec(u.waitMs)} (${u.status}; the syncNow request took ${sec(u.requestMs)})${missed(u.waitMs != null && u.waitMs <= t.updateNowWaitMs)}`,
      );
    }
  }
  for (const s of figures.speedups)
    console.log(
      `\n${s.db} @${s.latencyMs} ms: ${s.workers} worker processes vs 1: the last initial sync ends ${s.ratio.toFixed(2)} × as soon`,
    );
}

/** Per database and latency, the last initial sync with one worker process over that with the most. */
export function speedups(legs: readonly FleetLegFigures[]): FleetFigures['speedups'] {
  const out: FleetFigures['speedups'] = [];
  const pairs = new Map(legs.map((l) => [`${l.db}@${l.latencyMs}`, l]));
  for (const { db, latencyMs } of pairs.values()) {
    const done = legs.filter((l) => l.db === db && l.latencyMs === latencyMs && l.lastInitialSyncMs);
    const one = done.find((l) => l.workers === 1);
    const most = [...done].sort((a, b) => b.workers - a.workers)[0];
    if (one && most && most.workers > 1)
      out.push({
        db,
        latencyMs,
        workers: most.workers,
        ratio: (one.lastInitialSyncMs as number) / (most.lastInitialSyncMs as number),
      });
  }
  return out;
}

// ------------------------------------------------------------------ main

export async function main(argv: string[]) {
  const args = new Args(argv);
  const pbxCount = args.number('pbxs', 1000);
  const users = args.number('users', 200);
  const groups = args.number('groups', 5);
  const workers = args.numbers('workers', [1, 2]).map((n) => Math.max(1, Math.round(n)));
  const dbs = args.list('db', ['sqlite', 'postgresql']) as Array<'sqlite' | 'postgresql'>;
  const latencies = args.numbers('latency', [0, 300]);
  const concurrency = args.has('concurrency') ? args.number('concurrency', 4) : null;
  const seed = args.number('seed', 16);
  const options = {
    pbxs: pbxCount,
    users,
    groups,
    workers,
    db: dbs,
    latencyMs: latencies,
    concurrency,
    // Connecting is mostly waiting (sign-in pages, token and Graph requests at --latency): 8 at
    // a time took ~4 min for 1,000 PBXs per leg.
    connectConcurrency: args.number('connect-concurrency', 32),
    saveConcurrency: args.number('save-concurrency', 50),
    timeoutMin: args.number('timeout-min', 30),
    seed,
    gatewayCode: legCode(),
  };
  const nodeArgs = args.string('gateway-node-args', '').split(' ').filter(Boolean);
  // --profile: a CPU profile of every gateway process (`npm run bench -- cpuprofile FILE` sums one up).
  if (args.has('profile'))
    nodeArgs.push(
      '--cpu-prof',
      `--cpu-prof-dir=${path.resolve('.data/bench/profiles', `fleet-${new Date().toISOString().replace(/[:.]/g, '-')}`)}`,
    );
  for (const d of dbs) if (d !== 'sqlite' && d !== 'postgresql') throw new Error(`--db: unknown '${d}'`);
  const redis = await ensureRedis();
  const dataDir = path.resolve('.data/bench/fleet');
  const logDir = path.join(dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  console.error(`sandbox: starting (latency ${latencies.join(', ')} ms, set per leg)`);
  const sandbox = await startSandboxProcess({
    users: 10,
    groups: 1,
    seed,
    latencyMs: latencies[0] ?? 0,
    dataDir: path.join(dataDir, 'sandbox'),
  });
  try {
    const started = performance.now();
    const directories: AdminTenant[] = new Array(pbxCount);
    await pool(
      Array.from({ length: pbxCount }, (_, i) => i),
      4,
      async (i) => {
        directories[i] = await sandbox.admin.addTenant({
          users,
          groups,
          seed: seed * 100_000 + i + 1,
          provisionApps: [sandbox.info.clientId],
        });
      },
    );
    const readyMs = Math.round(performance.now() - started);
    console.error(`sandbox: ${pbxCount} directories of ${users} users in ${(readyMs / 1000).toFixed(1)} s`);
    const legs: FleetLegFigures[] = [];
    for (const latencyMs of latencies) {
      for (const db of dbs) {
        for (const w of workers) {
          legs.push(
            await runLeg({
              workers: w,
              db,
              latencyMs,
              directories,
              sandbox,
              redisUrl: redis.url,
              syncConcurrency: concurrency,
              connectConcurrency: options.connectConcurrency,
              saveConcurrency: options.saveConcurrency,
              timeoutMs: options.timeoutMin * 60_000,
              logDir,
              nodeArgs,
            }),
          );
        }
      }
    }
    const figures: FleetFigures = {
      sandbox: { directories: pbxCount, usersEach: users, groupsEach: groups, readyMs },
      legs,
      speedups: speedups(legs),
      targets: FLEET_TARGETS,
    };
    report(figures);
    writeResults('fleet', { command: benchCommand('fleet', argv), args: options, figures });
  } finally {
    await sandbox.stop();
    redis.stop();
  }
}
