import { type IntegrationState, IntegrationStatus } from './integration.js';
import type { FieldProblem } from './tenant.js';

/**
 * Single sign-on for Linkus (S1–S3), as pure rules: which redirect URIs a Linkus client may
 * register, whether one it sends is registered, and whether a sign-in may start at all.
 */

/**
 * The longest redirect URI a Linkus client may register: Entra ID's own limit for the redirect
 * URIs of an app registration ("Maximum URI length: 256 characters",
 * https://learn.microsoft.com/entra/identity-platform/reply-url#maximum-uri-length).
 */
export const MAX_LINKUS_REDIRECT_URI_LENGTH = 256;
/** How many: the web client, the iOS and Android apps, and a few for test or development. */
export const MAX_LINKUS_REDIRECT_URIS = 20;

/** Hosts an `http:` redirect URI may name: the loopback interface only (RFC 8252 §7.3, §8.3). */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * A private-use URI scheme of a mobile app: reverse domain name notation, as RFC 8252 §7.1
 * requires ("a URI scheme based on a domain name under their control, expressed in reverse
 * order", e.g. `com.yeastar.linkus`). Requiring the dot also keeps out every scheme a browser
 * would run or read locally (`javascript:`, `data:`, `file:`, `blob:` ...).
 */
const PRIVATE_USE_SCHEME = /^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+$/;

export type LinkusRedirectUriKind = 'HTTPS' | 'LOOPBACK' | 'APP_SCHEME';

/**
 * What kind of Linkus redirect URI `uri` is, or why it is refused. Allowed:
 * - `https:` on any host (the Linkus Web Client);
 * - a private-use scheme in reverse domain notation (the mobile apps, through the system browser);
 * - `http:` on localhost, 127.0.0.1 or [::1] only (a client in development, RFC 8252 §7.3): every
 *   other `http:` URI would hand the one-time code over the network in clear.
 * Never: a fragment (RFC 6749 §3.1.2), credentials in the URI, more than 256 characters, blanks.
 */
export function classifyLinkusRedirectUri(
  uri: string,
): { kind: LinkusRedirectUriKind } | { problem: string } {
  if (uri.length === 0) return { problem: 'must not be empty' };
  if (uri.length > MAX_LINKUS_REDIRECT_URI_LENGTH)
    return { problem: `must be at most ${MAX_LINKUS_REDIRECT_URI_LENGTH} characters` };
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\s\u0000-\u001f\u007f]/.test(uri))
    return { problem: 'must not contain blanks or control characters' };
  if (uri.includes('#')) return { problem: 'must not contain a fragment (#), as OAuth 2.0 requires' };
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return { problem: 'must be an absolute URI' };
  }
  if (u.username || u.password) return { problem: 'must not contain a user name or password' };
  const scheme = u.protocol.slice(0, -1).toLowerCase();
  if (scheme === 'https') return u.hostname ? { kind: 'HTTPS' } : { problem: 'must name a host' };
  if (scheme === 'http') {
    return LOOPBACK_HOSTS.has(u.hostname)
      ? { kind: 'LOOPBACK' }
      : {
          problem:
            'http is allowed only on localhost, 127.0.0.1 or [::1] (development); use https, or a mobile app scheme such as com.example.linkus:/callback',
        };
  }
  if (PRIVATE_USE_SCHEME.test(scheme)) return { kind: 'APP_SCHEME' };
  return {
    problem: `the scheme '${scheme}:' is not allowed: use https, a mobile app scheme in reverse domain notation (com.example.linkus:/callback), or http on localhost`,
  };
}

/** S1: the redirect URIs an admin saves, checked together; problems name each bad entry. */
export function validateLinkusRedirectUris(uris: readonly string[]): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (uris.length > MAX_LINKUS_REDIRECT_URIS) {
    problems.push({ field: 'redirectUris', message: `at most ${MAX_LINKUS_REDIRECT_URIS} redirect URIs` });
  }
  const seen = new Set<string>();
  uris.forEach((uri, i) => {
    const c = classifyLinkusRedirectUri(uri);
    if ('problem' in c) problems.push({ field: `redirectUris[${i}]`, message: c.problem });
    else if (seen.has(uri)) problems.push({ field: `redirectUris[${i}]`, message: 'is listed twice' });
    seen.add(uri);
  });
  return problems;
}

/**
 * Whether the redirect URI a Linkus client sent is one of the registered ones: exact string
 * comparison (OAuth 2.0 Security BCP, RFC 9700 §2.1), except that a loopback `http:` URI
 * matches on any port (RFC 8252 §7.3: a native app picks its port when it starts).
 */
export function isRegisteredRedirectUri(registered: readonly string[], candidate: string): boolean {
  if (registered.includes(candidate)) return true;
  const c = classifyLinkusRedirectUri(candidate);
  if ('problem' in c || c.kind !== 'LOOPBACK') return false;
  const withoutPort = (s: string) => {
    const u = new URL(s);
    u.port = '';
    return u.toString();
  };
  const want = withoutPort(candidate);
  return registered.some((r) => {
    const k = classifyLinkusRedirectUri(r);
    return !('problem' in k) && k.kind === 'LOOPBACK' && withoutPort(r) === want;
  });
}

/** Why the SSO settings cannot be saved now (S1), or null. */
export function ssoSettingsRefusal(
  status: IntegrationStatus,
): { code: 'INTEGRATION_NOT_CONNECTED' | 'INTEGRATION_DISABLED'; message: string } | null {
  if (status === IntegrationStatus.DISABLED)
    return {
      code: 'INTEGRATION_DISABLED',
      message:
        'The integration is disabled: its settings, SSO included, cannot be edited until it is enabled (L6).',
    };
  if (status !== IntegrationStatus.CONNECTED)
    return {
      code: 'INTEGRATION_NOT_CONNECTED',
      message:
        'Connect the integration to Microsoft 365 first: Linkus signs in with the connected directory (S1).',
    };
  return null;
}

/** Why no Linkus user of this PBX may sign in with Microsoft now (S3), or null. */
export type SsoUnavailable =
  | 'SSO_DISABLED'
  | 'INTEGRATION_NOT_CONNECTED'
  | 'INTEGRATION_DISABLED'
  | 'USERS_PAUSED';

export function ssoUnavailable(state: IntegrationState, ssoEnabled: boolean): SsoUnavailable | null {
  if (state.status === IntegrationStatus.DISABLED) return 'INTEGRATION_DISABLED';
  if (state.status !== IntegrationStatus.CONNECTED) return 'INTEGRATION_NOT_CONNECTED';
  if (!ssoEnabled) return 'SSO_DISABLED';
  if (state.userSyncPaused) return 'USERS_PAUSED';
  return null;
}

/** The Linkus client's PKCE challenge: base64url of a SHA-256 (43 characters, RFC 7636 §4.2). */
export const isS256Challenge = (v: string) => /^[A-Za-z0-9_-]{43}$/.test(v);

/**
 * Whether a browser page of `origin` may read the gateway's answers (CORS on the token endpoint
 * and /graphql): the Linkus web client is served from the origin of an https redirect URI an admin
 * registered, or, in development, from a loopback one (on any port, as its redirect URI matches).
 * A mobile app's scheme is no web origin.
 */
export function isLinkusWebOrigin(registered: readonly string[], origin: string): boolean {
  let o: URL;
  try {
    o = new URL(origin);
  } catch {
    return false;
  }
  if (o.origin !== origin) return false;
  return registered.some((uri) => {
    const c = classifyLinkusRedirectUri(uri);
    if ('problem' in c || c.kind === 'APP_SCHEME') return false;
    const r = new URL(uri);
    if (c.kind === 'HTTPS') return r.origin === origin;
    return o.protocol === 'http:' && o.hostname === r.hostname;
  });
}
