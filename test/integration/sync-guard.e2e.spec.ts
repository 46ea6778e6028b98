import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { AdminUser } from '../../src/sandbox/index.js';
import {
  ApproveHeldDeletesDocument,
  PauseDocument,
  ResumeDocument,
  SaveDeletionGuardDocument,
  SaveGroupSyncRuleDocument,
  SaveUserSyncRuleDocument,
  SyncRunsDocument,
  SyncSettingsDocument,
  UpdateExtensionDocument,
} from '../generated/graphql.js';
import { describeEachDb } from '../support/db.js';
import {
  byObject,
  errorsOf,
  GROUP_RULE,
  type SyncWorld,
  startSyncWorld,
  tag,
  USER_RULE,
} from './sync-world.js';

/**
 * The safety nets of a sync, end to end: the deletion guard and its approval, an expired
 * delta token, throttling, rule validation and rules locked while paused.
 */
describeEachDb('sync guard rails: deletion guard, expired delta, throttling, rule checks', (leg) => {
  let world: SyncWorld;
  beforeAll(async () => {
    world = await startSyncWorld(leg);
  });
  afterEach(async () => world.cleanup());
  afterAll(async () => world?.close());

  const users = async (prefix: string, n: number) => {
    const out: AdminUser[] = [];
    for (let i = 0; i < n; i++) out.push(await world.user(`${prefix}${String(i).padStart(2, '0')}`));
    return out;
  };

  it('deletion guard (U2, U4): a mass delete is held, nothing deleted, each one named; approveHeldDeletes applies exactly those', async () => {
    const all = await users('guard', 24);
    const g = await world.group(`Guard ${tag()}`, { members: all.map((u) => u.id) });
    const p = await world.pbx();
    const first = await p.saveUserRule({ range: 'BY_GROUPS', groupIds: [g.id] });
    expect(first?.users.created).toBe(24);
    const before = await p.extensionsByUser();

    // 12 of 24 leave the range (more than 10 and more than 10 %), one more is changed.
    const leaving = all.slice(0, 12);
    for (const u of leaving) await world.sandbox.admin.removeMember(g.id, u.id);
    await world.sandbox.admin.updateUser(all[20].id, { jobTitle: 'Changed meanwhile' });
    const held = await p.sync(['USERS']);
    expect(held.status).toBe('HELD');
    expect(held.users).toMatchObject({ deleted: 0, held: 12, updated: 1 });
    expect(held.message).toContain('held 12 deletion(s)');
    const heldItems = await p.items(held.id, 'DELETE');
    expect(heldItems).toHaveLength(12);
    for (const item of heldItems) expect(item).toMatchObject({ state: 'HELD', reason: 'OUT_OF_RANGE' });
    expect(heldItems.map((i) => [i.objectId, i.objectName, i.targetId]).sort()).toEqual(
      leaving.map((u) => [u.id, u.displayName, before.get(u.id)?.id]).sort(),
    );
    // Nothing deleted; the rest of the plan went ahead.
    const during = await p.extensionsByUser();
    expect(during.size).toBe(24);
    expect(during.get(all[20].id)?.jobTitle).toBe('Changed meanwhile');

    // The next run holds them again rather than deleting them behind the admin's back.
    const again = await p.sync(['USERS']);
    expect(again).toMatchObject({ status: 'HELD', users: expect.objectContaining({ held: 12, deleted: 0 }) });
    expect((await p.extensionsByUser()).size).toBe(24);

    const approved = (await p.ok(ApproveHeldDeletesDocument, { runId: held.id })).approveHeldDeletes;
    expect(approved).toMatchObject({
      status: 'SUCCEEDED',
      users: expect.objectContaining({ deleted: 12, held: 0, updated: 1 }),
    });
    expect(approved?.message).toContain('12 held deletion(s) approved');
    const after = await p.extensionsByUser();
    expect(new Set(after.keys())).toEqual(new Set(all.slice(12).map((u) => u.id)));
    expect((await p.items(held.id, 'DELETE')).every((i) => i.state === 'APPROVED')).toBe(true);

    // Approving twice is refused; the next sync has nothing left to delete.
    const twice = await p.raw(ApproveHeldDeletesDocument, { runId: held.id });
    expect(errorsOf(twice)).toEqual([expect.objectContaining({ code: 'INVALID_STATE' })]);
    // The later run that held the same 12 has nothing left to apply, and says so.
    const stale = (await p.ok(ApproveHeldDeletesDocument, { runId: again.id })).approveHeldDeletes;
    expect(stale).toMatchObject({
      status: 'SUCCEEDED',
      users: expect.objectContaining({ deleted: 0, held: 0 }),
    });
    expect(stale?.message).toContain('0 applied, 12 no longer synced');
    expect((await p.items(again.id, 'DELETE')).every((i) => i.state === 'DISCARDED')).toBe(true);
    expect((await p.extensionsByUser()).size).toBe(12);
    const next = await p.sync(['USERS']);
    expect(next).toMatchObject({
      status: 'SUCCEEDED',
      users: expect.objectContaining({ deleted: 0, held: 0 }),
    });

    // Thresholds are settable: with a higher bound the same kind of run goes through.
    await p.ok(SaveDeletionGuardDocument, { maxDeletes: 50, maxRatio: 0.5 });
    for (const u of all.slice(12, 23)) await world.sandbox.admin.removeMember(g.id, u.id);
    const through = await p.sync(['USERS']);
    expect(through).toMatchObject({
      status: 'SUCCEEDED',
      users: expect.objectContaining({ deleted: 11, held: 0 }),
    });
    expect([...(await p.extensionsByUser()).keys()]).toEqual([all[23].id]);
  });

  it('U2 deletion guard: approveHeldDeletes deletes a held extension only while it is still synced to that same user', async () => {
    const t = tag();
    const all = await users('stale', 24);
    const g = await world.group(`Stale ${t}`, { members: all.map((u) => u.id) });
    const p = await world.pbx();
    await p.saveUserRule({ range: 'BY_GROUPS', groupIds: [g.id], autoAssociate: true });
    const before = await p.extensionsByUser();
    const leaving = all.slice(0, 12);
    for (const u of leaving) await world.sandbox.admin.removeMember(g.id, u.id);
    const held = await p.sync(['USERS']);
    expect(held).toMatchObject({ status: 'HELD', users: expect.objectContaining({ held: 12 }) });

    // Meanwhile the admin turns auto-delete off (the 12 are released, kept as hand-made
    // extensions) and gives one of them to a new user by its email (U5 takes it over).
    await p.ok(SaveUserSyncRuleDocument, {
      input: { ...USER_RULE, range: 'BY_GROUPS', groupIds: [g.id], autoAssociate: true, autoDelete: false },
    });
    const released = await p.sync(['USERS']);
    expect(released.users).toMatchObject({ released: 12, held: 0 });
    const taken = before.get(leaving[0].id)?.id as string;
    await p.ok(UpdateExtensionDocument, { id: taken, input: { email: `stale.new.${t}@${world.domain}` } });
    const newcomer = await world.user('StaleNew', { mail: `stale.new.${t}@${world.domain}` });
    await world.sandbox.admin.addMember(g.id, newcomer.id);
    const associated = await p.sync(['USERS']);
    expect(associated.users).toMatchObject({ associated: 1 });

    // Approving the old run now deletes none of them: none is synced to its user any more.
    const approved = (await p.ok(ApproveHeldDeletesDocument, { runId: held.id })).approveHeldDeletes;
    expect(approved).toMatchObject({
      status: 'SUCCEEDED',
      users: expect.objectContaining({ deleted: 0, held: 0 }),
    });
    expect(approved?.message).toContain('0 applied, 12 no longer synced');
    expect((await p.items(held.id, 'DELETE')).map((i) => i.state)).toEqual(Array(12).fill('DISCARDED'));
    const exts = await p.extensions();
    expect(exts).toHaveLength(24);
    expect(exts.find((e) => e.id === taken)).toMatchObject({ source: 'SYNCED', externalId: newcomer.id });
  });

  it('deletion guard over 24 hours (U2): a mass delete that trickles in as small runs is held once the window passes the bounds; an approval starts the count again; a window of 0 counts one run alone', async () => {
    const all = await users('trickle', 30);
    const g = await world.group(`Trickle ${tag()}`, { members: all.map((u) => u.id) });
    const p = await world.pbx();
    expect((await p.saveUserRule({ range: 'BY_GROUPS', groupIds: [g.id] }))?.users.created).toBe(30);
    const saved = await p.ok(SaveDeletionGuardDocument, { maxDeletes: 10, maxRatio: 0.1 });
    expect(saved.saveDeletionGuard.deletionGuard).toMatchObject({ windowHours: 24, approvedAt: null });
    const leave = async (from: number, n: number) => {
      for (const u of all.slice(from, from + n)) await world.sandbox.admin.removeMember(g.id, u.id);
      return p.sync(['USERS']);
    };

    // 6, then 4: ten in the window, at the bound: deleted.
    expect(await leave(0, 6)).toMatchObject({
      status: 'SUCCEEDED',
      users: expect.objectContaining({ deleted: 6 }),
    });
    expect(await leave(6, 4)).toMatchObject({
      status: 'SUCCEEDED',
      users: expect.objectContaining({ deleted: 4 }),
    });
    // 3 more: 13 in 24 hours, more than 10 and more than 10 % of 30: held, each one named.
    const held = await leave(10, 3);
    expect(held).toMatchObject({ status: 'HELD', users: expect.objectContaining({ deleted: 0, held: 3 }) });
    expect(held.message).toContain('held 3 deletion(s) (after 10 deleted by earlier syncs in the last 24 h)');
    expect((await p.items(held.id, 'DELETE')).map((i) => i.objectId).sort()).toEqual(
      all
        .slice(10, 13)
        .map((u) => u.id)
        .sort(),
    );
    expect((await p.extensionsByUser()).size).toBe(20);

    // Approved: the count starts again, so the next small run goes ahead.
    await p.ok(ApproveHeldDeletesDocument, { runId: held.id });
    expect((await p.extensionsByUser()).size).toBe(17);
    expect(await leave(13, 2)).toMatchObject({
      status: 'SUCCEEDED',
      users: expect.objectContaining({ deleted: 2 }),
    });

    // A window of 0 hours: one run alone, as before the window existed.
    await p.ok(SaveDeletionGuardDocument, { maxDeletes: 1, maxRatio: 0, windowHours: 0 });
    expect(await leave(15, 1)).toMatchObject({
      status: 'SUCCEEDED',
      users: expect.objectContaining({ deleted: 1 }),
    });
    const bad = await p.raw(SaveDeletionGuardDocument, {
      maxDeletes: 10,
      maxRatio: 0.1,
      windowHours: 10_000,
    });
    expect(errorsOf(bad)).toEqual([
      expect.objectContaining({
        code: 'INVALID_INPUT',
        problems: [expect.objectContaining({ field: 'windowHours' })],
      }),
    ]);
  });

  it('deletion guard (G2): a mass delete of extension groups is held and approved', async () => {
    const t = tag();
    const groups = [];
    for (let i = 0; i < 12; i++) groups.push(await world.group(`Guard Group ${t} ${i}`));
    const p = await world.pbx();
    const first = await p.saveGroupRule({ range: 'SPECIFIC', groupIds: groups.map((g) => g.id) });
    expect(first?.groups.created).toBe(12);
    for (const g of groups.slice(0, 11)) await world.sandbox.admin.deleteGroup(g.id);
    const held = await p.sync(['GROUPS']);
    expect(held).toMatchObject({ status: 'HELD', groups: expect.objectContaining({ held: 11, deleted: 0 }) });
    expect((await p.groups()).length).toBe(12);
    const items = byObject(await p.items(held.id, 'DELETE'));
    expect(new Set(items.keys())).toEqual(new Set(groups.slice(0, 11).map((g) => g.id)));
    for (const item of items.values())
      expect(item).toMatchObject({ scope: 'GROUP', state: 'HELD', reason: 'GROUP_DELETED' });

    const approved = (await p.ok(ApproveHeldDeletesDocument, { runId: held.id })).approveHeldDeletes;
    expect(approved).toMatchObject({
      status: 'SUCCEEDED',
      groups: expect.objectContaining({ deleted: 11, held: 0 }),
    });
    expect([...(await p.groupsByExternal()).keys()]).toEqual([groups[11].id]);
  });

  it('U8 an expired delta token: the next run reads in full by itself and says so in its message; the one after is a delta again', async () => {
    const u = await world.user('DeltaUser', { jobTitle: 'Before' });
    const g = await world.group(`Delta ${tag()}`, { members: [u.id] });
    const p = await world.pbx();
    const first = await p.saveUserRule({ range: 'BY_GROUPS', groupIds: [g.id] });
    expect(first?.mode).toBe('FULL');
    await p.saveGroupRule({ range: 'SPECIFIC', groupIds: [g.id] });
    expect((await p.sync()).mode).toBe('DELTA');

    await world.sandbox.admin.expireDeltaTokens();
    await world.sandbox.admin.updateUser(u.id, { jobTitle: 'After' });
    const other = await world.user('DeltaNew');
    await world.sandbox.admin.addMember(g.id, other.id);
    const run = await p.sync();
    expect(run.status).toBe('SUCCEEDED');
    expect(run.mode).toBe('FULL');
    expect(run.message).toContain('users delta token had expired');
    expect(run.message).toContain('groups delta token had expired');
    expect(run.users).toMatchObject({ updated: 1, created: 1, deleted: 0, failed: 0 });
    expect(run.groups).toMatchObject({ updated: 1 });
    const exts = await p.extensionsByUser();
    expect(exts.get(u.id)?.jobTitle).toBe('After');
    expect((await p.groupsByExternal()).get(g.id)?.memberIds).toHaveLength(2);

    const next = await p.sync();
    expect(next).toMatchObject({ status: 'SUCCEEDED', mode: 'DELTA' });
    expect(next.message ?? '').not.toContain('expired');
    expect(next.users).toMatchObject({ created: 0, updated: 0, deleted: 0 });
  });

  it('U8 throttling: forced 429 answers (Retry-After) slow the run down but it still finishes', async () => {
    const u = await world.user('ThrottleUser');
    const g = await world.group(`Throttle ${tag()}`, { members: [u.id] });
    const p = await world.pbx();
    await world.sandbox.admin.resetStats();
    await world.sandbox.admin.forceThrottle({ count: 1, retryAfterSeconds: 1, pathContains: 'users' });
    const first = await p.saveUserRule({ range: 'BY_GROUPS', groupIds: [g.id] });
    expect(first).toMatchObject({ status: 'SUCCEEDED', mode: 'FULL' });
    expect(first?.users.created).toBe(1);
    expect((await world.sandbox.admin.stats()).throttled).toBeGreaterThanOrEqual(1);

    await world.sandbox.admin.updateUser(u.id, { jobTitle: 'Throttled' });
    await world.sandbox.admin.forceThrottle({ count: 1, retryAfterSeconds: 1, pathContains: 'users/delta' });
    const run = await p.sync(['USERS']);
    expect(run).toMatchObject({ status: 'SUCCEEDED', mode: 'DELTA' });
    expect(run.users.updated).toBe(1);
    expect((await p.extensionsByUser()).get(u.id)?.jobTitle).toBe('Throttled');
    expect((await world.sandbox.admin.faults()).forced429).toEqual([]);
  });

  it('U1 U3 G1 rule validation: unknown group ids, an unknown property and a bad start number are INVALID_INPUT naming the field; nothing is saved', async () => {
    const p = await world.pbx();
    const cases = [
      {
        input: { range: 'BY_GROUPS' as const, groupIds: [randomUUID()] },
        field: 'range.groupIds',
        says: 'unknown group id',
      },
      {
        input: { range: 'BY_GROUPS' as const, groupIds: ['not-a-group'] },
        field: 'range.groupIds',
        says: 'not-a-group',
      },
      {
        input: { range: 'BY_GROUPS' as const, groupIds: [] },
        field: 'range.groupIds',
        says: 'at least one group',
      },
      { input: { range: 'BY_TYPE' as const, userTypes: [] }, field: 'range.userTypes', says: 'Member' },
      {
        input: { numbering: 'FROM_PROPERTY' as const, numberProperty: 'favouriteColour' },
        field: 'numbering.property',
        says: 'favouriteColour',
      },
      {
        input: { numbering: 'AUTO' as const, startNumber: '0123' },
        field: 'numbering.startNumber',
        says: '0123',
      },
      {
        input: { numbering: 'AUTO' as const, startNumber: '12345678' },
        field: 'numbering.startNumber',
        says: '12345678',
      },
    ];
    for (const c of cases) {
      const res = await p.raw(SaveUserSyncRuleDocument, { input: { ...USER_RULE, ...c.input } });
      const [err] = errorsOf(res);
      expect(err, JSON.stringify(c.input)).toMatchObject({ code: 'INVALID_INPUT', field: c.field });
      expect(err.problems.find((x) => x.field === c.field)?.message, c.field).toContain(c.says);
    }
    const real = await world.group(`Known ${tag()}`);
    const unknown = randomUUID();
    const mixed = await p.raw(SaveGroupSyncRuleDocument, {
      input: { ...GROUP_RULE, range: 'SPECIFIC', groupIds: [real.id, unknown] },
    });
    const [groupErr] = errorsOf(mixed);
    expect(groupErr).toMatchObject({ code: 'INVALID_INPUT', field: 'range.groupIds' });
    expect(groupErr.message).toContain(unknown);
    expect(groupErr.message).not.toContain(real.id);
    const noKinds = await p.raw(SaveGroupSyncRuleDocument, {
      input: { ...GROUP_RULE, range: 'BY_TYPE', kinds: [] },
    });
    expect(errorsOf(noKinds)).toEqual([
      expect.objectContaining({ code: 'INVALID_INPUT', field: 'range.kinds' }),
    ]);

    const settings = (await p.ok(SyncSettingsDocument)).syncSettings;
    expect(settings).toMatchObject({
      userRule: null,
      groupRule: null,
      userRuleSavedAt: null,
      groupRuleSavedAt: null,
    });
    expect((await p.ok(SyncRunsDocument, { first: 5 })).syncRuns.totalCount).toBe(0);
  });

  it('L4/L5 rules cannot be edited while that sync is paused (INVALID_STATE); after resume they can', async () => {
    const u = await world.user('PausedUser');
    const g = await world.group(`Paused ${tag()}`, { members: [u.id] });
    const p = await world.pbx();
    await p.saveUserRule({ range: 'BY_GROUPS', groupIds: [g.id] });
    await p.saveGroupRule({ range: 'SPECIFIC', groupIds: [g.id] });

    await p.ok(PauseDocument, { target: 'USERS', deleteSynced: false });
    const userEdit = await p.raw(SaveUserSyncRuleDocument, { input: { ...USER_RULE, range: 'ALL' } });
    expect(errorsOf(userEdit)).toEqual([expect.objectContaining({ code: 'INVALID_STATE' })]);
    expect(errorsOf(userEdit)[0].message).toContain('paused');
    // Group rules are not paused.
    const groupEdit = await p.raw(SaveGroupSyncRuleDocument, {
      input: { ...GROUP_RULE, range: 'SPECIFIC', groupIds: [g.id] },
    });
    expect(groupEdit.body.errors).toBeUndefined();

    await p.ok(PauseDocument, { target: 'GROUPS', deleteSynced: false });
    const groupPaused = await p.raw(SaveGroupSyncRuleDocument, { input: { ...GROUP_RULE, range: 'ALL' } });
    expect(errorsOf(groupPaused)).toEqual([expect.objectContaining({ code: 'INVALID_STATE' })]);

    const settings = (await p.ok(SyncSettingsDocument)).syncSettings;
    expect(settings.userRule).toMatchObject({ range: 'BY_GROUPS', groupIds: [g.id] });
    expect(settings.groupRule).toMatchObject({ range: 'SPECIFIC', groupIds: [g.id] });
    // The retained extension is still synced and locked.
    expect((await p.extensionsByUser()).get(u.id)).toMatchObject({ source: 'SYNCED' });

    await p.ok(ResumeDocument, { target: 'USERS' });
    const resumed = await p.raw(SaveUserSyncRuleDocument, { input: { ...USER_RULE, range: 'ALL' } });
    expect(resumed.body.errors).toBeUndefined();
    expect((await p.ok(SyncSettingsDocument)).syncSettings.userRule?.range).toBe('ALL');
  });
});
