/**
 * `npm run bench -- insert [--rows 90000] [--db sqlite,postgresql]`
 *
 * The two bulk writes that dominate a first full sync, timed as the sync does them and as
 * they could be done with bound parameters (what a fix would buy):
 * - extensions: `MikroDirectoryApplier.applyUserItems` (MikroORM `insertMany`, 500 rows per
 *   statement, values inlined into the SQL text) in transactions of 2,000 items as
 *   the run pipeline does, against one prepared statement reused per row (SQLite) or one
 *   `INSERT … SELECT * FROM unnest($1::text[], …)` per 2,000 rows (PostgreSQL);
 * - the directory snapshot: `replaceSnapshot` (one row of JSON per user; since the bound-insert
 *   change it binds its values too, 100 rows per statement) against the same bound-parameter
 *   statements.
 * Same tables, indexes and database as the gateway (migrations); a fresh database per kind.
 * The figures go to bench/results/insert.json (bench/support/results.ts).
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createPbx } from '../src/app/pbx.js';
import type { UserCreateItem } from '../src/domain/sync-plan.types.js';
import { openDatabase } from '../src/store/orm.js';
import { openStore } from '../src/store/store.js';
import { Args } from './support/args.js';
import { benchCommand, writeResults } from './support/results.js';
import { type BenchDatabase, createPostgres, createSqlite } from './support/services.js';

const BATCH = 2000;

/** The parts of better-sqlite3 (no types installed) and of knex's pool used here. */
interface SqliteHandle {
  prepare(sql: string): { run(...values: unknown[]): unknown };
  transaction<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void;
}
interface KnexLike {
  client: { acquireConnection(): Promise<unknown>; releaseConnection(c: unknown): Promise<unknown> };
}

function items(n: number): UserCreateItem[] {
  return Array.from({ length: n }, (_, i) => ({
    action: 'CREATE',
    reason: 'NEW_USER',
    userId: randomUUID(),
    displayName: `User ${i}`,
    userPrincipalName: `user${i}@contoso.example.com`,
    extensionId: null,
    number: String(1000 + i),
    detail: null,
    sendWelcomeEmail: false,
    extension: {
      number: String(1000 + i),
      firstName: `Given${i}`,
      lastName: `Surname${i % 997}`,
      email: `user${i}@contoso.example.com`,
      mobileNumber: i % 2 ? `+1 425 555 ${String(i % 10_000).padStart(4, '0')}` : null,
      jobTitle: `Title ${i % 50}`,
    },
  }));
}

function snapshotUsers(list: UserCreateItem[]) {
  return list.map((it, i) => ({
    id: it.userId,
    displayName: it.displayName,
    givenName: it.extension.firstName,
    surname: it.extension.lastName,
    mail: it.extension.email,
    userPrincipalName: it.userPrincipalName,
    mobilePhone: it.extension.mobileNumber,
    businessPhones: i % 3 ? ['+1 206 555 0100'] : [],
    jobTitle: it.extension.jobTitle,
    department: `Dept ${i % 20}`,
    accountEnabled: true,
    userType: 'Member',
    deletionState: 'PRESENT',
  }));
}

const EXT_COLUMNS = [
  'id',
  'pbx_id',
  'number',
  'number_sort',
  'first_name',
  'last_name',
  'email',
  'email_key',
  'mobile_number',
  'job_title',
  'source',
  'external_id',
  'created_at',
  'updated_at',
];

function extRow(pbxId: string, it: UserCreateItem, now: Date, sqlite: boolean): unknown[] {
  const e = it.extension;
  const at = sqlite ? now.getTime() : now;
  return [
    randomUUID(),
    pbxId,
    e.number,
    Number.parseInt(e.number, 10),
    e.firstName,
    e.lastName,
    e.email,
    e.email?.toLowerCase() ?? null,
    e.mobileNumber,
    e.jobTitle,
    'SYNCED',
    it.userId,
    at,
    at,
  ];
}

/** One timed write, by key: extensions.gateway, snapshot.gateway, extensions.bound, snapshot.bound. */
type Timings = Record<string, { label: string; ms: number }>;

async function run(db: BenchDatabase, n: number): Promise<Timings> {
  console.log(`${db.kind} (${db.where}), ${n.toLocaleString('en-US')} rows:`);
  const timings: Timings = {};
  const timed = async (key: string, label: string, fn: () => Promise<void> | void) => {
    const t = performance.now();
    await fn();
    const ms = performance.now() - t;
    console.log(`  ${label.padEnd(70)} ${(ms / 1000).toFixed(2).padStart(7)} s`);
    timings[key] = { label, ms: Math.round(ms) };
  };
  const orm = await openDatabase(db.config);
  const clock = () => new Date();
  try {
    const store = openStore(orm, clock);
    const pbx = await createPbx(store, { name: 'insert bench', extensionCapacity: 1_000_000 });
    const list = items(n);
    const users = snapshotUsers(list);
    const wipe = async () => {
      await orm.em.fork().getConnection().execute('delete from extension where pbx_id = ?', [pbx.id]);
      await orm.em.fork().getConnection().execute('delete from directory_object where pbx_id = ?', [pbx.id]);
    };

    await timed(
      'extensions.gateway',
      'extensions: applyUserItems (MikroORM insertMany), 2,000 per transaction',
      async () => {
        for (let i = 0; i < list.length; i += BATCH) {
          const batch = list.slice(i, i + BATCH);
          await openStore(orm, clock).transactional((tx) => tx.applier.applyUserItems(pbx.id, batch));
        }
      },
    );
    await timed(
      'snapshot.gateway',
      'snapshot: replaceSnapshot (MikroORM insertMany, JSON per row)',
      async () => {
        await openStore(orm, clock).transactional((tx) => tx.sync.replaceSnapshot(pbx.id, 'USER', users));
      },
    );
    await wipe();

    const now = new Date();
    if (db.config.kind === 'sqlite') {
      // The gateway's own better-sqlite3 connection, taken from knex's pool.
      const knex = (orm.em.getConnection() as unknown as { getKnex(): KnexLike }).getKnex();
      const sqlite = (await knex.client.acquireConnection()) as SqliteHandle;
      const insertExt = sqlite.prepare(
        `insert into extension (${EXT_COLUMNS.join(', ')}) values (${EXT_COLUMNS.map(() => '?').join(', ')})`,
      );
      const insertObj = sqlite.prepare(
        'insert into directory_object (key, pbx_id, kind, data) values (?, ?, ?, ?)',
      );
      await timed(
        'extensions.bound',
        'extensions: one prepared statement, bound values, 2,000 per transaction',
        () => {
          const tx = sqlite.transaction((batch: UserCreateItem[]) => {
            for (const it of batch) insertExt.run(...extRow(pbx.id, it, now, true));
          });
          for (let i = 0; i < list.length; i += BATCH) tx(list.slice(i, i + BATCH));
        },
      );
      await timed('snapshot.bound', 'snapshot: one prepared statement, bound values, one transaction', () => {
        sqlite.transaction(() => {
          for (const u of users) insertObj.run(`${pbx.id}:USER:${u.id}`, pbx.id, 'USER', JSON.stringify(u));
        })();
      });
      await knex.client.releaseConnection(sqlite);
    } else {
      const client = new pg.Client({ connectionString: db.config.url });
      await client.connect();
      const casts = [
        'text',
        'text',
        'text',
        'int',
        'text',
        'text',
        'text',
        'text',
        'text',
        'text',
        'text',
        'text',
        'timestamptz',
        'timestamptz',
      ];
      const unnest = `insert into extension (${EXT_COLUMNS.map((c) => `"${c}"`).join(', ')}) select * from unnest(${casts.map((c, i) => `$${i + 1}::${c}[]`).join(', ')})`;
      await timed(
        'extensions.bound',
        'extensions: INSERT … SELECT unnest($1::text[], …), 2,000 per transaction',
        async () => {
          for (let i = 0; i < list.length; i += BATCH) {
            const rows = list.slice(i, i + BATCH).map((it) => extRow(pbx.id, it, now, false));
            const columns = EXT_COLUMNS.map((_, c) => rows.map((r) => r[c]));
            await client.query('begin');
            await client.query(unnest, columns);
            await client.query('commit');
          }
        },
      );
      await timed(
        'snapshot.bound',
        'snapshot: INSERT … SELECT unnest(…), 5,000 per statement, one transaction',
        async () => {
          await client.query('begin');
          for (let i = 0; i < users.length; i += 5000) {
            const chunk = users.slice(i, i + 5000);
            await client.query(
              'insert into directory_object (key, pbx_id, kind, data) select * from unnest($1::text[], $2::text[], $3::text[], $4::text[])',
              [
                chunk.map((u) => `${pbx.id}:USER:${u.id}`),
                chunk.map(() => pbx.id),
                chunk.map(() => 'USER'),
                chunk.map((u) => JSON.stringify(u)),
              ],
            );
          }
          await client.query('commit');
        },
      );
      await client.end();
    }
  } finally {
    await orm.close(true);
  }
  return timings;
}

export async function main(argv: readonly string[]): Promise<void> {
  const args = new Args(argv);
  const n = args.number('rows', 90_000);
  const dbs = args.list('db', ['sqlite', 'postgresql']);
  const figures: Record<string, Timings | { skipped: string }> = {};
  for (const kind of dbs) {
    let db: BenchDatabase;
    try {
      db = kind === 'sqlite' ? createSqlite() : await createPostgres();
    } catch (err) {
      console.log(`${kind}: SKIPPED (${(err as Error).message})`);
      figures[kind] = { skipped: (err as Error).message };
      continue;
    }
    try {
      figures[kind] = await run(db, n);
    } finally {
      await db.drop();
    }
  }
  writeResults('insert', { command: benchCommand('insert', argv), args: { rows: n, db: dbs }, figures });
}
