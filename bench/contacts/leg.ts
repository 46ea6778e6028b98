/**
 * One leg of `npm run bench -- contacts`: one database, in a process of its own (spawned by
 * bench/contacts.bench.ts with an IPC channel), so that its peak RSS is the gateway's alone.
 * Starts a real gateway (role all: API and workers here) on the database, connects it to the
 * sandbox (its own process), syncs the users (the extensions that own personal contacts), then
 * measures three contact runs: the first contact sync (saveContactSyncRule), a no-change re-sync
 * and a re-sync after the orchestrator changed contacts through the sandbox admin API. The Graph
 * requests of each run are counted at the sandbox (HTTP requests and `$batch` items).
 */
import { askBench } from '../support/leg-ipc.js';
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import { Agent } from 'undici';
import { createApiKey } from '../../src/app/access.js';
import { createPbx } from '../../src/app/pbx.js';
import { loadConfig } from '../../src/config.js';
import { type Gateway, startGateway } from '../../src/gateway.js';
import { SandboxAdminClient } from '../../src/sandbox/admin-client.js';
import type { SandboxInfo } from '../../src/sandbox/index.js';
import type { DatabaseConfig } from '../../src/store/orm.js';
import { type StallFigures, StallMonitor } from '../support/event-loop.js';
import {
  BENCH_USER_RULE,
  connectThroughSandbox,
  FINAL_STATUSES,
  failReasons,
  gql,
  saveUserSyncRule,
} from '../support/gateway-client.js';
import { type HeapSummary, type SamplingHeapProfile, summarizeHeapProfile } from '../support/heapprofile.js';
import { PeakMemory, type PeakReport } from '../support/proc.js';

export interface ContactsLegInput {
  label: string;
  database: DatabaseConfig;
  sandbox: SandboxInfo;
  sandboxPid: number;
  redisUrl: string;
  queuePrefix: string;
  logLevel: string;
  runTimeoutMs: number;
  /** take a sampling heap profile of each run at its highest heap (checked every second) */
  heapProfile?: boolean;
  /** instead: a sampling profile of every allocation of each run, garbage included (what makes the heap grow) */
  allocProfile?: boolean;
}

export type ContactPhase = 'users' | 'first' | 'nochange' | 'changes';

export interface ContactCounts {
  created: number;
  updated: number;
  deleted: number;
  skipped: number;
  failed: number;
}

export interface ContactRunView {
  id: string;
  status: string;
  mode: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
  message: string | null;
  graphRequests: number | null;
  contacts: ContactCounts | null;
}

export interface ContactPhaseResult {
  phase: ContactPhase;
  run: ContactRunView;
  /** mutation sent → run seen final (polled every 200 ms) */
  wallMs: number;
  runMs: number | null;
  /** what the sandbox counted during the phase */
  sandbox: {
    graphRequests: number;
    batchRequests: number;
    batchItems: number;
    /** answers 429 (an HTTP request or an item of a batch) */
    throttled: number;
    byKind: Record<string, number>;
  };
  memory: PeakReport;
  eventLoop: Omit<StallFigures, 'longest'>;
  load: [number, number];
  /** FAIL rows of the run by reason (first 2,000) */
  failReasons: Record<string, number>;
  tenantChange?: unknown;
  /** heap used and RSS once the run had ended and a full GC ran: what the gateway keeps */
  afterGc: { heapUsed: number; rss: number };
  /** with heapProfile: the live heap at the run's highest heap seen (sampled every second) */
  heap?: { summary: HeapSummary; at: string } | null;
}

export interface ContactsLegResult {
  label: string;
  database: string;
  baselineRss: number;
  idleGatewayRss: number;
  extensions: number;
  phases: ContactPhaseResult[];
}

const COUNTS = 'created updated deleted skipped failed';
const RUN = `id status mode startedAt finishedAt error message graphRequests contacts { ${COUNTS} }`;

async function getRun(url: string, key: string, id: string): Promise<ContactRunView> {
  const data = await gql<{ syncRun: ContactRunView | null }>(
    url,
    key,
    `query($id: ID!) { syncRun(id: $id) { ${RUN} } }`,
    { id },
  );
  if (!data.syncRun) throw new Error(`run ${id} vanished`);
  return data.syncRun;
}

async function waitFinal(url: string, key: string, id: string, timeoutMs: number): Promise<ContactRunView> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const run = await getRun(url, key, id);
    if (FINAL_STATUSES.has(run.status)) return run;
    if (Date.now() > until) throw new Error(`run ${id} did not end in ${timeoutMs} ms (${run.status})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** What a sandbox request path is, for the per-kind counts. */
function kindOf(key: string): string {
  if (/\/contacts\/delta$/.test(key)) return 'contact delta';
  if (/\/contactFolders\/contacts$/.test(key)) return 'default folder';
  if (/\/contactFolders$/.test(key)) return 'folder list';
  if (/^GET \/(users|groups)/.test(key)) return 'directory';
  return key.startsWith('POST /$batch') ? '$batch' : 'other';
}

async function main() {
  const input = JSON.parse(process.env.BENCH_LEG as string) as ContactsLegInput;
  const ask = askBench();
  const baselineRss = process.memoryUsage().rss;
  const log = (msg: string) => process.stderr.write(`[${input.label}] ${msg}\n`);
  const sandboxInfo = input.sandbox;
  const config = {
    ...loadConfig(
      {
        NODE_ENV: 'production',
        HOST: '127.0.0.1',
        PORT: '0',
        LOG_LEVEL: input.logLevel,
        REDIS_URL: input.redisUrl,
        QUEUE_PREFIX: input.queuePrefix,
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
  const caPem = readFileSync(sandboxInfo.caFile, 'utf8');
  const admin = new SandboxAdminClient(sandboxInfo.adminUrl, sandboxInfo.adminToken, caPem);
  const agent = new Agent({ connect: { ca: caPem } });
  try {
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
    await gql(
      gateway.url,
      key,
      'mutation { saveChangeTriggers(debounceSeconds: 86400, threshold: 100000, pollMinutes: 1440) { debounceSeconds } }',
    );
    log('connected');
    const idleGatewayRss = process.memoryUsage().rss;
    const memory = new PeakMemory(input.sandboxPid);
    const stalls = new StallMonitor(10, 100);
    // A full GC (HeapProfiler.collectGarbage: no --expose-gc needed) and heap profiles, in process.
    const session = new Session();
    session.connect();

    const measure = async (
      phase: ContactPhase,
      start: () => Promise<string>,
      extra: Partial<ContactPhaseResult> = {},
    ): Promise<ContactPhaseResult> => {
      await admin.resetStats();
      let heapRaw: { profile: SamplingHeapProfile; at: string } | null = null;
      let heapTimer: NodeJS.Timeout | undefined;
      let heapTaking: Promise<unknown> | null = null;
      if (input.allocProfile)
        await session.post('HeapProfiler.startSampling', {
          samplingInterval: 64 * 1024,
          includeObjectsCollectedByMajorGC: true,
          includeObjectsCollectedByMinorGC: true,
        });
      else if (input.heapProfile) {
        await session.post('HeapProfiler.startSampling', { samplingInterval: 64 * 1024 });
        let highest = 0;
        const began = performance.now();
        heapTimer = setInterval(() => {
          const used = process.memoryUsage().heapUsed;
          if (used <= highest * 1.05 || heapTaking) return;
          highest = used;
          const at = `${((performance.now() - began) / 1000).toFixed(0)} s into the run, heap ${Math.round(used / 1048576)} MB`;
          heapTaking = session
            .post('HeapProfiler.getSamplingProfile')
            .then((r) => {
              heapRaw = { profile: (r as { profile: SamplingHeapProfile }).profile, at };
            })
            .finally(() => {
              heapTaking = null;
            });
        }, 1000);
      }
      const load0 = os.loadavg()[0];
      await stalls.start();
      memory.start();
      const t0 = performance.now();
      const id = await start();
      const run = await waitFinal(gateway.url, key, id, input.runTimeoutMs);
      const wallMs = performance.now() - t0;
      const mem = memory.stop();
      const loop = await stalls.stop();
      if (heapTimer) clearInterval(heapTimer);
      if (heapTaking) await heapTaking;
      if (input.allocProfile) {
        const r = await session.post('HeapProfiler.getSamplingProfile');
        heapRaw = {
          profile: (r as { profile: SamplingHeapProfile }).profile,
          at: 'every allocation of the run',
        };
      }
      if (input.heapProfile || input.allocProfile) await session.post('HeapProfiler.stopSampling');
      await session.post('HeapProfiler.collectGarbage');
      const m = process.memoryUsage();
      const afterGc = { heapUsed: m.heapUsed, rss: m.rss };
      const heapAt = heapRaw as { profile: SamplingHeapProfile; at: string } | null;
      const stats = await admin.stats();
      const byKind: Record<string, number> = {};
      for (const [k, v] of Object.entries(stats.graphByPath))
        byKind[kindOf(k)] = (byKind[kindOf(k)] ?? 0) + v;
      for (const [k, v] of Object.entries(stats.batchItemsByPath))
        byKind[`in $batch: ${kindOf(k)}`] = (byKind[`in $batch: ${kindOf(k)}`] ?? 0) + v;
      const runMs =
        run.startedAt && run.finishedAt ? Date.parse(run.finishedAt) - Date.parse(run.startedAt) : null;
      log(
        `${phase}: ${run.status} in ${(wallMs / 1000).toFixed(1)} s, ${stats.graphRequests} Graph requests at the sandbox (${stats.throttled} throttled)${run.error ? `, error: ${run.error}` : ''}`,
      );
      const { longest: _longest, ...eventLoop } = loop;
      return {
        phase,
        run,
        wallMs,
        runMs,
        sandbox: {
          graphRequests: stats.graphRequests,
          batchRequests: stats.graphByPath['POST /$batch'] ?? 0,
          batchItems: Object.values(stats.batchItemsByPath).reduce((a, b) => a + b, 0),
          throttled: stats.throttled,
          byKind,
        },
        memory: mem,
        eventLoop,
        load: [load0, os.loadavg()[0]],
        failReasons: await failReasons(gateway.url, key, id),
        afterGc,
        heap: heapAt ? { summary: summarizeHeapProfile(heapAt.profile, 15), at: heapAt.at } : null,
        ...extra,
      };
    };

    const phases: ContactPhaseResult[] = [];
    phases.push(
      await measure('users', async () => {
        const run = await saveUserSyncRule(gateway.url, key, BENCH_USER_RULE);
        if (!run) throw new Error('saving the user rule started no run');
        return run.id;
      }),
    );
    const extensions = (await gateway.openStore().directory.listExtensions(pbx.id)).length;
    const sharedMailboxIds = (await admin.listSharedMailboxes()).map((m) => m.userId);
    phases.push(
      await measure('first', async () => {
        const data = await gql<{ saveContactSyncRule: { initialRun: { id: string } | null } }>(
          gateway.url,
          key,
          'mutation($input: ContactSyncRuleInput!) { saveContactSyncRule(input: $input) { initialRun { id } } }',
          {
            input: {
              personalEnabled: true,
              personalRange: 'ALL',
              sharedEnabled: sharedMailboxIds.length > 0,
              sharedRange: 'SPECIFIC',
              sharedMailboxIds,
              phonebookName: 'Shared contacts',
            },
          },
        );
        const run = data.saveContactSyncRule.initialRun;
        if (!run) throw new Error('saving the contact rule started no run');
        return run.id;
      }),
    );
    const syncContacts = async () =>
      (
        await gql<{ syncNow: { id: string } }>(
          gateway.url,
          key,
          'mutation { syncNow(scopes: [CONTACTS]) { id } }',
        )
      ).syncNow.id;
    phases.push(await measure('nochange', syncContacts));
    const tenantChange = await ask('change');
    phases.push(await measure('changes', syncContacts, { tenantChange }));
    const out: ContactsLegResult = {
      label: input.label,
      database: input.database.kind,
      baselineRss,
      idleGatewayRss,
      extensions,
      phases,
    };
    await ask('result', out);
  } finally {
    await agent.close().catch(() => {});
    await admin.close().catch(() => {});
    await gateway.stop().catch((err: Error) => log(`stop: ${err.message}`));
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
