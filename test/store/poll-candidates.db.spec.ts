import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { pbxsDueForPoll } from '../../src/app/change-notifications.js';
import { PRESENCE_SUBSCRIPTION_RESOURCE } from '../../src/app/notification-intake.js';
import { IntegrationStatus } from '../../src/domain/integration.js';
import { describeEachDb, useStore } from '../support/db.js';

/**
 * T2 without change notifications, for a fleet (issue 16 item 4): the minute's delta poll
 * finds the PBXs it is due for with one query (`sync.pollCandidates`), instead of reading the
 * integration, settings and subscriptions of every PBX in turn.
 */
describeEachDb('delta polls due across a fleet (T2, issue 16 item 4)', (leg) => {
  const t = useStore(leg);
  const NOW = new Date('2030-03-01T12:00:00.000Z');
  const minutesAgo = (m: number) => new Date(NOW.getTime() - m * 60_000);

  /** A PBX with its integration, delta links and subscriptions as given. */
  const pbx = async (o: {
    status?: IntegrationStatus;
    deltaLinks?: 'both' | 'users only' | 'none';
    lastPolledAt?: Date | null;
    pollMinutes?: number;
    subscriptions?: string[];
  }) => {
    const id = await t.pbx();
    const store = t.store();
    await store.integrations.update(id, { status: o.status ?? IntegrationStatus.CONNECTED });
    const links = o.deltaLinks ?? 'both';
    await store.sync.updateSettings(id, {
      usersDeltaLink: links === 'none' ? null : `https://graph.example/users/delta?$deltatoken=${id}`,
      groupsDeltaLink: links === 'both' ? `https://graph.example/groups/delta?$deltatoken=${id}` : null,
      lastPolledAt: o.lastPolledAt ?? null,
      pollMinutes: o.pollMinutes ?? 5,
    });
    for (const resource of o.subscriptions ?? []) {
      await store.subscriptions.save({
        id: randomUUID(),
        pbxId: id,
        resource,
        expiresAt: new Date('2030-06-01T00:00:00.000Z'),
        clientStateHash: 'a'.repeat(64),
      });
    }
    return id;
  };

  it('lists the connected PBXs with both delta links and no directory subscription, with their last poll', async () => {
    const never = await pbx({});
    const polled = await pbx({ lastPolledAt: minutesAgo(2), pollMinutes: 10 });
    const presenceOnly = await pbx({ subscriptions: [PRESENCE_SUBSCRIPTION_RESOURCE] });
    const notified = await pbx({ subscriptions: ['users', 'groups'] });
    const notifiedAndPresence = await pbx({ subscriptions: ['users', PRESENCE_SUBSCRIPTION_RESOURCE] });
    const disabled = await pbx({ status: IntegrationStatus.DISABLED });
    const notConnected = await pbx({ status: IntegrationStatus.NOT_CONNECTED });
    const halfRead = await pbx({ deltaLinks: 'users only' });
    const neverRead = await pbx({ deltaLinks: 'none' });

    const mine = new Set([
      never,
      polled,
      presenceOnly,
      notified,
      notifiedAndPresence,
      disabled,
      notConnected,
      halfRead,
      neverRead,
    ]);
    const found = (await t.store().sync.pollCandidates([PRESENCE_SUBSCRIPTION_RESOURCE])).filter((c) =>
      mine.has(c.pbxId),
    );
    expect(found.sort((a, b) => a.pbxId.localeCompare(b.pbxId))).toEqual(
      [
        { pbxId: never, lastPolledAt: null, pollMinutes: 5 },
        { pbxId: polled, lastPolledAt: minutesAgo(2), pollMinutes: 10 },
        { pbxId: presenceOnly, lastPolledAt: null, pollMinutes: 5 },
      ].sort((a, b) => a.pbxId.localeCompare(b.pbxId)),
    );
    // Without resources to ignore, a presence subscription counts as one.
    expect((await t.store().sync.pollCandidates([])).map((c) => c.pbxId)).not.toContain(presenceOnly);
  });

  it('a poll is due once its interval has passed since the last one, or when there was none', async () => {
    const due = [
      await pbx({}),
      await pbx({ lastPolledAt: minutesAgo(5), pollMinutes: 5 }),
      await pbx({ lastPolledAt: minutesAgo(90), pollMinutes: 60 }),
    ];
    const notYet = [
      await pbx({ lastPolledAt: minutesAgo(4), pollMinutes: 5 }),
      await pbx({ lastPolledAt: minutesAgo(59), pollMinutes: 60 }),
      await pbx({ subscriptions: ['users'] }),
    ];
    const ids = await pbxsDueForPoll({ store: t.store(), now: () => NOW });
    for (const id of due) expect(ids).toContain(id);
    for (const id of notYet) expect(ids).not.toContain(id);
  });
});
