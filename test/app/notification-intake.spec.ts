import { describe, expect, it } from 'vitest';
import { hashClientState } from '../../src/app/change-notifications.js';
import {
  createNotificationIntake,
  InvalidNotificationBody,
  KnownSubscriptions,
  PRESENCE_SUBSCRIPTION_RESOURCE,
} from '../../src/app/notification-intake.js';
import type { NotificationQueue, SubscriptionRecord } from '../../src/app/ports/change-notifications.port.js';

const STATE_A = 'a'.repeat(43);
const STATE_B = 'b'.repeat(43);
const sub = (id: string, pbxId: string, state: string): SubscriptionRecord => ({
  id,
  pbxId,
  resource: 'users',
  expiresAt: new Date(0),
  clientStateHash: hashClientState(state).toString('hex'),
});

function world(rows: SubscriptionRecord[] = [sub('s1', 'p1', STATE_A), sub('s2', 'p2', STATE_B)]) {
  let clock = 0;
  let version = '1';
  let versionReads = 0;
  const loads: number[] = [];
  const queued: Array<{ pbxId: string; count: number; missed: boolean }> = [];
  const lifecycle: Array<{ subscriptionId: string; event: string }> = [];
  const presence: Array<{ pbxId: string; userIds: string[] }> = [];
  const logs: string[] = [];
  const known = new KnownSubscriptions({
    load: async () => {
      loads.push(clock);
      return rows;
    },
    version: {
      current: async () => {
        versionReads++;
        return version;
      },
      bump: async () => {
        version = String(Number(version) + 1);
      },
    },
    now: () => clock,
  });
  const queue: NotificationQueue = {
    changesArrived: async (pbxId, count, opts) => {
      queued.push({ pbxId, count, missed: Boolean(opts?.missed) });
    },
    presenceChanged: async (pbxId, userIds) => {
      presence.push({ pbxId, userIds: [...userIds] });
    },
    lifecycleArrived: async (subscriptionId, event) => {
      lifecycle.push({ subscriptionId, event });
    },
  };
  const intake = createNotificationIntake({
    known,
    queue,
    log: (_level, message) => logs.push(message),
    maxItems: 1000,
    now: () => clock,
  });
  return {
    intake,
    known,
    loads,
    queued,
    lifecycle,
    presence,
    logs,
    tick: (ms: number) => {
      clock += ms;
    },
    bump: () => {
      version = String(Number(version) + 1);
    },
    versionReads: () => versionReads,
  };
}

const forged = (n: number, id = 's1') =>
  Array.from({ length: n }, (_, i) => ({
    subscriptionId: i % 2 ? id : `x-${i}`,
    clientState: `forged-${i}`,
  }));

describe('the webhook intake: checked in memory, counted per PBX, handed to a job (issue 12 item 1)', () => {
  it('drops forged items without loading anything per item or queueing anything', async () => {
    const w = world();
    for (let i = 0; i < 20; i++) {
      const r = await w.intake.changes({ value: forged(1000) });
      expect(r).toEqual({ accepted: 0, rejected: 1000, ignored: 0 });
    }
    expect(w.loads).toHaveLength(1); // the cache, once
    expect(w.queued).toEqual([]);
    // one log line for the flood, not one per body
    expect(w.logs.filter((l) => l.includes('dropped'))).toHaveLength(1);
  });

  it('counts valid items per PBX, one hand-over per PBX and body', async () => {
    const w = world();
    const r = await w.intake.changes({
      value: [
        { subscriptionId: 's1', clientState: STATE_A },
        { subscriptionId: 's1', clientState: STATE_A },
        { subscriptionId: 's2', clientState: STATE_B },
        { subscriptionId: 's2', clientState: STATE_A }, // another subscription's clientState
        { subscriptionId: 's1', clientState: `${STATE_A}x` },
        { subscriptionId: 's1', clientState: 'y'.repeat(200) }, // longer than Graph allows
      ],
    });
    expect(r).toEqual({ accepted: 3, rejected: 3, ignored: 0 });
    expect(w.queued).toEqual([
      { pbxId: 'p1', count: 2, missed: false },
      { pbxId: 'p2', count: 1, missed: false },
    ]);
  });

  it('looks at no more than maxItems items of a body', async () => {
    const w = world();
    const items = Array.from({ length: 1500 }, () => ({ subscriptionId: 's1', clientState: STATE_A }));
    expect(await w.intake.changes({ value: items })).toEqual({ accepted: 1000, rejected: 0, ignored: 500 });
    expect(w.queued).toEqual([{ pbxId: 'p1', count: 1000, missed: false }]);
  });

  it('refuses a body that is not {"value": [...]}', async () => {
    const w = world();
    await expect(w.intake.changes({ nope: 1 })).rejects.toBeInstanceOf(InvalidNotificationBody);
    await expect(w.intake.changes(null)).rejects.toBeInstanceOf(InvalidNotificationBody);
    expect(w.loads).toHaveLength(0);
  });

  it('reloads when the shared version moves or the cache is a minute old, never for an unknown id', async () => {
    const w = world();
    await w.intake.changes({ value: forged(10) });
    w.tick(1000);
    await w.intake.changes({ value: forged(10) });
    expect(w.loads).toHaveLength(1);
    // A flood of unknown ids looks at the version (Redis) every 20 ms at most, and loads nothing.
    for (let i = 0; i < 50; i++) {
      w.tick(5);
      await w.intake.changes({ value: forged(10) });
    }
    expect(w.loads).toHaveLength(1);
    expect(w.versionReads()).toBeLessThanOrEqual(2 + 250 / 20 + 1);
    w.bump();
    w.tick(300);
    await w.intake.changes({ value: forged(10) });
    expect(w.loads).toHaveLength(2);
    w.tick(100);
    w.bump();
    // Known ids only: the version is looked at no more than every 250 ms.
    await w.intake.changes({ value: [{ subscriptionId: 's1', clientState: STATE_A }] });
    expect(w.loads).toHaveLength(2);
    w.tick(61_000);
    await w.intake.changes({ value: [{ subscriptionId: 's1', clientState: STATE_A }] });
    expect(w.loads).toHaveLength(3);
  });

  it('a subscription saved a moment after the cache was checked is known to its first notification (answered 202, a dropped lifecycle event never comes back)', async () => {
    const rows = [sub('s1', 'p1', STATE_A)];
    const w = world(rows);
    await w.intake.changes({ value: [{ subscriptionId: 's1', clientState: STATE_A }] });
    // s2 is made and saved 30 ms later; its first lifecycle event comes 30 ms after that.
    w.tick(30);
    rows.push(sub('s2', 'p2', STATE_B));
    w.bump();
    w.tick(30);
    const r = await w.intake.lifecycle({
      value: [{ subscriptionId: 's2', clientState: STATE_B, lifecycleEvent: 'reauthorizationRequired' }],
    });
    expect(r).toEqual({ accepted: 1, rejected: 0, ignored: 0 });
    expect(w.lifecycle).toEqual([{ subscriptionId: 's2', event: 'reauthorizationRequired' }]);
    // and a change notification of it, the same
    rows.push(sub('s3', 'p3', STATE_A));
    w.bump();
    w.tick(30);
    expect(await w.intake.changes({ value: [{ subscriptionId: 's3', clientState: STATE_A }] })).toEqual({
      accepted: 1,
      rejected: 0,
      ignored: 0,
    });
    // a wrong clientState of a known id is refused without looking again
    const loads = w.loads.length;
    const reads = w.versionReads();
    w.tick(30);
    await w.intake.changes({ value: [{ subscriptionId: 's3', clientState: STATE_B }] });
    expect([w.loads.length, w.versionReads()]).toEqual([loads, reads]);
  });

  it('lifecycle: missed asks for a run through the change count, the others go to a job once per body', async () => {
    const w = world();
    const r = await w.intake.lifecycle({
      value: [
        { subscriptionId: 's1', clientState: STATE_A, lifecycleEvent: 'missed' },
        { subscriptionId: 's1', clientState: STATE_A, lifecycleEvent: 'missed' },
        { subscriptionId: 's2', clientState: STATE_B, lifecycleEvent: 'reauthorizationRequired' },
        { subscriptionId: 's2', clientState: STATE_B, lifecycleEvent: 'reauthorizationRequired' },
        { subscriptionId: 's2', clientState: 'forged', lifecycleEvent: 'subscriptionRemoved' },
        { subscriptionId: 's1', clientState: STATE_A, lifecycleEvent: 'somethingElse' },
      ],
    });
    expect(r).toEqual({ accepted: 4, rejected: 2, ignored: 0 });
    expect(w.queued).toEqual([{ pbxId: 'p1', count: 0, missed: true }]);
    expect(w.lifecycle).toEqual([{ subscriptionId: 's2', event: 'reauthorizationRequired' }]);
  });

  it('issue 15: items of a presence subscription hand the notified user ids to the PBX’s next presence round, not a sync', async () => {
    const u1 = '11111111-1111-4111-8111-111111111111';
    const u2 = '22222222-2222-4222-8222-222222222222';
    const w = world([
      sub('s1', 'p1', STATE_A),
      { ...sub('sp', 'p1', STATE_B), resource: PRESENCE_SUBSCRIPTION_RESOURCE },
    ]);
    const r = await w.intake.changes({
      value: [
        { subscriptionId: 'sp', clientState: STATE_B, resourceData: { id: u1 } },
        { subscriptionId: 'sp', clientState: STATE_B, resourceData: { id: u2 } },
        { subscriptionId: 'sp', clientState: STATE_B, resourceData: { id: 'not-a-user' } },
        { subscriptionId: 'sp', clientState: STATE_A, resourceData: { id: u1 } },
        { subscriptionId: 's1', clientState: STATE_A },
      ],
    });
    expect(r).toEqual({ accepted: 3, rejected: 2, ignored: 0 });
    expect(w.presence).toEqual([{ pbxId: 'p1', userIds: [u1, u2] }]);
    expect(w.queued).toEqual([{ pbxId: 'p1', count: 1, missed: false }]);
  });
});
