import { AsYouType, type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { isValidExtensionNumber } from './extension-number.js';

/**
 * Phone numbers as the contacts and the lookups read them (C1, C3, caller ID). A number is
 * kept in E.164 under the PBX's default country (`PbxRecord.defaultCountry`), so that
 * "+44 20 7946 0018", "020 7946 0018" and "00442079460018" are one number under a UK PBX.
 * Pure: libphonenumber-js (its full metadata) is the only library used.
 */

/** Characters people write around the digits of a phone number. */
const DECORATION = /[\s\-().\u00a0/]/g;
/** What a written phone number may hold once decorated characters are gone. */
const DIALLABLE = /^\+?[0-9]{1,20}$/;

/** The digits (and a leading +) of a written number, or null when it holds anything else. */
export function dialledDigits(value: string): string | null {
  const t = value.trim().replace(DECORATION, '');
  return DIALLABLE.test(t) ? t : null;
}

const asCountry = (country: string): CountryCode | undefined =>
  /^[A-Z]{2}$/.test(country) ? (country as CountryCode) : undefined;

/**
 * A dialled number in E.164 ("+442079460018") under `defaultCountry`, or null when it is not
 * a valid phone number (an extension number, letters, too short or too long). International
 * prefixes are those of the default country: 00 in most of the world, 011 under the North
 * American plan; a leading + always is one. An extension marker ("x123", "ext. 123") is dropped.
 */
export function toE164(dialled: string, defaultCountry: string): string | null {
  if (typeof dialled !== 'string' || dialled.length > 64) return null;
  const parsed = parsePhoneNumberFromString(dialled.trim(), {
    defaultCountry: asCountry(defaultCountry),
    extract: false,
  });
  if (!parsed?.isValid()) return null;
  return parsed.number;
}

/** How a lookup reads a caller's number. */
export type CallerNumber =
  /** Short digits: an extension number of the PBX. */
  | { kind: 'EXTENSION'; number: string }
  /** A phone number, in E.164. */
  | { kind: 'E164'; e164: string }
  /** Digits that are neither (kept to match a contact number that has no E.164). */
  | { kind: 'DIGITS'; digits: string };

/**
 * How a caller ID is matched: an extension number (1–7 digits, no leading 0) is an extension;
 * else the number in E.164 under the PBX's country; else its bare digits; null when it holds
 * no digits at all (or other characters than digits, +, spaces, dashes, dots, parentheses).
 */
export function readCallerNumber(value: string, defaultCountry: string): CallerNumber | null {
  const digits = dialledDigits(value);
  if (!digits) return null;
  if (isValidExtensionNumber(digits)) return { kind: 'EXTENSION', number: digits };
  const e164 = toE164(digits, defaultCountry);
  if (e164) return { kind: 'E164', e164 };
  return { kind: 'DIGITS', digits: digits.replace('+', '') };
}

/** The key under which a contact's number is stored and looked up: its E.164, else `#` and its digits. */
export function numberKey(number: { dialled: string; e164: string | null }): string | null {
  if (number.e164) return number.e164;
  const digits = dialledDigits(number.dialled);
  return digits ? `#${digits.replace('+', '')}` : null;
}

/** The key a caller number is matched against (see numberKey). */
export function callerNumberKey(n: CallerNumber): string {
  return n.kind === 'E164' ? n.e164 : n.kind === 'DIGITS' ? `#${n.digits}` : `#${n.number}`;
}

/**
 * What a search for the start of a number looks for: the E.164 prefix that the typed digits
 * make under the PBX's country ("020 79" → "+442079", "0044 20" → "+4420", "+1 212" →
 * "+1212"), and the bare digits (for extension numbers and numbers kept without E.164). Null
 * when the query is not a number (it holds letters, or no digit).
 */
export function numberPrefix(
  query: string,
  defaultCountry: string,
): { e164: string | null; digits: string } | null {
  const digits = dialledDigits(query);
  if (!digits || !/[0-9]/.test(digits)) return null;
  const typed = new AsYouType(asCountry(defaultCountry));
  typed.input(digits);
  const value = typed.getNumberValue();
  // "00" under a country whose international prefix it starts is no number yet ("+00").
  const e164 = value && /^\+[1-9][0-9]*$/.test(value) ? value : null;
  return { e164, digits: digits.replace('+', '') };
}
