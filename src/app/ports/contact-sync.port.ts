import type { ContactOwner } from '../../domain/contact.types.js';
import type { ContactDeltaRecord, MailboxKind, SyncedMailbox } from '../../domain/contact-sync.planner.js';
import type { PlanSummary } from '../../domain/sync-plan.types.js';
import type { DirectoryStream } from './directory.port.js';
import type { MicrosoftError } from './microsoft.port.js';
import type { SyncRunItemData } from './sync.port.js';

/**
 * The contact sync's own ports (C1–C4), beside the contact store's (`contacts.port.ts`, which
 * this sync writes contacts through): reading Outlook contacts, the sync's cursors and tallies,
 * and the mailbox jobs a run fans out.
 */

/** A contact folder of a mailbox. */
export interface ContactFolderInfo {
  id: string;
  displayName: string;
}

/**
 * Outlook contacts read with the authorization account's delegated token (Contacts.Read.Shared).
 * Failures are `MicrosoftError`s: `ACCESS_DENIED` (403 ErrorAccessDenied: the folder or mailbox is
 * not shared with the account), `NO_MAILBOX` (404 MailboxNotEnabledForRESTAPI: the user has no
 * Exchange Online mailbox, or it is inactive or soft-deleted), `DELTA_EXPIRED` (410 Gone / syncStateNotFound: read in full),
 * `THROTTLED` (429 after the retries), `NOT_FOUND`.
 */
export interface ContactsReader {
  /**
   * The folders the sync reads of a mailbox: its default Contacts folder (well-known name
   * `contacts`), then its child folders that the account may read, in that order.
   */
  listFolders(accessToken: string, mailboxId: string): Promise<ContactFolderInfo[]>;
  /**
   * One delta round of a folder's contacts (`…/contactFolders/{id}/contacts/delta`), from
   * `deltaLink`, or from the start (every contact) when it is null. Pages of at most 200.
   */
  readFolderChanges(
    accessToken: string,
    mailboxId: string,
    folderId: string,
    deltaLink: string | null,
  ): DirectoryStream<ContactDeltaRecord>;
  /**
   * Many probes through `$batch` (20 sub-requests a request), answers in the probes' order.
   * A sub-request throttled on its own (429 with its `Retry-After`, as Outlook throttles each
   * item of a batch) is sent again once that time has passed.
   */
  probe(accessToken: string, probes: readonly FolderProbe[]): Promise<ProbeAnswer[]>;
}

/**
 * One sub-request of a run's batched probe (`$batch` of 20): a folder's stored delta link (what
 * changed since the last round) or, `deltaLink: null`, its first page of a full read (a mailbox
 * synced for the first time), a mailbox's child folders (are there new ones?), or its default
 * Contacts folder (may the account read the mailbox at all?).
 */
export type FolderProbe =
  | { kind: 'DELTA'; mailboxId: string; folderId: string; deltaLink: string | null }
  | { kind: 'FOLDERS'; mailboxId: string }
  | { kind: 'ROOT'; mailboxId: string };

/**
 * What a probe answered. DELTA: the first page of the round (`nextLink` when more pages follow,
 * `deltaLink` when the round ended with it). FOLDERS: the child folders the account may read
 * (none when Outlook refuses to list them: the account reads only folders shared with it).
 * ROOT: the default Contacts folder, as the one folder of `folders`.
 * A failure (`ACCESS_DENIED`, `NOT_FOUND`, `DELTA_EXPIRED`, `THROTTLED` after the retries, ...)
 * is the probe's own; the other probes of the batch are not affected.
 */
export type ProbeAnswer =
  | {
      ok: true;
      records: ContactDeltaRecord[];
      folders: ContactFolderInfo[];
      nextLink: string | null;
      deltaLink: string | null;
    }
  | { ok: false; error: MicrosoftError };

/** Where the sync stands with one folder of one mailbox. */
export interface ContactFolderCursor {
  mailboxId: string;
  folderId: string;
  kind: MailboxKind;
  owner: ContactOwner;
  /** null: no round finished yet (the next one reads in full). */
  deltaLink: string | null;
  /**
   * When the cursor was last written: by a round of the folder (its mailbox's folders listed or
   * probed in the same run) or by a folder check of the run's probe (`touchFolders`).
   */
  updatedAt?: Date;
}

/** What a run did to contacts, summed over its mailboxes (U8-style counts). */
export type ContactTally = Pick<PlanSummary, 'create' | 'update' | 'delete' | 'skip' | 'fail'>;

/** One report row of the contact sync (scope CONTACT: a contact or a mailbox). */
export type ContactItemRow = Omit<SyncRunItemData, 'id' | 'runId' | 'seq' | 'scope'>;

/** The contact sync's state in the store (folder cursors, per-run tallies). Bounded per call. */
export interface ContactSyncLedger {
  /**
   * The caller's transaction commits without waiting for the database's disk flush (PostgreSQL
   * `SET LOCAL synchronous_commit = off`; SQLite already runs so, `synchronous = NORMAL` in WAL
   * mode). A crash of the database server may then undo the last commits, never part of one: a
   * mailbox page's contacts, tally and folder cursor go back together, and the next run reads
   * the folder again from the cursor that stayed (as after a worker killed mid-sync).
   */
  commitWithoutFlush(): Promise<void>;
  /** Mailboxes with synced contacts, from the cursors (one row per mailbox and owner). */
  syncedMailboxes(pbxId: string): Promise<SyncedMailbox[]>;
  folderCursors(pbxId: string, mailboxId: string): Promise<ContactFolderCursor[]>;
  /** The cursors of several mailboxes (a run's probe takes them a slice at a time), by mailbox. */
  folderCursorsOf(pbxId: string, mailboxIds: readonly string[]): Promise<ContactFolderCursor[]>;
  /**
   * Stores the delta links a probe brought back for folders that did not change, and marks their
   * folders as checked now (`updatedAt`), in bounded statements.
   */
  touchFolders(
    pbxId: string,
    folders: ReadonlyArray<{ mailboxId: string; folderId: string; deltaLink: string }>,
  ): Promise<void>;
  /** Inserts or replaces the cursor of (mailbox, folder). */
  saveFolderCursor(pbxId: string, cursor: ContactFolderCursor): Promise<void>;
  /** Forgets the cursors of a mailbox (all, or those of one owner), except `keepFolderIds`. */
  forgetFolders(
    pbxId: string,
    mailboxId: string,
    keepFolderIds: readonly string[],
    owner?: ContactOwner,
  ): Promise<void>;
  /**
   * Adds to the run's tally of a mailbox and records report rows, in the caller's transaction
   * (rows numbered after the run's last, under the PBX lock the caller holds when it adds rows).
   * A run reports an object once per action and reason: a row the run already holds (a page
   * replayed after a worker died, a contact Graph sent twice) is left out, and so is its share
   * of `tally.skip` (SKIP rows) or `tally.fail` (FAIL rows). Resolves with the rows of `rows` added.
   * `summary`: one row more, made from the mailbox's whole tally once this call's share is in
   * (the mailbox's report row, written with its last page: no second call, and no second
   * stretch of the transaction under the PBX lock, for it).
   */
  record(
    pbxId: string,
    runId: string,
    mailboxId: string,
    tally: Partial<ContactTally>,
    rows: readonly ContactItemRow[],
    summary?: (mailboxTally: ContactTally) => ContactItemRow,
  ): Promise<number>;
  /** The run's tally, over every mailbox, or of one mailbox. */
  runTally(runId: string, mailboxId?: string): Promise<ContactTally>;
}

/** One mailbox job of a run. */
export interface MailboxJobSpec {
  mailboxId: string;
  /** How the run's report names the mailbox: the user's (or shared mailbox's) display name and address. */
  mailboxName?: string;
  mailboxAddress?: string | null;
  kind: MailboxKind;
  /** PERSONAL: the extension's id. SHARED: null (the job ensures the phonebook). */
  extensionId: string | null;
  phonebookName: string | null;
}

/** A mailbox job that failed for good. */
export interface MailboxJobFailure {
  mailboxId: string;
  error: string;
}

/**
 * The run's mailbox jobs (one BullMQ job per mailbox, children of the run's job): queued, then
 * waited for until every one has finished. Resolves with those that failed for good; rejects
 * when `signal` aborts (the run's worker lost the job: the next attempt waits again).
 */
export interface MailboxJobs {
  runAll(
    pbxId: string,
    runId: string,
    mailboxes: readonly MailboxJobSpec[],
    onProgress: (finished: number) => void,
    signal?: AbortSignal,
  ): Promise<MailboxJobFailure[]>;
}
