import type { ContactOwner, ContactSource } from '../../domain/contact.types.js';
import type { ContactDeltaRecord } from '../../domain/contact-sync.planner.js';
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
import type { DirectoryStream } from '../ports/directory.port.js';
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

/**
 * What the run's probe already holds of a mailbox (contact-probe.ts): its folders (those it has
 * cursors of, or all, listed in the probe, for a mailbox read for the first time), the first page
 * of each folder's delta round, and the token it probed with. The
 * mailbox is then synced from those pages on, without listing its folders or reading them again.
 */
export interface ProbedMailbox {
  accessToken: string;
  folders: ContactFolderInfo[];
  firstPages: ReadonlyMap<string, ProbedPage>;
}

/** The first page of a folder's delta round, as a probe read it. */
export interface ProbedPage {
  /** The delta link the page was read from (null: the folder's full read). */
  from: string | null;
  records: ContactDeltaRecord[];
  nextLink: string | null;
  deltaLink: string | null;
}

export async function syncMailbox(
  deps: MailboxSyncDeps,
  job: MailboxJob,
  signal?: AbortSignal,
  probed?: ProbedMailbox,
): Promise<{ outcome: MailboxOutcome; tally: Partial<ContactTally> }> {
  const { store, pbxId } = { store: deps.store, pbxId: job.pbxId };
  const integration = await store.integrations.get(pbxId);
  if (
    integration.status !== IntegrationStatus.CONNECTED ||
    integration.contactSyncPaused ||
    !integration.accountHomeId
  )
    return { outcome: 'SKIPPED', tally: {} };
  // One token for the whole mailbox (msal-node refreshes it from its cache when it is near its end).
  const accessToken =
    probed?.accessToken ??
    (
      await deps.identity.delegatedToken(
        appCredentials(integration, deps.secrets),
        { homeAccountId: integration.accountHomeId },
        [CONTACTS_SCOPE],
        tokenCacheOf(store, deps.secrets, pbxId),
      )
    ).accessToken;
  const owner = await mailboxOwner(store, job);
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
    folders = probed?.folders ?? (await deps.contactsReader.listFolders(accessToken, job.mailboxId));
  } catch (err) {
    if (
      !(
        err instanceof MicrosoftError &&
        (err.code === 'NO_MAILBOX' || err.code === 'ACCESS_DENIED' || err.code === 'NOT_FOUND')
      )
    )
      throw err;
    // No Exchange Online mailbox (a SKIP), or unshared / no longer a member of the shared mailbox
    // (a FAIL): what was synced of it goes, and the run says why.
    const removed = await dropUnreadable(store, job, owner, [], err);
    if (err.code === 'NO_MAILBOX') return { outcome: 'NO_MAILBOX', tally: { delete: removed } };
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
  // The mailbox's whole share of the run (a part written before a worker died included), in its
  // report row: written with the last folder's end, in the same `record` as its last page's.
  const finish: MailboxSummary = (t) => {
    const done = { create: t.create, update: t.update, delete: t.delete, skip: t.skip };
    return row(
      'UPDATE',
      'SYNCED',
      job.mailboxId,
      label.name,
      label.address,
      `${folders.length} folder(s): ${done.create} created, ${done.update} updated, ${done.delete} deleted, ${done.skip} not synced (C4).`,
      JSON.stringify(done),
    );
  };
  // The cursors of folders new to the PBX are known before (or with) the first contact written:
  // the sync can always take them away again, and a folder without a delta link gets its job at
  // the next run. They are written with the mailbox's first transaction (or, failing, at once).
  const unsaved: FolderCursorsToSave = {
    list: folders
      .filter((f) => !cursors.some((c) => c.folderId === f.id))
      .map((f) => ({ mailboxId: job.mailboxId, folderId: f.id, kind: job.kind, owner, deltaLink: null })),
  };
  try {
    for (const [n, folder] of folders.entries()) {
      aborted(signal);
      const cursor = cursors.find((c) => c.folderId === folder.id) ?? null;
      const first = probed?.firstPages.get(folder.id) ?? null;
      const last = n === folders.length - 1 ? finish : undefined;
      await syncFolder(
        deps,
        job,
        owner,
        folder,
        cursor,
        normalise,
        total,
        accessToken,
        first,
        unsaved,
        signal,
        last,
      );
    }
  } catch (err) {
    if (unsaved.list.length)
      await store
        .transactional((tx) => saveUnsaved(tx, pbxId, unsaved))
        .then(() => {
          unsaved.list = [];
        })
        // Swallowed: the error thrown below is the one to report.
        .catch(() => undefined);
    throw err;
  }
  if (!folders.length)
    await store.transactional((tx) => tx.contactSync.record(pbxId, job.runId, job.mailboxId, {}, [], finish));
  return { outcome: 'SYNCED', tally: total };
}

/** The mailbox's report row, from its whole tally in the run. */
type MailboxSummary = (mailboxTally: ContactTally) => ContactItemRow;

async function syncFolder(
  deps: MailboxSyncDeps,
  job: MailboxJob,
  owner: ContactOwner,
  folder: ContactFolderInfo,
  cursor: ContactFolderCursor | null,
  normalise: NormalisePhone,
  total: { create: number; update: number; delete: number; skip: number },
  accessToken: string,
  first: ProbedPage | null,
  unsaved: FolderCursorsToSave,
  signal?: AbortSignal,
  finish?: MailboxSummary,
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
  let link = cursor?.deltaLink ?? null;
  // The probe's first page, when the run probed this folder from its stored link (or read it from the start).
  let probedPage = first && first.from === link ? first : null;
  for (;;) {
    const known = new Map(await store.contacts.syncedKeys(pbxId, owner, ref));
    const seen = link === null ? new Set<string>() : null;
    try {
      const stream = probedPage
        ? continueFrom(deps, accessToken, job.mailboxId, folder.id, probedPage)
        : deps.contactsReader.readFolderChanges(accessToken, job.mailboxId, folder.id, link);
      probedPage = null;
      // One page read ahead: the round's last page commits with the folder's new delta link (and
      // the mailbox's report row), so a folder of one page is one transaction.
      const pages = stream.pages[Symbol.asyncIterator]();
      let page = await pages.next();
      let last = false;
      while (!page.done) {
        aborted(signal);
        const records = page.value;
        const plan = planContactPage({ folder: ref, records, known, normalise });
        if (seen) for (const r of records) if (r.kind === 'CHANGED') seen.add(r.contact.id);
        for (const c of [...plan.creates, ...plan.updates])
          known.set(c.source.contactId, {
            id: known.get(c.source.contactId)?.id ?? '',
            changeKey: c.source.changeKey,
          });
        for (const id of plan.deletes) known.delete(id);
        const next = await pages.next();
        last = Boolean(next.done);
        const work = plan.creates.length + plan.updates.length + plan.deletes.length + plan.skipped.length;
        // The page's contacts, then (the round's last page) what the round did not see and the new
        // delta link, then the report rows and tally in one `record`, last: on PostgreSQL it takes
        // the PBX's lock, held to the commit.
        const reported =
          work || last
            ? await store.transactional(async (tx) => {
                // Replayable from the folder's stored cursor, which commits with it: no flush waited for.
                await tx.contactSync.commitWithoutFlush();
                await saveUnsaved(tx, pbxId, unsaved);
                await writePage(tx, job, owner, ref, plan);
                const gone = last ? await endRound(tx, stream.deltaLink()) : 0;
                const report = pageReport(job, plan, folder);
                return tx.contactSync.record(
                  pbxId,
                  job.runId,
                  job.mailboxId,
                  { ...report.tally, delete: report.tally.delete + gone },
                  report.rows,
                  last ? finish : undefined,
                );
              })
            : 0;
        if (work || last) unsaved.list = [];
        total.create += plan.creates.length;
        total.update += plan.updates.length;
        total.delete += plan.deletes.length;
        total.skip += reported;
        page = next;
      }
      // A round of no page at all ends on its own.
      if (!last)
        await store.transactional(async (tx) => {
          await saveUnsaved(tx, pbxId, unsaved);
          const gone = await endRound(tx, stream.deltaLink());
          if (gone || finish)
            await tx.contactSync.record(pbxId, job.runId, job.mailboxId, { delete: gone }, [], finish);
        });
      unsaved.list = [];
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

    /**
     * The round's end: contacts not seen in a full read go, then the new link is stored (every
     * contact of the round is committed with it or before). Resolves with how many went (the
     * caller records them, with the mailbox's report row when this is its last folder).
     */
    async function endRound(tx: Store, deltaLink: string): Promise<number> {
      const gone = seen ? unseenContacts(known, seen) : [];
      if (gone.length) await tx.contacts.deleteSynced(pbxId, owner, ref, gone);
      await tx.contactSync.saveFolderCursor(pbxId, { ...base, deltaLink });
      total.delete += gone.length;
      return gone.length;
    }
  }
}

/** Folder cursors (without a delta link) still to write, in the mailbox's first transaction (emptied once it commits). */
interface FolderCursorsToSave {
  list: ContactFolderCursor[];
}

async function saveUnsaved(tx: Store, pbxId: string, unsaved: FolderCursorsToSave) {
  for (const c of unsaved.list) await tx.contactSync.saveFolderCursor(pbxId, c);
}

/** A delta round that starts with a page the probe read: that page, then the pages after it. */
function continueFrom(
  deps: MailboxSyncDeps,
  accessToken: string,
  mailboxId: string,
  folderId: string,
  page: ProbedPage,
): DirectoryStream<ContactDeltaRecord> {
  const rest = page.nextLink
    ? deps.contactsReader.readFolderChanges(accessToken, mailboxId, folderId, page.nextLink)
    : null;
  async function* pages() {
    yield page.records;
    if (rest) yield* rest.pages;
  }
  return {
    pages: pages(),
    deltaLink: () => {
      if (rest) return rest.deltaLink();
      if (!page.deltaLink) throw new Error('the probed page has neither a nextLink nor a deltaLink');
      return page.deltaLink;
    },
  };
}

/** The PBX owner of a mailbox's synced contacts: the user's extension, or the shared mailbox's phonebook (made when new). */
export async function mailboxOwner(store: Store, job: MailboxJob): Promise<ContactOwner> {
  if (job.kind === 'PERSONAL') {
    if (!job.extensionId) throw new Error(`Mailbox job ${job.mailboxId} has no extension`);
    return { kind: 'EXTENSION', extensionId: job.extensionId };
  }
  const book = await store.contacts.ensureSyncedPhonebook(
    job.pbxId,
    job.mailboxId,
    job.phonebookName ?? 'Shared contacts',
  );
  return { kind: 'PHONEBOOK', phonebookId: book.id };
}

/**
 * The account may no longer read the mailbox (or some of its folders: 403 ErrorAccessDenied,
 * 404): the synced contacts of every folder of the owner not in `keepFolderIds` go, with their
 * cursors, and the run gets a FAIL row saying why. Returns how many contacts went.
 */
export async function dropUnreadable(
  store: Store,
  job: MailboxJob,
  owner: ContactOwner,
  keepFolderIds: readonly string[],
  err: MicrosoftError,
): Promise<number> {
  const { pbxId } = job;
  return store.transactional(async (tx) => {
    const n = await tx.contacts.deleteSyncedExcept(pbxId, owner, keepFolderIds);
    await tx.contactSync.forgetFolders(pbxId, job.mailboxId, keepFolderIds, owner);
    const report = unreadableReport(job, err, n);
    await tx.contactSync.record(pbxId, job.runId, job.mailboxId, report.tally, [report.row]);
    return n;
  });
}

/**
 * The tally and report row of a mailbox (or folder) the account cannot read; `removed` synced
 * contacts went with it. No Exchange Online mailbox (an unlicensed user, a mailbox made inactive):
 * nothing to sync and nothing the admin must fix for the run, so a SKIP row, not a failure.
 */
export function unreadableReport(
  job: MailboxJob,
  err: MicrosoftError,
  removed: number,
): { tally: Partial<ContactTally>; row: ContactItemRow } {
  const label = mailboxLabel(job);
  if (err.code === 'NO_MAILBOX')
    return {
      tally: { delete: removed },
      row: row(
        'SKIP',
        'NO_MAILBOX',
        job.mailboxId,
        label.name,
        label.address,
        `${label.text} has no Exchange Online mailbox (no licence, or the mailbox is inactive, soft-deleted or on-premises): it has no contacts to sync${removed ? `; ${removed} synced contact(s) removed` : ''}. (${err.message})`,
      ),
    };
  const why =
    job.kind === 'PERSONAL'
      ? "The user's contacts folder is not shared with the authorization account"
      : 'The authorization account is not a member of this shared mailbox';
  return {
    tally: { delete: removed, fail: 1 },
    row: row(
      'FAIL',
      'ACCESS_DENIED',
      job.mailboxId,
      label.name,
      label.address,
      `${why} (${err.message}); ${removed} synced contact(s) removed.`,
    ),
  };
}

/** One page's contacts, in the caller's transaction (its report rows and tally follow: `pageReport`). */
async function writePage(
  tx: Store,
  job: MailboxJob,
  owner: ContactOwner,
  ref: Pick<ContactSource, 'mailboxId' | 'folderId'>,
  plan: ContactPagePlan,
) {
  const writes = [...plan.creates, ...plan.updates];
  if (writes.length) await tx.contacts.upsertSynced(job.pbxId, owner, writes);
  if (plan.deletes.length) await tx.contacts.deleteSynced(job.pbxId, owner, ref, plan.deletes);
}

/**
 * One page's tally and C4 report rows, recorded in the transaction that wrote its contacts (a
 * contact the run reported already, on a page replayed after a worker died, is not reported or
 * counted again: `record` leaves it out).
 */
function pageReport(
  job: MailboxJob,
  plan: ContactPagePlan,
  folder: ContactFolderInfo,
): { tally: { create: number; update: number; delete: number; skip: number }; rows: ContactItemRow[] } {
  // Where the admin finds the contact to complete it: the folder, in whose mailbox.
  const label = mailboxLabel(job);
  const where = `In the folder "${folder.displayName || 'Contacts'}" of ${label.text}.`;
  return {
    tally: {
      create: plan.creates.length,
      update: plan.updates.length,
      delete: plan.deletes.length,
      skip: plan.skipped.length,
    },
    rows: plan.skipped.map((s) =>
      row(
        'SKIP',
        s.reason,
        s.contactId,
        s.name,
        label.address,
        `${s.detail} ${where}${s.removed ? ' It was removed from the PBX.' : ''}`,
      ),
    ),
  };
}
