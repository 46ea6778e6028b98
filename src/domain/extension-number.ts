import type { DirectoryUser } from './directory.types.js';

/**
 * Extension numbers (U3).
 *
 * A valid extension number is 1 to 7 ASCII digits without a leading zero (P-Series: digits,
 * at most 7). A leading zero is refused because 0 is the usual operator / outside-line
 * prefix of a dial plan, and because "0123" and "123" would be two numbers that any
 * spreadsheet or integer conversion on the way turns into one.
 */
export const MAX_EXTENSION_DIGITS = 7;
export const MAX_EXTENSION_NUMBER = 9_999_999;

const VALID = /^[1-9][0-9]{0,6}$/;

export function isValidExtensionNumber(value: string): boolean {
  return VALID.test(value);
}

/**
 * An extension marker and the digits after it, at the end of the value: `x1234`,
 * `ext 1234`, `ext. 1234`, `Ext: 1234`, `extn 1234`, `extension 1234`, `;ext=1234` (RFC 3966).
 * The marker must not follow a letter (so `Fax 1234` or `Box 12` carry none).
 */
const MARKER = /(?:^|[^a-z])(?:extension|extn|ext|x)\s*[.:=#]?\s*([0-9]+)\s*$/i;
const DIGITS_ONLY = /^[0-9]+$/;

/**
 * Reduces a property value to an extension number, or null when it holds none.
 *
 * The rule, in order:
 * 1. the value is trimmed;
 * 2. when it ends in an extension marker followed by digits (see MARKER), those digits;
 * 3. else, when the whole value is digits, the value;
 * 4. else nothing: a full phone number such as `+1 425 555 0100` is NOT cut down to its
 *    last digits, because which digits make the extension is a guess (U3: a value that is
 *    not a valid extension number is reported, not guessed);
 * and the result must be a valid extension number (1-7 digits, no leading zero).
 */
export function extensionNumberFromValue(value: string | null | undefined): string | null {
  if (value == null) return null;
  const text = value.trim();
  if (text === '') return null;
  const marked = MARKER.exec(text);
  const candidate = marked ? marked[1] : DIGITS_ONLY.test(text) ? text : null;
  return candidate !== null && isValidExtensionNumber(candidate) ? candidate : null;
}

const TOP_LEVEL: ReadonlySet<string> = new Set([
  'id',
  'displayName',
  'givenName',
  'surname',
  'mail',
  'userPrincipalName',
  'mobilePhone',
  'businessPhones',
  'jobTitle',
  'department',
]);

function asText(value: unknown): string | null {
  if (typeof value === 'string') return value.trim() === '' ? null : value;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return String(value);
  if (Array.isArray(value)) {
    for (const element of value) {
      const text = asText(element);
      if (text !== null) return text;
    }
  }
  return null;
}

/**
 * The text of a user property for FROM_PROPERTY: the record's own fields first, then
 * `properties` by exact name, then by a dotted path (`onPremisesExtensionAttributes.extensionAttribute1`).
 * A multi-valued property (`businessPhones`) gives its first non-blank value; a whole
 * number gives its decimal digits; anything else gives null.
 */
export function readUserProperty(user: DirectoryUser, property: string): string | null {
  if (TOP_LEVEL.has(property)) return asText((user as unknown as Record<string, unknown>)[property]);
  const extra = user.properties;
  if (!extra) return null;
  if (Object.hasOwn(extra, property)) return asText(extra[property]);
  let node: unknown = extra;
  for (const part of property.split('.')) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, part)) return null;
    node = (node as Record<string, unknown>)[part];
  }
  return asText(node);
}

/**
 * U3 AUTO: hands out the lowest free numbers from `startNumber` upwards, in the order it is
 * asked, skipping every number in `taken` and every number it gave before. Returns null
 * when no 7-digit number is left.
 */
export function createNumberAllocator(
  startNumber: string,
  taken: { has(number: string): boolean },
): () => string | null {
  if (!isValidExtensionNumber(startNumber)) {
    throw new RangeError(`start number "${startNumber}" is not a valid extension number`);
  }
  let next = Number(startNumber);
  return () => {
    while (next <= MAX_EXTENSION_NUMBER && taken.has(String(next))) next++;
    if (next > MAX_EXTENSION_NUMBER) return null;
    const number = String(next);
    next++;
    return number;
  };
}
