import type { SqlEntityManager } from '@mikro-orm/knex';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MikroContactSyncLedger } from '../../src/store/contact-sync.repository.js';
import { type Orm, openDatabase } from '../../src/store/orm.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';

describeEachDb(
  "contact sync ledger: a mailbox page's transaction commits without waiting for a disk flush",
  (leg) => {
    let db: TestDatabase;
    let orm: Orm;
    beforeAll(async () => {
      db = await leg.create();
      orm = await openDatabase(db.config);
    });
    afterAll(async () => {
      await orm?.close(true);
      await db?.drop();
    });
    const setting = async (em: SqlEntityManager) =>
      leg.kind === 'postgresql'
        ? String(
            ((await em.execute('show synchronous_commit')) as Array<Record<string, unknown>>)[0]
              ?.synchronous_commit,
          )
        : // SQLite: NORMAL (1) on every connection, in WAL mode (orm.ts).
          String(
            ((await em.execute('pragma synchronous')) as Array<Record<string, unknown>>)[0]?.synchronous,
          );

    it('in the transaction only (PostgreSQL: synchronous_commit off to its commit, on again after; SQLite: NORMAL throughout)', async () => {
      const em = orm.em.fork() as SqlEntityManager;
      const inside = await em.transactional(async (tx) => {
        await new MikroContactSyncLedger(tx, () => new Date()).commitWithoutFlush();
        return setting(tx as SqlEntityManager);
      });
      expect(inside).toBe(leg.kind === 'postgresql' ? 'off' : '1');
      // Outside a transaction it changes nothing, and the connection is back to the server's default.
      await new MikroContactSyncLedger(em, () => new Date()).commitWithoutFlush();
      expect(await setting(em)).toBe(leg.kind === 'postgresql' ? 'on' : '1');
    });
  },
);
