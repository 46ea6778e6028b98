import type { MicrosoftAppCredentials } from './microsoft.port.js';

/**
 * What the Microsoft leg of a Linkus sign-in (S2) needs besides the store: the pending sign-ins
 * between `start` and Microsoft's callback (Redis), and Microsoft's identity platform (OpenID
 * Connect through msal-node, the ID token checked with jose: src/m365/linkus-sign-in.adapter.ts).
 */

/** One sign-in between the gateway's `start` and Microsoft's callback. */
export interface PendingLinkusSignIn {
  pbxId: string;
  /** The Linkus client's redirect URI (registered, checked at start) and its own `state`. */
  clientRedirectUri: string;
  clientState: string;
  /** The Linkus client's PKCE challenge (S256), handed on to the one-time code. */
  clientCodeChallenge: string;
  /** The gateway's own PKCE verifier and OpenID Connect nonce for Microsoft. */
  codeVerifier: string;
  nonce: string;
  /** Where Microsoft sends the browser back: the gateway's SSO callback (L1). */
  microsoftRedirectUri: string;
}

/** Short-lived, single-use `state` values of the Microsoft leg (Redis, with a TTL). */
export interface LinkusSignInStates {
  put(state: string, value: PendingLinkusSignIn, ttlSeconds: number): Promise<void>;
  /** Returns the value and forgets it: a state works once. */
  take(state: string): Promise<PendingLinkusSignIn | null>;
}

/** The claims of an ID token the gateway checked itself (signature, issuer, audience, expiry, nonce, tid). */
export interface VerifiedIdToken {
  oid: string;
  tid: string;
  preferredUsername: string | null;
  name: string | null;
  email: string | null;
}

/**
 * Why an ID token was not accepted: TENANT is another directory's token, KEYS_UNAVAILABLE the
 * directory's keys could not be read (Microsoft unreachable), the rest a bad token.
 */
export type IdTokenProblem =
  | 'TENANT'
  | 'KEYS_UNAVAILABLE'
  | 'SIGNATURE'
  | 'ISSUER'
  | 'AUDIENCE'
  | 'EXPIRED'
  | 'NONCE'
  | 'CLAIMS';

export type IdTokenCheck =
  | { ok: true; claims: VerifiedIdToken }
  | { ok: false; problem: IdTokenProblem; message: string };

export interface MicrosoftSignIn {
  generatePkce(): Promise<{ verifier: string; challenge: string }>;
  /** The authorize URL of the connected directory (code, PKCE S256, nonce, openid profile email). */
  signInUrl(
    app: MicrosoftAppCredentials,
    request: { redirectUri: string; state: string; nonce: string; codeChallenge: string },
  ): Promise<string>;
  /**
   * Redeems Microsoft's code with the app's credentials and the gateway's verifier; returns the
   * raw ID token (nothing is cached: the gateway keeps no Microsoft token of a Linkus user).
   * Throws a MicrosoftError; `aadsts` in its message tells which refusal it was.
   */
  redeemSignIn(
    app: MicrosoftAppCredentials,
    request: { code: string; redirectUri: string; codeVerifier: string; nonce: string },
  ): Promise<string>;
  /** Checks the ID token against the directory's keys and what the gateway expects. */
  verifyIdToken(
    idToken: string,
    expected: { tenantId: string; clientId: string; nonce: string },
  ): Promise<IdTokenCheck>;
}
