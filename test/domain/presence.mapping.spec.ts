import { describe, expect, it } from 'vitest';
import {
  applyTeamsReading,
  chunked,
  customEntries,
  DEFAULT_PRESENCE_MAPPING,
  effectiveMapping,
  NO_PRESENCE,
  PRESENCE_QUOTA,
  presenceIntervalForRequests,
  presencePollInterval,
  presenceRoundRequests,
  remapPresence,
  setManualPresence,
  teamsStateOf,
} from '../../src/domain/presence.mapping.js';

const now = new Date('2026-12-07T15:00:00Z');
const later = new Date('2026-12-07T15:01:00Z');

describe('presence mapping (P2)', () => {
  it('P2 default mapping: Available→Available, Busy→Away, Do not disturb→Do Not Disturb, Be right back→Away, Appear away→Off Work, Appear offline→Off Work', () => {
    const m = DEFAULT_PRESENCE_MAPPING;
    const status = (availability: string) => m[teamsStateOf(availability) as keyof typeof m];
    expect(status('Available')).toBe('AVAILABLE');
    expect(status('AvailableIdle')).toBe('AVAILABLE');
    expect(status('Busy')).toBe('AWAY');
    expect(status('BusyIdle')).toBe('AWAY');
    expect(status('DoNotDisturb')).toBe('DO_NOT_DISTURB');
    expect(status('BeRightBack')).toBe('AWAY');
    expect(status('Away')).toBe('OFF_WORK');
    expect(status('Offline')).toBe('OFF_WORK');
    expect(teamsStateOf('PresenceUnknown')).toBeNull();
  });

  it('P2 a custom mapping replaces only the states it names; only entries unlike the default are worth storing', () => {
    const m = effectiveMapping({ BUSY: 'DO_NOT_DISTURB', APPEAR_AWAY: 'LUNCH_BREAK' });
    expect(m).toEqual({ ...DEFAULT_PRESENCE_MAPPING, BUSY: 'DO_NOT_DISTURB', APPEAR_AWAY: 'LUNCH_BREAK' });
    expect(customEntries({ BUSY: 'DO_NOT_DISTURB', AVAILABLE: 'AVAILABLE' })).toEqual({
      BUSY: 'DO_NOT_DISTURB',
    });
    expect(effectiveMapping(null)).toEqual(DEFAULT_PRESENCE_MAPPING);
  });
});

describe('applying a Teams reading (P2, P3)', () => {
  it('P2 the first reading sets the mapped status, source TEAMS, the reading and the time', () => {
    expect(
      applyTeamsReading(
        NO_PRESENCE,
        { availability: 'Busy', activity: 'InACall' },
        DEFAULT_PRESENCE_MAPPING,
        now,
      ),
    ).toEqual({
      status: 'AWAY',
      source: 'TEAMS',
      teamsAvailability: 'Busy',
      teamsActivity: 'InACall',
      changedAt: now,
    });
  });

  it('P2 the same reading again changes nothing (nothing written, nothing published); a new activity is a change', () => {
    const cur = applyTeamsReading(
      NO_PRESENCE,
      { availability: 'Busy', activity: 'InACall' },
      DEFAULT_PRESENCE_MAPPING,
      now,
    );
    if (!cur) throw new Error('expected a change');
    expect(
      applyTeamsReading(cur, { availability: 'Busy', activity: 'InACall' }, DEFAULT_PRESENCE_MAPPING, later),
    ).toBeNull();
    expect(
      applyTeamsReading(
        cur,
        { availability: 'Busy', activity: 'InAMeeting' },
        DEFAULT_PRESENCE_MAPPING,
        later,
      ),
    ).toMatchObject({ status: 'AWAY', teamsActivity: 'InAMeeting', changedAt: later });
  });

  it('P3 a status set by hand stays while Teams says the same, and gives way when Teams changes', () => {
    const teams = applyTeamsReading(
      NO_PRESENCE,
      { availability: 'Available', activity: 'Available' },
      DEFAULT_PRESENCE_MAPPING,
      now,
    );
    if (!teams) throw new Error('expected a change');
    const manual = setManualPresence(teams, 'LUNCH_BREAK', now);
    expect(manual).toMatchObject({ status: 'LUNCH_BREAK', source: 'MANUAL', teamsAvailability: 'Available' });
    expect(
      applyTeamsReading(
        manual,
        { availability: 'Available', activity: 'Available' },
        DEFAULT_PRESENCE_MAPPING,
        later,
      ),
    ).toBeNull();
    expect(remapPresence(manual, effectiveMapping({ AVAILABLE: 'AWAY' }), later)).toBeNull();
    expect(
      applyTeamsReading(
        manual,
        { availability: 'DoNotDisturb', activity: 'Presenting' },
        DEFAULT_PRESENCE_MAPPING,
        later,
      ),
    ).toMatchObject({ status: 'DO_NOT_DISTURB', source: 'TEAMS' });
  });

  it('PresenceUnknown changes nothing', () => {
    expect(
      applyTeamsReading(
        NO_PRESENCE,
        { availability: 'PresenceUnknown', activity: 'PresenceUnknown' },
        DEFAULT_PRESENCE_MAPPING,
        now,
      ),
    ).toBeNull();
  });

  it('P2 a new mapping re-maps what Teams last said', () => {
    const cur = applyTeamsReading(
      NO_PRESENCE,
      { availability: 'Busy', activity: 'Busy' },
      DEFAULT_PRESENCE_MAPPING,
      now,
    );
    if (!cur) throw new Error('expected a change');
    expect(remapPresence(cur, effectiveMapping({ BUSY: 'DO_NOT_DISTURB' }), later)).toMatchObject({
      status: 'DO_NOT_DISTURB',
      source: 'TEAMS',
      changedAt: later,
    });
    expect(remapPresence(cur, DEFAULT_PRESENCE_MAPPING, later)).toBeNull();
    expect(remapPresence(NO_PRESENCE, DEFAULT_PRESENCE_MAPPING, later)).toBeNull();
  });
});

describe('polling within the quota', () => {
  it('chunks of 650 ids; the interval keeps one round a interval within half of 1,500 requests per 30 s', () => {
    expect(chunked(Array.from({ length: 1301 }, (_, i) => i)).map((c) => c.length)).toEqual([650, 650, 1]);
    expect(presencePollInterval(10_000, 2000)).toBe(2000);
    const interval = presencePollInterval(100_000, 2000);
    const requestsPerWindow = (Math.ceil(100_000 / 650) * PRESENCE_QUOTA.windowMs) / interval;
    expect(requestsPerWindow).toBeLessThanOrEqual(PRESENCE_QUOTA.requests / 2);
    expect(interval).toBeLessThan(7000);
    // 1,000,000 users: still half the quota at most
    const big = presencePollInterval(1_000_000, 2000);
    expect((Math.ceil(1_000_000 / 650) * PRESENCE_QUOTA.windowMs) / big).toBeLessThanOrEqual(750);
  });
});

describe('issue 15: requests a round and the shared quota', () => {
  it('a PBX sends its polled users in chunks of 650, plus one request when a subscription covers some', () => {
    expect(presenceRoundRequests(10_000, 0)).toBe(16);
    expect(presenceRoundRequests(10_000, 650)).toBe(15 + 1);
    expect(presenceRoundRequests(650, 650)).toBe(1);
    expect(presenceRoundRequests(0, 0)).toBe(0);
  });
  it('PBXs of one app and tenant plan for their sum: two of 100,000 users each poll half as often as one', () => {
    const one = presenceIntervalForRequests(presenceRoundRequests(100_000, 0), 2000);
    const two = presenceIntervalForRequests(2 * presenceRoundRequests(100_000, 0), 2000);
    expect(one).toBe(presencePollInterval(100_000, 2000));
    expect(two).toBeGreaterThanOrEqual(2 * one - 1);
    // within 45 % of 1,500 per 30 s together
    expect((2 * presenceRoundRequests(100_000, 0) * 30_000) / two).toBeLessThanOrEqual(0.45 * 1500);
  });
});
