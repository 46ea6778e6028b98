import type { ContactFields } from './contact.types.js';
import { numberKey } from './phone-number.js';

/**
 * How contacts are found by name, company and number (the Linkus lookups). Pure: the store
 * keeps the terms this file makes (one row per term, under the contact's owner) and answers
 * prefix ranges of them; the ranking below is the one every source (extensions, personal
 * contacts, phonebooks) shares.
 */

/** What a term holds. */
export enum ContactTermKind {
  /** The whole name (normalised). */
  NAME = 0,
  /** A later word of the name; the company, and each later word of it. */
  WORD = 1,
  /** A number: its E.164, or `#` and its digits when it has none. */
  NUMBER = 2,
}

/** Terms are cut to this many characters (a prefix search reaches that deep). */
export const TERM_LENGTH = 64;

/**
 * Text as search compares it: letters without accents, lower case, every run of other
 * characters (spaces, punctuation) one space. "Zoë O'Brien-Smith" → "zoe o brien smith".
 */
export function searchText(value: string | null | undefined): string {
  if (!value) return '';
  return value
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

const cut = (t: string) => t.slice(0, TERM_LENGTH).trimEnd();

/** The terms a contact is found by (distinct, each at most TERM_LENGTH characters). */
export function contactTerms(
  c: Pick<ContactFields, 'displayName' | 'firstName' | 'lastName' | 'company' | 'numbers'>,
): Array<{ kind: ContactTermKind; term: string }> {
  const out = new Map<string, { kind: ContactTermKind; term: string }>();
  const add = (kind: ContactTermKind, term: string) => {
    const t = cut(term);
    if (t) out.set(`${kind}:${t}`, { kind, term: t });
  };
  const name = searchText(c.displayName) || searchText(`${c.firstName ?? ''} ${c.lastName ?? ''}`);
  add(ContactTermKind.NAME, name);
  const words = name.split(' ');
  for (let i = 1; i < words.length; i++) add(ContactTermKind.WORD, words[i] as string);
  // A display name that leaves out the first or last name ("Jo", first name "Joanna") is found by both.
  for (const part of [c.firstName, c.lastName]) {
    for (const w of searchText(part).split(' ')) if (w && !words.includes(w)) add(ContactTermKind.WORD, w);
  }
  const company = searchText(c.company);
  if (company) {
    add(ContactTermKind.WORD, company);
    for (const w of company.split(' ').slice(1)) add(ContactTermKind.WORD, w);
  }
  for (const n of c.numbers) {
    const key = numberKey(n);
    if (key) add(ContactTermKind.NUMBER, key);
  }
  return [...out.values()];
}

/**
 * Where a match ranks, best first. A search returns every source's matches in this order:
 * rank, then source (extensions, then the caller's personal contacts, then phonebooks), then
 * the matched term, then id.
 */
export enum SearchRank {
  /** The whole name is the query. */
  EXACT_NAME = 0,
  /** The name starts with the query. */
  NAME_PREFIX = 1,
  /** A later word of the name, or the company (or a word of it), starts with the query. */
  WORD_PREFIX = 2,
  /** A number starts with the query's digits. */
  NUMBER_PREFIX = 3,
}

export type ContactSourceKind = 'EXTENSION' | 'PERSONAL_CONTACT' | 'PHONEBOOK';

/** The order of sources within a rank, and the precedence of a caller ID lookup. */
export const SOURCE_ORDER: Record<ContactSourceKind, number> = {
  EXTENSION: 0,
  PERSONAL_CONTACT: 1,
  PHONEBOOK: 2,
};
