import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/knex';
import { PostgreSqlPlatform } from '@mikro-orm/postgresql';
import { readKept } from './cooperative-sqlite.driver.js';

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

/** A pooled connection of knex's PostgreSQL client (pg's Client), as far as a read needs it. */
interface PgClientConnection {
  query(config: { name: string; text: string; values: readonly unknown[] }): Promise<{ rows: Row[] }>;
}
/** knex's client, as far as a read needs it (the pool behind every statement of the ORM). */
interface KnexClient {
  positionBindings(sql: string): string;
  acquireConnection(): Promise<PgClientConnection>;
  releaseConnection(connection: PgClientConnection): Promise<void>;
}

/** Statement texts with PostgreSQL's placeholders ($1, $2…), made once per text by knex's own rule. */
const pgTexts = new Map<string, string>();
function pgText(client: KnexClient, sql: string): string {
  let text = pgTexts.get(sql);
  if (text === undefined) {
    text = client.positionBindings(sql);
    if (pgTexts.size < 1000) pgTexts.set(sql, text);
  }
  return text;
}

/**
 * A read with bound values, without the ORM (no entity is made), in the unit of work's
 * transaction when there is one. `prepared`: the statement is named, so that PostgreSQL
 * prepares and plans it once per connection (a generic plan, forced for named statements in
 * orm.ts: the caller-ID statement took three times longer to plan than to run); on SQLite every statement is kept
 * prepared per connection anyway (cooperative-sqlite.driver.ts). `sql` must be one of the
 * store's constant texts (a name per distinct text), never built from input.
 *
 * A prepared read on PostgreSQL outside a transaction (every request's key, caller ID, the
 * PBX's country) goes to a connection of the same pool straight, not through knex's query
 * builder and runner: its text is positioned once, and the pooled connection runs it by name.
 * That halves what the gateway spends on the statement (0.125 → 0.079 ms of CPU for caller ID,
 * 0.076 → 0.035 ms for a trivial statement, measured at 1,000,000 contacts; issue 13). Values
 * are scalars (strings, numbers, booleans, null), passed to pg as knex would pass them.
 */
export async function readRows(
  em: EntityManager,
  sql: string,
  params: readonly unknown[] = [],
  opts: { prepared?: boolean } = {},
): Promise<Row[]> {
  const sqlEm = em as SqlEntityManager;
  const tx = sqlEm.getTransactionContext();
  const postgres = sqlEm.getPlatform() instanceof PostgreSqlPlatform;
  if (opts.prepared && !tx)
    return readPrepared(sqlEm.getConnection().getKnex().client, postgres, sql, params);
  const query = sqlEm
    .getConnection()
    .getKnex()
    .raw(sql, params as never);
  if (opts.prepared && postgres) query.options({ name: statementName(sql) });
  if (tx) query.transacting(tx);
  const res = (await query) as unknown;
  // pg answers { rows }, better-sqlite3 the rows themselves.
  return Array.isArray(res) ? (res as Row[]) : ((res as { rows?: Row[] }).rows ?? []);
}

/** A prepared read outside any transaction, on a connection of knex's pool (see readRows). */
async function readPrepared(
  knexClient: unknown,
  postgres: boolean,
  sql: string,
  params: readonly unknown[],
): Promise<Row[]> {
  const client = knexClient as KnexClient;
  const connection = await client.acquireConnection();
  try {
    if (!postgres) {
      // SQLite: the pool's connection and its kept statement (issue 13: the plain HTTP caller ID
      // took 0.24, now 0.17 ms of the gateway's CPU at 1,000,000 contacts, back to back).
      return await readKept(connection, sql, params);
    }
    const res = await connection.query({
      name: statementName(sql),
      text: pgText(client, sql),
      values: params,
    });
    return res.rows;
  } finally {
    // A connection that failed is marked by knex's own error listener and checked by the pool
    // before it is handed out again, as on knex's path.
    await client.releaseConnection(connection);
  }
}

/**
 * Prepared reads of a unit of work that runs outside any transaction (a store made by
 * `openStore`), without its EntityManager: the same pool, the same statements as
 * `readRows(em, sql, params, { prepared: true })` through a fork that has no transaction, so
 * a request that only reads this way (a caller lookup with its key remembered) forks no
 * EntityManager at all (issue 13: the fork was a twentieth of a GraphQL lookup's CPU).
 */
export class PreparedReads {
  readonly postgres: boolean;

  constructor(private readonly em: EntityManager) {
    this.postgres = em.getPlatform() instanceof PostgreSqlPlatform;
  }

  read(sql: string, params: readonly unknown[] = []): Promise<Row[]> {
    // The driver's connection (no unit of work's context involved), asked each time as readRows asks it.
    const knex = (this.em as SqlEntityManager).getConnection().getKnex();
    return readPrepared(knex.client, this.postgres, sql, params);
  }
}
