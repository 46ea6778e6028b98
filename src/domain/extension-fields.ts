import type { DirectoryUser } from './directory.types.js';
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

/**
 * What a synced extension shows of its user: first name = givenName, last name = surname;
 * when the user has neither, first name = displayName (else the UPN) so that the
 * extension is never nameless. Email per `userEmail`; mobile = mobilePhone; job title = jobTitle.
 * Text is trimmed and blank counts as none. The number is decided by the planner.
 */
export function extensionFieldsOf(user: DirectoryUser): Omit<SyncedExtensionFields, 'number'> {
  const given = clean(user.givenName);
  const surname = clean(user.surname);
  const firstName =
    given ?? (surname === null ? (clean(user.displayName) ?? clean(user.userPrincipalName)) : null);
  return {
    firstName: firstName ?? '',
    lastName: surname ?? '',
    email: userEmail(user),
    mobileNumber: clean(user.mobilePhone),
    jobTitle: clean(user.jobTitle),
  };
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
