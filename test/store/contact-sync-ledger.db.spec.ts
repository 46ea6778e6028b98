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
});
