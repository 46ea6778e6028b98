import type { ContactOwner, ContactSource } from '../../domain/contact.types.js';
import {
  type ContactPagePlan,
  type MailboxKind,
  type NormalisePhone,
  planContactPage,
  unseenContacts,
} from '../../domain/contact-sync.planner.js';
import { IntegrationStatus } from '../../domain/integration.js';
import { toE164 } from '../../domain/phone-number.js';
import { appCredentials, tokenCacheOf } from '../integration.js';
import type {
  ContactFolderCursor,
  ContactFolderInfo,
  ContactItemRow,
  ContactsReader,
  ContactTally,
} from '../ports/contact-sync.port.js';
import type { AppLog } from '../ports/log.port.js';
import { MicrosoftError, type MicrosoftIdentity } from '../ports/microsoft.port.js';
import type { Store } from '../ports/store.port.js';
import type { SecretBox } from '../secret-box.js';

/**
 * One mailbox of a contact sync run (C1–C4), the work of one mailbox job: read each folder
 * (a delta round from its stored link, or in full), plan each page against what the PBX holds
 * (pure), write it in one transaction with its report rows and tally, and store the folder's
 * new delta link only after its last page is committed. A job killed anywhere and run again
 * replays the round from the old link: upserts are keyed by the Outlook contact id and an
 * unchanged changeKey plans nothing, so there is no duplicate and no gap.
 */

/** The delegated scope the mailbox reads need (C2, C3): folders shared with the account, and shared mailboxes it is a member of. */
export const CONTACTS_SCOPE = 'https://graph.microsoft.com/Contacts.Read.Shared';

export interface MailboxSyncDeps {
  store: Store;
  contactsReader: ContactsReader;
  identity: MicrosoftIdentity;
  secrets: SecretBox;
  now: () => Date;
  log: AppLog;
}

export interface MailboxJob {
  pbxId: string;
  runId: string;
  mailboxId: string;
  /** The user's (or shared mailbox's) display name and address, for the run's report. */
  mailboxName?: string;
  mailboxAddress?: string | null;
  kind: MailboxKind;
  extensionId: string | null;
  phonebookName: string | null;
}

export type MailboxOutcome = 'SYNCED' | 'ACCESS_DENIED' | 'NO_MAILBOX' | 'SKIPPED';

/** The mailbox as the report names it: display name and address (its id when the job does not know them). */
function mailboxLabel(job: MailboxJob): { name: string; address: string | null; text: string } {
  const name = job.mailboxName || job.mailboxId;
  const address = job.mailboxAddress ?? null;
  return { name, address, text: address && address !== name ? `${name} <${address}>` : name };
}

/** A run's report row for one contact C4 kept out, or for a mailbox. */
function row(
  action: ContactItemRow['action'],
  reason: string,
  objectId: string,
  objectName: string,
  objectSecondary: string | null,
  detail: string | null,
  changes: string | null = null,
): ContactItemRow {
  return {
    action,
    reason,
    objectId,
    objectName,
    objectSecondary,
    number: null,
    targetId: null,
    detail,
    changes,
    state: action === 'SKIP' || action === 'FAIL' ? 'REPORTED' : 'APPLIED',
  };
}

function aborted(signal?: AbortSignal) {
  if (signal?.aborted) throw new Error(`Stopped: ${String(signal.reason ?? 'the job was lost')}`);
}

export async function syncMailbox(
  deps: MailboxSyncDeps,
  job: MailboxJob,
  signal?: AbortSignal,
): Promise<{ outcome: MailboxOutcome; tally: Partial<ContactTally> }> {
  const { store, pbxId } = { store: deps.store, pbxId: job.pbxId };
  const integration = await store.integrations.get(pbxId);
  if (
    integration.status !== IntegrationStatus.CONNECTED ||
    integration.contactSyncPaused ||
    !integration.accountHomeId
  )
    return { outcome: 'SKIPPED', tally: {} };
  const app = appCredentials(integration, deps.secrets);
  const { accessToken } = await deps.identity.delegatedToken(
    app,
    { homeAccountId: integration.accountHomeId },
    [CONTACTS_SCOPE],
    tokenCacheOf(store, deps.secrets, pbxId),
  );
  const contacts = store.contacts;
  let owner: ContactOwner;
  if (job.kind === 'PERSONAL') {
    if (!job.extensionId) throw new Error(`Mailbox job ${job.mailboxId} has no extension`);
    owner = { kind: 'EXTENSION', extensionId: job.extensionId };
  } else {
    const book = await contacts.ensureSyncedPhonebook(
      pbxId,
      job.mailboxId,
      job.phonebookName ?? 'Shared contacts',
    );
    owner = { kind: 'PHONEBOOK', phonebookId: book.id };
  }
  const pbx = await store.tenants.findPbx(pbxId);
  const country = pbx?.defaultCountry ?? 'US';
  const normalise: NormalisePhone = (dialled) => toE164(dialled, country);
  const total = {
    create: 0,
    update: 0,
    delete: 0,
    skip: 0,
  };

  const label = mailboxLabel(job);
  let folders: ContactFolderInfo[];
  try {
    folders = await deps.contactsReader.listFolders(accessToken, job.mailboxId);
  } catch (err) {
    if (err instanceof MicrosoftError && err.code === 'NO_MAILBOX') {
      // No Exchange Online mailbox (an unlicensed user, a mailbox made inactive): nothing to
      // sync and nothing the admin must fix for the run, so a SKIP row, not a failure. What
      // was synced of it before goes, as when a folder is unshared.
      const removed = await store.transactional(async (tx) => {
        const n = await tx.contacts.deleteSyncedExcept(pbxId, owner, []);
        await tx.contactSync.forgetFolders(pbxId, job.mailboxId, [], owner);
        await tx.contactSync.record(pbxId, job.runId, job.mailboxId, { delete: n }, [
          row(
            'SKIP',
            'NO_MAILBOX',
            job.mailboxId,
            label.name,
            label.address,
            `${label.text} has no Exchange Online mailbox (no licence, or the mailbox is inactive, soft-deleted or on-premises): it has no contacts to sync${n ? `; ${n} synced contact(s) removed` : ''}. (${err.message})`,
          ),
        ]);
        return n;
      });
      return { outcome: 'NO_MAILBOX', tally: { delete: removed } };
    }
    if (!(err instanceof MicrosoftError && (err.code === 'ACCESS_DENIED' || err.code === 'NOT_FOUND')))
      throw err;
    // Unshared (or no longer a member of the shared mailbox): its contacts go, and the run says why.
    const removed = await store.transactional(async (tx) => {
      const n = await tx.contacts.deleteSyncedExcept(pbxId, owner, []);
      await tx.contactSync.forgetFolders(pbxId, job.mailboxId, [], owner);
      const why =
        job.kind === 'PERSONAL'
          ? "The user's contacts folder is not shared with the authorization account"
          : 'The authorization account is not a member of this shared mailbox';
      await tx.contactSync.record(pbxId, job.runId, job.mailboxId, { delete: n, fail: 1 }, [
        row(
          'FAIL',
          'ACCESS_DENIED',
          job.mailboxId,
          label.name,
          label.address,
          `${why} (${err.message}); ${n} synced contact(s) removed.`,
        ),
      ]);
      return n;
    });
    return { outcome: 'ACCESS_DENIED', tally: { delete: removed, fail: 1 } };
  }

  // Folders no longer readable (unshared, deleted) take their contacts along.
  const cursors = (await store.contactSync.folderCursors(pbxId, job.mailboxId)).filter(
    (c) =>
      c.owner.kind === owner.kind &&
      (c.owner.kind === 'EXTENSION'
        ? c.owner.extensionId === (owner as { extensionId: string }).extensionId
        : c.owner.phonebookId === (owner as { phonebookId: string }).phonebookId),
  );
  const keep = folders.map((f) => f.id);
  if (cursors.some((c) => !keep.includes(c.folderId))) {
    const n = await store.transactional(async (tx) => {
      const removed = await tx.contacts.deleteSyncedExcept(pbxId, owner, keep);
      await tx.contactSync.forgetFolders(pbxId, job.mailboxId, keep, owner);
      await tx.contactSync.record(pbxId, job.runId, job.mailboxId, { delete: removed }, []);
      return removed;
    });
    total.delete += n;
  }
  for (const folder of folders) {
    aborted(signal);
    const cursor = cursors.find((c) => c.folderId === folder.id) ?? null;
    await syncFolder(deps, job, owner, folder, cursor, normalise, total, signal);
  }
  // The mailbox's whole share of the run, a part written before a worker died included.
  const t = await store.contactSync.runTally(job.runId, job.mailboxId);
  const done = { create: t.create, update: t.update, delete: t.delete, skip: t.skip };
  await store.contactSync.record(pbxId, job.runId, job.mailboxId, {}, [
    row(
      job.kind === 'PERSONAL' ? 'UPDATE' : 'UPDATE',
      'SYNCED',
      job.mailboxId,
      label.name,
      label.address,
      `${folders.length} folder(s): ${done.create} created, ${done.update} updated, ${done.delete} deleted, ${done.skip} not synced (C4).`,
      JSON.stringify(done),
    ),
  ]);
  return { outcome: 'SYNCED', tally: total };
}

async function syncFolder(
  deps: MailboxSyncDeps,
  job: MailboxJob,
  owner: ContactOwner,
  folder: ContactFolderInfo,
  cursor: ContactFolderCursor | null,
  normalise: NormalisePhone,
  total: { create: number; update: number; delete: number; skip: number },
  signal?: AbortSignal,
) {
  const { store } = deps;
  const { pbxId } = job;
  const ref: Pick<ContactSource, 'mailboxId' | 'folderId'> = {
    mailboxId: job.mailboxId,
    folderId: folder.id,
  };
  const base: ContactFolderCursor = {
    mailboxId: job.mailboxId,
    folderId: folder.id,
    kind: job.kind,
    owner,
    deltaLink: null,
  };
  // Known before any contact of the folder is written: the sync can always take them away again.
  if (!cursor) await store.contactSync.saveFolderCursor(pbxId, base);
  let link = cursor?.deltaLink ?? null;
  for (;;) {
    const known = new Map(await store.contacts.syncedKeys(pbxId, owner, ref));
    const seen = link === null ? new Set<string>() : null;
    try {
      const stream = deps.contactsReader.readFolderChanges(
        (await tokenFor(deps, pbxId)) ?? '',
        job.mailboxId,
        folder.id,
        link,
      );
      for await (const records of stream.pages) {
        aborted(signal);
        const plan = planContactPage({ folder: ref, records, known, normalise });
        if (seen) for (const r of records) if (r.kind === 'CHANGED') seen.add(r.contact.id);
        const reported = await commitPage(store, job, owner, ref, plan, folder);
        total.create += plan.creates.length;
        total.update += plan.updates.length;
        total.delete += plan.deletes.length;
        total.skip += reported;
        for (const c of [...plan.creates, ...plan.updates])
          known.set(c.source.contactId, {
            id: known.get(c.source.contactId)?.id ?? '',
            changeKey: c.source.changeKey,
          });
        for (const id of plan.deletes) known.delete(id);
      }
      const deltaLink = stream.deltaLink();
      const gone = seen ? unseenContacts(known, seen) : [];
      // The new link is stored only now that every contact of the round is committed.
      await store.transactional(async (tx) => {
        if (gone.length) {
          await tx.contacts.deleteSynced(pbxId, owner, ref, gone);
          await tx.contactSync.record(pbxId, job.runId, job.mailboxId, { delete: gone.length }, []);
        }
        await tx.contactSync.saveFolderCursor(pbxId, { ...base, deltaLink });
      });
      total.delete += gone.length;
      return;
    } catch (err) {
      if (err instanceof MicrosoftError && err.code === 'DELTA_EXPIRED' && link !== null) {
        deps.log('info', 'contact delta link expired: reading the folder in full', {
          pbxId,
          mailboxId: job.mailboxId,
        });
        link = null;
        continue;
      }
      throw err;
    }
  }
}

/** A delegated token, from the cache (refreshed as needed) each round: a mailbox may outlive one token. */
async function tokenFor(deps: MailboxSyncDeps, pbxId: string): Promise<string | null> {
  const integration = await deps.store.integrations.get(pbxId);
  if (!integration.accountHomeId) return null;
  const { accessToken } = await deps.identity.delegatedToken(
    appCredentials(integration, deps.secrets),
    { homeAccountId: integration.accountHomeId },
    [CONTACTS_SCOPE],
    tokenCacheOf(deps.store, deps.secrets, pbxId),
  );
  return accessToken;
}

/**
 * One page in one transaction: the contacts, the C4 report rows and the tally commit together.
 * Resolves with the C4 rows added (a contact the run reported already, on a page replayed after
 * a worker died, is not reported or counted again).
 */
async function commitPage(
  store: Store,
  job: MailboxJob,
  owner: ContactOwner,
  ref: Pick<ContactSource, 'mailboxId' | 'folderId'>,
  plan: ContactPagePlan,
  folder: ContactFolderInfo,
): Promise<number> {
  const writes = [...plan.creates, ...plan.updates];
  if (!writes.length && !plan.deletes.length && !plan.skipped.length) return 0;
  // Where the admin finds the contact to complete it: the folder, in whose mailbox.
  const label = mailboxLabel(job);
  const where = `In the folder "${folder.displayName || 'Contacts'}" of ${label.text}.`;
  return store.transactional(async (tx) => {
    const contacts = tx.contacts;
    if (writes.length) await contacts.upsertSynced(job.pbxId, owner, writes);
    if (plan.deletes.length) await contacts.deleteSynced(job.pbxId, owner, ref, plan.deletes);
    return tx.contactSync.record(
      job.pbxId,
      job.runId,
      job.mailboxId,
      {
        create: plan.creates.length,
        update: plan.updates.length,
        delete: plan.deletes.length,
        skip: plan.skipped.length,
      },
      plan.skipped.map((s) =>
        row(
          'SKIP',
          s.reason,
          s.contactId,
          s.name,
          label.address,
          `${s.detail} ${where}${s.removed ? ' It was removed from the PBX.' : ''}`,
        ),
      ),
    );
  });
}
