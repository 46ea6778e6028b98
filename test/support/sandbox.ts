import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Agent, request } from 'undici';
import { expect, inject } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import type { Logger } from '../../src/logger.js';
import { type Sandbox, type SandboxOptions, startSandbox } from '../../src/sandbox/index.js';
import {
  ConnectDocument,
  ExtensionsDocument,
  type ExtensionsQuery,
  type SyncItemAction,
  SyncRunDocument,
  type SyncRunQuery,
  UpdatePbxDocument,
} from '../generated/graphql.js';
import type { TestDatabase } from './db.js';
import { type GqlResponse, gql, seedPbx, startTestGateway, TEST_SECRET_KEY } from './gateway.js';
import { databaseUrl, startScript } from './process.js';
import { eventually } from './wait.js';

/** The sandbox tenant for a test file: CA and keys kept under .data/test-sandbox (made once). */
export async function startTestSandbox(options: SandboxOptions = {}) {
  const dataDir = path.resolve('.data/test-sandbox');
  mkdirSync(dataDir, { recursive: true });
  const sandbox = await startSandbox({ port: 0, dataDir, users: 50, ...options });
  const agent = new Agent({ connect: { ca: readFileSync(sandbox.info.caFile, 'utf8') } });
  return { sandbox, agent };
}

/** Gateway settings that point at the sandbox, as an operator would set them. */
export function sandboxEnv(sandbox: Sandbox): Record<string, string> {
  return {
    MS_AUTHORITY_HOST: sandbox.info.authorityHost,
    MS_GRAPH_BASE_URL: sandbox.info.graphBaseUrl,
    MS_EXTRA_CA_FILE: sandbox.info.caFile,
  };
}

/**
 * A gateway worker in a process of its own (`--role worker`, `node --import tsx`, so a SIGKILL
 * reaches it) on the test's database, Redis, queue prefix and sandbox; resolved once started.
 */
export async function startWorkerProcess(
  db: TestDatabase,
  sandbox: Sandbox,
  queuePrefix: string,
  env: Record<string, string> = {},
) {
  const proc = startScript(
    'src/main.ts',
    ['--role', 'worker'],
    {
      ...sandboxEnv(sandbox),
      DATABASE_URL: databaseUrl(db.config),
      REDIS_URL: inject('redisUrl'),
      QUEUE_PREFIX: queuePrefix,
      SECRET_KEY: TEST_SECRET_KEY,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      ...env,
    },
    /"msg":"gateway started"/,
  );
  await proc.match;
  return proc;
}

/** A gateway wired to the sandbox, and a PBX whose public URL is the gateway (so the redirect URI lands here). */
export async function startGatewayWithSandbox(
  db: TestDatabase,
  sandbox: Sandbox,
  overrides: Record<string, string> = {},
  role = 'all',
  logger?: Logger,
) {
  const gateway = await startTestGateway(db, { ...sandboxEnv(sandbox), ...overrides }, role, logger);
  const seeded = await seedPbx(gateway);
  const updated = await gql(gateway.url, seeded.keys.admin, UpdatePbxDocument, {
    input: { publicBaseUrl: gateway.url },
  });
  if (!updated.body.data?.updatePbx)
    throw new Error(`updatePbx failed: ${JSON.stringify(updated.body.errors ?? updated.status)}`);
  await sandbox.admin.addRedirectUri(sandbox.info.clientId, `${gateway.url}/oauth/microsoft/callback`);
  return { gateway, ...seeded };
}

export async function adminUpn(sandbox: Sandbox): Promise<string> {
  const users = await sandbox.admin.listUsers({ top: 1000 });
  const admin = users.value.find((u) => u.isAdmin);
  return String(admin?.userPrincipalName);
}

/**
 * Plays the admin's browser with a plain HTTP client: authorize at the sandbox (auto
 * sign-in with login_hint), follow the redirect to the gateway's callback, and, when the
 * gateway sends the browser on to Microsoft's admin consent (application permissions not
 * granted yet), through that too (auto sign-in again) and back; then to the result page.
 * Returns the result code the page names, the last callback URL, and the Microsoft pages
 * the journey went through.
 */
export async function followAuthorization(
  agent: Agent,
  authorizationUrl: string,
  loginHint: string,
): Promise<{ result: string; callbackUrl: string; page: string; microsoft: string[] }> {
  let url = new URL(authorizationUrl);
  const microsoft: string[] = [];
  for (let hop = 0; hop < 4; hop++) {
    url.searchParams.set('login_hint', loginHint);
    microsoft.push(url.pathname);
    const res = await request(url, { dispatcher: agent });
    await res.body.text();
    const location = res.headers.location;
    if (res.statusCode !== 302 || typeof location !== 'string') {
      throw new Error(`${url.pathname} answered ${res.statusCode} without a redirect`);
    }
    const done = await finishAtGateway(location);
    if (!done.continueAt) return { ...done, microsoft };
    url = new URL(done.continueAt);
  }
  throw new Error('the sign-in journey did not end');
}

/**
 * Calls the gateway's callback as the browser would, and reads the result page it redirects to;
 * when it sends the browser on to Microsoft instead (admin consent), `continueAt` says where.
 */
export async function finishAtGateway(
  callbackUrl: string,
): Promise<{ result: string; callbackUrl: string; page: string; continueAt?: string }> {
  const cb = await fetch(callbackUrl, { redirect: 'manual' });
  const next = cb.headers.get('location');
  if (cb.status !== 303 || !next) throw new Error(`callback answered ${cb.status}`);
  const nextUrl = new URL(next, callbackUrl);
  if (nextUrl.origin !== new URL(callbackUrl).origin) {
    return { result: '', callbackUrl, page: '', continueAt: nextUrl.toString() };
  }
  const page = await (await fetch(nextUrl)).text();
  return { result: nextUrl.searchParams.get('result') ?? '', callbackUrl, page };
}

/** connect + consent through the sandbox: ends CONNECTED. */
export async function connectIntegration(
  world: { gateway: Gateway; keys: { admin: string } },
  sandbox: Sandbox,
  agent: Agent,
  input: { clientSecret?: string; secretExpiresAt?: string } = {},
) {
  const res = await gql(world.gateway.url, world.keys.admin, ConnectDocument, {
    input: {
      clientId: sandbox.info.clientId,
      tenantId: sandbox.info.tenantId,
      clientSecret: input.clientSecret ?? sandbox.info.clientSecret,
      secretExpiresAt: input.secretExpiresAt,
    },
  });
  const url = res.body.data?.connect.authorizationUrl;
  if (!url) throw new Error(`connect failed: ${JSON.stringify(res.body.errors)}`);
  return followAuthorization(agent, url, await adminUpn(sandbox));
}

/**
 * Polls a sync run until it ends (SUCCEEDED, FAILED or HELD). A number is the timeout; runs
 * of small tenants take tens of ms, so a caller may poll faster (`interval`).
 */
export async function waitForRun(
  url: string,
  key: string,
  runId: string,
  options: number | { timeout?: number; interval?: number } = {},
) {
  const { timeout = 60_000, interval = 100 } = typeof options === 'number' ? { timeout: options } : options;
  return eventually(
    async () => {
      const res = await gql(url, key, SyncRunDocument, { id: runId, first: 1 });
      const run = res.body.data?.syncRun;
      expect(run?.status, `run ${runId}`).toMatch(/^(SUCCEEDED|FAILED|HELD)$/);
      return run as NonNullable<typeof run>;
    },
    { timeout, interval, message: `run ${runId} to end` },
  );
}

/** Every item of a run (all pages). */
export async function runItems(url: string, key: string, runId: string, action?: SyncItemAction) {
  type Item = NonNullable<SyncRunQuery['syncRun']>['items']['nodes'][number];
  const items: Item[] = [];
  let after: string | null = null;
  for (;;) {
    const res: GqlResponse<SyncRunQuery> = await gql(url, key, SyncRunDocument, {
      id: runId,
      action,
      first: 500,
      after,
    });
    const page = res.body.data?.syncRun?.items;
    if (!page) throw new Error(JSON.stringify(res.body.errors));
    items.push(...page.nodes);
    if (!page.pageInfo.hasNextPage) return items;
    after = page.pageInfo.endCursor ?? null;
  }
}

/** Every extension of the PBX, as the portal sees it (all pages). */
export async function allExtensions(url: string, key: string) {
  type Ext = ExtensionsQuery['extensions']['edges'][number]['node'];
  const out: Ext[] = [];
  let after: string | null = null;
  for (;;) {
    const res: GqlResponse<ExtensionsQuery> = await gql(url, key, ExtensionsDocument, { first: 500, after });
    const page = res.body.data?.extensions;
    if (!page) throw new Error(JSON.stringify(res.body.errors));
    out.push(...page.edges.map((e) => e.node));
    if (!page.pageInfo.hasNextPage) return out;
    after = page.pageInfo.endCursor ?? null;
  }
}
