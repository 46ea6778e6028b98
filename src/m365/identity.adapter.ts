import { createHash } from 'node:crypto';
import { type ConfidentialClientApplication, CryptoProvider, type ICachePlugin } from '@azure/msal-node';
import { request } from 'undici';
import type {
  AuthorizationAccount,
  DelegatedToken,
  MicrosoftAppCredentials,
  MicrosoftDirectoryInfo,
  MicrosoftIdentity,
  MicrosoftOrganization,
  TokenCacheIO,
} from '../app/ports/microsoft.port.js';
import { MicrosoftError } from '../app/ports/microsoft.port.js';
import { graphError, identityError } from './errors.js';
import {
  agentFor,
  createConfidentialClient,
  createGraphClient,
  graphDefaultScope,
  type MicrosoftEndpoints,
} from './microsoft-clients.js';

/**
 * The claims of an access token the identity platform just issued to us (over TLS, from the
 * token endpoint), read without verifying: the gateway only looks at what it was granted
 * (`roles`, `scp`). Microsoft Graph tokens for work and school accounts are JWTs.
 */
function claimsOf(accessToken: string): Record<string, unknown> {
  try {
    return JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
  } catch {
    return {};
  }
}

function cachePluginOf(io: TokenCacheIO): ICachePlugin {
  return {
    async beforeCacheAccess(ctx) {
      const data = await io.load();
      if (data) ctx.tokenCache.deserialize(data);
    },
    async afterCacheAccess(ctx) {
      if (ctx.cacheHasChanged) await io.save(ctx.tokenCache.serialize());
    },
  };
}

/**
 * How many app-only clients (one per PBX's directory, app registration and secret) a process
 * keeps. Each holds its tenant's OpenID configuration and app token (a few KB); one made anew
 * costs a discovery request and a token request to Microsoft. A fleet has one per PBX: the
 * former bound of 1,000, emptied whole when passed, made every PBX of a fleet past 1,000 fetch
 * both again on its next run (issue 16 item 4).
 */
export const APP_CLIENTS_MAX = 20_000;

/**
 * Microsoft identity (msal-node) and the few Graph reads of the connect flow. App-only
 * clients are kept per app registration and secret, so msal-node's in-memory cache serves
 * app tokens until they near expiry; delegated tokens go through the PBX's sealed cache.
 * Past `maxAppClients`, the client used least recently goes (one at a time).
 */
export class MsalIdentity implements MicrosoftIdentity, MicrosoftDirectoryInfo {
  /** In order of last use, oldest first (a Map iterates in insertion order). */
  private readonly appClients = new Map<string, ConfidentialClientApplication>();
  private readonly crypto = new CryptoProvider();

  constructor(
    private readonly endpoints: MicrosoftEndpoints,
    private readonly maxAppClients = APP_CLIENTS_MAX,
  ) {}

  private appClient(app: MicrosoftAppCredentials): ConfidentialClientApplication {
    const key = createHash('sha256')
      .update(`${app.tenantId}\n${app.clientId}\n${app.clientSecret}`)
      .digest('hex');
    let client = this.appClients.get(key);
    if (client) {
      this.appClients.delete(key);
    } else {
      client = createConfidentialClient(this.endpoints, app);
      while (this.appClients.size >= Math.max(1, this.maxAppClients)) {
        const oldest = this.appClients.keys().next().value as string;
        this.appClients.delete(oldest);
      }
    }
    this.appClients.set(key, client);
    return client;
  }

  /** An app-only token for Graph (client credentials). */
  async appToken(app: MicrosoftAppCredentials): Promise<string> {
    try {
      const result = await this.appClient(app).acquireTokenByClientCredential({
        scopes: [graphDefaultScope(this.endpoints)],
      });
      if (!result?.accessToken) throw new Error('The token endpoint returned no access token');
      return result.accessToken;
    } catch (err) {
      throw identityError(err);
    }
  }

  async verifyAppCredentials(app: MicrosoftAppCredentials): Promise<void> {
    try {
      await this.appToken(app);
    } catch (err) {
      throw await this.explainDiscoveryFailure(err, app.tenantId);
    }
  }

  async appPermissions(app: MicrosoftAppCredentials): Promise<string[]> {
    let token: string;
    try {
      // skipCache: a new token, whose roles are what is granted now; msal caches it in place
      // of the old one, so the directory reads use it too.
      const result = await this.appClient(app).acquireTokenByClientCredential({
        scopes: [graphDefaultScope(this.endpoints)],
        skipCache: true,
      });
      if (!result?.accessToken) throw new Error('The token endpoint returned no access token');
      token = result.accessToken;
    } catch (err) {
      throw await this.explainDiscoveryFailure(identityError(err), app.tenantId);
    }
    const roles = claimsOf(token).roles;
    return Array.isArray(roles) ? roles.map(String) : [];
  }

  /** https://learn.microsoft.com/entra/identity-platform/v2-admin-consent */
  adminConsentUrl(app: MicrosoftAppCredentials, request: { redirectUri: string; state: string }): string {
    const url = new URL(
      `${this.endpoints.authorityHost.replace(/\/+$/, '')}/${encodeURIComponent(app.tenantId)}/v2.0/adminconsent`,
    );
    url.searchParams.set('client_id', app.clientId);
    url.searchParams.set('scope', graphDefaultScope(this.endpoints));
    url.searchParams.set('redirect_uri', request.redirectUri);
    url.searchParams.set('state', request.state);
    return url.toString();
  }

  /**
   * msal-node reports a failed metadata discovery as `endpoints_resolution_error` and drops
   * Microsoft's answer; ask the tenant's OpenID configuration directly so an unknown tenant
   * is named as such (AADSTS90002) rather than "unavailable".
   */
  private async explainDiscoveryFailure(err: unknown, tenantId: string): Promise<unknown> {
    if (!(err instanceof MicrosoftError) || err.code !== 'UNAVAILABLE') return err;
    try {
      const url = `${this.endpoints.authorityHost.replace(/\/+$/, '')}/${encodeURIComponent(tenantId)}/v2.0/.well-known/openid-configuration`;
      const res = await request(url, { dispatcher: agentFor(this.endpoints.extraCaPem) });
      const body = await res.body.text();
      if (res.statusCode >= 400) {
        const described = (JSON.parse(body) as { error_description?: string }).error_description;
        if (described) return identityError({ errorMessage: described });
      }
    } catch {
      // The probe failed too: keep the original answer.
    }
    return err;
  }

  async generatePkce() {
    return this.crypto.generatePkceCodes();
  }

  async authorizationUrl(
    app: MicrosoftAppCredentials,
    request: { redirectUri: string; state: string; codeChallenge: string; scopes: string[]; prompt?: string },
  ): Promise<string> {
    try {
      return await this.appClient(app).getAuthCodeUrl({
        scopes: request.scopes,
        redirectUri: request.redirectUri,
        state: request.state,
        codeChallenge: request.codeChallenge,
        codeChallengeMethod: 'S256',
        prompt: request.prompt,
        responseMode: 'query',
      });
    } catch (err) {
      throw identityError(err);
    }
  }

  async redeemCode(
    app: MicrosoftAppCredentials,
    request: { code: string; redirectUri: string; codeVerifier: string; scopes: string[] },
    cache: TokenCacheIO,
  ): Promise<AuthorizationAccount> {
    try {
      const client = createConfidentialClient(this.endpoints, app, cachePluginOf(cache));
      const result = await client.acquireTokenByCode({
        code: request.code,
        redirectUri: request.redirectUri,
        codeVerifier: request.codeVerifier,
        scopes: request.scopes,
      });
      const account = result.account;
      const claims = (result.idTokenClaims ?? {}) as {
        tid?: string;
        oid?: string;
        preferred_username?: string;
        name?: string;
      };
      if (!account) throw new Error('Microsoft returned no account for the sign-in');
      return {
        username: account.username || claims.preferred_username || '',
        name: account.name ?? claims.name ?? null,
        oid: account.localAccountId || claims.oid || '',
        homeAccountId: account.homeAccountId,
        tenantId: claims.tid ?? account.tenantId,
      };
    } catch (err) {
      throw identityError(err);
    }
  }

  async delegatedToken(
    app: MicrosoftAppCredentials,
    account: { homeAccountId: string },
    scopes: string[],
    cache: TokenCacheIO,
    options: { forceRefresh?: boolean } = {},
  ): Promise<DelegatedToken> {
    try {
      const client = createConfidentialClient(this.endpoints, app, cachePluginOf(cache));
      const found = await client.getTokenCache().getAccountByHomeId(account.homeAccountId);
      if (!found)
        throw Object.assign(new Error('No cached sign-in for the authorization account'), {
          errorCode: 'no_tokens_found',
        });
      const result = await client.acquireTokenSilent({
        account: found,
        scopes,
        forceRefresh: options.forceRefresh ?? false,
      });
      if (!result?.accessToken) throw new Error('No access token');
      const scp = claimsOf(result.accessToken).scp;
      return {
        accessToken: result.accessToken,
        permissions: typeof scp === 'string' ? scp.split(' ').filter(Boolean) : result.scopes,
      };
    } catch (err) {
      throw identityError(err);
    }
  }

  /** A Graph client that authenticates as the app (client credentials). */
  graphAsApp(app: MicrosoftAppCredentials) {
    return createGraphClient(this.endpoints, () => this.appToken(app));
  }

  async organization(delegatedAccessToken: string): Promise<MicrosoftOrganization> {
    try {
      const res = (await createGraphClient(this.endpoints, async () => delegatedAccessToken)
        .api('/organization')
        .select('id,displayName')
        .get()) as {
        value: Array<{ id: string; displayName: string }>;
      };
      const org = res.value?.[0];
      if (!org) throw new Error('Graph returned no organization');
      return { id: org.id, displayName: org.displayName };
    } catch (err) {
      throw graphError(err);
    }
  }

  async whoAmI(delegatedAccessToken: string) {
    try {
      const me = (await createGraphClient(this.endpoints, async () => delegatedAccessToken)
        .api('/me')
        .select('userPrincipalName')
        .get()) as { userPrincipalName: string };
      return { userPrincipalName: me.userPrincipalName };
    } catch (err) {
      throw graphError(err);
    }
  }

  async countGroups(app: MicrosoftAppCredentials): Promise<number> {
    try {
      // $count needs ConsistencyLevel: eventual (concepts/aad-advanced-queries).
      const res = await this.graphAsApp(app)
        .api('/groups/$count')
        .header('ConsistencyLevel', 'eventual')
        .get();
      const n = Number(typeof res === 'string' ? res : await (res as Response).text?.());
      if (!Number.isFinite(n)) throw new Error(`Unexpected $count answer: ${String(res).slice(0, 100)}`);
      return n;
    } catch (err) {
      throw graphError(err);
    }
  }
}
