import { createRequire } from 'node:module';
import type { SqlEntityManager } from '@mikro-orm/knex';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Orm, openDatabase } from '../../src/store/orm.js';
import { createSqliteDatabase, type TestDatabase } from '../support/db.js';

/**
 * knex prepares each statement anew; the gateway's SQLite driver keeps a connection's
 * statements prepared by text (src/store/cooperative-sqlite.driver.ts), which a Linkus lookup
 * over HTTP needs (issue 13). A kept statement must answer as a new one would.
 */
describe('SQLite keeps statements prepared', () => {
  let db: TestDatabase;
  let orm: Orm;
  // Watched from before the connection is opened (the driver keeps better-sqlite3's own prepare).
  const Database = createRequire(import.meta.url)('better-sqlite3') as {
    prototype: { prepare(sql: string): unknown };
  };
  const prepare = vi.spyOn(Database.prototype, 'prepare');
  const knex = () => (orm.em.fork() as SqlEntityManager).getConnection().getKnex();

  beforeAll(async () => {
    db = await createSqliteDatabase();
    orm = await openDatabase(db.config);
    await knex().raw('create table kept (id integer primary key, name text)');
  });
  afterAll(async () => {
    prepare.mockRestore();
    await orm?.close(true);
    await db?.drop();
  });

  it('a statement sent again with other values is not prepared again, and reads what is there now', async () => {
    prepare.mockClear();
    await knex().raw('insert into kept (id, name) values (?, ?)', [1, 'one']);
    await knex().raw('insert into kept (id, name) values (?, ?)', [2, 'two']);
    expect(await knex().raw('select name from kept where id = ?', [1])).toEqual([{ name: 'one' }]);
    expect(await knex().raw('select name from kept where id = ?', [2])).toEqual([{ name: 'two' }]);
    const texts = prepare.mock.calls.map((c) => String(c[0]));
    expect(texts.filter((t) => t.startsWith('insert into kept'))).toHaveLength(1);
    expect(texts.filter((t) => t.startsWith('select name from kept'))).toHaveLength(1);
  });

  it('a kept statement sees a changed schema (a column added after it was prepared)', async () => {
    expect(await knex().raw('select * from kept where id = ?', [1])).toEqual([{ id: 1, name: 'one' }]);
    await knex().raw('alter table kept add column extra text');
    await knex().raw(`update kept set extra = 'x' where id = 1`);
    expect(await knex().raw('select * from kept where id = ?', [1])).toEqual([
      { id: 1, name: 'one', extra: 'x' },
    ]);
  });
});
