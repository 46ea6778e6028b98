import type { GroupKind, UserType } from './directory.types.js';

/** U1: which directory users become extensions. */
export type UserRange =
  | { readonly type: 'ALL' }
  | { readonly type: 'BY_TYPE'; readonly userTypes: readonly UserType[] }
  | { readonly type: 'BY_GROUPS'; readonly groupIds: readonly string[] };

/** U3: how a synced extension gets its number. */
export type ExtensionNumbering =
  | {
      readonly mode: 'AUTO';
      /** The lowest number to give; default '1000'. */
      readonly startNumber?: string;
    }
  | {
      readonly mode: 'FROM_PROPERTY';
      /** A Graph user property, e.g. `businessPhones`, `employeeId`, `onPremisesExtensionAttributes.extensionAttribute1`. */
      readonly property: string;
    };

export interface UserSyncRule {
  /** U1 */
  readonly range: UserRange;
  /** U2: extensions no longer in sync are deleted (on) or released, retained and unlocked (off). */
  readonly autoDelete: boolean;
  /** U3 */
  readonly numbering: ExtensionNumbering;
  /** U4: delete the extension when its user is disabled / deleted. */
  readonly deleteWhen: { readonly disabled: boolean; readonly deleted: boolean };
  /** U5: take over an unsynced extension with the same email. */
  readonly autoAssociate: boolean;
  /** U6: send the Linkus welcome email once an extension is created. */
  readonly welcomeEmail: boolean;
  /** U1 BY_GROUPS: count members of nested groups too (default: direct members only). */
  readonly includeNestedMembers: boolean;
}

/** G1: which directory groups become extension groups. */
export type GroupRange =
  | { readonly type: 'ALL' }
  | { readonly type: 'BY_TYPE'; readonly kinds: readonly Exclude<GroupKind, 'OTHER'>[] }
  | { readonly type: 'SPECIFIC'; readonly groupIds: readonly string[] };

export interface GroupSyncRule {
  /** G1 */
  readonly range: GroupRange;
  /** G2: extension groups no longer in sync are deleted (on) or released (off). */
  readonly autoDelete: boolean;
  /** G5: members are the group's direct member users, or (on) its transitive member users. */
  readonly includeNestedMembers: boolean;
}

export const DEFAULT_START_NUMBER = '1000';

export const DEFAULT_USER_SYNC_RULE: UserSyncRule = {
  range: { type: 'ALL' },
  autoDelete: true,
  numbering: { mode: 'AUTO', startNumber: DEFAULT_START_NUMBER },
  deleteWhen: { disabled: true, deleted: true },
  autoAssociate: false,
  welcomeEmail: false,
  includeNestedMembers: false,
};

export const DEFAULT_GROUP_SYNC_RULE: GroupSyncRule = {
  range: { type: 'ALL' },
  autoDelete: true,
  includeNestedMembers: false,
};

/** C1: whose personal contacts are synced: every synced user, or the synced users in some groups. */
export type PersonalContactsRange =
  | { readonly type: 'ALL' }
  | { readonly type: 'BY_GROUPS'; readonly groupIds: readonly string[] };

/** C3: which shared mailboxes are synced (their user object ids). */
export type SharedMailboxRange =
  | { readonly type: 'ALL' }
  | { readonly type: 'SPECIFIC'; readonly mailboxIds: readonly string[] };

/** C1–C4: Outlook contacts to the PBX. */
export interface ContactSyncRule {
  /** C1, C2: each synced user's shared personal contacts folder → that user's Linkus contacts. */
  readonly personal: { readonly enabled: boolean; readonly range: PersonalContactsRange };
  /** C3: shared mailboxes' contacts → PBX phonebooks named by the admin. */
  readonly shared: {
    readonly enabled: boolean;
    readonly range: SharedMailboxRange;
    /** The phonebook's name (with several mailboxes: "<name> - <mailbox>"). */
    readonly phonebookName: string;
  };
}

export const MAX_PHONEBOOK_NAME = 64;
