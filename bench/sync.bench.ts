/**
 * The sync at scale, end to end (issue 5 item 7):
 *
 *   npm run bench -- sync --users 100000 --groups 5000 [--latency 0,300] [--db sqlite,postgresql]
 *                         [--changes 1000] [--seed 42] [--profile] [--log-level error]
 *                         [--run-timeout-min 30] [--gateway-node-args "--max-old-space-size=320"]
 *                         [--sandbox own-process|same-process]
 *
 * Starts the sandbox tenant (throttling on, as Microsoft's) in a process of its own (or, with
 * `--sandbox same-process`, in each leg's process beside the gateway, as `npm run demo` runs it),
 * then, per sandbox latency and per database, a leg process (bench/sync/leg.ts) that runs a real gateway
 * (role all) on a temporary SQLite file or a temporary PostgreSQL database (TEST_DATABASE_URL,
 * else postgres://postgres@127.0.0.1:5432/postgres), connects it through the sandbox with auto
 * sign-in, saves the user rule (ALL, AUTO from 1000) and measures: the initial full sync, a
 * no-change re-sync, and a re-sync after `--changes` users were changed through the sandbox admin
 * API. Prints one table (TARGET MISSED next to any figure that misses the issue's targets), then
 * where each run spent its time (stretches of the run pipeline with their SQL time, Graph requests,
 * heap and RSS), and with --profile a CPU profile and a sampling heap profile of every run (the
 * .cpuprofile files are kept under .data/bench/profiles/). Not a test: it exits 0 whatever the
 * figures. Change notifications and the delta poll are held back during a leg (saveChangeTriggers
 * with the longest debounce) so that the measured runs are the only ones; the table says so.
 * Each run's event-loop stalls in the leg process (the gateway's workers) are reported: the longest
 * gap of a 10 ms timer (perf_hooks.monitorEventLoopDelay), its p99, and where the longest ones fell.
 * The figures are written to bench/results/sync.json (bench/support/results.ts).
 */

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type AdminUser, SandboxAdminClient } from '../src/sandbox/admin-client.js';
import type { SandboxInfo } from '../src/sandbox/index.js';
import { Args } from './support/args.js';
import { formatSummary } from './support/cpuprofile.js';
import { formatHeapSummary } from './support/heapprofile.js';
import { legCode, runLegProcess } from './support/leg-ipc.js';
import {
  countDirectory,
  describeLowerBound,
  type FullReadLowerBound,
  fullReadLowerBound,
} from './support/lower-bound.js';
import { procStatus } from './support/proc.js';
import { benchCommand, writeResults } from './support/results.js';
import { type SandboxProcess, startSandboxProcess } from './support/sandbox-process.js';
import {
  type BenchDatabase,
  createPostgres,
  createSqlite,
  dropQueueKeys,
  ensureRedis,
} from './support/services.js';
import type { LegInput, LegResult, PhaseResult, SandboxMode } from './sync/leg.js';

/** The issue's targets (issue 5 item 7), on this 2-core machine. */
/**
 * The targets: issue 5's (first sync ≤ 60 s at 0 ms, re-syncs, 600 MB), tightened by issue 16: a
 * 1,000-change run ≤ 2 s (item 1); at 300 ms a request the first full sync ≤ 30 s with ≤ 1.2 × the
 * lower bound's requests, still ≤ 1.05 × at 0 ms (item 2); the first sync ≤ 400 MB (item 3).
 */
export const TARGETS = {
  firstFullSyncMsAt0: 60_000,
  firstFullSyncMsAt300: 30_000,
  noChangeMs: 2_000,
  noChangeRequests: 3,
  changesMs: 2_000,
  requestsOverBound: 1.05,
  requestsOverBoundAt300: 1.2,
  firstSyncPeakRssBytes: 400 * 1024 * 1024,
  peakRssBytes: 600 * 1024 * 1024,
};

/** The first full sync's targets at a leg's latency (issue 16 item 2 sets them at 0 and 300 ms). */
export function firstSyncTargets(latencyMs: number): { wallMs: number | null; requestsOverBound: number } {
  if (latencyMs === 0)
    return { wallMs: TARGETS.firstFullSyncMsAt0, requestsOverBound: TARGETS.requestsOverBound };
  if (latencyMs === 300)
    return { wallMs: TARGETS.firstFullSyncMsAt300, requestsOverBound: TARGETS.requestsOverBoundAt300 };
  return { wallMs: null, requestsOverBound: TARGETS.requestsOverBoundAt300 };
}

/** The tenant as the bound counts it, through the sandbox admin API (bench/support/lower-bound.ts). */
async function lowerBound(admin: SandboxAdminClient): Promise<FullReadLowerBound> {
  return fullReadLowerBound(await countDirectory(admin));
}

export interface TenantChange {
  updated: number;
  disabled: number;
  softDeleted: number;
  created: number;
  ms: number;
}

async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T, i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i], i);
      }
    }),
  );
}

/**
 * `count` changed users through the sandbox admin API: 70 % get a new job title and mobile
 * number (UPDATE), 15 % are disabled and 10 % soft-deleted (DELETE: the rule deletes on both),
 * 5 % are new (CREATE). Each leg changes users of its own (from a different offset).
 */
async function changeUsers(admin: SandboxAdminClient, count: number, leg: number): Promise<TenantChange> {
  const started = performance.now();
  const total = (await admin.listUsers({ top: 1 })).total;
  const needed = count - Math.floor(count * 0.05);
  const pool_: AdminUser[] = [];
  let skip = Math.min(Math.max(0, total - 10_000), 1 + leg * 7919) % Math.max(1, total);
  for (let round = 0; pool_.length < needed && round < 20; round++) {
    const page = await admin.listUsers({ top: 10_000, skip });
    for (const u of page.value) if (!u.isAdmin && u.accountEnabled && !u.deleted) pool_.push(u);
    skip = page.value.length < 10_000 ? 0 : skip + 10_000;
  }
  // Spread the picks over what was listed.
  const step = Math.max(1, Math.floor(pool_.length / needed));
  const picked = Array.from(
    { length: Math.min(needed, pool_.length) },
    (_, i) => pool_[(i * step) % pool_.length],
  );
  const nUpdate = Math.round(count * 0.7);
  const nDisable = Math.round(count * 0.15);
  const domain =
    picked.find((u) => !u.userPrincipalName.includes('#EXT#'))?.userPrincipalName.split('@')[1] ??
    'example.com';
  const result = { updated: 0, disabled: 0, softDeleted: 0, created: 0 };
  await pool(picked, 16, async (u, i) => {
    if (i < nUpdate) {
      await admin.updateUser(u.id, {
        jobTitle: `Bench title ${leg}-${i}`,
        mobilePhone: `+1 425 555 ${String(i % 10_000).padStart(4, '0')}`,
      });
      result.updated++;
    } else if (i < nUpdate + nDisable) {
      await admin.disableUser(u.id);
      result.disabled++;
    } else {
      await admin.softDeleteUser(u.id);
      result.softDeleted++;
    }
  });
  const creates = Array.from({ length: count - picked.length }, (_, i) => i);
  const tag = `${leg}x${Date.now().toString(36)}`;
  await pool(creates, 16, async (i) => {
    await admin.createUser({
      userPrincipalName: `bench.${tag}.${i}@${domain}`,
      displayName: `Bench User ${tag} ${i}`,
      givenName: 'Bench',
      surname: `User ${tag} ${i}`,
      mail: `bench.${tag}.${i}@${domain}`,
      accountEnabled: true,
      userType: 'Member',
      jobTitle: 'Benchmark',
    });
    result.created++;
  });
  return { ...result, ms: performance.now() - started };
}

// ------------------------------------------------------------------ legs

interface LegRun {
  label: string;
  db: string;
  latencyMs: number;
  result?: LegResult;
  skipped?: string;
}

/**
 * Runs one leg process. The tenant is counted and changed through the sandbox admin API: the
 * orchestrator's own sandbox, or (same-process) the one the leg started and announced.
 */
function runLeg(
  input: LegInput,
  legIndex: number,
  sandbox: SandboxProcess | null,
  changes: number,
  legNodeArgs: string[],
): Promise<LegResult> {
  let legAdmin: SandboxAdminClient | null = null;
  const admin = (): SandboxAdminClient => {
    const a = sandbox?.admin ?? legAdmin;
    if (!a) throw new Error('no sandbox to ask (the leg has not announced its own)');
    return a;
  };
  const adminFor = (info: SandboxInfo) =>
    new SandboxAdminClient(info.adminUrl, info.adminToken, readFileSync(info.caFile, 'utf8'));
  return runLegProcess<LegResult>(
    'bench/sync/leg.ts',
    input,
    // --expose-gc: the retained heap is measured after each run, once the run is over.
    ['--expose-gc', ...legNodeArgs],
    async (type, payload) => {
      if (type === 'sandbox') legAdmin = adminFor(payload as SandboxInfo);
      else if (type === 'lowerBound') return lowerBound(admin());
      else if (type === 'change') return changeUsers(admin(), changes, legIndex);
      return null;
    },
  ).finally(() => legAdmin?.close().catch(() => {}));
}

// ------------------------------------------------------------------ report

const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
const sec = (ms: number | null | undefined) =>
  ms == null ? 'n/a' : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
const mbs = (b: number | null | undefined) => (b == null ? 'n/a' : `${fmtInt(b / 1048576)} MB`);
const MISSED = '  TARGET MISSED';

function counts(p: PhaseResult): string {
  const c = p.run.users;
  const parts = Object.entries(c)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${fmtInt(v)}`);
  return `${p.run.mode ?? '?'} ${p.run.status}: ${parts.join(', ') || 'no change'}`;
}

function peak(p: PhaseResult): number {
  return p.memory.hwmRss ?? p.memory.sampledRss;
}

function heapCell(p: PhaseResult): string {
  const kept = p.afterGc ? `${mbs(p.afterGc.heapUsed)} / ${mbs(p.afterGc.rss)}` : 'n/a';
  return `${mbs(p.memory.sampledHeapUsed)} / ${kept}`;
}

function loadCell(p: PhaseResult): string {
  return `${p.load[0].toFixed(1)} → ${p.load[1].toFixed(1)}`;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => (cell ?? '').padEnd(widths[c]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function stallCell(p: PhaseResult): string {
  const l = p.eventLoop;
  return `${fmtInt(l.maxMs)} / ${fmtInt(l.p99Ms)} ms (${l.stalls} ≥ ${l.thresholdMs} ms, ${sec(l.stalledMs)} in all)`;
}

function stallWhere(p: PhaseResult): string {
  return (
    p.eventLoop.longest
      .slice(0, 3)
      .map((s) => `${fmtInt(s.ms)} ms at +${sec(s.afterMs)} (${s.where})`)
      .join('; ') || 'none'
  );
}

function report(legs: LegRun[], opts: { users: number; groups: number; changes: number }) {
  const done = legs.filter((l) => l.result) as Array<LegRun & { result: LegResult }>;
  const header = ['', 'figure', 'target', ...done.map((l) => l.label)];
  const rows: string[][] = [header];
  const row = (section: string, figure: string, target: string, cell: (r: LegResult) => string) =>
    rows.push([section, figure, target, ...done.map((l) => cell(l.result))]);
  const ph = (r: LegResult, name: string) => r.phases.find((p) => p.phase === name) as PhaseResult;

  row('first full sync', 'wall time (save rule → run ended)', '≤ 60 s at 0 ms, ≤ 30 s at 300 ms', (r) => {
    const p = ph(r, 'full');
    const target = firstSyncTargets(r.latencyMs).wallMs;
    const miss = target != null && p.wallMs > target;
    return `${sec(p.wallMs)}${miss ? MISSED : ''}`;
  });
  row('', 'run time (startedAt → finishedAt)', '', (r) => sec(ph(r, 'full').runMs));
  row('', 'result (users)', '', (r) => counts(ph(r, 'full')));
  row('', 'FAIL reasons (first 2,000)', '', (r) =>
    Object.entries(ph(r, 'full').failReasons ?? {})
      .map(([k, v]) => `${k} ${fmtInt(v)}`)
      .join(', '),
  );
  row('', "Graph requests (run's graphRequests)", '≤ 1.05 × bound at 0 ms, ≤ 1.2 × at 300 ms', (r) => {
    const p = ph(r, 'full');
    const lb = p.lowerBound as FullReadLowerBound;
    const n = p.run.graphRequests ?? 0;
    const ratio = n / lb.requests;
    return `${fmtInt(n)} = ${ratio.toFixed(2)} × ${fmtInt(lb.requests)}${ratio > firstSyncTargets(r.latencyMs).requestsOverBound ? MISSED : ''}`;
  });
  row('', 'lower bound (bench/support/lower-bound.ts)', '', (r) => {
    const lb = ph(r, 'full').lowerBound as FullReadLowerBound;
    return `${describeLowerBound(lb)}; ${fmtInt(lb.memberships)} memberships`;
  });
  row('', 'requests counted by the sandbox (throttled)', '', (r) => {
    const p = ph(r, 'full');
    return `${fmtInt(p.sandboxGraphRequests ?? 0)} (${fmtInt(p.sandboxThrottled ?? 0)})`;
  });
  row('', 'peak RSS, gateway process', '≤ 400 MB', (r) => {
    const p = ph(r, 'full');
    return `${mbs(peak(p))} (sampled ${mbs(p.memory.sampledRss)})${peak(p) > TARGETS.firstSyncPeakRssBytes ? MISSED : ''}`;
  });
  row('', 'peak RSS, sandbox process (Microsoft side)', '', (r) =>
    r.sandboxMode === 'same-process'
      ? 'in the gateway process'
      : mbs(ph(r, 'full').memory.otherHwmRss ?? ph(r, 'full').memory.otherSampledRss),
  );
  row('', 'CPU time gateway / sandbox', '', (r) => {
    const p = ph(r, 'full');
    return `${sec(p.memory.cpuMs)} / ${sec(p.memory.otherCpuMs)}`;
  });
  row('', 'heap peak (sampled) / heap and RSS kept after GC', '', (r) => heapCell(ph(r, 'full')));
  row(
    '',
    '  where the RSS / heap peaks were',
    '',
    (r) => `${ph(r, 'full').peakAt.rss} / ${ph(r, 'full').peakAt.heap}`,
  );
  row('', 'load average (1 min) at start → end', '', (r) => loadCell(ph(r, 'full')));
  row('', 'event-loop stall, gateway process: max / p99', '', (r) => stallCell(ph(r, 'full')));
  row('', '  longest stalls (after the request, stretches)', '', (r) => stallWhere(ph(r, 'full')));

  row('no-change re-sync', 'wall time (syncNow → run ended)', '≤ 2 s', (r) => {
    const p = ph(r, 'nochange');
    return `${sec(p.wallMs)}${p.wallMs > TARGETS.noChangeMs ? MISSED : ''}`;
  });
  row('', 'run time', '', (r) => sec(ph(r, 'nochange').runMs));
  row('', 'result (users)', '', (r) => counts(ph(r, 'nochange')));
  row('', 'Graph requests', '≤ 3', (r) => {
    const n = ph(r, 'nochange').run.graphRequests ?? 0;
    return `${fmtInt(n)}${n > TARGETS.noChangeRequests ? MISSED : ''}`;
  });
  row('', 'peak RSS, gateway process', '≤ 600 MB', (r) => {
    const p = ph(r, 'nochange');
    return `${mbs(peak(p))}${peak(p) > TARGETS.peakRssBytes ? MISSED : ''}`;
  });
  row('', 'CPU time gateway / sandbox', '', (r) => {
    const p = ph(r, 'nochange');
    return `${sec(p.memory.cpuMs)} / ${sec(p.memory.otherCpuMs)}`;
  });
  row('', 'heap peak (sampled) / heap and RSS kept after GC', '', (r) => heapCell(ph(r, 'nochange')));
  row(
    '',
    '  where the RSS / heap peaks were',
    '',
    (r) => `${ph(r, 'nochange').peakAt.rss} / ${ph(r, 'nochange').peakAt.heap}`,
  );
  row('', 'load average (1 min) at start → end', '', (r) => loadCell(ph(r, 'nochange')));
  row('', 'event-loop stall, gateway process: max / p99', '', (r) => stallCell(ph(r, 'nochange')));
  row('', '  longest stalls (after the request, stretches)', '', (r) => stallWhere(ph(r, 'nochange')));

  row(`${fmtInt(opts.changes)} changed users`, 'wall time (syncNow → run ended)', '≤ 2 s', (r) => {
    const p = ph(r, 'changes');
    return `${sec(p.wallMs)}${p.wallMs > TARGETS.changesMs ? MISSED : ''}`;
  });
  row('', 'run time', '', (r) => sec(ph(r, 'changes').runMs));
  row('', 'changes made (sandbox admin API)', '', (r) => {
    const c = ph(r, 'changes').tenantChange as TenantChange;
    return `${c.updated} updated, ${c.disabled} disabled, ${c.softDeleted} deleted, ${c.created} new`;
  });
  row('', 'result (users)', '', (r) => counts(ph(r, 'changes')));
  row('', 'Graph requests', '', (r) => fmtInt(ph(r, 'changes').run.graphRequests ?? 0));
  row('', 'peak RSS, gateway process', '≤ 600 MB', (r) => {
    const p = ph(r, 'changes');
    return `${mbs(peak(p))}${peak(p) > TARGETS.peakRssBytes ? MISSED : ''}`;
  });
  row('', 'CPU time gateway / sandbox', '', (r) => {
    const p = ph(r, 'changes');
    return `${sec(p.memory.cpuMs)} / ${sec(p.memory.otherCpuMs)}`;
  });
  row('', 'heap peak (sampled) / heap and RSS kept after GC', '', (r) => heapCell(ph(r, 'changes')));
  row(
    '',
    '  where the RSS / heap peaks were',
    '',
    (r) => `${ph(r, 'changes').peakAt.rss} / ${ph(r, 'changes').peakAt.heap}`,
  );
  row('', 'load average (1 min) at start → end', '', (r) => loadCell(ph(r, 'changes')));
  row('', 'event-loop stall, gateway process: max / p99', '', (r) => stallCell(ph(r, 'changes')));
  row('', '  longest stalls (after the request, stretches)', '', (r) => stallWhere(ph(r, 'changes')));
  row('process', 'RSS, code loaded, before startGateway', '', (r) => mbs(r.baselineRss));
  row('', 'RSS gateway started + connected, idle', '', (r) => mbs(r.idleGatewayRss));
  row('', 'change triggers during the bench', '', (r) => r.changeTriggers);
  row('', 'runs the bench did not ask for', '', (r) =>
    r.otherRuns.length ? r.otherRuns.map((o) => `${o.trigger}/${o.status}`).join(', ') : 'none',
  );
  console.log(table(rows));
  for (const l of legs.filter((x) => x.skipped)) console.log(`\n${l.label}: SKIPPED (${l.skipped})`);
}

function breakdown(legs: LegRun[]) {
  for (const l of legs) {
    if (!l.result) continue;
    for (const p of l.result.phases) {
      console.log(`\n${l.label}, ${p.phase} (${sec(p.wallMs)}):`);
      const rows = [
        ['stretch', 'time', 'SQL time', 'statements', 'Graph req', 'heap / RSS after', 'top SQL'],
      ];
      for (const s of p.segments) {
        rows.push([
          `  ${s.label}`,
          sec(s.ms),
          sec(s.sqlMs),
          fmtInt(s.statements),
          s.requests == null ? '' : fmtInt(s.requests),
          s.heapUsed == null ? '' : `${mbs(s.heapUsed)} / ${mbs(s.rss)}`,
          s.topSql.join('; '),
        ]);
      }
      console.log(table(rows));
    }
  }
}

// ------------------------------------------------------------------ main

/** The commit measured, and whether src/ or jobs/ differ from it (figures belong to a version). */
function codeVersion(): string {
  const git = (...a: string[]) => spawnSync('git', a, { encoding: 'utf8' });
  const head = git('rev-parse', '--short', 'HEAD');
  if (head.status !== 0) return 'unknown (no git)';
  const dirty = git('status', '--porcelain', '--', 'src', 'jobs').stdout.split('\n').filter(Boolean).length;
  return `${head.stdout.trim()}${dirty ? ` + uncommitted changes in ${dirty} file(s) under src/ and jobs/` : ' (src/ and jobs/ as committed)'}`;
}

/** What bench/results/sync.json holds of a run: the figures of the table, without the profiles. */
function phaseFigures(p: PhaseResult) {
  return {
    status: p.run.status,
    mode: p.run.mode,
    users: p.run.users,
    wallMs: Math.round(p.wallMs),
    runMs: p.runMs,
    graphRequests: p.run.graphRequests ?? null,
    sandboxGraphRequests: p.sandboxGraphRequests,
    sandboxThrottled: p.sandboxThrottled,
    lowerBound: (p.lowerBound as FullReadLowerBound | undefined) ?? null,
    tenantChange: (p.tenantChange as TenantChange | undefined) ?? null,
    failReasons: p.failReasons ?? null,
    peakRssBytes: peak(p),
    peakRssFrom: p.memory.hwmRss != null ? 'VmHWM' : 'sampled',
    sampledHeapUsedBytes: p.memory.sampledHeapUsed,
    sandboxPeakRssBytes: p.memory.otherHwmRss ?? p.memory.otherSampledRss,
    cpuMs: Math.round(p.memory.cpuMs),
    sandboxCpuMs: p.memory.otherCpuMs,
    afterGc: p.afterGc,
    load: p.load,
    peakAt: p.peakAt,
    eventLoop: p.eventLoop,
    segments: p.segments.map((x) => ({
      label: x.label,
      ms: Math.round(x.ms),
      sqlMs: Math.round(x.sqlMs),
      statements: x.statements,
      requests: x.requests ?? null,
    })),
  };
}

export type SyncPhaseFigures = ReturnType<typeof phaseFigures>;

export interface SyncFigures {
  sandbox: {
    mode: SandboxMode;
    users: number;
    groups: number;
    seed: number;
    /** own-process: the sandbox CLI's start (seeding) time and RSS once seeded */
    readyMs: number | null;
    readyRssMB: number | null;
  };
  targets: typeof TARGETS;
  legs: Array<{
    label: string;
    db: string;
    latencyMs: number;
    skipped: string | null;
    baselineRssBytes: number | null;
    idleGatewayRssBytes: number | null;
    sandboxInProcess: LegResult['sandboxInProcess'];
    changeTriggers: string | null;
    otherRuns: LegResult['otherRuns'];
    phases: Partial<Record<PhaseResult['phase'], SyncPhaseFigures>>;
  }>;
}

function syncFigures(legs: LegRun[], sandbox: SyncFigures['sandbox']): SyncFigures {
  return {
    sandbox,
    targets: TARGETS,
    legs: legs.map((l) => ({
      label: l.label,
      db: l.db,
      latencyMs: l.latencyMs,
      skipped: l.skipped ?? null,
      baselineRssBytes: l.result?.baselineRss ?? null,
      idleGatewayRssBytes: l.result?.idleGatewayRss ?? null,
      sandboxInProcess: l.result?.sandboxInProcess ?? null,
      changeTriggers: l.result?.changeTriggers ?? null,
      otherRuns: l.result?.otherRuns ?? [],
      phases: Object.fromEntries((l.result?.phases ?? []).map((p) => [p.phase, phaseFigures(p)])),
    })),
  };
}

const USAGE = `usage: npm run bench -- sync [--users 100000] [--groups 5000] [--latency 0[,300]] [--db sqlite,postgresql]
                           [--changes 1000] [--seed 42] [--profile] [--log-level error] [--run-timeout-min 30]
                           [--gateway-node-args "--max-old-space-size=384"] [--sandbox own-process|same-process]`;

export async function main(argv: readonly string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return;
  }
  const args = new Args(argv);
  const users = args.number('users', 100_000);
  const groups = args.number('groups', 5_000);
  const latencies = args.numbers('latency', [0]);
  const dbs = args.list('db', ['sqlite', 'postgresql']);
  const changes = args.number('changes', 1_000);
  const seed = args.number('seed', 42);
  const profileDir = args.has('profile')
    ? path.resolve('.data/bench/profiles', new Date().toISOString().replace(/[:.]/g, '-'))
    : null;
  const logLevel = args.string('log-level', 'error');
  const runTimeoutMs = args.number('run-timeout-min', 30) * 60_000;
  // e.g. --gateway-node-args "--max-old-space-size=384": node options of the gateway's process only.
  const legNodeArgs = args.string('gateway-node-args', '').split(/\s+/).filter(Boolean);
  for (const d of dbs)
    if (d !== 'sqlite' && d !== 'postgresql') throw new Error(`--db: unknown database '${d}'\n${USAGE}`);
  // own-process (default): the sandbox apart, so that the leg process's memory and CPU are the
  // gateway's; same-process: beside the gateway, as `npm run demo` runs it.
  const sandboxMode = args.string('sandbox', 'own-process') as SandboxMode;
  if (sandboxMode !== 'own-process' && sandboxMode !== 'same-process')
    throw new Error(`--sandbox: own-process or same-process, not '${sandboxMode}'\n${USAGE}`);
  const sandboxDataDir = path.resolve('.data/bench-sandbox');

  console.log(
    `sync bench: ${fmtInt(users)} users, ${fmtInt(groups)} groups (seed ${seed}); latency ${latencies.join(', ')} ms; ${dbs.join(', ')}; ${fmtInt(changes)} changes; ${os.cpus().length} CPUs, node ${process.version}${legNodeArgs.length ? `; gateway node args ${legNodeArgs.join(' ')}` : ''}`,
  );
  console.log(`code: ${codeVersion()}`);
  const redis = await ensureRedis();
  const startedSandbox = performance.now();
  let sandbox: SandboxProcess | null = null;
  let sandboxReadyMs: number | null = null;
  if (sandboxMode === 'own-process') {
    sandbox = await startSandboxProcess({
      users,
      groups,
      seed,
      latencyMs: latencies[0] ?? 0,
      dataDir: sandboxDataDir,
    });
    sandboxReadyMs = sandbox.readyMs ?? performance.now() - startedSandbox;
    console.log(
      `sandbox: own process (pid ${sandbox.pid}), ready in ${sec(sandboxReadyMs)}, RSS ${mbs(procStatus(sandbox.pid)?.rssBytes)} seeded and idle; Redis ${redis.url}${redis.started ? ' (started here)' : ''}`,
    );
  } else {
    console.log(
      `sandbox: in each leg's process, beside the gateway (same-process); Redis ${redis.url}${redis.started ? ' (started here)' : ''}`,
    );
  }
  const legs: LegRun[] = [];
  try {
    let index = 0;
    for (const latencyMs of latencies) {
      await sandbox?.admin.setLatency(latencyMs);
      for (const kind of dbs) {
        const label = `${kind} @${latencyMs}ms`;
        const leg: LegRun = { label, db: kind, latencyMs };
        legs.push(leg);
        let db: BenchDatabase;
        try {
          db = kind === 'sqlite' ? createSqlite() : await createPostgres();
        } catch (err) {
          leg.skipped = `no database: ${(err as Error).message}`;
          console.log(`${label}: SKIPPED (${leg.skipped})`);
          continue;
        }
        // Its own queue prefix, removed from Redis afterwards even if the leg dies.
        const queuePrefix = `bench-sync-${randomBytes(4).toString('hex')}`;
        console.log(`${label}: gateway on ${db.where}, queue prefix ${queuePrefix}`);
        try {
          leg.result = await runLeg(
            {
              label,
              database: db.config,
              latencyMs,
              sandboxMode,
              sandbox: sandbox?.info ?? null,
              sandboxPid: sandbox?.pid ?? null,
              tenant: { users, groups, seed, dataDir: sandboxDataDir },
              redisUrl: redis.url,
              queuePrefix,
              profileDir,
              logLevel,
              runTimeoutMs,
            },
            index++,
            sandbox,
            changes,
            legNodeArgs,
          );
        } catch (err) {
          leg.skipped = `failed: ${(err as Error).message}`;
          console.log(`${label}: FAILED (${(err as Error).message})`);
        } finally {
          await db
            .drop()
            .catch((err: Error) => console.log(`${label}: could not drop ${db.where}: ${err.message}`));
          await dropQueueKeys(redis.url, queuePrefix).catch((err: Error) =>
            console.log(`${label}: could not remove the Redis keys under ${queuePrefix}: ${err.message}`),
          );
        }
      }
    }
  } finally {
    await sandbox?.stop();
    redis.stop();
  }

  console.log('\n=== figures ===');
  report(legs, { users, groups, changes });
  console.log(
    [
      '',
      'Notes: wall time is measured from the GraphQL mutation (saveUserSyncRule / syncNow) to the moment the run',
      "reached its final phase (the gateway's progress callback, in the same process). Peak RSS is the kernel's",
      'high-water mark (VmHWM, reset at the start of each run) of the leg process, which holds the gateway and a thin',
      sandboxMode === 'own-process'
        ? 'harness only; the sandbox runs in a process of its own and is reported apart.'
        : 'harness, and the sandbox tenant (same-process): its memory and CPU are counted with the gateway.',
      'Lower bound (bench/support/lower-bound.ts): ⌈users/999⌉ user pages + ⌈groups/999⌉ group pages +',
      '⌈memberships/999⌉ member pages, memberships being the direct members of every group summed over the groups.',
      "Event-loop stall: the longest gap between ticks of a 10 ms timer in the leg process (role all: the gateway's",
      'API and workers), from the request to the end of the run (perf_hooks.monitorEventLoopDelay, max and p99);',
      'the longest stalls (≥ 100 ms) are placed in the stretches of the run listed below.',
    ].join('\n'),
  );
  console.log('\n=== where the time goes (per run) ===');
  breakdown(legs);
  writeResults<SyncFigures>('sync', {
    command: benchCommand('sync', argv),
    args: {
      users,
      groups,
      seed,
      latency: latencies,
      db: dbs,
      changes,
      sandbox: sandboxMode,
      profile: profileDir !== null,
      logLevel,
      gatewayNodeArgs: legNodeArgs,
      gatewayCode: legCode(),
    },
    figures: syncFigures(legs, {
      mode: sandboxMode,
      users,
      groups,
      seed,
      readyMs: sandboxReadyMs,
      readyRssMB: sandbox?.readyRssMB ?? null,
    }),
  });
  if (profileDir) {
    console.log(`\n=== CPU profiles (gateway process, main thread), in ${profileDir} ===`);
    for (const l of legs) {
      for (const p of l.result?.phases ?? []) {
        if (p.profile) console.log(`\n${formatSummary(p.profile, `${l.label}, ${p.phase}`, 20)}`);
        if (p.heap)
          console.log(
            `\n${formatHeapSummary(p.heap.summary, `${l.label}, ${p.phase}, heap at ${p.heap.at}`)}`,
          );
      }
    }
  }
}
