import type { SqlEntityManager } from '@mikro-orm/knex';
import { v7 as uuidv7 } from 'uuid';
import type { ContactOwner, SyncedContactInput } from '../../src/domain/contact.types.js';
import { contactTerms } from '../../src/domain/contact-search.js';
import { CONTACT_COLUMNS, contactRow } from '../../src/store/contact.repository.js';
import type { Orm } from '../../src/store/orm.js';

/**
 * Writes synced contacts for a bench as the store keeps them (a `contact` row and its
 * `contact_key` terms, src/store/contact.repository.ts `upsertSynced`), in bulk: one
 * transaction per slice of contacts, straight on the driver's connection (better-sqlite3:
 * one prepared statement run per row; pg: one `unnest` insert per table and slice). A bench
 * setup, not the gateway's write path: the contact sync goes through the store.
 */
export interface BulkContacts {
  write(pbxId: string, owner: ContactOwner, contacts: readonly SyncedContactInput[]): Promise<void>;
  /** Builds the indexes dropped for the load again (each in one pass over the sorted rows). */
  close(): Promise<void>;
}

const TABLES = ['contact', 'contact_key'];

const PG_TYPES = [
  'varchar',
  'varchar',
  'varchar',
  'varchar',
  'varchar',
  'varchar',
  'varchar',
  'varchar',
  'varchar',
  'text',
  'text',
  'varchar',
  'varchar',
  'varchar',
  'varchar',
  'boolean',
  'timestamptz',
  'timestamptz',
];

type Rows = { contacts: unknown[][]; keys: unknown[][] };

function rowsOf(
  pbxId: string,
  owner: ContactOwner,
  contacts: readonly SyncedContactInput[],
  now: Date,
): Rows {
  const ownerId = owner.kind === 'EXTENSION' ? owner.extensionId : owner.phonebookId;
  const out: Rows = { contacts: [], keys: [] };
  for (const c of contacts) {
    const id = uuidv7();
    out.contacts.push(contactRow(id, pbxId, owner, c, now));
    for (const t of contactTerms(c)) out.keys.push([id, t.kind, t.term, ownerId]);
  }
  return out;
}

interface Knexish {
  client: { acquireConnection(): Promise<unknown>; releaseConnection(c: unknown): Promise<void> };
}

export async function bulkContacts(orm: Orm, kind: 'sqlite' | 'postgresql'): Promise<BulkContacts> {
  const knex = (orm.em as SqlEntityManager).getConnection().getKnex() as unknown as Knexish;
  // A connection per slice, given back after it: the rest of the seeding (keys, phonebooks)
  // goes through the store meanwhile, and SQLite's pool has one connection.
  const withConnection = async <T>(fn: (conn: unknown) => Promise<T> | T): Promise<T> => {
    const conn = await knex.client.acquireConnection();
    try {
      return await fn(conn);
    } finally {
      await knex.client.releaseConnection(conn);
    }
  };
  if (kind === 'sqlite') {
    type Db = {
      prepare(sql: string): { run(...v: unknown[]): unknown; all(...v: unknown[]): unknown[] };
      pragma(s: string): unknown;
      transaction<F extends (...a: never[]) => unknown>(fn: F): F;
    };
    const contactSql = `insert into contact (${CONTACT_COLUMNS.join(', ')}) values (${CONTACT_COLUMNS.map(() => '?').join(', ')})`;
    const keySql = 'insert into contact_key (contact_id, kind, term, owner_id) values (?, ?, ?, ?)';
    // As MikroORM keeps them on SQLite: dates in milliseconds, booleans 0/1.
    const sqliteValue = (v: unknown) =>
      v instanceof Date ? v.getTime() : v === true ? 1 : v === false ? 0 : v;
    // The secondary indexes (those SQLite keeps a statement of), as the migrations made them:
    // dropped for the load, built again once at the end.
    const indexes = await withConnection((conn) => {
      const db = conn as Db;
      const found = db
        .prepare(
          `select name, sql from sqlite_master where type = 'index' and sql is not null and tbl_name in (${TABLES.map(() => '?').join(', ')})`,
        )
        .all(...TABLES) as Array<{ name: string; sql: string }>;
      for (const i of found) db.prepare(`drop index "${i.name}"`).run();
      return found;
    });
    return {
      async write(pbxId, owner, contacts) {
        const rows = rowsOf(pbxId, owner, contacts, new Date());
        await withConnection((conn) => {
          const db = conn as Db;
          // 1,000,000 contacts make ~1.5 GB of tables and indexes, written in random key order
          // (UUIDs): with SQLite's default 2 MB page cache nearly every row re-reads pages.
          db.pragma('cache_size = -1048576');
          const insertContact = db.prepare(contactSql);
          const insertKey = db.prepare(keySql);
          db.transaction(() => {
            for (const r of rows.contacts) insertContact.run(...r.map(sqliteValue));
            for (const r of rows.keys) insertKey.run(...r);
          })();
        });
      },
      async close() {
        await withConnection((conn) => {
          for (const i of indexes) (conn as Db).prepare(i.sql).run();
        });
      },
    };
  }
  type Client = { query(sql: string, values?: unknown[]): Promise<unknown> };
  const columns = (rows: unknown[][], width: number) =>
    Array.from({ length: width }, (_, i) =>
      rows.map((r) => (r[i] instanceof Date ? (r[i] as Date).toISOString() : r[i])),
    );
  const contactSql = `insert into contact (${CONTACT_COLUMNS.join(', ')}) select * from unnest(${PG_TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(', ')})`;
  const keySql =
    'insert into contact_key (contact_id, kind, term, owner_id) select * from unnest($1::varchar[], $2::smallint[], $3::varchar[], $4::varchar[])';
  // The secondary indexes that back no constraint (primary and unique keys stay).
  const indexes = await withConnection(async (conn) => {
    const client = conn as Client;
    const { rows } = (await client.query(
      `select i.indexname as name, i.indexdef as sql from pg_indexes i
        where i.schemaname = current_schema() and i.tablename = any($1)
          and not exists (select 1 from pg_constraint c where c.conname = i.indexname)`,
      [TABLES],
    )) as { rows: Array<{ name: string; sql: string }> };
    for (const i of rows) await client.query(`drop index "${i.name}"`);
    return rows;
  });
  return {
    async write(pbxId, owner, contacts) {
      const rows = rowsOf(pbxId, owner, contacts, new Date());
      await withConnection(async (conn) => {
        const client = conn as Client;
        await client.query('begin');
        try {
          // The rows reference what the bench made just before: their foreign keys are not
          // checked row by row when the server lets this session skip them (a superuser's).
          await client.query('savepoint fk');
          await client
            .query('set local session_replication_role = replica')
            .catch(() => client.query('rollback to savepoint fk'));
          await client.query(contactSql, columns(rows.contacts, CONTACT_COLUMNS.length));
          await client.query(keySql, columns(rows.keys, 4));
          await client.query('commit');
        } catch (err) {
          await client.query('rollback').catch(() => {});
          throw err;
        }
      });
    },
    async close() {
      await withConnection(async (conn) => {
        for (const i of indexes) await (conn as Client).query(i.sql);
      });
    },
  };
}
