/**
 * The seam between Linkus sign-in (S2: the Microsoft leg, src/http/linkus-sso.ts) and Linkus
 * sessions (S2/S4: codes, tokens, refresh, revocation, src/app/linkus-sessions.ts).
 *
 * The sign-in leg proves who the user is (an ID token of the connected directory for a synced
 * user) and then asks for a one-time code bound to the Linkus client's redirect URI and PKCE
 * challenge; the client redeems that code at the gateway's token endpoint for a session.
 */

/** What a one-time code stands for, fixed when the Microsoft leg succeeded. */
export interface LinkusSignInGrant {
  pbxId: string;
  extensionId: string;
  /** The Entra object id (`oid`) the ID token named. */
  entraObjectId: string;
  /** The Linkus client's redirect URI, already checked against the registered ones. */
  redirectUri: string;
  /** The Linkus client's PKCE challenge (base64url SHA-256 of its verifier). */
  codeChallenge: string;
  codeChallengeMethod: 'S256';
}

/** Issues one-time codes; the sessions side redeems them (once, within their lifetime). */
export interface LinkusSignInCodes {
  /** A fresh one-time code for the grant (lifetime ≤ 60 s, usable once). */
  issue(grant: LinkusSignInGrant): Promise<string>;
}

/**
 * Why a sign-in or a token request was refused. Each reaches the Linkus client (as `error` on its
 * redirect, or in the token endpoint's JSON) and the log, never a session.
 */
export type LinkusSsoRefusal =
  | 'SSO_DISABLED'
  | 'INTEGRATION_NOT_CONNECTED'
  | 'INTEGRATION_DISABLED'
  | 'USERS_PAUSED'
  | 'USER_NOT_SYNCED'
  | 'EXTENSION_DELETED'
  | 'WRONG_DIRECTORY'
  | 'USER_DISABLED'
  | 'REDIRECT_URI_NOT_REGISTERED'
  | 'INVALID_REQUEST'
  | 'ID_TOKEN_INVALID'
  | 'MICROSOFT_ERROR'
  | 'CODE_INVALID'
  | 'CODE_EXPIRED'
  | 'CODE_REPLAYED'
  | 'PKCE_MISMATCH'
  | 'REFRESH_TOKEN_INVALID'
  | 'REFRESH_TOKEN_REUSED'
  | 'SESSION_REVOKED';
