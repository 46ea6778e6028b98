import { expect, it } from 'vitest';
import { createPbx } from '../../src/app/pbx.js';
import { readRows } from '../../src/store/raw-read.js';
import { describeEachDb, useStore } from '../support/db.js';

/**
 * Issue 13: a prepared read (every request's key, caller ID, the PBX's country) runs on a
 * pooled connection by name outside a transaction, and in the unit of work's transaction
 * inside one; either way it answers what that transaction sees, and gives its connection back
 * to the pool, also when the statement fails.
 */
describeEachDb('prepared reads', (leg) => {
  const { store, em } = useStore(leg);
  const COUNTRY = 'select default_country from pbx where id = ?';

  it('outside a transaction reads what is committed; inside one, what that transaction wrote', async () => {
    const committed = await createPbx(store(), { name: 'Committed', defaultCountry: 'GB' });
    expect(await readRows(em(), COUNTRY, [committed.id], { prepared: true })).toEqual([
      { default_country: 'GB' },
    ]);
    let seenInside: unknown;
    let seenOutside: unknown;
    await store().transactional(async (tx) => {
      await tx.tenants.updatePbx(committed.id, { defaultCountry: 'FR' });
      seenInside = await tx.contacts.pbxCountry(committed.id);
      // SQLite has one writer and no second connection to read beside it.
      if (leg.kind === 'postgresql') seenOutside = await store().contacts.pbxCountry(committed.id);
    });
    expect(seenInside).toBe('FR');
    if (leg.kind === 'postgresql') expect(seenOutside).toBe('GB');
    expect(await store().contacts.pbxCountry(committed.id)).toBe('FR');
  });

  it('binds values as the ORM binds them, prepared or not (a boolean, a date, a null)', async () => {
    const pbx = await createPbx(store(), { name: 'Bound', defaultCountry: 'GB' });
    const pg = leg.kind === 'postgresql';
    const sql = pg
      ? "select id from pbx where id = ? and ? = true and cast(? as timestamptz) > now() - interval '1 day' and cast(? as text) is null"
      : "select id from pbx where id = ? and ? = 1 and ? > (unixepoch('now', '-1 day') * 1000) and ? is null";
    const params = [pbx.id, true, new Date(), null];
    const prepared = await readRows(em(), sql, params, { prepared: true });
    expect(prepared).toEqual([{ id: pbx.id }]);
    expect(await readRows(em(), sql, params)).toEqual(prepared);
    expect(await readRows(em(), sql, [pbx.id, false, new Date(0), null], { prepared: true })).toEqual([]);
  });

  it('many at once, more than the pool holds, all answer; and failed ones give their connection back', async () => {
    const pbx = await createPbx(store(), { name: 'Busy', defaultCountry: 'DE' });
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => readRows(em(), COUNTRY, [pbx.id], { prepared: true })),
    );
    expect(answers.every((rows) => rows[0]?.default_country === 'DE')).toBe(true);
    // A statement the database refuses, more times than the pool has connections.
    const failures = await Promise.allSettled(
      Array.from({ length: 12 }, () =>
        readRows(em(), 'select default_country from no_such_table where id = ?', [pbx.id], {
          prepared: true,
        }),
      ),
    );
    expect(failures.every((f) => f.status === 'rejected')).toBe(true);
    expect(await store().contacts.pbxCountry(pbx.id)).toBe('DE');
  });
});
