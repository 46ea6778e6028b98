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
});
