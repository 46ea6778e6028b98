/**
 * Measures GraphDirectoryReader against the sandbox tenant: requests of a full read against
 * the benchmark's lower bound (bench/support/lower-bound.ts), wall time, peak RSS, then a
 * no-change delta round and a round after N changed users. Not a test (vitest does not pick it
 * up); run it by hand:
 *
 *   npx tsx test/m365/measure-reader.ts --users 100000 --groups 5000 [--latency-ms 0] [--changes 1000]
 *
 * The figures go to bench/results/reader.json (bench/support/results.ts), for the README.
 */
import { parseArgs } from 'node:util';
import { countDirectory, describeLowerBound, fullReadLowerBound } from '../../bench/support/lower-bound.js';
import { writeResults } from '../../bench/support/results.js';
import { consentAsAdmin, removeTestDataDir, startTestSandbox } from '../sandbox/sandbox-test.helpers.js';
import { appOf, drain, readerFor } from './reader-test.helpers.js';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '1000' },
    groups: { type: 'string' },
    'latency-ms': { type: 'string', default: '0' },
    changes: { type: 'string', default: '1000' },
    strategies: { type: 'string', default: 'delta,batch' },
  },
});
const argv = process.argv.slice(2);
const users = Number(values.users);
const groups = values.groups ? Number(values.groups) : undefined;
const latencyMs = Number(values['latency-ms']);

let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 50);
const mb = (n: number) => `${Math.round(n / 1024 / 1024)} MB`;

const t = await startTestSandbox({ users, groups, latencyMs });
await consentAsAdmin(t);
try {
  const app = appOf(t.sandbox);
  const lowerBound = fullReadLowerBound(await countDirectory(t.sandbox.admin));
  const bound = lowerBound.requests;
  console.log(
    `tenant: ${lowerBound.users} users, ${lowerBound.groups} groups, ${lowerBound.memberships} direct memberships; ` +
      `lower bound ${describeLowerBound(lowerBound)}`,
  );
  const figures: {
    lowerBound: typeof lowerBound;
    fullReads: Array<Record<string, unknown>>;
    noChangeRound?: Record<string, unknown>;
    changesRound?: Record<string, unknown>;
  } = { lowerBound, fullReads: [] };

  let userLink = '';
  for (const strategy of values.strategies.split(',') as Array<'delta' | 'batch'>) {
    const reader = readerFor(t, { groupRead: strategy });
    await t.sandbox.admin.resetStats();
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    peakRss = rssBefore;
    const started = performance.now();
    const userStream = await reader.readUsers(app, { extraProperties: [] });
    let userCount = 0;
    for await (const page of userStream.pages) userCount += page.length;
    const usersDone = performance.now();
    const groupRead = await drain(await reader.readGroups(app));
    const done = performance.now();
    userLink = userStream.deltaLink();
    const stats = await t.sandbox.admin.stats();
    const userRequests = Object.entries(stats.graphByPath)
      .filter(([k]) => k.includes('/users') || k.includes('deletedItems'))
      .reduce((n, [, v]) => n + v, 0);
    const s = reader.stats();
    console.log(
      `groupRead=${strategy}: ${userCount} users in ${userRequests} requests (${Math.round(usersDone - started)} ms), ` +
        `${groupRead.items.length} groups in ${s.requests - userRequests} requests ` +
        `(${Math.round(done - usersDone)} ms); total ${s.requests} requests = ${(s.requests / bound).toFixed(3)} × lower bound; ` +
        `throttled ${s.throttled}; $batch items ${Object.values(stats.batchItemsByPath).reduce((a, b) => a + b, 0)}; ` +
        `peak RSS ${mb(peakRss)}, ${mb(peakRss - rssBefore)} above the RSS before the read (the sandbox runs in the same process)`,
    );
    figures.fullReads.push({
      groupRead: strategy,
      users: userCount,
      groups: groupRead.items.length,
      requests: s.requests,
      userRequests,
      overLowerBound: s.requests / bound,
      throttled: s.throttled,
      usersMs: Math.round(usersDone - started),
      groupsMs: Math.round(done - usersDone),
      peakRssBytes: peakRss,
      rssAboveBeforeBytes: peakRss - rssBefore,
    });
  }

  const reader = readerFor(t);
  await t.sandbox.admin.resetStats();
  let started = performance.now();
  const quiet = reader.readUserChanges(app, userLink);
  const none = await drain(quiet);
  figures.noChangeRound = {
    records: none.items.length,
    requests: reader.stats().requests,
    ms: Math.round(performance.now() - started),
  };
  console.log(
    `no-change users delta round: ${none.items.length} records, ${reader.stats().requests} requests, ` +
      `${figures.noChangeRound.ms} ms`,
  );

  const changes = Math.min(Number(values.changes), users - 1);
  const all = (await t.sandbox.admin.listUsers({ top: changes + 1 })).value.filter((u) => !u.isAdmin);
  for (const [i, u] of all.slice(0, changes).entries()) {
    await t.sandbox.admin.updateUser(u.id, { jobTitle: `Changed ${i}` });
  }
  const before = reader.stats().requests;
  started = performance.now();
  const changed = await drain(reader.readUserChanges(app, quiet.deltaLink()));
  figures.changesRound = {
    changes,
    records: changed.items.length,
    pages: changed.pages,
    requests: reader.stats().requests - before,
    ms: Math.round(performance.now() - started),
  };
  console.log(
    `users delta round after ${changes} changes: ${changed.items.length} records in ${changed.pages} pages, ` +
      `${figures.changesRound.requests} requests, ${figures.changesRound.ms} ms`,
  );
  writeResults('reader', {
    command: ['npx tsx test/m365/measure-reader.ts', ...argv].join(' '),
    args: {
      users,
      groups: groups ?? null,
      latencyMs,
      changes,
      strategies: values.strategies.split(','),
    },
    figures,
  });
} finally {
  clearInterval(sampler);
  await t.close();
  removeTestDataDir();
}
