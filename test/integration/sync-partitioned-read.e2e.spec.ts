import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { SyncNowDocument } from '../generated/graphql.js';
import { describeEachDb } from '../support/db.js';
import { eventually } from '../support/wait.js';
import { type SyncWorld, startSyncWorld, tag } from './sync-world.js';

/**
 * Issue 16 item 2, end to end: a full read at real latency runs in partitions (users by
 * userPrincipalName ranges, groups by delta rounds filtered on ids) after delta links taken
 * with `$deltatoken=latest`, and catches up from those links before it plans. Changes made
 * while the partitioned read runs (users added, changed, disabled and deleted, memberships
 * added and removed) are all in the PBX when the run ends.
 *
 * The sandbox holds the filtered groups delta requests (admin `faults/hold`) so that the
 * changes land at a known point: the users are read, the groups are half read.
 */
describeEachDb('a partitioned full read misses no change made while it runs (issue 16)', (leg) => {
  let world: SyncWorld;
  beforeAll(async () => {
    world = await startSyncWorld(leg);
  });
  afterEach(async () => world.cleanup());
  afterAll(async () => world?.close());

  it('users added, changed, disabled, deleted and memberships changed during the read end up in the PBX', async () => {
    const admin = world.sandbox.admin;
    const stays = await world.user('PartStays');
    const renamed = await world.user('PartRenamed');
    const disabled = await world.user('PartDisabled');
    const gone = await world.user('PartGone');
    const leaving = await world.user('PartLeaving');
    const joining = await world.user('PartJoining');
    const g = await world.group(`Part ${tag()}`, { members: [stays.id, renamed.id, leaving.id] });
    const p = await world.pbx();
    await p.saveUserRule({ range: 'ALL' });
    await p.saveGroupRule({ range: 'ALL' });

    // The next run reads in full (Graph asks for a resync), at 120 ms a request: in partitions.
    await admin.forceDeltaResync();
    await admin.setLatency(120);
    await admin.resetStats();
    await admin.holdRequests("$filter=id eq '");
    const started = await p.ok(SyncNowDocument, {});
    await eventually(async () => {
      const [held, stats] = await Promise.all([admin.heldRequests(), admin.stats()]);
      // every users range has been read, and the groups' filtered rounds wait
      return held.waiting >= 1 && (stats.graphByPath['GET /users'] ?? 0) >= 7;
    });

    // While the read runs:
    const added = await world.user('PartAdded');
    await admin.updateUser(renamed.id, { givenName: 'Renamed', displayName: 'Renamed During Read' });
    await admin.disableUser(disabled.id);
    await admin.hardDeleteUser(gone.id);
    await admin.addMember(g.id, added.id);
    await admin.addMember(g.id, joining.id);
    await admin.removeMember(g.id, leaving.id);
    await admin.releaseHeld();

    const run = await p.wait(started.syncNow.id, 120_000);
    expect(run.mode).toBe('FULL');
    const stats = await admin.stats();
    expect(stats.graphByPath['GET /groups']).toBeGreaterThanOrEqual(1); // the group ids, then filtered rounds

    const exts = await p.extensionsByUser();
    expect(exts.has(added.id)).toBe(true);
    expect(exts.get(renamed.id)?.firstName).toBe('Renamed');
    expect(exts.has(disabled.id)).toBe(false);
    expect(exts.has(gone.id)).toBe(false);
    const members = [...((await p.groupsByExternal()).get(g.id)?.memberIds ?? [])].sort();
    expect(members).toEqual(
      [stays.id, renamed.id, added.id, joining.id].map((id) => exts.get(id)?.id as string).sort(),
    );

    // and the next run, a delta round from the caught-up links, has nothing left to do
    await admin.setLatency(0);
    const next = await p.sync();
    expect(next.mode).toBe('DELTA');
    expect(next.users).toMatchObject({ created: 0, updated: 0, deleted: 0, failed: 0 });
  });
});
