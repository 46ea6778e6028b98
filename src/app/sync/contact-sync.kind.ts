import type { ContactOwner } from '../../domain/contact.types.js';
import {
  type MailboxPlanItem,
  mailboxChangeSteps,
  type SyncedMailbox,
} from '../../domain/contact-sync.planner.js';
import type { PbxExtension } from '../../domain/pbx.types.js';
import type { MailboxJobFailure, MailboxJobSpec, MailboxJobs } from '../ports/contact-sync.port.js';
import type { Store } from '../ports/store.port.js';
import type { SyncRunItemData } from '../ports/sync.port.js';
import { type MailboxSyncDeps, syncMailbox } from './contact-mailbox.js';
import type { BatchContext, SyncKind } from './sync-kind.js';

/**
 * Outlook contacts (C1–C4) as a kind of the run pipeline. PLAN: which mailboxes the run syncs
 * and which owners lose their synced contacts (pure, from the directory snapshot). APPLY in
 * batches: those drops. FAN OUT: one job per mailbox to sync (`MailboxJobs`), waited for; a
 * mailbox job that fails for good is reported as a FAIL row of the run.
 */
export interface ContactSyncCurrent {
  extensions: PbxExtension[];
  synced: SyncedMailbox[];
}

const ownerKey = (o: ContactOwner | null) =>
  o === null ? null : o.kind === 'EXTENSION' ? o.extensionId : o.phonebookId;

/** The report row of a mailbox item. */
export function mailboxItemRow(
  item: MailboxPlanItem,
  seq: number,
  state: SyncRunItemData['state'],
  _createdId?: string,
) {
  return {
    seq,
    scope: 'CONTACT' as const,
    action: item.action,
    reason: item.reason,
    objectId: item.mailboxId,
    objectName: item.name,
    objectSecondary: item.address,
    number: null,
    targetId: ownerKey(item.owner),
    detail: item.detail,
    changes: null,
    state,
  };
}

/** Takes away the synced contacts of an owner no longer synced (a phonebook with them), and its cursors. */
async function dropMailbox(tx: Store, at: BatchContext, item: MailboxPlanItem): Promise<number> {
  if (!item.owner) return 0;
  const contacts = tx.contacts;
  const removed =
    item.owner.kind === 'PHONEBOOK'
      ? await contacts.deleteSyncedPhonebook(at.pbxId, item.owner.phonebookId)
      : await contacts.deleteSyncedExcept(at.pbxId, item.owner, []);
  await tx.contactSync.forgetFolders(at.pbxId, item.mailboxId, [], item.owner);
  await tx.contactSync.record(at.pbxId, at.runId, item.mailboxId, { delete: removed }, []);
  return removed;
}

export function mailboxJobSpec(item: MailboxPlanItem): MailboxJobSpec {
  return {
    mailboxId: item.mailboxId,
    mailboxName: item.name,
    mailboxAddress: item.address,
    kind: item.kind,
    extensionId: item.owner?.kind === 'EXTENSION' ? item.owner.extensionId : null,
    phonebookName: item.phonebookName,
  };
}

/** The FAIL row of a mailbox job that failed for good. */
export function failedMailboxRow(item: MailboxPlanItem, failure: MailboxJobFailure, seq: number) {
  return {
    ...mailboxItemRow(item, seq, 'REPORTED'),
    action: 'FAIL' as const,
    reason: 'MAILBOX_JOB_FAILED',
    detail: `The mailbox job failed after its retries: ${failure.error}`.slice(0, 1000),
  };
}

export const contactSyncKind: SyncKind<MailboxPlanItem, ContactSyncCurrent> = {
  scope: 'CONTACTS',
  itemScope: 'CONTACT',
  hasRule: (settings) => Boolean(settings.contactRule),
  async loadCurrent(store, pbxId) {
    const [extensions, cursors, phonebooks] = await Promise.all([
      store.directory.listExtensions(pbxId),
      store.contactSync.syncedMailboxes(pbxId),
      store.contacts.listPhonebooks(pbxId),
    ]);
    const synced = [...cursors];
    for (const book of phonebooks) {
      if (!book.synced || !book.mailboxId) continue;
      const owner = { kind: 'PHONEBOOK' as const, phonebookId: book.id };
      if (!synced.some((m) => m.owner.kind === 'PHONEBOOK' && m.owner.phonebookId === book.id))
        synced.push({ mailboxId: book.mailboxId, kind: 'SHARED', owner });
    }
    return { extensions, synced };
  },
  plan(directory, current, settings, now) {
    if (!settings.contactRule) throw new Error('Contact sync has no rule');
    return mailboxChangeSteps({
      directory,
      extensions: current.extensions,
      synced: current.synced,
      rule: settings.contactRule,
      now,
    });
  },
  // No deletion guard: contacts are re-read from Outlook at the next run, nothing is lost for good.
  guard: (plan) => plan,
  async applyBatch(tx, at, batch) {
    for (const item of batch) if (item.action === 'DELETE') await dropMailbox(tx, at, item);
    return new Map();
  },
  objectId: (item) => item.mailboxId,
  itemRow: mailboxItemRow,
  fansOut: (item) => item.action === 'CREATE' || item.action === 'UPDATE',
};

/**
 * Mailboxes synced in the run's own process, one after another (no queue at hand: a run
 * called directly). A mailbox that fails is reported like a job that failed for good.
 */
export function inlineMailboxJobs(deps: MailboxSyncDeps): MailboxJobs {
  return {
    async runAll(pbxId, runId, mailboxes, onProgress, signal) {
      const failures: MailboxJobFailure[] = [];
      let finished = 0;
      for (const m of mailboxes) {
        if (signal?.aborted) throw new Error(String(signal.reason ?? 'aborted'));
        try {
          await syncMailbox(deps, { pbxId, runId, ...m }, signal);
        } catch (err) {
          failures.push({ mailboxId: m.mailboxId, error: err instanceof Error ? err.message : String(err) });
        }
        onProgress(++finished);
      }
      return failures;
    },
  };
}

/** Pause with delete (C1–C4): every synced contact of the PBX goes, with the synced phonebooks and the cursors. */
export async function dropAllSyncedContacts(tx: Store, pbxId: string): Promise<number> {
  const contacts = tx.contacts;
  let removed = 0;
  for (const m of await tx.contactSync.syncedMailboxes(pbxId)) {
    if (m.owner.kind === 'EXTENSION') removed += await contacts.deleteSyncedExcept(pbxId, m.owner, []);
    await tx.contactSync.forgetFolders(pbxId, m.mailboxId, []);
  }
  for (const book of await contacts.listPhonebooks(pbxId))
    if (book.synced) removed += await contacts.deleteSyncedPhonebook(pbxId, book.id);
  return removed;
}
