import type { LinkusSignInGrant } from './linkus-sso.port.js';

/** What a one-time code's record says when the token endpoint redeems it (atomically, once). */
export type CodeRedemption =
  /** The first redemption, within the code's lifetime: the grant, forgotten from now on. */
  | { outcome: 'REDEEMED'; grant: LinkusSignInGrant }
  /** Issued, never redeemed, and past its lifetime. */
  | { outcome: 'EXPIRED' }
  /**
   * Redeemed before: the session the first redemption made, when it has made one yet (RFC 6749
   * §10.5: that session is revoked). A first redemption still under way learns of the replay
   * when it attaches its session (`attachSession` answers `replayed`).
   */
  | { outcome: 'REPLAYED'; pbxId: string; sessionId: string | null }
  /** No such code (never issued, malformed, or long forgotten). */
  | { outcome: 'UNKNOWN' };

/**
 * The one-time codes of Linkus sign-in (Redis), keyed by the SHA-256 of the code: never the code
 * itself. A record outlives the code's lifetime by a while, so an expired or replayed code is told
 * apart from an unknown one.
 */
export interface SignInCodeStore {
  /** Stores a fresh code's grant; it can be redeemed until `expiresAt`, its trace is kept `keepMs`. */
  put(codeHash: string, grant: LinkusSignInGrant, expiresAt: Date, keepMs: number): Promise<void>;
  /** Redeems a code, atomically: of any number of concurrent redemptions, one gets REDEEMED. */
  redeem(codeHash: string, now: Date, keepMs: number): Promise<CodeRedemption>;
  /** Records the session a redemption made; `replayed` when the code was presented again meanwhile. */
  attachSession(codeHash: string, sessionId: string): Promise<{ replayed: boolean }>;
}
