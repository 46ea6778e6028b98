import { randomBytes } from 'node:crypto';
import { hashApiKey } from './access.js';
import type { CodeRedemption, SignInCodeStore } from './ports/linkus-codes.port.js';
import type { LinkusSignInCodes, LinkusSignInGrant } from './ports/linkus-sso.port.js';
import type { AppLog } from './ports/log.port.js';

/** How long a one-time sign-in code can be redeemed (the seam says ≤ 60 s). */
export const CODE_TTL_MS = 60_000;
/**
 * How long a code's trace outlives its lifetime (Redis): an expired code is refused as expired,
 * and a code presented again after its redemption as a replay (whose session is revoked), not as
 * unknown. The grant itself is gone at the first redemption.
 */
export const CODE_TRACE_MS = 10 * 60_000;

/** A code, a PKCE challenge: 256 random bits in base64url (43 characters). */
const BASE64URL_256 = /^[A-Za-z0-9_-]{43}$/;

export interface LinkusSessionsDeps {
  codes: SignInCodeStore;
  now: () => Date;
  log: AppLog;
  /** How long a code can be redeemed (default CODE_TTL_MS; tests give 0 to get an expired code). */
  codeTtlMs?: number;
}

/**
 * Linkus sessions (S2/S4): the one-time codes the sign-in leg hands the Linkus client, redeemed
 * at the token endpoint for a session of one extension.
 */
export class LinkusSessions implements LinkusSignInCodes {
  private readonly codeTtlMs: number;

  constructor(private readonly deps: LinkusSessionsDeps) {
    this.codeTtlMs = deps.codeTtlMs ?? CODE_TTL_MS;
  }

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
}
