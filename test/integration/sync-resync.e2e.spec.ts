import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { describeEachDb } from '../support/db.js';
import { type SyncWorld, startSyncWorld, tag } from './sync-world.js';

/**
 * Graph's "synchronization reset", end to end: "Delta query can return a response code of
 * 410 (gone) and a Location header containing a request URL with an empty $deltaToken (same
 * as the initial query). This is an indication that the application must restart with a full
 * synchronization of the target tenant."
 * (https://learn.microsoft.com/graph/delta-query-overview#synchronization-reset). The
 * sandbox's delta-resync knob makes every delta link issued so far answer that way.
 */
describeEachDb('sync after a synchronization reset (410 Gone on the delta links)', (leg) => {
  let world: SyncWorld;
  beforeAll(async () => {
    world = await startSyncWorld(leg);
  });
  afterEach(async () => world.cleanup());
  afterAll(async () => world?.close());

  it('U8 410 Gone on a delta link: the next run reads in full by itself, says so, ends with the same extensions (unchanged ones untouched); the run after is a delta again', async () => {
    const u = await world.user('ResyncUser', { jobTitle: 'Before' });
    const stays = await world.user('ResyncStays', { jobTitle: 'Unchanged' });
    const g = await world.group(`Resync ${tag()}`, { members: [u.id, stays.id] });
    const p = await world.pbx();
    const first = await p.saveUserRule({ range: 'BY_GROUPS', groupIds: [g.id] });
    expect(first?.mode).toBe('FULL');
    await p.saveGroupRule({ range: 'SPECIFIC', groupIds: [g.id] });
    expect((await p.sync()).mode).toBe('DELTA');
    const before = await p.extensionsByUser();
    const groupsBefore = await p.groupsByExternal();
    expect(before.size).toBe(2);

    await world.sandbox.admin.forceDeltaResync();
    await world.sandbox.admin.updateUser(u.id, { jobTitle: 'After' });
    const other = await world.user('ResyncNew');
    await world.sandbox.admin.addMember(g.id, other.id);
    await world.sandbox.admin.resetStats();

    const run = await p.sync();
    expect(run.status).toBe('SUCCEEDED');
    expect(run.mode).toBe('FULL');
    expect(run.message).toContain('users were read in full');
    expect(run.message).toContain('groups were read in full');
    expect(run.users).toMatchObject({ updated: 1, created: 1, deleted: 0, failed: 0 });
    expect(run.groups).toMatchObject({ updated: 1, created: 0, deleted: 0 });
    // Both delta links were tried (and answered 410), then the full read ran.
    const stats = await world.sandbox.admin.stats();
    expect(stats.graphByPath['GET /users/delta']).toBeGreaterThanOrEqual(2); // the 410, then `latest`
    expect(stats.graphByPath['GET /users']).toBeGreaterThanOrEqual(1);

    // The same extensions: the changed one updated in place, the untouched one as it was, one new.
    const after = await p.extensionsByUser();
    expect(new Set(after.keys())).toEqual(new Set([u.id, stays.id, other.id]));
    expect(after.get(stays.id)).toEqual(before.get(stays.id));
    const { jobTitle: _was, updatedAt: _at, ...kept } = before.get(u.id) ?? {};
    expect(after.get(u.id)).toMatchObject({ ...kept, jobTitle: 'After' });
    expect(after.get(other.id)).toMatchObject({ source: 'SYNCED', externalId: other.id });
    const groupsAfter = await p.groupsByExternal();
    expect(groupsAfter.get(g.id)?.id).toBe(groupsBefore.get(g.id)?.id);
    expect(groupsAfter.get(g.id)?.memberIds).toHaveLength(3);

    const next = await p.sync();
    expect(next).toMatchObject({ status: 'SUCCEEDED', mode: 'DELTA' });
    expect(next.message ?? '').not.toContain('read in full');
    expect(next.users).toMatchObject({ created: 0, updated: 0, deleted: 0 });
    expect(await p.extensionsByUser()).toEqual(after);
  });
});
