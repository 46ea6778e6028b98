import { SeededRandom } from './random.util.js';
import { SandboxError } from './sandbox.error.js';
import type { Tenant } from './tenant.store.js';

/**
 * Teams presence of a directory's users, as Graph's presence resource names it
 * (https://learn.microsoft.com/graph/api/resources/presence): `availability` (the base presence)
 * and `activity` (what qualifies it). Memory-lean as the mailboxes are: a user whose presence was
 * never set has a seeded one made from their creation ordinal; only users whose presence changed
 * (admin API, load mode) are stored. Each change bumps a tenant-wide sequence, from which the
 * resource's `sequenceNumber` (a lexicographically sortable string) is made.
 */
export const AVAILABILITIES = [
  'Available',
  'AvailableIdle',
  'Away',
  'BeRightBack',
  'Busy',
  'BusyIdle',
  'DoNotDisturb',
  'Offline',
  'PresenceUnknown',
] as const;
export type Availability = (typeof AVAILABILITIES)[number];

export const ACTIVITIES = [
  'Available',
  'Away',
  'BeRightBack',
  'Busy',
  'DoNotDisturb',
  'InACall',
  'InAConferenceCall',
  'Inactive',
  'InAMeeting',
  'Offline',
  'OffWork',
  'OutOfOffice',
  'PresenceUnknown',
  'Presenting',
  'UrgentInterruptionsOnly',
] as const;
export type Activity = (typeof ACTIVITIES)[number];

export interface PresenceState {
  availability: Availability;
  activity: Activity;
  /** the tenant-wide change sequence when it was last set (0: seeded) */
  seq: number;
  /** when it was last set (ms; 0: seeded) */
  changedAt: number;
}

/**
 * What Teams shows, as (availability, activity) pairs: the states a user sets by hand and the ones
 * Teams sets itself (calls, meetings, idle). The seed and the load mode draw from these.
 */
export const TEAMS_STATES: ReadonlyArray<readonly [Availability, Activity]> = [
  ['Available', 'Available'],
  ['Busy', 'Busy'],
  ['Busy', 'InACall'],
  ['Busy', 'InAMeeting'],
  ['DoNotDisturb', 'Presenting'],
  ['DoNotDisturb', 'DoNotDisturb'],
  ['BeRightBack', 'BeRightBack'],
  ['Away', 'Away'],
  ['AvailableIdle', 'Available'],
  ['Offline', 'OffWork'],
  ['Offline', 'Offline'],
];

/** Seeded presence: most users Available, the rest spread over the other states. */
function seeded(ordinal: number): PresenceState {
  const r = new SeededRandom(0x5e5 + ordinal).next();
  const pair =
    r < 0.5
      ? (TEAMS_STATES[0] as readonly [Availability, Activity])
      : (TEAMS_STATES[1 + Math.floor(((r - 0.5) / 0.5) * (TEAMS_STATES.length - 1))] as readonly [
          Availability,
          Activity,
        ]);
  return { availability: pair[0], activity: pair[1], seq: 0, changedAt: 0 };
}

export class PresenceStore {
  private readonly changed = new Map<string, PresenceState>();
  private seq = 0;
  /** Told every change (admin API, load mode): the notification dispatcher's presence hook. */
  readonly listeners: Array<(userId: string, state: PresenceState) => void> = [];

  constructor(private readonly tenant: Tenant) {}

  /** The presence of a live user (seeded until set). */
  get(userId: string): PresenceState | undefined {
    const u = this.tenant.activeUser(userId);
    if (!u) return undefined;
    return this.changed.get(u.id) ?? seeded(u.ordinal);
  }

  set(userId: string, availability: string, activity: string, now = Date.now()): PresenceState {
    if (!(AVAILABILITIES as readonly string[]).includes(availability))
      throw new SandboxError(400, 'BadRequest', `Unknown availability '${availability}'.`);
    if (!(ACTIVITIES as readonly string[]).includes(activity))
      throw new SandboxError(400, 'BadRequest', `Unknown activity '${activity}'.`);
    const u = this.tenant.activeUser(userId);
    if (!u) throw new SandboxError(404, 'Request_ResourceNotFound', `User '${userId}' does not exist.`);
    const s: PresenceState = {
      availability: availability as Availability,
      activity: activity as Activity,
      seq: ++this.seq,
      changedAt: now,
    };
    const before = this.changed.get(u.id) ?? seeded(u.ordinal);
    this.changed.set(u.id, s);
    // Graph notifies "when changes to a user's availability and activity are made": setting the same pair again is no change.
    if (before.availability !== s.availability || before.activity !== s.activity)
      for (const l of this.listeners) l(u.id, s);
    return s;
  }

  /** Users whose presence was set since the start (for the state file and the admin API). */
  changedUsers(): Array<[string, PresenceState]> {
    return [...this.changed];
  }

  reset(): void {
    this.changed.clear();
  }
}

const stores = new WeakMap<Tenant, PresenceStore>();

/** The presence store of a directory, made on first use. */
export function presenceOf(tenant: Tenant): PresenceStore {
  let s = stores.get(tenant);
  if (!s) {
    s = new PresenceStore(tenant);
    stores.set(tenant, s);
  }
  return s;
}

/** Graph's `sequenceNumber`: a lexicographically sortable stamp of the presence's version. */
export function sequenceNumber(s: PresenceState): string {
  return `C${s.seq.toString(16).toUpperCase().padStart(12, '0')}`;
}

/**
 * The request limit of the presence API: "1,500 API requests in a 30 second period, per
 * application per tenant" (https://learn.microsoft.com/graph/api/cloudcommunications-getpresencesbyuserid,
 * https://learn.microsoft.com/graph/api/presence-get). A sliding log of request times per
 * app + tenant; a request past the limit gets 429 with Retry-After (the seconds until the
 * oldest request leaves the window). Settable through the admin API (`presence/throttling`).
 */
export interface PresenceThrottleSettings {
  enabled: boolean;
  requests: number;
  windowSeconds: number;
}

export const DEFAULT_PRESENCE_THROTTLE: PresenceThrottleSettings = {
  enabled: true,
  requests: 1500,
  windowSeconds: 30,
};

export class PresenceThrottle {
  settings: PresenceThrottleSettings = { ...DEFAULT_PRESENCE_THROTTLE };
  private readonly logs = new Map<string, { times: number[]; head: number }>();

  /** Takes one request of `key`; the Retry-After seconds when it is over the limit. */
  admit(key: string, now = Date.now()): { ok: true } | { ok: false; retryAfterSeconds: number } {
    if (!this.settings.enabled) return { ok: true };
    const windowMs = this.settings.windowSeconds * 1000;
    let log = this.logs.get(key);
    if (!log) {
      log = { times: [], head: 0 };
      this.logs.set(key, log);
    }
    while (log.head < log.times.length && (log.times[log.head] as number) <= now - windowMs) log.head++;
    if (log.head > 4096) {
      log.times = log.times.slice(log.head);
      log.head = 0;
    }
    if (log.times.length - log.head >= this.settings.requests) {
      const oldest = log.times[log.head] as number;
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((oldest + windowMs - now) / 1000)) };
    }
    log.times.push(now);
    return { ok: true };
  }

  /** Requests counted in the current window, per key (for the admin API and the bench). */
  inWindow(key: string, now = Date.now()): number {
    const log = this.logs.get(key);
    if (!log) return 0;
    const windowMs = this.settings.windowSeconds * 1000;
    let n = 0;
    for (let i = log.head; i < log.times.length; i++) if ((log.times[i] as number) > now - windowMs) n++;
    return n;
  }

  reset(): void {
    this.settings = { ...DEFAULT_PRESENCE_THROTTLE };
    this.logs.clear();
  }
}

/**
 * The load mode: `changesPerMinute` presence changes spread over each minute (one tick a
 * second), each a random live user moved to another Teams state. For the presence bench and
 * the demo; off by default.
 */
export class PresenceLoad {
  private timer: NodeJS.Timeout | null = null;
  private carry = 0;
  private readonly random = new SeededRandom(0x10ad);
  changesPerMinute = 0;
  changesMade = 0;

  start(tenantOf: () => Tenant, changesPerMinute: number): void {
    this.stop();
    this.changesPerMinute = changesPerMinute;
    if (changesPerMinute <= 0) return;
    this.timer = setInterval(() => {
      this.carry += this.changesPerMinute / 60;
      const n = Math.floor(this.carry);
      this.carry -= n;
      this.changeSome(tenantOf(), n);
    }, 1000);
    this.timer.unref();
  }

  /** Moves `n` random live users to another Teams state now. */
  changeSome(tenant: Tenant, n: number, now = Date.now()): number {
    const users = tenant.users;
    const store = presenceOf(tenant);
    let done = 0;
    for (let tries = 0; done < n && tries < n * 4 && users.length > 0; tries++) {
      const u = users[Math.floor(this.random.next() * users.length)];
      if (!u || u.p.deletedDateTime) continue;
      const cur = store.get(u.id);
      let pair = TEAMS_STATES[Math.floor(this.random.next() * TEAMS_STATES.length)] as readonly [
        Availability,
        Activity,
      ];
      if (cur && pair[0] === cur.availability && pair[1] === cur.activity)
        pair = TEAMS_STATES[(TEAMS_STATES.indexOf(pair) + 1) % TEAMS_STATES.length] as typeof pair;
      store.set(u.id, pair[0], pair[1], now);
      done++;
    }
    this.changesMade += done;
    return done;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.changesPerMinute = 0;
    this.carry = 0;
  }
}
