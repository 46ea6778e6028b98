import { Writable } from 'node:stream';
import { GraphQLError } from 'graphql';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/app/errors.js';
import { formatGraphQLError } from '../../src/graphql/errors.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

describe('GraphQL error masking: internal errors behind a correlation id, expected ones kept', () => {
  it('masks an internal error behind a correlation id that the log line carries too', () => {
    const { logger, lines } = capture();
    const thrown = new GraphQLError('boom', { originalError: new Error('db password is hunter2') });
    const out = formatGraphQLError(thrown.toJSON(), thrown, logger, { includeStack: false });
    expect(out.message).not.toContain('hunter2');
    expect(out.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    const id = out.extensions?.correlationId as string;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(out.message).toContain(id);
    expect(lines.join('')).toContain(id);
    expect(out.extensions).not.toHaveProperty('stacktrace');
  });

  it('keeps an expected failure as it is, with its code and field', () => {
    const { logger, lines } = capture();
    const thrown = new GraphQLError('x', {
      originalError: AppError.invalidInput([{ field: 'timeZone', message: 'not a zone' }]),
    });
    const out = formatGraphQLError(thrown.toJSON(), thrown, logger, { includeStack: false });
    expect(out.extensions).toMatchObject({ code: 'INVALID_INPUT', field: 'timeZone' });
    expect(out.message).toContain('timeZone: not a zone');
    expect(lines).toHaveLength(0);
  });
});
