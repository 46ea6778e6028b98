import type { FieldProblem } from './tenant.js';

/**
 * T1: when a PBX syncs on its own: daily, or weekly on chosen days, at HH:MM in the PBX's
 * IANA time zone. Pure: the time zone rules come from Intl (the ICU data Node ships), the
 * clock from the caller.
 */

export const WEEKDAYS = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export const SCHEDULE_FREQUENCIES = ['DAILY', 'WEEKLY'] as const;
export type ScheduleFrequency = (typeof SCHEDULE_FREQUENCIES)[number];

export interface Schedule {
  readonly frequency: ScheduleFrequency;
  /** WEEKLY: the days it runs on, MON..SUN order; empty for DAILY. */
  readonly days: readonly Weekday[];
  /** Local wall time, "HH:MM" (24 h). */
  readonly time: string;
}

/** T1: daily at 00:30. */
export const DEFAULT_SCHEDULE: Schedule = { frequency: 'DAILY', days: [], time: '00:30' };

const TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;

export function parseScheduleTime(time: string): { hour: number; minute: number } | null {
  const m = TIME.exec(time);
  return m ? { hour: Number(m[1]), minute: Number(m[2]) } : null;
}

/** Every problem of a schedule as entered, by field (`frequency`, `days`, `time`). */
export function validateSchedule(input: {
  frequency: string;
  days?: readonly string[] | null;
  time: string;
}): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (!(SCHEDULE_FREQUENCIES as readonly string[]).includes(input.frequency)) {
    problems.push({ field: 'frequency', message: 'must be DAILY or WEEKLY' });
  }
  const days = input.days ?? [];
  const unknown = days.filter((d) => !(WEEKDAYS as readonly string[]).includes(d));
  if (unknown.length) {
    problems.push({
      field: 'days',
      message: `unknown day(s) ${unknown.join(', ')}: use MON, TUE, WED, THU, FRI, SAT, SUN`,
    });
  } else if (input.frequency === 'WEEKLY' && days.length === 0) {
    problems.push({ field: 'days', message: 'a weekly schedule needs at least one day' });
  }
  if (!parseScheduleTime(input.time)) {
    problems.push({ field: 'time', message: 'must be a 24-hour time HH:MM, from 00:00 to 23:59' });
  }
  return problems;
}

/** The stored form of a valid schedule: days unique in MON..SUN order, none for DAILY. */
export function normalizeSchedule(input: {
  frequency: ScheduleFrequency;
  days?: readonly Weekday[] | null;
  time: string;
}): Schedule {
  const days = input.frequency === 'WEEKLY' ? WEEKDAYS.filter((d) => input.days?.includes(d)) : [];
  return { frequency: input.frequency, days, time: input.time };
}

// --- Wall clock of a time zone, through Intl -------------------------------------------------

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    // hourCycle h23: midnight is 00, never 24.
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The local wall time of an instant, as milliseconds of the same fields read as UTC. */
function wallMs(instant: number, timeZone: string): number {
  const p: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(instant))) {
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  }
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
}

/** The UTC offset in effect at an instant (ms; positive east of Greenwich). */
function offsetAt(instant: number, timeZone: string): number {
  const whole = Math.floor(instant / 1000) * 1000;
  return wallMs(whole, timeZone) - whole;
}

/** An instant's local date, time and weekday in a time zone (e.g. for messages and tests). */
export function wallClock(instant: Date, timeZone: string): { date: string; time: string; weekday: Weekday } {
  const w = new Date(wallMs(instant.getTime(), timeZone));
  const iso = w.toISOString();
  return { date: iso.slice(0, 10), time: iso.slice(11, 16), weekday: WEEKDAYS[(w.getUTCDay() + 6) % 7] };
}

/**
 * The instant a local date and time happen in a time zone, with the two DST rules of T1:
 * - a time that happens twice (fall back) resolves to the first of the two;
 * - a time that does not happen (spring forward) resolves to the first valid minute after
 *   it, i.e. the instant the clocks jump (02:30 in Europe/Berlin on 2026-03-29 → 03:00 CEST).
 * Null when the day itself does not reach that time: the resolved instant would fall on
 * another local date (Pacific/Apia skipped 2011-12-30 entirely).
 */
export function localToInstant(
  date: { year: number; month: number; day: number },
  time: { hour: number; minute: number },
  timeZone: string,
): Date | null {
  const wall = Date.UTC(date.year, date.month - 1, date.day, time.hour, time.minute);
  // Offsets are within -12 h..+14 h, so the instant lies within 14 h of `wall`. The offsets
  // in effect from 18 h before to 18 h after it: both ends, and between them when they differ
  // (no zone changes its offset twice within 9 h, nor back and forth within 36 h).
  const offsets = new Set([offsetAt(wall - 18 * HOUR, timeZone), offsetAt(wall + 18 * HOUR, timeZone)]);
  if (offsets.size > 1) for (const k of [-9, 0, 9]) offsets.add(offsetAt(wall + k * HOUR, timeZone));
  const exact = [...offsets]
    .map((o) => wall - o)
    .filter((t) => wallMs(t, timeZone) === wall)
    .sort((a, b) => a - b);
  if (exact.length) return new Date(exact[0]);
  // In a gap: find the first minute whose wall time is at or past `wall` (the jump).
  let lo = Math.floor((wall - Math.max(...offsets)) / MINUTE); // its wall time is before `wall`
  let hi = Math.ceil((wall - Math.min(...offsets)) / MINUTE); // its wall time is after it
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (wallMs(mid * MINUTE, timeZone) >= wall) hi = mid;
    else lo = mid;
  }
  const landed = new Date(wallMs(hi * MINUTE, timeZone));
  const sameDay =
    landed.getUTCFullYear() === date.year &&
    landed.getUTCMonth() === date.month - 1 &&
    landed.getUTCDate() === date.day;
  return sameDay ? new Date(hi * MINUTE) : null;
}

/**
 * The first instant strictly after `after` at which the schedule runs in `timeZone`: the
 * schedule's time on an allowed local day, resolved by `localToInstant`. So across DST a
 * daily schedule runs exactly once on every local day: a nonexistent time runs at the jump
 * (03:00 for 02:30 in Europe/Berlin on 2026-03-29); a time that happens twice runs at the
 * first, and the second is not another occurrence (the next one is the following day).
 */
export function nextOccurrence(schedule: Schedule, timeZone: string, after: Date): Date {
  const time = parseScheduleTime(schedule.time);
  if (!time) throw new Error(`Invalid schedule time ${schedule.time}`);
  const allowed = new Set<Weekday>(schedule.frequency === 'WEEKLY' ? schedule.days : WEEKDAYS);
  if (!allowed.size) throw new Error('A weekly schedule needs at least one day');
  const afterMs = after.getTime();
  const today = new Date(wallMs(afterMs, timeZone));
  // From the local day before `after` (a fall-back across midnight can make yesterday's
  // time come later), up to two weeks on: a weekly schedule always finds a day by then.
  let day = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()) - DAY;
  for (let i = 0; i < 16; i++, day += DAY) {
    const d = new Date(day);
    if (!allowed.has(WEEKDAYS[(d.getUTCDay() + 6) % 7])) continue;
    const at = localToInstant(
      { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() },
      time,
      timeZone,
    );
    if (at && at.getTime() > afterMs) return at;
  }
  throw new Error(`No occurrence of the schedule within 16 days after ${after.toISOString()}`);
}

/** Whether `at` is one of the schedule's occurrences (a trigger queued for an older schedule is not). */
export function isOccurrence(schedule: Schedule, timeZone: string, at: Date): boolean {
  return nextOccurrence(schedule, timeZone, new Date(at.getTime() - 1)).getTime() === at.getTime();
}
