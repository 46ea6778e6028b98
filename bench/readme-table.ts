/**
 * `npm run bench:readme [-- --check]`: writes the README's performance figures, between
 * `<!-- bench:begin -->` and `<!-- bench:end -->`, from bench/results/*.json (what the benches
 * write, bench/support/results.ts). A figure with no file behind it keeps the value the README
 * had before the figures were kept in files, marked "(not re-measured)". With --check it writes
 * nothing and exits 1 when the README differs from what the files say.
 *
 * The same files give the same section (no date of generation in it), so it can run in CI.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FleetFigures } from './fleet.bench.js';
import type { FloodFigures } from './flood.bench.js';
import type { SsoFigures } from './linkus-sso.bench.js';
import type { LookupFigures } from './lookup.bench.js';
import type { PropagationFigures, PropagationLeg } from './propagation.bench.js';
import type { FullReadLowerBound } from './support/lower-bound.js';
import { type BenchResult, readResults, resultsDir } from './support/results.js';
import { type SyncFigures, type SyncPhaseFigures, TARGETS } from './sync.bench.js';

const BEGIN = '<!-- bench:begin -->';
const END = '<!-- bench:end -->';
const README = path.resolve('README.md');

/**
 * The README's figures from before they were written to files (README at b0727d1, measured at
 * d304528 and 57ed826), for the rows no file covers yet. The full read's lower bound is given by
 * the one definition (bench/support/lower-bound.ts): the same tenant (seed 42, 100,000 / 5,000) gave
 * 432 in the sync bench of that time.
 */
const PREVIOUS = {
  size: { users: 100_000, groups: 5_000 },
  sandboxReady: '4.3 s, 325 MB RSS',
  fullRead: '428 Graph requests (0.99 × the lower bound 432)',
  propagation: 'p50 0.39 s, p95 0.63 s, max 0.95 s (target p95 ≤ 5 s)',
  planner: 'first sync ~260 ms, no-change ~170 ms, 1,000 changes ~215 ms',
  mail: 'about 900 a second through the pooled SMTP connections, 37 a second with a connection per message: 100,000 in about 2 minutes',
  sync: {
    sqlite: {
      full: '13.2 s, 428 Graph requests (0.99 × the lower bound 432)',
      nochange: '0.09 s, 2 requests',
      changes: '3.3 s, 3 requests',
      rss: '448 / 577 MB',
    },
    postgresql: {
      full: '19.2 s, 427 requests',
      nochange: '0.12 s, 2 requests',
      changes: '4.1 s, 3 requests',
      rss: '472 / 584 MB',
    },
  },
  latency300:
    'With 300 ms of latency per Graph request the first full sync on SQLite took 119 s (about 430 sequential pages; measured before the bound-value inserts); re-syncs stay under 5 s.',
};
const STALE = '(not re-measured)';

/** How the bench's legs ran the gateway (bench/support/leg-ipc.ts `legCode`). */
const codeOf = (r: BenchResult) =>
  (r.args as { gatewayCode?: string }).gatewayCode === 'compiled'
    ? 'compiled, as `npm start` runs it'
    : 'under tsx (~80 MB more RSS than compiled)';

/** What bench/results/contacts.json holds of a phase (bench/contacts.bench.ts). */
interface ContactsPhase {
  status: string;
  wallMs: number;
  contacts: { created: number; skipped: number; failed: number } | null;
  sandbox: { graphRequests: number; batchRequests: number; throttled: number };
  peakRssBytes: number;
}
interface ContactsFigures {
  targets: { firstSyncMs: number; noChangeMs: number; noChangeRequests: number; peakRssBytes: number };
  legs: {
    label: string;
    skipped: string | null;
    phases: Partial<Record<'first' | 'nochange' | 'changes', ContactsPhase>>;
  }[];
}

// ------------------------------------------------------------------ formatting

const DB_NAME: Record<string, string> = { sqlite: 'SQLite', postgresql: 'PostgreSQL' };

/** bench/results/propagation.json from before its legs (one database, no latency). */
interface LegacyPropagation {
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  targetP95Ms: number;
  added?: PropagationLeg['added'];
  eventLoop?: PropagationLeg['eventLoop'];
}

function propagationLegs(r: BenchResult<PropagationFigures | LegacyPropagation>): PropagationLeg[] {
  const f = r.figures;
  if ('legs' in f) return f.legs;
  const a = r.args as { database?: string };
  return [
    {
      ...f,
      db: a.database === 'postgresql' ? 'postgresql' : 'sqlite',
      latencyMs: 0,
      latenciesMs: [],
      added: f.added ?? null,
      eventLoop: f.eventLoop as PropagationLeg['eventLoop'],
      breakdown: null,
    },
  ];
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const sec = (ms: number) => `${(ms / 1000).toFixed(ms < 1000 ? 2 : 1)} s`;
const mb = (bytes: number) => `${int(bytes / 1048576)} MB`;
/** a target: 60000 → "60 s" */
const targetSec = (ms: number) => `${ms / 1000} s`;
const cell = (s: string) => s.replace(/\|/g, '\\|');
const row = (cells: string[]) => `| ${cells.map(cell).join(' | ')} |`;
const code = (s: string) => `\`${s}\``;

function source(name: string, r: BenchResult): string {
  const m = r.machine;
  return `\`bench/results/${name}.json\`: commit ${r.commit}, ${r.date.slice(0, 10)}, ${m.cpu} × ${m.cores}, ${int(m.memoryBytes / 1024 ** 3)} GB, node ${m.node}${r.loadAverage ? `, load average ${r.loadAverage[0]}` : ''}`;
}

// ------------------------------------------------------------------ rows

interface Section {
  lines: string[];
  sources: string[];
}

function firstTable(results: Map<string, BenchResult>, out: Section) {
  const rows: string[][] = [];
  const used = (name: string) => {
    const r = results.get(name);
    if (r) out.sources.push(source(name, r));
    return r;
  };

  const sync = results.get('sync') as BenchResult<SyncFigures> | undefined;
  const sb = sync?.figures.sandbox;
  if (sb && sb.mode === 'own-process' && sb.readyMs != null) {
    rows.push([
      `sandbox tenant with ${int(sb.users)} users / ${int(sb.groups)} groups ready`,
      `${sec(sb.readyMs)}${sb.readyRssMB != null ? `, ${int(sb.readyRssMB)} MB RSS` : ''}`,
      code(`npm run sandbox -- --users ${sb.users} --groups ${sb.groups}`),
    ]);
  } else {
    rows.push([
      'sandbox tenant with 100,000 users ready',
      `${PREVIOUS.sandboxReady} ${STALE}`,
      code('npm run sandbox -- --users 100000'),
    ]);
  }

  const reader = used('reader') as
    | BenchResult<{ lowerBound: FullReadLowerBound; fullReads: Array<Record<string, number | string>> }>
    | undefined;
  const delta = reader?.figures.fullReads.find((f) => f.groupRead === 'delta');
  if (reader && delta) {
    const lb = reader.figures.lowerBound;
    rows.push([
      `full directory read, ${int(lb.users)} users / ${int(lb.groups)} groups`,
      `${int(delta.requests as number)} Graph requests (${(delta.overLowerBound as number).toFixed(2)} × the lower bound ${int(lb.requests)})`,
      code(reader.command),
    ]);
  } else {
    rows.push([
      'full directory read, 100,000 users / 5,000 groups',
      `${PREVIOUS.fullRead} ${STALE}`,
      code('npx tsx test/m365/measure-reader.ts --users 100000 --groups 5000'),
    ]);
  }

  const prop = used('propagation') as BenchResult<PropagationFigures | LegacyPropagation> | undefined;
  if (prop) {
    const a = prop.args as { changes: number; adds?: number; users?: number; debounceSeconds: number };
    for (const leg of propagationLegs(prop)) {
      // Two decimals: a p95 of 1,030 ms against a target of 1 s must not read "1.0 s".
      const s2 = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
      const spread = (f: { p50Ms: number; p95Ms: number; maxMs: number }) =>
        `p50 ${s2(f.p50Ms)}, p95 ${s2(f.p95Ms)}${f.p95Ms > leg.targetP95Ms ? ' (TARGET MISSED)' : ''}, max ${s2(f.maxMs)}`;
      const b = leg.breakdown;
      const seen = (ms: number) =>
        ms >= 0
          ? `seen ${int(ms)} ms after the run ended`
          : `seen ${int(-ms)} ms before the run recorded its end`;
      rows.push([
        `change propagation at ${a.users ? `${int(a.users)} users` : 'the sandbox tenant'} (${int(a.changes)} changes${leg.added ? `, ${int(a.adds ?? leg.added.latenciesMs.length)} added users` : ''}, notifications, ${a.debounceSeconds} s debounce; ${DB_NAME[leg.db] ?? leg.db}, ${leg.latencyMs} ms latency${codeOf(prop).startsWith('compiled') ? `, ${codeOf(prop)}` : ''}), load average ${prop.loadAverage[0]}`,
        leg.error
          ? `not measured: ${leg.error.split('\n')[0]}`
          : `changed: ${spread(leg)}${leg.added ? `; added: ${spread(leg.added)}` : ''} (target p95 ≤ ${targetSec(leg.targetP95Ms)})${b ? `; a change's p50: ${int(b.toQueued.p50Ms)} ms to its run queued, ${int(b.wait.p50Ms)} ms waiting, ${int(b.run.p50Ms)} ms running (${b.graphRequests.p50} Graph requests), ${seen(b.toSeen.p50Ms)}` : ''}; longest event-loop stall ${int(leg.eventLoop?.maxMs ?? 0)} ms`,
        code(prop.command),
      ]);
    }
  } else {
    rows.push([
      'change propagation (50 changes, notifications, 0 s debounce)',
      `${PREVIOUS.propagation} ${STALE}`,
      code('npm run bench -- propagation'),
    ]);
  }

  const planner = used('planner') as
    | BenchResult<{ measurements: Record<string, { medianMs: number; runsMs: number[] }> }>
    | undefined;
  if (planner) {
    const m = planner.figures.measurements;
    const a = planner.args as { users: number; groups: number; changes: number; runs: number };
    const ms = (k: string) => (m[k] ? `${int(m[k].medianMs)} ms` : 'n/a');
    rows.push([
      `pure planners, ${int(a.users)} users`,
      `first sync ${ms('users.first')}, no-change ${ms('users.nochange')}, ${int(a.changes)} changes ${ms('users.changes')} (median of ${a.runs}); groups (${int(a.groups)}): first ${ms('groups.first')}, no-change ${ms('groups.nochange')}`,
      code(planner.command),
    ]);
  } else {
    rows.push([
      'pure planners, 100,000 users',
      `${PREVIOUS.planner} ${STALE}`,
      code('npm run bench -- planner'),
    ]);
  }

  const insert = used('insert') as
    | BenchResult<Record<string, Record<string, { ms: number }> | { skipped: string }>>
    | undefined;
  if (insert) {
    const a = insert.args as { rows: number };
    const parts: string[] = [];
    for (const [db, t] of Object.entries(insert.figures)) {
      if ('skipped' in t) continue;
      const s = (k: string) => (t[k] ? sec(t[k].ms as number) : 'n/a');
      const name = db === 'sqlite' ? 'SQLite' : db === 'postgresql' ? 'PostgreSQL' : db;
      parts.push(
        `${name}: extensions ${s('extensions.gateway')} (bound values ${s('extensions.bound')}), snapshot ${s('snapshot.gateway')} (${s('snapshot.bound')})`,
      );
    }
    rows.push([
      `bulk writes of a first sync, ${int(a.rows)} rows, as the gateway does them (and with bound values only)`,
      parts.join('; '),
      code(insert.command),
    ]);
  }

  const mail = used('mail') as
    | BenchResult<{
        pooledPerSecond: number;
        perMessagePerSecond: number;
        minutesFor100k: { pooled: number };
      }>
    | undefined;
  if (mail) {
    const f = mail.figures;
    rows.push([
      'welcome emails (U6) to a local SMTP server',
      `${int(f.pooledPerSecond)} a second through the pooled SMTP connections, ${int(f.perMessagePerSecond)} a second with a connection per message: 100,000 in about ${f.minutesFor100k.pooled.toFixed(1)} min`,
      code(mail.command),
    ]);
  } else {
    rows.push([
      'welcome emails (U6) to a local SMTP server',
      `${PREVIOUS.mail} ${STALE}`,
      code('npm run bench -- mail'),
    ]);
  }

  const flood = used('flood') as BenchResult<FloodFigures> | undefined;
  if (flood) {
    const f = flood.figures.flood;
    const one = flood.figures.oneSource;
    const answers = (a: Record<string, number>) =>
      Object.entries(a)
        .map(([status, n]) => `${int(n)} × ${status}`)
        .join(', ');
    rows.push([
      `public webhook under a flood: ${int(f.bodies)} bodies × ${int(f.itemsPerBody)} forged items from ${int(f.clients)} clients (loopback sources in turn), load average ${flood.loadAverage[0]}`,
      `answered in ${sec(f.seconds * 1000)} (${answers(f.answers)}); during it, over ${int(f.healthzMs.count)} probes each, /healthz p50 ${f.healthzMs.p50} / p99 ${f.healthzMs.p99} ms, GraphQL p50 ${f.graphqlMs.p50} / p99 ${f.graphqlMs.p99} ms (target p99 ≤ ${flood.figures.targetP99Ms} ms; before the flood ${flood.figures.baseline ? `${flood.figures.baseline.healthzMs.p99} / ${flood.figures.baseline.graphqlMs.p99} ms` : 'not measured'})${f.eventLoopDelayMs ? `, gateway event-loop delay p99 ${f.eventLoopDelayMs.p99} / max ${f.eventLoopDelayMs.max} ms (its ${f.eventLoopTimerMs} ms timer included)` : ''}; ${f.subscriptionCacheLoads} database read, backlog ${f.systemQueueBacklogMax} jobs, ${int(f.gatewayCpuMs)} ms of gateway CPU; from one source: ${answers(one.answers)}; ${int(flood.figures.replay.bodies)} replays of a valid notification: ${flood.figures.replay.runsStarted} run`,
      code(flood.command),
    ]);
  }

  const lookup = used('lookup') as BenchResult<LookupFigures> | undefined;
  if (lookup) {
    const t = lookup.figures.targets;
    const contacts = int(Number((lookup.args as { contacts?: number }).contacts ?? 0));
    for (const db of ['sqlite', 'postgresql'] as const) {
      const leg = lookup.figures[db];
      if (!leg) continue;
      const { inProcess: l, http: h } = leg;
      rows.push([
        `Linkus lookups at ${contacts} contacts (${db}${codeOf(lookup).startsWith('compiled') ? `, ${codeOf(lookup)}` : ''}${(lookup.args as { gatewayNodeEnv?: string }).gatewayNodeEnv ? `, NODE_ENV=${(lookup.args as { gatewayNodeEnv?: string }).gatewayNodeEnv}` : ''}), load average ${lookup.loadAverage[0]}`,
        `lookupCaller p50 ${l.lookupMs.p50} / p99 ${l.lookupMs.p99} ms (target p99 ≤ ${t.lookupP99Ms} ms); searchContacts p50 ${l.searchMs.p50} / p99 ${l.searchMs.p99} ms (target ≤ ${t.searchP99Ms} ms); over HTTP, ${h.clients} clients: ${h.get ? `GET /linkus/lookup/caller ${int(h.get.lookupsPerSecond)} lookups/s, p99 ${h.get.latencyMs.p99} ms; GraphQL ` : ''}${int(h.lookupsPerSecond)} lookups/s, p99 ${h.latencyMs.p99} ms (target ≥ ${int(t.httpPerSecond)}/s, p99 ≤ ${t.httpP99Ms} ms), the gateway's floor \`{ __typename }\` ${int(h.baseline.perSecond)}/s`,
        code(lookup.command),
      ]);
    }
  }

  const contacts = used('contacts') as BenchResult<ContactsFigures> | undefined;
  if (contacts) {
    const t = contacts.figures.targets;
    const a = contacts.args as {
      users: number;
      contactsPerUser: number;
      sharedMailboxes: number;
      contactsPerShared: number;
    };
    for (const leg of contacts.figures.legs) {
      const { first, nochange, changes } = leg.phases;
      const phase = (p: ContactsPhase | undefined, what: string) =>
        !p
          ? `${what} not measured`
          : `${what} ${p.status === 'SUCCEEDED' ? '' : `${p.status} `}${sec(p.wallMs)}, ${int(p.sandbox.graphRequests)} Graph requests (${int(p.sandbox.batchRequests)} $batch), ${int(p.sandbox.throttled)} 429s, peak RSS ${mb(p.peakRssBytes)}`;
      rows.push([
        `contact sync (C1–C4): ${int(a.users)} users × ${int(a.contactsPerUser)} contacts + ${int(a.sharedMailboxes)} shared mailboxes × ${int(a.contactsPerShared)} (${leg.label}, ${codeOf(contacts)}), load average ${contacts.loadAverage[0]}`,
        leg.skipped
          ? leg.skipped
          : [
              `${phase(first, 'first contact sync')}${first?.contacts ? ` (${int(first.contacts.created)} created, ${int(first.contacts.skipped)} C4-skipped, ${int(first.contacts.failed)} mailboxes refused)` : ''} (target ≤ ${t.firstSyncMs / 60_000} min, ≤ ${mb(t.peakRssBytes)})`,
              `${phase(nochange, 'no-change re-sync')} (target ≤ ${sec(t.noChangeMs)}, ≤ ${int(t.noChangeRequests)} requests)`,
              phase(changes, 'after changes'),
            ].join('; '),
        code(contacts.command),
      ]);
    }
  }

  const sso = used('sso') as BenchResult<SsoFigures> | undefined;
  if (sso) {
    const f = sso.figures;
    const a = sso.args as { signins: number; concurrency: number };
    rows.push([
      `Linkus sign-ins with Microsoft (S2), ${int(a.signins)} sign-ins ${a.concurrency} at a time (sqlite), load average ${sso.loadAverage[0]}`,
      `${f.signInsPerSecond} sign-ins/s; start p50 ${f.startMs.p50} / p95 ${f.startMs.p95} ms, callback (code redemption, ID token check, extension, one-time code) p50 ${f.callbackMs.p50} / p95 ${f.callbackMs.p95} ms, whole sign-in p50 ${f.totalMs.p50} / p95 ${f.totalMs.p95} ms; ${f.identityRequestsPerSignIn} identity requests at Microsoft a sign-in (authorize and token)`,
      code(sso.command),
    ]);
  }

  const fleet = used('fleet') as BenchResult<FleetFigures> | undefined;
  if (fleet) {
    const f = fleet.figures;
    const t = f.targets;
    // A file from before the legs had a latency each: one latency for all, one speedup.
    const old = f as FleetFigures & {
      sandbox: { latencyMs?: number };
      speedup?: { workers: number; ratio: number } | null;
    };
    const latencyOf = (leg: FleetFigures['legs'][number]) => leg.latencyMs ?? old.sandbox.latencyMs ?? 0;
    const failure = (leg: FleetFigures['legs'][number]) =>
      leg.gatewayErrors?.length
        ? `${(leg.error ?? '').split('\n')[0]}; the gateway logged ${leg.gatewayErrors.join('; ')}`
        : (leg.error ?? '').split('\n')[0];
    for (const leg of f.legs) {
      const updateNow = leg.updateNow
        .map(
          (u) =>
            `Update Now pressed at ${sec(u.pressedAtMs)} on a PBX ${u.pbx === 'synced' ? 'already synced' : 'whose initial sync still waited'} started after ${u.waitMs == null ? 'n/a' : sec(u.waitMs)}`,
        )
        .join('; ');
      rows.push([
        `a fleet: ${int(leg.pbxs)} PBXs × ${int(f.sandbox.usersEach)} users, each on its own sandbox directory, saving their rules at once (${DB_NAME[leg.db] ?? leg.db}, ${latencyOf(leg)} ms latency, ${leg.workers} worker process${leg.workers > 1 ? 'es' : ''}, SYNC_CONCURRENCY ${leg.syncConcurrency ?? 'default'}${codeOf(fleet).startsWith('compiled') ? `, ${codeOf(fleet)}` : ''}), load average ${leg.load[0].toFixed(1)}`,
        leg.error && leg.lastInitialSyncMs == null
          ? leg.db === 'sqlite' && leg.workers > 1
            ? `not measured: several gateway processes writing one SQLite file are not supported under load (README, Scaling out); tried: ${failure(leg)}`
            : `FAILED, not measured: ${failure(leg)}`
          : `${leg.error ? `${failure(leg)}; ` : ''}last initial sync ended ${leg.lastInitialSyncMs == null ? 'n/a' : sec(leg.lastInitialSyncMs)} after the first save (target ≤ ${t.lastInitialSyncMs / 60_000} min at 1,000 PBXs); wait of a run p50 ${sec(leg.waitMs.p50)} / p95 ${sec(leg.waitMs.p95)}; ${updateNow || 'no Update Now pressed'} (target ≤ ${sec(t.updateNowWaitMs)})`,
        code(fleet.command),
      ]);
    }
    const speedups =
      f.speedups ??
      (old.speedup && f.legs[0]
        ? [{ ...old.speedup, db: f.legs[0].db, latencyMs: latencyOf(f.legs[0]) }]
        : []);
    for (const s of speedups)
      rows.push([
        `a fleet: ${s.workers} worker processes vs 1 (${DB_NAME[s.db] ?? s.db}, ${s.latencyMs} ms latency)`,
        `the last initial sync ends ${s.ratio.toFixed(2)} × as soon`,
        code(fleet.command),
      ]);
  }

  rows.push([
    // Measured by hand (not a bench): the full suite on main, 2026-12-08 morning, Intel Xeon × 2.
    "CI (`.ci/run` on a clean clone: install, lint, types, schema, 1,690 tests on SQLite and PostgreSQL, the portal's Chromium journey included)",
    'tests 476 s (1,688 passed, 3 skipped, 140 files; `npx vitest run` with both databases, 2026-12-08 at 6bab408, Intel Xeon × 2, load 1–2.4); the last clean-clone `bash .ci/run` (277df6e, a slower machine): 1,169 s in all (npm ci 166 s, tests 988 s)',
    code('bash .ci/run'),
  ]);

  out.lines.push('| what | figure | command |', '| --- | --- | --- |');
  for (const r of rows) out.lines.push(row(r));
}

function syncTable(results: Map<string, BenchResult>, out: Section) {
  const sync = results.get('sync') as BenchResult<SyncFigures> | undefined;
  const DBS = ['sqlite', 'postgresql'] as const;
  type Db = (typeof DBS)[number];
  const legAt = (db: Db, latencyMs: number) =>
    sync?.figures.legs.find((l) => l.db === db && l.latencyMs === latencyMs && l.phases.full && !l.skipped);
  // Issue 16 item 5: every figure at 0 ms and at 300 ms a request, on both databases: a column
  // for each (0 and 300 ms always, and any other latency the bench ran).
  const latencies = [...new Set([0, 300, ...(sync?.figures.legs.map((l) => l.latencyMs) ?? [])])];
  const columns = DBS.flatMap((db) =>
    latencies.map((latencyMs) => ({ db, latencyMs, leg: legAt(db, latencyMs) })),
  );
  if (sync) out.sources.push(source('sync', sync));
  const size = sync
    ? { users: sync.figures.sandbox.users, groups: sync.figures.sandbox.groups }
    : PREVIOUS.size;
  const sameSize = size.users === PREVIOUS.size.users && size.groups === PREVIOUS.size.groups;
  const stale = (text: string) =>
    sameSize ? `${text} ${STALE}` : `n/a (measured at ${int(PREVIOUS.size.users)} users: ${text})`;

  if (sync && columns.some((c) => c.leg)) {
    const where =
      sync.figures.sandbox.mode === 'own-process'
        ? 'sandbox in its own process'
        : "sandbox in the gateway's process (as the demo)";
    const load = columns.find((c) => c.leg)?.leg?.phases.full?.load;
    const busy = load
      ? `; 1-minute load average ${load[0].toFixed(1)} → ${load[1].toFixed(1)} during the first full sync`
      : '';
    out.lines.push(
      `Sync at ${int(size.users)} users / ${int(size.groups)} groups (${code(sync.command)}; ${where}, throttling on, the sandbox's latency per Graph request as the column says; the gateway runs with \`--role all\`, ${codeOf(sync)}${busy}):`,
    );
  } else {
    out.lines.push(
      'Sync at 100,000 users / 5,000 groups (`npm run bench -- sync --users 100000 --groups 5000 --db sqlite,postgresql`,',
      `both from the same run; sandbox in its own process, throttling on, 0 ms latency) ${STALE}:`,
    );
  }
  const header = columns.map((c) => `${DB_NAME[c.db]}, ${c.latencyMs} ms`);
  out.lines.push('', row(['', ...header, 'target']), row(['---', ...header.map(() => '---'), '---']));

  type Leg = NonNullable<ReturnType<typeof legAt>>;
  const ph = (leg: Leg, name: 'full' | 'nochange' | 'changes') => leg.phases[name] as SyncPhaseFigures;
  const full = (leg: Leg) => {
    const p = ph(leg, 'full');
    const lb = p.lowerBound;
    const n = p.graphRequests ?? 0;
    return `${sec(p.wallMs)}, ${int(n)} Graph requests${lb ? ` (${(n / lb.requests).toFixed(2)} × the lower bound ${int(lb.requests)})` : ''}`;
  };
  const again = (leg: Leg, name: 'nochange' | 'changes') => {
    const p = ph(leg, name);
    return `${sec(p.wallMs)}, ${int(p.graphRequests ?? 0)} requests`;
  };
  const rss = (leg: Leg) =>
    `${int(ph(leg, 'full').peakRssBytes / 1048576)} / ${mb(ph(leg, 'changes').peakRssBytes)}`;
  const stall = (leg: Leg) => {
    const l = (name: 'full' | 'nochange' | 'changes') => ph(leg, name).eventLoop;
    return `${int(l('full').maxMs)} / ${int(l('nochange').maxMs)} / ${int(l('changes').maxMs)} ms (p99 ${int(l('full').p99Ms)} / ${int(l('nochange').p99Ms)} / ${int(l('changes').p99Ms)} ms)`;
  };
  type Previous = keyof (typeof PREVIOUS.sync)['sqlite'];
  const cellFor = (
    c: (typeof columns)[number],
    measured: (leg: Leg) => string,
    previous: Previous | null,
  ) => {
    if (c.leg) return measured(c.leg);
    if (c.latencyMs === 0 && previous) return stale(PREVIOUS.sync[c.db][previous]);
    return 'not measured';
  };
  const changes = (sync?.args as { changes?: number } | undefined)?.changes ?? 1000;
  const t = TARGETS;
  const lines: Array<[string, (leg: Leg) => string, Previous | null, string]> = [
    [
      'first full sync',
      full,
      'full',
      `≤ ${targetSec(t.firstFullSyncMsAt0)}, ≤ ${t.requestsOverBound} × at 0 ms; ≤ ${targetSec(t.firstFullSyncMsAt300)}, ≤ ${t.requestsOverBoundAt300} × at 300 ms`,
    ],
    [
      'no-change re-sync',
      (l) => again(l, 'nochange'),
      'nochange',
      `≤ ${targetSec(t.noChangeMs)}, ≤ ${t.noChangeRequests}`,
    ],
    [
      `re-sync after ${int(changes)} changed users`,
      (l) => again(l, 'changes'),
      'changes',
      `≤ ${targetSec(t.changesMs)}`,
    ],
    [
      `peak RSS of the gateway (full / ${int(changes)} changes)`,
      rss,
      'rss',
      `≤ ${mb(t.firstSyncPeakRssBytes)} / ≤ ${mb(t.peakRssBytes)}`,
    ],
    [
      `longest event-loop stall of the gateway process (full / no-change / ${int(changes)} changes)`,
      stall,
      null,
      'measured, no target',
    ],
  ];
  for (const [label, measured, previous, target] of lines) {
    out.lines.push(row([label, ...columns.map((c) => cellFor(c, measured, previous)), target]));
  }
  if (!columns.some((c) => c.latencyMs === 300 && c.leg)) {
    out.lines.push(
      '',
      sameSize
        ? `${PREVIOUS.latency300} ${STALE}`
        : `At ${int(PREVIOUS.size.users)} users: ${PREVIOUS.latency300} ${STALE}`,
    );
  }
  out.lines.push(
    '',
    "The longest event-loop stall is the longest gap between ticks of a 10 ms timer in the gateway's process",
    '(`perf_hooks.monitorEventLoopDelay`) from the request to the end of the run; the sync bench lists the',
    'stretches of the run the longest ones span. Lower bound of a full read: ⌈users/999⌉ + ⌈groups/999⌉ +',
    '⌈memberships/999⌉ pages, memberships being the direct members of every group (`bench/support/lower-bound.ts`).',
  );
}

export function section(results: Map<string, BenchResult>): string {
  const out: Section = { lines: [], sources: [] };
  firstTable(results, out);
  out.lines.push('');
  syncTable(results, out);
  out.lines.push('');
  if (out.sources.length > 0) {
    out.lines.push('Figures from:', '');
    for (const s of [...new Set(out.sources)].sort()) out.lines.push(`- ${s}`);
    out.lines.push('');
  }
  out.lines.push(
    `Figures marked ${STALE} were measured before the benches wrote their figures to files; run the bench, then`,
    '`npm run bench:readme`, to replace them.',
  );
  return [
    BEGIN,
    '<!-- written by `npm run bench:readme` from bench/results/*.json: edit bench/readme-table.ts, not this -->',
    '',
    ...out.lines,
    END,
  ].join('\n');
}

function main(argv: readonly string[]) {
  const readme = readFileSync(README, 'utf8');
  const begin = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`README.md has no ${BEGIN} … ${END} section`);
  const results = readResults();
  const next = `${readme.slice(0, begin)}${section(results)}${readme.slice(end + END.length)}`;
  const names = [...results.keys()].join(', ') || 'none';
  if (argv.includes('--check')) {
    if (next !== readme) {
      console.error(
        `README.md's performance section differs from ${path.relative(process.cwd(), resultsDir())}/*.json (${names}): run npm run bench:readme`,
      );
      process.exitCode = 1;
    } else console.log('README.md is up to date with the bench results');
    return;
  }
  if (next === readme) console.log(`README.md already up to date (results: ${names})`);
  else {
    writeFileSync(README, next);
    console.log(`README.md: performance section written from ${names}`);
  }
}

main(process.argv.slice(2));
