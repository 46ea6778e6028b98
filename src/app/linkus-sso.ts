import type { Caller } from '../domain/access.js';
import { IntegrationStatus, redirectUris } from '../domain/integration.js';
import { ssoSettingsRefusal, validateLinkusRedirectUris } from '../domain/linkus-sso.js';
import { AppError } from './errors.js';
import type { LinkusWebOrigins } from './linkus-web-origins.js';
import type { Store } from './ports/store.port.js';

/** Where a Linkus client starts a sign-in with Microsoft (S2). */
export const LINKUS_SSO_START_PATH = '/linkus/sso/microsoft/start';

/** S1: single sign-on for Linkus, as the PBX portal shows it. */
export interface LinkusSsoView {
  enabled: boolean;
  /**
   * L1: the Linkus Web Client SSO redirect URI: the gateway's callback, where Microsoft sends the
   * user back. The admin adds it to the app registration in Entra ID (Authentication → Web →
   * Redirect URIs); Microsoft refuses a sign-in to an unregistered one (AADSTS50011).
   */
  microsoftRedirectUri: string | null;
  /** Where a Linkus client sends the browser to sign in (with pbx, redirect_uri, state, code_challenge). */
  startUrl: string | null;
  /** The registered redirect URIs of the Linkus clients (web client, mobile apps). */
  redirectUris: string[];
  integrationStatus: IntegrationStatus;
}

export interface LinkusSsoInput {
  enabled: boolean;
  redirectUris: string[];
}

async function view(store: Store, pbxId: string): Promise<LinkusSsoView> {
  const [i, pbx] = await Promise.all([store.integrations.get(pbxId), store.tenants.findPbx(pbxId)]);
  const base = pbx?.publicBaseUrl?.replace(/\/+$/, '') ?? null;
  const start = base ? new URL(`${base}${LINKUS_SSO_START_PATH}`) : null;
  start?.searchParams.set('pbx', pbxId);
  return {
    enabled: i.linkusSsoEnabled,
    microsoftRedirectUri: redirectUris(base).linkusSso[0] ?? null,
    startUrl: start?.toString() ?? null,
    redirectUris: i.linkusSsoRedirectUris,
    integrationStatus: i.status,
  };
}

export function getLinkusSso(deps: { store: Store }, caller: Caller): Promise<LinkusSsoView> {
  return view(deps.store, caller.pbxId);
}

/**
 * S1: turns SSO for Linkus on or off and registers the Linkus clients' redirect URIs. Only a
 * connected integration can: Linkus signs in against its directory (INTEGRATION_NOT_CONNECTED,
 * INTEGRATION_DISABLED otherwise). Turning it on needs at least one redirect URI.
 */
export async function saveLinkusSso(
  deps: { store: Store; webOrigins?: Pick<LinkusWebOrigins, 'forget'> },
  caller: Caller,
  input: LinkusSsoInput,
): Promise<LinkusSsoView> {
  const problems = validateLinkusRedirectUris(input.redirectUris);
  if (input.enabled && input.redirectUris.length === 0)
    problems.push({
      field: 'redirectUris',
      message: 'SSO needs the redirect URI of at least one Linkus client (web client or mobile app)',
    });
  if (problems.length) throw AppError.invalidInput(problems);
  await deps.store.transactional(async (tx) => {
    const i = await tx.integrations.get(caller.pbxId);
    const why = ssoSettingsRefusal(i.status);
    if (why) throw new AppError(why.code, why.message, { status: i.status });
    await tx.integrations.update(caller.pbxId, {
      linkusSsoEnabled: input.enabled,
      linkusSsoRedirectUris: [...input.redirectUris],
    });
  });
  deps.webOrigins?.forget();
  return view(deps.store, caller.pbxId);
}
