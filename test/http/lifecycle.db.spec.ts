import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { createPbx } from '../../src/app/pbx.js';
import { Topic } from '../../src/app/topics.js';
import { openDatabase } from '../../src/store/orm.js';
import { openStore } from '../../src/store/store.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';
import {
  startTestGateway,
  TEST_SECRET_KEY,
  topicListened,
  uniquePrefix,
  wsClient,
} from '../support/gateway.js';
import { COLD_START_MS, databaseUrl, freePort, runScript, startScript } from '../support/process.js';
import { eventually } from '../support/wait.js';

const readyz = async (url: string) => {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, string> };
};

/** Asks /readyz until it answers `status`; resolves with that answer. */
const readyzAnswers = (url: string, status: number) =>
  eventually(
    async () => {
      const r = await readyz(url);
      return r.status === status && r;
    },
    { message: `/readyz to answer ${status}` },
  );

describeEachDb(
  'gateway process lifecycle: keys CLI, SIGTERM with open subscriptions, bad settings, /readyz',
  (leg) => {
    let db: TestDatabase;
    let pbxId: string;
    let env: Record<string, string>;

    beforeAll(async () => {
      db = await leg.create();
      const orm = await openDatabase(db.config);
      pbxId = (
        await createPbx(
          openStore(orm, () => new Date()),
          { name: 'Lifecycle' },
        )
      ).id;
      await orm.close(true);
      env = {
        DATABASE_URL: databaseUrl(db.config),
        REDIS_URL: inject('redisUrl'),
        QUEUE_PREFIX: uniquePrefix('life'),
        HOST: '127.0.0.1',
        PORT: '0',
        LOG_LEVEL: 'info',
        NODE_ENV: 'test',
        SECRET_KEY: TEST_SECRET_KEY,
      };
    });
    afterAll(async () => {
      await db?.drop();
    });

    it(
      'prints a new key once with `keys create`, and refuses a bad role',
      async () => {
        const ok = await runScript('src/cli/keys.ts', ['create', '--pbx', pbxId, '--role', 'admin'], env);
        expect(ok.code).toBe(0);
        expect(ok.stdout.trim()).toMatch(/^epg_[A-Za-z0-9_-]{40,}$/);
        const bad = await runScript('src/cli/keys.ts', ['create', '--pbx', pbxId, '--role', 'root'], env);
        expect(bad.code).toBe(1);
        expect(bad.stderr).toContain('role');
      },
      2 * COLD_START_MS,
    );

    it(
      'on SIGTERM with an open subscription: the client sees a normal close and the process exits 0 within 10 s',
      async () => {
        const key = (
          await runScript('src/cli/keys.ts', ['create', '--pbx', pbxId, '--role', 'viewer'], env)
        ).stdout.trim();
        const proc = startScript('src/main.ts', ['--role', 'all'], env, /"url":"(http:\/\/[^"]+)"/);
        const url = (await proc.match)[1];
        let closeCode = 0;
        const closed = new Promise<void>((resolve) => {
          const client = wsClient(url, key, {
            onClose: (code) => {
              closeCode ||= code;
              resolve();
            },
          });
          client.subscribe(
            { query: 'subscription { integrationChanged { status } }' },
            {
              next: () => {},
              error: () => {},
              complete: () => {},
            },
          );
        });
        // The subscription is open once the gateway listens for its events at Redis.
        await topicListened(env.QUEUE_PREFIX, Topic.integrationChanged(pbxId));
        const sentAt = Date.now();
        proc.child.kill('SIGTERM');
        const exit = await proc.exited;
        await closed;
        expect(exit.code).toBe(0);
        expect(exit.at - sentAt).toBeLessThan(10_000);
        expect(closeCode).toBe(1000);
        expect(proc.output()).toContain('"msg":"stopped"');
      },
      2 * COLD_START_MS,
    );

    it(
      'stops the start with one message listing every bad setting',
      async () => {
        const res = await runScript('src/main.ts', ['--role', 'everything'], {
          ...env,
          PORT: 'x',
          REDIS_URL: 'nope',
        });
        expect(res.code).toBe(2);
        expect(res.stderr).toContain('Invalid configuration');
        for (const name of ['PORT', 'REDIS_URL', '--role']) expect(res.stderr).toContain(name);
      },
      COLD_START_MS,
    );

    it('/readyz says 503 naming Redis while it is down, and recovers when it returns', async () => {
      const port = await freePort();
      const dir = path.resolve('.data/test-redis', uniquePrefix('r'));
      mkdirSync(dir, { recursive: true });
      const startRedis = () =>
        spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir], {
          stdio: 'ignore',
        });
      let redis = startRedis();
      const gw = await startTestGateway(db, { REDIS_URL: `redis://127.0.0.1:${port}` });
      try {
        expect((await readyzAnswers(gw.url, 200)).body).toMatchObject({ redis: 'ok' });
        redis.kill('SIGKILL');
        const down = await readyzAnswers(gw.url, 503);
        expect(down.status).toBe(503);
        expect(down.body).toMatchObject({ redis: 'down', database: 'ok' });
        expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
        redis = startRedis();
        const back = await readyzAnswers(gw.url, 200);
        expect(back.body).toMatchObject({ redis: 'ok', database: 'ok' });
      } finally {
        await gw.stop();
        redis.kill('SIGKILL');
      }
    });

    it.runIf(leg.kind === 'postgresql')(
      '/readyz says 503 naming the database while it is gone, and recovers',
      async () => {
        if (db.config.kind !== 'postgresql') return;
        const gw = await startTestGateway(db);
        const url = new URL(db.config.url);
        const name = url.pathname.slice(1);
        const admin = new pg.Client({ connectionString: inject('postgresUrl') ?? undefined });
        await admin.connect();
        try {
          expect((await readyz(gw.url)).status).toBe(200);
          // Refuse new connections, cut the gateway's, and rename the database away.
          await admin.query(`alter database ${name} with allow_connections false`);
          await admin.query(
            `select pg_terminate_backend(pid) from pg_stat_activity where datname = '${name}' and pid <> pg_backend_pid()`,
          );
          const down = await readyzAnswers(gw.url, 503);
          expect(down.body).toMatchObject({ database: 'down', redis: 'ok' });
          await admin.query(`alter database ${name} with allow_connections true`);
          const back = await readyzAnswers(gw.url, 200);
          expect(back.body).toMatchObject({ database: 'ok' });
        } finally {
          await admin.end();
          await gw.stop();
        }
      },
    );
  },
);
