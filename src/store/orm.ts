import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { type EntityManager, MikroORM, type Options } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { CooperativeSqliteDriver } from './cooperative-sqlite.driver.js';
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
    if (db.file !== ':memory:') createPrivateFile(db.file);
    return {
      ...common,
      // better-sqlite3's, yielding to the event loop between statements (see the driver).
      driver: CooperativeSqliteDriver,
      dbName: db.file,
      migrations: { migrationsList: sqliteMigrations, snapshot: false, transactional: true, silent: true },
      pool: {
        afterCreate: (conn: { pragma?: (s: string) => void }, done: (err: unknown, c: unknown) => void) => {
          // WAL lets readers (health checks, queries) run beside a writing sync.
          conn.pragma?.('journal_mode = WAL');
          conn.pragma?.('foreign_keys = ON');
          conn.pragma?.('busy_timeout = 5000');
          // The driver's worker thread checkpoints instead, off the event loop.
          conn.pragma?.('wal_autocheckpoint = 0');
          // In WAL mode NORMAL syncs at checkpoints, not at every COMMIT: a killed gateway loses
          // nothing committed and the file never corrupts; only an OS crash or power cut may undo
          // the last commits (https://www.sqlite.org/pragma.html#pragma_synchronous). FULL's
          // fsync per COMMIT was a fifth of a first contact sync's time (thousands of commits).
          conn.pragma?.('synchronous = NORMAL');
          done(null, conn);
        },
      },
    } as Options;
  }
  return {
    ...common,
    driver: PostgreSqlDriver,
    clientUrl: db.url,
    pool: {
      min: 0,
      max: db.poolMax,
      // The named statements (raw-read.ts `prepared`: the key of every request, caller ID, the
      // PBX's country) are planned once per connection, then run on that plan. Left to choose
      // (plan_cache_mode auto), PostgreSQL kept planning the caller-ID statement on every run
      // (its generic plan's estimate looked dearer than a custom plan's): 1.2 ms of planning for
      // 0.4 ms of execution at 1,000,000 contacts (issue 13). Unnamed statements are unaffected.
      afterCreate: (conn: PgConnection, done: (err: unknown, c: unknown) => void) => {
        conn.query('set plan_cache_mode = force_generic_plan', (err: unknown) => done(err, conn));
      },
    },
    migrations: { migrationsList: postgresqlMigrations, snapshot: false, transactional: true, silent: true },
  } as Options;
}

/** A pooled PostgreSQL connection (pg's Client), as knex hands it to `afterCreate`. */
interface PgConnection {
  query(sql: string, cb: (err: unknown) => void): void;
}

/**
 * A new SQLite file is made readable and writable by its owner only (0600; its folder 0700
 * when it is made too): it holds the sealed secrets, hashed keys and the directory. SQLite
 * gives its -wal and -shm files the database file's mode. A file that exists is left as it is.
 */
export function createPrivateFile(file: string) {
  const dir = path.dirname(path.resolve(file));
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (existsSync(file)) return;
  try {
    closeSync(openSync(file, 'wx', 0o600));
    chmodSync(file, 0o600);
  } catch (err) {
    // Another process made it first: it is theirs to have made right.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/** Opens the database and brings its schema up to date with the checked-in migrations. */
export async function openDatabase(db: DatabaseConfig, opts: { migrate?: boolean } = {}): Promise<Orm> {
  const orm = await MikroORM.init(ormOptions(db));
  if (opts.migrate !== false) await orm.getMigrator().up();
  return orm;
}

/**
 * The ORM without a connection yet: nothing is sent to the database until the first query
 * (the gateway starts serving /healthz and /readyz at once, and connects with
 * {@link prepareDatabase}, retried until the database answers).
 */
export async function createOrm(db: DatabaseConfig, logger?: Logger): Promise<Orm> {
  const options = ormOptions(db);
  if (!logger) return MikroORM.init({ ...options, connect: false });
  // knex prints a "Connection Error: …" line per pooled connection that drops: debug only,
  // the gateway's watch of the database says it once per attempt (src/startup.ts).
  const log = {
    warn: (message: unknown) => logger.debug({ knex: String(message) }, 'database driver warning'),
    error: (message: unknown) => logger.warn({ knex: String(message) }, 'database driver error'),
    deprecate: (message: unknown) => logger.debug({ knex: String(message) }, 'database driver deprecation'),
    debug: (message: unknown) => logger.trace({ knex: String(message) }, 'database driver debug'),
  };
  return MikroORM.init({
    ...options,
    connect: false,
    driverOptions: { ...options.driverOptions, log },
  } as Options);
}

/**
 * First contact: the database answers (within `timeoutMs`), exists (PostgreSQL: made when
 * missing, as MikroORM does on connect) and has every migration applied.
 */
export async function prepareDatabase(orm: Orm, timeoutMs = 5000): Promise<void> {
  await pingDatabase(orm, timeoutMs);
  if (orm.config.get('ensureDatabase')) await orm.getSchemaGenerator().ensureDatabase();
  await orm.getMigrator().up();
}

/** A cheap round trip, for readiness checks; a database that does not answer within `timeoutMs` is down. */
export async function pingDatabase(orm: Orm, timeoutMs = 2000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      orm.em.fork().getConnection().execute('select 1'),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Where the database is, for log lines: the kind and host or file, never credentials. */
export function describeDatabase(db: DatabaseConfig): string {
  if (db.kind === 'sqlite') return `sqlite ${db.file}`;
  try {
    const u = new URL(db.url);
    return `postgresql ${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return 'postgresql';
  }
}
