import type { EntityManager } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/knex';

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
