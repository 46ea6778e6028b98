import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterEach, expect, it } from 'vitest';
import WebSocket from 'ws';
import { JobName, QueueName } from '../../jobs/contracts.js';
import { JobQueues } from '../../jobs/queues.js';
import { reachable } from '../../src/net.js';
import { createRedis } from '../../src/redis/connection.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';
import { TEST_SECRET_KEY, uniquePrefix } from '../support/gateway.js';
import { databaseUrl, freePort, startScript } from '../support/process.js';
import { createTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { eventually, staysTrue } from '../support/wait.js';

/**
 * Start-up and faults (issue 12 item 3), against a real gateway process: Redis not there at
 * start (a redis-server started later on the port it points at), PostgreSQL not there at start
 * (a TCP proxy in front of it that listens later), then each going away and coming back while
 * the gateway runs.
 */

interface LogLine {
  level: number;
  msg: string;
  component?: string;
  attempt?: number;
  err?: string;
  [key: string]: unknown;
}

/** Every line of the process's output, each of which must be a JSON log line (no raw stacks). */
function logLines(output: string): LogLine[] {
  return output
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      try {
        return JSON.parse(l) as LogLine;
      } catch {
        throw new Error(`not a log line: ${l}`);
      }
    });
}

/** The lines that say a component is unavailable, one per failed attempt. */
const attemptLines = (lines: LogLine[], component: string) =>
  lines.filter((l) => l.component === component && new RegExp(`^${component} unavailable`).test(l.msg));

/** Attempt numbers of one outage after another: 1, 2, 3, then 1, 2 ... never one twice in a row. */
function expectOneLinePerAttempt(lines: LogLine[]) {
  let previous = 0;
  for (const line of lines) {
    expect(line.attempt === previous + 1 || line.attempt === 1, JSON.stringify(line)).toBe(true);
    previous = line.attempt ?? 0;
  }
}

async function readyz(url: string) {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function startRedis(port: number, dir: string): ChildProcess {
  // Append-only, fsync'd: a Redis that is killed and started again keeps its jobs.
  return spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--dir',
      dir,
    ],
    { stdio: 'ignore' },
  );
}

async function stopProcess(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGKILL') {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

describeEachDb('start-up and faults in a gateway process (issue 12 item 3)', (leg) => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  for (const role of ['all', 'worker'] as const) {
    it(`--role ${role}: serves /healthz at once, names what is down, one log line per attempt, starts work when both answer, and again after either comes back`, async () => {
      const pg = leg.kind === 'postgresql';
      const db: TestDatabase = await leg.create();
      cleanups.push(() => db.drop());

      // The database: PostgreSQL behind a proxy that is not listening yet; SQLite is always there.
      let proxy: TcpProxy | undefined;
      let dbUrl = databaseUrl(db.config);
      if (pg && db.config.kind === 'postgresql') {
        const direct = new URL(db.config.url);
        proxy = await createTcpProxy(
          { host: direct.hostname, port: Number(direct.port || 5432) },
          { listening: false },
        );
        const p = proxy;
        cleanups.push(() => p.cut());
        const via = new URL(direct);
        via.port = String(proxy.port);
        dbUrl = via.toString();
      }

      // Redis: a port nothing listens on yet.
      const redisPort = await freePort();
      const redisUrl = `redis://127.0.0.1:${redisPort}`;
      const redisDir = path.resolve('.data/test-redis', uniquePrefix('start'));
      mkdirSync(redisDir, { recursive: true });
      let redis: ChildProcess | undefined;
      cleanups.push(async () => {
        await stopProcess(redis);
        rmSync(redisDir, { recursive: true, force: true });
      });

      const prefix = uniquePrefix('start');
      const proc = startScript(
        'src/main.ts',
        ['--role', role],
        {
          DATABASE_URL: dbUrl,
          REDIS_URL: redisUrl,
          QUEUE_PREFIX: prefix,
          SECRET_KEY: TEST_SECRET_KEY,
          HOST: '127.0.0.1',
          PORT: '0',
          LOG_LEVEL: 'info',
          NODE_ENV: 'test',
        },
        /"listening":"(http:\/\/[^"]+)"/,
        60_000,
      );
      cleanups.push(() => stopProcess(proc.child));
      const url = (await proc.match)[1];

      // At once: alive, not ready, naming what is down.
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const first = await readyz(url);
      expect(first.status).toBe(503);
      expect(first.body).toMatchObject({ status: 'unavailable', redis: 'down', workers: 'waiting' });
      expect(first.body.down).toEqual(expect.arrayContaining(['redis', 'workers']));
      if (pg) {
        expect(first.body).toMatchObject({ database: 'down' });
        expect(first.body.down).toContain('database');
      }
      if (role === 'all') {
        const api = await fetch(`${url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"query":"{ pbx { id } }"}',
        });
        expect(api.status).toBe(503);
        expect(await api.json()).toMatchObject({ errors: [{ extensions: { code: 'UNAVAILABLE' } }] });
        // graphql-ws too: the upgrade is answered 503 (not a 4401 that would blame the key).
        const upgrade = await new Promise<number>((resolve, reject) => {
          const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
          ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
          ws.on('open', () => reject(new Error('the socket opened while the gateway starts')));
          ws.on('error', () => {
            // The refused upgrade also reports an error; its status is what the test reads.
          });
        });
        expect(upgrade).toBe(503);
      }

      // One line per attempt, naming the component; nothing else about it, and no raw stacks.
      await eventually(() => attemptLines(logLines(proc.output()), 'redis').length >= 3, {
        message: 'three attempts at Redis',
      });
      if (pg) {
        await eventually(() => attemptLines(logLines(proc.output()), 'database').length >= 3, {
          message: 'three attempts at the database',
        });
      }
      const startedAt = Date.now();
      await new Promise((r) => setTimeout(r, 3000));
      {
        const lines = logLines(proc.output());
        const redisLines = attemptLines(lines, 'redis');
        expectOneLinePerAttempt(redisLines);
        for (const l of redisLines)
          expect(l.msg).toMatch(/^redis unavailable \(127\.0\.0\.1:\d+: .+\): retrying in [\d.]+ s$/);
        if (pg) {
          const dbLines = attemptLines(lines, 'database');
          expectOneLinePerAttempt(dbLines);
          for (const l of dbLines) {
            expect(l.msg).toMatch(
              /^database unavailable \(postgresql 127\.0\.0\.1:\d+\/epg_test_\w+: .+\): retrying in/,
            );
            expect(l.msg).toContain('ECONNREFUSED');
          }
        }
        // Backoff: far from ~14 lines a second.
        const recent = lines.filter((l) => Number(l.time) >= startedAt && l.level >= 40);
        expect(recent.length).toBeLessThanOrEqual(pg ? 6 : 3);
        // Every mention of the refused connections is one of those lines.
        for (const l of lines.filter((x) => JSON.stringify(x).includes('ECONNREFUSED'))) {
          expect(['redis', 'database']).toContain(l.component);
        }
      }

      // Redis comes: ready for Redis; still waiting for the database (PostgreSQL).
      redis = startRedis(redisPort, redisDir);
      await eventually(() => reachable(redisUrl, 6379), { message: 'redis-server listening' });
      const probe = createRedis(redisUrl, 'command');
      cleanups.push(() => {
        probe.disconnect();
      });
      const queues = new JobQueues(probe, prefix);
      const system = new Queue(QueueName.System, { connection: probe, prefix });
      system.on('error', () => {
        // Redis is killed on purpose below: the probe reconnects by itself.
      });
      cleanups.push(async () => {
        await Promise.race([
          Promise.all([queues.close(), system.close()]),
          new Promise((r) => setTimeout(r, 2000)),
        ]);
      });
      if (pg) {
        const waiting = await eventually(
          async () => {
            const r = await readyz(url);
            return r.body.redis === 'ok' ? r : false;
          },
          { message: 'redis ok in /readyz', timeout: 20_000 },
        );
        expect(waiting.status).toBe(503);
        expect(waiting.body).toMatchObject({ database: 'down', workers: 'waiting' });
        expect(waiting.body.down).toEqual(['database', 'workers']);
        // No work before the database answers: the schedulers are not registered yet.
        expect(await system.getJobSchedulersCount()).toBe(0);
        await proxy?.listen();
      }

      // Both answer: ready, the schedulers registered and their first job run.
      await eventually(async () => (await readyz(url)).status === 200, {
        message: 'ready',
        timeout: 30_000,
      });
      const completed = async (name: string) =>
        (await system.getJobs(['completed'], 0, 1000)).filter((j) => j.name === name);
      await eventually(async () => (await completed(JobName.EnsureSchedules)).length >= 1, {
        message: 'ensure-schedules ran',
        timeout: 20_000,
      });
      expect(await system.getJobSchedulersCount()).toBeGreaterThanOrEqual(4);
      // Said once the schedulers are registered, which may be just after their first job ran.
      await eventually(() => logLines(proc.output()).some((l) => l.msg === 'gateway started'), {
        message: "the 'gateway started' line",
      });

      if (pg) {
        // The database goes away while running: 503 naming it, workers paused; a job queued
        // meanwhile waits, untouched, and runs once it is back.
        await proxy?.cut();
        await eventually(
          async () => {
            const r = await readyz(url);
            return r.status === 503 && r.body.database === 'down' && r.body.workers === 'paused';
          },
          { message: 'database down, workers paused', timeout: 20_000 },
        );
        const { id } = await queues.enqueue(JobName.EnsureSchedules, {});
        await staysTrue(
          async () => {
            const job = await system.getJob(id);
            // Waiting (the workers are paused), or put back as delayed if a fetch already under
            // way when they paused took it (active only for that moment): never an attempt spent,
            // never finished.
            return (
              job?.attemptsMade === 0 &&
              job.finishedOn === undefined &&
              ['waiting', 'delayed', 'active'].includes(await job.getState())
            );
          },
          { for: 3000, interval: 200, message: 'the job waits while the database is away' },
        );
        await proxy?.listen();
        await eventually(async () => (await readyz(url)).status === 200, {
          message: 'ready again',
          timeout: 30_000,
        });
        await eventually(async () => (await system.getJob(id))?.finishedOn !== undefined, {
          message: 'the job queued during the outage ran',
          timeout: 20_000,
        });
        const job = await system.getJob(id);
        expect(await job?.getState()).toBe('completed');
        expect(job?.attemptsMade).toBe(1);
        const lines = logLines(proc.output());
        expect(lines.some((l) => l.msg === 'database is back')).toBe(true);
        expect(lines.some((l) => /^workers paused/.test(l.msg))).toBe(true);
        expect(lines.some((l) => /^workers resumed/.test(l.msg))).toBe(true);
      }

      // Redis goes away while running (killed, started again with its data): a job due during
      // the outage runs once it is back, and the schedulers are registered again.
      const before = (await completed(JobName.EnsureSchedules)).length;
      const delayed = await system.add(
        JobName.Ping,
        { message: 'after the outage' },
        { delay: 2000, attempts: 1 },
      );
      await stopProcess(redis);
      await eventually(
        async () => {
          const r = await readyz(url);
          return r.status === 503 && r.body.redis === 'down';
        },
        { message: 'redis down in /readyz' },
      );
      await new Promise((r) => setTimeout(r, 3000));
      redis = startRedis(redisPort, redisDir);
      await eventually(async () => (await readyz(url)).status === 200, {
        message: 'ready after Redis',
        timeout: 30_000,
      });
      await eventually(
        async () => (await system.getJob(String(delayed.id)))?.returnvalue?.pong === 'after the outage',
        {
          message: 'the delayed job ran',
          timeout: 30_000,
        },
      );
      await eventually(async () => (await completed(JobName.EnsureSchedules)).length > before, {
        message: 'schedulers registered again',
        timeout: 20_000,
      });
      const lines = logLines(proc.output());
      expect(lines.some((l) => l.msg === 'redis is back')).toBe(true);
      expectOneLinePerAttempt(attemptLines(lines, 'redis'));

      // And it stops cleanly.
      proc.child.kill('SIGTERM');
      expect((await proc.exited).code).toBe(0);
    }, 240_000);
  }
});
