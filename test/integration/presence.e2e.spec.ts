import { print } from 'graphql';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApiKey } from '../../src/app/access.js';
import { Topic } from '../../src/app/topics.js';
import { delegatedScopes, REQUIRED_PERMISSIONS } from '../../src/domain/permissions.js';
import type { AdminUser } from '../../src/sandbox/index.js';
import {
  ExtensionPresenceChangedDocument,
  type ExtensionPresenceChangedSubscription,
  ExtensionPresencesDocument,
  type ExtensionPresencesQuery,
  PresenceSyncDocument,
  SavePresenceMappingDocument,
  SavePresenceSyncDocument,
  SaveUserSyncRuleDocument,
  SetExtensionPresenceDocument,
  SyncNowDocument,
} from '../generated/graphql.js';
import { describeEachDb } from '../support/db.js';
import { type E2e, startE2e } from '../support/e2e.js';
import { type GqlResponse, gql, topicListened, uniquePrefix, wsClient } from '../support/gateway.js';
import { allExtensions, waitForRun } from '../support/sandbox.js';
import { eventually, staysTrue } from '../support/wait.js';
import { USER_RULE } from './sync-world.js';

/**
 * Teams presence drives extension presence (P1–P3), end to end: the sandbox's Teams presence,
 * the gateway's repeating poll (getPresencesByUserId in chunks of 650, PRESENCE_POLL_MS 150 ms
 * here), the store, GraphQL and `extensionPresenceChanged` over graphql-ws, on both databases.
 * Each step waits on an event (the subscription) or on the store, never on a fixed sleep.
 */
type Change = ExtensionPresenceChangedSubscription['extensionPresenceChanged'];
type Ext = ExtensionPresencesQuery['extensions']['edges'][number]['node'];

const PRESENCE_PATH = 'POST /communications/getPresencesByUserId';

describeEachDb('Teams presence → extension presence (P1–P3)', (leg) => {
  let w: E2e;
  const prefix = uniquePrefix('presence');
  const changes: Change[] = [];
  let unsubscribe: (() => void) | undefined;
  let users: AdminUser[];
  /** extension id by Entra user id */
  const extOf = new Map<string, string>();

  const q = async <TData, TVars>(doc: Parameters<typeof gql<TData, TVars>>[2], vars?: TVars) => {
    const res: GqlResponse<TData> = await gql(w.gateway.url, w.keys.admin, doc, vars);
    if (res.body.errors?.length || !res.body.data) throw new Error(JSON.stringify(res.body.errors));
    return res.body.data;
  };
  const extensions = async (): Promise<Map<string, Ext>> => {
    const data = await q(ExtensionPresencesDocument, { first: 500 });
    return new Map(data.extensions.edges.map((e) => [e.node.id, e.node]));
  };
  const presenceRequests = async () => (await w.sandbox.admin.stats()).graphByPath[PRESENCE_PATH] ?? 0;
  /** The next change of `extensionId` (after those seen so far) that satisfies `want`. */
  const nextChange = (extensionId: string, want: (c: Change) => boolean, from = changes.length) =>
    eventually(
      () => {
        const c = changes.slice(from).find((x) => x.extensionId === extensionId && want(x));
        expect(c, `a presence change of ${extensionId}`).toBeDefined();
        return c as Change;
      },
      { timeout: 20_000, message: `a presence change of ${extensionId}` },
    );
  /** A whole poll round has happened since now: `probe`'s Teams change has reached the gateway. */
  const aRoundLater = async (probe: AdminUser) => {
    const cur = await w.sandbox.admin.presence(probe.id);
    const [availability, activity] =
      cur.availability === 'BeRightBack' ? ['Busy', 'InACall'] : ['BeRightBack', 'BeRightBack'];
    const from = changes.length;
    await w.sandbox.admin.setPresence(probe.id, availability as string, activity as string);
    await nextChange(extOf.get(probe.id) as string, (c) => c.teamsAvailability === availability, from);
  };

  beforeAll(async () => {
    w = await startE2e({
      leg,
      sandbox: { users: 14, groups: 2, seed: 15 },
      env: { QUEUE_PREFIX: prefix, PRESENCE_POLL_MS: '150' },
    });
    const saved = await q(SaveUserSyncRuleDocument, { input: USER_RULE });
    await waitForRun(w.gateway.url, w.keys.admin, saved.saveUserSyncRule.initialRun?.id as string, {
      interval: 20,
    });
    for (const e of (await extensions()).values()) if (e.externalId) extOf.set(e.externalId, e.id);
    users = (await w.sandbox.admin.listUsers({ top: 1000 })).value.filter((u) => extOf.has(u.id));
    expect(users.length).toBeGreaterThanOrEqual(10);

    const client = wsClient(w.gateway.url, w.keys.viewer);
    unsubscribe = client.subscribe(
      { query: print(ExtensionPresenceChangedDocument), variables: {} },
      {
        next: (msg) => {
          const c = (msg.data as ExtensionPresenceChangedSubscription | undefined)?.extensionPresenceChanged;
          if (c) changes.push(c);
        },
        error: () => undefined,
        complete: () => undefined,
      },
    );
    await topicListened(prefix, Topic.extensionPresence(w.pbx.id));
  }, 120_000);
  afterAll(async () => {
    unsubscribe?.();
    await w?.close();
  });

  it('P1 off until switched on: nobody is read and no extension has a status', async () => {
    const data = await q(PresenceSyncDocument);
    expect(data.presenceSync).toMatchObject({ enabled: false, users: users.length });
    expect(await presenceRequests()).toBe(0);
    const exts = [...(await extensions()).values()].filter((e) => e.externalId);
    expect(exts.every((e) => e.presence?.status === null && e.presence.enabled)).toBe(true);
  });

  it('P1 on, P2 default mapping: every synced extension follows its user’s Teams presence, and a change streams at once', async () => {
    const on = await q(SavePresenceSyncDocument, { enabled: true });
    expect(on.savePresenceSync).toMatchObject({ enabled: true, users: users.length });
    const expected: Record<string, string> = {
      Available: 'AVAILABLE',
      AvailableIdle: 'AVAILABLE',
      Busy: 'AWAY',
      DoNotDisturb: 'DO_NOT_DISTURB',
      BeRightBack: 'AWAY',
      Away: 'OFF_WORK',
      Offline: 'OFF_WORK',
    };
    await eventually(
      async () => {
        const exts = await extensions();
        for (const u of users) {
          const teams = await w.sandbox.admin.presence(u.id);
          const p = exts.get(extOf.get(u.id) as string)?.presence;
          expect(p).toMatchObject({
            status: expected[teams.availability],
            source: 'TEAMS',
            teamsAvailability: teams.availability,
            teamsActivity: teams.activity,
          });
        }
        return true;
      },
      { timeout: 20_000, message: 'every extension to carry its Teams presence' },
    );
    const u = users[0] as AdminUser;
    const from = changes.length;
    await w.sandbox.admin.setPresence(u.id, 'DoNotDisturb', 'Presenting');
    const c = await nextChange(
      extOf.get(u.id) as string,
      (x) => x.teamsAvailability === 'DoNotDisturb',
      from,
    );
    expect(c).toMatchObject({ status: 'DO_NOT_DISTURB', source: 'TEAMS', teamsActivity: 'Presenting' });
    expect(Date.parse(c.changedAt as string)).toBeGreaterThan(0);
  });

  it('P2 a custom mapping applies at once to what Teams said and to later changes; other extensions keep the default', async () => {
    const [a, b] = [users[1] as AdminUser, users[2] as AdminUser];
    // BusyIdle / InAConferenceCall: a pair the seed never gives, so it is a change for both.
    const start = changes.length;
    await w.sandbox.admin.setPresences([
      { userId: a.id, availability: 'BusyIdle', activity: 'InAConferenceCall' },
      { userId: b.id, availability: 'BusyIdle', activity: 'InAConferenceCall' },
    ]);
    await nextChange(extOf.get(b.id) as string, (x) => x.teamsAvailability === 'BusyIdle', start);
    await nextChange(extOf.get(a.id) as string, (x) => x.teamsAvailability === 'BusyIdle', start);
    const saved = await q(SavePresenceMappingDocument, {
      extensionIds: [extOf.get(a.id) as string],
      mapping: { busy: 'LUNCH_BREAK', appearAway: 'BUSINESS_TRIP' },
    });
    expect(saved.savePresenceMapping[0]).toMatchObject({
      status: 'LUNCH_BREAK',
      mapping: {
        available: 'AVAILABLE',
        busy: 'LUNCH_BREAK',
        appearAway: 'BUSINESS_TRIP',
        appearOffline: 'OFF_WORK',
      },
    });
    const from = changes.length;
    await w.sandbox.admin.setPresences([
      { userId: a.id, availability: 'Away', activity: 'Away' },
      { userId: b.id, availability: 'Away', activity: 'Away' },
    ]);
    expect(
      await nextChange(extOf.get(a.id) as string, (x) => x.teamsAvailability === 'Away', from),
    ).toMatchObject({
      status: 'BUSINESS_TRIP',
    });
    expect(
      await nextChange(extOf.get(b.id) as string, (x) => x.teamsAvailability === 'Away', from),
    ).toMatchObject({
      status: 'OFF_WORK',
    });
  });

  it("P2 the user's own Linkus session sets its own extension's mapping and on/off, and no other extension's", async () => {
    const [own, other] = [users[5] as AdminUser, users[6] as AdminUser];
    const ownExt = extOf.get(own.id) as string;
    const number = (await allExtensions(w.gateway.url, w.keys.admin)).find((e) => e.id === ownExt)?.number;
    const { key } = await createApiKey(w.gateway.openStore(), {
      pbxId: w.pbx.id,
      role: 'linkus',
      extensionNumber: number as string,
    });
    const mine = await gql(w.gateway.url, key, SavePresenceMappingDocument, {
      extensionIds: [ownExt],
      mapping: { busy: 'LUNCH_BREAK' },
    });
    expect(mine.body.errors).toBeUndefined();
    expect(mine.body.data?.savePresenceMapping[0]?.mapping).toMatchObject({
      busy: 'LUNCH_BREAK',
      available: 'AVAILABLE',
    });
    for (const extensionIds of [[extOf.get(other.id) as string], [ownExt, extOf.get(other.id) as string]]) {
      const refused = await gql(w.gateway.url, key, SavePresenceMappingDocument, {
        extensionIds,
        mapping: { busy: 'OFF_WORK' },
      });
      expect(refused.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    // The other extension kept the default mapping; the admin sees the user's own.
    const all = await extensions();
    expect(all.get(extOf.get(other.id) as string)?.presence?.mapping?.busy).toBe('AWAY');
    expect(all.get(ownExt)?.presence?.mapping?.busy).toBe('LUNCH_BREAK');
  });

  it('P2 presence off for an extension: its user is no longer read, its extension keeps what it had; on again, it follows', async () => {
    const [c, probe] = [users[3] as AdminUser, users[4] as AdminUser];
    const ext = extOf.get(c.id) as string;
    const before = (await extensions()).get(ext)?.presence;
    const off = await q(SavePresenceMappingDocument, { extensionIds: [ext], enabled: false });
    expect(off.savePresenceMapping[0]?.enabled).toBe(false);
    expect((await q(PresenceSyncDocument)).presenceSync.users).toBe(users.length - 1);
    const from = changes.length;
    await w.sandbox.admin.setPresence(c.id, 'DoNotDisturb', 'UrgentInterruptionsOnly');
    await aRoundLater(probe);
    expect(changes.slice(from).some((x) => x.extensionId === ext)).toBe(false);
    expect((await extensions()).get(ext)?.presence).toMatchObject({ status: before?.status, enabled: false });

    await q(SavePresenceMappingDocument, { extensionIds: [ext], enabled: true });
    expect(await nextChange(ext, (x) => x.teamsAvailability === 'DoNotDisturb', from)).toMatchObject({
      status: 'DO_NOT_DISTURB',
    });
  });

  it('P3 one way: a status set by hand stays until Teams changes; nothing is ever written to Teams', async () => {
    const [d, probe] = [users[5] as AdminUser, users[6] as AdminUser];
    const ext = extOf.get(d.id) as string;
    const teamsBefore = await w.sandbox.admin.presence(d.id);
    const set = await q(SetExtensionPresenceDocument, { extensionId: ext, status: 'BUSINESS_TRIP' });
    expect(set.setExtensionPresence).toMatchObject({ status: 'BUSINESS_TRIP', source: 'MANUAL' });
    await aRoundLater(probe);
    expect((await extensions()).get(ext)?.presence).toMatchObject({
      status: 'BUSINESS_TRIP',
      source: 'MANUAL',
    });
    // Teams did not move: the PBX's status never reached it.
    expect(await w.sandbox.admin.presence(d.id)).toEqual(teamsBefore);

    const from = changes.length;
    const next = teamsBefore.availability === 'Available' ? 'BeRightBack' : 'Available';
    await w.sandbox.admin.setPresence(d.id, next, next);
    expect(await nextChange(ext, (x) => x.teamsAvailability === next, from)).toMatchObject({
      source: 'TEAMS',
    });

    // The gateway asks for no presence write permission, and sent nothing but presence reads.
    const names = [...REQUIRED_PERMISSIONS.map((p) => p.name), ...delegatedScopes()];
    expect(names.filter((n) => /presence/i.test(n))).toEqual(['Presence.Read.All']);
    const paths = Object.keys((await w.sandbox.admin.stats()).graphByPath).filter((p) => /presence/i.test(p));
    expect(paths).toEqual([PRESENCE_PATH]);
  });

  it('a user leaving the sync leaves presence: the extension goes, and the user is no longer read', async () => {
    const [gone, probe] = [users[7] as AdminUser, users[8] as AdminUser];
    const ext = extOf.get(gone.id) as string;
    await w.sandbox.admin.updateUser(gone.id, { accountEnabled: false });
    const run = await q(SyncNowDocument, {});
    await waitForRun(w.gateway.url, w.keys.admin, run.syncNow.id, { interval: 20 });
    expect((await extensions()).has(ext)).toBe(false);
    expect((await q(PresenceSyncDocument)).presenceSync.users).toBe(users.length - 1);
    const from = changes.length;
    await w.sandbox.admin.setPresence(gone.id, 'Busy', 'Busy');
    await aRoundLater(probe);
    expect(changes.slice(from).some((x) => x.extensionId === ext)).toBe(false);
  });

  it('a 429 storm from the presence API is survived with nothing lost, each Retry-After honoured', async () => {
    const movers = users.slice(9, 12);
    const storm = { count: 3, retryAfterSeconds: 1 };
    const requestsBefore = await presenceRequests();
    const throttledBefore = (await w.sandbox.admin.stats()).throttled;
    const start = Date.now();
    await w.sandbox.admin.forceThrottle({ ...storm, pathContains: 'getPresencesByUserId' });
    await eventually(async () => (await w.sandbox.admin.stats()).throttled > throttledBefore, {
      message: 'the first 429',
    });
    // Teams changes during the storm.
    const targets = movers.map((u, i) => ({
      userId: u.id,
      availability: (['DoNotDisturb', 'BusyIdle', 'Offline'] as const)[i] as string,
      activity: (['UrgentInterruptionsOnly', 'InAConferenceCall', 'OutOfOffice'] as const)[i] as string,
    }));
    await w.sandbox.admin.setPresences(targets);
    await eventually(
      async () => {
        const exts = await extensions();
        for (const t of targets)
          expect(exts.get(extOf.get(t.userId) as string)?.presence).toMatchObject({
            teamsAvailability: t.availability,
            teamsActivity: t.activity,
          });
        return true;
      },
      { timeout: 30_000, message: 'every change made during the storm to arrive' },
    );
    const elapsed = Date.now() - start;
    const stats = await w.sandbox.admin.stats();
    expect(stats.throttled - throttledBefore).toBe(storm.count);
    // Honoured: no request went out before each Retry-After had passed (3 × 1 s), though the
    // poll repeats every 150 ms; without it the storm would have been over in half a second.
    expect(elapsed).toBeGreaterThanOrEqual(storm.count * storm.retryAfterSeconds * 1000 - 250);
    expect((stats.graphByPath[PRESENCE_PATH] ?? 0) - requestsBefore).toBeLessThan(3 * storm.count + 40);
  });

  it('P1 off: the poll stops, nobody is read any more', async () => {
    await q(SavePresenceSyncDocument, { enabled: false });
    const settled = await presenceRequests();
    await staysTrue(async () => (await presenceRequests()) <= settled + 1, {
      for: 1500,
      interval: 100,
      message: 'no presence reads while presence sync is off',
    });
  });
});
