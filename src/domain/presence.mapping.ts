/**
 * P1–P3: Teams presence drives extension presence, one way.
 *
 * Teams reports a user's presence as Graph's `availability` and `activity`
 * (https://learn.microsoft.com/graph/api/resources/presence). The admin (or, later, the user in
 * Linkus) maps the states a Teams user sees to an extension presence of the PBX (Yeastar
 * P-Series: available, away, do_not_disturb, lunch, business_trip, off_work). Pure: no clock
 * (`now` is an argument), no I/O.
 */

/** The extension presence statuses of the PBX. */
export const EXTENSION_PRESENCE_STATUSES = [
  'AVAILABLE',
  'AWAY',
  'DO_NOT_DISTURB',
  'LUNCH_BREAK',
  'BUSINESS_TRIP',
  'OFF_WORK',
] as const;
export type ExtensionPresenceStatus = (typeof EXTENSION_PRESENCE_STATUSES)[number];

/** Who set the extension's presence: Teams (through the sync) or someone on the PBX by hand. */
export type PresenceSource = 'TEAMS' | 'MANUAL';

/**
 * The Teams states a mapping names, as a Teams user sees them. Graph does not tell a user's
 * "Appear away" from Teams' own idle Away, nor "Appear offline" from signed out: both share an
 * availability, so one state stands for each.
 */
export const TEAMS_PRESENCE_STATES = [
  'AVAILABLE',
  'BUSY',
  'DO_NOT_DISTURB',
  'BE_RIGHT_BACK',
  'APPEAR_AWAY',
  'APPEAR_OFFLINE',
] as const;
export type TeamsPresenceState = (typeof TEAMS_PRESENCE_STATES)[number];

export type PresenceMapping = Readonly<Record<TeamsPresenceState, ExtensionPresenceStatus>>;

/** P2 default: Available→Available, Busy→Away, Do not disturb→Do Not Disturb, Be right back→Away, Appear away→Off Work, Appear offline→Off Work. */
export const DEFAULT_PRESENCE_MAPPING: PresenceMapping = {
  AVAILABLE: 'AVAILABLE',
  BUSY: 'AWAY',
  DO_NOT_DISTURB: 'DO_NOT_DISTURB',
  BE_RIGHT_BACK: 'AWAY',
  APPEAR_AWAY: 'OFF_WORK',
  APPEAR_OFFLINE: 'OFF_WORK',
};

/**
 * The Teams state of a Graph presence; null for PresenceUnknown (or a value Graph adds later),
 * which changes nothing on the extension.
 */
export function teamsStateOf(availability: string): TeamsPresenceState | null {
  switch (availability) {
    case 'Available':
    case 'AvailableIdle':
      return 'AVAILABLE';
    case 'Busy':
    case 'BusyIdle':
      return 'BUSY';
    case 'DoNotDisturb':
      return 'DO_NOT_DISTURB';
    case 'BeRightBack':
      return 'BE_RIGHT_BACK';
    case 'Away':
      return 'APPEAR_AWAY';
    case 'Offline':
      return 'APPEAR_OFFLINE';
    default:
      return null;
  }
}

/** The mapping in force: the default, with the states a custom mapping names replaced. */
export function effectiveMapping(custom: Partial<PresenceMapping> | null | undefined): PresenceMapping {
  return { ...DEFAULT_PRESENCE_MAPPING, ...(custom ?? {}) };
}

/** The entries of `custom` that differ from the default (what is worth storing). */
export function customEntries(mapping: Partial<PresenceMapping>): Partial<PresenceMapping> {
  const out: Partial<Record<TeamsPresenceState, ExtensionPresenceStatus>> = {};
  for (const s of TEAMS_PRESENCE_STATES) {
    const v = mapping[s];
    if (v !== undefined && v !== DEFAULT_PRESENCE_MAPPING[s]) out[s] = v;
  }
  return out;
}

/** An extension's presence as the gateway keeps it. */
export interface ExtensionPresence {
  status: ExtensionPresenceStatus | null;
  source: PresenceSource | null;
  /** The last Teams presence read for the user (null before the first read). */
  teamsAvailability: string | null;
  teamsActivity: string | null;
  changedAt: Date | null;
}

export const NO_PRESENCE: ExtensionPresence = {
  status: null,
  source: null,
  teamsAvailability: null,
  teamsActivity: null,
  changedAt: null,
};

/**
 * P2, P3: what a Teams reading does to an extension's presence; null when nothing changes
 * (nothing to write, nothing to publish).
 *
 * - The same Teams presence as last read changes nothing: a status set by hand on the PBX
 *   (MANUAL) stays until the user's Teams presence changes again.
 * - PresenceUnknown changes nothing.
 * - Any other change: the mapped status, source TEAMS, the reading kept, `changedAt` = now.
 */
export function applyTeamsReading(
  current: ExtensionPresence,
  reading: { availability: string; activity: string },
  mapping: PresenceMapping,
  now: Date,
): ExtensionPresence | null {
  if (current.teamsAvailability === reading.availability && current.teamsActivity === reading.activity)
    return null;
  const state = teamsStateOf(reading.availability);
  if (state === null) return null;
  return {
    status: mapping[state],
    source: 'TEAMS',
    teamsAvailability: reading.availability,
    teamsActivity: reading.activity,
    changedAt: now,
  };
}

/**
 * P2: a new mapping applied to what Teams last said; null when the status stays. A MANUAL status
 * stays (only a Teams change replaces it); before the first reading there is nothing to map.
 */
export function remapPresence(
  current: ExtensionPresence,
  mapping: PresenceMapping,
  now: Date,
): ExtensionPresence | null {
  if (current.source !== 'TEAMS' || current.teamsAvailability === null) return null;
  const state = teamsStateOf(current.teamsAvailability);
  if (state === null || mapping[state] === current.status) return null;
  return { ...current, status: mapping[state], changedAt: now };
}

/** P3: a status set by hand on the PBX: it stays until Teams changes (applyTeamsReading). */
export function setManualPresence(
  current: ExtensionPresence,
  status: ExtensionPresenceStatus,
  now: Date,
): ExtensionPresence {
  return { ...current, status, source: 'MANUAL', changedAt: now };
}

/**
 * Graph's presence API: "Maximum of 650 user IDs are supported per API request" and "1500 API
 * requests in a 30 second period, per application per tenant"
 * (https://learn.microsoft.com/graph/api/cloudcommunications-getpresencesbyuserid).
 */
export const PRESENCE_IDS_PER_REQUEST = 650;
export const PRESENCE_QUOTA = { requests: 1500, windowMs: 30_000 } as const;
/**
 * The gateway keeps within half of the quota, so other apps of the tenant have room: it plans for
 * 45 %, as rounds start a little late or early (a job scheduler's timing) and a window may hold
 * one round more than the average (measured: 53.9 % at 100,000 users when planned for 50 %).
 */
export const PRESENCE_QUOTA_SHARE = 0.45;

/**
 * The poll interval for `users` presence-enabled users: as short as `minIntervalMs`, but long
 * enough that one round (ceil(users / 650) requests) per interval stays within `share` of the
 * quota.
 */
export function presencePollInterval(
  users: number,
  minIntervalMs: number,
  share = PRESENCE_QUOTA_SHARE,
): number {
  return presenceIntervalForRequests(Math.ceil(users / PRESENCE_IDS_PER_REQUEST), minIntervalMs, share);
}

/**
 * Issue 15 item 3: the interval at which rounds sending `requests` requests together (every PBX
 * polling with one app in one tenant: the quota is "per application per tenant") stay within
 * `share` of the quota.
 */
export function presenceIntervalForRequests(
  requests: number,
  minIntervalMs: number,
  share = PRESENCE_QUOTA_SHARE,
): number {
  const perMs = (PRESENCE_QUOTA.requests * share) / PRESENCE_QUOTA.windowMs;
  return Math.max(minIntervalMs, Math.ceil(requests / perMs));
}

/**
 * Requests one PBX's round sends: its polled users in chunks of 650, and one more when a
 * subscription covers some (their notified changes, and the safety net, are read in one request).
 */
export function presenceRoundRequests(users: number, covered: number): number {
  const polled = Math.max(0, users - covered);
  return Math.ceil(polled / PRESENCE_IDS_PER_REQUEST) + (covered > 0 ? 1 : 0);
}

/** `list` in chunks of `size` (650 ids a request). */
export function chunked<T>(list: readonly T[], size = PRESENCE_IDS_PER_REQUEST): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}
