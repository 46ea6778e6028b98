import type { ContactRecord } from './contact.types.js';

/**
 * What may be done by hand to a contact (C1, C3): a synced contact carries the Microsoft 365
 * label and is read-only, like a synced extension's locked fields (extension-rules.ts): it
 * cannot be edited or deleted by hand (LOCKED_BY_SYNC); the contact sync alone changes it.
 */
export function contactLockedBySync(contact: Pick<ContactRecord, 'synced'>): boolean {
  return contact.synced;
}
