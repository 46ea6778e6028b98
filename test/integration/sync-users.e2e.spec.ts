import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  DeleteExtensionDocument,
  SaveUserSyncRuleDocument,
  SyncRunDocument,
  SyncRunsDocument,
  UpdateExtensionDocument,
  UpdatePbxDocument,
} from '../generated/graphql.js';
import { describeEachDb } from '../support/db.js';
import { staysTrue } from '../support/wait.js';
import { byObject, errorsOf, type SyncWorld, startSyncWorld, tag, USER_RULE } from './sync-world.js';

/**
 * U1–U5, U7–U10 end to end: each test changes the sandbox tenant through its admin API and
 * checks the PBX (extensions, locks) and the run (counts, items with reasons) after the
 * next sync. A new PBX per test; most tests scope the rule to a group of their own
 * (BY_GROUPS), so that their counts are exact whatever else the tenant holds.
 */
describeEachDb('sync users to extensions (U1–U5, U7–U10)', (leg) => {
  let world: SyncWorld;
  beforeAll(async () => {
    world = await startSyncWorld(leg);
  });
  afterEach(async () => world.cleanup());
  afterAll(async () => world?.close());

  /** Users of the tenant now (not soft-deleted). */
  const tenantUsers = async () => (await world.sandbox.admin.listUsers({ top: 1000 })).value;

  describe('U1 range', () => {
    it('U1 ALL: every enabled user of the tenant, member or guest, gets one extension', async () => {
      const guest = await world.user('U1AllGuest', { userType: 'Guest' });
      const member = await world.user('U1AllMember');
      const p = await world.pbx();
      const run = await p.saveUserRule({ range: 'ALL' });
      const users = await tenantUsers();
      const enabled = users.filter((u) => u.accountEnabled);
      const exts = await p.extensionsByUser();
      expect(new Set(exts.keys())).toEqual(new Set(enabled.map((u) => u.id)));
      expect(exts.has(guest.id) && exts.has(member.id)).toBe(true);
      expect(run?.users).toMatchObject({
        created: enabled.length,
        skipped: users.length - enabled.length,
        failed: 0,
      });
    });

    it.each([
      { types: ['MEMBER'] as const, want: ['Member'] },
      { types: ['GUEST'] as const, want: ['Guest'] },
      { types: ['MEMBER', 'GUEST'] as const, want: ['Member', 'Guest'] },
    ])('U1 BY_TYPE $want: only users of those types', async ({ types, want }) => {
      const guest = await world.user('U1TypeGuest', { userType: 'Guest' });
      const member = await world.user('U1TypeMember');
      const p = await world.pbx();
      const run = await p.saveUserRule({ range: 'BY_TYPE', userTypes: [...types] });
      const users = (await tenantUsers()).filter((u) => u.accountEnabled && want.includes(u.userType));
      const exts = await p.extensionsByUser();
      expect(new Set(exts.keys())).toEqual(new Set(users.map((u) => u.id)));
      expect(exts.has(guest.id)).toBe(want.includes('Guest'));
      expect(exts.has(member.id)).toBe(want.includes('Member'));
      expect(run?.users.created).toBe(users.length);

      // The two swap types: each one that leaves the range goes (U2), each one that enters comes.
      await world.sandbox.admin.updateUser(guest.id, { userType: 'Member' });
      await world.sandbox.admin.updateUser(member.id, { userType: 'Guest' });
      const next = await p.sync(['USERS']);
      const both = want.length === 2;
      expect(next.users).toMatchObject({ created: both ? 0 : 1, deleted: both ? 0 : 1, updated: 0 });
      const after = await p.extensionsByUser();
      expect(after.has(guest.id)).toBe(want.includes('Member'));
      expect(after.has(member.id)).toBe(want.includes('Guest'));
      if (!both) {
        const gone = want.includes('Member') ? member : guest;
        expect(byObject(await p.items(next.id)).get(gone.id)).toMatchObject({
          action: 'DELETE',
          reason: 'OUT_OF_RANGE',
        });
      }
    });

    it('U1 BY_GROUPS: direct members only, or with includeNestedMembers the members of nested groups too', async () => {
      const direct = await world.user('U1Direct');
      const nested = await world.user('U1Nested');
      const outside = await world.user('U1Outside');
      const child = await world.group(`U1 Child ${tag()}`, { members: [nested.id] });
      const parent = await world.group(`U1 Parent ${tag()}`, { members: [direct.id, child.id] });

      const flat = await world.pbx();
      const flatRun = await flat.saveUserRule({ range: 'BY_GROUPS', groupIds: [parent.id] });
      expect([...(await flat.extensionsByUser()).keys()]).toEqual([direct.id]);
      expect(flatRun?.users).toMatchObject({ created: 1, failed: 0 });

      const deep = await world.pbx();
      const deepRun = await deep.saveUserRule({
        range: 'BY_GROUPS',
        groupIds: [parent.id],
        includeNestedMembers: true,
      });
      expect(new Set((await deep.extensionsByUser()).keys())).toEqual(new Set([direct.id, nested.id]));
      expect(deepRun?.users).toMatchObject({ created: 2, failed: 0 });

      // Membership changes of the nested group follow on the next (delta) sync.
      await world.sandbox.admin.addMember(child.id, outside.id);
      await world.sandbox.admin.removeMember(child.id, nested.id);
      const deepNext = await deep.sync(['USERS']);
      expect(deepNext.mode).toBe('DELTA');
      expect(deepNext.users).toMatchObject({ created: 1, deleted: 1 });
      expect(new Set((await deep.extensionsByUser()).keys())).toEqual(new Set([direct.id, outside.id]));
      const items = byObject(await deep.items(deepNext.id));
      expect(items.get(outside.id)).toMatchObject({ action: 'CREATE', reason: 'NEW_USER' });
      expect(items.get(nested.id)).toMatchObject({ action: 'DELETE', reason: 'OUT_OF_RANGE' });

      const flatNext = await flat.sync(['USERS']);
      expect(flatNext.users).toMatchObject({ created: 0, deleted: 0, updated: 0 });
      expect([...(await flat.extensionsByUser()).keys()]).toEqual([direct.id]);
    });
  });

  it.each([true, false])('U2 a user moved out of range, auto-delete %s', async (autoDelete) => {
    const stay = await world.user('U2Stay');
    const leave = await world.user('U2Leave');
    const g = await world.group(`U2 ${tag()}`, { members: [stay.id, leave.id] });
    const p = await world.pbx();
    const first = await p.saveUserRule({ range: 'BY_GROUPS', groupIds: [g.id], autoDelete });
    expect(first?.users.created).toBe(2);
    const before = await p.extensionsByUser();
    const gone = before.get(leave.id);

    await world.sandbox.admin.removeMember(g.id, leave.id);
    const run = await p.sync(['USERS']);
    expect(run.status).toBe('SUCCEEDED');
    const items = await p.items(run.id);
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      objectId: leave.id,
      targetId: gone?.id,
      number: gone?.number,
      action: autoDelete ? 'DELETE' : 'RELEASE',
      reason: 'OUT_OF_RANGE',
      state: 'APPLIED',
    });
    expect(run.users).toMatchObject({
      deleted: autoDelete ? 1 : 0,
      released: autoDelete ? 0 : 1,
      created: 0,
      updated: 0,
    });

    const exts = await p.extensions();
    expect(exts.find((e) => e.externalId === stay.id)?.id).toBe(before.get(stay.id)?.id);
    const kept = exts.find((e) => e.id === gone?.id);
    if (autoDelete) {
      expect(kept).toBeUndefined();
      expect(exts).toHaveLength(1);
      return;
    }
    // Released: kept with its number and data, now fully PBX-managed (unlocked, no label).
    expect(kept).toMatchObject({
      source: 'MANUAL',
      externalId: null,
      number: gone?.number,
      email: gone?.email,
      lockedFields: [],
    });
    const edited = await p.raw(UpdateExtensionDocument, {
      id: gone?.id as string,
      input: { firstName: 'Edited' },
    });
    expect(edited.body.errors).toBeUndefined();
    expect(edited.body.data?.updateExtension.firstName).toBe('Edited');
    const deleted = await p.raw(DeleteExtensionDocument, { id: gone?.id as string });
    expect(deleted.body.errors).toBeUndefined();
  });

  it('U3 AUTO: a user keeps its number across syncs; new users get the lowest free number, skipping numbers any extension holds', async () => {
    const a = await world.user('u3a');
    const b = await world.user('u3b');
    const c = await world.user('u3c');
    const g = await world.group(`U3 Auto ${tag()}`, { members: [a.id, b.id, c.id] });
    const p = await world.pbx();
    await p.createExtension({ number: '2001' });
    await p.createExtension({ number: '2003' });

    const first = await p.saveUserRule({ range: 'BY_GROUPS', groupIds: [g.id], startNumber: '2000' });
    expect(first?.users).toMatchObject({ created: 3, failed: 0 });
    const numbers = async () => new Map([...(await p.extensionsByUser())].map(([id, e]) => [id, e.number]));
    expect(await numbers()).toEqual(
      new Map([
        [a.id, '2000'],
        [b.id, '2002'],
        [c.id, '2004'],
      ]),
    );

    // a is renamed (it now sorts last), aa is new (it sorts before b), c is deleted for good
    // (its number stays held until the run has applied), and 2005 is taken by hand.
    await world.sandbox.admin.updateUser(a.id, {
      userPrincipalName: `zz-u3a.${tag()}@${world.domain}`,
      givenName: 'Renamed',
    });
    const aa = await world.user('u3aa');
    await world.sandbox.admin.addMember(g.id, aa.id);
    await world.sandbox.admin.hardDeleteUser(c.id);
    await p.createExtension({ number: '2005' });
    const second = await p.sync(['USERS']);
    expect(second.users).toMatchObject({ created: 1, updated: 1, deleted: 1, failed: 0 });
    expect(await numbers()).toEqual(
      new Map([
        [a.id, '2000'],
        [b.id, '2002'],
        [aa.id, '2006'],
      ]),
    );
    const items = byObject(await p.items(second.id));
    expect(items.get(a.id)).toMatchObject({ action: 'UPDATE', reason: 'USER_CHANGED', number: '2000' });
    expect(JSON.parse(items.get(a.id)?.changes ?? '[]')).toEqual([
      expect.objectContaining({ field: 'firstName', to: 'Renamed' }),
    ]);
    expect(items.get(c.id)).toMatchObject({ action: 'DELETE', reason: 'USER_DELETED', number: '2004' });

    // Now 2004 is free again: the lowest free number goes to the next new user.
    const ab = await world.user('u3ab');
    await world.sandbox.admin.addMember(g.id, ab.id);
    const third = await p.sync(['USERS']);
    expect(third.users).toMatchObject({ created: 1, updated: 0, deleted: 0 });
    expect((await numbers()).get(ab.id)).toBe('2004');
    expect((await numbers()).get(a.id)).toBe('2000');
  });

  it('U3 FROM_PROPERTY businessPhones: extension-like values become numbers; bad values and numbers in use are reported', async () => {
    const phones: Record<string, string[]> = {
      marked: ['+1 206 555 0100 ext. 4321'],
      x: ['x4500'],
      digits: ['4600'],
      phone: ['+1 425 555 0199'],
      empty: [],
      zero: ['0123'],
      held: ['4700'],
      twinA: ['4800'],
      twinB: ['4800'],
    };
    const u: Record<string, Awaited<ReturnType<SyncWorld['user']>>> = {};
    for (const [name, businessPhones] of Object.entries(phones))
      u[name] = await world.user(`u3p-${name}`, { businessPhones });
    const g = await world.group(`U3 Property ${tag()}`, { members: Object.values(u).map((x) => x.id) });
    const p = await world.pbx();
    const holder = await p.createExtension({ number: '4700' });

    const first = await p.saveUserRule({
      range: 'BY_GROUPS',
      groupIds: [g.id],
      numbering: 'FROM_PROPERTY',
      numberProperty: 'businessPhones',
    });
    expect(first?.users).toMatchObject({ created: 3, failed: 6 });
    // A run that could not sync some users says so: never a bare SUCCEEDED.
    expect(first?.message).toContain("Not synced: 6 user(s); the run's items with action FAIL say why");
    const numbers = async () => new Map([...(await p.extensionsByUser())].map(([id, e]) => [id, e.number]));
    expect(await numbers()).toEqual(
      new Map([
        [u.marked.id, '4321'],
        [u.x.id, '4500'],
        [u.digits.id, '4600'],
      ]),
    );

    const fails = byObject(await p.items(first?.id as string, 'FAIL'));
    expect(fails.size).toBe(6);
    for (const name of ['phone', 'empty', 'zero']) {
      expect(fails.get(u[name].id), name).toMatchObject({
        reason: 'INVALID_EXTENSION_NUMBER',
        userPrincipalName: u[name].userPrincipalName,
      });
    }
    expect(fails.get(u.phone.id)?.detail).toContain('+1 425 555 0199');
    expect(fails.get(u.held.id)).toMatchObject({ reason: 'NUMBER_IN_USE' });
    expect(fails.get(u.held.id)?.detail).toContain(holder.id);
    expect(fails.get(u.twinA.id)).toMatchObject({ reason: 'NUMBER_IN_USE' });
    expect(fails.get(u.twinB.id)).toMatchObject({ reason: 'NUMBER_IN_USE' });
    // The hand-made extension keeps its number.
    expect((await p.extensions()).find((e) => e.id === holder.id)).toMatchObject({
      number: '4700',
      source: 'MANUAL',
    });

    // A new value renumbers a synced user; a bad one leaves its extension as it is; fixed
    // values get extensions.
    await world.sandbox.admin.updateUser(u.marked.id, { businessPhones: ['4322'] });
    await world.sandbox.admin.updateUser(u.digits.id, { businessPhones: ['call me'] });
    await world.sandbox.admin.updateUser(u.phone.id, { businessPhones: ['+1 425 555 0199 x4900'] });
    await world.sandbox.admin.updateUser(u.twinB.id, { businessPhones: ['4801'] });
    const second = await p.sync(['USERS']);
    expect(second.users).toMatchObject({ created: 3, updated: 1, failed: 4 });
    expect(await numbers()).toEqual(
      new Map([
        [u.marked.id, '4322'],
        [u.x.id, '4500'],
        [u.digits.id, '4600'],
        [u.phone.id, '4900'],
        [u.twinA.id, '4800'],
        [u.twinB.id, '4801'],
      ]),
    );
    const fails2 = byObject(await p.items(second.id, 'FAIL'));
    expect(new Set(fails2.keys())).toEqual(new Set([u.digits.id, u.empty.id, u.zero.id, u.held.id]));
    expect(fails2.get(u.digits.id)).toMatchObject({ reason: 'INVALID_EXTENSION_NUMBER', number: '4600' });
  });

  it.each([
    { property: 'employeeId', first: { employeeId: '7001' }, next: { employeeId: '7011' } },
    {
      property: 'onPremisesExtensionAttributes.extensionAttribute1',
      first: { onPremisesExtensionAttributes: { extensionAttribute1: 'Ext 7001' } },
      next: { onPremisesExtensionAttributes: { extensionAttribute1: 'x7011', extensionAttribute2: 'other' } },
    },
  ])(
    'U3 FROM_PROPERTY $property: the number comes from that property, and follows it',
    async ({ property, first, next }) => {
      const user = await world.user('u3x', first);
      const g = await world.group(`U3 ${tag()}`, { members: [user.id] });
      const p = await world.pbx();
      const run = await p.saveUserRule({
        range: 'BY_GROUPS',
        groupIds: [g.id],
        numbering: 'FROM_PROPERTY',
        numberProperty: property,
      });
      expect(run).toMatchObject({
        status: 'SUCCEEDED',
        users: expect.objectContaining({ created: 1, failed: 0 }),
      });
      expect((await p.extensionsByUser()).get(user.id)?.number).toBe('7001');
      await world.sandbox.admin.updateUser(user.id, next);
      const after = await p.sync(['USERS']);
      expect(after).toMatchObject({
        mode: 'DELTA',
        users: expect.objectContaining({ updated: 1, failed: 0 }),
      });
      expect((await p.extensionsByUser()).get(user.id)?.number).toBe('7011');
    },
  );

  it.each([
    { disabled: true, deleted: true },
    { disabled: true, deleted: false },
    { disabled: false, deleted: true },
    { disabled: false, deleted: false },
  ])(
    'U4 deleteWhen disabled=$disabled deleted=$deleted: disable, soft-delete, restore, hard-delete',
    async ({ disabled, deleted }) => {
      const names = ['Disabled', 'Soft', 'Restored', 'Hard', 'Kept'];
      const [d, s, r, h, k] = await Promise.all(names.map((n) => world.user(`U4${n}`)));
      const g = await world.group(`U4 ${tag()}`, { members: [d.id, s.id, r.id, h.id, k.id] });
      const p = await world.pbx();
      const first = await p.saveUserRule({
        range: 'BY_GROUPS',
        groupIds: [g.id],
        deleteWhenDisabled: disabled,
        deleteWhenDeleted: deleted,
      });
      expect(first?.users.created).toBe(5);
      const before = await p.extensionsByUser();

      await world.sandbox.admin.disableUser(d.id);
      await world.sandbox.admin.softDeleteUser(s.id);
      await world.sandbox.admin.softDeleteUser(r.id);
      await world.sandbox.admin.hardDeleteUser(h.id);
      const second = await p.sync(['USERS']);
      expect(second.status).toBe('SUCCEEDED');
      expect(second.users).toMatchObject({
        deleted: (disabled ? 1 : 0) + (deleted ? 3 : 0),
        skipped: deleted ? 0 : 2,
        released: deleted ? 0 : 1,
        created: 0,
        updated: 0,
        failed: 0,
      });
      const items = byObject(await p.items(second.id));
      if (disabled) expect(items.get(d.id)).toMatchObject({ action: 'DELETE', reason: 'USER_DISABLED' });
      else expect(items.has(d.id)).toBe(false);
      for (const soft of [s, r]) {
        expect(items.get(soft.id)).toMatchObject(
          deleted
            ? { action: 'DELETE', reason: 'USER_SOFT_DELETED' }
            : { action: 'SKIP', reason: 'USER_SOFT_DELETED' },
        );
      }
      expect(items.get(h.id)).toMatchObject({
        action: deleted ? 'DELETE' : 'RELEASE',
        reason: 'USER_DELETED',
      });
      expect(items.has(k.id)).toBe(false);

      const exts = await p.extensions();
      const byId = new Map(exts.map((e) => [e.id, e]));
      const ext = (user: { id: string }) => byId.get(before.get(user.id)?.id as string);
      expect(ext(k)).toMatchObject({ source: 'SYNCED', externalId: k.id });
      expect(ext(d)).toEqual(
        disabled ? undefined : expect.objectContaining({ source: 'SYNCED', externalId: d.id }),
      );
      for (const soft of [s, r]) {
        // Kept while in the recycle bin: still synced and locked, so a restore carries on.
        expect(ext(soft)).toEqual(
          deleted ? undefined : expect.objectContaining({ source: 'SYNCED', externalId: soft.id }),
        );
      }
      // Gone for good with U4 'deleted' off: retained, and released (nothing could sync it again).
      expect(ext(h)).toEqual(
        deleted
          ? undefined
          : expect.objectContaining({ source: 'MANUAL', externalId: null, lockedFields: [] }),
      );

      await world.sandbox.admin.restoreUser(r.id);
      await world.sandbox.admin.enableUser(d.id);
      const third = await p.sync(['USERS']);
      expect(third.users).toMatchObject({
        created: (deleted ? 1 : 0) + (disabled ? 1 : 0),
        deleted: 0,
        skipped: deleted ? 0 : 1,
        updated: 0,
        failed: 0,
      });
      const after = await p.extensionsByUser();
      expect(after.get(r.id)?.source).toBe('SYNCED');
      expect(after.get(d.id)?.source).toBe('SYNCED');
      // Kept extensions are the same ones as before (same id, same number); deleted ones come back new.
      expect(after.get(r.id)?.id === before.get(r.id)?.id).toBe(!deleted);
      expect(after.get(d.id)?.id === before.get(d.id)?.id).toBe(!disabled);
      if (!deleted) expect(after.get(r.id)?.number).toBe(before.get(r.id)?.number);
      expect(after.has(s.id)).toBe(!deleted);
    },
  );

  it.each([true, false])(
    'U5 a user with the email of a hand-made extension, auto-associate %s',
    async (autoAssociate) => {
      const t = tag();
      const user = await world.user('U5Dup', {
        mail: `U5.Dup.${t}@${world.domain}`,
        jobTitle: 'Engineer',
        mobilePhone: '+1 425 555 0123',
      });
      const g = await world.group(`U5 ${t}`, { members: [user.id] });
      const p = await world.pbx();
      const manual = await p.createExtension({
        number: '3000',
        firstName: 'Old',
        lastName: 'Name',
        email: `u5.dup.${t}@${world.domain}`,
        jobTitle: 'Old job',
        callerIdName: 'Front desk',
      });

      const run = await p.saveUserRule({ range: 'BY_GROUPS', groupIds: [g.id], autoAssociate });
      const exts = await p.extensions();
      expect(exts).toHaveLength(1);
      if (autoAssociate) {
        expect(run?.users).toMatchObject({ associated: 1, created: 0, failed: 0 });
        const [item] = await p.items(run?.id as string);
        expect(item).toMatchObject({
          action: 'ASSOCIATE',
          reason: 'EMAIL_MATCH',
          objectId: user.id,
          targetId: manual.id,
          number: '3000',
        });
        // The same extension, taken over: synced, its user information overwritten, number and PBX fields kept.
        expect(exts[0]).toMatchObject({
          id: manual.id,
          number: '3000',
          source: 'SYNCED',
          externalId: user.id,
          firstName: 'U5Dup',
          lastName: 'Test',
          email: `U5.Dup.${t}@${world.domain}`,
          jobTitle: 'Engineer',
          mobileNumber: '+1 425 555 0123',
          callerIdName: 'Front desk',
        });
        expect(exts[0].lockedFields.length).toBeGreaterThan(0);
        // Associated once: the next sync has nothing to do.
        const next = await p.sync(['USERS']);
        expect(next.users).toMatchObject({ associated: 0, created: 0, updated: 0, failed: 0 });
      } else {
        expect(run?.users).toMatchObject({ associated: 0, created: 0, failed: 1 });
        const fails = await p.items(run?.id as string, 'FAIL');
        expect(fails).toEqual([
          expect.objectContaining({
            objectId: user.id,
            objectName: 'U5Dup',
            userPrincipalName: user.userPrincipalName,
            reason: 'DUPLICATE_EMAIL',
            state: 'REPORTED',
          }),
        ]);
        expect(fails[0].detail).toContain('auto associate is off');
        expect(exts[0]).toMatchObject({
          id: manual.id,
          source: 'MANUAL',
          firstName: 'Old',
          externalId: null,
          lockedFields: [],
        });
      }
    },
  );

  it('U7 the first save of the rules runs the initial sync at once; a later save waits for the next sync', async () => {
    const a = await world.user('U7a');
    const b = await world.user('U7b');
    const g1 = await world.group(`U7 One ${tag()}`, { members: [a.id] });
    const g2 = await world.group(`U7 Two ${tag()}`, { members: [b.id] });
    const p = await world.pbx();
    const first = await p.saveUserRule({ range: 'BY_GROUPS', groupIds: [g1.id] });
    expect(first).toMatchObject({
      trigger: 'RULES_SAVED',
      status: 'SUCCEEDED',
      mode: 'FULL',
      scopes: ['USERS'],
    });
    expect([...(await p.extensionsByUser()).keys()]).toEqual([a.id]);

    const later = await p.ok(SaveUserSyncRuleDocument, {
      input: { ...USER_RULE, range: 'BY_GROUPS', groupIds: [g2.id] },
    });
    expect(later.saveUserSyncRule.initialRun).toBeNull();
    await staysTrue(async () => (await p.ok(SyncRunsDocument, { first: 10 })).syncRuns.totalCount === 1, {
      for: 300,
      message: 'no run from the later save',
    });
    expect([...(await p.extensionsByUser()).keys()]).toEqual([a.id]);

    const next = await p.sync();
    expect(next.trigger).toBe('MANUAL');
    expect(next.users).toMatchObject({ created: 1, deleted: 1 });
    expect([...(await p.extensionsByUser()).keys()]).toEqual([b.id]);
  });

  it('U8 a run reports counts per action and every failure with its user and reason', async () => {
    const t = tag();
    const [upd, leave, keep] = await Promise.all(['U8Update', 'U8Leave', 'U8Keep'].map((n) => world.user(n)));
    const g = await world.group(`U8 ${t}`, { members: [upd.id, leave.id, keep.id] });
    const p = await world.pbx();
    const manual = await p.createExtension({ number: '5000', email: `u8.assoc.${t}@${world.domain}` });
    const first = await p.saveUserRule({ range: 'BY_GROUPS', groupIds: [g.id], autoAssociate: true });
    expect(first?.users).toMatchObject({
      created: 3,
      updated: 0,
      deleted: 0,
      associated: 0,
      skipped: 0,
      failed: 0,
    });

    await world.sandbox.admin.updateUser(upd.id, { jobTitle: 'New title', mobilePhone: '+1 425 555 0142' });
    await world.sandbox.admin.removeMember(g.id, leave.id);
    const assoc = await world.user('U8Assoc', { mail: `u8.assoc.${t}@${world.domain}` });
    const off = await world.user('U8Disabled', { accountEnabled: false });
    const dup1 = await world.user('U8DupOne', { mail: `u8.shared.${t}@${world.domain}` });
    const dup2 = await world.user('U8DupTwo', { mail: `U8.Shared.${t}@${world.domain}` });
    const fresh = await world.user('U8Fresh');
    for (const u of [assoc, off, dup1, dup2, fresh]) await world.sandbox.admin.addMember(g.id, u.id);

    const run = await p.sync(['USERS']);
    expect(run).toMatchObject({ status: 'SUCCEEDED', mode: 'DELTA', trigger: 'MANUAL' });
    expect(run.startedAt && run.finishedAt).toBeTruthy();
    expect(run.users).toEqual({
      created: 1,
      updated: 1,
      associated: 1,
      deleted: 1,
      released: 0,
      skipped: 1,
      failed: 2,
      held: 0,
    });

    const items = byObject(await p.items(run.id));
    expect(items.size).toBe(7);
    expect(items.get(fresh.id)).toMatchObject({ action: 'CREATE', reason: 'NEW_USER', state: 'APPLIED' });
    expect(items.get(upd.id)).toMatchObject({ action: 'UPDATE', reason: 'USER_CHANGED' });
    expect(
      JSON.parse(items.get(upd.id)?.changes ?? '[]')
        .map((c: { field: string }) => c.field)
        .sort(),
    ).toEqual(['jobTitle', 'mobileNumber']);
    expect(items.get(assoc.id)).toMatchObject({
      action: 'ASSOCIATE',
      reason: 'EMAIL_MATCH',
      targetId: manual.id,
    });
    expect(items.get(leave.id)).toMatchObject({ action: 'DELETE', reason: 'OUT_OF_RANGE' });
    expect(items.get(off.id)).toMatchObject({ action: 'SKIP', reason: 'USER_DISABLED', state: 'REPORTED' });

    // Every failure, page by page, with its user and reason.
    const page1 = await p.ok(SyncRunDocument, { id: run.id, action: 'FAIL', first: 1 });
    const conn1 = page1.syncRun?.items;
    expect(conn1?.totalCount).toBe(2);
    expect(conn1?.pageInfo.hasNextPage).toBe(true);
    const page2 = await p.ok(SyncRunDocument, {
      id: run.id,
      action: 'FAIL',
      first: 1,
      after: conn1?.pageInfo.endCursor,
    });
    expect(page2.syncRun?.items.pageInfo.hasNextPage).toBe(false);
    const fails = [...(conn1?.nodes ?? []), ...(page2.syncRun?.items.nodes ?? [])];
    expect(
      fails.map((f) => [f.objectId, f.objectName, f.userPrincipalName, f.action, f.reason]).sort(),
    ).toEqual(
      [
        [dup1.id, 'U8DupOne', dup1.userPrincipalName, 'FAIL', 'DUPLICATE_EMAIL'],
        [dup2.id, 'U8DupTwo', dup2.userPrincipalName, 'FAIL', 'DUPLICATE_EMAIL'],
      ].sort(),
    );
    for (const f of fails) expect(f.detail).toContain('2 users in range want this email');

    const runs = (await p.ok(SyncRunsDocument, { first: 10 })).syncRuns;
    expect(runs.nodes.map((r) => r.id)).toEqual([run.id, first?.id]);
  });

  it('U9 synced extensions carry the label and are locked: no delete, no hand edit of the synced fields', async () => {
    const user = await world.user('U9User', { jobTitle: 'Analyst', mobilePhone: '+1 425 555 0190' });
    const g = await world.group(`U9 ${tag()}`, { members: [user.id] });
    const p = await world.pbx();
    await p.saveUserRule({ range: 'BY_GROUPS', groupIds: [g.id] });
    const ext = (await p.extensionsByUser()).get(user.id);
    expect(ext).toMatchObject({ source: 'SYNCED', externalId: user.id });
    expect([...(ext?.lockedFields ?? [])].sort()).toEqual([
      'email',
      'firstName',
      'jobTitle',
      'lastName',
      'mobileNumber',
    ]);
    const id = ext?.id as string;

    for (const input of [
      { firstName: 'Hand' },
      { lastName: 'Made' },
      { email: 'hand@example.com' },
      { mobileNumber: '+1 425 555 0000' },
      { jobTitle: 'Boss' },
    ]) {
      const res = await p.raw(UpdateExtensionDocument, { id, input });
      expect(errorsOf(res), JSON.stringify(input)).toEqual([
        expect.objectContaining({ code: 'LOCKED_BY_SYNC', field: Object.keys(input)[0] }),
      ]);
    }
    expect(errorsOf(await p.raw(DeleteExtensionDocument, { id }))).toEqual([
      expect.objectContaining({ code: 'LOCKED_BY_SYNC' }),
    ]);

    // PBX-managed fields stay editable, and the sync leaves them alone.
    const pbxEdit = await p.raw(UpdateExtensionDocument, {
      id,
      input: { callerIdName: 'Desk 9', notes: 'by hand' },
    });
    expect(pbxEdit.body.errors).toBeUndefined();
    await world.sandbox.admin.updateUser(user.id, { jobTitle: 'Lead Analyst' });
    const run = await p.sync(['USERS']);
    expect(run.users.updated).toBe(1);
    expect((await p.extensionsByUser()).get(user.id)).toMatchObject({
      id,
      jobTitle: 'Lead Analyst',
      callerIdName: 'Desk 9',
      notes: 'by hand',
      source: 'SYNCED',
    });
  });

  it('U9 synced fields fit the extension: long directory values are shortened or left out, and said so (both databases)', async () => {
    const room = `Conference Room ${'Ä'.repeat(70)} 🎧`;
    const longMobile = '+49 (0) 151 1234 5678 / +49 30 1234 5678 9';
    const user = await world.user('U9Long', {
      givenName: undefined,
      surname: undefined,
      displayName: room,
      mobilePhone: longMobile,
    });
    const g = await world.group(`U9 Long ${tag()}`, { members: [user.id] });
    const p = await world.pbx();
    const run = await p.saveUserRule({ range: 'BY_GROUPS', groupIds: [g.id] });
    expect(run).toMatchObject({
      status: 'SUCCEEDED',
      users: expect.objectContaining({ created: 1, failed: 0 }),
    });
    const ext = (await p.extensionsByUser()).get(user.id);
    expect(ext?.firstName).toBe(Array.from(room).slice(0, 64).join(''));
    expect(ext?.mobileNumber).toBeNull();
    const [item] = await p.items(run?.id as string);
    expect(item.detail).toContain('first name shortened to 64 characters');
    expect(item.detail).toContain(`mobilePhone "${longMobile}"`);
    // Fitted values are stable: the next sync has nothing to change; a fitting value comes through.
    expect((await p.sync(['USERS'])).users).toMatchObject({ updated: 0, failed: 0 });
    await world.sandbox.admin.updateUser(user.id, { mobilePhone: '+49 151 1234 5678' });
    expect((await p.sync(['USERS'])).users).toMatchObject({ updated: 1, failed: 0 });
    expect((await p.extensionsByUser()).get(user.id)?.mobileNumber).toBe('+49 151 1234 5678');
  });

  it('U10 users past the extension capacity are reported CAPACITY_REACHED; room made later is used', async () => {
    const users = [];
    for (const n of ['u10a', 'u10b', 'u10c', 'u10d', 'u10e']) users.push(await world.user(n));
    const [a, b, c, d, e] = users;
    const g = await world.group(`U10 ${tag()}`, { members: users.map((u) => u.id) });
    const p = await world.pbx();
    await p.ok(UpdatePbxDocument, { input: { extensionCapacity: 4 } });
    await p.createExtension({ number: '6000' });

    const first = await p.saveUserRule({ range: 'BY_GROUPS', groupIds: [g.id] });
    expect(first?.users).toMatchObject({ created: 3, failed: 2 });
    expect(new Set((await p.extensionsByUser()).keys())).toEqual(new Set([a.id, b.id, c.id]));
    const fails = await p.items(first?.id as string, 'FAIL');
    expect(fails.map((f) => [f.objectId, f.reason])).toEqual([
      [d.id, 'CAPACITY_REACHED'],
      [e.id, 'CAPACITY_REACHED'],
    ]);
    expect(fails[0].detail).toContain('4');
    expect(await p.extensions()).toHaveLength(4);

    await p.ok(UpdatePbxDocument, { input: { extensionCapacity: 5 } });
    const second = await p.sync(['USERS']);
    expect(second.users).toMatchObject({ created: 1, failed: 1 });
    expect((await p.extensionsByUser()).has(d.id)).toBe(true);
    expect((await p.items(second.id, 'FAIL')).map((f) => [f.objectId, f.reason])).toEqual([
      [e.id, 'CAPACITY_REACHED'],
    ]);

    // A delete in the same run frees room for a create.
    await world.sandbox.admin.hardDeleteUser(a.id);
    const third = await p.sync(['USERS']);
    expect(third.users).toMatchObject({ created: 1, deleted: 1, failed: 0 });
    expect(new Set((await p.extensionsByUser()).keys())).toEqual(new Set([b.id, c.id, d.id, e.id]));
    expect(await p.extensions()).toHaveLength(5);
  });
});
