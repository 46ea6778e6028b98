import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('config (issue 2 item 1)', () => {
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
