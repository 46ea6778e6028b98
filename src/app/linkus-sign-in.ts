import { randomBytes } from 'node:crypto';
import { redirectUris } from '../domain/integration.js';
import { isRegisteredRedirectUri, isS256Challenge, ssoUnavailable } from '../domain/linkus-sso.js';
import { appCredentials, firstLine } from './integration.js';
import type {
  LinkusSignInStates,
  MicrosoftSignIn,
  PendingLinkusSignIn,
} from './ports/linkus-sign-in.port.js';
import type { LinkusSignInCodes, LinkusSsoRefusal } from './ports/linkus-sso.port.js';
import type { AppLog } from './ports/log.port.js';
import { MicrosoftError } from './ports/microsoft.port.js';
import type { Store } from './ports/store.port.js';
import type { SecretBox } from './secret-box.js';

/**
 * The Microsoft leg of a Linkus sign-in (S2, S3): a Linkus client (web, or a mobile app in the
 * system browser) starts at the gateway; the gateway sends the browser to the connected
 * directory (authorization code flow, PKCE and OpenID Connect), checks the ID token that comes
 * back, finds the user's synced extension, and hands the client a one-time code on its
 * registered redirect URI. The client redeems the code with its PKCE verifier at the token
 * endpoint (src/app/linkus-sessions.ts).
 *
 * Every refusal has its own code (LinkusSsoRefusal), on the client's redirect
 * (`error=<code>&error_description=…&state=…`) or, when the redirect URI itself is unknown or
 * not registered, on an error page of the gateway: an authorization server never redirects to a
 * URI it cannot vouch for (RFC 6749 §4.1.2.1). Each refusal is one log line; none makes a code.
 */

/** How long a sign-in may stay at Microsoft (the user types a password, maybe MFA). */
export const LINKUS_SIGN_IN_TTL_SECONDS = 10 * 60;
/** The longest `state` a Linkus client may send (it comes back in a URL). */
export const MAX_CLIENT_STATE_LENGTH = 512;

export interface LinkusSignInDeps {
  store: Store;
  secrets: SecretBox;
  states: LinkusSignInStates;
  microsoft: MicrosoftSignIn;
  codes: LinkusSignInCodes;
  log: AppLog;
}

export type LinkusSignInOutcome =
  /** Send the browser on: to Microsoft, or back to the Linkus client (a code or an error). */
  | { kind: 'REDIRECT'; location: string }
  /** No redirect URI to trust: the gateway answers the browser itself. */
  | { kind: 'ERROR_PAGE'; status: number; code: LinkusSsoRefusal; message: string };

export interface StartQuery {
  pbx?: string;
  redirect_uri?: string;
  state?: string;
  code_challenge?: string;
  code_challenge_method?: string;
}

export interface CallbackQuery {
  state?: string;
  code?: string;
  error?: string;
  error_description?: string;
}

/** What the Linkus client reads in `error_description` for each refusal (fixed texts, nothing echoed). */
export const REFUSAL_TEXT: Partial<Record<LinkusSsoRefusal, string>> = {
  SSO_DISABLED:
    'Single sign-on with Microsoft is turned off for this PBX. Sign in with your extension password.',
  INTEGRATION_NOT_CONNECTED: 'This PBX is not connected to Microsoft 365.',
  INTEGRATION_DISABLED: 'The Microsoft 365 integration of this PBX is disabled.',
  USERS_PAUSED: 'The user sync of this PBX is paused: single sign-on is not available until it is resumed.',
  USER_NOT_SYNCED: 'Your Microsoft account has no extension on this PBX.',
  EXTENSION_DELETED: 'The extension of your Microsoft account was deleted.',
  WRONG_DIRECTORY:
    'This Microsoft account belongs to another organisation than the one this PBX is connected to.',
  USER_DISABLED: 'Your Microsoft account is disabled.',
  REDIRECT_URI_NOT_REGISTERED: 'This Linkus client is not registered for single sign-on on this PBX.',
  INVALID_REQUEST: 'The sign-in request is incomplete or malformed.',
  ID_TOKEN_INVALID: 'Microsoft’s answer could not be verified.',
  MICROSOFT_ERROR: 'Microsoft did not complete the sign-in.',
};

/** The refusal a Microsoft error stands for: a disabled user (AADSTS50057), another directory, or Microsoft's own. */
export function microsoftRefusal(
  error: string | undefined,
  description: string | undefined,
): LinkusSsoRefusal {
  if (/AADSTS50057\b/.test(description ?? '')) return 'USER_DISABLED';
  if (/AADSTS(700005|50020)\b/.test(description ?? '')) return 'WRONG_DIRECTORY';
  return error ? 'MICROSOFT_ERROR' : 'INVALID_REQUEST';
}

function withParams(uri: string, params: Record<string, string | undefined>): string {
  const u = new URL(uri);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
  return u.toString();
}

const random = (bytes: number) => randomBytes(bytes).toString('base64url');

function refuse(
  deps: Pick<LinkusSignInDeps, 'log'>,
  code: LinkusSsoRefusal,
  reason: string,
  to: { redirectUri: string; state?: string } | null,
  fields: Record<string, unknown> = {},
): LinkusSignInOutcome {
  deps.log('warn', `linkus sign-in refused: ${code}`, { ...fields, code, reason });
  const text = REFUSAL_TEXT[code] ?? code;
  if (!to)
    return {
      kind: 'ERROR_PAGE',
      status: code === 'REDIRECT_URI_NOT_REGISTERED' || code === 'INVALID_REQUEST' ? 400 : 403,
      code,
      message: text,
    };
  return {
    kind: 'REDIRECT',
    location: withParams(to.redirectUri, { error: code, error_description: text, state: to.state }),
  };
}

/** GET /linkus/sso/microsoft/start: checks the request and the PBX, then sends the browser to Microsoft. */
export async function startLinkusSignIn(deps: LinkusSignInDeps, q: StartQuery): Promise<LinkusSignInOutcome> {
  const pbxId = q.pbx ?? '';
  if (!/^[0-9a-f-]{36}$/i.test(pbxId))
    return refuse(deps, 'INVALID_REQUEST', 'no pbx, or not a PBX id', null, { pbx: pbxId.slice(0, 64) });
  const pbx = await deps.store.tenants.findPbx(pbxId);
  if (!pbx) return refuse(deps, 'INVALID_REQUEST', 'unknown PBX', null, { pbxId });
  const integration = await deps.store.integrations.get(pbxId);
  const clientRedirectUri = q.redirect_uri ?? '';
  if (!clientRedirectUri) return refuse(deps, 'INVALID_REQUEST', 'no redirect_uri', null, { pbxId });
  if (!isRegisteredRedirectUri(integration.linkusSsoRedirectUris, clientRedirectUri))
    return refuse(deps, 'REDIRECT_URI_NOT_REGISTERED', 'the redirect_uri is not a registered one', null, {
      pbxId,
      redirectUri: clientRedirectUri.slice(0, 300),
    });
  // From here on the client's redirect URI is known: refusals go back to it.
  const state = q.state ?? '';
  // A state too long to be the client's own is not echoed back.
  const back = {
    redirectUri: clientRedirectUri,
    state: state.length <= MAX_CLIENT_STATE_LENGTH ? q.state : undefined,
  };
  if (!state || state.length > MAX_CLIENT_STATE_LENGTH)
    return refuse(deps, 'INVALID_REQUEST', `state must be 1 to ${MAX_CLIENT_STATE_LENGTH} characters`, back, {
      pbxId,
    });
  if (q.code_challenge_method !== 'S256' || !isS256Challenge(q.code_challenge ?? ''))
    return refuse(
      deps,
      'INVALID_REQUEST',
      'PKCE is required: code_challenge (43 base64url characters) with code_challenge_method=S256',
      back,
      { pbxId },
    );
  const unavailable = ssoUnavailable(integration, integration.linkusSsoEnabled);
  if (unavailable) return refuse(deps, unavailable, `integration ${integration.status}`, back, { pbxId });
  const microsoftRedirectUri = redirectUris(pbx.publicBaseUrl ?? null).linkusSso[0];
  if (!microsoftRedirectUri)
    return refuse(deps, 'INTEGRATION_NOT_CONNECTED', 'the PBX has no public base URL', back, { pbxId });

  const app = appCredentials(integration, deps.secrets);
  const pkce = await deps.microsoft.generatePkce();
  const pending: PendingLinkusSignIn = {
    pbxId,
    clientRedirectUri,
    clientState: state,
    clientCodeChallenge: q.code_challenge as string,
    codeVerifier: pkce.verifier,
    nonce: random(24),
    microsoftRedirectUri,
  };
  const ourState = random(32);
  let location: string;
  try {
    location = await deps.microsoft.signInUrl(app, {
      redirectUri: microsoftRedirectUri,
      state: ourState,
      nonce: pending.nonce,
      codeChallenge: pkce.challenge,
    });
  } catch (err) {
    return refuse(deps, 'MICROSOFT_ERROR', (err as Error).message, back, { pbxId });
  }
  await deps.states.put(ourState, pending, LINKUS_SIGN_IN_TTL_SECONDS);
  return { kind: 'REDIRECT', location };
}

/** GET /linkus/sso/microsoft/callback: Microsoft's answer, checked, turned into a one-time code for the client. */
export async function completeLinkusSignIn(
  deps: LinkusSignInDeps,
  q: CallbackQuery,
): Promise<LinkusSignInOutcome> {
  const pending = q.state ? await deps.states.take(q.state) : null;
  if (!pending)
    return refuse(deps, 'INVALID_REQUEST', 'unknown, used or expired state on the Microsoft callback', null);
  const { pbxId } = pending;
  const back = { redirectUri: pending.clientRedirectUri, state: pending.clientState };
  // The PBX may have been deleted, or its settings changed, while the user was at Microsoft.
  if (!(await deps.store.tenants.findPbx(pbxId)))
    return refuse(deps, 'INVALID_REQUEST', 'the PBX was deleted meanwhile', null, { pbxId });
  const integration = await deps.store.integrations.get(pbxId);
  // The settings may have changed while the user was at Microsoft.
  if (!isRegisteredRedirectUri(integration.linkusSsoRedirectUris, pending.clientRedirectUri))
    return refuse(deps, 'REDIRECT_URI_NOT_REGISTERED', 'the redirect_uri was unregistered meanwhile', null, {
      pbxId,
    });
  if (q.error) {
    const said = firstLine(q.error_description) || q.error;
    return refuse(
      deps,
      microsoftRefusal(q.error, q.error_description),
      `Microsoft: ${q.error}: ${said}`,
      back,
      {
        pbxId,
      },
    );
  }
  const unavailable = ssoUnavailable(integration, integration.linkusSsoEnabled);
  if (unavailable) return refuse(deps, unavailable, `integration ${integration.status}`, back, { pbxId });
  if (!q.code) return refuse(deps, 'INVALID_REQUEST', 'Microsoft sent no code', back, { pbxId });

  const app = appCredentials(integration, deps.secrets);
  let idToken: string;
  try {
    idToken = await deps.microsoft.redeemSignIn(app, {
      code: q.code,
      redirectUri: pending.microsoftRedirectUri,
      codeVerifier: pending.codeVerifier,
      nonce: pending.nonce,
    });
  } catch (err) {
    const message = (err as Error).message;
    const code =
      err instanceof MicrosoftError && err.code === 'WRONG_TENANT'
        ? 'WRONG_DIRECTORY'
        : microsoftRefusal('redemption', message);
    return refuse(deps, code, `code redemption: ${message}`, back, { pbxId });
  }
  const checked = await deps.microsoft.verifyIdToken(idToken, {
    tenantId: app.tenantId,
    clientId: app.clientId,
    nonce: pending.nonce,
  });
  if (!checked.ok)
    return refuse(
      deps,
      checked.problem === 'TENANT'
        ? 'WRONG_DIRECTORY'
        : checked.problem === 'KEYS_UNAVAILABLE'
          ? 'MICROSOFT_ERROR'
          : 'ID_TOKEN_INVALID',
      checked.message,
      back,
      { pbxId, problem: checked.problem },
    );
  const user = checked.claims;
  const extension = await deps.store.directory.findSyncedExtensionByExternalId(pbxId, user.oid);
  if (!extension)
    return refuse(deps, 'USER_NOT_SYNCED', 'no synced extension for the signed-in user', back, {
      pbxId,
      oid: user.oid,
    });
  const code = await deps.codes.issue({
    pbxId,
    extensionId: extension.id,
    entraObjectId: user.oid,
    redirectUri: pending.clientRedirectUri,
    codeChallenge: pending.clientCodeChallenge,
    codeChallengeMethod: 'S256',
  });
  deps.log('info', 'linkus sign-in: code issued', { pbxId, extensionId: extension.id, oid: user.oid });
  return {
    kind: 'REDIRECT',
    location: withParams(pending.clientRedirectUri, { code, state: pending.clientState }),
  };
}
