import type { ContactSourceKind, SearchRank } from '../../domain/contact-search.js';
import type { PageRequest } from './store.port.js';

/**
 * The reads behind the Linkus lookups (caller ID, search): over the extensions, one
 * extension's personal contacts and a set of phonebooks of one PBX. Every read is an index
 * range of bounded size, whatever the number of contacts (1,000,000 per PBX).
 */

/** Which contacts a reader sees: one extension's personal contacts (or none) and these phonebooks. */
export interface ContactScope {
  personalOf: string | null;
  phonebookIds: readonly string[];
}

/** A phonebook a reader sees. */
export interface VisiblePhonebook {
  id: string;
  name: string;
}

/** What a search looks for (made by the use case from the query, src/domain/contact-search.ts). */
export interface ContactSearchSpec {
  /** The query as searchText made it; empty for a number-only query. */
  text: string;
  /** The E.164 prefix of a number query, if it makes one. */
  e164Prefix: string | null;
  /** The digits of a number query (extension numbers, numbers kept without E.164). */
  digits: string | null;
}

/** What a caller number is looked up by (src/domain/phone-number.ts callerNumberKeys). */
export interface CallerNumberKeys {
  /** The contact number key (numberKey). */
  key: string;
  /** The extension number it is, if it is one. */
  extensionNumber: string | null;
  /** Its E.164, if it is a phone number (an extension's mobile number is matched by it). */
  e164: string | null;
}

/** One contact or extension found. */
export interface ContactMatch {
  source: ContactSourceKind;
  /** The contact's id, or the extension's. */
  id: string;
  displayName: string;
  company: string | null;
  /** The number that matched (as dialled), or for a name match the first number. */
  number: string | null;
  /** The extension's number (source EXTENSION). */
  extensionNumber: string | null;
  phonebookId: string | null;
  phonebookName: string | null;
  rank: SearchRank;
}

/** A page of search results. No total: counting every match of "a" in 1,000,000 contacts is what the search avoids. */
export interface SearchPage<T> {
  edges: Array<{ cursor: string; node: T }>;
  endCursor: string | null;
  hasNextPage: boolean;
}

export interface ContactLookupRepository {
  /**
   * The phonebooks a Linkus user of `extensionId` sees: granted to all extensions, to the
   * extension, or to one of its extension groups; `extensionId` null: every phonebook of the PBX.
   * Ordered by name.
   */
  visiblePhonebooks(pbxId: string, extensionId: string | null): Promise<VisiblePhonebook[]>;
  /** The PBX's default country (numbers are read under it), or null when there is no such PBX. */
  pbxCountry(pbxId: string): Promise<string | null>;
  /**
   * Caller ID in one statement: the PBX's extension of `extensionNumber` (or whose mobile
   * number is `e164`), and the contacts
   * with a number whose key (phone-number.ts numberKey) is `key`, among the personal contacts
   * of `extensionId` and the phonebooks it sees (`extensionId` null: every phonebook, no
   * personal contacts; an extension that no longer exists sees nothing). Extensions first,
   * then personal contacts, then by phonebook name, name and id; at most `limit`. With them
   * the PBX's default country as it is now (null: no such PBX), so that a caller that read the
   * number under a country it remembered can tell whether it still holds.
   */
  lookupNumber(
    pbxId: string,
    extensionId: string | null,
    number: CallerNumberKeys,
    limit: number,
  ): Promise<{ country: string | null; matches: ContactMatch[] }>;
  /**
   * Extensions and contacts in scope matching the query, in the order of SearchRank, then
   * source, then term, then id (cursor-paged; INVALID_INPUT `after` for a cursor it did not make).
   */
  search(
    pbxId: string,
    scope: ContactScope,
    spec: ContactSearchSpec,
    page: PageRequest,
  ): Promise<SearchPage<ContactMatch>>;
  /** Deletes one contact; false when the PBX has no such contact. */
  deleteContact(pbxId: string, id: string): Promise<boolean>;
}
