/**
 * `npm run bench -- propagation [--changes 50] [--adds 10] [--users 500] [--db sqlite|postgresql]`:
 * how long a change in the directory takes to reach the PBX. The sandbox tenant runs in-process
 * with change notifications on; the gateway (SQLite or PostgreSQL, real Redis) has a 0-second
 * debounce. Users are changed one by one; for each, the time from the change in the tenant to
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
import { parseArgs } from 'node:util';
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
import { StallMonitor } from './support/event-loop.js';
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

export async function runPropagation(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      changes: { type: 'string', default: '50' },
      adds: { type: 'string', default: '10' },
      users: { type: 'string', default: '500' },
      db: { type: 'string', default: 'sqlite' },
    },
  });
  const changes = Number(values.changes);
  const adds = Number(values.adds);
  if (values.db !== 'sqlite' && values.db !== 'postgresql') throw new Error('--db is sqlite or postgresql');
  const { sandbox, agent } = await startTestSandbox({
    autoSignIn: true,
    users: Number(values.users),
    seed: 5,
  });
  await sandbox.admin.setNotificationSettings({ batchWindowMs: 50 });
  const db =
    values.db === 'postgresql'
      ? await createPostgresDatabase(process.env.TEST_DATABASE_URL ?? DEFAULT_POSTGRES_URL)
      : await createSqliteDatabase();
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const base = loadConfig(
    {
      ...sandboxEnv(sandbox),
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'warn',
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: `bench-${Date.now()}`,
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
      120_000,
    );
    // Subscriptions are made right after connect; give the handshake a moment.
    await new Promise((r) => setTimeout(r, 1000));

    // Users that have a synced extension (a seeded tenant has some that fail on purpose, e.g.
    // two users sharing an email): each change is followed on its own extension, by id.
    const synced = await gql(gateway.url, keys.admin, ExtensionsDocument, {
      first: changes,
      filter: { source: 'SYNCED' },
    });
    const targets = (synced.body.data?.extensions.edges ?? []).map((e) => e.node);
    if (targets.length < changes) throw new Error(`only ${targets.length} synced extensions to change`);
    const latencies: number[] = [];
    const stalls = new StallMonitor(10, 100);
    await stalls.start();
    for (const [i, target] of targets.entries()) {
      const title = `Propagation ${i} ${Date.now()}`;
      const at = performance.now();
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
    const sorted = [...latencies].sort((a, b) => a - b);
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    const p50 = percentile(sorted, 50);
    const p95 = percentile(sorted, 95);
    const max = sorted.at(-1) as number;
    const users = Number(values.users);
    // Issue 16: at 100,000 users, p95 ≤ 1 s; issue 6: p95 ≤ 5 s.
    const target = users >= 100_000 ? 1000 : 5000;
    const missed = (p: number) => (p > target ? `   TARGET MISSED (p95 ≤ ${target / 1000} s)` : '');
    const dbName = values.db === 'postgresql' ? 'PostgreSQL' : 'SQLite';
    console.log(
      `propagation: ${users.toLocaleString('en-US')} users; ${changes} changes, then ${adds} new users, one at a time, notifications on, 0 s debounce (${dbName}, local Redis)`,
    );
    console.log(`  changed:  p50 ${s(p50)}   p95 ${s(p95)}   max ${s(max)}${missed(p95)}`);
    const addSorted = [...addLatencies].sort((a, b) => a - b);
    const add = addSorted.length
      ? { p50: percentile(addSorted, 50), p95: percentile(addSorted, 95), max: addSorted.at(-1) as number }
      : null;
    if (add)
      console.log(`  added:    p50 ${s(add.p50)}   p95 ${s(add.p95)}   max ${s(add.max)}${missed(add.p95)}`);
    console.log(
      `  longest event-loop stall ${Math.round(loop.maxMs)} ms (p99 ${Math.round(loop.p99Ms)} ms; ${loop.stalls} stalls ≥ ${loop.thresholdMs} ms) in this process: gateway (role all), sandbox and harness`,
    );
    writeResults('propagation', {
      command: benchCommand('propagation', argv),
      args: { changes, adds, users, debounceSeconds: 0, database: values.db },
      figures: {
        p50Ms: Math.round(p50),
        p95Ms: Math.round(p95),
        maxMs: Math.round(max),
        targetP95Ms: target,
        latenciesMs: latencies.map((l) => Math.round(l)),
        added: add
          ? {
              p50Ms: Math.round(add.p50),
              p95Ms: Math.round(add.p95),
              maxMs: Math.round(add.max),
              latenciesMs: addLatencies.map((l) => Math.round(l)),
            }
          : null,
        eventLoop: { ...loop, longest: loop.longest.map((l) => ({ ms: l.ms })) },
      },
    });
  } finally {
    await gateway.stop();
    await agent.close();
    await sandbox.close();
    await db.drop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runPropagation(process.argv.slice(2)).then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
