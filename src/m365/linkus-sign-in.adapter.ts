import { CryptoProvider } from '@azure/msal-node';
import { createRemoteJWKSet, customFetch, type JWTPayload, errors as joseErrors, jwtVerify } from 'jose';
import { request } from 'undici';
import type { IdTokenCheck, IdTokenProblem, MicrosoftSignIn } from '../app/ports/linkus-sign-in.port.js';
import type { MicrosoftAppCredentials } from '../app/ports/microsoft.port.js';
import { identityError } from './errors.js';
import { agentFor, createConfidentialClient, type MicrosoftEndpoints } from './microsoft-clients.js';

/** OpenID Connect scopes of a Linkus sign-in: who the user is, nothing of Graph. */
export const LINKUS_SIGN_IN_SCOPES = ['openid', 'profile', 'email'];

/** How long a tenant's OpenID configuration is reused before it is read again. */
const METADATA_TTL_MS = 60 * 60 * 1000;

/** jose's codes for a key set it could not get: a timeout, an answer that is not a JWKS, not 200. */
const KEY_SET_ERRORS = new Set(['ERR_JWKS_TIMEOUT', 'ERR_JWKS_INVALID', 'ERR_JOSE_GENERIC']);

/** Clock skew allowed on `exp`, `nbf` and `iat` of an ID token. */
const CLOCK_TOLERANCE_SECONDS = 120;

const trimSlash = (s: string) => s.replace(/\/+$/, '');

/**
 * The Microsoft leg of a Linkus sign-in (S2): the authorization code flow with PKCE and OpenID
 * Connect through msal-node, against the connected directory's own authority
 * (https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc), and the ID token
 * checked here with jose, as https://learn.microsoft.com/entra/identity-platform/id-tokens#validate-tokens
 * asks: signature from the directory's keys, issuer of that tenant, audience = the app's client id,
 * expiry, nonce, and `tid`. msal-node decodes ID tokens but does not check their signature.
 */
export class MsalLinkusSignIn implements MicrosoftSignIn {
  private readonly crypto = new CryptoProvider();
  /** One key set per tenant; jose caches it, and fetches again (at most every 30 s) for an unknown `kid`. */
  private readonly keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
  /** Each tenant's OpenID configuration, read once an hour rather than by every new msal client. */
  private readonly metadata = new Map<string, { json: string; at: number }>();

  constructor(
    private readonly endpoints: MicrosoftEndpoints,
    /** The clock `exp`, `nbf` and `iat` are checked against (the process's, in the gateway). */
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * A confidential client of its own for each call (its in-memory token cache dies with it, so no
   * Linkus user's Microsoft tokens pile up in the process), given the tenant's OpenID
   * configuration so that it does not read it again: without it every sign-in cost two more
   * requests to Microsoft (`npm run bench -- sso`: 4 → 2 identity requests a sign-in).
   */
  private async client(app: MicrosoftAppCredentials) {
    return createConfidentialClient(
      this.endpoints,
      app,
      undefined,
      await this.authorityMetadata(app.tenantId),
    );
  }

  private async authorityMetadata(tenantId: string): Promise<string | undefined> {
    const hit = this.metadata.get(tenantId);
    if (hit && Date.now() - hit.at < METADATA_TTL_MS) return hit.json;
    try {
      const url = `${trimSlash(this.endpoints.authorityHost)}/${encodeURIComponent(tenantId)}/v2.0/.well-known/openid-configuration`;
      const res = await request(url, {
        dispatcher: agentFor(this.endpoints.extraCaPem),
        headersTimeout: 5000,
      });
      const json = await res.body.text();
      // Anything but a configuration (an unknown tenant...): msal reads it itself and says why.
      if (res.statusCode !== 200 || !(JSON.parse(json) as { issuer?: unknown }).issuer) return undefined;
      if (this.metadata.size > 1000) this.metadata.clear();
      this.metadata.set(tenantId, { json, at: Date.now() });
      return json;
    } catch {
      return undefined; // msal-node discovers it itself, and reports the failure
    }
  }

  generatePkce() {
    return this.crypto.generatePkceCodes();
  }

  async signInUrl(
    app: MicrosoftAppCredentials,
    req: { redirectUri: string; state: string; nonce: string; codeChallenge: string },
  ): Promise<string> {
    try {
      return await (await this.client(app)).getAuthCodeUrl({
        scopes: LINKUS_SIGN_IN_SCOPES,
        redirectUri: req.redirectUri,
        state: req.state,
        nonce: req.nonce,
        codeChallenge: req.codeChallenge,
        codeChallengeMethod: 'S256',
        responseMode: 'query',
      });
    } catch (err) {
      throw identityError(err);
    }
  }

  async redeemSignIn(
    app: MicrosoftAppCredentials,
    req: { code: string; redirectUri: string; codeVerifier: string; nonce: string },
  ): Promise<string> {
    try {
      const result = await (await this.client(app)).acquireTokenByCode({
        code: req.code,
        redirectUri: req.redirectUri,
        codeVerifier: req.codeVerifier,
        // msal-node compares the ID token's nonce with this one (and refuses an ID token with a
        // nonce when none is given); verifyIdToken checks it again, with the signature.
        nonce: req.nonce,
        scopes: LINKUS_SIGN_IN_SCOPES,
      });
      if (!result?.idToken) throw new Error('Microsoft returned no ID token');
      return result.idToken;
    } catch (err) {
      throw identityError(err);
    }
  }

  /** `{authority}/{tenant}/discovery/v2.0/keys`, the `jwks_uri` of the tenant's OpenID configuration. */
  private keySet(tenantId: string) {
    let set = this.keySets.get(tenantId);
    if (!set) {
      const agent = agentFor(this.endpoints.extraCaPem);
      const url = new URL(
        `${trimSlash(this.endpoints.authorityHost)}/${encodeURIComponent(tenantId)}/discovery/v2.0/keys`,
      );
      set = createRemoteJWKSet(url, {
        timeoutDuration: 5000,
        [customFetch]: async (u, options) => {
          const res = await request(u, {
            method: 'GET',
            headers: Object.fromEntries(new Headers(options.headers).entries()),
            dispatcher: agent,
            signal: options.signal ?? undefined,
          });
          return new Response(await res.body.text(), {
            status: res.statusCode,
            headers: { 'content-type': String(res.headers['content-type'] ?? 'application/json') },
          });
        },
      });
      if (this.keySets.size > 1000) this.keySets.clear();
      this.keySets.set(tenantId, set);
    }
    return set;
  }

  async verifyIdToken(
    idToken: string,
    expected: { tenantId: string; clientId: string; nonce: string },
  ): Promise<IdTokenCheck> {
    const fail = (problem: IdTokenProblem, message: string): IdTokenCheck => ({
      ok: false,
      problem,
      message,
    });
    let payload: JWTPayload;
    try {
      // Signature (RS256 only, from the connected directory's keys), audience and times first:
      // an unsigned or foreign-signed token says nothing, not even which directory it claims.
      ({ payload } = await jwtVerify(idToken, this.keySet(expected.tenantId), {
        algorithms: ['RS256'],
        audience: expected.clientId,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        currentDate: this.now(),
        requiredClaims: ['exp', 'iat', 'iss', 'aud', 'tid', 'oid'],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) return fail('EXPIRED', 'the ID token has expired');
      if (err instanceof joseErrors.JWTClaimValidationFailed) {
        if (err.claim === 'aud') return fail('AUDIENCE', `the ID token is for another application (aud)`);
        if (err.claim === 'nbf' || err.claim === 'iat')
          return fail('EXPIRED', `the ID token is not valid yet (${err.claim})`);
        return fail('CLAIMS', `the ID token lacks or has a bad ${err.claim} claim`);
      }
      // jose's own errors say what is wrong with the token; anything else is the key set's fetch.
      const code = (err as { code?: string }).code ?? '';
      if (!(err instanceof joseErrors.JOSEError) || KEY_SET_ERRORS.has(code))
        return fail('KEYS_UNAVAILABLE', `the directory's keys could not be read (${(err as Error).message})`);
      return fail('SIGNATURE', `the ID token's signature is not the directory's (${(err as Error).message})`);
    }
    const tid = String(payload.tid ?? '').toLowerCase();
    if (tid !== expected.tenantId.toLowerCase())
      return fail(
        'TENANT',
        `the account signed in to directory ${tid}, not the connected ${expected.tenantId}`,
      );
    const issuer = `${trimSlash(this.endpoints.authorityHost)}/${expected.tenantId.toLowerCase()}/v2.0`;
    if (String(payload.iss ?? '').toLowerCase() !== issuer.toLowerCase())
      return fail('ISSUER', `the ID token's issuer ${String(payload.iss)} is not ${issuer}`);
    if (payload.nonce !== expected.nonce)
      return fail('NONCE', 'the ID token does not carry the nonce of this sign-in');
    const text = (v: unknown) => (typeof v === 'string' && v ? v : null);
    const oid = text(payload.oid);
    if (!oid) return fail('CLAIMS', 'the ID token has no oid');
    return {
      ok: true,
      claims: {
        oid: oid.toLowerCase(),
        tid,
        preferredUsername: text(payload.preferred_username),
        name: text(payload.name),
        email: text(payload.email),
      },
    };
  }
}
