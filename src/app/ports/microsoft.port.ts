/**
 * What the use cases need from Microsoft's identity platform and Graph. src/m365 implements
 * it with msal-node and graph-client and maps every failure to a `MicrosoftError` code.
 */

export interface MicrosoftAppCredentials {
  clientId: string;
  tenantId: string;
  clientSecret: string;
}

export type MicrosoftErrorCode =
  | 'INVALID_CLIENT' // AADSTS700016: no such application in the directory
  | 'INVALID_SECRET' // AADSTS7000215: wrong client secret
  | 'SECRET_EXPIRED' // AADSTS7000222: the client secret has expired
  | 'TENANT_NOT_FOUND' // AADSTS90002
  | 'WRONG_TENANT' // AADSTS700005: the code was issued by another directory than the one configured
  | 'CONSENT_REQUIRED' // AADSTS65001 or a 403 from Graph
  | 'INVALID_GRANT' // a bad, expired or replayed code / refresh token
  | 'AUTH_EXPIRED' // no usable token for the authorization account (revoked AADSTS50173, expired, MFA now needed): sign in again
  | 'THROTTLED'
  | 'DELTA_EXPIRED'
  | 'NOT_FOUND'
  | 'ACCESS_DENIED' // 403 ErrorAccessDenied from Outlook: the mailbox or folder is not shared with the caller
  | 'NO_MAILBOX' // 404 MailboxNotEnabledForRESTAPI from Outlook: the user has no (active) Exchange Online mailbox
  | 'UNAVAILABLE'
  | 'UNKNOWN';

export class MicrosoftError extends Error {
  constructor(
    readonly code: MicrosoftErrorCode,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'MicrosoftError';
  }
}

/** Where msal-node's serialized token cache is read from and written to (sealed by src/app). */
export interface TokenCacheIO {
  load(): Promise<string | null>;
  save(serialized: string): Promise<void>;
}

export interface AuthorizationAccount {
  username: string;
  name: string | null;
  oid: string;
  homeAccountId: string;
  tenantId: string;
}

/** A delegated access token and the permissions it carries (its `scp`). */
export interface DelegatedToken {
  accessToken: string;
  permissions: string[];
}

export interface MicrosoftIdentity {
  /** Gets an app token by client credentials: proves the IDs and the secret work. */
  verifyAppCredentials(app: MicrosoftAppCredentials): Promise<void>;
  /**
   * The application permissions granted to the app now: the `roles` of a new client-credentials
   * token (never a cached one, so a consent given or revoked a moment ago shows). The new token
   * replaces the cached one the directory reads use.
   */
  appPermissions(app: MicrosoftAppCredentials): Promise<string[]>;
  /** Microsoft's admin consent URL for the app's configured permissions (`/.default`), back to `redirectUri`. */
  adminConsentUrl(app: MicrosoftAppCredentials, request: { redirectUri: string; state: string }): string;
  generatePkce(): Promise<{ verifier: string; challenge: string }>;
  authorizationUrl(
    app: MicrosoftAppCredentials,
    request: { redirectUri: string; state: string; codeChallenge: string; scopes: string[]; prompt?: string },
  ): Promise<string>;
  /** Redeems an authorization code (PKCE); the refresh token lands in `cache`. */
  redeemCode(
    app: MicrosoftAppCredentials,
    request: { code: string; redirectUri: string; codeVerifier: string; scopes: string[] },
    cache: TokenCacheIO,
  ): Promise<AuthorizationAccount>;
  /**
   * A delegated token for the authorization account, silently from the cache (refreshing as
   * needed; with `forceRefresh`, always through the refresh token, which proves it still works).
   */
  delegatedToken(
    app: MicrosoftAppCredentials,
    account: { homeAccountId: string },
    scopes: string[],
    cache: TokenCacheIO,
    options?: { forceRefresh?: boolean },
  ): Promise<DelegatedToken>;
}

export interface MicrosoftOrganization {
  id: string;
  displayName: string;
}

export interface MicrosoftDirectoryInfo {
  /**
   * "Data initialization" (L2): the organisation, read with the authorization account's
   * delegated token (User.Read is enough: https://learn.microsoft.com/graph/api/organization-get).
   */
  organization(delegatedAccessToken: string): Promise<MicrosoftOrganization>;
  /** How many groups the directory has (app-only, Group.Read.All). */
  countGroups(app: MicrosoftAppCredentials): Promise<number>;
  /** `GET /me` with a delegated token: who the token speaks for. */
  whoAmI(delegatedAccessToken: string): Promise<{ userPrincipalName: string }>;
}
