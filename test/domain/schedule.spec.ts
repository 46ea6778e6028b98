import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SCHEDULE,
  isOccurrence,
  localToInstant,
  nextOccurrence,
  normalizeSchedule,
  type Schedule,
  validateSchedule,
  type Weekday,
  wallClock,
} from '../../src/domain/schedule.js';

const daily = (time: string): Schedule => ({ frequency: 'DAILY', days: [], time });
const weekly = (days: Weekday[], time: string): Schedule => ({ frequency: 'WEEKLY', days, time });
const D = (iso: string) => new Date(iso);
const DAY = 86_400_000;

/** `n` consecutive occurrences strictly after `after`. */
function occurrences(schedule: Schedule, tz: string, after: Date, n: number): Date[] {
  const out: Date[] = [];
  let at = after;
  for (let i = 0; i < n; i++) {
    at = nextOccurrence(schedule, tz, at);
    out.push(at);
  }
  return out;
}

const local = (at: Date, tz: string) => {
  const w = wallClock(at, tz);
  return `${w.date} ${w.time}`;
};

const dateParts = (date: string) => ({
  year: +date.slice(0, 4),
  month: +date.slice(5, 7),
  day: +date.slice(8, 10),
});
const nextDate = (date: string, days = 1) =>
  new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY).toISOString().slice(0, 10);

describe('T1 validateSchedule names the field', () => {
  it.each<[string, Parameters<typeof validateSchedule>[0], string[]]>([
    ['daily 00:30', { frequency: 'DAILY', days: [], time: '00:30' }, []],
    ['daily 23:59', { frequency: 'DAILY', time: '23:59' }, []],
    ['daily with days (ignored)', { frequency: 'DAILY', days: ['MON'], time: '00:00' }, []],
    ['weekly MON FRI', { frequency: 'WEEKLY', days: ['MON', 'FRI'], time: '07:05' }, []],
    ['weekly without days', { frequency: 'WEEKLY', days: [], time: '07:05' }, ['days']],
    ['weekly days null', { frequency: 'WEEKLY', days: null, time: '07:05' }, ['days']],
    ['unknown day', { frequency: 'WEEKLY', days: ['MONDAY'], time: '07:05' }, ['days']],
    ['24:00', { frequency: 'DAILY', time: '24:00' }, ['time']],
    ['7:30 (one digit)', { frequency: 'DAILY', time: '7:30' }, ['time']],
    ['07:60', { frequency: 'DAILY', time: '07:60' }, ['time']],
    ['0730', { frequency: 'DAILY', time: '0730' }, ['time']],
    ['07:30:00', { frequency: 'DAILY', time: '07:30:00' }, ['time']],
    ['empty time', { frequency: 'DAILY', time: '' }, ['time']],
    ['hourly', { frequency: 'HOURLY', time: '01:00' }, ['frequency']],
    ['everything wrong', { frequency: 'WEEKLY', days: [], time: 'noon' }, ['days', 'time']],
  ])('%s → %j', (_label, input, fields) => {
    expect(validateSchedule(input).map((p) => p.field)).toEqual(fields);
  });

  it('the default is daily at 00:30 and valid', () => {
    expect(DEFAULT_SCHEDULE).toEqual({ frequency: 'DAILY', days: [], time: '00:30' });
    expect(validateSchedule(DEFAULT_SCHEDULE)).toEqual([]);
  });

  it('normalizeSchedule keeps weekly days unique in MON..SUN order and drops them for DAILY', () => {
    expect(
      normalizeSchedule({ frequency: 'WEEKLY', days: ['SUN', 'MON', 'SUN', 'WED'], time: '09:00' }).days,
    ).toEqual(['MON', 'WED', 'SUN']);
    expect(normalizeSchedule({ frequency: 'DAILY', days: ['SUN'], time: '09:00' }).days).toEqual([]);
  });
});

/**
 * Each row: a daily schedule on a DST change day. `at` is the instant it runs that day,
 * `wall` the local time it shows then. The run before and after are the days around it at
 * the schedule's time, one per local day.
 */
describe.each<[string, string, string, string, string, string]>([
  // zone, kind, day, time, at, wall
  ['Europe/Berlin', 'spring forward (02:00 → 03:00)', '2026-03-29', '02:30', '2026-03-29T01:00:00Z', '03:00'],
  ['Europe/Berlin', 'spring forward (02:00 → 03:00)', '2026-03-29', '01:30', '2026-03-29T00:30:00Z', '01:30'],
  ['Europe/Berlin', 'spring forward (02:00 → 03:00)', '2026-03-29', '00:30', '2026-03-28T23:30:00Z', '00:30'],
  ['Europe/Berlin', 'fall back (03:00 → 02:00)', '2026-10-25', '02:30', '2026-10-25T00:30:00Z', '02:30'],
  ['Europe/Berlin', 'fall back (03:00 → 02:00)', '2026-10-25', '01:30', '2026-10-24T23:30:00Z', '01:30'],
  ['Europe/Berlin', 'fall back (03:00 → 02:00)', '2026-10-25', '00:30', '2026-10-24T22:30:00Z', '00:30'],
  [
    'America/New_York',
    'spring forward (02:00 → 03:00)',
    '2026-03-08',
    '02:30',
    '2026-03-08T07:00:00Z',
    '03:00',
  ],
  [
    'America/New_York',
    'spring forward (02:00 → 03:00)',
    '2026-03-08',
    '01:30',
    '2026-03-08T06:30:00Z',
    '01:30',
  ],
  [
    'America/New_York',
    'spring forward (02:00 → 03:00)',
    '2026-03-08',
    '00:30',
    '2026-03-08T05:30:00Z',
    '00:30',
  ],
  ['America/New_York', 'fall back (02:00 → 01:00)', '2026-11-01', '02:30', '2026-11-01T07:30:00Z', '02:30'],
  ['America/New_York', 'fall back (02:00 → 01:00)', '2026-11-01', '01:30', '2026-11-01T05:30:00Z', '01:30'],
  ['America/New_York', 'fall back (02:00 → 01:00)', '2026-11-01', '00:30', '2026-11-01T04:30:00Z', '00:30'],
  // 30-minute DST: 02:00 → 02:30 and 02:00 → 01:30.
  [
    'Australia/Lord_Howe',
    'spring forward (02:00 → 02:30)',
    '2026-10-04',
    '02:15',
    '2026-10-03T15:30:00Z',
    '02:30',
  ],
  [
    'Australia/Lord_Howe',
    'spring forward (02:00 → 02:30)',
    '2026-10-04',
    '02:00',
    '2026-10-03T15:30:00Z',
    '02:30',
  ],
  [
    'Australia/Lord_Howe',
    'spring forward (02:00 → 02:30)',
    '2026-10-04',
    '02:30',
    '2026-10-03T15:30:00Z',
    '02:30',
  ],
  [
    'Australia/Lord_Howe',
    'fall back (02:00 → 01:30)',
    '2026-04-05',
    '01:45',
    '2026-04-04T14:45:00Z',
    '01:45',
  ],
  [
    'Australia/Lord_Howe',
    'fall back (02:00 → 01:30)',
    '2026-04-05',
    '01:30',
    '2026-04-04T14:30:00Z',
    '01:30',
  ],
  // Midnight changes: 00:00 does not exist in spring; 23:00-24:00 happens twice in autumn.
  [
    'America/Santiago',
    'spring forward (00:00 → 01:00)',
    '2026-09-06',
    '00:30',
    '2026-09-06T04:00:00Z',
    '01:00',
  ],
  ['America/Santiago', 'fall back (24:00 → 23:00)', '2026-04-04', '23:30', '2026-04-05T02:30:00Z', '23:30'],
  // Apia's last DST (2012 fall back 04:00 → 03:00, 2011 spring forward 03:00 → 04:00).
  ['Pacific/Apia', 'spring forward (03:00 → 04:00)', '2011-09-24', '03:30', '2011-09-24T14:00:00Z', '04:00'],
  ['Pacific/Apia', 'fall back (04:00 → 03:00)', '2012-04-01', '03:30', '2012-03-31T13:30:00Z', '03:30'],
])('T1 daily in %s on its %s day %s at %s', (tz, _kind, day, time, at, wall) => {
  const schedule = daily(time);
  // A minute after the run of the day before (resp. two days before).
  const minuteAfterRun = (daysBefore: number) => {
    const [h, m] = time.split(':').map(Number);
    const run = localToInstant(dateParts(nextDate(day, -daysBefore)), { hour: h, minute: m }, tz) as Date;
    return new Date(run.getTime() + 60_000);
  };
  const before = minuteAfterRun(1);
  const expectedAt = D(at);

  it(`runs once that day, at ${wall} local (${at})`, () => {
    const [on] = occurrences(schedule, tz, before, 1);
    expect(on.toISOString()).toBe(expectedAt.toISOString());
    expect(local(on, tz)).toBe(`${day} ${wall}`);
  });

  it('runs exactly once on the day before, the day and the day after, at the schedule time around it', () => {
    const runs = occurrences(schedule, tz, minuteAfterRun(2), 3);
    expect(runs.map((r) => wallClock(r, tz).date)).toEqual([nextDate(day, -1), day, nextDate(day, 1)]);
    expect(runs[1].toISOString()).toBe(expectedAt.toISOString());
    expect(local(runs[0], tz)).toBe(`${nextDate(day, -1)} ${time}`);
    expect(local(runs[2], tz)).toBe(`${nextDate(day, 1)} ${time}`);
  });

  it('the run after it, from any instant of the rest of that day, is the next day', () => {
    for (const offsetMin of [0, 1, 30, 59, 60, 61, 90, 120, 180]) {
      const next = nextOccurrence(schedule, tz, new Date(expectedAt.getTime() + offsetMin * 60_000));
      expect(wallClock(next, tz).date, `${offsetMin} min after`).toBe(nextDate(day, 1));
    }
  });

  it('is an occurrence; one minute on is not', () => {
    expect(isOccurrence(schedule, tz, expectedAt)).toBe(true);
    expect(isOccurrence(schedule, tz, new Date(expectedAt.getTime() + 60_000))).toBe(false);
  });
});

describe('T1 a whole year of daily occurrences: exactly one per local day', () => {
  it.each<[string, string]>([
    ['Europe/Berlin', '02:30'],
    ['Europe/Berlin', '01:30'],
    ['Europe/Berlin', '00:30'],
    ['America/New_York', '02:30'],
    ['America/New_York', '01:30'],
    ['America/New_York', '00:30'],
    ['Australia/Lord_Howe', '02:15'],
    ['Australia/Lord_Howe', '01:45'],
    ['America/Santiago', '00:30'],
    ['America/Santiago', '23:30'],
    ['Asia/Kolkata', '00:30'],
    ['Pacific/Apia', '00:30'],
    ['UTC', '00:30'],
  ])(
    '%s at %s: 365 runs on the 365 days of 2026, in order, a day apart give or take the DST change',
    (tz, time) => {
      const start = localToInstant({ year: 2025, month: 12, day: 31 }, { hour: 23, minute: 59 }, tz) as Date;
      const runs = occurrences(daily(time), tz, start, 365);
      const dates = runs.map((r) => wallClock(r, tz).date);
      expect(new Set(dates).size).toBe(365);
      expect(dates[0]).toBe('2026-01-01');
      expect(dates[364]).toBe('2026-12-31');
      dates.forEach((d, i) => {
        if (i) expect(d).toBe(nextDate(dates[i - 1]));
      });
      // Every run at the schedule's time, except on a spring-forward day when it does not exist.
      const offTime = runs.filter((r) => wallClock(r, tz).time !== time);
      expect(offTime.length).toBeLessThanOrEqual(1);
      for (let i = 1; i < runs.length; i++) {
        const gap = runs[i].getTime() - runs[i - 1].getTime();
        expect(gap).toBeGreaterThanOrEqual(DAY - 3_600_000);
        expect(gap).toBeLessThanOrEqual(DAY + 3_600_000);
      }
    },
  );
});

describe('T1 weekly on chosen days', () => {
  it('MON WED FRI at 09:00 in Europe/Berlin, from a Sunday', () => {
    const runs = occurrences(
      weekly(['MON', 'WED', 'FRI'], '09:00'),
      'Europe/Berlin',
      D('2026-06-14T10:00:00Z'),
      6,
    );
    expect(runs.map((r) => local(r, 'Europe/Berlin'))).toEqual([
      '2026-06-15 09:00',
      '2026-06-17 09:00',
      '2026-06-19 09:00',
      '2026-06-22 09:00',
      '2026-06-24 09:00',
      '2026-06-26 09:00',
    ]);
    expect(runs.map((r) => wallClock(r, 'Europe/Berlin').weekday)).toEqual([
      'MON',
      'WED',
      'FRI',
      'MON',
      'WED',
      'FRI',
    ]);
  });

  it('the order of the days does not matter', () => {
    const a = occurrences(weekly(['FRI', 'MON'], '18:45'), 'America/New_York', D('2026-02-01T00:00:00Z'), 8);
    const b = occurrences(weekly(['MON', 'FRI'], '18:45'), 'America/New_York', D('2026-02-01T00:00:00Z'), 8);
    expect(a).toEqual(b);
  });

  it('one day a week: seven days apart, later the same day when the time is still to come', () => {
    // Tuesday 2026-06-16 08:00 in Berlin: TUE 09:00 is still to come today.
    const runs = occurrences(weekly(['TUE'], '09:00'), 'Europe/Berlin', D('2026-06-16T06:00:00Z'), 3);
    expect(runs.map((r) => local(r, 'Europe/Berlin'))).toEqual([
      '2026-06-16 09:00',
      '2026-06-23 09:00',
      '2026-06-30 09:00',
    ]);
  });

  it('SUN 02:30 in Europe/Berlin on the spring-forward Sunday runs at 03:00, the other Sundays at 02:30', () => {
    const runs = occurrences(weekly(['SUN'], '02:30'), 'Europe/Berlin', D('2026-03-20T00:00:00Z'), 3);
    expect(runs.map((r) => local(r, 'Europe/Berlin'))).toEqual([
      '2026-03-22 02:30',
      '2026-03-29 03:00',
      '2026-04-05 02:30',
    ]);
  });

  it('SUN 01:30 in America/New_York on the fall-back Sunday runs once, at the first 01:30 (EDT)', () => {
    const runs = occurrences(weekly(['SUN'], '01:30'), 'America/New_York', D('2026-10-30T00:00:00Z'), 2);
    expect(runs.map((r) => r.toISOString())).toEqual([
      '2026-11-01T05:30:00.000Z',
      '2026-11-08T06:30:00.000Z',
    ]);
  });

  it('a whole year of a weekly MON THU schedule: 104 runs, only Mondays and Thursdays, none twice', () => {
    const runs = occurrences(
      weekly(['MON', 'THU'], '02:30'),
      'Europe/Berlin',
      D('2025-12-31T12:00:00Z'),
      104,
    );
    const dates = runs.map((r) => wallClock(r, 'Europe/Berlin'));
    expect(new Set(dates.map((d) => d.date)).size).toBe(104);
    expect(new Set(dates.map((d) => d.weekday))).toEqual(new Set(['MON', 'THU']));
    expect(dates.at(-1)?.date.startsWith('2026-12')).toBe(true);
  });
});

describe('T1 Asia/Kolkata (UTC+05:30, no DST)', () => {
  it.each<[string, string, string]>([
    ['00:30', '2026-06-15T10:00:00Z', '2026-06-15T19:00:00Z'],
    ['12:30', '2026-06-15T06:58:00Z', '2026-06-15T07:00:00Z'],
    ['23:45', '2026-06-15T10:00:00Z', '2026-06-15T18:15:00Z'],
    ['05:30', '2026-06-15T10:00:00Z', '2026-06-16T00:00:00Z'],
  ])('daily %s after %s → %s', (time, after, at) => {
    expect(nextOccurrence(daily(time), 'Asia/Kolkata', D(after)).toISOString()).toBe(D(at).toISOString());
  });

  it('runs every 24 hours exactly', () => {
    const runs = occurrences(daily('00:30'), 'Asia/Kolkata', D('2026-01-01T00:00:00Z'), 400);
    for (let i = 1; i < runs.length; i++) expect(runs[i].getTime() - runs[i - 1].getTime()).toBe(DAY);
  });
});

describe('T1 Pacific/Apia', () => {
  it('skipped 2011-12-30 entirely (UTC-10 → UTC+14): a daily schedule runs on the 29th and the 31st, not twice on the 31st', () => {
    for (const time of ['00:30', '12:00', '23:30']) {
      // 2011-12-28 00:00 in Apia (UTC-10).
      const runs = occurrences(daily(time), 'Pacific/Apia', D('2011-12-28T10:00:00Z'), 4);
      expect(
        runs.map((r) => wallClock(r, 'Pacific/Apia').date),
        time,
      ).toEqual(['2011-12-28', '2011-12-29', '2011-12-31', '2012-01-01']);
      expect(runs.every((r) => wallClock(r, 'Pacific/Apia').time === time)).toBe(true);
    }
  });

  it('today (UTC+13, no DST since 2021): 00:30 is 11:30 UTC the day before', () => {
    expect(nextOccurrence(daily('00:30'), 'Pacific/Apia', D('2026-06-15T00:00:00Z')).toISOString()).toBe(
      '2026-06-15T11:30:00.000Z',
    );
  });
});

describe('T1 UTC and the edges of "strictly after"', () => {
  it('the default schedule in UTC runs at 00:30 UTC', () => {
    expect(nextOccurrence(DEFAULT_SCHEDULE, 'UTC', D('2026-06-15T00:29:59.999Z')).toISOString()).toBe(
      '2026-06-15T00:30:00.000Z',
    );
  });

  it('an instant that is an occurrence is not after itself: the next one is the following day', () => {
    expect(nextOccurrence(DEFAULT_SCHEDULE, 'UTC', D('2026-06-15T00:30:00.000Z')).toISOString()).toBe(
      '2026-06-16T00:30:00.000Z',
    );
  });

  it('23:59 and 00:00 around the turn of a year', () => {
    expect(nextOccurrence(daily('23:59'), 'UTC', D('2026-12-31T23:58:30Z')).toISOString()).toBe(
      '2026-12-31T23:59:00.000Z',
    );
    expect(nextOccurrence(daily('00:00'), 'UTC', D('2026-12-31T23:58:30Z')).toISOString()).toBe(
      '2027-01-01T00:00:00.000Z',
    );
  });

  it('a leap day runs', () => {
    const runs = occurrences(daily('12:00'), 'UTC', D('2028-02-28T13:00:00Z'), 2);
    expect(runs.map((r) => r.toISOString().slice(0, 10))).toEqual(['2028-02-29', '2028-03-01']);
  });

  it('the same schedule in another zone is another instant (a time zone change moves the run)', () => {
    const at = nextOccurrence(DEFAULT_SCHEDULE, 'Europe/Berlin', D('2026-06-15T12:00:00Z'));
    expect(isOccurrence(DEFAULT_SCHEDULE, 'Europe/Berlin', at)).toBe(true);
    expect(isOccurrence(DEFAULT_SCHEDULE, 'Asia/Kolkata', at)).toBe(false);
    expect(isOccurrence(daily('00:45'), 'Europe/Berlin', at)).toBe(false);
  });
});
