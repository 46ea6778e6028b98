import type {
  ContactOwner,
  ContactRecord,
  ContactSource,
  PhonebookRecord,
  PhonebookVisibility,
  SyncedContactInput,
} from '../../domain/contact.types.js';

/**
 * The contacts of a PBX (C1–C4): written by the contact sync, read by the lookups. Every
 * method is scoped to one PBX; every list is bounded or paged (a PBX can hold 1,000,000).
 */
export interface ContactRepository {
  // ---- the contact sync's side -------------------------------------------------------------

  /**
   * What the PBX holds of one mailbox folder's synced contacts, by Outlook contact id: the
   * contact's id and the changeKey it was written with (the planner diffs against it).
   */
  syncedKeys(
    pbxId: string,
    owner: ContactOwner,
    folder: Pick<ContactSource, 'mailboxId' | 'folderId'>,
  ): Promise<Map<string, { id: string; changeKey: string | null }>>;
  /**
   * Writes synced contacts of one owner: inserts those new (by source contact id), updates
   * those known; in bounded statements, in the caller's transaction. Returns how many were written.
   */
  upsertSynced(pbxId: string, owner: ContactOwner, contacts: readonly SyncedContactInput[]): Promise<number>;
  /** Deletes synced contacts by their Outlook contact ids (one folder of one owner). */
  deleteSynced(
    pbxId: string,
    owner: ContactOwner,
    folder: Pick<ContactSource, 'mailboxId' | 'folderId'>,
    contactIds: readonly string[],
  ): Promise<number>;
  /**
   * Deletes every synced contact of an owner whose folder is not in `keepFolderIds` (a folder
   * unshared, a user no longer synced: `keepFolderIds` empty). Returns how many.
   */
  deleteSyncedExcept(pbxId: string, owner: ContactOwner, keepFolderIds: readonly string[]): Promise<number>;
  /** The phonebook synced from a shared mailbox, made (invisible to all) when it does not exist; renamed when `name` changed. */
  ensureSyncedPhonebook(pbxId: string, mailboxId: string, name: string): Promise<PhonebookRecord>;
  /** Synced phonebooks of the PBX (few: one per shared mailbox). */
  listPhonebooks(pbxId: string): Promise<PhonebookRecord[]>;
  /** Deletes a synced phonebook and its contacts (its mailbox is no longer synced). */
  deleteSyncedPhonebook(pbxId: string, phonebookId: string): Promise<number>;

  // ---- the admin's side ------------------------------------------------------------------

  savePhonebookVisibility(
    pbxId: string,
    phonebookId: string,
    visibility: PhonebookVisibility,
  ): Promise<PhonebookRecord>;
  findContact(pbxId: string, id: string): Promise<ContactRecord | null>;
}
