/**
 * `npm run bench -- lookup [--db sqlite,postgresql] [--contacts 1000000] [--extensions 2000]
 *   [--phonebooks 20] [--personal-users 200] [--samples 5000] [--searches 1000]
 *   [--clients 16] [--http-seconds 10] [--legs floor,baseline,graphql,get] [--pool-max 10]
 *   [--http-only] [--profile] [--keep]`
 *
 * The Linkus lookups at 1,000,000 contacts. Per database: a PBX (GB) with `--extensions`
 * extensions in 20 extension groups, `--personal-users` of them with personal contacts and
 * `--phonebooks` phonebooks (a quarter granted to all extensions, the rest to a group or to
 * extensions), `--contacts` contacts in all (40 % personal, 60 % in phonebooks), written in
 * bulk as the store keeps them (bench/support/contact-seed.ts: the rows `upsertSynced` writes,
 * a transaction per 5,000 contacts, the secondary indexes built once after the load). Then:
 * - in process, through the use cases (a fresh unit of work per call, as a request has):
 *   `lookupCaller` p50 / p99 (target p99 ≤ 1 ms) over a mix of known numbers in every
 *   spelling, extension numbers and unknown numbers, by LINKUS callers and an admin;
 *   `searchContacts` p50 / p99 (target p99 ≤ 30 ms) over name prefixes, full names, company
 *   words and number prefixes;
 * - over HTTP against a real gateway process (`src/main.ts --role api`, as the other benches
 *   start it): `--clients` concurrent keep-alive clients (undici; autocannon is not a
 *   dependency) look callers up for `--http-seconds` over each transport in turn, GraphQL's
 *   `lookupCaller` then the plain `GET /linkus/lookup/caller?number=` (src/http/linkus-lookup.ts),
 *   the same keys and numbers: lookups/s and p99 (target ≥ 3,000/s, p99 ≤ 20 ms on 2 cores; the
 *   load generator shares the machine); `{ __typename }` first, as GraphQL's floor. The gateway
 *   trusts a key it found valid for 5 s (src/app/known-keys.ts), so a lookup over HTTP costs one
 *   statement, the lookup's own.
 * The gateway runs with NODE_ENV=production (as a production install does), under tsx, or compiled as `npm start` runs it with `BENCH_GATEWAY_CODE=compiled`
 * (bench/support/leg-ipc.ts; tsx's transform adds a call per function the gateway's code makes).
 * `--pool-max` sets the PostgreSQL pool of the bench and of the gateway (DATABASE_POOL_MAX; the
 * gateway's default, 10, when not given): how many statements run at once on 2 cores.
 * `--legs` runs some of the HTTP legs only (a profile of one transport: `--legs get --profile`).
 * `--http-only` skips the in-process part (and writes no results), `--profile` writes a CPU
 * profile of the gateway process (.data/bench/profiles/) and prints its summary, `--keep` keeps
 * the database for a look with EXPLAIN.
 * Not a test: it prints figures and writes bench/results/lookup.json.
 */
import 'reflect-metadata';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { createApiKey } from '../src/app/access.js';
import { lookupCaller, searchContacts } from '../src/app/contact-lookup.js';
import { createPbx } from '../src/app/pbx.js';
import type { Store } from '../src/app/ports/store.port.js';
import { ApiRole, type Caller } from '../src/domain/access.js';
import type { SyncedContactInput } from '../src/domain/contact.types.js';
import { type Orm, openDatabase } from '../src/store/orm.js';
import { openStore } from '../src/store/store.js';
import { COLD_START_MS, databaseUrl, startCompiled, startScript } from '../test/support/process.js';
import { Args } from './support/args.js';
import { bulkContacts } from './support/contact-seed.js';
import { type CpuProfile, formatSummary, summarizeProfile } from './support/cpuprofile.js';
import { compiledScript, legCode } from './support/leg-ipc.js';
import { benchCommand, writeResults } from './support/results.js';
import { type BenchDatabase, createPostgres, createSqlite, ensureRedis } from './support/services.js';

const SECRET_KEY = '0123456789abcdef'.repeat(4);
const TARGETS = { lookupP99Ms: 1, searchP99Ms: 30, httpPerSecond: 3000, httpP99Ms: 20 };

const FIRST = [
  'Anna',
  'Ben',
  'Chloe',
  'David',
  'Emma',
  'Farid',
  'Grace',
  'Hugo',
  'Isla',
  'Jack',
  'Karim',
  'Lily',
  'Mohammed',
  'Nora',
  'Oliver',
  'Priya',
  'Quentin',
  'Rosa',
  'Sam',
  'Tara',
  'Umar',
  'Vera',
  'William',
  'Xin',
  'Yusuf',
  'Zoe',
];
const LAST = [
  'Smith',
  'Jones',
  'Taylor',
  'Brown',
  'Williams',
  'Wilson',
  'Johnson',
  'Davies',
  'Patel',
  'Wright',
  'Khan',
  'Walker',
  'Evans',
  'Thomas',
  'Roberts',
  'Green',
  'Hall',
  'Wood',
  'Hughes',
  'Clarke',
  'Lewis',
  'Hill',
  'Moore',
  'Ward',
  'Turner',
  'Edwards',
  'Baker',
  'Cooper',
  'Morris',
  'King',
];
const COMPANY = [
  'Acme',
  'Globex',
  'Initech',
  'Umbrella',
  'Stark',
  'Wayne',
  'Hooli',
  'Vandelay',
  'Wonka',
  'Tyrell',
  'Cyberdyne',
  'Soylent',
];

/** A small deterministic generator (mulberry32): the same seed, the same world. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The n-th contact's London number: 020 7xxx xxxx, unique per n (n < 10,000,000). */
const numberOf = (n: number) => {
  const d = String(n).padStart(7, '0');
  return { dialled: `020 7${d.slice(0, 3)} ${d.slice(3)}`, e164: `+44207${d}` };
};
const spellings = (n: number) => {
  const { dialled, e164 } = numberOf(n);
  return [dialled, e164, `00${e164.slice(1)}`, `+44 20 7${e164.slice(6, 9)} ${e164.slice(9)}`];
};

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
const stats = (ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b);
  const r = (v: number) => Math.round(v * 1000) / 1000;
  return { n: s.length, p50: r(percentile(s, 50)), p99: r(percentile(s, 99)), max: r(s.at(-1) ?? 0) };
};

interface World {
  pbxId: string;
  extensionNumbers: string[];
  /** Callers with a Linkus key: extension id, key, and a few numbers of their own contacts. */
  linkus: Array<{ extensionId: string; key: string; ownNumbers: number[] }>;
  /** Numbers of phonebook contacts (visible to all) to look up. */
  sharedNumbers: number[];
  adminKey: string;
  seedSeconds: number;
}

async function seed(
  orm: Orm,
  kind: 'sqlite' | 'postgresql',
  a: { contacts: number; extensions: number; phonebooks: number; personalUsers: number },
) {
  const started = performance.now();
  const store = () => openStore(orm, () => new Date());
  const pbx = await createPbx(store(), {
    name: 'Lookup bench',
    defaultCountry: 'GB',
    extensionCapacity: 100_000,
  });
  const random = rng(42);
  const extensionIds: string[] = [];
  const extensionNumbers: string[] = [];
  // 100 extensions a unit of work: one unit of work for all of them flushes an identity map
  // that grows with each (2,000 took 41 s).
  for (let from = 0; from < a.extensions; from += 100) {
    await store().transactional(async (tx) => {
      for (let i = from; i < Math.min(a.extensions, from + 100); i++) {
        const number = String(1000 + i);
        const e = await tx.directory.createExtension(pbx.id, {
          number,
          firstName: FIRST[i % FIRST.length],
          lastName: `${LAST[Math.floor(i / FIRST.length) % LAST.length]} ${i}`,
          email: null,
          mobileNumber: null,
          jobTitle: null,
        });
        extensionIds.push(e.id);
        extensionNumbers.push(number);
      }
    });
  }
  const lap = (what: string) =>
    console.log(`  ${what} at ${Math.round((performance.now() - started) / 100) / 10} s`);
  lap(`${a.extensions} extensions`);
  const groups: string[] = [];
  for (let g = 0; g < 20; g++) {
    const members = extensionIds.filter((_, i) => i % 20 === g);
    groups.push(
      (await store().directory.createExtensionGroup(pbx.id, { name: `Team ${g}`, memberIds: members })).id,
    );
  }
  lap('20 extension groups');
  const personalCount = Math.round(a.contacts * 0.4);
  const sharedCount = a.contacts - personalCount;
  let n = 0;
  const make = (): SyncedContactInput => {
    const i = n++;
    const first = FIRST[Math.floor(random() * FIRST.length)];
    const last = LAST[Math.floor(random() * LAST.length)];
    const numbers = [{ kind: 'BUSINESS' as const, ...numberOf(i) }];
    return {
      firstName: first,
      lastName: last,
      displayName: `${first} ${last}`,
      company: random() < 0.5 ? `${COMPANY[Math.floor(random() * COMPANY.length)]} Ltd` : null,
      jobTitle: null,
      emails: [],
      numbers,
      source: { mailboxId: 'bench', folderId: 'contacts', contactId: `c-${i}`, changeKey: 'ck' },
    };
  };
  // In bulk, a transaction per slice of 5,000 (bench/support/contact-seed.ts), not through the
  // store's upsert: the rows are those the store writes, at a fraction of the cost.
  const bulk = await bulkContacts(orm, kind);
  const write = async (owner: Parameters<Store['contacts']['upsertSynced']>[1], count: number) => {
    for (let done = 0; done < count; done += 5000) {
      await bulk.write(pbx.id, owner, Array.from({ length: Math.min(5000, count - done) }, make));
    }
  };
  const linkus: World['linkus'] = [];
  const perUser = Math.floor(personalCount / a.personalUsers);
  for (let u = 0; u < a.personalUsers; u++) {
    const from = n;
    await write(
      { kind: 'EXTENSION', extensionId: extensionIds[u] },
      u === a.personalUsers - 1 ? personalCount - perUser * u : perUser,
    );
    if (u < 50) {
      const key = (
        await createApiKey(store(), { pbxId: pbx.id, role: 'linkus', extensionNumber: extensionNumbers[u] })
      ).key;
      linkus.push({
        extensionId: extensionIds[u],
        key,
        ownNumbers: [from, from + 1, from + Math.floor(perUser / 2)],
      });
    }
    if (u % 20 === 0)
      process.stdout.write(
        `\r  personal contacts: ${n.toLocaleString()} / ${personalCount.toLocaleString()}`,
      );
  }
  const perBook = Math.floor(sharedCount / a.phonebooks);
  const sharedNumbers: number[] = [];
  for (let b = 0; b < a.phonebooks; b++) {
    const book = await store().contacts.ensureSyncedPhonebook(pbx.id, `shared-${b}`, `Phonebook ${b}`);
    await store().transactional((tx) =>
      tx.contacts.savePhonebookVisibility(pbx.id, book.id, {
        allExtensions: b % 4 === 0,
        extensionIds: b % 4 === 1 ? extensionIds.slice(0, 100) : [],
        extensionGroupIds: b % 4 >= 2 ? [groups[b % groups.length]] : [],
      }),
    );
    const from = n;
    await write(
      { kind: 'PHONEBOOK', phonebookId: book.id },
      b === a.phonebooks - 1 ? sharedCount - perBook * b : perBook,
    );
    if (b % 4 === 0) sharedNumbers.push(from, from + 7, from + Math.floor(perBook / 3));
    process.stdout.write(`\r  contacts: ${n.toLocaleString()} / ${a.contacts.toLocaleString()}            `);
  }
  process.stdout.write('\n');
  lap(`${a.contacts} contacts`);
  await bulk.close();
  const adminKey = (await createApiKey(store(), { pbxId: pbx.id, role: 'admin' })).key;
  return {
    pbxId: pbx.id,
    extensionNumbers,
    linkus,
    sharedNumbers,
    adminKey,
    seedSeconds: Math.round((performance.now() - started) / 100) / 10,
  } satisfies World;
}

/** The numbers a caller looks up: known ones in every spelling, extension numbers, unknown ones. */
function lookupMix(world: World, count: number) {
  const random = rng(7);
  const out: Array<{ caller: World['linkus'][number] | null; number: string }> = [];
  for (let i = 0; i < count; i++) {
    const caller = random() < 0.9 ? world.linkus[Math.floor(random() * world.linkus.length)] : null;
    const r = random();
    let number: string;
    if (r < 0.35 && caller) number = spellings(caller.ownNumbers[i % 3])[i % 4];
    else if (r < 0.6) number = spellings(world.sharedNumbers[i % world.sharedNumbers.length])[i % 4];
    else if (r < 0.8) number = world.extensionNumbers[Math.floor(random() * world.extensionNumbers.length)];
    else number = `+1 212 555 ${String(1000 + (i % 9000)).padStart(4, '0')}`;
    out.push({ caller, number });
  }
  return out;
}

function searchMix(count: number) {
  const random = rng(11);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const kind = i % 5;
    const first = FIRST[Math.floor(random() * FIRST.length)];
    const last = LAST[Math.floor(random() * LAST.length)];
    if (kind === 0) out.push(first.slice(0, 2));
    else if (kind === 1) out.push(`${first} ${last}`);
    else if (kind === 2) out.push(last.slice(0, 3));
    else if (kind === 3) out.push(COMPANY[Math.floor(random() * COMPANY.length)].slice(0, 4));
    else out.push(`020 7${String(Math.floor(random() * 1000)).padStart(3, '0')}`);
  }
  return out;
}

async function inProcess(orm: Orm, world: World, a: { samples: number; searches: number }) {
  const callerOf = (c: World['linkus'][number] | null): Caller =>
    c
      ? { pbxId: world.pbxId, role: ApiRole.LINKUS, keyId: 'bench', extensionId: c.extensionId }
      : { pbxId: world.pbxId, role: ApiRole.ADMIN, keyId: 'bench' };
  const mix = lookupMix(world, a.samples);
  let found = 0;
  // Warm up (statement caches, the JIT), then measure.
  for (const m of mix.slice(0, 500))
    await lookupCaller(
      openStore(orm, () => new Date()),
      callerOf(m.caller),
      m.number,
    );
  const lookupMs: number[] = [];
  for (const m of mix) {
    const t0 = performance.now();
    const hit = await lookupCaller(
      openStore(orm, () => new Date()),
      callerOf(m.caller),
      m.number,
    );
    lookupMs.push(performance.now() - t0);
    if (hit) found++;
  }
  const queries = searchMix(a.searches);
  for (const q of queries.slice(0, 100))
    await searchContacts(
      openStore(orm, () => new Date()),
      callerOf(world.linkus[0]),
      { query: q },
    );
  const searchMs: number[] = [];
  let results = 0;
  for (const [i, q] of queries.entries()) {
    const caller = callerOf(i % 10 === 0 ? null : world.linkus[i % world.linkus.length]);
    const t0 = performance.now();
    const page = await searchContacts(
      openStore(orm, () => new Date()),
      caller,
      { query: q, first: 20 },
    );
    searchMs.push(performance.now() - t0);
    results += page.edges.length;
  }
  return {
    lookupMs: stats(lookupMs),
    lookupHitRate: Math.round((found / mix.length) * 1000) / 1000,
    searchMs: stats(searchMs),
    searchResultsPerPage: Math.round((results / queries.length) * 10) / 10,
  };
}

const LOOKUP = 'query($n: String!) { lookupCaller(number: $n) { source displayName phonebookName } }';
const BASELINE = '{ __typename }';

async function overHttp(
  db: BenchDatabase,
  world: World,
  a: { clients: number; seconds: number; profileDir: string | null; legs: string[]; poolMax: number },
) {
  const redis = await ensureRedis();
  const env = {
    DATABASE_URL: databaseUrl(db.config),
    DATABASE_POOL_MAX: String(a.poolMax),
    REDIS_URL: redis.url,
    QUEUE_PREFIX: `bench-lookup-${Date.now()}`,
    SECRET_KEY,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    // As production runs it (README: NODE_ENV=production turns introspection, suggestions and
    // stack traces off). In development graphql-js checks every failed instanceOf the slow way and
    // Apollo keeps its development defaults: `{ __typename }` cost 0.116 ms of CPU instead of 0.064.
    NODE_ENV: 'production',
  };
  const ready = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"gateway started"/;
  // --profile: a CPU profile of the gateway process, written when it stops.
  const profile = a.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${a.profileDir}`] : [];
  // Under tsx (the default), or compiled as `npm start` runs it (BENCH_GATEWAY_CODE=compiled,
  // bench/support/leg-ipc.ts): tsx's transform wraps every function the gateway's own code makes
  // in a naming helper, which production code does not pay.
  const proc =
    legCode() === 'compiled'
      ? startCompiled(compiledScript('src/main.ts'), ['--role', 'api'], env, ready, COLD_START_MS, {
          nodeArgs: [...profile, '--enable-source-maps'],
        })
      : startScript('src/main.ts', ['--role', 'api'], env, ready, undefined, { nodeArgs: profile });
  try {
    const url = (await proc.match)[1];
    const agent = new Agent({ connections: a.clients, pipelining: 1, keepAliveTimeout: 30_000 });
    const mix = lookupMix(world, 20_000);
    // One request of each kind: GraphQL's { __typename } (the floor of a GraphQL request with
    // a key), GraphQL's lookupCaller, and the plain HTTP route; the same keys and numbers.
    const send = {
      baseline: async (key: string) =>
        request(`${url}/graphql`, {
          method: 'POST',
          dispatcher: agent,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify({ query: BASELINE }),
        }),
      graphql: async (key: string, n: string) =>
        request(`${url}/graphql`, {
          method: 'POST',
          dispatcher: agent,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify({ query: LOOKUP, variables: { n } }),
        }),
      floor: async () => request(`${url}/healthz`, { method: 'GET', dispatcher: agent }),
      get: async (key: string, n: string) =>
        request(`${url}/linkus/lookup/caller?number=${encodeURIComponent(n)}`, {
          method: 'GET',
          dispatcher: agent,
          headers: { authorization: `Bearer ${key}` },
        }),
    };
    let kind: keyof typeof send = 'baseline';
    // The gateway's CPU time (user + system, /proc/<pid>/stat) per request measured: what one
    // lookup costs the gateway whatever the load of the machine (1,000 / ms = lookups/s a core).
    const ticks = 100;
    const cpuMs = () => {
      const fields = readFileSync(`/proc/${proc.child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticks;
    };
    const one = async (i: number) => {
      const m = mix[i % mix.length];
      const key = m.caller?.key ?? world.adminKey;
      const res = await send[kind](key, m.number);
      const body = await res.body.text();
      if (res.statusCode !== 200 || body.includes('"errors"'))
        throw new Error(`${res.statusCode} ${body.slice(0, 300)}`);
    };
    // Warm up for 2 s, then measure.
    const run = async (seconds: number) => {
      const ms: number[] = [];
      let next = 0;
      let failed = 0;
      const until = performance.now() + seconds * 1000;
      const started = performance.now();
      const cpuBefore = cpuMs();
      await Promise.all(
        Array.from({ length: a.clients }, async () => {
          while (performance.now() < until) {
            const i = next++;
            const t0 = performance.now();
            try {
              await one(i);
              ms.push(performance.now() - t0);
            } catch (err) {
              if (failed++ === 0) console.error(`  first failure: ${(err as Error).message}`);
            }
          }
        }),
      );
      const elapsed = (performance.now() - started) / 1000;
      const cpu = cpuMs() - cpuBefore;
      return {
        perSecond: Math.round(ms.length / elapsed),
        ms: stats(ms),
        failed,
        gatewayCpuMsPerRequest: Math.round((cpu / Math.max(1, ms.length + failed)) * 1000) / 1000,
      };
    };
    const leg = async (k: keyof typeof send, seconds: number) => {
      kind = k;
      await run(2);
      return run(seconds);
    };
    const skipped = { perSecond: 0, ms: stats([]), failed: 0, gatewayCpuMsPerRequest: 0 };
    // HTTP's own floor in this gateway: GET /healthz, every global hook, no key, no database.
    const floor = a.legs.includes('floor')
      ? await leg('floor', Math.max(2, Math.round(a.seconds / 2)))
      : skipped;
    // The gateway's own floor: the same keys, an operation that reads nothing (`__typename`).
    const baseline = a.legs.includes('baseline')
      ? await leg('baseline', Math.max(2, Math.round(a.seconds / 2)))
      : skipped;
    // The two transports of the same lookups, one after the other, the same clients and seconds.
    const graphql = a.legs.includes('graphql') ? await leg('graphql', a.seconds) : skipped;
    const get = a.legs.includes('get') ? await leg('get', a.seconds) : skipped;
    await agent.close();
    const loadAverage = os.loadavg().map((l) => Math.round(l * 100) / 100);
    return {
      clients: a.clients,
      seconds: a.seconds,
      lookupsPerSecond: graphql.perSecond,
      latencyMs: graphql.ms,
      failed: graphql.failed,
      gatewayCpuMsPerRequest: graphql.gatewayCpuMsPerRequest,
      baseline: {
        operation: BASELINE,
        perSecond: baseline.perSecond,
        latencyMs: baseline.ms,
        gatewayCpuMsPerRequest: baseline.gatewayCpuMsPerRequest,
      },
      get: {
        route: 'GET /linkus/lookup/caller?number=',
        lookupsPerSecond: get.perSecond,
        latencyMs: get.ms,
        failed: get.failed,
        gatewayCpuMsPerRequest: get.gatewayCpuMsPerRequest,
      },
      floor: {
        route: 'GET /healthz',
        perSecond: floor.perSecond,
        latencyMs: floor.ms,
        gatewayCpuMsPerRequest: floor.gatewayCpuMsPerRequest,
      },
      loadAverage,
    };
  } finally {
    proc.child.kill('SIGTERM');
    await new Promise((r) => proc.child.once('exit', r));
    redis.stop();
  }
}

type Stats = ReturnType<typeof stats>;
/** One database's figures. */
export interface LookupLeg {
  seedSeconds: number;
  inProcess: { lookupMs: Stats; lookupHitRate: number; searchMs: Stats; searchResultsPerPage: number };
  http: {
    clients: number;
    seconds: number;
    lookupsPerSecond: number;
    latencyMs: Stats;
    failed: number;
    /** The gateway process's CPU time per request (user + system), the GraphQL leg. */
    gatewayCpuMsPerRequest: number;
    baseline: { operation: string; perSecond: number; latencyMs: Stats; gatewayCpuMsPerRequest: number };
    /** The plain HTTP route (src/http/linkus-lookup.ts), measured right after GraphQL's. */
    get: {
      route: string;
      lookupsPerSecond: number;
      latencyMs: Stats;
      failed: number;
      gatewayCpuMsPerRequest: number;
    };
    /** GET /healthz: HTTP's floor in the gateway (every global hook, no key, no database). */
    floor: { route: string; perSecond: number; latencyMs: Stats; gatewayCpuMsPerRequest: number };
    /** At the end of the HTTP legs. */
    loadAverage: number[];
  };
}
export type LookupFigures = { targets: typeof TARGETS; loadGenerator: string } & Partial<
  Record<'sqlite' | 'postgresql', LookupLeg>
>;

export async function main(argv: string[]) {
  const args = new Args(argv);
  const opts = {
    db: args.list('db', ['sqlite', 'postgresql']),
    contacts: args.number('contacts', 1_000_000),
    extensions: args.number('extensions', 2000),
    phonebooks: args.number('phonebooks', 20),
    personalUsers: args.number('personal-users', 200),
    samples: args.number('samples', 5000),
    searches: args.number('searches', 1000),
    clients: args.number('clients', 16),
    httpSeconds: args.number('http-seconds', 10),
    legs: args.list('legs', ['floor', 'baseline', 'graphql', 'get']),
    poolMax: args.number('pool-max', 10),
    inProcess: !args.has('http-only'),
    profile: args.has('profile'),
    keep: args.has('keep'),
    gatewayCode: legCode(),
    gatewayNodeEnv: 'production',
  };
  const profileDir = opts.profile
    ? path.resolve('.data/bench/profiles', `lookup-${new Date().toISOString().replace(/[:.]/g, '-')}`)
    : null;
  if (opts.personalUsers > opts.extensions || opts.personalUsers < 1)
    throw new Error('--personal-users: 1 to --extensions');
  const figures: Partial<Record<'sqlite' | 'postgresql', LookupLeg>> = {};
  for (const kind of opts.db) {
    const db = kind === 'postgresql' ? await createPostgres() : createSqlite();
    if (db.config.kind === 'postgresql') db.config.poolMax = opts.poolMax;
    console.log(`${kind} (${db.where}): seeding ${opts.contacts.toLocaleString()} contacts…`);
    const orm = await openDatabase(db.config);
    try {
      const world = await seed(orm, db.kind, opts);
      console.log(`  seeded in ${world.seedSeconds} s; in process…`);
      // What seeding left to do in the background is not what a lookup costs: SQLite's
      // write-ahead log is moved into the file now, PostgreSQL's statistics are brought up to date.
      await orm.em.getConnection().execute(kind === 'sqlite' ? 'pragma wal_checkpoint(TRUNCATE)' : 'analyze');
      const local = opts.inProcess ? await inProcess(orm, world, opts) : null;
      if (local) {
        console.log(
          `  lookupCaller p50 ${local.lookupMs.p50} ms, p99 ${local.lookupMs.p99} ms (target ≤ ${TARGETS.lookupP99Ms}); hit rate ${local.lookupHitRate}`,
        );
        console.log(
          `  searchContacts p50 ${local.searchMs.p50} ms, p99 ${local.searchMs.p99} ms (target ≤ ${TARGETS.searchP99Ms}); ${local.searchResultsPerPage} results a page`,
        );
      }
      await orm.close(true);
      console.log(`  over HTTP: ${opts.clients} clients for ${opts.httpSeconds} s…`);
      const http = await overHttp(db, world, {
        clients: opts.clients,
        seconds: opts.httpSeconds,
        legs: opts.legs,
        poolMax: opts.poolMax,
        profileDir: profileDir && path.join(profileDir, kind),
      });
      console.log(
        `  HTTP GET /linkus/lookup/caller: ${http.get.lookupsPerSecond}/s (target ≥ ${TARGETS.httpPerSecond}), p50 ${http.get.latencyMs.p50} ms, p99 ${http.get.latencyMs.p99} ms (target ≤ ${TARGETS.httpP99Ms}); ${http.get.failed} failed; gateway CPU ${http.get.gatewayCpuMsPerRequest} ms a lookup; load average ${http.loadAverage.join(' ')}`,
      );
      console.log(
        `  GraphQL lookupCaller: ${http.lookupsPerSecond}/s (target ≥ ${TARGETS.httpPerSecond}), p50 ${http.latencyMs.p50} ms, p99 ${http.latencyMs.p99} ms (target ≤ ${TARGETS.httpP99Ms}); ${http.failed} failed; gateway CPU ${http.gatewayCpuMsPerRequest} ms a lookup; GraphQL's floor ({ __typename }, same keys): ${http.baseline.perSecond}/s, p99 ${http.baseline.latencyMs.p99} ms, ${http.baseline.gatewayCpuMsPerRequest} ms CPU; HTTP's floor (GET /healthz): ${http.floor.perSecond}/s, p99 ${http.floor.latencyMs.p99} ms, ${http.floor.gatewayCpuMsPerRequest} ms CPU`,
      );
      if (profileDir) {
        for (const f of readdirSync(path.join(profileDir, kind)).filter((f) => f.endsWith('.cpuprofile')))
          console.log(
            formatSummary(
              summarizeProfile(
                JSON.parse(readFileSync(path.join(profileDir, kind, f), 'utf8')) as CpuProfile,
                25,
              ),
              `gateway process, ${kind} (${path.join(profileDir, kind, f)})`,
              25,
            ),
          );
      }
      if (local)
        figures[kind as 'sqlite' | 'postgresql'] = { seedSeconds: world.seedSeconds, inProcess: local, http };
      else console.log('  (--http-only: nothing written to bench/results)');
    } finally {
      await orm.close(true).catch(() => {
        // closed already after the in-process part
      });
      if (opts.keep) console.log(`  kept: ${db.where}`);
      else await db.drop();
    }
  }
  if (Object.keys(figures).length === 0) return;
  writeResults('lookup', {
    command: benchCommand('lookup', argv),
    args: opts,
    figures: {
      targets: TARGETS,
      ...figures,
      loadGenerator: 'undici keep-alive loop in the bench process (autocannon is not a dependency)',
    },
  });
}
