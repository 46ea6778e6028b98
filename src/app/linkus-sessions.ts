import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { ApiRole, administers, type Caller, type KeyHolder } from '../domain/access.js';
import { IntegrationStatus } from '../domain/integration.js';
import { hashApiKey } from './access.js';
import { AppError } from './errors.js';
import { ACCESS_TOKEN_TTL_S, AccessTokenKeys } from './linkus-tokens.js';
import type { KeyRevocationNotifier } from './ports/key-revocation.port.js';
import type { CodeRedemption, SignInCodeStore } from './ports/linkus-codes.port.js';
import type { LinkusSessionData, LinkusSessionScope } from './ports/linkus-sessions.port.js';
import type { LinkusSignInCodes, LinkusSignInGrant, LinkusSsoRefusal } from './ports/linkus-sso.port.js';
import type { AppLog } from './ports/log.port.js';
import type { Store } from './ports/store.port.js';
import type { SecretBox } from './secret-box.js';

/** How long a one-time sign-in code can be redeemed (the seam says ≤ 60 s). */
export const CODE_TTL_MS = 60_000;
/**
 * How long a code's trace outlives its lifetime (Redis): an expired code is refused as expired,
 * and a code presented again after its redemption as a replay (whose session is revoked), not as
 * unknown. The grant itself is gone at the first redemption.
 */
export const CODE_TRACE_MS = 10 * 60_000;
/** A session's refresh tokens stop working this long after its sign-in, refreshed or not. */
export const SESSION_TTL_MS = 30 * 24 * 3600_000;
/** How many sessions of one extension the admin list shows (newest first). */
export const SESSION_LIST_LIMIT = 100;

/** A code, a refresh token, a PKCE challenge: 256 random bits in base64url (43 characters). */
const BASE64URL_256 = /^[A-Za-z0-9_-]{43}$/;
/** RFC 7636 §4.1: code_verifier = 43*128unreserved. */
const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Why a session ended (`revokedReason`). */
export type SessionEnd =
  | 'SIGNED_OUT'
  | 'ADMIN_REVOKED'
  | 'CODE_REPLAYED'
  | 'REFRESH_TOKEN_REUSED'
  | 'EXTENSION_GONE'
  | 'INTEGRATION_DISABLED'
  | 'INTEGRATION_DISCONNECTED';

/** What the token endpoint answers when it issues (RFC 6749 §5.1, plus the extension). */
export interface LinkusTokens {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
  extension: { number: string; name: string };
}

/** A refused token request (RFC 6749 §5.2), with the refusal's own code. */
export interface TokenRefusal {
  refused: true;
  error: 'invalid_request' | 'invalid_grant' | 'unsupported_grant_type';
  code: LinkusSsoRefusal;
  description: string;
}

const refuse = (
  code: LinkusSsoRefusal,
  description: string,
  error: TokenRefusal['error'] = 'invalid_grant',
): TokenRefusal => ({ refused: true, error, code, description });

export function isRefusal(r: unknown): r is TokenRefusal {
  return typeof r === 'object' && r !== null && (r as TokenRefusal).refused === true;
}

export interface LinkusSessionsDeps {
  codes: SignInCodeStore;
  openStore: () => Store;
  secrets: SecretBox;
  /** The same announcements as revoked keys: every process closes the sockets and refuses the tokens. */
  revocations: KeyRevocationNotifier;
  now: () => Date;
  log: AppLog;
  /** How long a code can be redeemed (default CODE_TTL_MS; tests give 0 to get an expired code). */
  codeTtlMs?: number;
  /** Access token lifetime in seconds (default ACCESS_TOKEN_TTL_S). */
  accessTokenTtlS?: number;
}

/**
 * Linkus sessions (S2/S4): the one-time codes the sign-in leg hands the Linkus client, redeemed
 * at the token endpoint for a session of one extension: a short-lived access token (a JWT this
 * process verifies without a database read) and a rotating refresh token (stored hashed).
 *
 * Revocation without a database read: every process keeps the ids of sessions revoked within an
 * access token's lifetime in memory; they arrive on the revoked-keys channel (Redis pub/sub, the
 * same announcements that close the sockets of revoked keys), and are loaded from the database
 * at first use, at each socket sweep and when the channel comes back after a loss.
 */
export class LinkusSessions implements LinkusSignInCodes {
  private readonly codeTtlMs: number;
  readonly accessTokenTtlS: number;
  readonly keys: AccessTokenKeys;
  /** Revoked session ids → until when they matter (ms): past it, no token of theirs is valid. */
  private readonly revoked = new Map<string, number>();
  private revokedLoaded: Promise<void> | undefined;

  constructor(private readonly deps: LinkusSessionsDeps) {
    this.codeTtlMs = deps.codeTtlMs ?? CODE_TTL_MS;
    this.accessTokenTtlS = deps.accessTokenTtlS ?? ACCESS_TOKEN_TTL_S;
    this.keys = new AccessTokenKeys(deps);
  }

  // ---- one-time codes ------------------------------------------------------------------------

  /**
   * A fresh one-time code for the grant: 256 random bits, stored as its SHA-256 with the grant,
   * redeemable once within CODE_TTL_MS.
   */
  async issue(grant: LinkusSignInGrant): Promise<string> {
    if (grant.codeChallengeMethod !== 'S256' || !BASE64URL_256.test(grant.codeChallenge)) {
      throw new Error('a Linkus sign-in grant needs an S256 PKCE challenge (43 base64url characters)');
    }
    const code = randomBytes(32).toString('base64url');
    const now = this.deps.now();
    const expiresAt = new Date(now.getTime() + this.codeTtlMs);
    const { pbxId, extensionId, entraObjectId, redirectUri, codeChallenge, codeChallengeMethod } = grant;
    await this.deps.codes.put(
      hashApiKey(code),
      { pbxId, extensionId, entraObjectId, redirectUri, codeChallenge, codeChallengeMethod },
      expiresAt,
      this.codeTtlMs + CODE_TRACE_MS,
    );
    return code;
  }

  /** Redeems a code once (atomically across processes); see CodeRedemption. */
  redeemCode(code: string): Promise<CodeRedemption> {
    if (!BASE64URL_256.test(code)) return Promise.resolve({ outcome: 'UNKNOWN' });
    return this.deps.codes.redeem(hashApiKey(code), this.deps.now(), CODE_TRACE_MS);
  }

  /** Records the session a code's redemption made; `replayed` when the code was presented again. */
  attachSession(code: string, sessionId: string): Promise<{ replayed: boolean }> {
    return this.deps.codes.attachSession(hashApiKey(code), sessionId);
  }

  // ---- the token endpoint --------------------------------------------------------------------

  /** grant_type=authorization_code (RFC 6749 §4.1.3, RFC 7636 §4.6). */
  async exchangeCode(input: {
    code?: unknown;
    codeVerifier?: unknown;
    redirectUri?: unknown;
  }): Promise<LinkusTokens | TokenRefusal> {
    const { code, codeVerifier, redirectUri } = input;
    if (typeof code !== 'string' || !code)
      return this.refused(refuse('INVALID_REQUEST', 'code is required', 'invalid_request'));
    if (typeof codeVerifier !== 'string' || !CODE_VERIFIER.test(codeVerifier))
      return this.refused(
        refuse(
          'INVALID_REQUEST',
          'code_verifier is required (RFC 7636: 43 to 128 characters)',
          'invalid_request',
        ),
      );
    if (typeof redirectUri !== 'string' || !redirectUri)
      return this.refused(refuse('INVALID_REQUEST', 'redirect_uri is required', 'invalid_request'));
    const redeemed = await this.redeemCode(code);
    if (redeemed.outcome === 'UNKNOWN') return this.refused(refuse('CODE_INVALID', 'The code is unknown.'));
    if (redeemed.outcome === 'EXPIRED')
      return this.refused(refuse('CODE_EXPIRED', 'The code has expired: sign in again.'));
    if (redeemed.outcome === 'REPLAYED') {
      // RFC 6749 §10.5: a code used twice revokes what its first use gave.
      const revoked = redeemed.sessionId
        ? await this.revokeSessions(this.deps.openStore(), { sessionId: redeemed.sessionId }, 'CODE_REPLAYED')
        : [];
      return this.refused(refuse('CODE_REPLAYED', 'The code was used already: sign in again.'), {
        pbxId: redeemed.pbxId,
        revokedSessionId: revoked[0],
      });
    }
    const { grant } = redeemed;
    const fields = { pbxId: grant.pbxId, extensionId: grant.extensionId };
    if (redirectUri !== grant.redirectUri)
      return this.refused(refuse('CODE_INVALID', 'The code was issued for another redirect_uri.'), fields);
    const challenge = createHash('sha256').update(codeVerifier, 'ascii').digest();
    const expected = Buffer.from(grant.codeChallenge, 'base64url');
    if (expected.length !== challenge.length || !timingSafeEqual(expected, challenge))
      return this.refused(
        refuse('PKCE_MISMATCH', 'The code_verifier does not match the code challenge.'),
        fields,
      );
    const store = this.deps.openStore();
    const check = await this.stillSignedIn(store, grant);
    if (isRefusal(check)) return this.refused(check, fields);
    const now = this.deps.now();
    const sessionId = randomUUID();
    const refreshToken = randomBytes(32).toString('base64url');
    await store.linkusSessions.create(
      {
        id: sessionId,
        pbxId: grant.pbxId,
        extensionId: grant.extensionId,
        entraObjectId: grant.entraObjectId,
        createdAt: now,
        lastUsedAt: now,
        expiresAt: new Date(now.getTime() + SESSION_TTL_MS),
      },
      hashApiKey(refreshToken),
    );
    // A replay that came in while the session was being made: it dies at once (RFC 6749 §10.5).
    if ((await this.attachSession(code, sessionId)).replayed) {
      await this.revokeSessions(store, { sessionId }, 'CODE_REPLAYED');
      return this.refused(refuse('CODE_REPLAYED', 'The code was used already: sign in again.'), fields);
    }
    this.deps.log('info', 'Linkus session started', { ...fields, sessionId });
    return this.tokens(
      { sessionId, pbxId: grant.pbxId, extensionId: grant.extensionId },
      refreshToken,
      check,
    );
  }

  /** grant_type=refresh_token (RFC 6749 §6): a new access token and a new refresh token. */
  async refresh(input: { refreshToken?: unknown }): Promise<LinkusTokens | TokenRefusal> {
    const token = input.refreshToken;
    if (typeof token !== 'string' || !token)
      return this.refused(refuse('INVALID_REQUEST', 'refresh_token is required', 'invalid_request'));
    if (!BASE64URL_256.test(token))
      return this.refused(refuse('REFRESH_TOKEN_INVALID', 'The refresh token is unknown.'));
    const store = this.deps.openStore();
    const hash = hashApiKey(token);
    const found = await store.linkusSessions.findRefreshToken(hash);
    if (!found) return this.refused(refuse('REFRESH_TOKEN_INVALID', 'The refresh token is unknown.'));
    const { session } = found;
    const fields = { pbxId: session.pbxId, extensionId: session.extensionId, sessionId: session.id };
    if (session.revokedAt)
      return this.refused(refuse('SESSION_REVOKED', 'The session has ended: sign in again.'), fields);
    if (found.usedAt) return this.reused(store, session);
    if (session.expiresAt.getTime() <= this.deps.now().getTime())
      return this.refused(refuse('REFRESH_TOKEN_INVALID', 'The session has expired: sign in again.'), fields);
    const check = await this.stillSignedIn(store, session);
    if (isRefusal(check)) {
      await this.revokeSessions(
        store,
        { sessionId: session.id },
        check.code === 'INTEGRATION_DISABLED' || check.code === 'INTEGRATION_NOT_CONNECTED'
          ? 'INTEGRATION_DISABLED'
          : 'EXTENSION_GONE',
      );
      return this.refused(check, fields);
    }
    const next = randomBytes(32).toString('base64url');
    // Conditional: of two requests with the same token, one rotates; the other is a reuse.
    if (!(await store.linkusSessions.rotateRefreshToken(hash, hashApiKey(next), this.deps.now())))
      return this.reused(store, session);
    return this.tokens(
      { sessionId: session.id, pbxId: session.pbxId, extensionId: session.extensionId },
      next,
      check,
    );
  }

  /**
   * Sign-out: ends the session of a refresh token or an access token (either will do; an unknown
   * or ended one changes nothing, as RFC 7009 §2.2 answers). True when a session ended.
   */
  async signOut(input: { refreshToken?: unknown; accessToken?: unknown }): Promise<boolean> {
    const store = this.deps.openStore();
    let sessionId: string | null = null;
    if (typeof input.refreshToken === 'string' && BASE64URL_256.test(input.refreshToken)) {
      sessionId =
        (await store.linkusSessions.findRefreshToken(hashApiKey(input.refreshToken)))?.session.id ?? null;
    } else if (typeof input.accessToken === 'string') {
      sessionId = (await this.authenticate(input.accessToken))?.sessionId ?? null;
    }
    if (!sessionId) return false;
    const ended = await this.revokeSessions(store, { sessionId }, 'SIGNED_OUT');
    if (ended.length) this.deps.log('info', 'Linkus session signed out', { sessionId });
    return ended.length > 0;
  }

  private async reused(store: Store, session: LinkusSessionData) {
    // A refresh token used twice: someone else holds the family. All of it ends.
    await this.revokeSessions(store, { sessionId: session.id }, 'REFRESH_TOKEN_REUSED');
    return this.refused(
      refuse('REFRESH_TOKEN_REUSED', 'The refresh token was used already: the session has ended.'),
      { pbxId: session.pbxId, extensionId: session.extensionId, sessionId: session.id },
    );
  }

  /**
   * Before a session is issued or refreshed: the extension still exists, is synced to the same
   * Entra user, and the integration is connected (not disabled). Returns the extension.
   */
  private async stillSignedIn(
    store: Store,
    of: { pbxId: string; extensionId: string; entraObjectId: string },
  ): Promise<{ number: string; name: string } | TokenRefusal> {
    // One after the other: one unit of work runs one statement at a time.
    const integration = await store.integrations.get(of.pbxId);
    const extension = await store.directory.findExtension(of.pbxId, of.extensionId);
    if (integration.status === IntegrationStatus.DISABLED)
      return refuse('INTEGRATION_DISABLED', 'The Microsoft 365 integration of this PBX is disabled.');
    if (integration.status !== IntegrationStatus.CONNECTED)
      return refuse('INTEGRATION_NOT_CONNECTED', 'The PBX is not connected to Microsoft 365.');
    if (!extension) return refuse('EXTENSION_DELETED', 'The extension of this user was deleted.');
    if (extension.source !== 'SYNCED' || extension.externalId !== of.entraObjectId)
      return refuse('USER_NOT_SYNCED', 'This user is no longer synced to the extension.');
    return { number: extension.number, name: `${extension.firstName} ${extension.lastName}`.trim() };
  }

  private async tokens(
    claims: { sessionId: string; pbxId: string; extensionId: string },
    refreshToken: string,
    extension: { number: string; name: string },
  ): Promise<LinkusTokens> {
    return {
      access_token: await this.keys.sign(claims, this.accessTokenTtlS),
      token_type: 'Bearer',
      expires_in: this.accessTokenTtlS,
      refresh_token: refreshToken,
      extension,
    };
  }

  /** One log line per refusal, naming its code. */
  private refused(r: TokenRefusal, fields: Record<string, unknown> = {}): TokenRefusal {
    this.deps.log('warn', `Linkus token request refused: ${r.code}`, { code: r.code, ...fields });
    return r;
  }

  // ---- access tokens and revocation -----------------------------------------------------------

  /**
   * The Linkus session behind an access token (role LINKUS, its PBX and extension; `keyId` is the
   * session id), or null: a bad, expired or foreign token, or a revoked session. No database
   * read, but for the revoked set once per process and a key rotated elsewhere.
   */
  async authenticate(token: string): Promise<KeyHolder | null> {
    if (token.length > 4096 || !JWT_SHAPE.test(token)) return null;
    await this.revokedReady();
    const claims = await this.keys.verify(token);
    if (!claims || this.isRevoked(claims.sessionId)) return null;
    return {
      keyId: claims.sessionId,
      sessionId: claims.sessionId,
      role: ApiRole.LINKUS,
      pbxId: claims.pbxId,
      extensionId: claims.extensionId,
      expiresAt: claims.expiresAt,
    };
  }

  isRevoked(sessionId: string): boolean {
    const until = this.revoked.get(sessionId);
    return until !== undefined && until > Date.now();
  }

  /** Announced ids (keys or sessions, from any process): tokens of these sessions are refused. */
  markRevoked(ids: readonly string[]) {
    const until = Date.now() + (this.accessTokenTtlS + 60) * 1000;
    for (const id of ids) this.revoked.set(id, until);
    if (this.revoked.size > 10_000 || Math.random() < 0.01) this.prune();
  }

  private prune() {
    const now = Date.now();
    for (const [id, until] of this.revoked) if (until <= now) this.revoked.delete(id);
  }

  /** Loads the sessions revoked within an access token's lifetime (missed announcements too). */
  async refreshRevoked(): Promise<void> {
    const since = new Date(this.deps.now().getTime() - (this.accessTokenTtlS + 60) * 1000);
    const rows = await this.deps.openStore().linkusSessions.revokedSince(since);
    this.markRevoked(rows.map((r) => r.id));
    this.prune();
  }

  private revokedReady(): Promise<void> {
    this.revokedLoaded ??= this.refreshRevoked().catch((err: unknown) => {
      this.revokedLoaded = undefined;
      throw err;
    });
    return this.revokedLoaded;
  }

  /**
   * Ends the live sessions of the scope and tells every process (the revoked-keys channel): their
   * HTTP requests are refused at once, their sockets close. Returns the ids ended.
   */
  async revokeSessions(store: Store, scope: LinkusSessionScope, reason: SessionEnd): Promise<string[]> {
    const ids = await store.linkusSessions.revoke(scope, reason, this.deps.now());
    if (ids.length === 0) return ids;
    this.markRevoked(ids);
    try {
      await this.deps.revocations.announce(ids);
    } catch (err) {
      // The other processes find them at their next sweep (30 s), or when their token expires.
      this.deps.log('warn', 'could not announce revoked Linkus sessions to the other gateway processes', {
        sessions: ids.length,
        err: err instanceof Error ? err.message : String(err),
      });
    }
    this.deps.log('info', 'Linkus sessions revoked', { reason, sessions: ids.length, ...scopeFields(scope) });
    return ids;
  }

  /**
   * After extensions were deleted or released (by hand, a sync batch, approved held deletes, a
   * lifecycle step): the sessions of `extensionIds` end, or without them those of every
   * extension of the PBX that is no longer synced; and the LINKUS keys of deleted extensions,
   * deleted with them (foreign key), are announced by PBX (issue 13: every process forgets the
   * PBX's keys it remembered valid and re-checks its sockets' keys). Never fails the change it
   * follows (committed already): logs instead; those sessions then fail their next refresh (the
   * extension check), those keys are refused within KNOWN_KEY_TTL_MS.
   */
  async afterDirectoryChange(store: Store, pbxId: string, extensionIds?: readonly string[]): Promise<void> {
    const scope: LinkusSessionScope = extensionIds
      ? { pbxId, extensionIds }
      : { pbxId, extensionNotSynced: true };
    if (extensionIds?.length === 0) return;
    await this.deps.revocations.announcePbxKeys([pbxId]).catch((err: unknown) =>
      this.deps.log(
        'warn',
        'could not announce the keys of deleted extensions to the other gateway processes',
        {
          pbxId,
          err: err instanceof Error ? err.message : String(err),
        },
      ),
    );
    await this.revokeSessions(store, scope, 'EXTENSION_GONE').then(
      () => undefined,
      (err: unknown) =>
        this.deps.log('warn', 'could not end the Linkus sessions of extensions no longer synced', {
          pbxId,
          err: err instanceof Error ? err.message : String(err),
        }),
    );
  }
}

const scopeFields = (scope: LinkusSessionScope) =>
  'sessionId' in scope
    ? { sessionId: scope.sessionId }
    : 'extensionId' in scope
      ? { pbxId: scope.pbxId, extensionId: scope.extensionId }
      : 'extensionIds' in scope
        ? { pbxId: scope.pbxId, extensions: scope.extensionIds.length }
        : { pbxId: scope.pbxId };

// ---- admin (S4) --------------------------------------------------------------------------------

async function adminExtension(store: Store, caller: Caller, extensionId: string) {
  const extension = await store.directory.findExtension(caller.pbxId, extensionId);
  if (!extension)
    throw new AppError('NOT_FOUND', `No extension with id ${extensionId}`, { field: 'extensionId' });
  return extension;
}

/** The sessions of one extension, newest first: when made, last used, expiring, revoked and why. Never a token. */
export async function listLinkusSessions(store: Store, caller: Caller, extensionId: string) {
  await adminExtension(store, caller, extensionId);
  return store.linkusSessions.listOfExtension(caller.pbxId, extensionId, SESSION_LIST_LIMIT);
}

/** Ends every live session of one extension (ADMIN, or an operator acting on the PBX). */
export async function revokeLinkusSessions(
  sessions: LinkusSessions,
  store: Store,
  caller: Caller,
  extensionId: string,
) {
  if (!administers(caller))
    throw new AppError('FORBIDDEN', 'Only an ADMIN (or an operator) revokes sessions.');
  await adminExtension(store, caller, extensionId);
  const ids = await sessions.revokeSessions(store, { pbxId: caller.pbxId, extensionId }, 'ADMIN_REVOKED');
  return { revoked: ids.length, sessions: await listLinkusSessions(store, caller, extensionId) };
}
