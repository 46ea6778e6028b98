import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { Agent } from 'undici';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { JobName } from '../../jobs/contracts.js';
import { SecretBox } from '../../src/app/secret-box.js';
import { parseSecretKey } from '../../src/config.js';
import type { Gateway } from '../../src/gateway.js';
import type { Sandbox } from '../../src/sandbox/index.js';
import {
  IntegrationDetailsDocument,
  TestConnectionDocument,
  UpdateSecretDocument,
} from '../generated/graphql.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';
import { captureLogger, gql, startTestGateway, TEST_SECRET_KEY } from '../support/gateway.js';
import { COLD_START_MS, databaseUrl, runScript } from '../support/process.js';
import {
  connectIntegration,
  sandboxEnv,
  startGatewayWithSandbox,
  startTestSandbox,
} from '../support/sandbox.js';
import { eventually } from '../support/wait.js';

/**
 * Every value in Redis, whatever its type, as text. The Redis is shared with the other test
 * files, so it is read in pages of keys, each page in two pipelined round trips (types, then values).
 */
async function redisText(url: string): Promise<string> {
  const redis = new Redis(url);
  const parts: string[] = [];
  const read: Record<string, (p: ReturnType<Redis['pipeline']>, key: string) => unknown> = {
    string: (p, k) => p.get(k),
    hash: (p, k) => p.hgetall(k),
    list: (p, k) => p.lrange(k, 0, -1),
    set: (p, k) => p.smembers(k),
    zset: (p, k) => p.zrange(k, 0, -1),
    stream: (p, k) => p.xrange(k, '-', '+'),
  };
  try {
    for await (const keys of redis.scanStream({ count: 1000 }) as AsyncIterable<string[]>) {
      const types = keys.length
        ? ((await keys.reduce((p, k) => p.type(k), redis.pipeline()).exec()) ?? [])
        : [];
      const values = redis.pipeline();
      const readKeys: string[] = [];
      keys.forEach((key, i) => {
        const type = String(types[i]?.[1]);
        if (read[type]) {
          read[type](values, key);
          readKeys.push(key);
        }
      });
      for (const [i, [, value]] of ((readKeys.length ? await values.exec() : []) ?? []).entries()) {
        parts.push(typeof value === 'string' ? value : JSON.stringify(value), readKeys[i]);
      }
      parts.push(...keys);
    }
  } finally {
    redis.disconnect();
  }
  return parts.join('\n');
}

describeEachDb('secrets at rest: sealed, never logged, expiry warnings (L3), key rotation', (leg) => {
  let db: TestDatabase;
  let sandbox: Sandbox;
  let agent: Agent;
  const gateways: Gateway[] = [];

  beforeAll(async () => {
    db = await leg.create();
    ({ sandbox, agent } = await startTestSandbox({ autoSignIn: true }));
  });
  afterAll(async () => {
    for (const g of gateways) await g.stop();
    await agent?.close();
    await sandbox?.close();
    await db?.drop();
  });

  it('neither the client secret nor any refresh token is found in the database, Redis or the logs', async () => {
    const { logger, lines } = captureLogger('trace');
    const gw = await startTestGateway(db, sandboxEnv(sandbox), 'all', logger);
    gateways.push(gw);
    const w = await startGatewayWithSandbox(db, sandbox);
    gateways.push(w.gateway);
    // Use the logging gateway for everything that touches the secret.
    const world = { gateway: gw, keys: w.keys, pbx: w.pbx };
    await sandbox.admin.addRedirectUri(sandbox.info.clientId, `${gw.url}/oauth/microsoft/callback`);
    await w.gateway.openStore().tenants.updatePbx(w.pbx.id, { publicBaseUrl: gw.url });
    expect((await connectIntegration(world, sandbox, agent)).result).toBe('CONNECTED');
    expect(
      (await gql(gw.url, w.keys.admin, TestConnectionDocument)).body.data?.testConnection.delegatedAccess,
    ).toBe(true);
    await gql(gw.url, w.keys.admin, UpdateSecretDocument, { secret: 'Wrong~Secret~0123456789' });
    await gw.queues.enqueue(JobName.Ping, { message: 'x' });

    const row = await gw.openStore().integrations.get(w.pbx.id);
    const box = new SecretBox(parseSecretKey(TEST_SECRET_KEY));
    expect(row.secretSealed).toMatch(/^v1\./);
    const cache = JSON.parse(box.open(row.tokenCacheSealed as string, `token-cache:${w.pbx.id}`)) as {
      RefreshToken: Record<string, { secret: string }>;
    };
    const refreshTokens = Object.values(cache.RefreshToken).map((t) => t.secret);
    expect(refreshTokens.length).toBeGreaterThan(0);
    const needles = [sandbox.info.clientSecret, ...refreshTokens];

    let databaseText: string;
    if (db.config.kind === 'sqlite') {
      const file = db.config.file;
      databaseText = [file, `${file}-wal`]
        .filter((f) => existsSync(f))
        .map((f) => readFileSync(f).toString('latin1'))
        .join('\n');
    } else {
      databaseText = execFileSync('pg_dump', ['--data-only', db.config.url], {
        encoding: 'utf8',
        maxBuffer: 64 << 20,
      });
    }
    expect(databaseText).toContain(w.pbx.id);
    const redis = await redisText(inject('redisUrl'));
    const logs = lines.join('');
    expect(logs.length).toBeGreaterThan(1000);
    for (const needle of needles) {
      expect(databaseText.includes(needle), 'database').toBe(false);
      expect(redis.includes(needle), 'redis').toBe(false);
      expect(logs.includes(needle), 'logs').toBe(false);
    }
  });

  it('L3 warns 30 days ahead and after expiry, live and through the daily job', async () => {
    const w = await startGatewayWithSandbox(db, sandbox);
    gateways.push(w.gateway);
    const soon = new Date(Date.now() + 10 * 24 * 3600 * 1000).toISOString();
    expect((await connectIntegration(w, sandbox, agent, { secretExpiresAt: soon })).result).toBe('CONNECTED');
    const view = async () =>
      (await gql(w.gateway.url, w.keys.admin, IntegrationDetailsDocument)).body.data?.integration;
    expect((await view())?.warnings).toEqual(['SECRET_EXPIRES_SOON']);

    await w.gateway
      .openStore()
      .integrations.update(w.pbx.id, { secretExpiresAt: new Date(Date.now() - 1000) });
    expect((await view())?.warnings).toEqual(['SECRET_EXPIRED']);

    const schedulers = await w.gateway.queues.queue('system').getJobSchedulers();
    expect(schedulers.find((s) => s.key === 'daily-secret-expiry-check')?.pattern).toBe('0 3 * * *');
    const { id } = await w.gateway.queues.enqueue(JobName.CheckSecretExpiry, {});
    await eventually(async () => (await w.gateway.queues.queue('system').getJob(id))?.isCompleted(), {
      message: 'the secret expiry check to finish',
    });
    const done = await w.gateway.queues.queue('system').getJob(id);
    expect(done?.returnvalue.warned).toContainEqual({ pbxId: w.pbx.id, warnings: ['SECRET_EXPIRED'] });
    const recorded = await w.gateway.openStore().integrations.get(w.pbx.id);
    expect(recorded.warnings).toBe('SECRET_EXPIRED');
    expect(recorded.warningsCheckedAt).not.toBeNull();
  });

  it(
    '`keys rotate-secret-key` re-encrypts every secret under a new key; the gateway works on with it',
    async () => {
      const w = await startGatewayWithSandbox(db, sandbox);
      gateways.push(w.gateway);
      expect((await connectIntegration(w, sandbox, agent)).result).toBe('CONNECTED');
      const before = await w.gateway.openStore().integrations.get(w.pbx.id);
      await w.gateway.stop();
      gateways.splice(gateways.indexOf(w.gateway), 1);

      const keyFile = path.resolve('.data/test', `rotate-${w.pbx.id}.key`);
      writeFileSync(keyFile, `${TEST_SECRET_KEY}\n`, { mode: 0o600 });
      const env = { DATABASE_URL: databaseUrl(db.config), SECRET_KEY_FILE: keyFile, LOG_LEVEL: 'silent' };
      const res = await runScript('src/cli/keys.ts', ['rotate-secret-key', '--settle-ms', '0'], env);
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout).toMatch(/Re-sealed \d+ value\(s\) under key [0-9a-f]{8}/);
      // The new key first, the old one after it (for gateways that have not read the file yet).
      const [newKey, oldKey] = readFileSync(keyFile, 'utf8').trim().split('\n');
      expect(newKey).not.toBe(TEST_SECRET_KEY);
      expect(parseSecretKey(oldKey)).toEqual(parseSecretKey(TEST_SECRET_KEY));

      const after = await startTestGateway(db, { ...sandboxEnv(sandbox), SECRET_KEY: newKey });
      gateways.push(after);
      const row = await after.openStore().integrations.get(w.pbx.id);
      expect(row.secretSealed).not.toBe(before.secretSealed);
      expect(
        new SecretBox(parseSecretKey(newKey)).open(row.secretSealed as string, `client-secret:${w.pbx.id}`),
      ).toBe(sandbox.info.clientSecret);
      expect(() =>
        new SecretBox(parseSecretKey(TEST_SECRET_KEY)).open(
          row.secretSealed as string,
          `client-secret:${w.pbx.id}`,
        ),
      ).toThrow(/sealed under key/);
      const check = await gql(after.url, w.keys.admin, TestConnectionDocument);
      expect(check.body.data?.testConnection).toMatchObject({ appAccess: true, delegatedAccess: true });
    },
    COLD_START_MS,
  );
});
