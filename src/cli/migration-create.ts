/**
 * Generates the next migration for BOTH databases from the entity definitions:
 *   npm run migration:create -- <name>
 *   npm run migration:create -- --index   (only rewrites the two index files, e.g. after a merge)
 * SQLite is diffed in a temporary file; PostgreSQL in a temporary database on
 * TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres).
 */
import 'reflect-metadata';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MikroORM } from '@mikro-orm/core';
import pg from 'pg';
import { ormOptions } from '../store/orm.js';

// The name becomes part of a class name: keep it to identifier characters.
const name = (process.argv[2] ?? 'change').replace(/[^A-Za-z0-9_]/g, '_');
const root = path.resolve('src/store/migrations');

function writeIndex(kind: 'sqlite' | 'postgresql', exportName: string) {
  const dir = path.join(root, kind);
  const files = readdirSync(dir)
    .filter((f) => /^Migration\d+.*\.ts$/.test(f))
    .sort();
  // The migrator names a class after the file, with characters that are not allowed in an
  // identifier dropped; read the name back rather than guess it.
  const entries = files.map((f) => {
    const source = readFileSync(path.join(dir, f), 'utf8');
    const cls = /export class (\w+)/.exec(source)?.[1];
    if (!cls) throw new Error(`no migration class in ${f}`);
    return { file: f.replace(/\.ts$/, ''), cls };
  });
  const lines = [
    "import type { MigrationObject } from '@mikro-orm/core';",
    ...entries.map((e) => `import { ${e.cls} } from './${e.file}.js';`),
    '',
    `/** Checked-in migrations for ${kind === 'sqlite' ? 'SQLite' : 'PostgreSQL'}, oldest first. \`npm run migration:create\` appends here. */`,
    `export const ${exportName}: MigrationObject[] = [`,
    ...entries.map((e) => `  { name: '${e.file}', class: ${e.cls} },`),
    '];',
    '',
  ];
  writeFileSync(path.join(dir, 'index.ts'), lines.join('\n'));
}

async function generate(kind: 'sqlite' | 'postgresql', exportName: string) {
  const dir = path.join(root, kind);
  let cleanup = async () => {};
  let options: ReturnType<typeof ormOptions>;
  if (kind === 'sqlite') {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'epg-migrate-'));
    options = ormOptions({ kind: 'sqlite', file: path.join(tmp, 'gen.sqlite') });
    cleanup = async () => rmSync(tmp, { recursive: true, force: true });
  } else {
    const base = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
    const dbName = `epg_migrate_${Date.now()}`;
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`create database ${dbName}`);
    const url = new URL(base);
    url.pathname = `/${dbName}`;
    options = ormOptions({ kind: 'postgresql', url: url.toString(), poolMax: 2 });
    cleanup = async () => {
      await admin.query(`drop database if exists ${dbName} with (force)`);
      await admin.end();
    };
  }
  const orm = await MikroORM.init(options);
  try {
    const migrator = orm.getMigrator();
    await migrator.up();
    const result = await migrator.createMigration(dir, false, false, name);
    if (!result.fileName) {
      console.log(`${kind}: no changes`);
    } else {
      console.log(`${kind}: wrote ${path.join(dir, result.fileName)}`);
      writeIndex(kind, exportName);
    }
  } finally {
    await orm.close(true);
    await cleanup();
  }
}

if (process.argv[2] === '--index') {
  // After a merge: both branches added migrations, rewrite the index files from what is on disk.
  writeIndex('sqlite', 'sqliteMigrations');
  writeIndex('postgresql', 'postgresqlMigrations');
} else {
  await generate('sqlite', 'sqliteMigrations');
  await generate('postgresql', 'postgresqlMigrations');
}
