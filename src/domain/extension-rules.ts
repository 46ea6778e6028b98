import { isValidExtensionNumber } from './extension-number.js';
import type { PbxExtension, PbxExtensionGroup } from './pbx.types.js';
import type { FieldProblem } from './tenant.js';

/**
 * Rules for extensions and extension groups edited by hand (the PBX side for admins):
 * what a valid value is, and which changes the sync's lock forbids (U9, G4).
 */

/** An extension as the gateway keeps it: the sync's fields plus the PBX-managed ones. */
export interface ExtensionRecord extends PbxExtension {
  readonly pbxId: string;
  /** PBX-managed fields: editable by hand even on a synced extension. */
  readonly callerIdName: string | null;
  readonly voicemailEnabled: boolean;
  readonly notes: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** What the group sync needs of an extension (G5: members are synced extensions of users). */
export type ExtensionKey = Pick<PbxExtension, 'id' | 'source' | 'externalId'>;

export interface ExtensionGroupRecord extends PbxExtensionGroup {
  readonly pbxId: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** Every field an extension is written with (create), already normalised. */
export interface ExtensionFields {
  number: string;
  firstName: string;
  lastName: string;
  email: string | null;
  mobileNumber: string | null;
  jobTitle: string | null;
  callerIdName: string | null;
  voicemailEnabled: boolean;
  notes: string | null;
}

/** A change to an extension: only the fields present change; null clears a nullable field. */
export type ExtensionPatch = Partial<ExtensionFields>;

/** U9: on a synced extension these cannot be changed by hand (the number, and the PBX-managed fields, can). */
export const LOCKED_EXTENSION_FIELDS = [
  'firstName',
  'lastName',
  'email',
  'mobileNumber',
  'jobTitle',
] as const;
export type LockedExtensionField = (typeof LOCKED_EXTENSION_FIELDS)[number];

/** G4: on a synced group these cannot be changed by hand (and the group cannot be deleted). */
export const LOCKED_GROUP_FIELDS = ['name', 'memberIds'] as const;
export type LockedGroupField = (typeof LOCKED_GROUP_FIELDS)[number];

export const LIMITS = {
  name: 64,
  email: 254,
  mobileNumber: 32,
  jobTitle: 128,
  callerIdName: 64,
  notes: 2000,
  groupName: 128,
} as const;

const EMAIL = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;
const MOBILE = /^\+?[0-9][0-9 ()\-.]*$/;

/** A plausible email address: one @, no blanks, a dot in the domain. Not an RFC 5322 parser. */
export function isValidEmail(value: string): boolean {
  return value.length <= LIMITS.email && EMAIL.test(value);
}

/** A phone number as typed: digits, an optional leading +, and spaces, dashes, dots or brackets. */
export function isValidMobileNumber(value: string): boolean {
  return value.length <= LIMITS.mobileNumber && MOBILE.test(value) && /[0-9].*[0-9]/.test(value);
}

/** Trims text; a blank value counts as none. */
export function cleanText(value: string | null | undefined): string | null {
  if (value == null) return null;
  const text = value.trim();
  return text === '' ? null : text;
}

type Raw = { [K in keyof ExtensionFields]?: ExtensionFields[K] | null };

/**
 * Checks and normalises an extension's fields. With `mode: 'create'` the required ones
 * must be there; with `'update'` only the fields present are checked. Returns every
 * problem (not just the first) and the normalised values.
 */
export function normaliseExtensionFields(
  input: Raw,
  mode: 'create' | 'update',
): { value: ExtensionPatch; problems: FieldProblem[] } {
  const problems: FieldProblem[] = [];
  const value: ExtensionPatch = {};
  const has = (k: keyof ExtensionFields) => input[k] !== undefined || mode === 'create';

  if (has('number')) {
    const n = cleanText(input.number);
    if (n === null || !isValidExtensionNumber(n)) {
      problems.push({ field: 'number', message: 'must be 1 to 7 digits, not starting with 0' });
    } else value.number = n;
  }
  if (has('firstName')) {
    const v = cleanText(input.firstName);
    if (v === null) problems.push({ field: 'firstName', message: 'is required' });
    else if (v.length > LIMITS.name)
      problems.push({ field: 'firstName', message: `must be at most ${LIMITS.name} characters` });
    else value.firstName = v;
  }
  if (has('lastName')) {
    const v = cleanText(input.lastName) ?? '';
    if (v.length > LIMITS.name)
      problems.push({ field: 'lastName', message: `must be at most ${LIMITS.name} characters` });
    else value.lastName = v;
  }
  if (has('email')) {
    const v = cleanText(input.email);
    if (v !== null && !isValidEmail(v)) problems.push({ field: 'email', message: 'is not an email address' });
    else value.email = v;
  }
  if (has('mobileNumber')) {
    const v = cleanText(input.mobileNumber);
    if (v !== null && !isValidMobileNumber(v))
      problems.push({
        field: 'mobileNumber',
        message: 'must be a phone number (digits, optional leading +)',
      });
    else value.mobileNumber = v;
  }
  for (const field of ['jobTitle', 'callerIdName', 'notes'] as const) {
    if (!has(field)) continue;
    const v = cleanText(input[field]);
    if (v !== null && v.length > LIMITS[field])
      problems.push({ field, message: `must be at most ${LIMITS[field]} characters` });
    else value[field] = v;
  }
  if (has('voicemailEnabled')) {
    if (input.voicemailEnabled === null)
      problems.push({ field: 'voicemailEnabled', message: 'cannot be null' });
    else value.voicemailEnabled = input.voicemailEnabled ?? true;
  }
  return { value, problems };
}

/** Emails compare case-insensitively; everything else exactly (after normalising). */
function sameValue(field: LockedExtensionField, a: string | null, b: string | null): boolean {
  if (field === 'email') return (a?.toLowerCase() ?? null) === (b?.toLowerCase() ?? null);
  return (a ?? null) === (b ?? null);
}

/**
 * U9: the locked fields that `patch` would change on `extension` (in LOCKED_EXTENSION_FIELDS
 * order). Empty for a manual extension, and for a field sent with the value it already has
 * (a form that sends every field back is not refused for that).
 */
export function lockedExtensionChanges(
  extension: Pick<PbxExtension, 'source' | LockedExtensionField>,
  patch: ExtensionPatch,
): LockedExtensionField[] {
  if (extension.source !== 'SYNCED') return [];
  return LOCKED_EXTENSION_FIELDS.filter(
    (f) => patch[f] !== undefined && !sameValue(f, extension[f], patch[f] ?? null),
  );
}

export interface GroupPatch {
  name?: string;
  memberIds?: readonly string[];
}

/** Checks and normalises a group's name (required on create). */
export function normaliseGroupName(name: string | null | undefined): {
  value?: string;
  problem?: FieldProblem;
} {
  const v = cleanText(name);
  if (v === null) return { problem: { field: 'name', message: 'is required' } };
  if (v.length > LIMITS.groupName)
    return { problem: { field: 'name', message: `must be at most ${LIMITS.groupName} characters` } };
  return { value: v };
}

/** G4: the locked fields that `patch` would change on a synced group. Member order does not matter. */
export function lockedGroupChanges(
  group: Pick<PbxExtensionGroup, 'source' | 'name' | 'memberExtensionIds'>,
  patch: GroupPatch,
): LockedGroupField[] {
  if (group.source !== 'SYNCED') return [];
  const changed: LockedGroupField[] = [];
  if (patch.name !== undefined && patch.name !== group.name) changed.push('name');
  if (patch.memberIds !== undefined) {
    const now = new Set(group.memberExtensionIds);
    const next = new Set(patch.memberIds);
    if (now.size !== next.size || [...next].some((id) => !now.has(id))) changed.push('memberIds');
  }
  return changed;
}
