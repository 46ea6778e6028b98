import fastifyFormbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bearerToken } from '../app/access.js';
import { isRefusal, type LinkusTokens, type TokenRefusal } from '../app/linkus-sessions.js';
import type { AppServices } from '../app/services.js';
import type { Logger } from '../logger.js';
import type { RateLimits } from './rate-limits.js';

export const LINKUS_TOKEN_PATH = '/linkus/sso/token';
export const LINKUS_LOGOUT_PATH = '/linkus/sso/logout';

/** The largest token request read (a code, a verifier and a redirect URI fit many times over). */
const BODY_LIMIT = 8192;

type Params = Record<string, unknown>;

/** An OAuth 2.0 answer: JSON, never cached (RFC 6749 §5.1). */
function answer(reply: FastifyReply, status: number, body: unknown) {
  return reply
    .code(status)
    .header('cache-control', 'no-store')
    .header('pragma', 'no-cache')
    .type('application/json; charset=utf-8')
    .send(body);
}

/** Refusals that guessing makes (a code or refresh token nobody issued): counted per address. */
const GUESSES = new Set(['CODE_INVALID', 'REFRESH_TOKEN_INVALID']);

async function sendResult(
  request: FastifyRequest,
  reply: FastifyReply,
  result: LinkusTokens | TokenRefusal,
  authFailures: RateLimits['authFailures'],
) {
  if (isRefusal(result)) {
    if (GUESSES.has(result.code)) await authFailures.count(request);
    return answer(reply, 400, {
      error: result.error,
      error_description: result.description,
      code: result.code,
    });
  }
  return answer(reply, 200, result);
}

/**
 * S2/S4: the Linkus token endpoint and sign-out. `POST /linkus/sso/token`, form-encoded (as
 * RFC 6749 §4.1.3 says) or JSON: `grant_type=authorization_code` with `code`, `code_verifier`
 * and `redirect_uri`, or `grant_type=refresh_token` with `refresh_token`. `POST
 * /linkus/sso/logout` ends the session of a `refresh_token` (body) or of the access token (bearer).
 */
export async function registerLinkusToken(
  app: FastifyInstance,
  deps: { services: AppServices; logger: Logger; authFailures: RateLimits['authFailures'] },
) {
  const sessions = deps.services.linkusSessions;
  await app.register(async (scope) => {
    await scope.register(fastifyFormbody, { bodyLimit: BODY_LIMIT });
    // A body that does not parse is an invalid_request, in OAuth's words, not fastify's.
    scope.setErrorHandler((err: Error & { statusCode?: number }, _request, reply) => {
      if (err.statusCode && err.statusCode < 500) {
        return answer(reply, err.statusCode === 413 ? 413 : 400, {
          error: 'invalid_request',
          error_description: 'The request body could not be read (form-encoded or JSON).',
          code: 'INVALID_REQUEST',
        });
      }
      deps.logger.error({ err }, 'Linkus token endpoint failed');
      return answer(reply, 503, {
        error: 'temporarily_unavailable',
        error_description: 'The gateway cannot issue tokens right now.',
      });
    });

    scope.post(LINKUS_TOKEN_PATH, { bodyLimit: BODY_LIMIT }, async (request, reply) => {
      const body = (request.body ?? {}) as Params;
      if (typeof body !== 'object' || Array.isArray(body))
        return answer(reply, 400, {
          error: 'invalid_request',
          error_description: 'The request body must be form-encoded or a JSON object.',
          code: 'INVALID_REQUEST',
        });
      const grantType = body.grant_type;
      if (grantType === 'authorization_code') {
        return sendResult(
          request,
          reply,
          await sessions.exchangeCode({
            code: body.code,
            codeVerifier: body.code_verifier,
            redirectUri: body.redirect_uri,
          }),
          deps.authFailures,
        );
      }
      if (grantType === 'refresh_token')
        return sendResult(
          request,
          reply,
          await sessions.refresh({ refreshToken: body.refresh_token }),
          deps.authFailures,
        );
      deps.logger.warn({ code: 'INVALID_REQUEST' }, 'Linkus token request refused: INVALID_REQUEST');
      return answer(reply, 400, {
        error: typeof grantType === 'string' && grantType ? 'unsupported_grant_type' : 'invalid_request',
        error_description: 'grant_type must be authorization_code or refresh_token.',
        code: 'INVALID_REQUEST',
      });
    });

    scope.post(LINKUS_LOGOUT_PATH, { bodyLimit: BODY_LIMIT }, async (request, reply) => {
      const body = ((request.body ?? {}) as Params) || {};
      await sessions.signOut({
        refreshToken: body.refresh_token,
        accessToken: bearerToken(request.headers.authorization),
      });
      // As RFC 7009 §2.2: the same answer whether a session ended or there was none.
      return answer(reply, 200, { signedOut: true });
    });
  });
}
