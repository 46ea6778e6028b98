import { ApiRole, type Caller } from '../domain/access.js';
import type { PhonebookRecord } from '../domain/contact.types.js';
import { contactLockedBySync } from '../domain/contact-rules.js';
import { searchText } from '../domain/contact-search.js';
import { callerNumberKey, dialledDigits, numberPrefix, readCallerNumber } from '../domain/phone-number.js';
import { AppError } from './errors.js';
import type { ContactMatch, ContactScope, SearchPage } from './ports/contact-lookup.port.js';
import type { Store } from './ports/store.port.js';

/**
 * The Linkus lookups (caller ID and search) and the admin's phonebooks (C1, C3).
 *
 * Who sees what:
 * - a LINKUS key is one extension's Linkus session: it sees the PBX's extensions, that
 *   extension's own personal contacts, and the phonebooks granted to it (to all extensions,
 *   to the extension, or to one of its extension groups); never another extension's
 *   personal contacts;
 * - an ADMIN or VIEWER key (and an operator acting on the PBX) sees the extensions and every
 *   phonebook, and no one's personal contacts (they are each user's own).
 */

/** Longest number a lookup reads, and longest search query. */
export const MAX_LOOKUP_NUMBER = 64;
export const MAX_SEARCH_QUERY = 100;
export const DEFAULT_SEARCH_PAGE = 20;
export const MAX_SEARCH_PAGE = 100;

export type CallerMatch = ContactMatch;

const noExtension = () =>
  new AppError(
    'FORBIDDEN',
    'This Linkus key belongs to no extension: make one with `npm run keys -- create --role linkus --extension <number>`.',
  );

/** The contacts a caller sees (see above). */
export async function readerScope(store: Store, caller: Caller): Promise<ContactScope> {
  if (caller.role === ApiRole.LINKUS) {
    if (!caller.extensionId) throw noExtension();
    const books = await store.contacts.visiblePhonebooks(caller.pbxId, caller.extensionId);
    return { personalOf: caller.extensionId, phonebookIds: books.map((b) => b.id) };
  }
  const books = await store.contacts.visiblePhonebooks(caller.pbxId, null);
  return { personalOf: null, phonebookIds: books.map((b) => b.id) };
}

/**
 * Caller ID: who is calling from `number`. Precedence, first match wins:
 * 1. EXTENSION: the number is an extension number (1–7 digits, no leading 0) of the PBX, or an
 *    extension's mobile number;
 * 2. PERSONAL_CONTACT: one of the caller's own contacts has the number (LINKUS only);
 * 3. PHONEBOOK: a contact of a phonebook the caller sees has it, phonebooks by name.
 * Within one source, by display name, then id. Numbers are compared in E.164 under the PBX's
 * default country ("+44 20 7946 0018", "020 7946 0018" and "00442079460018" are one number
 * under a GB PBX); a number that is no valid phone number is compared by its digits. Null
 * when nothing matches.
 */
export async function lookupCaller(
  store: Store,
  caller: Caller,
  number: string,
): Promise<CallerMatch | null> {
  if (number.length > MAX_LOOKUP_NUMBER || dialledDigits(number) === null) {
    throw AppError.invalidInput([
      { field: 'number', message: 'must be a phone or extension number: digits, and + ( ) - . or spaces' },
    ]);
  }
  if (caller.role === ApiRole.LINKUS && !caller.extensionId) throw noExtension();
  // The number is read under the PBX's country as last seen; the lookup's one statement also
  // answers the country as it is now, and a lookup made under another is made again.
  let country = knownCountries.get(caller.pbxId) ?? (await store.contacts.pbxCountry(caller.pbxId));
  for (let attempt = 0; ; attempt++) {
    if (country === null) {
      knownCountries.delete(caller.pbxId);
      throw new AppError('NOT_FOUND', 'This PBX no longer exists');
    }
    const read = readCallerNumber(number, country);
    // No digits at all: no number under any country.
    if (!read) return null;
    // One statement: the extension of that number, and the contacts the reader sees (its
    // visibility is a subquery: readerScope's rules, in SQL).
    const viewer = caller.role === ApiRole.LINKUS ? (caller.extensionId ?? null) : null;
    const found = await store.contacts.lookupNumber(
      caller.pbxId,
      viewer,
      {
        key: callerNumberKey(read),
        extensionNumber: read.kind === 'EXTENSION' ? read.number : null,
        e164: read.kind === 'E164' ? read.e164 : null,
      },
      1,
    );
    // (A country changed again between each of three statements: the last answer stands.)
    if (found.country === country || attempt === 2) {
      if (found.country !== null) remember(caller.pbxId, found.country);
      return found.matches[0] ?? null;
    }
    country = found.country;
  }
}

/** PBX countries as lookups last saw them (checked by each lookup), at most KNOWN_COUNTRIES. */
const knownCountries = new Map<string, string>();
const KNOWN_COUNTRIES = 10_000;
function remember(pbxId: string, country: string) {
  if (knownCountries.get(pbxId) === country) return;
  if (knownCountries.size >= KNOWN_COUNTRIES) knownCountries.clear();
  knownCountries.set(pbxId, country);
}

/**
 * Search by name, company or the start of a number, over the same sources as lookupCaller.
 * A query with letters matches names and companies: a whole name equal to it (EXACT_NAME),
 * a name starting with it (NAME_PREFIX), a later word of a name, or a company or one of its
 * words, starting with it (WORD_PREFIX); case, accents and punctuation aside. A query of
 * digits (and + ( ) - . spaces) matches numbers starting with it (NUMBER_PREFIX), read under
 * the PBX's country ("020 79" finds +44 20 79…; "10" finds extension 1001). Ranked by that
 * order, then extensions before personal contacts before phonebooks, then alphabetically;
 * each contact once, at its best rank. Cursor-paged (`first` 1–100, default 20).
 */
export async function searchContacts(
  store: Store,
  caller: Caller,
  args: { query: string; first?: number | null; after?: string | null },
): Promise<SearchPage<ContactMatch>> {
  const first = args.first ?? DEFAULT_SEARCH_PAGE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_SEARCH_PAGE) {
    throw AppError.invalidInput([{ field: 'first', message: `must be from 1 to ${MAX_SEARCH_PAGE}` }]);
  }
  const query = args.query.trim();
  if (query.length > MAX_SEARCH_QUERY) {
    throw AppError.invalidInput([
      { field: 'query', message: `must be at most ${MAX_SEARCH_QUERY} characters` },
    ]);
  }
  const country = await store.contacts.pbxCountry(caller.pbxId);
  if (country === null) throw new AppError('NOT_FOUND', 'This PBX no longer exists');
  const asNumber = numberPrefix(query, country);
  const spec = asNumber
    ? { text: '', e164Prefix: asNumber.e164, digits: asNumber.digits }
    : { text: searchText(query), e164Prefix: null, digits: null };
  if (!spec.text && !spec.e164Prefix && !spec.digits) {
    throw AppError.invalidInput([{ field: 'query', message: 'must hold letters or digits' }]);
  }
  const scope = await readerScope(store, caller);
  return store.contacts.search(caller.pbxId, scope, spec, { first, after: args.after || null });
}

/** Every phonebook of the PBX, with who sees it, by name. */
export function listPhonebooks(store: Store, caller: Caller): Promise<PhonebookRecord[]> {
  return store.contacts.listPhonebooks(caller.pbxId);
}

/**
 * Sets who sees a phonebook (C3): all extensions, or the chosen extensions and extension
 * groups (their members). Unknown ids are refused by name: NOT_FOUND for the phonebook,
 * INVALID_INPUT (`extensionIds`, `extensionGroupIds`) for extensions or groups not of this PBX.
 */
export async function savePhonebookVisibility(
  store: Store,
  caller: Caller,
  input: { phonebookId: string; allExtensions: boolean; extensionIds: string[]; extensionGroupIds: string[] },
): Promise<PhonebookRecord> {
  const extensionIds = [...new Set(input.extensionIds)];
  const extensionGroupIds = [...new Set(input.extensionGroupIds)];
  return store.transactional(async (tx) => {
    const pbxId = caller.pbxId;
    const books = await tx.contacts.listPhonebooks(pbxId);
    if (!books.some((b) => b.id === input.phonebookId)) {
      throw new AppError('NOT_FOUND', `No phonebook with id ${input.phonebookId}`, { field: 'phonebookId' });
    }
    const found = await tx.directory.existingExtensionIds(pbxId, extensionIds);
    const unknownExtensions = extensionIds.filter((id) => !found.has(id));
    const unknownGroups: string[] = [];
    for (const id of extensionGroupIds)
      if (!(await tx.directory.findExtensionGroup(pbxId, id))) unknownGroups.push(id);
    const problems = [
      ...(unknownExtensions.length
        ? [{ field: 'extensionIds', message: `not extensions of this PBX: ${shown(unknownExtensions)}` }]
        : []),
      ...(unknownGroups.length
        ? [
            {
              field: 'extensionGroupIds',
              message: `not extension groups of this PBX: ${shown(unknownGroups)}`,
            },
          ]
        : []),
    ];
    if (problems.length) throw AppError.invalidInput(problems);
    return tx.contacts.savePhonebookVisibility(pbxId, input.phonebookId, {
      allExtensions: input.allExtensions,
      extensionIds,
      extensionGroupIds,
    });
  });
}

const shown = (ids: string[]) =>
  ids.slice(0, 5).join(', ') + (ids.length > 5 ? ` and ${ids.length - 5} more` : '');

/** Deletes a contact made by hand; a synced one is refused (LOCKED_BY_SYNC). Returns its id. */
export async function deleteContact(store: Store, caller: Caller, id: string): Promise<string> {
  return store.transactional(async (tx) => {
    const contact = await tx.contacts.findContact(caller.pbxId, id);
    if (!contact) throw new AppError('NOT_FOUND', `No contact with id ${id}`, { field: 'id' });
    if (contactLockedBySync(contact)) {
      throw new AppError(
        'LOCKED_BY_SYNC',
        'This contact is synced from Microsoft 365 and cannot be deleted by hand; it goes when it leaves Outlook or the sync.',
        { field: 'id' },
      );
    }
    await tx.contacts.deleteContact(caller.pbxId, id);
    return id;
  });
}

/** Who the caller is: its role, and for a Linkus session its extension. */
export async function whoAmI(store: Store, caller: Caller) {
  const extension = caller.extensionId
    ? await store.directory.findExtension(caller.pbxId, caller.extensionId)
    : null;
  return { role: caller.role, pbxId: caller.pbxId, keyId: caller.keyId, extension };
}
