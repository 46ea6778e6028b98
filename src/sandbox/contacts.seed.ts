import type { ContactData } from './mailbox.store.js';
import { SeededRandom } from './random.util.js';
import { asciiName, DEPARTMENTS, LOCALES, ORGS } from './tenant.seed.js';

/**
 * Seeded Outlook contacts, made on demand: contact `index` of the mailbox of the user with
 * creation ordinal `ordinal` is a pure function of (seed, ordinal, index), so a tenant of
 * 10,000 users × 100 contacts costs no time and no memory until a contact is read (and then
 * only for that request). Only contacts that change are stored (mailbox.store.ts).
 *
 * Incomplete on purpose (C4), each an independent roll per contact:
 * - `NO_NAME_SHARE` (5 %): no givenName, no surname, empty displayName (a contact saved with
 *   only a number or an address);
 * - `NO_PHONE_SHARE` (10 %): no businessPhones, no homePhones, no mobilePhone.
 * Every other contact has at least one phone number.
 */
export const NO_NAME_SHARE = 0.05;
export const NO_PHONE_SHARE = 0.1;

// Read at first use: tenant.seed.ts imports this file too (it seeds the mailboxes).
let WEIGHTS: number[] = [];
let TITLES: string[] = [];
const COMPANY_SUFFIX = ['Ltd', 'GmbH', 'Inc.', 'SA', 'BV', 'AB', 'KK', 'Group'];
const DAY_MS = 86_400_000;
const CREATED_FROM = Date.UTC(2021, 0, 4);

function mix(seed: number, ordinal: number, index: number): number {
  let h =
    Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(ordinal + 1, 0x85ebca77) ^ Math.imul(index + 1, 0xc2b2ae3d);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h | 0;
}

/** The seeded contact `index` of a mailbox, with its creation time (ms). */
export function generateContact(
  seed: number,
  ordinal: number,
  index: number,
): { data: ContactData; created: number } {
  if (WEIGHTS.length === 0) {
    WEIGHTS = LOCALES.map((l) => l.weight);
    TITLES = Object.values(DEPARTMENTS).flat();
  }
  const r = new SeededRandom(mix(seed, ordinal, index));
  const loc = r.weighted(LOCALES, WEIGHTS);
  const [firstRoman, firstNative] = r.pick(loc.first);
  const [lastRoman, lastNative] = r.pick(loc.last);
  const given = firstNative ?? firstRoman;
  const sur = lastNative ?? lastRoman;
  const displayName =
    loc.order === 'eastern'
      ? `${sur} ${given}`
      : loc.order === 'eastern-nospace'
        ? `${sur}${given}`
        : `${given} ${sur}`;
  const org = r.chance(0.7) ? `${r.pick(ORGS)} ${r.pick(COMPANY_SUFFIX)}` : null;
  const domain = org
    ? `${asciiName(org.split(' ')[0] ?? 'mail')}.example`
    : r.pick(['mail.example', 'post.example']);
  const email = r.chance(0.8) ? `${asciiName(firstRoman)}.${asciiName(lastRoman)}@${domain}` : null;
  const data: ContactData = {
    givenName: given,
    surname: sur,
    displayName,
    companyName: org,
    jobTitle: org && r.chance(0.6) ? r.pick(TITLES) : null,
    businessPhones: r.chance(0.6) ? [loc.phone(r)] : [],
    homePhones: r.chance(0.25) ? [loc.phone(r)] : [],
    mobilePhone: r.chance(0.55) ? loc.mobile(r) : null,
    emailAddresses: email ? [{ name: displayName, address: email }] : [],
  };
  if (data.businessPhones.length === 0 && data.homePhones.length === 0 && !data.mobilePhone) {
    data.mobilePhone = loc.mobile(r);
  }
  if (r.chance(NO_NAME_SHARE)) {
    data.givenName = null;
    data.surname = null;
    data.displayName = '';
    for (const e of data.emailAddresses) e.name = e.address;
  }
  if (r.chance(NO_PHONE_SHARE)) {
    data.businessPhones = [];
    data.homePhones = [];
    data.mobilePhone = null;
  }
  const created = CREATED_FROM + r.int(0, 3 * 365) * DAY_MS + r.int(0, 86_399) * 1000;
  return { data, created };
}
