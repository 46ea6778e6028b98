import type { Caller } from '../domain/access.js';
import { IntegrationStatus, refusal } from '../domain/integration.js';
import {
  isOccurrence,
  nextOccurrence,
  normalizeSchedule,
  type Schedule,
  type ScheduleFrequency,
  validateSchedule,
  type Weekday,
} from '../domain/schedule.js';
import type { PbxRecord, PbxSettings } from '../domain/tenant.js';
import { AppError } from './errors.js';
import { updatePbx } from './pbx.js';
import type { ScheduleQueue } from './ports/schedule-queue.port.js';
import { requestSync, type SyncTriggerDeps } from './sync-trigger.js';

/**
 * T1: each PBX syncs on its schedule, in its own time zone.
 *
 * How it runs: one delayed `scheduled-sync` job per PBX, due at the next occurrence that
 * `nextOccurrence` computes; when it runs it queues the following one. Its id is the PBX and
 * the occurrence, so any number of processes ensuring "the next job" add it once.
 *
 * Why not a BullMQ job scheduler per PBX (`upsertJobScheduler` with `pattern` + `tz`, as the
 * issue first said): BullMQ computes those occurrences with cron-parser, which gets the DST
 * rule of T1 wrong. On a spring-forward day cron-parser 5.10 (BullMQ 6.7) runs a nonexistent
 * 02:30 in Europe/Berlin at 03:30, an hour late, instead of at 03:00, the first valid minute;
 * and in Australia/Lord_Howe (30-minute DST) it skips a nonexistent 02:15 altogether, so that
 * day has no run. `nextOccurrence` (src/domain/schedule.ts) implements the rule and is
 * tested against every such case.
 */

export interface ScheduleDeps extends SyncTriggerDeps {
  scheduleQueue: ScheduleQueue;
}

export interface ScheduleView {
  frequency: ScheduleFrequency;
  days: readonly Weekday[];
  time: string;
  /** The PBX's IANA time zone, which the time is in. */
  timeZone: string;
  /** The next run. */
  nextRunAt: Date;
}

async function pbxOf(deps: Pick<ScheduleDeps, 'store'>, pbxId: string): Promise<PbxRecord> {
  const pbx = await deps.store.tenants.findPbx(pbxId);
  if (!pbx) throw new AppError('NOT_FOUND', 'This PBX no longer exists');
  return pbx;
}

function view(schedule: Schedule, timeZone: string, now: Date): ScheduleView {
  return { ...schedule, timeZone, nextRunAt: nextOccurrence(schedule, timeZone, now) };
}

/**
 * Moves the PBX's pending trigger from where the old schedule (or time zone) put it to where
 * the new one does. The pending trigger is the old schedule's next occurrence, or the one
 * after it when the next one has already run early (promoted from the dashboard): both are
 * removed if still waiting. The new one is queued first: should a removal fail, or two saves
 * race, a leftover trigger is harmless, because when it runs it sees it is no occurrence of
 * the schedule in force and does nothing (runScheduledSync).
 */
async function reschedule(
  deps: ScheduleDeps,
  pbxId: string,
  before: { schedule: Schedule; timeZone: string },
  after: { schedule: Schedule; timeZone: string },
) {
  const now = deps.now();
  const newAt = nextOccurrence(after.schedule, after.timeZone, now);
  await deps.scheduleQueue.ensure(pbxId, newAt);
  const oldAt = nextOccurrence(before.schedule, before.timeZone, now);
  const oldAfter = nextOccurrence(before.schedule, before.timeZone, oldAt);
  for (const at of [oldAt, oldAfter]) {
    if (at.getTime() !== newAt.getTime()) await deps.scheduleQueue.cancel(pbxId, at);
  }
}

/** T1: the schedule, its time zone and the next run. */
export async function getSchedule(
  deps: Pick<ScheduleDeps, 'store' | 'now'>,
  caller: Caller,
): Promise<ScheduleView> {
  const pbx = await pbxOf(deps, caller.pbxId);
  const { schedule } = await deps.store.sync.getSettings(caller.pbxId);
  return view(schedule, pbx.timeZone, deps.now());
}

/**
 * T1: saves the schedule (in the PBX's time zone) and moves the pending trigger to its next
 * occurrence. Refused while the integration is disabled (L6: settings kept, not editable).
 */
export async function saveSchedule(
  deps: ScheduleDeps,
  caller: Caller,
  input: { frequency: ScheduleFrequency; days?: readonly Weekday[] | null; time: string },
): Promise<ScheduleView> {
  const integration = await deps.store.integrations.get(caller.pbxId);
  if (integration.status === IntegrationStatus.DISABLED) {
    throw new AppError('INVALID_STATE', refusal(integration, 'EDIT_RULES') as string, {
      status: integration.status,
    });
  }
  const problems = validateSchedule(input);
  if (problems.length) throw AppError.invalidInput(problems);
  const schedule = normalizeSchedule(input);
  const pbx = await pbxOf(deps, caller.pbxId);
  const before = (await deps.store.sync.getSettings(caller.pbxId)).schedule;
  await deps.store.sync.updateSettings(caller.pbxId, { schedule });
  await reschedule(
    deps,
    caller.pbxId,
    { schedule: before, timeZone: pbx.timeZone },
    { schedule, timeZone: pbx.timeZone },
  );
  return view(schedule, pbx.timeZone, deps.now());
}

/** Changes the PBX's settings; a new time zone moves the pending scheduled trigger (T1). */
export async function updatePbxAndSchedule(
  deps: ScheduleDeps,
  caller: Caller,
  patch: Partial<PbxSettings>,
): Promise<PbxRecord> {
  const before = patch.timeZone !== undefined ? await pbxOf(deps, caller.pbxId) : null;
  const pbx = await updatePbx(deps.store, caller, patch);
  if (before && before.timeZone !== pbx.timeZone) {
    const { schedule } = await deps.store.sync.getSettings(caller.pbxId);
    await reschedule(
      deps,
      caller.pbxId,
      { schedule, timeZone: before.timeZone },
      { schedule, timeZone: pbx.timeZone },
    );
  }
  return pbx;
}

/**
 * Makes sure the PBX's next scheduled trigger is queued (at worker start, after a connect, and
 * every hour as a safety net). Idempotent: the job id is the PBX and the occurrence.
 */
export async function ensureSchedule(deps: ScheduleDeps, pbxId: string): Promise<Date | null> {
  const pbx = await deps.store.tenants.findPbx(pbxId);
  if (!pbx) return null;
  const { schedule } = await deps.store.sync.getSettings(pbxId);
  const at = nextOccurrence(schedule, pbx.timeZone, deps.now());
  await deps.scheduleQueue.ensure(pbxId, at);
  return at;
}

export type ScheduledSyncOutcome =
  /** A run was queued. */
  | 'QUEUED'
  /** The PBX's pending run took it (see requestSync). */
  | 'COALESCED'
  /** The integration is not connected: nothing to sync. */
  | 'SKIPPED'
  /** Queued for a schedule or time zone no longer in force. */
  | 'STALE'
  /** The PBX no longer exists. */
  | 'GONE';

/**
 * T1: the scheduled trigger of `at` is due. Queues the following occurrence first (so the
 * chain goes on whatever happens next; a retry queues it again, which is a no-op), then asks
 * for a run of users and groups with trigger SCHEDULE, joining a pending run if there is one.
 * A trigger that is no occurrence of the schedule in force (queued before the schedule or the
 * time zone changed) does nothing.
 */
export async function runScheduledSync(
  deps: ScheduleDeps,
  pbxId: string,
  at: Date,
): Promise<{ outcome: ScheduledSyncOutcome; runId: string | null; next: Date | null }> {
  const pbx = await deps.store.tenants.findPbx(pbxId);
  if (!pbx) return { outcome: 'GONE', runId: null, next: null };
  const { schedule } = await deps.store.sync.getSettings(pbxId);
  // From the later of the due time and now: a trigger promoted early (dashboard) is followed
  // by the next day's, not by itself; one run late (workers were down) by the next to come.
  // A stale trigger's time means nothing now: its follower is the schedule's next occurrence
  // from now (already queued when the schedule was saved, so this is a no-op).
  const stale = !isOccurrence(schedule, pbx.timeZone, at);
  const from = stale ? deps.now() : new Date(Math.max(at.getTime(), deps.now().getTime()));
  const next = nextOccurrence(schedule, pbx.timeZone, from);
  await deps.scheduleQueue.ensure(pbxId, next);
  if (stale) return { outcome: 'STALE', runId: null, next };
  const integration = await deps.store.integrations.get(pbxId);
  if (integration.status !== IntegrationStatus.CONNECTED) return { outcome: 'SKIPPED', runId: null, next };
  const { run, coalesced } = await requestSync(deps, pbxId, 'SCHEDULE', ['USERS', 'GROUPS', 'CONTACTS']);
  return { outcome: coalesced ? 'COALESCED' : 'QUEUED', runId: run.id, next };
}
