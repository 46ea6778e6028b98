/**
 * Contacts (C1–C4): Outlook contacts as the PBX keeps them. A synced user's personal contacts
 * become that user's own Linkus contacts (owner EXTENSION); a shared mailbox's contacts become
 * a phonebook (owner PHONEBOOK). Pure types: the planner (contact sync), the store and the
 * lookups (caller ID, search) share them.
 */

/** Where a contact lives on the PBX. */
export type ContactOwner =
  | { kind: 'EXTENSION'; extensionId: string }
  | { kind: 'PHONEBOOK'; phonebookId: string };

export type ContactNumberKind = 'BUSINESS' | 'HOME' | 'MOBILE';

/** One number of a contact: as dialled in Outlook, and in E.164 under the PBX's default country (null when it cannot be read). */
export interface ContactNumber {
  kind: ContactNumberKind;
  dialled: string;
  e164: string | null;
}

/** The fields a contact carries on the PBX. */
export interface ContactFields {
  firstName: string | null;
  lastName: string | null;
  displayName: string;
  company: string | null;
  jobTitle: string | null;
  emails: string[];
  numbers: ContactNumber[];
}

/** Where a synced contact comes from in Microsoft 365. */
export interface ContactSource {
  /** The mailbox's user object id (a user's own, or a shared mailbox's). */
  mailboxId: string;
  /** The contact folder's id. */
  folderId: string;
  /** The Outlook contact's id. */
  contactId: string;
  /** Outlook's changeKey: unchanged key, unchanged contact. */
  changeKey: string | null;
}

/** A synced contact to write: its fields and where it comes from. */
export interface SyncedContactInput extends ContactFields {
  source: ContactSource;
}

/** A contact on the PBX. */
export interface ContactRecord extends ContactFields {
  id: string;
  pbxId: string;
  owner: ContactOwner;
  /** null: made by hand on the PBX (never touched by the sync). */
  source: ContactSource | null;
  /** Synced contacts carry the synced label and cannot be edited or deleted by hand (LOCKED_BY_SYNC). */
  synced: boolean;
  updatedAt: Date;
}

/** Who sees a phonebook: nobody until the admin grants it. */
export interface PhonebookVisibility {
  allExtensions: boolean;
  extensionIds: string[];
  extensionGroupIds: string[];
}

export interface PhonebookRecord {
  id: string;
  pbxId: string;
  name: string;
  /** The shared mailbox it is synced from (its user object id); null for a phonebook made by hand. */
  mailboxId: string | null;
  synced: boolean;
  visibility: PhonebookVisibility;
  createdAt: Date;
  updatedAt: Date;
}
