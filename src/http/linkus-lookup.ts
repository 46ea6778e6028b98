import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authenticate, bearerToken } from '../app/access.js';
import { lookupCaller } from '../app/contact-lookup.js';
import { AppError, type ErrorCode } from '../app/errors.js';
import type { ContactMatch } from '../app/ports/contact-lookup.port.js';
import type { Store } from '../app/ports/store.port.js';
import type { AppServices } from '../app/services.js';
import type { KeyHolder } from '../domain/access.js';
import { SearchRank } from '../domain/contact-search.js';
import { actingCaller, namedPbx, PBX_HEADER, pbxRequired, scopeRefusal } from '../graphql/context.js';
import type { Logger } from '../logger.js';
import type { RateLimits } from './rate-limits.js';

/** The caller ID route: a PBX's "contact lookup URL" (issue 13 item 4). */
export const LINKUS_LOOKUP_PATH = '/linkus/lookup/caller';

/** HTTP statuses of the codes this route answers; anything else is a 500. */
const STATUS: Partial<Record<ErrorCode, number>> = {
  INVALID_INPUT: 400,
  PBX_REQUIRED: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  UNAVAILABLE: 503,
};

const errorBody = (code: string, message: string, details: Record<string, unknown> = {}) => ({
  errors: [{ message, extensions: { ...details, code } }],
});

const badNumber = () =>
  AppError.invalidInput([
    {
      field: 'number',
      message: 'give the number once: ?number=<as dialled>, digits and + ( ) - . or spaces',
    },
  ]);

/**
 * The `number` of the query string as the caller dialled it. A PBX puts the number into its
 * lookup URL as it is, so a leading "+" is the number's own (not a space, as form encoding
 * would have it): "?number=+442079460018" and "?number=%2B442079460018" are one number; any
 * later "+" is a space ("020+7946+0018"). Absent, given twice, or badly encoded: null.
 */
export function numberOfQuery(url: string): string | null {
  const q = url.indexOf('?');
  if (q < 0) return null;
  let found: string | null = null;
  for (const pair of url.slice(q + 1).split('&')) {
    if (!pair.startsWith('number=')) continue;
    if (found !== null) return null;
    const raw = pair.slice('number='.length);
    const lead = raw.startsWith('+') ? '+' : '';
    try {
      found = lead + decodeURIComponent(raw.slice(lead.length).replace(/\+/g, ' '));
    } catch {
      return null;
    }
  }
  return found;
}

/** The GraphQL `ContactMatch` fields, and only those (src/graphql/types/contact.type.ts). */
const asJson = (m: ContactMatch) => ({
  source: m.source,
  id: m.id,
  displayName: m.displayName,
  company: m.company,
  number: m.number,
  extensionNumber: m.extensionNumber,
  phonebookId: m.phonebookId,
  phonebookName: m.phonebookName,
  rank: SearchRank[m.rank],
});

/**
 * `GET /linkus/lookup/caller?number=<as dialled>`: caller ID over plain HTTP, for PBXs and
 * clients that look a caller up with a GET on every incoming call. The same use case as the
 * GraphQL `lookupCaller` (src/app/contact-lookup.ts), the same keys and Linkus access tokens
 * (`authenticate`), the same scoping (a LINKUS key: its extension's personal contacts, its
 * phonebooks and the extensions; ADMIN, VIEWER and an operator naming the PBX with `x-pbx-id`:
 * every phonebook), the same error codes in GraphQL's error shape. Answers
 * `{"match": {…ContactMatch} | null}`, never cached (`Cache-Control: no-store`).
 *
 * Per request: the lookup's one statement, and a key lookup only when this process has not
 * found the key valid in the last few seconds (src/app/known-keys.ts; none for a Linkus access
 * token, checked in memory). The auth-failure limit (src/http/rate-limits.ts) is read only when the key does
 * not authenticate: a request with a valid key costs no Redis round trip; 401s are counted as
 * on every API path, and past the limit the address gets 429 instead of 401.
 */
export function registerLinkusLookup(
  app: FastifyInstance,
  deps: {
    openStore: () => Store;
    services: AppServices;
    authFailures: RateLimits['authFailures'];
    logger: Logger;
  },
) {
  const fail = (reply: FastifyReply, status: number, code: string, message: string, details = {}) =>
    reply
      .code(status)
      .header('cache-control', 'no-store')
      .send(errorBody(code, message, details));

  app.get(LINKUS_LOOKUP_PATH, async (request: FastifyRequest, reply: FastifyReply) => {
    const store = deps.openStore();
    let principal: KeyHolder | null;
    try {
      principal = await authenticate(
        store,
        bearerToken(request.headers.authorization),
        deps.services.linkusSessions,
        deps.services.knownKeys,
      );
    } catch (err) {
      request.log.warn({ err: (err as Error).message }, 'authentication unavailable');
      return fail(
        reply,
        503,
        'UNAVAILABLE',
        'The gateway cannot check keys right now (database unavailable).',
      );
    }
    if (!principal) {
      const limit = await deps.authFailures.refused(request);
      if (limit.refused) {
        return reply
          .code(429)
          .header('retry-after', String(limit.retryAfterS))
          .header('cache-control', 'no-store')
          .send(
            errorBody(
              'TOO_MANY_REQUESTS',
              `Too many requests without a valid key from this address; try again in ${limit.retryAfterS} s.`,
            ),
          );
      }
      reply.header('www-authenticate', 'Bearer');
      return fail(
        reply,
        401,
        'UNAUTHENTICATED',
        'A valid API key is required: send "Authorization: Bearer <key>".',
      );
    }
    const named = namedPbx(request.headers[PBX_HEADER]);
    const refusal = scopeRefusal(principal, named);
    if (refusal) return fail(reply, 403, 'FORBIDDEN', refusal);
    try {
      const caller = actingCaller(principal, named);
      if (!caller) throw pbxRequired();
      const number = numberOfQuery(request.url);
      if (number === null) throw badNumber();
      const match = await lookupCaller(store, caller, number);
      return reply.header('cache-control', 'no-store').send({ match: match ? asJson(match) : null });
    } catch (err) {
      if (err instanceof AppError && STATUS[err.code]) {
        return fail(reply, STATUS[err.code] as number, err.code, err.message, err.details);
      }
      const correlationId = randomUUID();
      deps.logger.error({ correlationId, err }, 'internal error in the caller lookup');
      return fail(
        reply,
        500,
        'INTERNAL_SERVER_ERROR',
        `Internal server error (correlation id ${correlationId})`,
        { correlationId },
      );
    }
  });
}
