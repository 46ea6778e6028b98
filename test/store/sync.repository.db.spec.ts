import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { SyncRunItemData } from '../../src/app/ports/sync.port.js';
import { describeEachDb, useStore } from '../support/db.js';

type NewItem = Omit<SyncRunItemData, 'id' | 'runId'>;

const item = (seq: number, patch: Partial<NewItem> = {}): NewItem => ({
  seq,
  scope: 'USER',
  action: 'CREATE',
  reason: 'NEW_USER',
  objectId: randomUUID(),
  objectName: `User ${seq}`,
  objectSecondary: `user${seq}@contoso.test`,
  number: String(1000 + seq),
  targetId: null,
  detail: null,
  changes: null,
  state: 'APPLIED',
  ...patch,
});

/** Sync settings, runs, run items and the directory snapshot (src/store/sync.repository.ts). */
describeEachDb('sync repository: settings, runs, items, snapshot', (leg) => {
  const t = useStore(leg);

  describe('settings', () => {
    it('T1 T2 a PBX’s settings start at the defaults: daily 00:30, 10 minutes or 10 changes', async () => {
      const pbxId = await t.pbx();
      expect(await t.store().sync.getSettings(pbxId)).toMatchObject({
        pbxId,
        userRule: null,
        groupRule: null,
        changeDebounceSeconds: 600,
        changeThreshold: 10,
        schedule: { frequency: 'DAILY', days: [], time: '00:30' },
      });
    });

    it('first use from several units of work at once makes one row, and every caller reads it', async () => {
      const pbxId = await t.pbx();
      const all = await Promise.all(Array.from({ length: 5 }, () => t.store().sync.getSettings(pbxId)));
      expect(all.every((s) => s.changeThreshold === 10)).toBe(true);
      await t.store().sync.updateSettings(pbxId, { changeThreshold: 3 });
      expect((await t.store().sync.getSettings(pbxId)).changeThreshold).toBe(3);
    });

    it('U1 T1 keeps rules, schedule and delta links as written, and changes only what a patch names', async () => {
      const pbxId = await t.pbx();
      const userRule = { range: 'BY_GROUPS', groupIds: ['g1', 'g2'], numbering: 'AUTO', startNumber: '2000' };
      await t.store().sync.updateSettings(pbxId, {
        userRule: userRule as never,
        schedule: { frequency: 'WEEKLY', days: ['MON', 'FRI'], time: '06:15' },
        usersDeltaLink: 'https://graph.test/users/delta?$deltatoken=abc',
        lastFullReadAt: new Date('2030-04-05T06:07:08.000Z'),
      });
      await t.store().sync.updateSettings(pbxId, { changeDebounceSeconds: 30 });
      expect(await t.store().sync.getSettings(pbxId)).toMatchObject({
        userRule,
        groupRule: null,
        schedule: { frequency: 'WEEKLY', days: ['MON', 'FRI'], time: '06:15' },
        usersDeltaLink: 'https://graph.test/users/delta?$deltatoken=abc',
        lastFullReadAt: new Date('2030-04-05T06:07:08.000Z'),
        changeDebounceSeconds: 30,
      });
      await t.store().sync.updateSettings(pbxId, { userRule: null });
      expect((await t.store().sync.getSettings(pbxId)).userRule).toBeNull();
    });
  });

  describe('runs', () => {
    it('U8 a run is created QUEUED, updated with its counts, and found only under its own PBX', async () => {
      const [pbxId, other] = [await t.pbx(), await t.pbx()];
      const queuedAt = new Date('2030-01-01T10:00:00.000Z');
      const run = await t
        .store()
        .sync.createRun({ pbxId, trigger: 'MANUAL', scopes: ['USERS', 'GROUPS'], queuedAt });
      expect(run).toMatchObject({
        pbxId,
        status: 'QUEUED',
        phase: 'QUEUED',
        trigger: 'MANUAL',
        scopes: ['USERS', 'GROUPS'],
        queuedAt,
      });
      const counts = {
        users: { create: 3, update: 1, associate: 0, delete: 2, release: 0, skip: 1, fail: 1, held: 0 },
        groups: { create: 1, update: 0, associate: 0, delete: 0, release: 0, skip: 0, fail: 0, held: 0 },
      };
      await t.store().sync.updateRun(run.id, {
        status: 'SUCCEEDED',
        phase: 'SUCCEEDED',
        counts,
        graphRequests: 7,
        scopes: ['USERS'],
        finishedAt: new Date('2030-01-01T10:01:00.000Z'),
      });
      expect(await t.store().sync.getRun(pbxId, run.id)).toMatchObject({
        status: 'SUCCEEDED',
        counts,
        graphRequests: 7,
        scopes: ['USERS'],
        finishedAt: new Date('2030-01-01T10:01:00.000Z'),
      });
      expect(await t.store().sync.getRun(other, run.id)).toBeNull();
    });

    it('keeps a given run id (requestSync claims it before the row exists)', async () => {
      const pbxId = await t.pbx();
      const id = randomUUID();
      const run = await t
        .store()
        .sync.createRun({ id, pbxId, trigger: 'CHANGE', scopes: ['USERS'], queuedAt: new Date() });
      expect(run.id).toBe(id);
      expect((await t.store().sync.getRun(pbxId, id))?.trigger).toBe('CHANGE');
    });

    it('pages runs newest first with opaque cursors, without gaps or repeats, runs of one instant included', async () => {
      const pbxId = await t.pbx();
      const base = Date.parse('2030-03-01T00:00:00.000Z');
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) {
        // Two runs share each instant: the cursor must order them by id too.
        const queuedAt = new Date(base + Math.floor(i / 2) * 1000);
        ids.push(
          (await t.store().sync.createRun({ pbxId, trigger: 'SCHEDULE', scopes: ['USERS'], queuedAt })).id,
        );
      }
      const seen: string[] = [];
      let after: string | null = null;
      for (;;) {
        const page = await t.store().sync.pageRuns(pbxId, { first: 3, after });
        expect(page.totalCount).toBe(7);
        seen.push(...page.edges.map((e) => e.node.id));
        if (!page.hasNextPage) break;
        after = page.endCursor;
      }
      expect(new Set(seen).size).toBe(7);
      expect(seen.sort()).toEqual([...ids].sort());
      const times = (await t.store().sync.pageRuns(pbxId, { first: 10 })).edges.map((e) =>
        e.node.queuedAt.getTime(),
      );
      expect(times).toEqual([...times].sort((a, b) => b - a));
    });

    it('lists the unfinished runs (QUEUED, RUNNING) oldest first', async () => {
      const pbxId = await t.pbx();
      const mk = (ms: number) =>
        t.store().sync.createRun({ pbxId, trigger: 'MANUAL', scopes: ['USERS'], queuedAt: new Date(ms) });
      const a = await mk(3000);
      const b = await mk(1000);
      const c = await mk(2000);
      await t.store().sync.updateRun(a.id, { status: 'RUNNING' });
      await t.store().sync.updateRun(c.id, { status: 'FAILED' });
      expect((await t.store().sync.unfinishedRuns(pbxId)).map((r) => r.id)).toEqual([b.id, a.id]);
    });
  });

  describe('run items', () => {
    it('U8 records items in batches (over 500), pages them in seq order, filters by action, counts them', async () => {
      const pbxId = await t.pbx();
      const run = await t
        .store()
        .sync.createRun({ pbxId, trigger: 'MANUAL', scopes: ['USERS', 'GROUPS'], queuedAt: new Date() });
      const items: NewItem[] = [];
      for (let seq = 0; seq < 1203; seq++)
        items.push(item(seq, seq % 100 === 7 ? { action: 'FAIL', reason: 'NO_EMAIL', number: null } : {}));
      items.push(item(1203, { scope: 'GROUP', action: 'DELETE', reason: 'GONE', state: 'HELD' }));
      items.push(item(1204, { objectName: 'Ω'.repeat(400), detail: 'd'.repeat(2000) }));
      await t.store().sync.addItems(run.id, items);

      expect(await t.store().sync.maxSeq(run.id)).toBe(1204);
      const counts = await t.store().sync.itemCounts(run.id);
      expect(counts.users).toMatchObject({ create: 1192, fail: 12 });
      expect(counts.groups).toMatchObject({ delete: 0, held: 1 });

      const fails = await t.store().sync.pageItems(run.id, { action: 'FAIL' }, { first: 5 });
      expect(fails.totalCount).toBe(12);
      expect(fails.edges.map((e) => e.node.seq)).toEqual([7, 107, 207, 307, 407]);
      const next = await t
        .store()
        .sync.pageItems(run.id, { action: 'FAIL' }, { first: 100, after: fails.endCursor });
      expect(next.edges.map((e) => e.node.seq)).toEqual([507, 607, 707, 807, 907, 1007, 1107]);
      expect(next.hasNextPage).toBe(false);

      // Long text is cut to the column, not refused.
      const last = (
        await t
          .store()
          .sync.pageItems(
            run.id,
            {},
            { first: 1, after: (await t.store().sync.pageItems(run.id, {}, { first: 1204 })).endCursor },
          )
      ).edges[0]?.node;
      expect(last?.objectName).toHaveLength(300);
      expect(last?.detail).toHaveLength(1000);
      expect(await t.store().sync.maxSeq(randomUUID())).toBe(-1);
    });

    it('U2 held items are found by state and move on to APPROVED or DISCARDED', async () => {
      const pbxId = await t.pbx();
      const run = await t
        .store()
        .sync.createRun({ pbxId, trigger: 'MANUAL', scopes: ['USERS'], queuedAt: new Date() });
      await t
        .store()
        .sync.addItems(run.id, [
          item(0),
          item(1, { action: 'DELETE', state: 'HELD' }),
          item(2, { action: 'DELETE', state: 'HELD' }),
        ]);
      const held = await t.store().sync.itemsInState(run.id, 'HELD');
      expect(held.map((i) => i.seq)).toEqual([1, 2]);
      await t.store().sync.setItemState(run.id, [held[0]?.id as string], 'APPROVED');
      await t.store().sync.setItemState(run.id, [held[1]?.id as string], 'DISCARDED');
      expect(await t.store().sync.itemsInState(run.id, 'HELD')).toEqual([]);
      expect((await t.store().sync.itemsInState(run.id, 'APPROVED')).map((i) => i.seq)).toEqual([1]);
      expect((await t.store().sync.itemCounts(run.id)).users).toMatchObject({
        create: 1,
        delete: 2,
        held: 0,
      });
    });
  });

  describe('directory snapshot', () => {
    it('replaces, patches and loads the users and groups as last read, per PBX', async () => {
      const [pbxId, other] = [await t.pbx(), await t.pbx()];
      const u = (id: string, name: string) => ({ id, displayName: name });
      await t.store().sync.replaceSnapshot(pbxId, 'USER', [u('u1', 'One'), u('u2', 'Two'), u('u3', 'Three')]);
      const group = { id: 'g1', members: ['u1', 'u2'] };
      await t.store().sync.replaceSnapshot(pbxId, 'GROUP', [group]);
      await t.store().sync.replaceSnapshot(other, 'USER', [u('u1', 'Elsewhere')]);

      await t.store().sync.patchSnapshot(pbxId, 'USER', [u('u2', 'Two renamed'), u('u4', 'Four')], ['u3']);
      const snap = await t.store().sync.loadSnapshot(pbxId);
      const byId = (xs: Array<{ id: string }>) => Object.fromEntries(xs.map((x) => [x.id, x]));
      expect(byId(snap.users)).toEqual({
        u1: u('u1', 'One'),
        u2: u('u2', 'Two renamed'),
        u4: u('u4', 'Four'),
      });
      expect(snap.groups).toEqual([{ id: 'g1', members: ['u1', 'u2'] }]);
      expect((await t.store().sync.loadSnapshot(other)).users).toEqual([u('u1', 'Elsewhere')]);

      await t.store().sync.replaceSnapshot(pbxId, 'USER', []);
      expect((await t.store().sync.loadSnapshot(pbxId)).users).toEqual([]);
      expect((await t.store().sync.loadSnapshot(pbxId)).groups).toHaveLength(1);
    });

    it('the directory fingerprint changes when an extension of the PBX is created or changed', async () => {
      const pbxId = await t.pbx();
      const before = await t.store().sync.directoryFingerprint(pbxId);
      const ext = await t.store().directory.createExtension(pbxId, {
        number: '1001',
        firstName: 'A',
        lastName: 'B',
        email: null,
        mobileNumber: null,
        jobTitle: null,
      });
      const created = await t.store().sync.directoryFingerprint(pbxId);
      expect(created).not.toBe(before);
      expect(await t.store().sync.directoryFingerprint(pbxId)).toBe(created);
      await t.store().directory.deleteExtension(pbxId, ext.id);
      expect(await t.store().sync.directoryFingerprint(pbxId)).not.toBe(created);
    });
  });
});
