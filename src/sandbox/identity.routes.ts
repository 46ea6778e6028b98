import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { APPLICATION_PERMISSIONS, DELEGATED_PERMISSIONS, OIDC_SCOPES } from './directory.schema.js';
import { consentPage, errorPage, formPostPage, signInPage } from './identity.pages.js';
import type { AuthorizeFlow, SandboxContext } from './sandbox.context.js';
import { SANDBOX_PASSWORD } from './tenant.seed.js';
import type { AppRegistration, UserRecord } from './tenant.store.js';

/**
 * The Microsoft identity platform (v2.0 endpoints) for the sandbox tenant, on Microsoft's
 * paths under `/{tenant}/`: openid-configuration, JWKS, authorize (code + PKCE, state,
 * nonce, prompt, login_hint, response_mode), token (client_credentials,
 * authorization_code, refresh_token), adminconsent, logout.
 * https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow
 * https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow
 * Errors carry the AADSTS code in error_description as Microsoft sends them
 * (https://learn.microsoft.com/entra/identity-platform/reference-error-codes).
 */

const CODE_LIFETIME_MS = 10 * 60 * 1000;
const REFRESH_LIFETIME_MS = 90 * 24 * 60 * 60 * 1000;
const SESSION_COOKIE = 'ESTSAUTH';
/** Global Administrator role template id (the `wids` claim). */
const GLOBAL_ADMIN_ROLE = '62e90394-69f5-4237-9190-012177145e10';

type Form = Record<string, string | undefined>;

interface ResolvedScopes {
  /** Graph permission names (e.g. User.Read.All) and OIDC scopes (openid ...). */
  perms: string[];
  /** How the caller wrote Graph scopes ('' bare, or 'https://graph.microsoft.com/'). */
  prefix: string;
  dotDefault: boolean;
}

class AadError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly aadsts: number,
    readonly description: string,
  ) {
    super(`AADSTS${aadsts}: ${description}`);
  }
}

function stamp(): string {
  return new Date()
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, 'Z');
}

function sendAad(ctx: SandboxContext, reply: FastifyReply, e: AadError): FastifyReply {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  const ts = stamp();
  return reply
    .code(e.status)
    .header('Cache-Control', 'no-store, no-cache')
    .send({
      error: e.error,
      error_description: `AADSTS${e.aadsts}: ${e.description}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${ts}`,
      error_codes: [e.aadsts],
      timestamp: ts,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `${ctx.authorityHost}/error?code=${e.aadsts}`,
    });
}

function tenantNotFound(tenant: string): AadError {
  return new AadError(
    400,
    'invalid_request',
    90002,
    `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
  );
}

function appNotFound(ctx: SandboxContext, clientId: string): AadError {
  return new AadError(
    400,
    'unauthorized_client',
    700016,
    `Application with identifier '${clientId}' was not found in the directory '${ctx.tenant.displayName}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
  );
}

/** `/common` and `/organizations`: no directory named; the grant's own directory serves it. */
function isMultiTenantAuthority(tenant: string): boolean {
  return ['common', 'organizations'].includes(tenant.toLowerCase());
}

/**
 * A user of another hosted directory who is not in this one (AADSTS50020). Microsoft shows it
 * on its own sign-in page with HTTP 200 and does not send the browser back to the application
 * ("When the error is displayed on a web page, it uses an HTTP 200 status code",
 * https://learn.microsoft.com/previous-versions/azure/dn645544(v=azure.100)).
 */
function foreignAccountMessage(ctx: SandboxContext, upn: string, app: AppRegistration): string | undefined {
  const home = ctx.homeTenantOf(upn);
  if (!home || home === ctx.tenant) return undefined;
  return `User account '{EUII Hidden}' from identity provider '${ctx.authorityHost}/${home.id}/' does not exist in tenant '${ctx.tenant.displayName}' and cannot access the application '${app.appId}'(${app.displayName}) in that tenant. The account needs to be added as an external user in the tenant first. Sign out and sign in again with a different Azure Active Directory user account.`;
}

function pairwiseSub(oid: string, appId: string): string {
  return createHash('sha256').update(`${oid}:${appId}`).digest('base64url').slice(0, 43);
}

function opaque(prefix: string, bytes = 48): string {
  return `${prefix}${randomBytes(bytes).toString('base64url')}`;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function clientInfo(ctx: SandboxContext, user: UserRecord): string {
  return Buffer.from(JSON.stringify({ uid: user.id, utid: ctx.tenant.id })).toString('base64url');
}

// ------------------------------------------------------------------ scopes and consent

function resolveScopes(ctx: SandboxContext, app: AppRegistration, scope: string | undefined): ResolvedScopes {
  const perms = new Set<string>();
  let prefix = '';
  let dotDefault = false;
  const resources = ctx.graphResources;
  for (const raw of (scope ?? '').split(/\s+/).filter(Boolean)) {
    if (OIDC_SCOPES.has(raw)) {
      perms.add(raw);
      continue;
    }
    let name = raw;
    const slash = raw.lastIndexOf('/');
    if (slash > 0) {
      const resource = raw.slice(0, slash).replace(/\/$/, '');
      if (!resources.includes(resource)) {
        throw new AadError(
          400,
          'invalid_resource',
          500011,
          `The resource principal named ${resource} was not found in the tenant named ${ctx.tenant.displayName}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
        );
      }
      prefix = `${raw.slice(0, slash)}/`;
      name = raw.slice(slash + 1);
    }
    if (name === '.default') {
      dotDefault = true;
      for (const s of app.requiredScopes) if (!OIDC_SCOPES.has(s)) perms.add(s);
      continue;
    }
    const known = Object.keys(DELEGATED_PERMISSIONS).find((k) => k.toLowerCase() === name.toLowerCase());
    if (!known) {
      throw new AadError(
        400,
        'invalid_scope',
        70011,
        `The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope ${raw} is not valid.`,
      );
    }
    perms.add(known);
  }
  if (perms.size === 0) {
    throw new AadError(
      400,
      'invalid_request',
      900144,
      "The request body must contain the following parameter: 'scope'.",
    );
  }
  return { perms: [...perms], prefix, dotDefault };
}

function grantedScopes(app: AppRegistration, userId: string): Set<string> {
  const out = new Set(app.adminConsentedScopes);
  for (const s of app.userConsents.get(userId) ?? []) out.add(s);
  return out;
}

function missingConsent(app: AppRegistration, userId: string, perms: string[]): string[] {
  const granted = grantedScopes(app, userId);
  return perms.filter((p) => !granted.has(p));
}

function formatScope(app: AppRegistration, userId: string, requested: ResolvedScopes): string {
  const granted = grantedScopes(app, userId);
  const graph = [...granted].filter((s) => !OIDC_SCOPES.has(s)).sort();
  const oidc = requested.perms.filter((s) => OIDC_SCOPES.has(s) && granted.has(s));
  const prefix = requested.prefix || (requested.dotDefault ? 'https://graph.microsoft.com/' : '');
  return [...graph.map((s) => `${prefix}${s}`), ...oidc].join(' ');
}

// ------------------------------------------------------------------ tokens

function userAccessToken(
  ctx: SandboxContext,
  app: AppRegistration,
  user: UserRecord,
  audience: string,
): { token: string; expiresIn: number } {
  const now = Math.floor(Date.now() / 1000);
  const life = ctx.settings.accessTokenLifetimeSeconds;
  const granted = grantedScopes(app, user.id);
  const scp = [...granted].filter((s) => s !== 'offline_access').sort();
  const claims: Record<string, unknown> = {
    aud: audience,
    iss: ctx.issuerV1,
    iat: now,
    nbf: now,
    exp: now + life,
    acct: user.p.userType === 'Guest' ? 1 : 0,
    acr: '1',
    aio: randomBytes(24).toString('base64'),
    amr: ['pwd'],
    app_displayname: app.displayName,
    appid: app.appId,
    appidacr: '1',
    family_name: user.p.surname ?? undefined,
    given_name: user.p.givenName ?? undefined,
    idtyp: 'user',
    ipaddr: '127.0.0.1',
    name: user.p.displayName,
    oid: user.id,
    platf: '3',
    rh: `0.${randomBytes(12).toString('base64url')}.`,
    scp: scp.join(' '),
    sub: pairwiseSub(user.id, app.appId),
    tenant_region_scope: 'NA',
    tid: ctx.tenant.id,
    unique_name: user.p.userPrincipalName,
    upn: user.p.userPrincipalName,
    uti: randomBytes(16).toString('base64url'),
    ver: '1.0',
    wids: user.isAdmin ? [GLOBAL_ADMIN_ROLE] : undefined,
    xms_tcdt: 1577836800,
  };
  return { token: ctx.signer.sign(claims), expiresIn: life };
}

function appAccessToken(
  ctx: SandboxContext,
  app: AppRegistration,
  audience: string,
): { token: string; expiresIn: number } {
  const now = Math.floor(Date.now() / 1000);
  const life = ctx.settings.accessTokenLifetimeSeconds;
  const roles = [...app.grantedAppRoles].sort();
  const claims: Record<string, unknown> = {
    aud: audience,
    iss: ctx.issuerV1,
    iat: now,
    nbf: now,
    exp: now + life,
    aio: randomBytes(24).toString('base64'),
    app_displayname: app.displayName,
    appid: app.appId,
    appidacr: '1',
    idp: ctx.issuerV1,
    idtyp: 'app',
    oid: app.servicePrincipalId,
    rh: `0.${randomBytes(12).toString('base64url')}.`,
    // Without granted application permissions the token has no roles claim, and Graph
    // answers 403: https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow
    roles: roles.length > 0 ? roles : undefined,
    sub: app.servicePrincipalId,
    tenant_region_scope: 'NA',
    tid: ctx.tenant.id,
    uti: randomBytes(16).toString('base64url'),
    ver: '1.0',
    xms_tcdt: 1577836800,
  };
  return { token: ctx.signer.sign(claims), expiresIn: life };
}

function idToken(
  ctx: SandboxContext,
  app: AppRegistration,
  user: UserRecord,
  nonce: string | undefined,
  perms: string[],
): string {
  const now = Math.floor(Date.now() / 1000);
  // https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference: `oid`,
  // `preferred_username` and `name` need the profile scope; `email` the email scope, except
  // for guests, who carry it by default when they have an address.
  const profile = perms.includes('profile');
  const email = perms.includes('email') || user.p.userType === 'Guest';
  const claims: Record<string, unknown> = {
    aud: app.appId,
    iss: ctx.issuerV2,
    iat: now,
    nbf: now,
    exp: now + 3600,
    aio: randomBytes(24).toString('base64'),
    name: profile ? user.p.displayName : undefined,
    nonce,
    oid: profile ? user.id : undefined,
    preferred_username: profile ? user.p.userPrincipalName : undefined,
    email: email ? (user.p.mail ?? undefined) : undefined,
    rh: `0.${randomBytes(12).toString('base64url')}.`,
    sid: randomUUID(),
    sub: pairwiseSub(user.id, app.appId),
    tid: ctx.tenant.id,
    uti: randomBytes(16).toString('base64url'),
    ver: '2.0',
  };
  return ctx.signer.sign(claims);
}

function audienceOf(_ctx: SandboxContext, requested: ResolvedScopes): string {
  const p = requested.prefix.replace(/\/$/, '');
  return p && p !== '00000003-0000-0000-c000-000000000000' ? p : 'https://graph.microsoft.com';
}

function delegatedResponse(
  ctx: SandboxContext,
  app: AppRegistration,
  user: UserRecord,
  requested: ResolvedScopes,
  nonce: string | undefined,
  signedInAt = Date.now(),
): Record<string, unknown> {
  const at = userAccessToken(ctx, app, user, audienceOf(ctx, requested));
  const out: Record<string, unknown> = {
    token_type: 'Bearer',
    scope: formatScope(app, user.id, requested),
    expires_in: at.expiresIn,
    ext_expires_in: at.expiresIn,
    access_token: at.token,
  };
  if (requested.perms.includes('offline_access')) {
    const rt = opaque('1.AR', 96);
    ctx.refreshTokens.set(rt, {
      tenantId: ctx.tenant.id,
      clientId: app.appId,
      userId: user.id,
      scopes: requested.perms,
      issuedAt: signedInAt,
      expiresAt: Date.now() + REFRESH_LIFETIME_MS,
      revoked: false,
    });
    out.refresh_token = rt;
  }
  if (requested.perms.includes('openid')) out.id_token = idToken(ctx, app, user, nonce, requested.perms);
  out.client_info = clientInfo(ctx, user);
  return out;
}

// ------------------------------------------------------------------ client authentication

function authenticateClient(
  ctx: SandboxContext,
  req: FastifyRequest,
  form: Form,
  required: boolean,
): AppRegistration {
  let clientId = form.client_id;
  let secret = form.client_secret;
  const basic = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '');
  if (basic?.[1]) {
    const [id, s] = Buffer.from(basic[1], 'base64').toString('utf8').split(':');
    clientId = decodeURIComponent(id ?? '');
    secret = decodeURIComponent(s ?? '');
  }
  if (!clientId) {
    throw new AadError(
      400,
      'invalid_request',
      900144,
      "The request body must contain the following parameter: 'client_id'.",
    );
  }
  const app = ctx.tenant.apps.get(clientId);
  if (!app) throw appNotFound(ctx, clientId);
  if (!secret) {
    if (!required) return app;
    throw new AadError(
      401,
      'invalid_client',
      7000218,
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    );
  }
  const matching = app.secrets.find((s) => safeEqual(s.secretText, secret));
  if (!matching) {
    throw new AadError(
      401,
      'invalid_client',
      7000215,
      `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${app.appId}'.`,
    );
  }
  if (Date.parse(matching.endDateTime) <= Date.now()) {
    throw new AadError(
      401,
      'invalid_client',
      7000222,
      `The provided client secret keys for app '${app.appId}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.`,
    );
  }
  return app;
}

function userStillValid(ctx: SandboxContext, userId: string): UserRecord {
  const user = ctx.tenant.activeUser(userId);
  if (!user) {
    throw new AadError(
      400,
      'invalid_grant',
      50034,
      `The user account {EUII Hidden} does not exist in the ${ctx.tenant.id} directory. To sign into this application, the account must be added to the directory.`,
    );
  }
  if (user.p.accountEnabled === false) {
    throw new AadError(400, 'invalid_grant', 50057, 'The user account is disabled.');
  }
  return user;
}

function consentMissingError(app: AppRegistration): AadError {
  return new AadError(
    400,
    'invalid_grant',
    65001,
    `The user or administrator has not consented to use the application with ID '${app.appId}' named '${app.displayName}'. Send an interactive authorization request for this user and resource.`,
  );
}

// ------------------------------------------------------------------ token endpoint

function tokenEndpoint(
  ctx: SandboxContext,
  req: FastifyRequest,
  form: Form,
  anyTenant: boolean,
): Record<string, unknown> {
  const grant = form.grant_type;
  if (grant === 'client_credentials') {
    const app = authenticateClient(ctx, req, form, true);
    const scope = (form.scope ?? '').trim();
    const m = /^(.+)\/\.default$/.exec(scope);
    if (!m || scope.includes(' ')) {
      throw new AadError(
        400,
        'invalid_scope',
        1002012,
        `The provided value for scope ${scope || '(empty)'} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      );
    }
    const resource = (m[1] as string).replace(/\/$/, '');
    if (!ctx.graphResources.includes(resource)) {
      throw new AadError(
        400,
        'invalid_resource',
        500011,
        `The resource principal named ${resource} was not found in the tenant named ${ctx.tenant.displayName}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
      );
    }
    const audience =
      resource === '00000003-0000-0000-c000-000000000000' ? 'https://graph.microsoft.com' : resource;
    const at = appAccessToken(ctx, app, audience);
    return {
      token_type: 'Bearer',
      expires_in: at.expiresIn,
      ext_expires_in: at.expiresIn,
      access_token: at.token,
    };
  }

  if (grant === 'authorization_code') {
    const code = form.code ?? '';
    const entry = ctx.codes.get(code);
    if (entry && entry.tenantId !== ctx.tenant.id) {
      const issuer = ctx.tenants.get(entry.tenantId);
      // A code is redeemed in the directory that issued it; `/common` and `/organizations`
      // redeem it there. https://learn.microsoft.com/entra/identity-platform/reference-error-codes
      if (anyTenant && issuer) return tokenEndpoint(ctx.forTenant(issuer), req, form, false);
      throw new AadError(
        400,
        'invalid_grant',
        700005,
        'Provided Authorization Code is intended to use against other tenant, thus rejected.',
      );
    }
    const app = authenticateClient(ctx, req, form, true);
    if (!entry) {
      throw new AadError(400, 'invalid_grant', 9002313, 'Invalid request. Request is malformed or invalid.');
    }
    if (entry.redeemed) {
      throw new AadError(
        400,
        'invalid_grant',
        54005,
        'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.',
      );
    }
    if (entry.expiresAt < Date.now()) {
      throw new AadError(
        400,
        'invalid_grant',
        70008,
        'The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.',
      );
    }
    if (entry.clientId !== app.appId) {
      throw new AadError(
        400,
        'invalid_grant',
        70000,
        "The provided value for the 'code' parameter is not valid. The code was issued to a different client.",
      );
    }
    if ((form.redirect_uri ?? '') !== entry.redirectUri) {
      throw new AadError(
        400,
        'invalid_grant',
        70000,
        "The provided value for the 'redirect_uri' parameter is not valid. It does not match the redirect URI used to obtain the authorization code.",
      );
    }
    if (entry.codeChallenge) {
      const verifier = form.code_verifier ?? '';
      const computed =
        entry.codeChallengeMethod === 'plain'
          ? verifier
          : createHash('sha256').update(verifier).digest('base64url');
      if (!verifier || computed !== entry.codeChallenge) {
        throw new AadError(
          400,
          'invalid_grant',
          50148,
          'The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.',
        );
      }
    }
    entry.redeemed = true;
    const user = userStillValid(ctx, entry.userId);
    if (
      missingConsent(
        app,
        user.id,
        entry.scopes.filter((s) => !OIDC_SCOPES.has(s)),
      ).length > 0
    ) {
      throw consentMissingError(app);
    }
    const requested = resolveScopes(ctx, app, form.scope ?? entry.scopes.join(' '));
    requested.perms = [...new Set([...entry.scopes, ...requested.perms.filter((p) => OIDC_SCOPES.has(p))])];
    return delegatedResponse(ctx, app, user, requested, entry.nonce);
  }

  if (grant === 'refresh_token') {
    const rt = form.refresh_token ?? '';
    const entry = ctx.refreshTokens.get(rt);
    if (entry && entry.tenantId !== ctx.tenant.id) {
      const issuer = ctx.tenants.get(entry.tenantId);
      if (anyTenant && issuer) return tokenEndpoint(ctx.forTenant(issuer), req, form, false);
      throw new AadError(400, 'invalid_grant', 9002313, 'Invalid request. Request is malformed or invalid.');
    }
    const app = authenticateClient(ctx, req, form, true);
    if (!entry)
      throw new AadError(400, 'invalid_grant', 9002313, 'Invalid request. Request is malformed or invalid.');
    if (entry.revoked) {
      // https://learn.microsoft.com/entra/identity-platform/reference-error-codes (AADSTS50173,
      // FreshTokenNeeded: an admin or the user revoked the user's tokens).
      throw new AadError(
        400,
        'invalid_grant',
        50173,
        `The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '${new Date(entry.issuedAt).toISOString()}' and the TokensValidFrom date (before which tokens are not valid) for this user is '${new Date(entry.revokedAt ?? Date.now()).toISOString()}'.`,
      );
    }
    if (entry.expiresAt < Date.now()) {
      throw new AadError(
        400,
        'invalid_grant',
        700082,
        'The refresh token has expired due to inactivity. The token was issued on a date and was inactive for a period of time.',
      );
    }
    if (entry.clientId !== app.appId) {
      throw new AadError(400, 'invalid_grant', 70000, 'The refresh token was issued to a different client.');
    }
    const user = userStillValid(ctx, entry.userId);
    const requested = form.scope
      ? resolveScopes(ctx, app, form.scope)
      : resolveScopes(ctx, app, entry.scopes.join(' '));
    const graphPerms = requested.perms.filter((s) => !OIDC_SCOPES.has(s));
    if (
      missingConsent(app, user.id, graphPerms).length > 0 ||
      missingConsent(app, user.id, entry.scopes).length > 0
    ) {
      throw consentMissingError(app);
    }
    if (!requested.perms.includes('offline_access')) requested.perms.push('offline_access');
    entry.expiresAt = Date.now() + REFRESH_LIFETIME_MS;
    return delegatedResponse(ctx, app, user, requested, undefined, entry.issuedAt);
  }

  throw new AadError(
    400,
    'unsupported_grant_type',
    70003,
    `The app requested an unsupported grant type '${grant ?? ''}'.`,
  );
}

// ------------------------------------------------------------------ authorize

function redirectMatches(app: AppRegistration, uri: string): boolean {
  let want: URL;
  try {
    want = new URL(uri);
  } catch {
    return false;
  }
  const norm = (u: URL) => `${u.protocol}//${u.hostname}${u.pathname === '/' ? '' : u.pathname}${u.search}`;
  for (const r of app.redirectUris) {
    if (r === uri) return true;
    let reg: URL;
    try {
      reg = new URL(r);
    } catch {
      continue;
    }
    // Loopback redirect URIs match on any port: https://learn.microsoft.com/entra/identity-platform/reply-url#localhost-exceptions
    const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(want.hostname);
    if (loopback && norm(reg) === norm(want)) return true;
    if (!loopback && reg.href.replace(/\/$/, '') === want.href.replace(/\/$/, '')) return true;
  }
  return false;
}

function finish(
  reply: FastifyReply,
  flow: AuthorizeFlow,
  params: Record<string, string | undefined>,
): FastifyReply {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) if (v !== undefined) clean[k] = v;
  const mode = flow.params.response_mode ?? 'query';
  if (mode === 'form_post')
    return reply.type('text/html; charset=utf-8').send(formPostPage(flow.redirectUri, clean));
  const u = new URL(flow.redirectUri);
  if (mode === 'fragment') {
    return reply.redirect(
      `${u.origin}${u.pathname}${u.search}#${new URLSearchParams(clean).toString()}`,
      302,
    );
  }
  for (const [k, v] of Object.entries(clean)) u.searchParams.set(k, v);
  return reply.redirect(u.toString(), 302);
}

function errorRedirect(
  reply: FastifyReply,
  flow: AuthorizeFlow,
  error: string,
  code: number,
  description: string,
  extra: Record<string, string> = {},
): FastifyReply {
  return finish(reply, flow, {
    error,
    error_description: `AADSTS${code}: ${description}\r\nTrace ID: ${randomUUID()}\r\nCorrelation ID: ${randomUUID()}\r\nTimestamp: ${stamp()}`,
    error_uri: undefined,
    ...extra,
    state: flow.params.state,
  });
}

function issueCode(
  ctx: SandboxContext,
  reply: FastifyReply,
  flow: AuthorizeFlow,
  user: UserRecord,
): FastifyReply {
  ctx.flows.delete(flow.id);
  if (flow.kind === 'adminconsent') {
    return finish(reply, flow, {
      admin_consent: 'True',
      tenant: ctx.tenant.id,
      state: flow.params.state,
      scope: flow.params.scope,
    });
  }
  const code = opaque('1.AR', 160);
  if (ctx.codes.size > 1000) {
    for (const [k, v] of ctx.codes) if (v.expiresAt < Date.now()) ctx.codes.delete(k);
  }
  ctx.codes.set(code, {
    tenantId: ctx.tenant.id,
    clientId: flow.clientId,
    redirectUri: flow.redirectUri,
    userId: user.id,
    scopes: flow.scopes,
    codeChallenge: flow.params.code_challenge,
    codeChallengeMethod:
      flow.params.code_challenge_method ?? (flow.params.code_challenge ? 'plain' : undefined),
    nonce: flow.params.nonce,
    expiresAt: Date.now() + CODE_LIFETIME_MS,
    redeemed: false,
  });
  return finish(reply, flow, {
    code,
    client_info: clientInfo(ctx, user),
    state: flow.params.state,
    session_state: randomUUID(),
  });
}

/** The permissions a consent page lists for a flow. */
function consentList(scopes: string[]) {
  return scopes
    .filter((s) => !OIDC_SCOPES.has(s))
    .map((s) => ({
      name: s,
      description: DELEGATED_PERMISSIONS[s]?.description ?? s,
      admin: !!DELEGATED_PERMISSIONS[s]?.adminConsent,
    }));
}

function appRoleList(app: AppRegistration) {
  return app.requiredAppRoles.map((r) => ({ name: r, description: APPLICATION_PERMISSIONS[r] ?? r }));
}

/**
 * After sign-in: consent if needed, then the code (or the admin-consent answer).
 *
 * `.default` (https://learn.microsoft.com/entra/identity-platform/scopes-oidc#the-default-scope):
 * when some delegated permission for Graph is already granted to the user (by the user or an
 * admin) and `prompt=consent` is not asked, the sign-in goes on with no prompt and the token
 * carries what is granted; otherwise the consent page lists every permission the app
 * registration asks for. An admin who accepts it for the organisation grants them all,
 * application permissions included (as `/adminconsent` with `.default` does).
 */
function afterSignIn(
  ctx: SandboxContext,
  reply: FastifyReply,
  flow: AuthorizeFlow,
  user: UserRecord,
  auto: boolean,
): FastifyReply {
  flow.userId = user.id;
  const app = ctx.tenant.apps.get(flow.clientId) as AppRegistration;
  const prompt = flow.params.prompt ?? '';
  const action = `/${ctx.tenant.id}/consent`;

  if (flow.kind === 'adminconsent') {
    if (!user.isAdmin) {
      return errorRedirect(reply, flow, 'access_denied', 90094, 'The grant requires admin permission.', {
        admin_consent: 'True',
      });
    }
    if (auto) {
      grantAdminConsent(app, flow);
      return issueCode(ctx, reply, flow, user);
    }
    return reply.type('text/html; charset=utf-8').send(
      consentPage(action, flow.id, {
        appName: app.displayName,
        user: String(user.p.userPrincipalName),
        permissions: consentList(flow.dotDefault ? app.requiredScopes : flow.scopes),
        appRoles: flow.dotDefault ? appRoleList(app) : [],
        canConsentForOrg: true,
        needsAdmin: true,
        adminConsent: true,
      }),
    );
  }

  if (flow.dotDefault && prompt !== 'consent') {
    const granted = grantedScopes(app, user.id);
    if ([...granted].some((s) => !OIDC_SCOPES.has(s))) {
      flow.scopes = flow.scopes.filter((s) => OIDC_SCOPES.has(s) || granted.has(s));
      return issueCode(ctx, reply, flow, user);
    }
  }
  const missing = missingConsent(app, user.id, flow.scopes);
  const needsAdmin = missing.some((s) => DELEGATED_PERMISSIONS[s]?.adminConsent);
  if (missing.length === 0 && prompt !== 'consent') return issueCode(ctx, reply, flow, user);
  if (prompt === 'none') {
    return errorRedirect(
      reply,
      flow,
      'consent_required',
      65001,
      `The user or administrator has not consented to use the application with ID '${app.appId}' named '${app.displayName}'. Send an interactive authorization request for this user and resource.`,
    );
  }
  if (auto) {
    if (needsAdmin && !user.isAdmin) {
      return errorRedirect(reply, flow, 'access_denied', 90094, 'The grant requires admin permission.');
    }
    recordConsent(app, user, missing.length > 0 ? missing : flow.scopes, user.isAdmin, flow);
    return issueCode(ctx, reply, flow, user);
  }
  return reply.type('text/html; charset=utf-8').send(
    consentPage(action, flow.id, {
      appName: app.displayName,
      user: String(user.p.userPrincipalName),
      permissions: consentList(missing.length > 0 ? missing : flow.scopes),
      appRoles: flow.dotDefault && user.isAdmin ? appRoleList(app) : [],
      canConsentForOrg: user.isAdmin,
      needsAdmin,
      adminConsent: false,
    }),
  );
}

/**
 * Admin consent for the organisation (https://learn.microsoft.com/entra/identity-platform/v2-admin-consent):
 * with `/.default` every permission the app registration asks for, application permissions
 * (app roles) included; with dynamic scopes only those delegated permissions ("In order to
 * request app permissions, you must use the /.default value").
 */
function grantAdminConsent(app: AppRegistration, flow: AuthorizeFlow): void {
  if (flow.dotDefault) {
    for (const r of app.requiredAppRoles) app.grantedAppRoles.add(r);
    for (const s of app.requiredScopes) app.adminConsentedScopes.add(s);
    return;
  }
  for (const s of flow.scopes) app.adminConsentedScopes.add(s);
}

function recordConsent(
  app: AppRegistration,
  user: UserRecord,
  scopes: string[],
  forOrg: boolean,
  flow: AuthorizeFlow,
): void {
  if (forOrg) {
    // An admin accepting `.default` for the organisation grants what the registration asks for.
    if (flow.dotDefault) grantAdminConsent(app, flow);
    for (const s of scopes) app.adminConsentedScopes.add(s);
    return;
  }
  let set = app.userConsents.get(user.id);
  if (!set) {
    set = new Set();
    app.userConsents.set(user.id, set);
  }
  for (const s of scopes) set.add(s);
}

function sessionUser(ctx: SandboxContext, req: FastifyRequest): UserRecord | undefined {
  const sid = (req.cookies as Record<string, string | undefined> | undefined)?.[SESSION_COOKIE];
  if (!sid) return undefined;
  const s = ctx.sessions.get(sid);
  if (!s) return undefined;
  const u = ctx.tenant.activeUser(s.userId);
  return u && u.p.accountEnabled !== false ? u : undefined;
}

function startSession(ctx: SandboxContext, reply: FastifyReply, user: UserRecord): void {
  const sid = opaque('', 32);
  ctx.sessions.set(sid, { userId: user.id, createdAt: Date.now() });
  reply.setCookie(SESSION_COOKIE, sid, { path: '/', httpOnly: true, secure: true, sameSite: 'none' });
}

function beginFlow(
  root: SandboxContext,
  req: FastifyRequest,
  reply: FastifyReply,
  tenantParam: string,
  q: Record<string, string>,
  kind: 'authorize' | 'adminconsent',
): FastifyReply {
  const html = (status: number, code: number, message: string) =>
    reply.code(status).type('text/html; charset=utf-8').send(errorPage(code, message));
  const tenant = root.findTenant(tenantParam);
  if (!tenant) return html(400, 90002, tenantNotFound(tenantParam).description);
  const ctx = root.forTenant(tenant);
  const clientId = q.client_id ?? '';
  const app = ctx.tenant.apps.get(clientId);
  if (!app) return html(400, 700016, appNotFound(ctx, clientId).description);
  if (kind === 'adminconsent' && !q.redirect_uri) {
    // "redirect_uri: Required" (https://learn.microsoft.com/entra/identity-platform/v2-admin-consent)
    return html(400, 900144, "The request body must contain the following parameter: 'redirect_uri'.");
  }
  const redirectUri = q.redirect_uri ?? app.redirectUris[0] ?? '';
  if (!redirectMatches(app, redirectUri)) {
    return html(
      400,
      50011,
      `The redirect URI '${redirectUri}' specified in the request does not match the redirect URIs configured for the application '${app.appId}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this.`,
    );
  }
  const flow: AuthorizeFlow = {
    id: opaque('', 24),
    tenantId: ctx.tenant.id,
    kind,
    params: q,
    clientId,
    redirectUri,
    scopes: [],
    createdAt: Date.now(),
  };
  if (kind === 'authorize') {
    if (q.response_type !== 'code') {
      return errorRedirect(
        reply,
        flow,
        'unsupported_response_type',
        700054,
        `response_type '${q.response_type ?? ''}' is not enabled for the application.`,
      );
    }
    try {
      const resolved = resolveScopes(ctx, app, q.scope);
      flow.scopes = resolved.perms;
      flow.dotDefault = resolved.dotDefault;
    } catch (e) {
      if (e instanceof AadError) return errorRedirect(reply, flow, e.error, e.aadsts, e.description);
      throw e;
    }
    if (q.code_challenge !== undefined) {
      const method = q.code_challenge_method ?? 'plain';
      if (method !== 'S256' && method !== 'plain') {
        return errorRedirect(
          reply,
          flow,
          'invalid_request',
          501491,
          `Invalid code_challenge_method '${method}'.`,
        );
      }
      if (q.code_challenge.length < 43 || q.code_challenge.length > 128) {
        return errorRedirect(
          reply,
          flow,
          'invalid_request',
          501491,
          'Invalid size of Code_Challenge parameter.',
        );
      }
    }
  } else {
    // "scope: Required ... either static (using /.default) or dynamic scopes"
    // (https://learn.microsoft.com/entra/identity-platform/v2-admin-consent)
    try {
      const resolved = resolveScopes(ctx, app, q.scope);
      flow.scopes = resolved.perms;
      flow.dotDefault = resolved.dotDefault;
    } catch (e) {
      if (e instanceof AadError)
        return errorRedirect(reply, flow, e.error, e.aadsts, e.description, { admin_consent: 'True' });
      throw e;
    }
  }
  ctx.flows.set(flow.id, flow);
  for (const [id, f] of ctx.flows) if (Date.now() - f.createdAt > 3_600_000) ctx.flows.delete(id);

  const prompt = q.prompt ?? '';
  const hint = q.login_hint;
  if (ctx.settings.autoSignIn && hint) {
    const foreign = foreignAccountMessage(ctx, hint, app);
    if (foreign) return reply.type('text/html; charset=utf-8').send(errorPage(50020, foreign));
    const user = ctx.tenant.activeUser(hint);
    if (user && user.p.accountEnabled !== false) {
      startSession(ctx, reply, user);
      return afterSignIn(ctx, reply, flow, user, true);
    }
  }
  const session = prompt === 'login' || prompt === 'select_account' ? undefined : sessionUser(ctx, req);
  if (session && (!hint || hint.toLowerCase() === String(session.p.userPrincipalName).toLowerCase())) {
    return afterSignIn(ctx, reply, flow, session, false);
  }
  if (prompt === 'none') {
    return errorRedirect(
      reply,
      flow,
      'login_required',
      50058,
      "A silent sign-in request was sent but no user is signed in. The cookies used to represent the user's session were not sent in the request to Azure AD.",
    );
  }
  return reply.type('text/html; charset=utf-8').send(
    signInPage(`/${ctx.tenant.id}/login`, flow.id, {
      loginHint: hint,
      tenantName: ctx.tenant.displayName,
      appName: app.displayName,
    }),
  );
}

// ------------------------------------------------------------------ routes

export function registerIdentityRoutes(app: FastifyInstance, ctx: SandboxContext): void {
  const count = () => {
    ctx.stats.identityRequests++;
  };

  const openidConfig = (tenantParam: string) => {
    const t = isMultiTenantAuthority(tenantParam) ? '{tenantid}' : ctx.findTenant(tenantParam)?.id;
    const base = `${ctx.authorityHost}/${tenantParam}`;
    return {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${ctx.authorityHost}/${tenantParam}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${ctx.authorityHost}/${t}/v2.0`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: `${new URL(ctx.graphBaseUrl).origin}/oidc/userinfo`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      claims_supported: [
        'sub',
        'iss',
        'cloud_instance_name',
        'cloud_instance_host_name',
        'cloud_graph_host_name',
        'msgraph_host',
        'aud',
        'exp',
        'iat',
        'auth_time',
        'acr',
        'nonce',
        'preferred_username',
        'name',
        'tid',
        'ver',
        'at_hash',
        'c_hash',
        'email',
      ],
      kerberos_endpoint: `${base}/kerberos`,
      tenant_region_scope: 'NA',
      cloud_instance_name: new URL(ctx.authorityHost).host,
      cloud_graph_host_name: new URL(ctx.graphBaseUrl).host,
      msgraph_host: new URL(ctx.graphBaseUrl).host,
      rbac_url: 'https://pas.windows.net',
    };
  };

  app.get<{ Params: { tenant: string } }>(
    '/:tenant/v2.0/.well-known/openid-configuration',
    async (req, reply) => {
      count();
      if (!ctx.findTenant(req.params.tenant)) {
        const e = tenantNotFound(req.params.tenant);
        return sendAad(ctx, reply, new AadError(400, 'invalid_tenant', e.aadsts, e.description));
      }
      return reply.send(openidConfig(req.params.tenant));
    },
  );

  const keys = async (_req: FastifyRequest, reply: FastifyReply) => {
    count();
    return reply.send(ctx.signer.jwks());
  };
  app.get('/:tenant/discovery/v2.0/keys', keys);
  app.get('/:tenant/discovery/keys', keys);

  // Instance discovery, for clients that do not list the host in knownAuthorities.
  app.get('/common/discovery/instance', async (_req, reply) => {
    count();
    const host = new URL(ctx.authorityHost).host;
    return reply.send({
      tenant_discovery_endpoint: `${ctx.authorityHost}/${ctx.tenant.id}/v2.0/.well-known/openid-configuration`,
      'api-version': '1.1',
      metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
    });
  });

  app.get<{ Params: { tenant: string }; Querystring: Record<string, string> }>(
    '/:tenant/oauth2/v2.0/authorize',
    async (req, reply) => {
      count();
      return beginFlow(ctx, req, reply, req.params.tenant, req.query, 'authorize');
    },
  );

  app.get<{ Params: { tenant: string }; Querystring: Record<string, string> }>(
    '/:tenant/v2.0/adminconsent',
    async (req, reply) => {
      count();
      return beginFlow(ctx, req, reply, req.params.tenant, req.query, 'adminconsent');
    },
  );

  /** The flow a sign-in or consent form continues, seen from the directory it started in. */
  const flowOf = (form: Form) => {
    const flow = ctx.flows.get(form.flow ?? '');
    const tenant = flow && ctx.tenants.get(flow.tenantId);
    return flow && tenant ? { flow, tc: ctx.forTenant(tenant) } : undefined;
  };

  app.post<{ Params: { tenant: string }; Body: Form }>('/:tenant/login', async (req, reply) => {
    count();
    const form = (req.body ?? {}) as Form;
    const found = flowOf(form);
    if (!found) {
      return reply
        .code(400)
        .type('text/html; charset=utf-8')
        .send(errorPage(50058, 'The sign-in session has expired. Start again from the application.'));
    }
    const { flow, tc } = found;
    const app = tc.tenant.apps.get(flow.clientId) as AppRegistration;
    const again = (error: string) =>
      reply.type('text/html; charset=utf-8').send(
        signInPage(`/${tc.tenant.id}/login`, flow.id, {
          loginHint: form.login,
          error,
          tenantName: tc.tenant.displayName,
          appName: app.displayName,
        }),
      );
    const login = String(form.login ?? '').trim();
    const user = tc.tenant.activeUser(login);
    const foreign = !user && form.password === SANDBOX_PASSWORD && foreignAccountMessage(tc, login, app);
    if (foreign) return reply.type('text/html; charset=utf-8').send(errorPage(50020, foreign));
    if (!user)
      return again('This username may be incorrect. Make sure you typed it correctly. (AADSTS50034)');
    if (form.password !== SANDBOX_PASSWORD)
      return again('Your account or password is incorrect. (AADSTS50126)');
    if (user.p.accountEnabled === false) {
      return again(
        'Your account has been locked. Contact your support person to unlock it, then try again. (AADSTS50057)',
      );
    }
    startSession(tc, reply, user);
    return afterSignIn(tc, reply, flow, user, false);
  });

  app.post<{ Params: { tenant: string }; Body: Form }>('/:tenant/consent', async (req, reply) => {
    count();
    const form = (req.body ?? {}) as Form;
    const found = flowOf(form);
    if (!found?.flow.userId) {
      return reply
        .code(400)
        .type('text/html; charset=utf-8')
        .send(errorPage(50058, 'The sign-in session has expired. Start again from the application.'));
    }
    const { flow, tc } = found;
    const app = tc.tenant.apps.get(flow.clientId) as AppRegistration;
    const user = tc.tenant.activeUser(flow.userId as string);
    if (!user)
      return reply
        .code(400)
        .type('text/html; charset=utf-8')
        .send(errorPage(50034, 'The user account does not exist.'));
    if (form.decision !== 'accept') {
      ctx.flows.delete(flow.id);
      if (flow.kind === 'adminconsent') {
        // The error response of https://learn.microsoft.com/entra/identity-platform/v2-admin-consent
        return errorRedirect(
          reply,
          flow,
          'consent_required',
          65004,
          'The resource owner or authorization server denied the request.',
          { admin_consent: 'True' },
        );
      }
      // https://learn.microsoft.com/entra/identity-platform/reference-error-codes (AADSTS65004)
      return errorRedirect(
        reply,
        flow,
        'access_denied',
        65004,
        'User declined to consent to access the app.',
        {
          error_subcode: 'cancel',
        },
      );
    }
    if (flow.kind === 'adminconsent') {
      grantAdminConsent(app, flow);
      return issueCode(tc, reply, flow, user);
    }
    const missing = missingConsent(app, user.id, flow.scopes);
    const forOrg = user.isAdmin && form.consent_for_org === 'on';
    if (missing.some((s) => DELEGATED_PERMISSIONS[s]?.adminConsent) && !user.isAdmin) {
      return errorRedirect(reply, flow, 'access_denied', 90094, 'The grant requires admin permission.');
    }
    recordConsent(app, user, missing.length > 0 ? missing : flow.scopes, forOrg, flow);
    return issueCode(tc, reply, flow, user);
  });

  app.post<{ Params: { tenant: string }; Body: Form }>('/:tenant/oauth2/v2.0/token', async (req, reply) => {
    count();
    ctx.stats.tokenRequests++;
    reply.header('Cache-Control', 'no-store, no-cache').header('Pragma', 'no-cache');
    try {
      const tenant = ctx.findTenant(req.params.tenant);
      if (!tenant) throw tenantNotFound(req.params.tenant);
      const form = (req.body ?? {}) as Form;
      return reply.send(
        tokenEndpoint(ctx.forTenant(tenant), req, form, isMultiTenantAuthority(req.params.tenant)),
      );
    } catch (e) {
      if (e instanceof AadError) return sendAad(ctx, reply, e);
      throw e;
    }
  });

  const logout = async (
    req: FastifyRequest<{ Querystring: Record<string, string> }>,
    reply: FastifyReply,
  ) => {
    count();
    const sid = (req.cookies as Record<string, string | undefined> | undefined)?.[SESSION_COOKIE];
    if (sid) ctx.sessions.delete(sid);
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    const back = req.query.post_logout_redirect_uri;
    if (back) return reply.redirect(back, 302);
    return reply
      .type('text/html; charset=utf-8')
      .send('<!doctype html><p>You signed out of your account.</p>');
  };
  app.get('/:tenant/oauth2/v2.0/logout', logout);
}
