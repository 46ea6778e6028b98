import { expect, it } from 'vitest';
import type { ContactItemRow } from '../../src/app/ports/contact-sync.port.js';
import { describeEachDb, useStore } from '../support/db.js';

const skip = (contactId: string): ContactItemRow => ({
  action: 'SKIP',
  reason: 'NO_PHONE',
  objectId: contactId,
  objectName: `Contact ${contactId}`,
  objectSecondary: 'owner@example.com',
  number: null,
  targetId: null,
  detail: 'The contact has no mobile, home or business number.',
  changes: null,
  state: 'REPORTED',
});

describeEachDb('contact sync ledger: a run reports a contact once (C4)', (leg) => {
  const db = useStore(leg);

  it('C4: a page recorded again (replayed after a worker died) adds no row and no count; new contacts on it do', async () => {
    const pbxId = await db.pbx();
    const store = db.store();
    const run = await store.sync.createRun({
      pbxId,
      trigger: 'MANUAL',
      scopes: ['CONTACTS'],
      queuedAt: new Date(),
    });
    const page = ['c1', 'c2', 'c3'].map(skip);
    const record = (rows: ContactItemRow[], tally: { create?: number; skip?: number; fail?: number }) =>
      store.transactional((tx) => tx.contactSync.record(pbxId, run.id, 'mbx-1', tally, rows));

    expect(await record(page, { create: 5, skip: 3 })).toBe(3);
    // The same page again, with one contact more, and a contact twice within one call.
    expect(await record([...page, skip('c4'), skip('c4')], { create: 0, skip: 5 })).toBe(1);
    // A mailbox's FAIL row once, however often its job runs.
    const fail: ContactItemRow = { ...skip('mbx-1'), action: 'FAIL', reason: 'ACCESS_DENIED' };
    expect(await record([fail], { fail: 1 })).toBe(1);
    expect(await record([fail], { fail: 1 })).toBe(0);

    expect(await store.contactSync.runTally(run.id)).toEqual({
      create: 5,
      update: 0,
      delete: 0,
      skip: 4,
      fail: 1,
    });
    const rows = await store.sync.itemsInState(run.id, 'REPORTED');
    expect(rows.map((r) => `${r.action} ${r.objectId}`).sort()).toEqual([
      'FAIL mbx-1',
      'SKIP c1',
      'SKIP c2',
      'SKIP c3',
      'SKIP c4',
    ]);
    expect(new Set(rows.map((r) => r.seq)).size).toBe(rows.length);
  });

  it("C1 C4: a mailbox's report row written with its last page's record carries the mailbox's whole tally, this page's share included, once", async () => {
    const pbxId = await db.pbx();
    const store = db.store();
    const run = await store.sync.createRun({
      pbxId,
      trigger: 'MANUAL',
      scopes: ['CONTACTS'],
      queuedAt: new Date(),
    });
    const summary = (t: { create: number; delete: number; skip: number }): ContactItemRow => ({
      ...skip('mbx-1'),
      action: 'UPDATE',
      reason: 'SYNCED',
      detail: `${t.create} created, ${t.delete} deleted, ${t.skip} not synced (C4).`,
      state: 'APPLIED',
    });
    const record = (
      rows: ContactItemRow[],
      tally: { create?: number; delete?: number; skip?: number },
      last?: typeof summary,
    ) => store.transactional((tx) => tx.contactSync.record(pbxId, run.id, 'mbx-1', tally, rows, last));

    // An earlier page, then the last one (its C4 rows, its deletes) with the summary: the summary
    // row counts both pages, and the call resolves with the C4 rows only.
    expect(await record([skip('c1')], { create: 100, skip: 1 })).toBe(1);
    expect(await record([skip('c2'), skip('c3')], { create: 50, delete: 2, skip: 2 }, summary)).toBe(2);
    // The last page replayed (a worker died before the run knew it ended): nothing twice.
    expect(await record([skip('c2'), skip('c3')], { create: 0, skip: 2 }, summary)).toBe(0);
    // Another mailbox of the run is not counted in this one's row.
    await store.transactional((tx) => tx.contactSync.record(pbxId, run.id, 'mbx-2', { create: 7 }, []));

    const rows = await store.sync.itemsInState(run.id, 'APPLIED');
    expect(rows.map((r) => `${r.action} ${r.reason} ${r.objectId}: ${r.detail}`)).toEqual([
      'UPDATE SYNCED mbx-1: 150 created, 2 deleted, 3 not synced (C4).',
    ]);
    const reported = await store.sync.itemsInState(run.id, 'REPORTED');
    expect(reported.map((r) => r.objectId).sort()).toEqual(['c1', 'c2', 'c3']);
    expect(new Set([...rows, ...reported].map((r) => r.seq)).size).toBe(4);
    expect(await store.contactSync.runTally(run.id, 'mbx-1')).toEqual({
      create: 150,
      update: 0,
      delete: 2,
      skip: 3,
      fail: 0,
    });
  });
});
