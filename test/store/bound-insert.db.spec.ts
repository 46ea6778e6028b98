import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { expect, it } from 'vitest';
import { createPbx } from '../../src/app/pbx.js';
import { insertBound, insertRows } from '../../src/store/bound-insert.js';
import { readRows } from '../../src/store/raw-read.js';
import { describeEachDb, useStore } from '../support/db.js';

/**
 * Issue 13: the bulk writes of a contact sync (contacts and their search keys) go to the driver
 * without knex's query building (`insertRows`). They must write what `insertBound` writes (dates,
 * booleans, nulls, any number of rows, a conflict clause), in the unit of work's transaction when
 * there is one, fail as the ORM's exceptions, and give a pooled connection back, failed or not.
 */
describeEachDb('bulk inserts on the driver', (leg) => {
  const { store, em } = useStore(leg);
  const COLUMNS = [
    'id',
    'pbx_id',
    'name',
    'mailbox_id',
    'synced',
    'all_extensions',
    'created_at',
    'updated_at',
  ];
  const when = new Date('2026-03-04T05:06:07.089Z');
  const rowsOf = (pbxId: string, n: number, prefix: string) =>
    Array.from({ length: n }, (_, i) => [
      `${prefix}-${String(i).padStart(4, '0')}-0000-0000-000000000000`.slice(0, 36),
      pbxId,
      `Book ${String(i).padStart(4, '0')}`,
      i % 3 === 0 ? null : `mailbox-${i}`,
      i % 2 === 0,
      i % 5 === 0,
      new Date(when.getTime() + i),
      when,
    ]);
  const read = (pbxId: string) =>
    readRows(
      em(),
      'select name, mailbox_id, synced, all_extensions, created_at, updated_at from phonebook where pbx_id = ? order by name',
      [pbxId],
    );
  const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

  it('writes, in its transaction, what insertBound writes: any number of rows, dates, booleans and nulls', async () => {
    const viaKnex = await createPbx(store(), { name: 'Via knex' });
    const direct = await createPbx(store(), { name: 'Direct' });
    // 100 + 100 + 3 × 10 + 7 rows a statement on SQLite; 3 statements of at most 100 on PostgreSQL.
    await em().transactional((em) => insertBound(em, 'phonebook', COLUMNS, rowsOf(viaKnex.id, 237, 'a')));
    await em().transactional((em) =>
      insertRows(em, 'phonebook', COLUMNS, rowsOf(direct.id, 237, 'b'), { maxRowsPerStatement: 100 }),
    );
    const written = await read(direct.id);
    expect(written).toHaveLength(237);
    expect(written).toEqual(await read(viaKnex.id));
    const books = await store().contacts.listPhonebooks(direct.id);
    expect(books.filter((b) => b.synced)).toHaveLength(119);
    expect(books.find((b) => b.name === 'Book 0003')).toMatchObject({ mailboxId: null, synced: false });
    // One row, and none.
    await insertRows(em(), 'phonebook', COLUMNS, rowsOf(direct.id, 1, 'c'));
    await insertRows(em(), 'phonebook', COLUMNS, []);
    expect(await read(direct.id)).toHaveLength(238);
  });

  it('goes back with its transaction, and upserts with a conflict clause', async () => {
    const pbx = await createPbx(store(), { name: 'Rolled back' });
    await expect(
      em().transactional(async (em) => {
        await insertRows(em, 'phonebook', COLUMNS, rowsOf(pbx.id, 12, 'd'));
        expect(await readRows(em, 'select id from phonebook where pbx_id = ?', [pbx.id])).toHaveLength(12);
        throw new Error('stop');
      }),
    ).rejects.toThrow('stop');
    expect(await read(pbx.id)).toHaveLength(0);
    const rows = [
      [uuid(1), pbx.id, 'First', null, true, false, when, when],
      [uuid(2), pbx.id, 'Second', null, true, false, when, when],
    ];
    await insertRows(em(), 'phonebook', COLUMNS, rows);
    await insertRows(
      em(),
      'phonebook',
      COLUMNS,
      [[uuid(2), pbx.id, 'Renamed', null, false, true, when, when]],
      {
        onConflict: 'on conflict ("id") do update set "name" = excluded."name"',
      },
    );
    expect((await read(pbx.id)).map((r) => r.name)).toEqual(['First', 'Renamed']);
  });

  it("fails as the ORM's exception, and a failed insert gives its connection back", async () => {
    const pbx = await createPbx(store(), { name: 'Duplicates' });
    const row = [uuid(7), pbx.id, 'Once', null, true, false, when, when];
    await insertRows(em(), 'phonebook', COLUMNS, [row]);
    // More failures than the pool has connections, outside a transaction.
    const failures = await Promise.allSettled(
      Array.from({ length: 12 }, () => insertRows(em(), 'phonebook', COLUMNS, [row])),
    );
    expect(failures.every((f) => f.status === 'rejected')).toBe(true);
    expect((failures[0] as PromiseRejectedResult).reason).toBeInstanceOf(UniqueConstraintViolationException);
    await expect(
      em().transactional((em) => insertRows(em, 'phonebook', COLUMNS, [row])),
    ).rejects.toBeInstanceOf(UniqueConstraintViolationException);
    // A row of another width than the columns is refused before anything is sent.
    await expect(
      insertRows(em(), 'phonebook', COLUMNS, [...rowsOf(pbx.id, 2, 'f'), row.slice(1)]),
    ).rejects.toThrow('a row of 7 values');
    await insertRows(em(), 'phonebook', COLUMNS, rowsOf(pbx.id, 3, 'e'));
    expect(await read(pbx.id)).toHaveLength(4);
  });

  it('takes rows from a RowSource, made one at a time in order (issue 16 item 3), as it writes an array; a bad row made halfway fails its transaction', async () => {
    const fromArray = await createPbx(store(), { name: 'From an array' });
    const fromSource = await createPbx(store(), { name: 'From a source' });
    await insertRows(em(), 'phonebook', COLUMNS, rowsOf(fromArray.id, 237, 'g'), {
      maxRowsPerStatement: 100,
    });
    const rows = rowsOf(fromSource.id, 237, 'h');
    const asked: number[] = [];
    await em().transactional((em) =>
      insertRows(
        em,
        'phonebook',
        COLUMNS,
        {
          length: rows.length,
          row: (i) => {
            asked.push(i);
            return rows[i];
          },
        },
        { maxRowsPerStatement: 100 },
      ),
    );
    expect(asked).toEqual(rows.map((_, i) => i));
    expect(await read(fromSource.id)).toEqual(await read(fromArray.id));
    // Row 150 is one value short: it is found when it is made, after the first statement was
    // sent; the transaction goes back whole.
    const broken = await createPbx(store(), { name: 'Broken halfway' });
    const more = rowsOf(broken.id, 237, 'i');
    await expect(
      em().transactional((em) =>
        insertRows(em, 'phonebook', COLUMNS, {
          length: more.length,
          row: (i) => (i === 150 ? more[i].slice(1) : more[i]),
        }),
      ),
    ).rejects.toThrow('a row of 7 values');
    expect(await read(broken.id)).toHaveLength(0);
  });
});
