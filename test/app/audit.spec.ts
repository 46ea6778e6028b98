import { describe, expect, it } from 'vitest';
import { REDACTED, redactArguments } from '../../src/app/audit.js';
import { uuidv7 } from '../../src/store/audit.repository.js';

describe('audit entries: arguments with secrets redacted, trimmed, ids in write order', () => {
  it('redacts every argument or field named like a secret, at any depth', () => {
    const out = redactArguments({
      input: {
        clientId: 'c',
        clientSecret: 's1',
        nested: { password: 'p', apiKey: 'k', refreshToken: 't', list: [{ secret: 'x', keep: 1 }] },
      },
      secret: 's2',
      token: 't2',
      key: 'k2',
      name: 'kept',
    });
    expect(out).toEqual({
      input: {
        clientId: 'c',
        clientSecret: REDACTED,
        nested: {
          password: REDACTED,
          apiKey: REDACTED,
          refreshToken: REDACTED,
          list: [{ secret: REDACTED, keep: 1 }],
        },
      },
      secret: REDACTED,
      token: REDACTED,
      key: REDACTED,
      name: 'kept',
    });
    expect(JSON.stringify(out)).not.toMatch(/s1|s2|"p"|"k"|t2|k2/);
  });

  it('redacts a secret even when it is an object or a list', () => {
    expect(redactArguments({ credentials: { user: 'u', pass: 'p' }, tokens: ['a', 'b'] })).toEqual({
      credentials: REDACTED,
      tokens: REDACTED,
    });
  });

  it('keeps dates as ISO text, drops undefined, and cuts long strings and lists short', () => {
    const out = redactArguments({
      at: new Date('2026-01-02T03:04:05.000Z'),
      gone: undefined,
      long: 'x'.repeat(600),
      ids: Array.from({ length: 150 }, (_, i) => String(i)),
    });
    expect(out.at).toBe('2026-01-02T03:04:05.000Z');
    expect('gone' in out).toBe(false);
    expect((out.long as string).length).toBeLessThan(600);
    expect(out.ids as string[]).toHaveLength(101);
    expect((out.ids as string[])[100]).toBe('… 50 more');
  });

  it('makes audit ids that sort in the order they were made, even within one millisecond', () => {
    const ids = Array.from({ length: 50 }, () => uuidv7(1_700_000_000_000));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(50);
    expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
