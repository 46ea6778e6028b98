/**
 * `npm run bench -- sso [--signins 200] [--concurrency 8] [--users 300]`: Linkus sign-ins with
 * Microsoft (S2) through the gateway, end to end against the sandbox tenant (in process, HTTPS):
 * start at the gateway → authorize at the sandbox (auto sign-in with login_hint, so the sandbox's
 * page is not what is timed) → the gateway's callback (code redemption through msal-node, the ID
 * token checked with jose against the JWKS, the synced extension looked up, a one-time code
 * issued). Prints, per step, p50 / p95 / max, sign-ins a second, the requests the gateway made to
 * Microsoft per sign-in, and the longest event-loop stall. SQLite, local Redis.
 * Not a test: it prints figures, and writes them to bench/results/sso.json.
 */
import { BENCH_USER_RULE } from './support/gateway-client.js';
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { loadConfig } from '../src/config.js';
import { startGateway } from '../src/gateway.js';
import {
  ConnectDocument,
  ExtensionsDocument,
  SaveLinkusSsoDocument,
  SaveUserSyncRuleDocument,
  UpdatePbxDocument,
} from '../test/generated/graphql.js';
import { createSqliteDatabase } from '../test/support/db.js';
import { gql, seedPbx } from '../test/support/gateway.js';
import { pkcePair, startUrl } from '../test/support/linkus-sso.js';
import {
  adminUpn,
  followAuthorization,
  sandboxEnv,
  startTestSandbox,
  waitForRun,
} from '../test/support/sandbox.js';
import { StallMonitor } from './support/event-loop.js';
import { benchCommand, writeResults } from './support/results.js';

const CLIENT = 'https://linkus.example.com/sso/callback';

function percentile(sorted: number[], p: number) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}
const summary = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return {
    p50: Math.round(percentile(s, 50)),
    p95: Math.round(percentile(s, 95)),
    max: Math.round(s.at(-1) ?? 0),
  };
};

type Summary = ReturnType<typeof summary>;
export type SsoFigures = {
  signInsPerSecond: number;
  startMs: Summary;
  microsoftMs: Summary;
  callbackMs: Summary;
  totalMs: Summary;
  identityRequestsPerSignIn: number;
  tokenRequestsPerSignIn: number;
  eventLoop: { maxMs: number; p99Ms: number; stalls: number };
};

export async function main(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      signins: { type: 'string', default: '200' },
      concurrency: { type: 'string', default: '8' },
      users: { type: 'string', default: '300' },
    },
  });
  const signins = Number(values.signins);
  const concurrency = Number(values.concurrency);
  const { sandbox, agent } = await startTestSandbox({
    autoSignIn: true,
    users: Number(values.users),
    seed: 9,
  });
  const db = await createSqliteDatabase();
  const base = loadConfig(
    {
      ...sandboxEnv(sandbox),
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'error',
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      QUEUE_PREFIX: `bench-sso-${Date.now()}`,
      SECRET_KEY: '0123456789abcdef'.repeat(4),
    },
    ['--role', 'all'],
  );
  const gateway = await startGateway({ ...base, database: db.config });
  try {
    const { pbx, keys } = await seedPbx(gateway, { extensionCapacity: 1_000_000 });
    await gql(gateway.url, keys.admin, UpdatePbxDocument, { input: { publicBaseUrl: gateway.url } });
    await sandbox.admin.addRedirectUri(sandbox.info.clientId, `${gateway.url}/oauth/microsoft/callback`);
    await sandbox.admin.addRedirectUri(sandbox.info.clientId, `${gateway.url}/linkus/sso/microsoft/callback`);
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
    const saved = await gql(gateway.url, keys.admin, SaveUserSyncRuleDocument, {
      input: BENCH_USER_RULE,
    });
    await waitForRun(
      gateway.url,
      keys.admin,
      saved.body.data?.saveUserSyncRule.initialRun?.id as string,
      120_000,
    );
    await gql(gateway.url, keys.admin, SaveLinkusSsoDocument, {
      input: { enabled: true, redirectUris: [CLIENT] },
    });
    const synced = await gql(gateway.url, keys.admin, ExtensionsDocument, {
      first: 500,
      filter: { source: 'SYNCED' },
    });
    const externalIds = (synced.body.data?.extensions.edges ?? []).map((e) => e.node.externalId as string);
    const upns = new Map(
      (await sandbox.admin.listUsers({ top: 1000 })).value.map((u) => [u.id, String(u.userPrincipalName)]),
    );
    const logins = externalIds.map((id) => upns.get(id)).filter((u): u is string => !!u);
    const oneSignIn = async (i: number) => {
      const login = logins[i % logins.length] as string;
      const t0 = performance.now();
      const started = await fetch(
        startUrl(gateway.url, {
          pbx: pbx.id,
          redirectUri: CLIENT,
          state: `s${i}`,
          codeChallenge: pkcePair().challenge,
          codeChallengeMethod: 'S256',
        }),
        { redirect: 'manual' },
      );
      const t1 = performance.now();
      const authorize = new URL(started.headers.get('location') as string);
      authorize.searchParams.set('login_hint', login);
      const ms = await request(authorize, { dispatcher: agent });
      await ms.body.text();
      const back = ms.headers.location as string;
      const t2 = performance.now();
      const cb = await fetch(back, { redirect: 'manual' });
      const t3 = performance.now();
      const code = new URL(cb.headers.get('location') as string).searchParams.get('code');
      if (!code) throw new Error(`sign-in ${i} refused: ${cb.headers.get('location')}`);
      return { start: t1 - t0, microsoft: t2 - t1, callback: t3 - t2, total: t3 - t0 };
    };
    for (let i = 0; i < 20; i++) await oneSignIn(i); // warm-up
    const before = await sandbox.admin.stats();
    const stalls = new StallMonitor(10, 100);
    await stalls.start();
    const timings: Array<Awaited<ReturnType<typeof oneSignIn>>> = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = next++; i < signins; i = next++) timings.push(await oneSignIn(i));
      }),
    );
    const elapsed = performance.now() - t0;
    const loop = await stalls.stop();
    const after = await sandbox.admin.stats();
    const identity = (after.identityRequests - before.identityRequests) / signins;
    const tokens = (after.tokenRequests - before.tokenRequests) / signins;
    const figures: SsoFigures = {
      signInsPerSecond: Math.round((signins / elapsed) * 1000 * 10) / 10,
      startMs: summary(timings.map((t) => t.start)),
      microsoftMs: summary(timings.map((t) => t.microsoft)),
      callbackMs: summary(timings.map((t) => t.callback)),
      totalMs: summary(timings.map((t) => t.total)),
      // Identity requests per sign-in at the sandbox: authorize and token are 2; the rest is
      // what the gateway asked besides (OpenID discovery, JWKS).
      identityRequestsPerSignIn: Math.round(identity * 100) / 100,
      tokenRequestsPerSignIn: Math.round(tokens * 100) / 100,
      eventLoop: { maxMs: Math.round(loop.maxMs), p99Ms: Math.round(loop.p99Ms), stalls: loop.stalls },
    };
    console.log(
      `sso: ${signins} sign-ins, ${concurrency} at a time, ${logins.length} synced users (SQLite, local Redis)`,
    );
    console.log(`  ${figures.signInsPerSecond} sign-ins/s`);
    for (const k of ['startMs', 'microsoftMs', 'callbackMs', 'totalMs'] as const) {
      const f = figures[k];
      console.log(`  ${k.padEnd(12)} p50 ${f.p50} ms   p95 ${f.p95} ms   max ${f.max} ms`);
    }
    console.log(
      `  identity requests at the sandbox per sign-in: ${figures.identityRequestsPerSignIn} (token endpoint ${figures.tokenRequestsPerSignIn})`,
    );
    console.log(
      `  longest event-loop stall ${figures.eventLoop.maxMs} ms (gateway, sandbox and harness in one process)`,
    );
    writeResults('sso', {
      command: benchCommand('sso', argv),
      args: { signins, concurrency, users: Number(values.users), database: 'sqlite' },
      figures,
    });
  } finally {
    await gateway.stop();
    await agent.close();
    await sandbox.close();
    await db.drop();
  }
}
