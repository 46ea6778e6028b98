import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/knex';
import { PostgreSqlPlatform } from '@mikro-orm/postgresql';

export type Row = Record<string, unknown>;

const names = new Map<string, string>();
/** The name of a statement's text (the same text, the same name, in every process). */
function statementName(sql: string): string {
  let name = names.get(sql);
  if (!name) {
    name = `epg_${createHash('sha1').update(sql).digest('hex').slice(0, 24)}`;
    if (names.size < 1000) names.set(sql, name);
  }
  return name;
}

/**
 * A read with bound values, without the ORM (no entity is made), in the unit of work's
 * transaction when there is one. `prepared`: the statement is named, so that PostgreSQL
 * prepares and plans it once per connection (a generic plan, forced for named statements in
 * orm.ts: the caller-ID statement took three times longer to plan than to run); on SQLite every statement is kept
 * prepared per connection anyway (cooperative-sqlite.driver.ts). `sql` must be one of the
 * store's constant texts (a name per distinct text), never built from input.
 */
export async function readRows(
  em: EntityManager,
  sql: string,
  params: readonly unknown[] = [],
  opts: { prepared?: boolean } = {},
): Promise<Row[]> {
  const sqlEm = em as SqlEntityManager;
  const query = sqlEm
    .getConnection()
    .getKnex()
    .raw(sql, params as never);
  if (opts.prepared && sqlEm.getPlatform() instanceof PostgreSqlPlatform) {
    query.options({ name: statementName(sql) });
  }
  const tx = sqlEm.getTransactionContext();
  if (tx) query.transacting(tx);
  const res = (await query) as unknown;
  // pg answers { rows }, better-sqlite3 the rows themselves.
  return Array.isArray(res) ? (res as Row[]) : ((res as { rows?: Row[] }).rows ?? []);
}
