import type { EntityManager } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/knex';
import { PostgreSqlPlatform } from '@mikro-orm/postgresql';
import { sqliteTurn, sqliteValue } from './cooperative-sqlite.driver.js';

/**
 * INSERT with bound parameters. MikroORM inlines every value into the SQL text it sends
 * (`Platform.formatQuery` and the driver's escaping, for `insertMany` and `execute` alike);
 * for rows that carry JSON of megabytes (a group's member list) that text and its escaped
 * copies were the largest memory peak of a sync on PostgreSQL. knex's `raw` with bindings
 * hands the values to the driver as they are (`$1…` on pg, a prepared statement on
 * better-sqlite3). Runs inside the EntityManager's transaction when there is one.
 * `table` and `columns` are our own constants, never input. Dates and booleans are stored as
 * MikroORM stores them: knex's better-sqlite3 client binds a Date as its milliseconds (what
 * MikroORM's SQLite platform writes) and a boolean as 0/1; pg binds them as timestamptz and
 * boolean. Driver errors come out as MikroORM's exceptions (unique violation …), as elsewhere.
 */
export async function insertBound(
  em: EntityManager,
  table: string,
  columns: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<string | number | boolean | Date | null>>,
  /** An `on conflict …` clause (a constant of the store), for an upsert. */
  onConflict = '',
): Promise<void> {
  if (rows.length === 0) return;
  const tuple = `(${columns.map(() => '?').join(', ')})`;
  const sql = `insert into "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) values ${rows.map(() => tuple).join(', ')}${onConflict ? ` ${onConflict}` : ''}`;
  await executeBound(em, sql, rows.flat());
}

/** A statement with bound parameters, as `insertBound` runs its INSERT (same binding of dates and booleans). */
export async function executeBound(
  em: EntityManager,
  sql: string,
  bindings: ReadonlyArray<string | number | boolean | Date | null>,
): Promise<void> {
  const sqlEm = em as SqlEntityManager;
  const query = sqlEm
    .getConnection()
    .getKnex()
    .raw(sql, bindings as Array<string | number | boolean | Date | null>);
  const tx = sqlEm.getTransactionContext();
  if (tx) query.transacting(tx);
  try {
    await query;
  } catch (err) {
    throw sqlEm
      .getPlatform()
      .getExceptionConverter()
      .convertException(err as Error);
  }
}

/** A connection of knex's pool as the drivers hand it out: better-sqlite3's Database, or pg's Client. */
interface DriverConnection {
  prepare?(sql: string): { run(bindings: readonly unknown[]): unknown };
  query?(config: { text: string; values: readonly unknown[] }, callback: (err: Error | null) => void): void;
}
/** knex's client (or its transaction's: it hands out the transaction's connection), as far as `insertRows` needs it. */
interface PoolClient {
  acquireConnection(): Promise<DriverConnection>;
  releaseConnection(connection: DriverConnection): Promise<unknown>;
}

/** Rows per SQLite statement, largest first: a few statements, each prepared once per connection. */
const SQLITE_ROWS = [100, 10, 1] as const;
/** Statement texts made (by table, columns, conflict clause, row count, dialect), at most TEXTS_KEPT. */
const texts = new Map<string, string>();
const TEXTS_KEPT = 64;
/** SQLite statements prepared per connection (by text). */
const prepared = new WeakMap<object, Map<string, { run(bindings: readonly unknown[]): unknown }>>();

function insertText(
  table: string,
  columns: readonly string[],
  rowCount: number,
  onConflict: string,
  postgres: boolean,
): string {
  const key = `${postgres ? 'pg' : 'sqlite'}\n${table}\n${columns.join(',')}\n${onConflict}\n${rowCount}`;
  let text = texts.get(key);
  if (text === undefined) {
    let n = 0;
    const tuple = () => `(${columns.map(() => (postgres ? `$${++n}` : '?')).join(', ')})`;
    const values = Array.from({ length: rowCount }, tuple).join(', ');
    text = `insert into "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) values ${values}${onConflict ? ` ${onConflict}` : ''}`;
    if (texts.size >= TEXTS_KEPT) texts.delete(texts.keys().next().value as string);
    texts.set(key, text);
  }
  return text;
}

/** One row's values, in the order of the columns. */
type RowValues = ReadonlyArray<string | number | boolean | Date | null>;

/**
 * Rows made one at a time, just before the statement that writes them (issue 16 item 3): rows
 * made all at once before their first statement lived through every statement's turn of the
 * event loop, long enough to reach the old generation, which a first sync does not collect
 * again before it ends. `row(i)` is called once per row, in order; a row of another width
 * than the columns fails the insert when it is made (in its transaction, which goes back).
 */
export interface RowSource {
  readonly length: number;
  row(i: number): RowValues;
}

/** The values of `count` rows from `from`, in one array made at its size. */
function boundValues<T>(
  rowAt: (i: number) => RowValues,
  from: number,
  count: number,
  width: number,
  bind: (v: string | number | boolean | Date | null) => T,
): T[] {
  const values = new Array<T>(count * width);
  for (let r = 0; r < count; r++) {
    const row = rowAt(from + r);
    if (row.length !== width)
      throw new Error(`insert into a table of ${width} columns: a row of ${row.length} values`);
    for (let c = 0; c < width; c++)
      values[r * width + c] = bind(row[c] as string | number | boolean | Date | null);
  }
  return values;
}

/**
 * INSERT of many rows of one column set, as `insertBound` writes them (same values, same
 * binding of dates and booleans, same errors), for the bulk writes of a contact sync (1,000,000
 * contacts and their search keys): the statement goes to the driver on the EntityManager's
 * connection (its transaction's when there is one) without knex's query building, which rewrote
 * the text placeholder by placeholder and checked every value again on each statement (a
 * quarter of what a first contact sync allocated). On PostgreSQL a statement of up to
 * `maxRowsPerStatement` rows, its text made once per row count; on SQLite statements of 100, 10
 * and 1 rows, each prepared once per connection and kept (a statement of thousands of values
 * holds native memory until it is collected; knex prepared one per INSERT), run after the
 * cooperative driver's turn of the event loop like every other statement.
 */
export async function insertRows(
  em: EntityManager,
  table: string,
  columns: readonly string[],
  rows: ReadonlyArray<RowValues> | RowSource,
  options: { onConflict?: string; maxRowsPerStatement?: number } = {},
): Promise<void> {
  if (rows.length === 0) return;
  let rowAt: (i: number) => RowValues;
  if (Array.isArray(rows)) {
    const given = rows as ReadonlyArray<RowValues>;
    // Rows given as they are: one of another width is refused before anything is sent.
    for (const row of given)
      if (row.length !== columns.length)
        throw new Error(`insert into a table of ${columns.length} columns: a row of ${row.length} values`);
    rowAt = (i) => given[i];
  } else {
    const source = rows as RowSource;
    rowAt = (i) => source.row(i);
  }
  const onConflict = options.onConflict ?? '';
  const sqlEm = em as SqlEntityManager;
  const postgres = sqlEm.getPlatform() instanceof PostgreSqlPlatform;
  const tx = sqlEm.getTransactionContext() as { client: PoolClient } | undefined;
  const client = tx ? tx.client : (sqlEm.getConnection().getKnex().client as unknown as PoolClient);
  const connection = await client.acquireConnection();
  try {
    if (postgres) {
      const most = Math.max(1, options.maxRowsPerStatement ?? 500);
      for (let i = 0; i < rows.length; i += most) {
        const count = Math.min(most, rows.length - i);
        const values = boundValues(rowAt, i, count, columns.length, (v) => v);
        // pg's callback form (as knex calls it), not the promise pg returns without a callback:
        // with that promise awaited, 100,000 snapshot rows written in one transaction grew the
        // heap by 54 MB that only a full GC freed (a first sync's peak on PostgreSQL); with the
        // callback, by about nothing (measured apart, issue 16 item 3).
        const text = insertText(table, columns, count, onConflict, true);
        await new Promise<void>((resolve, reject) => {
          (connection.query as NonNullable<DriverConnection['query']>)({ text, values }, (err) =>
            err ? reject(err) : resolve(),
          );
        });
      }
      return;
    }
    let kept = prepared.get(connection);
    if (!kept) {
      kept = new Map();
      prepared.set(connection, kept);
    }
    let i = 0;
    for (const size of SQLITE_ROWS) {
      while (rows.length - i >= size) {
        const text = insertText(table, columns, size, onConflict, false);
        let statement = kept.get(text);
        if (!statement) {
          statement = (connection.prepare as NonNullable<DriverConnection['prepare']>)(text);
          kept.set(text, statement);
        }
        // The turn first, then the values (and a RowSource's rows): nothing of this statement
        // waits through a turn of the event loop.
        await sqliteTurn();
        statement.run(boundValues(rowAt, i, size, columns.length, sqliteValue));
        i += size;
      }
    }
  } catch (err) {
    throw sqlEm
      .getPlatform()
      .getExceptionConverter()
      .convertException(err as Error);
  } finally {
    await client.releaseConnection(connection);
  }
}
