import type { DirectoryUser } from './directory.types.js';
import { LIMITS } from './extension-rules.js';
import type { PbxExtension } from './pbx.types.js';

/** The extension fields the sync owns (U9 locks all but the number against hand edits). */
export type SyncedField = 'number' | 'firstName' | 'lastName' | 'email' | 'mobileNumber' | 'jobTitle';

/** The order changes are listed in. */
export const SYNCED_FIELDS: readonly SyncedField[] = [
  'number',
  'firstName',
  'lastName',
  'email',
  'mobileNumber',
  'jobTitle',
];

export interface SyncedExtensionFields {
  readonly number: string;
  readonly firstName: string;
  readonly lastName: string;
  readonly email: string | null;
  readonly mobileNumber: string | null;
  readonly jobTitle: string | null;
}

export interface FieldChange {
  readonly field: SyncedField;
  readonly from: string | null;
  readonly to: string | null;
}

function clean(value: string | null | undefined): string | null {
  if (value == null) return null;
  const text = value.trim();
  return text === '' ? null : text;
}

/** U5: a user's email is `mail`, else the user principal name (trimmed; null when neither has text). */
export function userEmail(user: DirectoryUser): string | null {
  return clean(user.mail) ?? clean(user.userPrincipalName);
}

/** Emails are compared case-insensitively (and without surrounding blanks). */
export function emailKey(email: string | null | undefined): string | null {
  const text = clean(email);
  return text === null ? null : text.toLowerCase();
}

/** Characters (code points, as the PBX and SQL count them), not UTF-16 units. */
function charCount(text: string): number {
  return text.length <= 1 ? text.length : Array.from(text).length;
}

/** The text cut to `max` characters (never inside a surrogate pair), trailing blanks dropped. */
export function shorten(text: string, max: number): string {
  if (text.length <= max) return text;
  const chars = Array.from(text);
  return chars.length <= max ? text : chars.slice(0, max).join('').trimEnd();
}

/**
 * What a synced extension shows of its user: first name = givenName, last name = surname;
 * when the user has neither, first name = displayName (else the UPN) so that the
 * extension is never nameless. Email per `userEmail`; mobile = mobilePhone; job title = jobTitle.
 * Text is trimmed and blank counts as none. The number is decided by the planner.
 *
 * Values are fitted to what an extension holds (`LIMITS`; Graph allows longer ones, e.g. a
 * displayName of 256 and a mobilePhone of 64 characters): names and the job title are
 * shortened; a mobile number that does not fit is left out, as a cut phone number would be
 * a wrong one. `extensionFieldNotes` says what was fitted.
 */
export function extensionFieldsOf(user: DirectoryUser): Omit<SyncedExtensionFields, 'number'> {
  const given = clean(user.givenName);
  const surname = clean(user.surname);
  const firstName =
    given ?? (surname === null ? (clean(user.displayName) ?? clean(user.userPrincipalName)) : null);
  const mobile = clean(user.mobilePhone);
  const jobTitle = clean(user.jobTitle);
  return {
    firstName: shorten(firstName ?? '', LIMITS.name),
    lastName: shorten(surname ?? '', LIMITS.name),
    email: userEmail(user),
    mobileNumber: mobile !== null && charCount(mobile) > LIMITS.mobileNumber ? null : mobile,
    jobTitle: jobTitle === null ? null : shorten(jobTitle, LIMITS.jobTitle),
  };
}

/** For the plan item's detail: which of the user's values `extensionFieldsOf` had to fit, or null. */
export function extensionFieldNotes(user: DirectoryUser): string | null {
  const notes: string[] = [];
  const given = clean(user.givenName);
  const surname = clean(user.surname);
  const firstName =
    given ?? (surname === null ? (clean(user.displayName) ?? clean(user.userPrincipalName)) : null);
  if (firstName !== null && charCount(firstName) > LIMITS.name) {
    notes.push(`first name shortened to ${LIMITS.name} characters`);
  }
  if (surname !== null && charCount(surname) > LIMITS.name) {
    notes.push(`last name shortened to ${LIMITS.name} characters`);
  }
  const mobile = clean(user.mobilePhone);
  if (mobile !== null && charCount(mobile) > LIMITS.mobileNumber) {
    notes.push(
      `mobilePhone "${mobile}" is longer than the ${LIMITS.mobileNumber} characters an extension holds: left out`,
    );
  }
  const jobTitle = clean(user.jobTitle);
  if (jobTitle !== null && charCount(jobTitle) > LIMITS.jobTitle) {
    notes.push(`job title shortened to ${LIMITS.jobTitle} characters`);
  }
  return notes.length ? notes.join('; ') : null;
}

/** The fields of `extension` that differ from `desired`, in SYNCED_FIELDS order. */
export function diffExtension(extension: PbxExtension, desired: SyncedExtensionFields): FieldChange[] {
  const changes: FieldChange[] = [];
  for (const field of SYNCED_FIELDS) {
    const from = extension[field];
    const to = desired[field];
    if ((from ?? null) !== (to ?? null)) changes.push({ field, from: from ?? null, to: to ?? null });
  }
  return changes;
}
