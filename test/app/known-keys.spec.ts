import { describe, expect, it } from 'vitest';
import { KnownKeys } from '../../src/app/known-keys.js';
import { ApiRole, type KeyHolder } from '../../src/domain/access.js';

/**
 * Issue 13: the keys a gateway process found valid, trusted a few seconds without a database
 * read, and only while revocations are heard (src/app/known-keys.ts).
 */

const holder = (keyId: string, pbxId: string | null = 'pbx-1'): KeyHolder => ({
  keyId,
  pbxId,
  role: pbxId ? ApiRole.ADMIN : ApiRole.OPERATOR,
});

/** A database stand-in for `resolve`: counts reads, answers what `rows` holds now. */
function rowsOf(rows: Map<string, KeyHolder>) {
  const reads: string[] = [];
  return {
    reads,
    read: (hash: string) => async () => {
      reads.push(hash);
      return rows.get(hash) ?? null;
    },
  };
}

describe('KnownKeys (issue 13)', () => {
  it('while revocations are heard, a valid key is read once and then served from memory until its TTL', async () => {
    let now = 1_000;
    const known = new KnownKeys({ ttlMs: 5_000, now: () => now });
    known.setListening(true);
    const rows = new Map([['h1', holder('k1')]]);
    const db = rowsOf(rows);
    expect(await known.resolve('h1', db.read('h1'))).toEqual(holder('k1'));
    rows.delete('h1'); // gone behind its back: no announcement
    expect(await known.resolve('h1', db.read('h1'))).toEqual(holder('k1'));
    expect(db.reads).toEqual(['h1']);
    now += 5_000;
    expect(await known.resolve('h1', db.read('h1'))).toBeNull();
    expect(db.reads).toEqual(['h1', 'h1']);
  });

  it('not hearing revocations, every key is read each time; losing them forgets everything', async () => {
    const known = new KnownKeys();
    const rows = new Map([['h1', holder('k1')]]);
    const db = rowsOf(rows);
    await known.resolve('h1', db.read('h1'));
    await known.resolve('h1', db.read('h1'));
    expect(db.reads).toHaveLength(2);
    known.setListening(true);
    await known.resolve('h1', db.read('h1'));
    expect(known.size).toBe(1);
    known.setListening(false);
    expect(known.size).toBe(0);
    await known.resolve('h1', db.read('h1'));
    expect(db.reads).toHaveLength(4);
  });

  it('an unknown key is never remembered: a key made a moment later works at once', async () => {
    const known = new KnownKeys();
    known.setListening(true);
    const rows = new Map<string, KeyHolder>();
    const db = rowsOf(rows);
    expect(await known.resolve('h1', db.read('h1'))).toBeNull();
    rows.set('h1', holder('k1'));
    expect(await known.resolve('h1', db.read('h1'))).toEqual(holder('k1'));
  });

  it('forget drops the announced keys; forgetPbx every key of the announced PBXs; others stay', async () => {
    const known = new KnownKeys();
    known.setListening(true);
    const rows = new Map([
      ['h1', holder('k1', 'pbx-1')],
      ['h2', holder('k2', 'pbx-1')],
      ['h3', holder('k3', 'pbx-2')],
      ['h4', holder('op', null)],
    ]);
    const db = rowsOf(rows);
    for (const h of rows.keys()) await known.resolve(h, db.read(h));
    known.forget(['k3', 'unknown']);
    expect(known.size).toBe(3);
    known.forgetPbx(['pbx-1']);
    expect(known.size).toBe(1);
    db.reads.length = 0;
    await known.resolve('h4', db.read('h4'));
    expect(db.reads).toEqual([]);
    for (const h of ['h1', 'h2', 'h3']) await known.resolve(h, db.read(h));
    expect(db.reads).toEqual(['h1', 'h2', 'h3']);
  });

  it('a read that overlapped an announcement is answered but not remembered (it may predate the commit)', async () => {
    const known = new KnownKeys();
    known.setListening(true);
    const rows = new Map([['h1', holder('k1')]]);
    const db = rowsOf(rows);
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    // The read sees the row before the revocation commits, and answers after the announcement.
    const pending = known.resolve('h1', async () => {
      const seen = await db.read('h1')();
      await gate;
      return seen;
    });
    known.forget(['k1']); // revoked and announced while the read was under way
    rows.delete('h1');
    release();
    expect(await pending).toEqual(holder('k1'));
    expect(known.size).toBe(0);
    expect(await known.resolve('h1', db.read('h1'))).toBeNull();
  });

  it('holds at most `max` keys (past it, all are forgotten and read again)', async () => {
    const known = new KnownKeys({ max: 2 });
    known.setListening(true);
    const rows = new Map([
      ['h1', holder('k1')],
      ['h2', holder('k2')],
      ['h3', holder('k3')],
    ]);
    const db = rowsOf(rows);
    for (const h of rows.keys()) await known.resolve(h, db.read(h));
    expect(known.size).toBe(1);
  });
});
