import { randomUUID } from 'node:crypto';
import type { GraphQLFormattedError } from 'graphql';
import { GraphQLError } from 'graphql';
import { AppError } from '../app/errors.js';
import type { Logger } from '../logger.js';

/** Codes that GraphQL itself, Apollo or graphql-armor set, safe to show as they are. */
const PUBLIC_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
  'UNAUTHENTICATED',
  'FORBIDDEN',
]);

export function forbidden(message = 'Your key may not do this.'): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'FORBIDDEN' } });
}

/** GraphQL's "Did you mean …?" hints name fields, arguments, types and enum values of the schema. */
const SUGGESTION = /\s*Did you mean [^?]*\?/g;

/** A message without GraphQL's suggestions, which would show the schema to a caller in production. */
export function withoutSuggestions(message: string): string {
  return message.replace(SUGGESTION, '').trim();
}

function unwrap(error: unknown): unknown {
  let e = error;
  for (let i = 0; i < 5 && e instanceof GraphQLError && e.originalError; i++) e = e.originalError;
  return e;
}

/**
 * Shapes every error the API returns. Expected failures (AppError, GraphQL's own
 * validation) keep their message and code; anything else is masked behind a
 * correlation id that also appears in the log line, so support can find it.
 */
export function formatGraphQLError(
  formatted: GraphQLFormattedError,
  error: unknown,
  logger: Logger,
  opts: { includeStack: boolean; hideSuggestions?: boolean },
): GraphQLFormattedError {
  const original = unwrap(error);
  if (original instanceof AppError) {
    return {
      message: original.message,
      locations: formatted.locations,
      path: formatted.path,
      extensions: { ...original.details, code: original.code },
    };
  }
  const code = formatted.extensions?.code;
  const isGraphQLOwn = !(error instanceof GraphQLError) || !(error as GraphQLError).originalError;
  if (
    typeof code === 'string' &&
    PUBLIC_CODES.has(code) &&
    (isGraphQLOwn || original instanceof GraphQLError)
  ) {
    const message = opts.hideSuggestions ? withoutSuggestions(formatted.message) : formatted.message;
    if (opts.includeStack) return { ...formatted, message };
    const { stacktrace: _drop, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, message, extensions };
  }
  const correlationId = randomUUID();
  logger.error(
    { correlationId, err: original instanceof Error ? original : String(original), path: formatted.path },
    'internal error in GraphQL operation',
  );
  return {
    message: `Internal server error (correlation id ${correlationId})`,
    locations: formatted.locations,
    path: formatted.path,
    extensions: {
      code: 'INTERNAL_SERVER_ERROR',
      correlationId,
      ...(opts.includeStack && original instanceof Error ? { stacktrace: original.stack?.split('\n') } : {}),
    },
  };
}
