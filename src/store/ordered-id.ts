import { randomBytes } from 'node:crypto';

/**
 * A UUID of version 7 (RFC 9562 §5.7): 48 bits of Unix milliseconds, then random bits. Ids made
 * one after another sort one after another (within a millisecond by a counter in `rand_a`), so
 * rows keyed by them are appended at the end of their B-tree instead of landing on a random page
 * of a table of 1,000,000 rows (SQLite: the contact's primary key and contact_key's, which
 * begins with it, were most of a first contact sync's insert time). Still a plain UUID to
 * everything that reads it.
 */
let lastMs = 0;
let counter = 0;
const pool = Buffer.alloc(16 * 256);
let poolAt = pool.length;

export function orderedUuid(now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    counter = 0;
  } else if (++counter > 0xfff) {
    // 4,096 ids in one millisecond: borrow the next millisecond (order is kept).
    lastMs++;
    counter = 0;
  }
  if (poolAt === pool.length) {
    randomBytes(pool.length).copy(pool);
    poolAt = 0;
  }
  const b = pool.subarray(poolAt, poolAt + 16);
  poolAt += 16;
  const ms = lastMs;
  const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
  const rest = b.toString('hex');
  return [
    hex(Math.floor(ms / 0x10000), 8),
    hex(ms % 0x10000, 4),
    `7${hex(counter, 3)}`,
    hex(0x8000 | ((((b[0] as number) << 8) | (b[1] as number)) & 0x3fff), 4),
    rest.slice(4, 16),
  ].join('-');
}
