import { randomBytes } from 'node:crypto';
import type { Caller } from '../domain/access.js';
import {
  type HealthCode,
  type HealthStatus,
  healthStatus,
  type IntegrationAction,
  type IntegrationState,
  IntegrationStatus,
  type IntegrationWarning,
  isGuid,
  redirectUris,
  refusal,
  type SyncTarget,
  secretWarnings,
} from '../domain/integration.js';
import {
  blockingPermissions,
  delegatedScopes,
  missingPermissions,
  type RequiredPermission,
} from '../domain/permissions.js';
import type { FieldProblem } from '../domain/tenant.js';
import { AppError } from './errors.js';
import type { LinkusSessions } from './linkus-sessions.js';
import type { AuthStateStore } from './ports/auth-state.port.js';
import type { EventPublisher } from './ports/events.port.js';
import type { AppLog } from './ports/log.port.js';
import {
  type MicrosoftAppCredentials,
  type MicrosoftDirectoryInfo,
  MicrosoftError,
  type MicrosoftIdentity,
  type TokenCacheIO,
} from './ports/microsoft.port.js';
import type { IntegrationData, Store } from './ports/store.port.js';
import type { SecretBox } from './secret-box.js';
import { Topic } from './topics.js';

/**
 * The delegated scopes of the connect sign-in (L2): exactly the delegated permissions the
 * gateway uses (src/domain/permissions.ts), and offline access. Its application permissions
 * come with admin consent, not with this sign-in.
 */
export const DELEGATED_SCOPES = delegatedScopes();
/** The scopes of a delegated token (no offline_access: that is for the refresh token). */
export const DELEGATED_TOKEN_SCOPES = DELEGATED_SCOPES.filter((s) => s !== 'offline_access');

/** How long a connect attempt waits for the admin to come back from Microsoft. */
export const AUTH_STATE_TTL_SECONDS = 10 * 60;

export interface IntegrationDeps {
  store: Store;
  identity: MicrosoftIdentity;
  directoryInfo: MicrosoftDirectoryInfo;
  authStates: AuthStateStore;
  events: EventPublisher;
  secrets: SecretBox;
  now: () => Date;
  log: AppLog;
  /** Removes what the integration holds at Microsoft (change subscriptions) before a disconnect. */
  beforeDisconnect: (pbxId: string) => Promise<void>;
  /** S4: a disable or disconnect ends the PBX's Linkus sessions; deleted extensions end theirs. */
  linkusSessions: Pick<LinkusSessions, 'revokeSessions' | 'afterDirectoryChange'>;
}

export interface IntegrationView {
  id: string;
  status: IntegrationStatus;
  clientId: string | null;
  tenantId: string | null;
  secretLast4: string | null;
  secretExpiresAt: Date | null;
  redirectUri: string | null;
  linkusSsoRedirectUris: string[];
  authorizationAccount: { username: string; name: string | null } | null;
  organizationName: string | null;
  directoryGroupCount: number | null;
  connectedAt: Date | null;
  userSyncPaused: boolean;
  contactSyncPaused: boolean;
  groupSyncPaused: boolean;
  warnings: IntegrationWarning[];
  lastError: { code: string; message: string; at: Date } | null;
  health: {
    status: HealthStatus;
    codes: HealthCode[];
    missingPermissions: string[];
    message: string | null;
    checkedAt: Date | null;
    lastHealthyAt: Date | null;
  };
}

const secretContext = (pbxId: string) => `client-secret:${pbxId}`;
const cacheContext = (pbxId: string) => `token-cache:${pbxId}`;

export function toView(i: IntegrationData, publicBaseUrl: string | null, now: Date): IntegrationView {
  const uris = redirectUris(publicBaseUrl);
  return {
    id: i.id,
    status: i.status,
    clientId: i.clientId,
    tenantId: i.tenantId,
    secretLast4: i.secretLast4,
    secretExpiresAt: i.secretExpiresAt,
    redirectUri: uris.connect,
    linkusSsoRedirectUris: uris.linkusSso,
    authorizationAccount: i.accountUsername ? { username: i.accountUsername, name: i.accountName } : null,
    organizationName: i.organizationName,
    directoryGroupCount: i.directoryGroupCount,
    connectedAt: i.connectedAt,
    userSyncPaused: i.userSyncPaused,
    contactSyncPaused: i.contactSyncPaused,
    groupSyncPaused: i.groupSyncPaused,
    warnings: i.status === IntegrationStatus.NOT_CONNECTED ? [] : secretWarnings(i.secretExpiresAt, now),
    lastError:
      i.lastErrorCode && i.lastErrorAt
        ? { code: i.lastErrorCode, message: i.lastErrorMessage ?? '', at: i.lastErrorAt }
        : null,
    health: connectedHealth(i),
  };
}

function connectedHealth(i: IntegrationData): IntegrationView['health'] {
  const connected = i.status === IntegrationStatus.CONNECTED || i.status === IntegrationStatus.DISABLED;
  const h = i.health;
  return {
    status: healthStatus(i.status, h.codes, h.checkedAt),
    codes: connected ? h.codes : [],
    missingPermissions: connected ? h.missingPermissions : [],
    message: connected ? h.message : null,
    checkedAt: connected ? h.checkedAt : null,
    lastHealthyAt: connected ? h.lastHealthyAt : null,
  };
}

/** "Group.Read.All (application)", as health and errors name a permission. */
export function permissionLabel(p: RequiredPermission): string {
  return `${p.name} (${p.type === 'APPLICATION' ? 'application' : 'delegated'})`;
}

/** The first line of a text Microsoft sent, without its trace lines or a trailing \r. */
export function firstLine(text: string | undefined): string {
  return ((text ?? '').split(/\r?\n/)[0] ?? '').trim();
}

export function assertAllowed(i: IntegrationState, action: IntegrationAction, target?: SyncTarget) {
  const why = refusal(i, action, target);
  if (why) throw new AppError('INVALID_STATE', why, { status: i.status });
}

/** Everything an integration keeps of a connection, cleared: nothing half-saved survives a failure. */
export const CLEARED_CONNECTION: Partial<IntegrationData> = {
  status: IntegrationStatus.NOT_CONNECTED,
  clientId: null,
  tenantId: null,
  secretSealed: null,
  secretLast4: null,
  secretExpiresAt: null,
  tokenCacheSealed: null,
  accountUsername: null,
  accountName: null,
  accountOid: null,
  accountHomeId: null,
  organizationId: null,
  organizationName: null,
  directoryGroupCount: null,
  connectedAt: null,
  userSyncPaused: false,
  contactSyncPaused: false,
  groupSyncPaused: false,
  warnings: null,
  warningsCheckedAt: null,
  connectAttempt: null,
  // S1: SSO signs in against the connected directory; without one it is off (the Linkus
  // clients' redirect URIs are kept).
  linkusSsoEnabled: false,
};

async function publicBaseUrl(store: Store, pbxId: string) {
  return (await store.tenants.findPbx(pbxId))?.publicBaseUrl ?? null;
}

export async function getIntegrationView(deps: Pick<IntegrationDeps, 'store' | 'now'>, caller: Caller) {
  const i = await deps.store.integrations.get(caller.pbxId);
  return toView(i, await publicBaseUrl(deps.store, caller.pbxId), deps.now());
}

export async function publishChange(
  deps: Pick<IntegrationDeps, 'store' | 'events' | 'now'>,
  pbxId: string,
  i: IntegrationData,
) {
  deps.events.publish(
    Topic.integrationChanged(pbxId),
    toView(i, await publicBaseUrl(deps.store, pbxId), deps.now()),
  );
}

/** The stored app credentials, opened. */
export function appCredentials(i: IntegrationData, secrets: SecretBox): MicrosoftAppCredentials {
  if (!i.clientId || !i.tenantId || !i.secretSealed) {
    throw new AppError('INVALID_STATE', 'The integration has no app registration.');
  }
  return {
    clientId: i.clientId,
    tenantId: i.tenantId,
    clientSecret: secrets.open(i.secretSealed, secretContext(i.pbxId)),
  };
}

/** msal-node's token cache for one PBX, read from and written to the integration row, sealed. */
export function tokenCacheOf(store: Store, secrets: SecretBox, pbxId: string): TokenCacheIO {
  return {
    async load() {
      const i = await store.integrations.get(pbxId);
      return i.tokenCacheSealed ? secrets.open(i.tokenCacheSealed, cacheContext(pbxId)) : null;
    },
    async save(serialized) {
      await store.integrations.update(pbxId, {
        tokenCacheSealed: secrets.seal(serialized, cacheContext(pbxId)),
      });
    },
  };
}

function secretProblems(secret: string, expiresAt: Date | null | undefined, _now: Date): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (!secret || secret.trim() !== secret || secret.length < 8 || secret.length > 256) {
    problems.push({
      field: 'clientSecret',
      message: 'must be the secret value (8 to 256 characters, no blanks around it)',
    });
  }
  if (expiresAt && Number.isNaN(expiresAt.getTime())) {
    problems.push({ field: 'secretExpiresAt', message: 'must be a date' });
  }
  return problems;
}

/** Maps an identity failure met while checking credentials to the connect error codes (L2, L3). */
function credentialError(err: unknown, field: 'clientSecret' | 'secret'): AppError {
  if (!(err instanceof MicrosoftError)) throw err;
  switch (err.code) {
    case 'INVALID_CLIENT':
      return new AppError(
        'INVALID_CLIENT',
        `Microsoft does not know this application (client) ID in this directory: ${err.message}`,
        { field: 'clientId' },
      );
    case 'INVALID_SECRET':
      return new AppError('INVALID_SECRET', `Microsoft refused the client secret: ${err.message}`, { field });
    case 'SECRET_EXPIRED':
      return new AppError('SECRET_EXPIRED', `The client secret has expired: ${err.message}`, { field });
    case 'TENANT_NOT_FOUND':
      return new AppError(
        'INVALID_INPUT',
        `Microsoft does not know this directory (tenant) ID: ${err.message}`,
        { field: 'tenantId' },
      );
    default:
      return new AppError(
        'UNAVAILABLE',
        `Could not reach Microsoft to check the credentials: ${err.message}`,
      );
  }
}

export interface ConnectInput {
  clientId: string;
  tenantId: string;
  clientSecret: string;
  secretExpiresAt?: Date | null;
  /**
   * true (default): when the app's application permissions have no admin consent yet, the
   * sign-in journey goes on to Microsoft's admin consent. false: they were granted in Entra ID
   * beforehand; missing ones fail at once with MISSING_PERMISSIONS.
   */
  adminConsent?: boolean | null;
}

/**
 * The application permissions connect cannot go without that the app lacks now (a new
 * client-credentials token's roles). One optional feature's (Presence.Read.All) are left to the
 * health, which names them: connect does not fail for them.
 */
async function missingAppPermissions(
  deps: Pick<IntegrationDeps, 'identity'>,
  app: MicrosoftAppCredentials,
): Promise<RequiredPermission[]> {
  return blockingPermissions(missingPermissions('APPLICATION', await deps.identity.appPermissions(app)));
}

function missingPermissionsMessage(missing: readonly RequiredPermission[], afterConsent: boolean): string {
  const names = missing.map(permissionLabel).join(', ');
  return afterConsent
    ? `Admin consent was granted, but the app registration does not ask for ${names}: add ${missing.length > 1 ? 'them' : 'it'} in Entra ID (App registrations → API permissions → Add a permission → Microsoft Graph → Application permissions), then connect again.`
    : `The app has no admin consent for ${names}. Connect with adminConsent (the default) so that an administrator grants it in the same sign-in, or grant admin consent in Entra ID (App registrations → API permissions) first.`;
}

/**
 * L2, first half: checks the IDs and the secret, stores them (sealed), and returns the URL
 * that sends the admin to Microsoft to sign in. When the callback finds application
 * permissions without admin consent, the same journey continues at Microsoft's admin consent
 * (or, with `adminConsent: false`, connect fails here with MISSING_PERMISSIONS).
 */
export async function connect(deps: IntegrationDeps, caller: Caller, input: ConnectInput) {
  const now = deps.now();
  const problems: FieldProblem[] = [];
  if (!isGuid(input.clientId))
    problems.push({ field: 'clientId', message: 'must be a GUID (Application (client) ID)' });
  if (!isGuid(input.tenantId))
    problems.push({ field: 'tenantId', message: 'must be a GUID (Directory (tenant) ID)' });
  problems.push(...secretProblems(input.clientSecret, input.secretExpiresAt, now));
  if (problems.length) throw AppError.invalidInput(problems);

  const current = await deps.store.integrations.get(caller.pbxId);
  assertAllowed(current, 'CONNECT');
  const pbx = await deps.store.tenants.findPbx(caller.pbxId);
  const redirectUri = redirectUris(pbx?.publicBaseUrl ?? null).connect;
  if (!redirectUri) {
    throw new AppError(
      'INVALID_STATE',
      "Set the PBX's public base URL first: the redirect URI is built from it (L1).",
      {
        field: 'publicBaseUrl',
      },
    );
  }
  if (input.secretExpiresAt && input.secretExpiresAt.getTime() <= now.getTime()) {
    throw new AppError(
      'SECRET_EXPIRED',
      'The client secret has already expired (secretExpiresAt is in the past).',
      {
        field: 'secretExpiresAt',
      },
    );
  }
  const app: MicrosoftAppCredentials = {
    clientId: input.clientId.toLowerCase(),
    tenantId: input.tenantId.toLowerCase(),
    clientSecret: input.clientSecret,
  };
  const adminConsent = input.adminConsent ?? true;
  try {
    await deps.identity.verifyAppCredentials(app);
  } catch (err) {
    throw credentialError(err, 'clientSecret');
  }
  if (!adminConsent) {
    let missing: RequiredPermission[];
    try {
      missing = await missingAppPermissions(deps, app);
    } catch (err) {
      throw credentialError(err, 'clientSecret');
    }
    if (missing.length) {
      throw new AppError('MISSING_PERMISSIONS', missingPermissionsMessage(missing, false), {
        missing: missing.map((p) => p.name),
      });
    }
  }

  const pkce = await deps.identity.generatePkce();
  const state = randomBytes(24).toString('base64url');
  const attempt = randomBytes(8).toString('hex');
  const authorizationUrl = await deps.identity.authorizationUrl(app, {
    redirectUri,
    state,
    codeChallenge: pkce.challenge,
    scopes: DELEGATED_SCOPES,
  });
  const saved = await deps.store.transactional((tx) =>
    tx.integrations.update(caller.pbxId, {
      ...CLEARED_CONNECTION,
      status: IntegrationStatus.AWAITING_CONSENT,
      clientId: app.clientId,
      tenantId: app.tenantId,
      secretSealed: deps.secrets.seal(app.clientSecret, secretContext(caller.pbxId)),
      secretLast4: app.clientSecret.slice(-4),
      secretExpiresAt: input.secretExpiresAt ?? null,
      lastErrorCode: null,
      lastErrorMessage: null,
      lastErrorAt: null,
      connectAttempt: attempt,
    }),
  );
  await deps.authStates.put(
    state,
    {
      pbxId: caller.pbxId,
      codeVerifier: pkce.verifier,
      redirectUri,
      attempt,
      purpose: 'CONNECT',
      step: 'SIGN_IN',
      adminConsent,
    },
    AUTH_STATE_TTL_SECONDS,
  );
  await publishChange(deps, caller.pbxId, saved);
  return { authorizationUrl, integration: toView(saved, pbx?.publicBaseUrl ?? null, now) };
}

/**
 * Renews the consent of a connected (or disabled) integration without disconnecting it: a new
 * sign-in of an administrator (which replaces the authorization account and its refresh token),
 * and admin consent when application permissions are missing. Until the admin comes back, the
 * integration keeps working as it does; a failed or abandoned reconsent changes nothing.
 */
export async function reconsent(deps: IntegrationDeps, caller: Caller) {
  const now = deps.now();
  const current = await deps.store.integrations.get(caller.pbxId);
  assertAllowed(current, 'RECONSENT');
  const pbx = await deps.store.tenants.findPbx(caller.pbxId);
  const redirectUri = redirectUris(pbx?.publicBaseUrl ?? null).connect;
  if (!redirectUri) {
    throw new AppError(
      'INVALID_STATE',
      "Set the PBX's public base URL first: the redirect URI is built from it (L1).",
      {
        field: 'publicBaseUrl',
      },
    );
  }
  const app = appCredentials(current, deps.secrets);
  const pkce = await deps.identity.generatePkce();
  const state = randomBytes(24).toString('base64url');
  const attempt = randomBytes(8).toString('hex');
  const authorizationUrl = await deps.identity.authorizationUrl(app, {
    redirectUri,
    state,
    codeChallenge: pkce.challenge,
    scopes: DELEGATED_SCOPES,
    // Consent again even where it still stands: the admin sees what is asked for.
    prompt: 'consent',
  });
  const saved = await deps.store.integrations.update(caller.pbxId, { connectAttempt: attempt });
  await deps.authStates.put(
    state,
    {
      pbxId: caller.pbxId,
      codeVerifier: pkce.verifier,
      redirectUri,
      attempt,
      purpose: 'RECONSENT',
      step: 'SIGN_IN',
      adminConsent: true,
    },
    AUTH_STATE_TTL_SECONDS,
  );
  return { authorizationUrl, integration: toView(saved, pbx?.publicBaseUrl ?? null, now) };
}

export interface CallbackQuery {
  state?: string;
  code?: string;
  error?: string;
  error_description?: string;
  /** The admin consent endpoint's answer (`True`), with the directory that granted it. */
  admin_consent?: string;
  tenant?: string;
}

export type CallbackOutcome =
  | { kind: 'DONE'; result: 'CONNECTED' | 'RECONSENTED'; pbxId: string; account: string }
  /** The journey goes on at Microsoft (admin consent). */
  | { kind: 'REDIRECT'; pbxId: string; location: string }
  | { kind: 'FAILED'; code: string; message: string; pbxId?: string };

/** Records a failed connect: the connection goes back to NOT_CONNECTED, with the reason. */
async function failConnect(
  deps: IntegrationDeps,
  pbxId: string,
  code: string,
  message: string,
): Promise<CallbackOutcome> {
  const saved = await deps.store.transactional((tx) =>
    tx.integrations.update(pbxId, {
      ...CLEARED_CONNECTION,
      lastErrorCode: code,
      lastErrorMessage: message.slice(0, 1000),
      lastErrorAt: deps.now(),
    }),
  );
  await publishChange(deps, pbxId, saved);
  return { kind: 'FAILED', code, message, pbxId };
}

/** A failed reconsent: the integration stays as it was; the reason is recorded as its last error. */
async function failReconsent(
  deps: IntegrationDeps,
  pbxId: string,
  code: string,
  message: string,
): Promise<CallbackOutcome> {
  const saved = await deps.store.integrations.update(pbxId, {
    connectAttempt: null,
    lastErrorCode: code,
    lastErrorMessage: message.slice(0, 1000),
    lastErrorAt: deps.now(),
  });
  await publishChange(deps, pbxId, saved);
  return { kind: 'FAILED', code, message, pbxId };
}

/** Maps a failed redemption of the sign-in's code to its code and message. */
function redemptionFailure(err: unknown, tenantId: string): { code: string; message: string } {
  const e = err instanceof MicrosoftError ? err : null;
  if (e?.code === 'WRONG_TENANT') {
    return {
      code: 'TENANT_MISMATCH',
      message: `The sign-in was made in another directory than the configured tenant ${tenantId}; sign in with an administrator of that tenant. Microsoft said: ${e.message}`,
    };
  }
  const code =
    e?.code === 'SECRET_EXPIRED'
      ? 'SECRET_EXPIRED'
      : e?.code === 'INVALID_SECRET'
        ? 'INVALID_SECRET'
        : 'SIGN_IN_FAILED';
  return { code, message: `Microsoft did not accept the sign-in: ${(err as Error).message}` };
}

/**
 * L2, second half: Microsoft sends the admin's browser back here, once with the sign-in's code
 * (or an error), and, when the app's application permissions had no admin consent yet, once
 * more from the admin consent endpoint (`admin_consent=True`, or an error). The sign-in's
 * account and token cache are kept (sealed) while the journey goes on; the end is CONNECTED
 * with the initial data read, or NOT_CONNECTED with its reason recorded and nothing half-saved.
 * A reconsent (purpose RECONSENT) takes the same path but never disconnects.
 */
export async function completeConnect(deps: IntegrationDeps, query: CallbackQuery): Promise<CallbackOutcome> {
  const pending = query.state ? await deps.authStates.take(query.state) : null;
  if (!pending) {
    return {
      kind: 'FAILED',
      code: 'STATE_INVALID',
      message:
        'This sign-in link is unknown, was already used, or has expired. Start the connection again from the PBX portal.',
    };
  }
  const { pbxId } = pending;
  const purpose = pending.purpose ?? 'CONNECT';
  const step = pending.step ?? 'SIGN_IN';
  const current = await deps.store.integrations.get(pbxId);
  const expected =
    purpose === 'CONNECT'
      ? current.status === IntegrationStatus.AWAITING_CONSENT
      : current.status === IntegrationStatus.CONNECTED || current.status === IntegrationStatus.DISABLED;
  if (!expected || current.connectAttempt !== pending.attempt) {
    return {
      kind: 'FAILED',
      code: 'STATE_INVALID',
      message: 'This sign-in belongs to an older connection attempt.',
      pbxId,
    };
  }
  const fail = (code: string, message: string) =>
    purpose === 'CONNECT'
      ? failConnect(deps, pbxId, code, message)
      : failReconsent(deps, pbxId, code, message);
  const app = appCredentials(current, deps.secrets);

  if (query.error) {
    const denied = query.error === 'access_denied' || query.error === 'consent_required';
    const said = firstLine(query.error_description) || query.error;
    if (step === 'ADMIN_CONSENT') {
      const missing = await missingAppPermissions(deps, app).catch(() => [] as RequiredPermission[]);
      const names = missing.map(permissionLabel).join(', ');
      return fail(
        denied ? 'CONSENT_DENIED' : 'SIGN_IN_FAILED',
        `Admin consent was not granted${names ? `, so the app lacks ${names}` : ''}. Sign in with a Global Administrator (or Privileged Role Administrator) and accept. Microsoft said: ${said}`,
      );
    }
    return fail(
      denied ? 'CONSENT_DENIED' : 'SIGN_IN_FAILED',
      denied ? `Consent was refused: ${said}` : `Microsoft sign-in failed: ${query.error}: ${said}`,
    );
  }

  let account = { username: current.accountUsername ?? '', homeAccountId: current.accountHomeId ?? '' };
  if (step === 'SIGN_IN') {
    if (!query.code) return fail('SIGN_IN_FAILED', 'Microsoft sent no authorization code.');
    let serializedCache: string | null = null;
    const memoryCache: TokenCacheIO = {
      load: async () => serializedCache,
      save: async (s) => {
        serializedCache = s;
      },
    };
    let signedIn: Awaited<ReturnType<MicrosoftIdentity['redeemCode']>>;
    try {
      signedIn = await deps.identity.redeemCode(
        app,
        {
          code: query.code,
          redirectUri: pending.redirectUri,
          codeVerifier: pending.codeVerifier,
          scopes: DELEGATED_SCOPES,
        },
        memoryCache,
      );
    } catch (err) {
      const f = redemptionFailure(err, app.tenantId);
      return fail(f.code, f.message);
    }
    if (signedIn.tenantId.toLowerCase() !== app.tenantId) {
      return fail(
        'TENANT_MISMATCH',
        `The account ${signedIn.username} signed in to directory ${signedIn.tenantId}, not the configured ${app.tenantId}.`,
      );
    }
    // The sign-in is kept while the journey goes on (a failed connect clears it again).
    await deps.store.integrations.update(pbxId, {
      accountUsername: signedIn.username,
      accountName: signedIn.name,
      accountOid: signedIn.oid,
      accountHomeId: signedIn.homeAccountId,
      tokenCacheSealed: serializedCache ? deps.secrets.seal(serializedCache, cacheContext(pbxId)) : null,
    });
    account = { username: signedIn.username, homeAccountId: signedIn.homeAccountId };
  } else if (query.admin_consent?.toLowerCase() !== 'true') {
    return fail('SIGN_IN_FAILED', 'Microsoft sent no admin consent answer.');
  }

  // The application permissions, from a new app token (never trust the `tenant` of the
  // admin consent answer: https://learn.microsoft.com/entra/identity-platform/v2-admin-consent).
  let missing: RequiredPermission[];
  try {
    missing = await missingAppPermissions(deps, app);
  } catch (err) {
    const e = credentialError(err, 'clientSecret');
    return fail(e.code, e.message);
  }
  if (missing.length) {
    if (step === 'SIGN_IN' && pending.adminConsent !== false) {
      const state = randomBytes(24).toString('base64url');
      await deps.authStates.put(
        state,
        { ...pending, codeVerifier: '', step: 'ADMIN_CONSENT' },
        AUTH_STATE_TTL_SECONDS,
      );
      return {
        kind: 'REDIRECT',
        pbxId,
        location: deps.identity.adminConsentUrl(app, { redirectUri: pending.redirectUri, state }),
      };
    }
    return fail('MISSING_PERMISSIONS', missingPermissionsMessage(missing, step === 'ADMIN_CONSENT'));
  }

  const now = deps.now();
  if (purpose === 'RECONSENT') {
    await deps.store.integrations.update(pbxId, {
      connectAttempt: null,
      lastErrorCode: null,
      lastErrorMessage: null,
      lastErrorAt: null,
    });
    await recordHealthy(deps, pbxId, now);
    await publishChange(deps, pbxId, await deps.store.integrations.get(pbxId));
    return { kind: 'DONE', result: 'RECONSENTED', pbxId, account: account.username };
  }

  let organization: Awaited<ReturnType<MicrosoftDirectoryInfo['organization']>>;
  let groupCount: number;
  try {
    const delegated = await deps.identity.delegatedToken(
      app,
      { homeAccountId: account.homeAccountId },
      DELEGATED_TOKEN_SCOPES,
      tokenCacheOf(deps.store, deps.secrets, pbxId),
    );
    [organization, groupCount] = await Promise.all([
      deps.directoryInfo.organization(delegated.accessToken),
      deps.directoryInfo.countGroups(app),
    ]);
  } catch (err) {
    const code =
      err instanceof MicrosoftError && err.code === 'CONSENT_REQUIRED'
        ? 'CONSENT_DENIED'
        : 'INITIALIZATION_FAILED';
    return fail(code, `Data initialization failed: ${(err as Error).message}`);
  }
  await deps.store.transactional((tx) =>
    tx.integrations.update(pbxId, {
      status: IntegrationStatus.CONNECTED,
      organizationId: organization.id,
      organizationName: organization.displayName,
      directoryGroupCount: groupCount,
      connectedAt: now,
      connectAttempt: null,
      warnings: null,
      lastErrorCode: null,
      lastErrorMessage: null,
      lastErrorAt: null,
    }),
  );
  await recordHealthy(deps, pbxId, now);
  await publishChange(deps, pbxId, await deps.store.integrations.get(pbxId));
  return { kind: 'DONE', result: 'CONNECTED', pbxId, account: account.username };
}

/** A check that found nothing wrong (the connect or reconsent just proved every access). */
async function recordHealthy(deps: Pick<IntegrationDeps, 'store'>, pbxId: string, now: Date) {
  await deps.store.integrations.recordHealth(pbxId, {
    codes: [],
    missingPermissions: [],
    message: null,
    checkedAt: now,
    lastHealthyAt: now,
  });
}

/** L3: a new secret is proven against the token endpoint before it replaces the old one. */
export async function updateSecret(
  deps: IntegrationDeps,
  caller: Caller,
  secret: string,
  expiresAt: Date | null,
) {
  const now = deps.now();
  const problems = secretProblems(secret, expiresAt, now).map((p) => ({
    ...p,
    field: p.field === 'clientSecret' ? 'secret' : 'expiresAt',
  }));
  if (problems.length) throw AppError.invalidInput(problems);
  const current = await deps.store.integrations.get(caller.pbxId);
  assertAllowed(current, 'UPDATE_SECRET');
  if (expiresAt && expiresAt.getTime() <= now.getTime()) {
    throw new AppError('SECRET_EXPIRED', 'The new secret has already expired (expiresAt is in the past).', {
      field: 'expiresAt',
    });
  }
  const app = { ...appCredentials(current, deps.secrets), clientSecret: secret };
  try {
    await deps.identity.verifyAppCredentials(app);
  } catch (err) {
    throw credentialError(err, 'secret');
  }
  const saved = await deps.store.transactional((tx) =>
    tx.integrations.update(caller.pbxId, {
      secretSealed: deps.secrets.seal(secret, secretContext(caller.pbxId)),
      secretLast4: secret.slice(-4),
      secretExpiresAt: expiresAt,
      warnings: secretWarnings(expiresAt, now).join(',') || null,
      warningsCheckedAt: now,
    }),
  );
  await publishChange(deps, caller.pbxId, saved);
  return toView(saved, await publicBaseUrl(deps.store, caller.pbxId), now);
}

/** L3: the daily check of every PBX's secret expiry; records the warnings it finds. */
export async function checkSecretExpiry(deps: Pick<IntegrationDeps, 'store' | 'now'>) {
  const now = deps.now();
  const found: Array<{ pbxId: string; warnings: IntegrationWarning[] }> = [];
  for (const i of await deps.store.integrations.listAll()) {
    if (i.status === IntegrationStatus.NOT_CONNECTED) continue;
    const warnings = secretWarnings(i.secretExpiresAt, now);
    await deps.store.integrations.update(i.pbxId, {
      warnings: warnings.join(',') || null,
      warningsCheckedAt: now,
    });
    if (warnings.length) found.push({ pbxId: i.pbxId, warnings });
  }
  return found;
}
