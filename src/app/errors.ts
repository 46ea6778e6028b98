import type { FieldProblem } from '../domain/tenant.js';

/** Codes a client can act on; GraphQL carries them as `extensions.code`. */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'INVALID_INPUT'
  | 'NOT_FOUND'
  | 'INVALID_STATE'
  | 'UNAVAILABLE';

/** An expected failure of a use case, safe to show to the caller as it is. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }

  static invalidInput(problems: FieldProblem[]): AppError {
    const text = problems.map((p) => `${p.field}: ${p.message}`).join('; ');
    return new AppError('INVALID_INPUT', `Invalid input: ${text}`, {
      field: problems[0]?.field,
      problems,
    });
  }
}
