import type { Caller } from '../domain/access.js';
import {
  APP_HEALTH_CODES,
  DELEGATED_HEALTH_CODES,
  type HealthCode,
  IntegrationStatus,
} from '../domain/integration.js';
import {
  blockingPermissions,
  holds,
  missingPermissions,
  type PermissionType,
  REQUIRED_PERMISSIONS,
  type RequiredPermission,
} from '../domain/permissions.js';
import { AppError } from './errors.js';
import {
  appCredentials,
  DELEGATED_TOKEN_SCOPES,
  firstLine,
  type IntegrationDeps,
  type IntegrationView,
  permissionLabel,
  publishChange,
  tokenCacheOf,
  toView,
} from './integration.js';
import { type MicrosoftAppCredentials, MicrosoftError } from './ports/microsoft.port.js';
import type { IntegrationData } from './ports/store.port.js';

/**
 * Health the admin can trust (issue 11 item 3): a live check of the app's access (a new
 * client-credentials token and its `roles`) and of the authorization account's (its refresh
 * token, used), recorded on the integration as `health` without changing its status. Runs check
 * the app's part before they read (src/app/sync/sync-run.ts), the daily job and testConnection
 * check both.
 */
export type HealthDeps = Pick<IntegrationDeps, 'store' | 'identity' | 'secrets' | 'now' | 'events'>;

export interface HealthFinding {
  code: HealthCode;
  /** What is wrong and what to do, for the admin (no raw Microsoft text). */
  message: string;
  /** "Name (type)" of the required permissions found missing. */
  missing?: string[];
}

interface Probe {
  /** false: Microsoft could not be reached, or this part could not be told apart: the last result stands. */
  checked: boolean;
  /** A token was issued. */
  tokenOk: boolean;
  /** What the token carries: `roles` (app) or `scp` (delegated). */
  granted: string[];
  findings: HealthFinding[];
  accessToken?: string;
  /** Why it was not checked. */
  problem?: string;
}

const aadsts = (text: string) => /AADSTS(\d+)/.exec(text)?.[1] ?? null;
const unreachable = (err: MicrosoftError) => err.code === 'UNAVAILABLE' || err.code === 'THROTTLED';

function appRefused(err: MicrosoftError): HealthFinding {
  const n = aadsts(err.message);
  if (err.code === 'SECRET_EXPIRED') {
    return {
      code: 'SECRET_REFUSED',
      message: `Microsoft refuses the stored client secret: it has expired (AADSTS${n ?? '7000222'}). Create a new client secret in Entra ID and set it with updateSecret.`,
    };
  }
  if (err.code === 'INVALID_SECRET') {
    return {
      code: 'SECRET_REFUSED',
      message: `Microsoft refuses the stored client secret (AADSTS${n ?? '7000215'}): it was deleted in Entra ID or is not this app's. Create a new client secret in Entra ID and set it with updateSecret.`,
    };
  }
  if (err.code === 'INVALID_CLIENT') {
    return {
      code: 'APP_ACCESS_LOST',
      message: `Microsoft no longer knows the application (client) ID in this directory (AADSTS${n ?? '700016'}): the app registration or its enterprise application was deleted. Disconnect and connect with a working app registration.`,
    };
  }
  return {
    code: 'APP_ACCESS_LOST',
    message: `Microsoft refuses the app's sign-in${n ? ` (AADSTS${n})` : ''}: ${firstLine(err.message)}`,
  };
}

function permissionsMissing(missing: readonly RequiredPermission[]): HealthFinding {
  const labels = missing.map(permissionLabel);
  return {
    code: 'PERMISSIONS_MISSING',
    message: `The app has no admin consent for ${labels.join(', ')} (never granted, revoked, or removed from the app registration): what needs ${missing.length > 1 ? 'them' : 'it'} stops. Run reconsent and let an administrator grant admin consent, or grant it in Entra ID (App registrations → API permissions).`,
    missing: labels,
  };
}

function delegatedLost(account: string | null, err: MicrosoftError): HealthFinding {
  const n = aadsts(err.message);
  const reason: Record<string, string> = {
    '50173': "its sign-in sessions were revoked (password reset or an admin's revocation)",
    '65001': "the organisation's consent to the delegated permissions was revoked",
    '700082': 'its refresh token expired after long inactivity',
    '50076': 'multifactor authentication is now required',
    '50079': 'multifactor authentication is now required',
    '50078': 'its multifactor authentication expired',
    '50133': 'its session is no longer valid (password expired or changed)',
    '50057': 'the account is disabled',
    '50034': 'the account no longer exists in the directory',
    '9002313': 'Microsoft no longer knows its refresh token',
  };
  const why =
    (n && reason[n]) ??
    (err.code === 'AUTH_EXPIRED'
      ? 'no token of it is stored any more'
      : 'Microsoft refused its refresh token');
  return {
    code: 'DELEGATED_ACCESS_LOST',
    message: `The authorization account${account ? ` ${account}` : ''} can no longer get tokens: ${why}${n ? ` (AADSTS${n})` : ''}. Run reconsent and sign in again.`,
  };
}

async function probeApp(deps: HealthDeps, app: MicrosoftAppCredentials): Promise<Probe> {
  let roles: string[];
  try {
    roles = await deps.identity.appPermissions(app);
  } catch (err) {
    if (!(err instanceof MicrosoftError)) throw err;
    if (unreachable(err))
      return {
        checked: false,
        tokenOk: false,
        granted: [],
        findings: [],
        problem: `App access: ${err.message}`,
      };
    return { checked: true, tokenOk: false, granted: [], findings: [appRefused(err)] };
  }
  const missing = missingPermissions('APPLICATION', roles);
  return {
    checked: true,
    tokenOk: true,
    granted: roles,
    findings: missing.length ? [permissionsMissing(missing)] : [],
  };
}

async function probeDelegated(
  deps: HealthDeps,
  i: IntegrationData,
  app: MicrosoftAppCredentials,
): Promise<Probe> {
  if (!i.accountHomeId) {
    return {
      checked: true,
      tokenOk: false,
      granted: [],
      findings: [
        {
          code: 'DELEGATED_ACCESS_LOST',
          message: 'No authorization account is stored. Run reconsent and sign in.',
        },
      ],
    };
  }
  try {
    // forceRefresh: the refresh token itself is used, so a revoked one shows now, not in an hour.
    const token = await deps.identity.delegatedToken(
      app,
      { homeAccountId: i.accountHomeId },
      DELEGATED_TOKEN_SCOPES,
      tokenCacheOf(deps.store, deps.secrets, i.pbxId),
      { forceRefresh: true },
    );
    // A refresh that worked proves offline_access, which access tokens never list.
    const granted = [...token.permissions, 'offline_access'];
    const missing = missingPermissions('DELEGATED', granted);
    return {
      checked: true,
      tokenOk: true,
      granted,
      accessToken: token.accessToken,
      findings: missing.length
        ? [
            {
              code: 'DELEGATED_ACCESS_LOST',
              message: `The authorization account's token lacks ${missing.map(permissionLabel).join(', ')}. Run reconsent and accept the permissions.`,
              missing: missing.map(permissionLabel),
            },
          ]
        : [],
    };
  } catch (err) {
    if (!(err instanceof MicrosoftError)) throw err;
    // Unreachable, or the app itself is refused (the app's part says so): not told apart here.
    if (unreachable(err) || ['INVALID_SECRET', 'SECRET_EXPIRED', 'INVALID_CLIENT'].includes(err.code)) {
      return {
        checked: false,
        tokenOk: false,
        granted: [],
        findings: [],
        problem: `Delegated access (${i.accountUsername}): ${firstLine(err.message)}`,
      };
    }
    return { checked: true, tokenOk: false, granted: [], findings: [delegatedLost(i.accountUsername, err)] };
  }
}

const CODE_ORDER: readonly HealthCode[] = [...APP_HEALTH_CODES, ...DELEGATED_HEALTH_CODES];

/**
 * Records what a check found for the part(s) it checked; the other part's codes, messages and
 * missing permissions stand as the last check found them. `lastHealthyAt` moves when nothing
 * is wrong. Publishes the integration when its health changed.
 */
async function record(
  deps: HealthDeps,
  i: IntegrationData,
  parts: { app: boolean; delegated: boolean },
  findings: HealthFinding[],
): Promise<IntegrationData> {
  if (!parts.app && !parts.delegated) return i;
  const keep = new Set<HealthCode>([
    ...(parts.app ? [] : APP_HEALTH_CODES),
    ...(parts.delegated ? [] : DELEGATED_HEALTH_CODES),
  ]);
  const prev = i.health;
  const keptCodes = prev.codes.filter((c) => keep.has(c));
  const keptLines = (prev.message ?? '')
    .split('\n')
    .filter((line) => keptCodes.some((c) => line.startsWith(`${c}: `)));
  const keptMissing = prev.missingPermissions.filter((m) =>
    m.endsWith('(application)') ? !parts.app : !parts.delegated,
  );
  const codes = CODE_ORDER.filter((c) => keptCodes.includes(c) || findings.some((f) => f.code === c));
  const now = deps.now();
  const health = {
    codes,
    missingPermissions: [...new Set([...keptMissing, ...findings.flatMap((f) => f.missing ?? [])])],
    message: [...keptLines, ...findings.map((f) => `${f.code}: ${f.message}`)].join('\n') || null,
    checkedAt: now,
    lastHealthyAt: codes.length === 0 ? now : prev.lastHealthyAt,
  };
  await deps.store.integrations.recordHealth(i.pbxId, health);
  const updated = { ...i, health };
  if (health.codes.join() !== prev.codes.join() || health.message !== prev.message) {
    await publishChange(deps, i.pbxId, updated);
  }
  return updated;
}

/**
 * Before a run reads the directory: the app's access, checked with a new token and recorded.
 * Returns what stops the run (SECRET_REFUSED, APP_ACCESS_LOST, PERMISSIONS_MISSING), or null.
 * Microsoft out of reach throws UNAVAILABLE (the run is retried).
 */
export async function checkAppAccess(deps: HealthDeps, i: IntegrationData): Promise<HealthFinding | null> {
  const probe = await probeApp(deps, appCredentials(i, deps.secrets));
  if (!probe.checked) throw new MicrosoftError('UNAVAILABLE', probe.problem ?? 'Microsoft is out of reach');
  await record(deps, i, { app: true, delegated: false }, probe.findings);
  // An optional feature's missing permission (Presence.Read.All) is recorded, not run-stopping.
  const blocking = blockingPermissions(missingPermissions('APPLICATION', probe.granted)).length > 0;
  return probe.findings.find((f) => f.code !== 'PERMISSIONS_MISSING' || blocking) ?? null;
}

/** Both parts of one integration's access, checked live and recorded. */
export async function checkHealth(deps: HealthDeps, pbxId: string) {
  const i = await deps.store.integrations.get(pbxId);
  const app = appCredentials(i, deps.secrets);
  // One after the other: the delegated probe writes the refreshed token cache through the store.
  const appProbe = await probeApp(deps, app);
  const delegatedProbe = await probeDelegated(deps, i, app);
  const recorded = await record(
    deps,
    await deps.store.integrations.get(pbxId),
    { app: appProbe.checked, delegated: delegatedProbe.checked },
    [...appProbe.findings, ...delegatedProbe.findings],
  );
  return { integration: recorded, appProbe, delegatedProbe };
}

/** The daily check (with L3's expiry check): every connected or disabled integration, one by one. */
export async function checkAllHealth(deps: HealthDeps) {
  const unhealthy: Array<{ pbxId: string; codes: HealthCode[] }> = [];
  for (const i of await deps.store.integrations.listAll()) {
    if (i.status !== IntegrationStatus.CONNECTED && i.status !== IntegrationStatus.DISABLED) continue;
    const { integration } = await checkHealth(deps, i.pbxId);
    if (integration.health.codes.length) unhealthy.push({ pbxId: i.pbxId, codes: integration.health.codes });
  }
  return unhealthy;
}

export interface PermissionCheck {
  name: string;
  type: PermissionType;
  present: boolean;
  usedFor: string;
  stopsWithout: string;
}

/**
 * A live check of the app's and the authorization account's access (the portal's "Test
 * connection"): every required permission present or missing, and the health recorded.
 */
export async function checkConnection(deps: IntegrationDeps, caller: Caller) {
  const i = await deps.store.integrations.get(caller.pbxId);
  if (i.status === IntegrationStatus.NOT_CONNECTED || i.status === IntegrationStatus.AWAITING_CONSENT) {
    throw new AppError('INVALID_STATE', 'Connect the integration first.');
  }
  const { integration, appProbe, delegatedProbe } = await checkHealth(deps, caller.pbxId);
  const problems = [
    ...[appProbe, delegatedProbe].flatMap((p) => (p.problem ? [p.problem] : [])),
    ...[...appProbe.findings, ...delegatedProbe.findings].map((f) => f.message),
  ];
  let delegatedAs: string | null = null;
  if (delegatedProbe.accessToken) {
    try {
      delegatedAs = (await deps.directoryInfo.whoAmI(delegatedProbe.accessToken)).userPrincipalName;
    } catch (err) {
      problems.push(`Delegated access (${i.accountUsername}): ${firstLine((err as Error).message)}`);
    }
  }
  const granted = {
    APPLICATION: new Set(appProbe.granted),
    DELEGATED: new Set(delegatedProbe.granted),
  };
  const permissions: PermissionCheck[] = REQUIRED_PERMISSIONS.map((p) => ({
    name: p.name,
    type: p.type,
    present: holds(granted[p.type], p),
    usedFor: p.usedFor,
    stopsWithout: p.stopsWithout,
  }));
  const view: IntegrationView = toView(
    integration,
    (await deps.store.tenants.findPbx(caller.pbxId))?.publicBaseUrl ?? null,
    deps.now(),
  );
  return {
    appAccess: appProbe.tokenOk,
    delegatedAccess: delegatedAs !== null,
    delegatedAs,
    problems,
    permissions,
    health: view.health,
  };
}
