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
