import type { Job } from 'bullmq';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { QueueName } from '../../jobs/contracts.js';
import { scheduledSyncJobId } from '../../jobs/scheduled-sync.queue.js';
import { DEFAULT_SCHEDULE, nextOccurrence, type Schedule, wallClock } from '../../src/domain/schedule.js';
import {
  DisableDocument,
  EnableDocument,
  SaveScheduleDocument,
  SaveUserSyncRuleDocument,
  ScheduleDocument,
  SyncRunsDocument,
  UpdatePbxDocument,
} from '../generated/graphql.js';
import { describeEachDb } from '../support/db.js';
import { type E2e, startE2e } from '../support/e2e.js';
import { gql } from '../support/gateway.js';
import { waitForRun } from '../support/sandbox.js';
import { eventually } from '../support/wait.js';
import { errorsOf, USER_RULE } from './sync-world.js';

const KOLKATA = 'Asia/Kolkata';
const DAY = 86_400_000;

/** When BullMQ will promote a delayed job. */
const dueAt = (job: Job) => job.timestamp + (job.delay ?? 0);

describeEachDb('T1 scheduled sync', (leg) => {
  let w: E2e;

  const system = () => w.gateway.queues.queue(QueueName.System);
  /** This PBX's scheduled-sync jobs in the given states. */
  const scheduled = async (states: Array<'delayed' | 'waiting' | 'active' | 'completed' | 'failed'>) =>
    (await system().getJobs(states)).filter((j) => j.name === 'scheduled-sync' && j.data.pbxId === w.pbx.id);
  /** Waits until no ensure-schedules job is waiting or running. */
  const ensuresDone = () =>
    eventually(
      async () => {
        const pending = await system().getJobs(['waiting', 'active', 'prioritized']);
        return !pending.some((j) => j.name === 'ensure-schedules');
      },
      { timeout: 20_000, interval: 100, message: 'ensure-schedules jobs to finish' },
    );
  const scheduleRuns = async () => {
    const res = await gql(w.gateway.url, w.keys.admin, SyncRunsDocument, { first: 100 });
    return (res.body.data?.syncRuns.nodes ?? []).filter((r) => r.trigger === 'SCHEDULE');
  };
  const save = (
    input: {
      frequency: 'DAILY' | 'WEEKLY';
      days?: Array<'MON' | 'TUE' | 'WED' | 'THU' | 'FRI' | 'SAT' | 'SUN'>;
      time: string;
    },
    key = w.keys.admin,
  ) => gql(w.gateway.url, key, SaveScheduleDocument, { input });
  const waitForState = (id: string, state: string) =>
    eventually(
      async () => {
        // The state first, then the job: a job read before it finished would carry no return value.
        if ((await system().getJobState(id)) !== state) return false;
        return (await system().getJob(id)) ?? false;
      },
      { timeout: 20_000, interval: 100, message: `job ${id} to be ${state}` },
    );

  beforeAll(async () => {
    w = await startE2e({ leg, sandbox: { users: 20, groups: 3, seed: 23 } });
    // The connect queued an ensure of this PBX's schedule; let it (and the worker-start one) land.
    await eventually(
      async () =>
        (await system().getJobs(['completed'])).some(
          (j) => j.name === 'ensure-schedules' && j.data.pbxId === w.pbx.id,
        ),
      { timeout: 20_000, interval: 100, message: 'the ensure of this PBX after connect' },
    );
    await ensuresDone();
    const saved = await gql(w.gateway.url, w.keys.admin, SaveUserSyncRuleDocument, { input: USER_RULE });
    const initial = saved.body.data?.saveUserSyncRule.initialRun?.id as string;
    expect((await waitForRun(w.gateway.url, w.keys.admin, initial)).status).toBe('SUCCEEDED');
  });
  afterAll(async () => {
    await w?.close();
  });

  it('by default daily at 00:30 in the PBX time zone, its next run queued once; a time zone change moves it', async () => {
    const before = await scheduled(['delayed']);
    expect(before.map(dueAt)).toEqual([nextOccurrence(DEFAULT_SCHEDULE, 'UTC', new Date()).getTime()]);

    const moved = await gql(w.gateway.url, w.keys.admin, UpdatePbxDocument, { input: { timeZone: KOLKATA } });
    expect(moved.body.errors).toBeUndefined();
    const expected = nextOccurrence(DEFAULT_SCHEDULE, KOLKATA, new Date());
    const res = await gql(w.gateway.url, w.keys.viewer, ScheduleDocument);
    expect(res.body.data?.schedule).toEqual({
      frequency: 'DAILY',
      days: [],
      time: '00:30',
      timeZone: KOLKATA,
      nextRunAt: expected.toISOString(),
    });
    const after = await scheduled(['delayed']);
    expect(after.map((j) => [j.id, dueAt(j)])).toEqual([
      [scheduledSyncJobId(w.pbx.id, expected), expected.getTime()],
    ]);
    expect(wallClock(new Date(dueAt(after[0])), KOLKATA).time).toBe('00:30');
  });

  let dueMs = 0;

  it('a schedule saved for 2 minutes from now in Asia/Kolkata: exactly one delayed job, due at that instant', async () => {
    const now = Date.now();
    const time = wallClock(new Date(now + 2 * 60_000), KOLKATA).time;
    const schedule: Schedule = { frequency: 'DAILY', days: [], time };
    const expected = nextOccurrence(schedule, KOLKATA, new Date(now));
    dueMs = expected.getTime();
    // HH:MM in Kolkata 2 minutes on: due in 1 to 2 minutes, at 00 seconds; not that time in UTC.
    expect(dueMs - now).toBeGreaterThan(60_000);
    expect(dueMs - now).toBeLessThanOrEqual(120_000);
    expect(expected.toISOString().slice(11, 16)).not.toBe(time);

    const res = await save({ frequency: 'DAILY', time });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.saveSchedule).toEqual({
      frequency: 'DAILY',
      days: [],
      time,
      timeZone: KOLKATA,
      nextRunAt: expected.toISOString(),
    });

    const delayed = await scheduled(['delayed', 'waiting', 'active']);
    expect(delayed).toHaveLength(1);
    expect(delayed[0].id).toBe(scheduledSyncJobId(w.pbx.id, expected));
    expect(delayed[0].data).toEqual({ pbxId: w.pbx.id, at: dueMs });
    expect(dueAt(delayed[0])).toBe(dueMs);
    expect(await delayed[0].getState()).toBe('delayed');
  });

  it('promoted to run now, it queues exactly one SCHEDULE run, and the next occurrence one day later', async () => {
    expect(Date.now()).toBeLessThan(dueMs);
    const [job] = await scheduled(['delayed']);
    expect(await scheduleRuns()).toHaveLength(0);
    await job.promote();

    const done = await waitForState(job.id as string, 'completed');
    expect(done.returnvalue).toMatchObject({ outcome: 'QUEUED', next: new Date(dueMs + DAY).toISOString() });
    const runs = await scheduleRuns();
    expect(runs).toHaveLength(1);
    expect(runs[0].id).toBe(done.returnvalue.runId);
    // A scheduled run covers contacts too (T1, C1–C4); without a contact rule they are left out quietly.
    expect(runs[0].scopes.sort()).toEqual(['CONTACTS', 'GROUPS', 'USERS']);
    const run = await waitForRun(w.gateway.url, w.keys.admin, runs[0].id);
    expect(run.status, run.error ?? '').toBe('SUCCEEDED');

    const next = await scheduled(['delayed', 'waiting', 'active']);
    expect(next.map((j) => [j.id, dueAt(j)])).toEqual([
      [scheduledSyncJobId(w.pbx.id, new Date(dueMs + DAY)), dueMs + DAY],
    ]);
    // Ensuring again (as at every worker start, and hourly) adds nothing, and no second run follows.
    await w.gateway.queues.enqueue('ensure-schedules', {});
    await w.gateway.queues.enqueue('ensure-schedules', { pbxId: w.pbx.id });
    await ensuresDone();
    expect((await scheduled(['delayed', 'waiting', 'active'])).map((j) => j.id)).toEqual(
      next.map((j) => j.id),
    );
    expect(await scheduleRuns()).toHaveLength(1);
  });

  it('saving again replaces the pending job (the one after an early run too); so does a time zone change', async () => {
    const weekly: Schedule = { frequency: 'WEEKLY', days: ['MON', 'THU'], time: '09:15' };
    const res = await save({ frequency: 'WEEKLY', days: ['THU', 'MON', 'THU'], time: '09:15' });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.saveSchedule.days).toEqual(['MON', 'THU']);
    const inKolkata = nextOccurrence(weekly, KOLKATA, new Date());
    expect((await scheduled(['delayed', 'waiting'])).map(dueAt)).toEqual([inKolkata.getTime()]);
    expect(await system().getJob(scheduledSyncJobId(w.pbx.id, new Date(dueMs + DAY)))).toBeUndefined();

    await gql(w.gateway.url, w.keys.admin, UpdatePbxDocument, { input: { timeZone: 'America/New_York' } });
    const inNewYork = nextOccurrence(weekly, 'America/New_York', new Date());
    expect((await scheduled(['delayed', 'waiting'])).map(dueAt)).toEqual([inNewYork.getTime()]);
    const shown = (await gql(w.gateway.url, w.keys.viewer, ScheduleDocument)).body.data?.schedule;
    expect(shown).toMatchObject({
      frequency: 'WEEKLY',
      days: ['MON', 'THU'],
      time: '09:15',
      timeZone: 'America/New_York',
    });
    expect(shown?.nextRunAt).toBe(inNewYork.toISOString());
    expect(wallClock(inNewYork, 'America/New_York')).toMatchObject({ time: '09:15' });
    expect(['MON', 'THU']).toContain(wallClock(inNewYork, 'America/New_York').weekday);
  });

  it('a trigger left from an older schedule does nothing when it comes', async () => {
    // Half past a minute: no schedule runs then.
    const stale = new Date(Date.now() + 3_600_000 - (Date.now() % 60_000) + 30_000);
    await w.gateway.services.scheduleQueue.ensure(w.pbx.id, stale);
    const job = await system().getJob(scheduledSyncJobId(w.pbx.id, stale));
    await job?.promote();
    const done = await waitForState(job?.id as string, 'completed');
    expect(done.returnvalue).toMatchObject({ outcome: 'STALE', runId: null });
    expect(await scheduleRuns()).toHaveLength(1);
    expect((await scheduled(['delayed', 'waiting'])).map(dueAt)).toEqual([
      nextOccurrence(
        { frequency: 'WEEKLY', days: ['MON', 'THU'], time: '09:15' },
        'America/New_York',
        new Date(),
      ).getTime(),
    ]);
  });

  it('saveSchedule: INVALID_INPUT names the field; a VIEWER may look but not save', async () => {
    for (const [input, field] of [
      [{ frequency: 'DAILY', time: '24:00' }, 'time'],
      [{ frequency: 'DAILY', time: '7:30' }, 'time'],
      [{ frequency: 'WEEKLY', days: [], time: '07:30' }, 'days'],
      [{ frequency: 'WEEKLY', time: '07:30' }, 'days'],
    ] as const) {
      const res = await save(input as Parameters<typeof save>[0]);
      expect(errorsOf(res)[0], JSON.stringify(input)).toMatchObject({ code: 'INVALID_INPUT', field });
    }
    const viewer = await save({ frequency: 'DAILY', time: '01:00' }, w.keys.viewer);
    expect(errorsOf(viewer)[0]?.code).toBe('FORBIDDEN');
    const linkus = await gql(w.gateway.url, w.keys.linkus, ScheduleDocument);
    expect(errorsOf(linkus)[0]?.code).toBe('FORBIDDEN');
    // Nothing changed.
    expect((await gql(w.gateway.url, w.keys.admin, ScheduleDocument)).body.data?.schedule.time).toBe('09:15');
  });

  it('L6: while the integration is disabled the schedule cannot be saved, and a due trigger runs nothing', async () => {
    const disabled = await gql(w.gateway.url, w.keys.admin, DisableDocument, {
      deleteExtensions: false,
      deleteGroups: false,
    });
    expect(disabled.body.errors).toBeUndefined();
    const res = await save({ frequency: 'DAILY', time: '01:00' });
    expect(errorsOf(res)[0]?.code).toBe('INVALID_STATE');
    expect((await gql(w.gateway.url, w.keys.viewer, ScheduleDocument)).body.data?.schedule.time).toBe(
      '09:15',
    );

    const [job] = await scheduled(['delayed']);
    await job.promote();
    const done = await waitForState(job.id as string, 'completed');
    expect(done.returnvalue).toMatchObject({ outcome: 'SKIPPED', runId: null });
    expect(await scheduleRuns()).toHaveLength(1);
    // The chain goes on: the following occurrence is queued.
    const next = await scheduled(['delayed']);
    expect(next).toHaveLength(1);
    expect(dueAt(next[0])).toBeGreaterThan(dueAt(job));

    expect((await gql(w.gateway.url, w.keys.admin, EnableDocument)).body.errors).toBeUndefined();
    expect((await save({ frequency: 'DAILY', time: '01:00' })).body.errors).toBeUndefined();
  });
});
