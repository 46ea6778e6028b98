import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Orm, openDatabase } from '../../src/store/orm.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';

describeEachDb('checked-in migrations: no drift from the entities, applied once', (leg) => {
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

  it('bring an empty database exactly to the entity definitions (no drift)', async () => {
    const diff = await orm.getSchemaGenerator().getUpdateSchemaSQL({ wrap: false });
    expect(diff.trim()).toBe('');
  });

  it('are recorded, so running them again applies nothing', async () => {
    const executed = await orm.getMigrator().getExecutedMigrations();
    expect(executed.length).toBeGreaterThan(0);
    expect(await orm.getMigrator().up()).toEqual([]);
  });
});
