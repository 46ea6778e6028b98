import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { BetterSqliteDriver } from '@mikro-orm/better-sqlite';
import { type EntityManager, MikroORM, type Options } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import type { Config } from '../config.js';
import { ENTITIES } from './entities/index.js';
import { postgresqlMigrations } from './migrations/postgresql/index.js';
import { sqliteMigrations } from './migrations/sqlite/index.js';

export type Orm = MikroORM;
export type { EntityManager };

export type DatabaseConfig = Config['database'];

/**
 * The ORM options for either database. Migrations are checked in per database kind
 * (`src/store/migrations/<kind>/`) and listed explicitly, so they run the same from
 * TypeScript (tsx) and from any bundle.
 */
export function ormOptions(db: DatabaseConfig): Options {
  const common = {
    entities: ENTITIES,
    extensions: [Migrator],
    allowGlobalContext: false,
    forceUtcTimezone: true,
    debug: false,
    discovery: { warnWhenNoEntities: true },
  } satisfies Options;
  if (db.kind === 'sqlite') {
    if (db.file !== ':memory:') mkdirSync(path.dirname(path.resolve(db.file)), { recursive: true });
    return {
      ...common,
      driver: BetterSqliteDriver,
      dbName: db.file,
      migrations: { migrationsList: sqliteMigrations, snapshot: false, transactional: true, silent: true },
      pool: {
        afterCreate: (conn: { pragma?: (s: string) => void }, done: (err: unknown, c: unknown) => void) => {
          // WAL lets readers (health checks, queries) run beside a writing sync.
          conn.pragma?.('journal_mode = WAL');
          conn.pragma?.('foreign_keys = ON');
          conn.pragma?.('busy_timeout = 5000');
          done(null, conn);
        },
      },
    } as Options;
  }
  return {
    ...common,
    driver: PostgreSqlDriver,
    clientUrl: db.url,
    pool: { min: 0, max: db.poolMax },
    migrations: { migrationsList: postgresqlMigrations, snapshot: false, transactional: true, silent: true },
  } as Options;
}

/** The longest a chain of SQLite statements may hold the event loop before it yields. */
export const SQLITE_YIELD_AFTER_MS = 20;

/**
 * better-sqlite3 runs every statement synchronously, and knex resolves it in a microtask, so
 * a chain of statements (a sync writing 100,000 snapshot rows, 100 per INSERT) never lets
 * timers or sockets run: the event loop stalled for seconds, health checks hung and BullMQ
 * could not renew its job locks. Before each statement, once the chain has held the loop for
 * SQLITE_YIELD_AFTER_MS, this lets the event loop turn (setImmediate) first. The connection
 * stays with whoever holds it (a transaction keeps it across the yield).
 */
function yieldBetweenStatements(orm: MikroORM): void {
  const client = (orm.em.getConnection() as unknown as { getKnex(): { client: KnexClient } }).getKnex()
    .client;
  const run = client._query.bind(client);
  let heldSince = performance.now();
  client._query = async (connection, query) => {
    if (performance.now() - heldSince >= SQLITE_YIELD_AFTER_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      heldSince = performance.now();
    }
    return run(connection, query);
  };
}
interface KnexClient {
  _query(connection: unknown, query: unknown): Promise<unknown>;
}

/** Opens the database and brings its schema up to date with the checked-in migrations. */
export async function openDatabase(db: DatabaseConfig, opts: { migrate?: boolean } = {}): Promise<Orm> {
  const orm = await MikroORM.init(ormOptions(db));
  if (db.kind === 'sqlite') yieldBetweenStatements(orm);
  if (opts.migrate !== false) await orm.getMigrator().up();
  return orm;
}

/** A cheap round trip, for readiness checks. */
export async function pingDatabase(orm: Orm): Promise<void> {
  await orm.em.fork().getConnection().execute('select 1');
}
