/**
 * One leg of `npm run bench -- sync`: one database at one sandbox latency, in a process of
 * its own (spawned by bench/sync.bench.ts with an IPC channel), so that its peak RSS is the
 * gateway's alone. Starts a real gateway (role all: API and workers in this process) on the given
 * database, connects it to the sandbox as the tests do, saves the user rule (ALL, AUTO from 1000)
 * and measures the initial full sync, a no-change re-sync and a re-sync after the orchestrator
 * changed users. With `--sandbox same-process` the sandbox tenant is started here too, beside the
 * gateway, as `npm run demo` does (its memory and CPU are then the gateway process's).
 * The event loop of this process (the gateway's workers) is watched during each run.
 */
import { askBench } from '../support/leg-ipc.js';
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import path from 'node:path';
import { Agent } from 'undici';
import { createApiKey } from '../../src/app/access.js';
import { createPbx } from '../../src/app/pbx.js';
import { loadConfig } from '../../src/config.js';
import { type Gateway, startGateway } from '../../src/gateway.js';
import { SandboxAdminClient } from '../../src/sandbox/admin-client.js';
import { type Sandbox, type SandboxInfo, startSandbox } from '../../src/sandbox/index.js';
import type { DatabaseConfig } from '../../src/store/orm.js';
import { type CpuProfile, type ProfileSummary, summarizeProfile } from '../support/cpuprofile.js';
import { type StallFigures, StallMonitor } from '../support/event-loop.js';
import {
  BENCH_USER_RULE,
  connectThroughSandbox,
  FINAL_STATUSES,
  failReasons,
  getRun,
  gql,
  listRuns,
  type RunView,
  saveUserSyncRule,
  syncNow,
} from '../support/gateway-client.js';
import { type HeapSummary, type SamplingHeapProfile, summarizeHeapProfile } from '../support/heapprofile.js';
import { PeakMemory, type PeakReport } from '../support/proc.js';
import { SourceMaps } from '../support/sourcemaps.js';
import { instrumentGateway, Timeline } from './instrument.js';
import { type Segment, segmentAt, segmentsOf } from './segments.js';

/** Where the sandbox tenant runs: a process of its own (the default), or the gateway's (as the demo). */
export type SandboxMode = 'own-process' | 'same-process';

export interface LegInput {
  label: string;
  database: DatabaseConfig;
  latencyMs: number;
  sandboxMode: SandboxMode;
  /** own-process: the orchestrator's sandbox */
  sandbox: SandboxInfo | null;
  sandboxPid: number | null;
  /** same-process: the tenant the leg seeds for itself */
  tenant: { users: number; groups: number; seed: number; dataDir: string };
  redisUrl: string;
  /** The gateway's QUEUE_PREFIX (its queues, schedulers and topics); the orchestrator removes its keys afterwards. */
  queuePrefix: string;
  /** Directory for per-run .cpuprofile files, or null. */
  profileDir: string | null;
  logLevel: string;
  runTimeoutMs: number;
}

export type PhaseName = 'full' | 'nochange' | 'changes';

export interface PhaseResult {
  phase: PhaseName;
  run: RunView;
  /** request sent → run reached its final phase (ms) */
  wallMs: number;
  /** startedAt → finishedAt as the run records them (ms) */
  runMs: number | null;
  /** Graph requests the sandbox counted during the phase (cross-check of run.graphRequests) */
  sandboxGraphRequests: number | null;
  sandboxThrottled: number | null;
  memory: PeakReport;
  segments: Segment[];
  profile: ProfileSummary | null;
  profileFile: string | null;
  /** sampling heap profile taken at the run's highest heap seen at a progress event (with --profile) */
  heap: { summary: HeapSummary; at: string } | null;
  /** heap used and RSS once the run had ended and a full GC ran: what the gateway keeps */
  afterGc: { heapUsed: number; rss: number } | null;
  /** 1-minute load average at the start and at the end of the run (other processes on the machine) */
  load: [number, number];
  /** in which stretch of the run the sampled RSS and heap peaks were seen */
  peakAt: { rss: string; heap: string };
  /**
   * event-loop stalls of this process (the gateway's workers, role all) from the request to the
   * run's end; the longest ones with when they began (ms after the request) and in which stretch
   */
  eventLoop: Omit<StallFigures, 'longest'> & {
    longest: Array<{ afterMs: number; ms: number; where: string }>;
  };
  /** FAIL items of the run by reason (first 2,000 items) */
  failReasons?: Record<string, number>;
  /** what the orchestrator did to the tenant before this phase */
  tenantChange?: unknown;
  lowerBound?: unknown;
}

export interface LegResult {
  label: string;
  database: string;
  latencyMs: number;
  /** RSS of the leg process with every module loaded (node, tsx, the gateway's code), before startGateway */
  baselineRss: number;
  /** RSS once the gateway had started and connected, before the first sync */
  idleGatewayRss: number;
  sandboxMode: SandboxMode;
  /** same-process: the sandbox's start (seeding) time and the RSS it added to this process */
  sandboxInProcess: { readyMs: number; rssBytes: number } | null;
  phases: PhaseResult[];
  /** how change notifications / polls were kept from starting runs of their own */
  changeTriggers: string;
  /** runs of the PBX the bench did not ask for (poll, change notifications), if any */
  otherRuns: Array<{ id: string; trigger: string; status: string }>;
}

/** The stretches of a run a stall spans, in order ("Graph reads → apply user changes: …"). */
function stretchesOver(segments: readonly Segment[], t0: number, from: number, to: number): string {
  const labels: string[] = [];
  for (const s of segments) {
    if (s.from === undefined || s.from >= to || s.from + s.ms <= from) continue;
    const label = s.label.startsWith('Graph ') ? 'Graph reads' : s.label;
    if (labels.at(-1) !== label) labels.push(label);
  }
  return labels.length > 0 ? labels.join(' → ') : segmentAt(segments, t0, from);
}

const RULE = BENCH_USER_RULE;

/**
 * The changes the orchestrator makes must be read by the measured syncNow, not by a run that
 * change notifications (T2) or the delta poll start on their own: push the debounce window,
 * the threshold and the poll interval to their maximum through the API, as an admin could.
 * Without that mutation, forget the sandbox's subscriptions so that no notification comes.
 */
async function quietChangeTriggers(url: string, key: string, admin: SandboxAdminClient): Promise<string> {
  try {
    await gql(
      url,
      key,
      'mutation { saveChangeTriggers(debounceSeconds: 86400, threshold: 100000, pollMinutes: 1440) { debounceSeconds } }',
    );
    return 'saveChangeTriggers(debounce 86400 s, threshold 100000, poll 1440 min)';
  } catch (err) {
    const { removed } = await admin.resetSubscriptions();
    return `sandbox subscriptions reset (${removed}): ${(err as Error).message.slice(0, 80)}`;
  }
}

async function main() {
  const input = JSON.parse(process.env.BENCH_LEG as string) as LegInput;
  const ask = askBench();
  const baselineRss = process.memoryUsage().rss;
  const log = (msg: string) => process.stderr.write(`[${input.label}] ${msg}\n`);

  const queuePrefix = input.queuePrefix;
  let ownSandbox: Sandbox | null = null;
  let sandboxInProcess: LegResult['sandboxInProcess'] = null;
  let sandboxInfo: SandboxInfo;
  if (input.sandboxMode === 'same-process') {
    const t = performance.now();
    const rss = process.memoryUsage().rss;
    ownSandbox = await startSandbox({
      port: 0,
      users: input.tenant.users,
      groups: input.tenant.groups,
      seed: input.tenant.seed,
      dataDir: input.tenant.dataDir,
      latencyMs: input.latencyMs,
      autoSignIn: true,
    });
    sandboxInProcess = { readyMs: performance.now() - t, rssBytes: process.memoryUsage().rss - rss };
    sandboxInfo = ownSandbox.info;
    // The orchestrator counts and changes the tenant through its admin API, as in the other mode.
    await ask('sandbox', sandboxInfo);
    log(`sandbox in this process, ready in ${(sandboxInProcess.readyMs / 1000).toFixed(1)} s`);
  } else {
    if (!input.sandbox) throw new Error('own-process: no sandbox given');
    sandboxInfo = input.sandbox;
  }
  const config = {
    ...loadConfig(
      {
        NODE_ENV: 'production',
        HOST: '127.0.0.1',
        PORT: '0',
        LOG_LEVEL: input.logLevel,
        REDIS_URL: input.redisUrl,
        QUEUE_PREFIX: queuePrefix,
        SECRET_KEY: randomBytes(32).toString('hex'),
        MS_AUTHORITY_HOST: sandboxInfo.authorityHost,
        MS_GRAPH_BASE_URL: sandboxInfo.graphBaseUrl,
        MS_EXTRA_CA_FILE: sandboxInfo.caFile,
      },
      ['--role', 'all'],
    ),
    database: input.database,
  };
  const gateway: Gateway = await startGateway(config);
  const timeline = new Timeline();
  instrumentGateway(gateway, timeline);
  const caPem = readFileSync(sandboxInfo.caFile, 'utf8');
  const admin = new SandboxAdminClient(sandboxInfo.adminUrl, sandboxInfo.adminToken, caPem);
  const agent = new Agent({ connect: { ca: caPem } });
  const session = new Session();
  if (input.profileDir) {
    mkdirSync(input.profileDir, { recursive: true });
    session.connect();
    await session.post('Profiler.enable');
  }
  try {
    // A PBX big enough for the tenant (extensionCapacity at its maximum) whose public URL is
    // the gateway, so that the consent redirect lands here.
    const store = gateway.openStore();
    const pbx = await createPbx(store, {
      name: `Bench ${input.label}`,
      extensionCapacity: 1_000_000,
      publicBaseUrl: gateway.url,
    });
    const { key } = await createApiKey(store, { pbxId: pbx.id, role: 'admin', label: 'bench' });
    await admin.addRedirectUri(sandboxInfo.clientId, `${gateway.url}/oauth/microsoft/callback`);
    const adminUser = (await admin.listUsers({ top: 20 })).value.find((u) => u.isAdmin);
    if (!adminUser) throw new Error('the sandbox has no admin user');
    const result = await connectThroughSandbox(
      gateway.url,
      key,
      sandboxInfo,
      adminUser.userPrincipalName,
      agent,
    );
    if (result !== 'CONNECTED') throw new Error(`connect ended ${result}`);
    log('connected');
    // Let what connecting starts (subscription upkeep) settle before measuring.
    await new Promise((r) => setTimeout(r, 1000));
    const changeTriggers = await quietChangeTriggers(gateway.url, key, admin);
    const idleGatewayRss = process.memoryUsage().rss;
    const memory = new PeakMemory(input.sandboxMode === 'own-process' ? input.sandboxPid : null);
    const stalls = new StallMonitor(10, 100);

    const measure = async (
      phase: PhaseName,
      start: () => Promise<RunView | null>,
      extra: Partial<PhaseResult> = {},
    ) => {
      await admin.resetStats();
      let heapRaw: { profile: SamplingHeapProfile; at: string } | null = null;
      let heapTaking: Promise<unknown> | null = null;
      if (input.profileDir) {
        await session.post('Profiler.start');
        await session.post('HeapProfiler.startSampling', { samplingInterval: 64 * 1024 });
        let highest = 0;
        // In-process inspector sessions answer synchronously: the sample is of this very moment.
        timeline.onProgress = (run) => {
          const used = process.memoryUsage().heapUsed;
          if (used <= highest * 1.05) return;
          highest = used;
          const at = `${run.phase}${run.phase === 'APPLYING' ? ` ${run.done}/${run.total}` : ''}, heap ${Math.round(used / 1048576)} MB`;
          heapTaking = session.post('HeapProfiler.getSamplingProfile').then((r) => {
            heapRaw = { profile: (r as { profile: SamplingHeapProfile }).profile, at };
          });
        };
      }
      const load0 = os.loadavg()[0];
      await stalls.start();
      memory.start();
      const t0 = performance.now();
      const queued = await start();
      if (!queued) throw new Error(`${phase}: no run was started`);
      const t1 = await timeline.finished(queued.id, input.runTimeoutMs);
      const mem = memory.stop();
      const loop = await stalls.stop();
      const load: [number, number] = [load0, os.loadavg()[0]];
      timeline.onProgress = null;
      if (heapTaking) await heapTaking;
      if (input.profileDir) await session.post('HeapProfiler.stopSampling');
      let profileFile: string | null = null;
      if (input.profileDir) {
        const { profile: p } = (await session.post('Profiler.stop')) as { profile: CpuProfile };
        profileFile = path.join(
          input.profileDir,
          `${input.label.replace(/[^\w.-]+/g, '_')}-${phase}.cpuprofile`,
        );
        writeFileSync(profileFile, JSON.stringify(p));
        raw.set(phase, { cpu: p, heap: heapRaw });
      }
      // The run as the API shows it (as the tests read it).
      let run = await getRun(gateway.url, key, queued.id);
      for (let i = 0; i < 50 && run && !FINAL_STATUSES.has(run.status); i++) {
        await new Promise((r) => setTimeout(r, 100));
        run = await getRun(gateway.url, key, queued.id);
      }
      if (!run) throw new Error(`${phase}: run ${queued.id} vanished`);
      const stats = await admin.stats();
      const gc = (globalThis as { gc?: () => void }).gc;
      let afterGc: PhaseResult['afterGc'] = null;
      if (gc) {
        gc();
        const m = process.memoryUsage();
        afterGc = { heapUsed: m.heapUsed, rss: m.rss };
      }
      const segments = segmentsOf(timeline.events, queued.id, t0, t1);
      const runMs =
        run.startedAt && run.finishedAt ? Date.parse(run.finishedAt) - Date.parse(run.startedAt) : null;
      log(
        `${phase}: ${run.status} ${run.mode} in ${((t1 - t0) / 1000).toFixed(1)} s, ${run.graphRequests} Graph requests${run.error ? `, error: ${run.error}` : ''}`,
      );
      return {
        phase,
        run,
        wallMs: t1 - t0,
        runMs,
        sandboxGraphRequests: stats.graphRequests,
        sandboxThrottled: stats.throttled,
        memory: mem,
        segments,
        peakAt: {
          rss: segmentAt(segments, t0, mem.sampledRssAt),
          heap: segmentAt(segments, t0, mem.sampledHeapAt),
        },
        eventLoop: {
          ...loop,
          longest: loop.longest.map((l) => ({
            afterMs: Math.round(l.at - t0),
            ms: l.ms,
            where: stretchesOver(segments, t0, l.at, l.at + l.ms),
          })),
        },
        profile: null,
        profileFile,
        heap: null,
        afterGc,
        load,
        ...extra,
      } satisfies PhaseResult;
    };

    const raw = new Map<
      PhaseName,
      { cpu: CpuProfile; heap: { profile: SamplingHeapProfile; at: string } | null }
    >();
    const phases: PhaseResult[] = [];
    const lowerBound = await ask('lowerBound');
    phases.push(await measure('full', () => saveUserSyncRule(gateway.url, key, RULE), { lowerBound }));
    phases[0].failReasons = await failReasons(gateway.url, key, phases[0].run.id);
    phases.push(await measure('nochange', () => syncNow(gateway.url, key)));
    const tenantChange = await ask('change');
    phases.push(await measure('changes', () => syncNow(gateway.url, key), { tenantChange }));

    if (input.profileDir) {
      // Summaries with TypeScript lines: tsx's inline source maps, as V8 reports them.
      const maps = new SourceMaps();
      session.on('Debugger.scriptParsed', (m) => {
        if (m.params.sourceMapURL) maps.add(m.params.url, m.params.sourceMapURL);
      });
      await session.post('Debugger.enable');
      await session.post('Debugger.disable');
      // Kept beside the .cpuprofile files, for `npm run bench -- cpuprofile FILE`.
      writeFileSync(
        path.join(input.profileDir, `${input.label.replace(/[^\w.-]+/g, '_')}-sourcemaps.json`),
        JSON.stringify(maps),
      );
      for (const p of phases) {
        const r = raw.get(p.phase);
        if (!r) continue;
        p.profile = summarizeProfile(r.cpu, 30, maps);
        if (r.heap) p.heap = { summary: summarizeHeapProfile(r.heap.profile, 15, maps), at: r.heap.at };
      }
    }
    const asked = new Set(phases.map((p) => p.run.id));
    const otherRuns = (await listRuns(gateway.url, key, 100))
      .filter((r) => !asked.has(r.id))
      .map((r) => ({ id: r.id, trigger: r.trigger, status: r.status }));
    const out: LegResult = {
      label: input.label,
      database: input.database.kind,
      latencyMs: input.latencyMs,
      baselineRss,
      idleGatewayRss,
      sandboxMode: input.sandboxMode,
      sandboxInProcess,
      changeTriggers,
      phases,
      otherRuns,
    };
    await ask('result', out);
  } finally {
    if (input.profileDir) session.disconnect();
    await agent.close().catch(() => {});
    await admin.close().catch(() => {});
    await gateway.stop().catch((err: Error) => log(`stop: ${err.message}`));
    await ownSandbox?.close().catch((err: Error) => log(`sandbox stop: ${err.message}`));
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`leg failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.send?.({ type: 'failed', error: err instanceof Error ? err.message : String(err) });
    setTimeout(() => process.exit(1), 200);
  },
);
