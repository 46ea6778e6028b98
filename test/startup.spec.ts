import { describe, expect, it } from 'vitest';
import { backoffMs, Component, describeError, describeRedis } from '../src/startup.js';
import { describeDatabase } from '../src/store/orm.js';

describe('start-up: backoff, components, what a log line says (issue 12 item 3)', () => {
  it('backs off from 0.5 s, doubling, to at most 5 s', () => {
    expect([1, 2, 3, 4, 5, 6, 50].map(backoffMs)).toEqual([500, 1000, 2000, 4000, 5000, 5000, 5000]);
  });

  it("names an error, pg's AggregateError of several addresses too", () => {
    const refused = (address: string) =>
      Object.assign(new Error(`connect ECONNREFUSED ${address}`), { code: 'ECONNREFUSED' });
    expect(describeError(new AggregateError([refused('::1:5432'), refused('127.0.0.1:5432')]))).toBe(
      'connect ECONNREFUSED ::1:5432; connect ECONNREFUSED 127.0.0.1:5432',
    );
    expect(describeError(Object.assign(new Error(''), { code: 'ECONNRESET' }))).toBe('ECONNRESET');
    expect(describeError('down')).toBe('down');
  });

  it('says where the database and Redis are, never with credentials', () => {
    expect(
      describeDatabase({ kind: 'postgresql', url: 'postgres://app:s3cret@db.internal:6432/epg', poolMax: 5 }),
    ).toBe('postgresql db.internal:6432/epg');
    expect(describeDatabase({ kind: 'sqlite', file: '.data/gateway.sqlite' })).toBe(
      'sqlite .data/gateway.sqlite',
    );
    expect(describeRedis('redis://:s3cret@cache.internal:6380/2')).toBe('cache.internal:6380');
  });

  it('counts failed attempts and tells its listeners only when it goes up or down', () => {
    const c = new Component('database');
    const seen: string[] = [];
    c.onChange(() => seen.push(c.state));
    c.markDown('refused');
    c.markDown('refused');
    expect([c.state, c.attempts, c.everUp, seen]).toEqual(['down', 2, false, []]);
    c.markUp();
    c.markUp();
    expect([c.state, c.attempts, c.everUp, seen]).toEqual(['up', 0, true, ['up']]);
    c.markDown('gone');
    expect([c.error, seen]).toEqual(['gone', ['up', 'down']]);
  });
});
