import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { freePort, reachable } from '../../src/net.js';
import type { DatabaseConfig } from '../../src/store/orm.js';

export { reachable };

/** Redis as the tests find it: REDIS_URL, else 127.0.0.1:6379, else a private redis-server (stopped by `stop`). */
export async function ensureRedis(): Promise<{ url: string; stop: () => void; started: boolean }> {
  const wanted = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (await reachable(wanted, 6379)) return { url: wanted, stop: () => {}, started: false };
  if (process.env.REDIS_URL) throw new Error(`REDIS_URL is ${wanted}, but nothing answers there`);
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).error) {
    throw new Error('No Redis on 127.0.0.1:6379 and no redis-server on PATH (set REDIS_URL)');
  }
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'epg-bench-redis-'));
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100 && !(await reachable(url, 6379, 200)); i++)
    await new Promise((r) => setTimeout(r, 100));
  return {
    url,
    started: true,
    stop: () => {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface BenchDatabase {
  kind: 'sqlite' | 'postgresql';
  config: DatabaseConfig;
  /** Where it is, for the report (file, or the database name). */
  where: string;
  drop(): Promise<void>;
}

/** A new SQLite file in a temporary directory. */
export function createSqlite(): BenchDatabase {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'epg-bench-'));
  const file = path.join(dir, 'gateway.sqlite');
  return {
    kind: 'sqlite',
    config: { kind: 'sqlite', file },
    where: file,
    async drop() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** A new, empty database on TEST_DATABASE_URL's server (or the local default), dropped by `drop`. */
export async function createPostgres(
  baseUrl = process.env.TEST_DATABASE_URL ?? DEFAULT_POSTGRES_URL,
): Promise<BenchDatabase> {
  const name = `epg_bench_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const admin = new pg.Client({ connectionString: baseUrl, connectionTimeoutMillis: 5000 });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    kind: 'postgresql',
    // The gateway's default pool size (DATABASE_POOL_MAX).
    config: { kind: 'postgresql', url: url.toString(), poolMax: 10 },
    where: `${url.host}/${name}`,
    async drop() {
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

/** A gateway's queues, schedulers and topics live under its QUEUE_PREFIX: remove them from Redis. */
export async function dropQueueKeys(url: string, prefix: string): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  let removed = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) removed += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return removed;
}
