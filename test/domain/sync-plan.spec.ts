import { describe, expect, it } from 'vitest';
import { compareKeyParts, compareText, userItemKey, userItemKeyText } from '../../src/domain/sync-plan.js';
import { shuffle } from './domain.fixtures.js';

const item = (userId: string, userPrincipalName: string | null) => ({ userId, userPrincipalName });
const sign = (n: number) => Math.sign(n);
type Item = ReturnType<typeof item>;
const compareParts = (a: Item, b: Item) =>
  compareKeyParts(userItemKeyText(a), a.userId, userItemKeyText(b), b.userId);

describe('user item keys in parts (issue 16 item 3: no key string per item)', () => {
  // Prefixes, case, U+0000 inside a UPN (never in Entra, but the order must still be the string's).
  const texts = [
    '',
    'a',
    'A',
    'ab',
    'aB',
    'a\u0000',
    'a\u0000b',
    'a\u0000\u0000',
    'b',
    'a.b@x',
    'a@x',
    'Ä@x',
    'z',
  ];
  const ids = ['', '0', '1', '10', 'a', 'b\u0000'];
  const items = texts.flatMap((t) => ids.map((id) => item(id, t))).concat([item('n', null), item('', null)]);

  it('compare exactly as userItemKey strings compare, pair by pair', () => {
    for (const a of items)
      for (const b of items) {
        const expected = sign(compareText(userItemKey(a), userItemKey(b)));
        expect([a, b, sign(compareParts(a, b))]).toEqual([a, b, expected]);
      }
  });

  it('sort shuffled items into the order of their key strings', () => {
    // Items whose keys are equal ('a' and 'A', '' and null) may come in either order: compare the keys.
    const byString = items.map(userItemKey).sort(compareText);
    for (let seed = 1; seed <= 5; seed++) {
      const byParts = shuffle(items, seed).sort(compareParts);
      expect(byParts.map(userItemKey)).toEqual(byString);
    }
  });
});
