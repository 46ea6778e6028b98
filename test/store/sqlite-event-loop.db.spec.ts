import { statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPbx } from '../../src/app/pbx.js';
import type { Store } from '../../src/app/ports/store.port.js';
import { type Orm, openDatabase } from '../../src/store/orm.js';
import { openStore } from '../../src/store/store.js';
import { createSqliteDatabase, type TestDatabase } from '../support/db.js';
import { eventually } from '../support/wait.js';

/**
 * SQLite's driver (better-sqlite3) is synchronous. The gateway must still answer while a sync
 * writes 100,000 rows: a chain of statements lets the event loop turn every few milliseconds,
 * and the write-ahead log is checkpointed by a worker thread, not inside a COMMIT.
 */
describe('SQLite never holds the event loop for long', () => {
  let db: TestDatabase;
  let orm: Orm;
  let store: Store;
  let pbxId: string;
  const users = (from: number, n: number) =>
    Array.from({ length: n }, (_, i) => ({
      id: `u-${from + i}`,
      displayName: `User ${from + i}`,
      padding: 'x'.repeat(400),
    }));

  beforeAll(async () => {
    db = await createSqliteDatabase();
    orm = await openDatabase(db.config);
    store = openStore(orm, () => new Date());
    pbxId = (await createPbx(store, { name: 'Loop PBX' })).id;
  });
  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });

  it('a transaction of 300 INSERT statements lets timers run while it goes on', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const started = performance.now();
    try {
      await store.transactional((tx) => tx.sync.replaceSnapshot(pbxId, 'USER', users(0, 30_000)));
    } finally {
      clearInterval(timer);
    }
    const took = performance.now() - started;
    // Without the turns the timer could not fire until the transaction ended (one tick at most).
    expect(took).toBeGreaterThan(100);
    expect(ticks).toBeGreaterThanOrEqual(Math.min(10, Math.floor(took / 100)));
  });

  it('the write-ahead log reaches the database file without an automatic checkpoint in a COMMIT', async () => {
    const file = (db.config as { file: string }).file;
    const before = statSync(file).size;
    await store.transactional((tx) => tx.sync.replaceSnapshot(pbxId, 'GROUP', users(100_000, 10_000)));
    await expect(orm.em.getConnection().execute('pragma wal_autocheckpoint')).resolves.toEqual([
      { wal_autocheckpoint: 0 },
    ]);
    // ~4 MB of rows: in the database file once the worker thread has checkpointed them.
    await eventually(() => expect(statSync(file).size).toBeGreaterThan(before + 3_000_000), {
      timeout: 20_000,
      message: 'the write-ahead log was never checkpointed',
    });
  });
});
