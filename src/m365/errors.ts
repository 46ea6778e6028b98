import { GraphError } from '@microsoft/microsoft-graph-client';
import { MicrosoftError, type MicrosoftErrorCode } from '../app/ports/microsoft.port.js';

/**
 * AADSTS codes the identity platform puts in `error_description`
 * (https://learn.microsoft.com/entra/identity-platform/reference-error-codes).
 */
const AADSTS: Record<string, MicrosoftErrorCode> = {
  '7000215': 'INVALID_SECRET',
  '7000222': 'SECRET_EXPIRED',
  '700016': 'INVALID_CLIENT',
  '90002': 'TENANT_NOT_FOUND',
  '700005': 'WRONG_TENANT',
  '65001': 'CONSENT_REQUIRED',
  '70000': 'INVALID_GRANT',
  '70008': 'INVALID_GRANT',
  '54005': 'INVALID_GRANT',
  '501481': 'INVALID_GRANT',
  '700082': 'AUTH_EXPIRED',
  // The authorization account must sign in again: tokens revoked (50173), MFA now required
  // (50076, 50079), MFA or session expired (50078, 50133), flow token expired (50089).
  '50173': 'AUTH_EXPIRED',
  '50076': 'AUTH_EXPIRED',
  '50079': 'AUTH_EXPIRED',
  '50078': 'AUTH_EXPIRED',
  '50133': 'AUTH_EXPIRED',
  '50089': 'AUTH_EXPIRED',
};

/** Any failure of msal-node, mapped to a typed code (the message keeps Microsoft's text). */
export function identityError(err: unknown): MicrosoftError {
  if (err instanceof MicrosoftError) return err;
  const e = err as { errorCode?: string; errorMessage?: string; message?: string; subError?: string };
  const text = `${e.errorMessage ?? ''} ${e.message ?? ''}`;
  const aadsts = /AADSTS(\d+)/.exec(text)?.[1];
  // Microsoft's error_description ends its first line with \r\n (then trace and correlation ids).
  const message = ((e.errorMessage || e.message || String(err)).split(/\r?\n/)[0] ?? '').trim().slice(0, 500);
  if (aadsts && AADSTS[aadsts]) return new MicrosoftError(AADSTS[aadsts], message);
  switch (e.errorCode) {
    case 'invalid_client':
      return new MicrosoftError('INVALID_SECRET', message);
    case 'invalid_grant':
      return new MicrosoftError('INVALID_GRANT', message);
    case 'no_tokens_found':
    case 'interaction_required':
    case 'consent_required':
    case 'login_required':
      return new MicrosoftError('AUTH_EXPIRED', message);
    case 'endpoints_resolution_error':
    case 'network_error':
    case 'ClientAuthErrorCodes.networkError':
      return new MicrosoftError('UNAVAILABLE', message);
  }
  if (/ECONNREFUSED|ENOTFOUND|ETIMEDOUT|ECONNRESET|fetch failed|network/i.test(text)) {
    return new MicrosoftError('UNAVAILABLE', message);
  }
  return new MicrosoftError('UNKNOWN', message);
}

/**
 * Error codes that mean "this delta token is no longer honoured: read in full again"
 * (https://learn.microsoft.com/graph/errors#code-property), lower-cased: Graph documents
 * `syncStateNotFound` but has also answered `SyncStateNotFound`
 * (https://github.com/microsoftgraph/msgraph-sdk-javascript/issues/99), so codes compare
 * case-insensitively.
 */
const DELTA_EXPIRED_CODES = new Set(['syncstatenotfound', 'resyncrequired']);

/**
 * A failed Graph call, mapped to a typed code. Directory delta tokens that are too old
 * answer 400 `syncStateNotFound` (https://learn.microsoft.com/graph/delta-query-overview#token-duration);
 * a "synchronization reset" answers 410 Gone with a Location header holding the initial query
 * with an empty `$deltaToken`, "an indication that the application must restart with a full
 * synchronization" (https://learn.microsoft.com/graph/delta-query-overview#synchronization-reset).
 * Both are `DELTA_EXPIRED`, whatever the code of a 410: the caller then reads in full its
 * own way (users by `/users`, which a delta round from Location would not replace), so the
 * Location is not followed.
 */
export function graphError(err: unknown): MicrosoftError {
  if (err instanceof MicrosoftError) return err;
  if (err instanceof GraphError || (err as { statusCode?: number }).statusCode !== undefined) {
    const g = err as GraphError;
    const status = g.statusCode;
    const code = g.code ?? '';
    const message = `${status} ${code}: ${g.message}`.slice(0, 500);
    if (status === 410 || DELTA_EXPIRED_CODES.has(code.toLowerCase())) {
      return new MicrosoftError('DELTA_EXPIRED', message);
    }
    if (status === 429) return new MicrosoftError('THROTTLED', message);
    if (status === 401) return new MicrosoftError('AUTH_EXPIRED', message);
    if (status === 403) return new MicrosoftError('CONSENT_REQUIRED', message);
    if (status === 404) return new MicrosoftError('NOT_FOUND', message);
    if (status >= 500 || status === -1) return new MicrosoftError('UNAVAILABLE', message);
    return new MicrosoftError('UNKNOWN', message);
  }
  return identityError(err);
}
