import type { EntityManager } from '@mikro-orm/core';
import { PostgreSqlPlatform } from '@mikro-orm/postgresql';
import { AppError } from '../app/errors.js';

/**
 * Opaque page cursors: base64url of `[kind, ...sort key]`. A cursor of another list, or
 * one that was tampered with, is refused with INVALID_INPUT (field `after`).
 */
export function encodeCursor(kind: string, key: ReadonlyArray<string | number>): string {
  return Buffer.from(JSON.stringify([kind, ...key]), 'utf8').toString('base64url');
}

export function decodeCursor<T extends Array<'string' | 'number'>>(
  kind: string,
  cursor: string,
  shape: T,
): { [K in keyof T]: T[K] extends 'number' ? number : string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = null;
  }
  const ok =
    Array.isArray(parsed) &&
    parsed.length === shape.length + 1 &&
    parsed[0] === kind &&
    shape.every((t, i) => typeof parsed[i + 1] === t && (t !== 'number' || Number.isFinite(parsed[i + 1])));
  if (!ok || cursor.length > 500) {
    throw AppError.invalidInput([{ field: 'after', message: 'is not a cursor of this list' }]);
  }
  return (parsed as unknown[]).slice(1) as { [K in keyof T]: T[K] extends 'number' ? number : string };
}

/** Escapes LIKE wildcards; the SQL must say `escape '\'`. */
export function likeEscape(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * How many rows one statement reads of a large list (100,000 extensions, the directory snapshot).
 * SQLite: `sqlitePage`, since better-sqlite3 is synchronous and holds the event loop for the whole
 * statement. PostgreSQL: all of them in one statement, since its driver parses rows as they arrive
 * (paging there made a 1,000-change re-sync of 100,000 users take 9.6 s instead of 5.1 s).
 */
export function rowsPerStatement(em: EntityManager, sqlitePage: number): number {
  return em.getPlatform() instanceof PostgreSqlPlatform ? Number.MAX_SAFE_INTEGER : sqlitePage;
}

/** Maps rows in slices of 2,000, yielding to the event loop between slices (100,000 rows at once held it for up to a second). */
export async function mapInSlices<R, T>(
  rows: readonly R[],
  map: (row: R) => T,
  into: T[] = [],
): Promise<T[]> {
  for (let i = 0; i < rows.length; i += 2000) {
    if (i > 0) await new Promise((resolve) => setImmediate(resolve));
    for (const row of rows.slice(i, i + 2000)) into.push(map(row));
  }
  return into;
}
