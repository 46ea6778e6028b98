import { randomBytes } from 'node:crypto';
import type { Caller } from '../domain/access.js';
import {
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
import type { FieldProblem } from '../domain/tenant.js';
import { AppError } from './errors.js';
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

/** Delegated permissions the admin consents to for the organisation (L2), plus offline access. */
export const DELEGATED_SCOPES = [
  'https://graph.microsoft.com/User.Read.All',
  'https://graph.microsoft.com/Group.Read.All',
  'https://graph.microsoft.com/Contacts.Read',
  'https://graph.microsoft.com/Contacts.Read.Shared',
  'https://graph.microsoft.com/Presence.Read.All',
  'offline_access',
];

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
  groupSyncPaused: boolean;
  warnings: IntegrationWarning[];
  lastError: { code: string; message: string; at: Date } | null;
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
    groupSyncPaused: i.groupSyncPaused,
    warnings: i.status === IntegrationStatus.NOT_CONNECTED ? [] : secretWarnings(i.secretExpiresAt, now),
    lastError:
      i.lastErrorCode && i.lastErrorAt
        ? { code: i.lastErrorCode, message: i.lastErrorMessage ?? '', at: i.lastErrorAt }
        : null,
  };
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
  groupSyncPaused: false,
  warnings: null,
  warningsCheckedAt: null,
  connectAttempt: null,
};

async function publicBaseUrl(store: Store, pbxId: string) {
  return (await store.tenants.findPbx(pbxId))?.publicBaseUrl ?? null;
}

export async function getIntegrationView(deps: Pick<IntegrationDeps, 'store' | 'now'>, caller: Caller) {
  const i = await deps.store.integrations.get(caller.pbxId);
  return toView(i, await publicBaseUrl(deps.store, caller.pbxId), deps.now());
}

async function publishChange(deps: IntegrationDeps, pbxId: string, i: IntegrationData) {
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
}

/**
 * L2, first half: checks the IDs and the secret, stores them (sealed), and returns the URL
 * that sends the admin to Microsoft to sign in and consent for the organisation.
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
  try {
    await deps.identity.verifyAppCredentials(app);
  } catch (err) {
    throw credentialError(err, 'clientSecret');
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
    { pbxId: caller.pbxId, codeVerifier: pkce.verifier, redirectUri, attempt },
    AUTH_STATE_TTL_SECONDS,
  );
  await publishChange(deps, caller.pbxId, saved);
  return { authorizationUrl, integration: toView(saved, pbx?.publicBaseUrl ?? null, now) };
}

export interface CallbackQuery {
  state?: string;
  code?: string;
  error?: string;
  error_description?: string;
}

export type CallbackOutcome =
  | { ok: true; pbxId: string; account: string }
  | { ok: false; code: string; message: string; pbxId?: string };

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
      lastErrorMessage: message,
      lastErrorAt: deps.now(),
    }),
  );
  await publishChange(deps, pbxId, saved);
  return { ok: false, code, message, pbxId };
}

/**
 * L2, second half: Microsoft sends the admin's browser back here with a code (or an error).
 * Redeems the code, checks the tenant, stores the authorization account and token cache,
 * runs the data initialization, and ends CONNECTED; any failure ends NOT_CONNECTED with
 * its reason recorded, and nothing half-saved.
 */
export async function completeConnect(deps: IntegrationDeps, query: CallbackQuery): Promise<CallbackOutcome> {
  const pending = query.state ? await deps.authStates.take(query.state) : null;
  if (!pending) {
    return {
      ok: false,
      code: 'STATE_INVALID',
      message:
        'This sign-in link is unknown, was already used, or has expired. Start the connection again from the PBX portal.',
    };
  }
  const { pbxId } = pending;
  const current = await deps.store.integrations.get(pbxId);
  if (current.status !== IntegrationStatus.AWAITING_CONSENT || current.connectAttempt !== pending.attempt) {
    return {
      ok: false,
      code: 'STATE_INVALID',
      message: 'This sign-in belongs to an older connection attempt.',
      pbxId,
    };
  }
  if (query.error) {
    const denied = query.error === 'access_denied' || query.error === 'consent_required';
    return failConnect(
      deps,
      pbxId,
      denied ? 'CONSENT_DENIED' : 'SIGN_IN_FAILED',
      denied
        ? `Consent was refused: ${query.error_description ?? query.error}`
        : `Microsoft sign-in failed: ${query.error}: ${query.error_description ?? ''}`.trim(),
    );
  }
  if (!query.code) return failConnect(deps, pbxId, 'SIGN_IN_FAILED', 'Microsoft sent no authorization code.');

  const app = appCredentials(current, deps.secrets);
  let serializedCache: string | null = null;
  const memoryCache: TokenCacheIO = {
    load: async () => serializedCache,
    save: async (s) => {
      serializedCache = s;
    },
  };
  let account: Awaited<ReturnType<MicrosoftIdentity['redeemCode']>>;
  try {
    account = await deps.identity.redeemCode(
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
    const e = err instanceof MicrosoftError ? err : null;
    if (e?.code === 'WRONG_TENANT') {
      return failConnect(
        deps,
        pbxId,
        'TENANT_MISMATCH',
        `The sign-in was made in another directory than the configured tenant ${app.tenantId}; sign in with an administrator of that tenant. Microsoft said: ${e.message}`,
      );
    }
    const code =
      e?.code === 'SECRET_EXPIRED'
        ? 'SECRET_EXPIRED'
        : e?.code === 'INVALID_SECRET'
          ? 'INVALID_SECRET'
          : 'SIGN_IN_FAILED';
    return failConnect(deps, pbxId, code, `Microsoft did not accept the sign-in: ${(err as Error).message}`);
  }
  if (account.tenantId.toLowerCase() !== app.tenantId) {
    return failConnect(
      deps,
      pbxId,
      'TENANT_MISMATCH',
      `The account ${account.username} signed in to directory ${account.tenantId}, not the configured ${app.tenantId}.`,
    );
  }
  let organization: Awaited<ReturnType<MicrosoftDirectoryInfo['organization']>>;
  let groupCount: number;
  try {
    [organization, groupCount] = await Promise.all([
      deps.directoryInfo.organization(app),
      deps.directoryInfo.countGroups(app),
    ]);
  } catch (err) {
    const code =
      err instanceof MicrosoftError && err.code === 'CONSENT_REQUIRED'
        ? 'CONSENT_DENIED'
        : 'INITIALIZATION_FAILED';
    return failConnect(deps, pbxId, code, `Data initialization failed: ${(err as Error).message}`);
  }
  const saved = await deps.store.transactional((tx) =>
    tx.integrations.update(pbxId, {
      status: IntegrationStatus.CONNECTED,
      accountUsername: account.username,
      accountName: account.name,
      accountOid: account.oid,
      accountHomeId: account.homeAccountId,
      tokenCacheSealed: serializedCache ? deps.secrets.seal(serializedCache, cacheContext(pbxId)) : null,
      organizationId: organization.id,
      organizationName: organization.displayName,
      directoryGroupCount: groupCount,
      connectedAt: deps.now(),
      connectAttempt: null,
      warnings: null,
      lastErrorCode: null,
      lastErrorMessage: null,
      lastErrorAt: null,
    }),
  );
  await publishChange(deps, pbxId, saved);
  return { ok: true, pbxId, account: account.username };
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

/** A live check of the app's and the authorization account's access (the portal's "Test connection"). */
export async function checkConnection(deps: IntegrationDeps, caller: Caller) {
  const i = await deps.store.integrations.get(caller.pbxId);
  if (i.status === IntegrationStatus.NOT_CONNECTED || i.status === IntegrationStatus.AWAITING_CONSENT) {
    throw new AppError('INVALID_STATE', 'Connect the integration first.');
  }
  const app = appCredentials(i, deps.secrets);
  const problems: string[] = [];
  let appAccess = false;
  let delegatedAccess = false;
  let delegatedAs: string | null = null;
  try {
    await deps.identity.verifyAppCredentials(app);
    appAccess = true;
  } catch (err) {
    problems.push(`App access: ${(err as Error).message}`);
  }
  if (i.accountHomeId) {
    try {
      const token = await deps.identity.delegatedToken(
        app,
        { homeAccountId: i.accountHomeId },
        DELEGATED_SCOPES.filter((s) => s !== 'offline_access'),
        tokenCacheOf(deps.store, deps.secrets, caller.pbxId),
      );
      delegatedAs = (await deps.directoryInfo.whoAmI(token)).userPrincipalName;
      delegatedAccess = true;
    } catch (err) {
      problems.push(`Delegated access (${i.accountUsername}): ${(err as Error).message}`);
    }
  } else {
    problems.push('No authorization account: connect again.');
  }
  return { appAccess, delegatedAccess, delegatedAs, problems };
}

/**
 * Re-seals every stored secret (client secrets, token caches) under `next`, in one
 * transaction: either every row moves to the new key or none does.
 */
export async function resealSecrets(store: Store, current: SecretBox, next: SecretBox): Promise<number> {
  return store.transactional(async (tx) => {
    let count = 0;
    for (const i of await tx.integrations.listAll()) {
      const patch: Partial<IntegrationData> = {};
      if (i.secretSealed) {
        patch.secretSealed = next.seal(
          current.open(i.secretSealed, secretContext(i.pbxId)),
          secretContext(i.pbxId),
        );
      }
      if (i.tokenCacheSealed) {
        patch.tokenCacheSealed = next.seal(
          current.open(i.tokenCacheSealed, cacheContext(i.pbxId)),
          cacheContext(i.pbxId),
        );
      }
      if (Object.keys(patch).length) {
        await tx.integrations.update(i.pbxId, patch);
        count++;
      }
    }
    return count;
  });
}
