/**
 * Text a database can store: PostgreSQL refuses NUL in text (and in jsonb), and an unpaired
 * UTF-16 surrogate is not text at all (encoded, it silently becomes U+FFFD). Checked at the
 * edge for every string argument (src/graphql/edge.ts); made storable where text must be kept
 * whatever it holds (the audit log).
 */

/** Why a string cannot be taken, or null. */
export function textProblem(value: string, limit: number): string | null {
  const nul = value.indexOf('\u0000');
  if (nul >= 0) return `contains a NUL character (U+0000) at position ${nul}, which cannot be stored`;
  const at = unpairedSurrogate(value);
  if (at >= 0) {
    return `contains an unpaired surrogate (U+${value.charCodeAt(at).toString(16).toUpperCase()}) at position ${at}, which is not text`;
  }
  if (value.length > limit) return `must be at most ${limit} characters (got ${value.length})`;
  return null;
}

const UNPAIRED = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** The position of the first unpaired surrogate, or -1. */
export function unpairedSurrogate(value: string): number {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
      else return i;
    } else if (c >= 0xdc00 && c <= 0xdfff) return i;
  }
  return -1;
}

/** Text made storable: NUL and unpaired surrogates become U+FFFD (the audit log keeps what was refused). */
export function storableText(value: string): string {
  return value.replace(UNPAIRED, '\uFFFD').replaceAll('\u0000', '\uFFFD');
}
