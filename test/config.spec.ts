import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig as load } from '../src/config.js';

const KEY = { SECRET_KEY: 'a'.repeat(64) };
const loadConfig = (env: Record<string, string>, argv: string[]) => load({ ...KEY, ...env }, argv);

describe('config: defaults, database kind, --role, secret key, every bad variable at once', () => {
  it('has working defaults: SQLite under .data, local Redis, role all', () => {
    const c = loadConfig({}, []);
    expect(c.role).toBe('all');
    expect(c.database).toEqual({ kind: 'sqlite', file: '.data/gateway.sqlite' });
    expect(c.redis.url).toBe('redis://127.0.0.1:6379');
    expect(c.graphql.maxDepth).toBe(10);
    expect(c.http.port).toBe(4000);
  });

  it('reads SYNC_CONCURRENCY, the sync runs a worker process runs at once: 8 by default, 1 to 64 (issue 16 item 4)', () => {
    expect(loadConfig({}, ['--role', 'worker']).workers.syncConcurrency).toBe(8);
    expect(loadConfig({ SYNC_CONCURRENCY: '16' }, []).workers.syncConcurrency).toBe(16);
    expect(() => loadConfig({ SYNC_CONCURRENCY: '0' }, [])).toThrow(/SYNC_CONCURRENCY/);
    expect(() => loadConfig({ SYNC_CONCURRENCY: '65' }, [])).toThrow(/SYNC_CONCURRENCY/);
  });

  it('picks PostgreSQL for a postgres:// DATABASE_URL', () => {
    const c = loadConfig({ DATABASE_URL: 'postgres://u@db:5432/gw' }, []);
    expect(c.database).toMatchObject({ kind: 'postgresql', url: 'postgres://u@db:5432/gw' });
  });

  it('reads --role in both spellings', () => {
    expect(loadConfig({}, ['--role', 'worker']).role).toBe('worker');
    expect(loadConfig({}, ['--role=api']).role).toBe('api');
  });

  it('requires a secret key, and says how to make one', () => {
    expect(() => load({}, [])).toThrow(/SECRET_KEY: required .*generate-secret-key/);
    expect(() => load({ SECRET_KEY: 'short' }, [])).toThrow(/SECRET_KEY: must be 32 bytes/);
    expect(load({ SECRET_KEY: Buffer.alloc(32, 7).toString('base64') }, []).secretKey.key).toEqual(
      Buffer.alloc(32, 7),
    );
  });

  it('lists every bad variable at once, each with its name and reason', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', REDIS_URL: 'localhost', LOG_LEVEL: 'loud' }, [
        '--role',
        'boss',
      ]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(5);
    for (const name of ['PORT', 'DATABASE_URL', 'REDIS_URL', 'LOG_LEVEL', '--role']) {
      expect(problems.some((p) => p.startsWith(`${name}:`))).toBe(true);
    }
    expect((error as Error).message).toContain('Invalid configuration');
  });

  it('takes the current secret key and older ones, from SECRET_KEY or the lines of SECRET_KEY_FILE (issue 12 item 6)', () => {
    const k = (n: number) => Buffer.alloc(32, n);
    const c = load({ SECRET_KEY: `${k(1).toString('base64')},${k(2).toString('hex')}` }, []);
    expect(c.secretKey.key).toEqual(k(1));
    expect(c.secretKey.previous).toEqual([k(2)]);
    expect(() => load({ SECRET_KEY: `${k(1).toString('base64')},${k(1).toString('base64')}` }, [])).toThrow(
      /listed twice/,
    );
    expect(() => load({ SECRET_KEY: `${k(1).toString('base64')},short` }, [])).toThrow(
      /key 2: must be 32 bytes/,
    );

    const dir = path.resolve('.data/test/keys');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `key-${process.pid}-${Date.now()}`);
    try {
      writeFileSync(file, `${k(3).toString('base64')}\n${k(4).toString('base64')}\n`, { mode: 0o600 });
      const f = load({ SECRET_KEY_FILE: file }, []);
      expect(f.secretKey).toEqual({ key: k(3), previous: [k(4)], file });
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('refuses a key file the group or others may read, saying how to fix it (issue 12 item 6)', () => {
    const dir = path.resolve('.data/test/keys');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `loose-${process.pid}-${Date.now()}`);
    try {
      writeFileSync(file, `${'a'.repeat(64)}\n`, { mode: 0o644 });
      expect(() => load({ SECRET_KEY_FILE: file }, [])).toThrow(
        new RegExp(`SECRET_KEY_FILE: ${file} may be read by others \\(mode 0644\\); .*chmod 600 ${file}`),
      );
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('reads the webhook, rate-limit and metrics settings, with documented defaults', () => {
    const d = loadConfig({}, []);
    expect(d.webhook).toEqual({
      bodyLimitBytes: 1_048_576,
      maxItems: 1000,
      ratePerMinute: 600,
      forgedPerMinute: 20,
      validationTokenMax: 2048,
      bodyTimeoutMs: 10_000,
      maxWaiting: 100,
    });
    expect(
      loadConfig({ WEBHOOK_BODY_TIMEOUT_MS: '2500', WEBHOOK_MAX_WAITING: '4' }, []).webhook,
    ).toMatchObject({
      bodyTimeoutMs: 2500,
      maxWaiting: 4,
    });
    expect(d.limits).toEqual({ loginPerMinute: 10, authFailuresPerMinute: 30, linkusSsoPerMinute: 600 });
    expect(loadConfig({ LINKUS_SSO_RATE_LIMIT_PER_MINUTE: '50' }, []).limits.linkusSsoPerMinute).toBe(50);
    expect(d.metrics).toEqual({ port: null, token: null });
    expect(d.trustProxy).toBe(false);
    const c = loadConfig(
      { METRICS_PORT: '9464', METRICS_TOKEN: 'x'.repeat(16), TRUST_PROXY: '10.0.0.0/8,127.0.0.1' },
      [],
    );
    expect(c.metrics).toEqual({ port: 9464, token: 'x'.repeat(16) });
    expect(c.trustProxy).toEqual(['10.0.0.0/8', '127.0.0.1']);
    expect(() => loadConfig({ METRICS_TOKEN: 'short' }, [])).toThrow(/METRICS_TOKEN: at least 16/);
  });
});
