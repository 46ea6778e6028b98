import { describe, expect, it } from 'vitest';
import { resealStoredSecrets, SecretBox, signingKeySealContext } from '../../src/app/secret-box.js';

const k = (n: number) => Buffer.alloc(32, n);

describe('SecretBox with older keys (issue 12 item 6)', () => {
  it('seals with the current key and opens with any configured one', () => {
    const old = new SecretBox(k(1));
    const sealedOld = old.seal('secret', 'ctx');
    const box = new SecretBox(k(2), [k(1)]);
    expect(box.open(sealedOld, 'ctx')).toBe('secret');
    const sealedNew = box.seal('secret', 'ctx');
    expect(box.sealedBy(sealedNew)).toBe(box.keyId);
    expect(box.needsReseal(sealedOld)).toBe(true);
    expect(box.needsReseal(sealedNew)).toBe(false);
    expect(() => old.open(sealedNew, 'ctx')).toThrow(
      /sealed under key [0-9a-f]{8}, not under a configured key/,
    );
    expect(() => box.open(sealedOld, 'other-ctx')).toThrow();
  });

  it('takes new keys while running', () => {
    const box = new SecretBox(k(1));
    const a = box.seal('a', 'ctx');
    box.useKeys(k(2), [k(1)]);
    expect(box.open(a, 'ctx')).toBe('a');
    expect(box.needsReseal(a)).toBe(true);
    expect(box.keyIds).toHaveLength(2);
  });

  it('re-seals one value at a time, compare-and-set, never overwriting a value written meanwhile; Linkus signing keys too (S4)', async () => {
    const old = new SecretBox(k(1));
    const box = new SecretBox(k(2), [k(1)]);
    const rows = [
      {
        pbxId: 'p1',
        secretSealed: old.seal('s1', 'client-secret:p1'),
        tokenCacheSealed: old.seal('c1', 'token-cache:p1'),
      },
      { pbxId: 'p2', secretSealed: box.seal('s2', 'client-secret:p2'), tokenCacheSealed: null },
      {
        pbxId: 'p3',
        secretSealed: new SecretBox(k(9)).seal('s3', 'client-secret:p3'),
        tokenCacheSealed: null,
      },
    ];
    let raced = false;
    const store = {
      integrations: {
        listAll: async () => rows.map((r) => ({ ...r })),
        replaceSealed: async (
          pbxId: string,
          field: 'secretSealed' | 'tokenCacheSealed',
          expected: string,
          next: string,
        ) => {
          const row = rows.find((r) => r.pbxId === pbxId);
          if (!row) return false;
          // A gateway writes p1's token cache once, just before the re-seal reaches it.
          if (pbxId === 'p1' && field === 'tokenCacheSealed' && !raced) {
            raced = true;
            row.tokenCacheSealed = box.seal('c1-newer', 'token-cache:p1');
          }
          if (row[field] !== expected) return false;
          row[field] = next;
          return true;
        },
      },
    };
    // Linkus signing keys (S4): k1 under the old key, k0 under one no longer configured.
    const signingKeys = [
      { id: 'k1', sealed: old.seal('key-1', signingKeySealContext('k1')) },
      { id: 'k0', sealed: new SecretBox(k(9)).seal('key-0', signingKeySealContext('k0')) },
    ];
    const withKeys = {
      ...store,
      linkusSessions: {
        signingKeys: async (limit: number) => signingKeys.slice(0, limit).map((r) => ({ ...r })),
        replaceSealedSigningKey: async (id: string, expected: string, next: string) => {
          const row = signingKeys.find((r) => r.id === id);
          if (row?.sealed !== expected) return false;
          row.sealed = next;
          return true;
        },
      },
    };
    const report = await resealStoredSecrets(withKeys, box);
    expect(report.resealed).toBe(2);
    expect(box.open(signingKeys[0].sealed, signingKeySealContext('k1'))).toBe('key-1');
    expect(box.needsReseal(signingKeys[0].sealed)).toBe(false);
    expect(report.current).toBe(1);
    expect(report.unreadable).toEqual([
      { pbxId: 'p3', field: 'secretSealed', keyId: expect.any(String) },
      { pbxId: null, field: 'linkusSigningKey:k0', keyId: expect.any(String) },
    ]);
    expect(report.remaining).toBe(0);
    expect(box.open(rows[0].secretSealed as string, 'client-secret:p1')).toBe('s1');
    expect(box.open(rows[0].tokenCacheSealed as string, 'token-cache:p1')).toBe('c1-newer');
    expect(rows.every((r) => !r.tokenCacheSealed || !box.needsReseal(r.tokenCacheSealed))).toBe(true);
  });
});
