import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { BetterSqliteConnection, BetterSqlitePlatform } from '@mikro-orm/better-sqlite';
import type { Configuration } from '@mikro-orm/core';
import { AbstractSqlDriver, BetterSqliteKnexDialect } from '@mikro-orm/knex';

/**
 * MikroORM's better-sqlite3 driver, made never to hold the event loop for long. better-sqlite3
 * is synchronous; two things made a 100,000-user sync stall the gateway for seconds (health
 * checks hung, BullMQ lost its job locks):
 * - a chain of statements (100,000 snapshot rows, 100 per INSERT) runs without a break, as
 *   knex resumes its caller in a microtask: before each statement, once the chain has held
 *   the loop for SQLITE_YIELD_AFTER_MS, the dialect lets the event loop turn (setImmediate);
 * - SQLite's automatic WAL checkpoint runs inside the COMMIT that passes 1,000 pages, copying
 *   the write-ahead log into the database file (about 300 ms after the snapshot's 100 MB):
 *   the connections turn it off (`wal_autocheckpoint = 0`, set in orm.ts) and a worker thread
 *   with its own connection checkpoints instead (PASSIVE: it never blocks readers or writers).
 */

/** The longest a chain of SQLite statements may hold the event loop before it yields. */
export const SQLITE_YIELD_AFTER_MS = 20;
/** How often the checkpointer moves the write-ahead log into the database file. */
export const SQLITE_CHECKPOINT_EVERY_MS = 1000;

let heldSince = performance.now();

/**
 * Before a SQLite statement: once the chain of statements has held the event loop for
 * SQLITE_YIELD_AFTER_MS, lets it turn. Every statement on a connection of this driver waits
 * for it (knex's, and those run on the connection straight: bound-insert.ts).
 */
export async function sqliteTurn(): Promise<void> {
  if (performance.now() - heldSince >= SQLITE_YIELD_AFTER_MS) {
    await new Promise((resolve) => setImmediate(resolve));
    heldSince = performance.now();
  }
}

interface KnexQuery {
  _query(connection: unknown, query: unknown): Promise<unknown>;
}

/** Prepared statements kept per connection, and the longest SQL text kept. */
export const SQLITE_STATEMENT_CACHE = 256;
const CACHED_SQL_MAX_LENGTH = 4096;

type Prepare = (sql: string) => unknown;
const cachedPrepare = Symbol('cachedPrepare');

/**
 * knex prepares every statement anew on each query (better-sqlite3's `prepare` was a twelfth
 * of a Linkus lookup's cost over HTTP): a connection keeps its last SQLITE_STATEMENT_CACHE
 * statements by SQL text instead (short texts only: a bulk INSERT's text is seldom sent twice).
 * A statement runs synchronously to its end, so two queries never share one at the same time;
 * SQLite prepares a kept statement again by itself when the schema changed.
 */
function withStatementCache(connection: unknown) {
  const conn = connection as { prepare: Prepare; [cachedPrepare]?: true };
  if (!conn || conn[cachedPrepare]) return;
  const prepare = conn.prepare.bind(conn);
  const kept = new Map<string, unknown>();
  conn.prepare = (sql: string) => {
    if (sql.length > CACHED_SQL_MAX_LENGTH) return prepare(sql);
    const hit = kept.get(sql);
    if (hit) {
      kept.delete(sql);
      kept.set(sql, hit);
      return hit;
    }
    const statement = prepare(sql);
    kept.set(sql, statement);
    if (kept.size > SQLITE_STATEMENT_CACHE) kept.delete(kept.keys().next().value as string);
    return statement;
  };
  conn[cachedPrepare] = true;
}

/** A value as knex's better-sqlite3 client binds it: a Date as its milliseconds, a boolean as 0 or 1. */
export const sqliteValue = <T>(v: T) =>
  v instanceof Date ? v.valueOf() : typeof v === 'boolean' ? Number(v) : v;

interface KeptStatement {
  reader: boolean;
  all(bindings: unknown[]): Record<string, unknown>[];
}

/**
 * A read on one connection of the SQLite pool, past knex's query builder and runner (for
 * src/store/raw-read.ts): the connection's kept statement, bound as knex binds (a Date as its
 * milliseconds, a boolean as 0 or 1). It yields as every other statement does.
 */
export async function readKept(connection: unknown, sql: string, bindings: readonly unknown[]) {
  await sqliteTurn();
  withStatementCache(connection);
  const statement = (connection as { prepare(sql: string): KeptStatement }).prepare(sql);
  if (!statement.reader) throw new Error('readKept runs reads only');
  return statement.all(bindings.map(sqliteValue));
}

class CooperativeSqliteDialect extends BetterSqliteKnexDialect {
  // Transactions run their statements through a client made from this class's prototype, so
  // they yield too.
  async _query(connection: unknown, query: unknown): Promise<unknown> {
    await sqliteTurn();
    // knex changes a statement's safeIntegers only when a query's options ask (neither
    // MikroORM nor this code does): such a query must not change a kept statement.
    if ((query as { options?: { safeIntegers?: unknown } }).options?.safeIntegers !== undefined) {
      throw new Error('safeIntegers per query is not supported with kept statements');
    }
    withStatementCache(connection);
    return (BetterSqliteKnexDialect.prototype as unknown as KnexQuery)._query.call(this, connection, query);
  }
}

/** The checkpointer's code: plain CommonJS, run by a worker thread (no TypeScript loader there). */
const CHECKPOINTER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
// Never creates a database: the gateway's own connection made the file (and set WAL mode).
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 0');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or locked now: the next turn checkpoints what this one could not.
  }
}, workerData.everyMs);
// Asked to stop: close the connection first, so that the gateway's own connection is the last.
parentPort.once('message', () => {
  clearInterval(timer);
  db.close();
  process.exit(0);
});
`;

/** A worker thread that checkpoints `file`'s write-ahead log off the event loop. */
function startCheckpointer(file: string): { worker: Worker; exited: Promise<unknown> } {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(CHECKPOINTER, {
    eval: true,
    workerData: { file, driver, everyMs: SQLITE_CHECKPOINT_EVERY_MS },
  });
  worker.unref();
  // A checkpointer that cannot start leaves the WAL to grow until the gateway restarts; it
  // never takes the gateway down.
  worker.on('error', (err) => process.emitWarning(`SQLite checkpointer stopped: ${err.message}`));
  return { worker, exited: new Promise((resolve) => worker.once('exit', resolve)) };
}

class CooperativeSqliteConnection extends BetterSqliteConnection {
  private checkpointer: ReturnType<typeof startCheckpointer> | null = null;

  override createKnex() {
    this.client = this.createKnexClient(CooperativeSqliteDialect as unknown as string);
    this.connected = true;
  }

  override async connect() {
    // The first statement opens (or makes) the file; the checkpointer only ever opens it.
    await super.connect();
    const file = this.config.get('dbName');
    if (file && file !== ':memory:' && !this.checkpointer) this.checkpointer = startCheckpointer(file);
  }

  override async close(force?: boolean) {
    const checkpointer = this.checkpointer;
    this.checkpointer = null;
    if (checkpointer) {
      // It closes its connection and exits; a thread that does not within a second is stopped.
      checkpointer.worker.postMessage('close');
      const timer = setTimeout(() => void checkpointer.worker.terminate(), 1000);
      await checkpointer.exited;
      clearTimeout(timer);
    }
    // The last connection to close checkpoints what is left (SQLite does so in WAL mode).
    await super.close(force);
  }
}

export class CooperativeSqliteDriver extends AbstractSqlDriver<CooperativeSqliteConnection> {
  constructor(config: Configuration) {
    super(config, new BetterSqlitePlatform(), CooperativeSqliteConnection, ['knex', 'better-sqlite3']);
  }
}
