/** `npm run migrate`: applies the checked-in migrations to DATABASE_URL and exits. */
import 'reflect-metadata';
import { MikroORM } from '@mikro-orm/core';
import { ConfigError, loadConfig } from '../config.js';
import { ormOptions } from '../store/orm.js';

try {
  const config = loadConfig(process.env, []);
  const orm = await MikroORM.init(ormOptions(config.database));
  const done = await orm.getMigrator().up();
  console.log(done.length ? `applied: ${done.map((m) => m.name).join(', ')}` : 'database is up to date');
  await orm.close(true);
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
}
