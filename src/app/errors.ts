import type { FieldProblem } from '../domain/tenant.js';

/** Codes a client can act on; GraphQL carries them as `extensions.code`. */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'INVALID_INPUT'
  | 'NOT_FOUND'
  | 'INVALID_STATE'
  | 'UNAVAILABLE'
  // the PBX directory by hand (issue 4 item 5; U9, G3, G4, U10)
  | 'NUMBER_IN_USE'
  | 'EMAIL_IN_USE'
  | 'NAME_IN_USE'
  | 'CAPACITY_REACHED'
  | 'GROUP_LIMIT_REACHED'
  | 'LOCKED_BY_SYNC'
  // operators (issue 11 item 5)
  /** An operator called a PBX's own API without naming the PBX (`x-pbx-id`). */
  | 'PBX_REQUIRED'
  /** A PBX cannot be deleted while a sync of it runs. */
  | 'SYNC_RUNNING'
  // connect and updateSecret (L2, L3)
  | 'INVALID_CLIENT'
  | 'INVALID_SECRET'
  | 'SECRET_EXPIRED'
  | 'CONSENT_DENIED'
  | 'TENANT_MISMATCH'
  | 'STATE_INVALID'
  // application permissions without admin consent (issue 11 item 1)
  | 'MISSING_PERMISSIONS'
  // Linkus SSO settings (S1): the integration must be connected and enabled
  | 'INTEGRATION_NOT_CONNECTED'
  | 'INTEGRATION_DISABLED';

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
