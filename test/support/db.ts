import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, inject } from 'vitest';
import type { Store } from '../../src/app/ports/store.port.js';
import type { PbxSettings } from '../../src/domain/tenant.js';
import { type DatabaseConfig, type Orm, openDatabase } from '../../src/store/orm.js';
import { openStore } from '../../src/store/store.js';

export interface TestDatabase {
  kind: 'sqlite' | 'postgresql';
  config: DatabaseConfig;
  drop(): Promise<void>;
}

/** A new, empty SQLite file under .data/test/. */
export async function createSqliteDatabase(): Promise<TestDatabase> {
  const dir = path.resolve('.data/test');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `db-${randomBytes(6).toString('hex')}.sqlite`);
  return {
    kind: 'sqlite',
    config: { kind: 'sqlite', file },
    async drop() {
      for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
    },
  };
}

/**
 * A new, empty PostgreSQL database on TEST_DATABASE_URL's server. `createOptions`: more of
 * CREATE DATABASE (e.g. another collation), a constant of the test.
 */
export async function createPostgresDatabase(baseUrl: string, createOptions = ''): Promise<TestDatabase> {
  const name = `epg_test_${Date.now()}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`create database ${name} ${createOptions}`);
  await admin.end();
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    kind: 'postgresql',
    config: { kind: 'postgresql', url: url.toString(), poolMax: 5 },
    async drop() {
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

export type DbLeg = { kind: 'sqlite' | 'postgresql'; create(): Promise<TestDatabase> };

/** The database legs every *.db.spec.ts runs on: SQLite always, PostgreSQL when TEST_DATABASE_URL is set. */
export function dbLegs(): DbLeg[] {
  const pgUrl = inject('postgresUrl');
  const legs: DbLeg[] = [{ kind: 'sqlite', create: createSqliteDatabase }];
  if (pgUrl) legs.push({ kind: 'postgresql', create: () => createPostgresDatabase(pgUrl) });
  return legs;
}

/**
 * Runs a suite once per database. Without TEST_DATABASE_URL the PostgreSQL leg is
 * reported as skipped, loudly, instead of silently vanishing.
 */
export function describeEachDb(name: string, fn: (leg: DbLeg) => void) {
  for (const leg of dbLegs()) describe(`${name} [${leg.kind}]`, () => fn(leg));
  if (!inject('postgresUrl')) {
    describe.skip(`${name} [postgresql] SKIPPED: TEST_DATABASE_URL is not set`, () => {
      fn({ kind: 'postgresql', create: () => Promise.reject(new Error('no PostgreSQL')) });
    });
  }
}

/**
 * A database of the leg, migrated, for a repository test: `store()` opens a fresh unit of work
 * (as a request or a job does), so what a test reads back comes from the database, not from
 * an identity map.
 */
export function useStore(leg: DbLeg) {
  let db: TestDatabase | undefined;
  let orm: Orm | undefined;
  beforeAll(async () => {
    db = await leg.create();
    orm = await openDatabase(db.config);
  });
  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });
  return {
    store: (): Store => openStore(orm as Orm, () => new Date()),
    /** A fresh EntityManager of the database, outside any transaction (for the store's own helpers). */
    em: () => (orm as Orm).em.fork(),
    /** A PBX of its own for a test (createPbx: with its integration row). */
    pbx: async (settings: Partial<PbxSettings> = {}) =>
      (
        await openStore(orm as Orm, () => new Date()).tenants.createPbx({
          ...PBX_DEFAULTS,
          name: `PBX ${randomBytes(3).toString('hex')}`,
          ...settings,
        })
      ).id,
  };
}

const PBX_DEFAULTS: PbxSettings = {
  name: 'PBX',
  timeZone: 'UTC',
  publicBaseUrl: null,
  extensionCapacity: 500,
  defaultCountry: 'US',
};
