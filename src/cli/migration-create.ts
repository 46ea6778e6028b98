/**
 * Generates the next migration for BOTH databases from the entity definitions:
 *   npm run migration:create -- <name>
 * SQLite is diffed in a temporary file; PostgreSQL in a temporary database on
 * TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres).
 */
import 'reflect-metadata';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MikroORM } from '@mikro-orm/core';
import pg from 'pg';
import { ormOptions } from '../store/orm.js';

const name = process.argv[2] ?? 'change';
const root = path.resolve('src/store/migrations');

function writeIndex(kind: 'sqlite' | 'postgresql', exportName: string) {
  const dir = path.join(root, kind);
  const files = readdirSync(dir)
    .filter((f) => /^Migration\d+.*\.ts$/.test(f))
    .sort();
  const classes = files.map((f) => f.replace(/\.ts$/, ''));
  const lines = [
    "import type { MigrationObject } from '@mikro-orm/core';",
    ...classes.map((c) => `import { ${c} } from './${c}.js';`),
    '',
    `/** Checked-in migrations for ${kind === 'sqlite' ? 'SQLite' : 'PostgreSQL'}, oldest first. \`npm run migration:create\` appends here. */`,
    `export const ${exportName}: MigrationObject[] = [`,
    ...classes.map((c) => `  { name: '${c}', class: ${c} },`),
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

await generate('sqlite', 'sqliteMigrations');
await generate('postgresql', 'postgresqlMigrations');
