/**
 * Contact sync at scale, end to end (issue 13 item 4):
 *
 *   npm run bench -- contacts [--users 10000] [--contacts-per-user 100] [--shared-mailboxes 5]
 *                             [--contacts-per-shared 2000] [--groups 10] [--db sqlite,postgresql]
 *                             [--changes 100] [--seed 42] [--log-level error] [--run-timeout-min 30]
 *                             [--gateway-node-args "--max-old-space-size=400"] [--profile] [--heap-profile | --alloc-profile]
 *
 * Starts the sandbox tenant in a process of its own (throttling on, as Microsoft's: 4 requests
 * in flight and 10,000 per 10 minutes per mailbox, each `$batch` item counted), seeded with
 * `--users` users whose default Contacts folder holds `--contacts-per-user` contacts (made on
 * demand from the seed: seeding costs no time) and is shared with the admin who connects, and
 * `--shared-mailboxes` shared mailboxes of `--contacts-per-shared` contacts each. Then per
 * database a leg process (bench/contacts/leg.ts) runs a real gateway (role all), syncs the users,
 * and measures: the first contact sync (saveContactSyncRule: personal contacts of every synced
 * user, the shared mailboxes into phonebooks), a no-change re-sync (syncNow CONTACTS), and a
 * re-sync after `--changes` mailboxes got a new contact each. Graph requests are counted at the
 * sandbox (each HTTP request; `$batch` items apart). Prints a table (TARGET MISSED beside a figure
 * that misses the issue's targets) and writes bench/results/contacts.json. Not a test: it exits 0
 * whatever the figures.
 */

import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { SandboxAdminClient } from '../src/sandbox/admin-client.js';
import type { ContactPhaseResult, ContactsLegInput, ContactsLegResult } from './contacts/leg.js';
import { Args } from './support/args.js';
import { legCode, runLegProcess } from './support/leg-ipc.js';
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

/** The issue's targets (issue 13 item 4), on this 2-core machine, at 0 ms latency. */
export const TARGETS = {
  firstSyncMs: 5 * 60_000,
  noChangeMs: 15_000,
  noChangeRequests: 600,
  peakRssBytes: 600 * 1024 * 1024,
};

const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
const sec = (ms: number | null | undefined) =>
  ms == null ? 'n/a' : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
const mbs = (b: number | null | undefined) => (b == null ? 'n/a' : `${fmtInt(b / 1048576)} MB`);
const MISSED = '  TARGET MISSED';

/** A new complete contact in each of `count` user mailboxes (spread over the tenant). */
async function changeContacts(admin: SandboxAdminClient, count: number, leg: number) {
  const started = performance.now();
  const users: string[] = [];
  for (let skip = 0; users.length < count * 3; skip += 1000) {
    const page = await admin.listUsers({ top: 1000, skip });
    for (const u of page.value)
      if (!u.isAdmin && u.accountEnabled && !u.deleted && u.mail && !u.userPrincipalName.includes('#EXT#'))
        users.push(u.id);
    if (page.value.length < 1000) break;
  }
  const step = Math.max(1, Math.floor(users.length / Math.max(1, count)));
  const picked = Array.from({ length: Math.min(count, users.length) }, (_, i) => users[i * step] as string);
  let made = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < picked.length) {
        const i = next++;
        await admin.createContact(picked[i] as string, {
          givenName: `Bench${leg}`,
          surname: `Change ${i}`,
          displayName: `Bench${leg} Change ${i}`,
          businessPhones: [`+44 20 7946 ${String(i % 10_000).padStart(4, '0')}`],
        });
        made++;
      }
    }),
  );
  return { mailboxes: picked.length, contactsCreated: made, ms: Math.round(performance.now() - started) };
}

function runLeg(
  input: ContactsLegInput,
  index: number,
  sandbox: SandboxProcess,
  changes: number,
  nodeArgs: string[],
): Promise<ContactsLegResult> {
  return runLegProcess<ContactsLegResult>('bench/contacts/leg.ts', input, nodeArgs, (type) =>
    type === 'change' ? changeContacts(sandbox.admin, changes, index) : null,
  );
}

const peak = (p: ContactPhaseResult) => p.memory.hwmRss ?? p.memory.sampledRss;

function phaseFigures(p: ContactPhaseResult) {
  return {
    status: p.run.status,
    error: p.run.error,
    contacts: p.run.contacts,
    wallMs: Math.round(p.wallMs),
    runMs: p.runMs,
    runGraphRequests: p.run.graphRequests,
    sandbox: p.sandbox,
    failReasons: p.failReasons,
    peakRssBytes: peak(p),
    peakRssFrom: p.memory.hwmRss != null ? 'VmHWM' : 'sampled',
    sampledHeapUsedBytes: p.memory.sampledHeapUsed,
    sandboxPeakRssBytes: p.memory.otherHwmRss ?? p.memory.otherSampledRss,
    cpuMs: Math.round(p.memory.cpuMs),
    sandboxCpuMs: p.memory.otherCpuMs,
    load: p.load.map((l) => Math.round(l * 100) / 100),
    eventLoop: p.eventLoop,
    afterGc: p.afterGc ?? null,
    tenantChange: p.tenantChange ?? null,
  };
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

function report(legs: Array<{ label: string; result?: ContactsLegResult; skipped?: string }>) {
  const done = legs.filter((l) => l.result) as Array<{ label: string; result: ContactsLegResult }>;
  const rows: string[][] = [['', 'figure', 'target', ...done.map((l) => l.label)]];
  const ph = (r: ContactsLegResult, name: string) =>
    r.phases.find((p) => p.phase === name) as ContactPhaseResult;
  const row = (s: string, f: string, t: string, cell: (r: ContactsLegResult) => string) =>
    rows.push([s, f, t, ...done.map((l) => cell(l.result))]);
  const counts = (p: ContactPhaseResult) => {
    const c = p.run.contacts;
    return c
      ? `${p.run.status}: ${fmtInt(c.created)} created, ${fmtInt(c.updated)} updated, ${fmtInt(c.deleted)} deleted, ${fmtInt(c.skipped)} skipped (C4), ${fmtInt(c.failed)} failed`
      : p.run.status;
  };
  const kinds = (p: ContactPhaseResult) =>
    Object.entries(p.sandbox.byKind)
      .map(([k, v]) => `${k} ${fmtInt(v)}`)
      .join(', ');
  const common = (name: string) => {
    row('', 'result', '', (r) => counts(ph(r, name)));
    row('', 'FAIL reasons', '', (r) =>
      Object.entries(ph(r, name).failReasons)
        .map(([k, v]) => `${k} ${fmtInt(v)}`)
        .join(', '),
    );
    row('', 'Graph requests at the sandbox (429s)', name === 'nochange' ? '≤ 600' : '', (r) => {
      const p = ph(r, name);
      const miss = name === 'nochange' && p.sandbox.graphRequests > TARGETS.noChangeRequests;
      return `${fmtInt(p.sandbox.graphRequests)} (${fmtInt(p.sandbox.throttled)})${miss ? MISSED : ''}`;
    });
    row('', '  $batch requests / items; by kind', '', (r) => {
      const p = ph(r, name);
      return `${fmtInt(p.sandbox.batchRequests)} / ${fmtInt(p.sandbox.batchItems)}; ${kinds(p)}`;
    });
    row('', 'peak RSS gateway / sandbox', '≤ 600 MB', (r) => {
      const p = ph(r, name);
      return `${mbs(peak(p))} / ${mbs(p.memory.otherHwmRss ?? p.memory.otherSampledRss)}${peak(p) > TARGETS.peakRssBytes ? MISSED : ''}`;
    });
    row('', 'heap used / RSS after the run and a full GC', '', (r) => {
      const p = ph(r, name);
      return `${mbs(p.afterGc?.heapUsed)} / ${mbs(p.afterGc?.rss)}`;
    });
    row('', 'CPU gateway / sandbox', '', (r) => {
      const p = ph(r, name);
      return `${sec(p.memory.cpuMs)} / ${sec(p.memory.otherCpuMs)}`;
    });
    row('', 'event-loop stall max / p99', '', (r) => {
      const l = ph(r, name).eventLoop;
      return `${fmtInt(l.maxMs)} / ${fmtInt(l.p99Ms)} ms`;
    });
    row('', 'load average (1 min) start → end', '', (r) => {
      const p = ph(r, name);
      return `${p.load[0].toFixed(1)} → ${p.load[1].toFixed(1)}`;
    });
  };
  row(
    'users',
    'user sync (extensions)',
    '',
    (r) => `${sec(ph(r, 'users').wallMs)}, ${fmtInt(r.extensions)} extensions`,
  );
  row('first contact sync', 'wall time (saveContactSyncRule → run ended)', '≤ 5 min', (r) => {
    const p = ph(r, 'first');
    return `${sec(p.wallMs)}${p.wallMs > TARGETS.firstSyncMs ? MISSED : ''}`;
  });
  common('first');
  row('no-change re-sync', 'wall time (syncNow → run ended)', '≤ 15 s', (r) => {
    const p = ph(r, 'nochange');
    return `${sec(p.wallMs)}${p.wallMs > TARGETS.noChangeMs ? MISSED : ''}`;
  });
  common('nochange');
  row('changed mailboxes', 'wall time (syncNow → run ended)', '', (r) => {
    const p = ph(r, 'changes');
    const c = p.tenantChange as { mailboxes: number } | undefined;
    return `${sec(p.wallMs)} (${fmtInt(c?.mailboxes ?? 0)} mailboxes, a contact added to each)`;
  });
  common('changes');
  row(
    'process',
    'RSS code loaded / gateway idle',
    '',
    (r) => `${mbs(r.baselineRss)} / ${mbs(r.idleGatewayRss)}`,
  );
  console.log(table(rows));
  for (const l of legs.filter((x) => x.skipped)) console.log(`\n${l.label}: SKIPPED (${l.skipped})`);
}

export async function main(argv: string[]) {
  const args = new Args(argv);
  const users = args.number('users', 10_000);
  const contactsPerUser = args.number('contacts-per-user', 100);
  const sharedMailboxes = args.number('shared-mailboxes', 5);
  const contactsPerShared = args.number('contacts-per-shared', 2000);
  const groups = args.number('groups', 10);
  const seed = args.number('seed', 42);
  const changes = args.number('changes', 100);
  const dbs = args.list('db', ['sqlite', 'postgresql']);
  const logLevel = args.string('log-level', 'error');
  const runTimeoutMs = args.number('run-timeout-min', 30) * 60_000;
  const nodeArgs = args.string('gateway-node-args', '').split(' ').filter(Boolean);
  // --profile: a CPU profile of each leg's process (the gateway, role all), summarised at the end.
  const profileDir = args.has('profile')
    ? path.resolve('.data/bench/profiles', `contacts-${new Date().toISOString().replace(/[:.]/g, '-')}`)
    : null;
  if (profileDir) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${profileDir}`);
  // --heap-profile: the live heap of each run at its highest (sampled), summarised at the end.
  // --alloc-profile: every allocation of each run (garbage included), by allocating function.
  const heapProfile = args.has('heap-profile');
  const allocProfile = args.has('alloc-profile');

  console.log(
    `contacts bench: ${fmtInt(users)} users × ${fmtInt(contactsPerUser)} contacts + ${sharedMailboxes} shared mailboxes × ${fmtInt(contactsPerShared)}; db ${dbs.join(', ')}; load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const redis = await ensureRedis();
  const t = performance.now();
  const sandbox = await startSandboxProcess({
    users,
    groups,
    seed,
    latencyMs: 0,
    dataDir: path.resolve('.data/bench/sandbox'),
    contactsPerUser,
    sharedMailboxes,
    contactsPerMailbox: contactsPerShared,
    shareContactsWithAdmin: true,
  });
  const sandboxReadyMs = sandbox.readyMs ?? performance.now() - t;
  console.log(
    `sandbox: pid ${sandbox.pid}, seeded and ready in ${sec(sandboxReadyMs)}, RSS ${mbs(procStatus(sandbox.pid)?.rssBytes)}`,
  );
  const legs: Array<{ label: string; db: string; result?: ContactsLegResult; skipped?: string }> = [];
  try {
    let index = 0;
    for (const kind of dbs) {
      const label = kind;
      const leg: (typeof legs)[number] = { label, db: kind };
      legs.push(leg);
      let db: BenchDatabase;
      try {
        db = kind === 'sqlite' ? createSqlite() : await createPostgres();
      } catch (err) {
        leg.skipped = `no database: ${(err as Error).message}`;
        continue;
      }
      const queuePrefix = `bench-contacts-${randomBytes(4).toString('hex')}`;
      console.log(`${label}: gateway on ${db.where}, queue prefix ${queuePrefix}`);
      try {
        leg.result = await runLeg(
          {
            label,
            database: db.config,
            sandbox: sandbox.info,
            sandboxPid: sandbox.pid,
            redisUrl: redis.url,
            queuePrefix,
            logLevel,
            runTimeoutMs,
            heapProfile,
            allocProfile,
          },
          index++,
          sandbox,
          changes,
          nodeArgs,
        );
      } catch (err) {
        leg.skipped = `failed: ${(err as Error).message}`;
        console.log(`${label}: FAILED (${(err as Error).message})`);
      } finally {
        // Each leg's figures are kept as soon as it ends: a long bench stopped later keeps them.
        if (leg.result && index < dbs.length) save();
        await db
          .drop()
          .catch((err: Error) => console.log(`${label}: could not drop ${db.where}: ${err.message}`));
        await dropQueueKeys(redis.url, queuePrefix).catch(() => 0);
      }
    }
  } finally {
    await sandbox.stop();
    redis.stop();
  }
  console.log('\n=== figures ===');
  report(legs);
  console.log(
    [
      '',
      'Wall time: from the GraphQL mutation to the first poll (every 200 ms) that sees the run ended. Graph requests:',
      "counted by the sandbox (every HTTP request to /v1.0, a $batch once; its items apart). Peak RSS: the kernel's",
      'high-water mark (VmHWM, reset at the start of each run) of the leg process (the gateway, role all, and a thin',
      'harness); the sandbox runs in its own process. 429s: answers 429 the sandbox gave (Outlook limits per mailbox);',
      'each is retried after its Retry-After by the gateway (graph-client for requests, the probe for $batch items);',
      'a 429 not honoured in the end would show as a FAIL row (MAILBOX_JOB_FAILED / THROTTLED) or a failed run.',
    ].join('\n'),
  );
  save();
  function save() {
    writeResults('contacts', {
      command: benchCommand('contacts', argv),
      args: {
        users,
        contactsPerUser,
        sharedMailboxes,
        contactsPerShared,
        groups,
        seed,
        changes,
        db: dbs,
        logLevel,
        gatewayNodeArgs: nodeArgs,
        gatewayCode: legCode(),
      },
      figures: {
        targets: TARGETS,
        sandbox: { readyMs: Math.round(sandboxReadyMs), readyRssMB: sandbox.readyRssMB },
        legs: legs.map((l) => ({
          label: l.label,
          skipped: l.skipped ?? null,
          extensions: l.result?.extensions ?? null,
          baselineRss: l.result?.baselineRss ?? null,
          idleGatewayRss: l.result?.idleGatewayRss ?? null,
          phases: Object.fromEntries((l.result?.phases ?? []).map((p) => [p.phase, phaseFigures(p)])),
        })),
      },
    });
  }
  if (heapProfile || allocProfile) {
    const { formatHeapSummary } = await import('./support/heapprofile.js');
    console.log(
      allocProfile
        ? '\n=== every allocation of each run, garbage included (sampled) ==='
        : "\n=== live heap at each run's highest (sampled every second) ===",
    );
    for (const l of legs)
      for (const p of l.result?.phases ?? [])
        if (p.heap)
          console.log(`\n${formatHeapSummary(p.heap.summary, `${l.label} ${p.phase} (${p.heap.at})`)}`);
  }
  if (profileDir) {
    // One file per process (the leg's main thread, and its worker threads'), the whole leg each.
    const { formatSummary, summarizeProfile } = await import('./support/cpuprofile.js');
    console.log(`\n=== CPU profiles (leg processes: gateway, role all), in ${profileDir} ===`);
    for (const file of (await readdir(profileDir).catch(() => [])).sort()) {
      const profile = JSON.parse(await readFile(path.join(profileDir, file), 'utf8'));
      console.log(`\n${formatSummary(summarizeProfile(profile, 20), file, 20)}`);
    }
  }
}
