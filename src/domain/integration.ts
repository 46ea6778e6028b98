/** The life of the Microsoft 365 integration (L1–L8), as pure rules. */
export enum IntegrationStatus {
  NOT_CONNECTED = 'NOT_CONNECTED',
  AWAITING_CONSENT = 'AWAITING_CONSENT',
  CONNECTED = 'CONNECTED',
  DISABLED = 'DISABLED',
}

export type SyncTarget = 'USERS' | 'GROUPS' | 'CONTACTS';

export interface IntegrationState {
  readonly status: IntegrationStatus;
  readonly userSyncPaused: boolean;
  readonly groupSyncPaused: boolean;
  readonly contactSyncPaused?: boolean;
}

export type IntegrationAction =
  | 'CONNECT'
  | 'COMPLETE_CONSENT'
  | 'UPDATE_SECRET'
  | 'PAUSE'
  | 'RESUME'
  | 'DISABLE'
  | 'ENABLE'
  | 'DISCONNECT'
  | 'EDIT_RULES'
  | 'SYNC'
  | 'RECONSENT';

const S = IntegrationStatus;

/**
 * Why `action` is not allowed in `state` (for `target` where it applies), or null when it is.
 * The message is shown to the admin as it is.
 */
export function refusal(
  state: IntegrationState,
  action: IntegrationAction,
  target?: SyncTarget,
): string | null {
  const paused =
    target === 'USERS'
      ? state.userSyncPaused
      : target === 'GROUPS'
        ? state.groupSyncPaused
        : target === 'CONTACTS'
          ? Boolean(state.contactSyncPaused)
          : false;
  const what = target === 'GROUPS' ? 'group sync' : target === 'CONTACTS' ? 'contact sync' : 'user sync';
  switch (action) {
    case 'CONNECT':
      return state.status === S.NOT_CONNECTED || state.status === S.AWAITING_CONSENT
        ? null
        : `The integration is already ${state.status === S.DISABLED ? 'set up (disabled)' : 'connected'}; disconnect it first.`;
    case 'COMPLETE_CONSENT':
      return state.status === S.AWAITING_CONSENT ? null : 'No connection is waiting for consent.';
    case 'UPDATE_SECRET':
      return state.status === S.NOT_CONNECTED ? 'The integration is not connected.' : null;
    case 'PAUSE':
      if (state.status !== S.CONNECTED) return `Only a connected integration can pause ${what}.`;
      return paused ? `The ${what} is already paused.` : null;
    case 'RESUME':
      if (state.status !== S.CONNECTED) return `Only a connected integration can resume ${what}.`;
      return paused ? null : `The ${what} is not paused.`;
    case 'DISABLE':
      return state.status === S.CONNECTED ? null : 'Only a connected integration can be disabled.';
    case 'ENABLE':
      return state.status === S.DISABLED ? null : 'Only a disabled integration can be enabled.';
    case 'DISCONNECT':
      return state.status === S.NOT_CONNECTED ? 'The integration is not connected.' : null;
    case 'EDIT_RULES':
      if (state.status === S.DISABLED)
        return 'The integration is disabled: its settings cannot be edited (L6).';
      if (state.status !== S.CONNECTED) return 'Connect the integration first.';
      return paused
        ? `The ${what} is paused: its settings cannot be edited until it is resumed (L4, L5).`
        : null;
    case 'SYNC':
      if (state.status !== S.CONNECTED) return 'Only a connected integration syncs.';
      return paused ? `The ${what} is paused.` : null;
    case 'RECONSENT':
      return state.status === S.CONNECTED || state.status === S.DISABLED
        ? null
        : 'Only a connected (or disabled) integration can renew its consent; connect it first.';
  }
}

export type IntegrationWarning = 'SECRET_EXPIRES_SOON' | 'SECRET_EXPIRED';

export const SECRET_WARNING_DAYS = 30;

/** L3: warn from 30 days before the client secret expires, and after it has. */
export function secretWarnings(expiresAt: Date | null, now: Date): IntegrationWarning[] {
  if (!expiresAt) return [];
  const left = expiresAt.getTime() - now.getTime();
  if (left <= 0) return ['SECRET_EXPIRED'];
  return left <= SECRET_WARNING_DAYS * 24 * 3600 * 1000 ? ['SECRET_EXPIRES_SOON'] : [];
}

/** L1: where Microsoft sends the admin back after consent, on the gateway behind the PBX's public URL. */
export const CONNECT_CALLBACK_PATH = '/oauth/microsoft/callback';
/** L1/S1: where Microsoft sends a Linkus Web Client user back after single sign-on. */
export const LINKUS_SSO_CALLBACK_PATH = '/linkus/sso/microsoft/callback';

export function redirectUris(publicBaseUrl: string | null): { connect: string | null; linkusSso: string[] } {
  if (!publicBaseUrl) return { connect: null, linkusSso: [] };
  const base = publicBaseUrl.replace(/\/+$/, '');
  return { connect: `${base}${CONNECT_CALLBACK_PATH}`, linkusSso: [`${base}${LINKUS_SSO_CALLBACK_PATH}`] };
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isGuid = (v: string) => GUID.test(v);

/**
 * What the health of a connected integration can say is wrong (issue 11 item 3). A run or the
 * daily check finds it; the status stays CONNECTED (the settings and synced data are intact),
 * and `health` says what to do.
 * - SECRET_REFUSED: Microsoft refuses the stored client secret (AADSTS7000215 wrong or deleted,
 *   7000222 expired): nothing app-only works. Fix: updateSecret.
 * - APP_ACCESS_LOST: Microsoft refuses the app itself (AADSTS700016: the app registration or its
 *   service principal is gone from the directory). Fix: disconnect, connect a working app.
 * - PERMISSIONS_MISSING: the app token lacks application permissions the gateway needs (admin
 *   consent never granted or revoked; `missingPermissions` names them). Fix: reconsent.
 * - DELEGATED_ACCESS_LOST: the authorization account's refresh token no longer works (revoked,
 *   expired, consent revoked, MFA now required...). Fix: reconsent (sign in again).
 */
export type HealthCode =
  | 'SECRET_REFUSED'
  | 'APP_ACCESS_LOST'
  | 'PERMISSIONS_MISSING'
  | 'DELEGATED_ACCESS_LOST';

/** The codes a check of the app's own access (client credentials) decides. */
export const APP_HEALTH_CODES: readonly HealthCode[] = [
  'SECRET_REFUSED',
  'APP_ACCESS_LOST',
  'PERMISSIONS_MISSING',
];
/** The codes a check of the authorization account's access decides. */
export const DELEGATED_HEALTH_CODES: readonly HealthCode[] = ['DELEGATED_ACCESS_LOST'];

export type HealthStatus = 'OK' | 'FAILING' | 'UNKNOWN';

/** OK when the last check found nothing wrong, FAILING when it found something, UNKNOWN when none ran. */
export function healthStatus(
  status: IntegrationStatus,
  codes: readonly HealthCode[],
  checkedAt: Date | null,
): HealthStatus {
  if (status === IntegrationStatus.NOT_CONNECTED || status === IntegrationStatus.AWAITING_CONSENT)
    return 'UNKNOWN';
  if (codes.length > 0) return 'FAILING';
  return checkedAt ? 'OK' : 'UNKNOWN';
}
