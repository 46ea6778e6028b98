import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { freePort, reachable } from '../../src/net.js';
import { eventually } from './wait.js';

/**
 * Tests talk to a real Redis: REDIS_URL, else the local one on 6379, else a private
 * redis-server started here for the run. PostgreSQL comes from TEST_DATABASE_URL.
 */
export default async function setup(project: TestProject) {
  let redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  let stop: (() => void) | undefined;
  if (!(await reachable(redisUrl, 6379))) {
    const port = await freePort();
    const dir = path.resolve('.data/test-redis');
    mkdirSync(dir, { recursive: true });
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir],
      {
        stdio: 'ignore',
      },
    );
    child.on('error', (err) => {
      console.error(
        `Could not start redis-server (${err.message}); install it (apt-get install redis-server).`,
      );
    });
    redisUrl = `redis://127.0.0.1:${port}`;
    const url = redisUrl;
    await eventually(() => reachable(url, 6379), {
      timeout: 10_000,
      interval: 100,
      message: `the redis-server started on ${url} to answer`,
    });
    stop = () => child.kill('SIGTERM');
  }
  const postgresUrl = process.env.TEST_DATABASE_URL ?? null;
  if (!postgresUrl) {
    const bar = '!'.repeat(78);
    console.warn(
      `\n${bar}\n!! TEST_DATABASE_URL is not set: the PostgreSQL leg of every *.db.spec.ts is SKIPPED.\n!! Set it (e.g. postgres://postgres@127.0.0.1:5432/postgres) to run it; .ci/run does.\n${bar}\n`,
    );
  }
  project.provide('redisUrl', redisUrl);
  project.provide('postgresUrl', postgresUrl);
  return () => stop?.();
}
