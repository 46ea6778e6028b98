import type { ContactOwner } from '../../domain/contact.types.js';
import type { MailboxPlanItem } from '../../domain/contact-sync.planner.js';
import { IntegrationStatus } from '../../domain/integration.js';
import { appCredentials, tokenCacheOf } from '../integration.js';
import type {
  ContactFolderCursor,
  ContactFolderInfo,
  FolderProbe,
  ProbeAnswer,
} from '../ports/contact-sync.port.js';
import type { MicrosoftError } from '../ports/microsoft.port.js';
import {
  CONTACTS_SCOPE,
  dropUnreadable,
  type MailboxJob,
  type MailboxSyncDeps,
  mailboxOwner,
  type ProbedPage,
  syncMailbox,
  unreadableReport,
} from './contact-mailbox.js';

/**
 * The run's probe of the mailboxes it synced before (C1–C3), so that a run in which little
 * changed costs about one Graph sub-request per mailbox, 20 to a `$batch`
 * (https://learn.microsoft.com/graph/json-batching), instead of a job and three requests per
 * mailbox: 10,005 mailboxes are ⌈10,005 / 20⌉ = 501 requests.
 *
 * For every mailbox whose folders all have a stored delta link, each folder's link is sent as
 * one sub-request (`DELTA` probe). Then, per mailbox:
 * - every folder answered an empty page with a new delta link: nothing changed, no job;
 * - a folder answered 403 ErrorAccessDenied / 404 (unshared, deleted, the account no longer a
 *   member of the shared mailbox): that folder's synced contacts go now, with a FAIL row saying
 *   why (C2, C3), and the mailbox's other folders go on;
 * - a folder answered changes: the mailbox is synced here, in the run, starting from the pages
 *   the probe read (they are used, not read again), then from their nextLinks;
 * - anything else (the delta link expired, throttled past the retries, Microsoft away): one job.
 * A mailbox not synced yet (no cursor, or a folder without a delta link) gets one sub-request for
 * its default Contacts folder (`ROOT` probe): 403 / 404 (not shared with the account, not a member
 * of the shared mailbox, no Exchange mailbox) is reported here, with no job, as the job would
 * have; a mailbox the account may read is read in full in the run (`readFresh`): its folder list
 * and each folder's first page in the same batches, then synced from those pages on. So a user
 * who never shared a folder costs one sub-request a run, and a first sync of 10,000 mailboxes
 * about 3 sub-requests each, 20 to a request, instead of a job and 3 requests each.
 *
 * New folders (C2: a user shares another contacts folder, a shared mailbox gets one). Listing a
 * mailbox's folders is a sub-request of its own, and doing it for every mailbox at every run
 * would double the cost of a run in which nothing changed. So a run lists the folders (`FOLDERS`
 * probe, in the same batches) only of the mailboxes whose folders were last listed more than
 * FOLDER_CHECK_MS ago, oldest first, at most one mailbox in FOLDER_CHECK_SHARE of those probed:
 * ≤ 1.1 sub-requests per mailbox per run, and every mailbox's folders are listed at least once
 * every max(FOLDER_CHECK_MS, FOLDER_CHECK_SHARE runs). When is a mailbox's folder list fresh?
 * The cursors say (`updatedAt`): a mailbox job lists the folders and writes every cursor; a
 * change synced here writes the cursors of the folders it read, after the probe listed the
 * folders of every changed mailbox not listed yet in this run; a folder check of an unchanged
 * mailbox stores the probe's new delta links and the time (`touchFolders`). A mailbox whose list
 * shows a folder it has no cursor of gets a job (which reads the new folder in full). A folder
 * that is unshared needs no listing: its own probe answers 403 at the next run.
 */

/** How old a mailbox's folder list may get before a run lists the folders again. */
export const FOLDER_CHECK_MS = 12 * 3_600_000;
/** At most one mailbox in this many of those probed has its folders listed in one run. */
export const FOLDER_CHECK_SHARE = 10;
/** Mailboxes probed per slice: their cursors are read, probed, and dealt with before the next slice (memory stays bounded). */
export const PROBE_SLICE = 1000;
/**
 * Mailboxes read for the first time per slice of `$batch`es (their first pages stay in memory
 * until written, and the next slice's are read meanwhile): 20, two batches of 20 sub-requests.
 * Pages that wait long for their turn outlive V8's young generation, and the faster the old
 * generation fills, the further V8 lets the heap grow before it collects it. A first sync of
 * 10,000 mailboxes on SQLite peaked at 636-638 MB of RSS with slices of 100, 502 MB with 20
 * (and the other savings of issue 13's memory work; bench/results/contacts.json), in no more
 * time: a slice of 20 is written in a fraction of a second while the next is read.
 */
export const FRESH_SLICE = 20;
/** Probed mailboxes settled side by side in the run, each in a unit of work of its own. */
export const SETTLE_CONCURRENCY = 4;

export interface ProbeResult {
  /** Mailboxes that still need their job (never synced, or the probe could not settle them). */
  toJobs: MailboxPlanItem[];
  /** Mailboxes the probe settled (unchanged, dropped, or synced in the run). */
  settled: number;
  /** Sub-requests sent (each folder's delta link, each folder listing), for the run's report. */
  probes: number;
}

const sameOwner = (a: ContactOwner, b: ContactOwner) =>
  a.kind === 'EXTENSION'
    ? b.kind === 'EXTENSION' && a.extensionId === b.extensionId
    : b.kind === 'PHONEBOOK' && a.phonebookId === b.phonebookId;

interface Candidate {
  item: MailboxPlanItem;
  job: MailboxJob;
  owner: ContactOwner;
  cursors: ContactFolderCursor[];
  /** the folders are listed in this run */
  check: boolean;
}

/**
 * Probes the mailboxes of a run (items that fan out) and settles those it can; returns the rest,
 * for their jobs. `checkpoint` throws when the run must stop (its worker lost the job).
 */
export async function probeMailboxes(
  deps: MailboxSyncDeps,
  pbxId: string,
  runId: string,
  items: readonly MailboxPlanItem[],
  onSettled: (settled: number) => void,
  checkpoint: () => void,
  signal?: AbortSignal,
): Promise<ProbeResult> {
  const { store } = deps;
  const integration = await store.integrations.get(pbxId);
  const probeable = items;
  if (
    probeable.length === 0 ||
    integration.status !== IntegrationStatus.CONNECTED ||
    integration.contactSyncPaused ||
    !integration.accountHomeId
  )
    return { toJobs: [...items], settled: 0, probes: 0 };
  const toJobs: MailboxPlanItem[] = [];
  // One token for the whole probe (msal-node serves it from its cache and refreshes it when due).
  const { accessToken } = await deps.identity.delegatedToken(
    appCredentials(integration, deps.secrets),
    { homeAccountId: integration.accountHomeId },
    [CONTACTS_SCOPE],
    tokenCacheOf(store, deps.secrets, pbxId),
  );
  let checksLeft = Math.ceil(probeable.length / FOLDER_CHECK_SHARE);
  const staleBefore = deps.now().getTime() - FOLDER_CHECK_MS;
  let settled = 0;
  let probes = 0;

  for (let s = 0; s < probeable.length; s += PROBE_SLICE) {
    checkpoint();
    const slice = probeable.slice(s, s + PROBE_SLICE);
    const byMailbox = new Map<string, ContactFolderCursor[]>();
    for (const c of await store.contactSync.folderCursorsOf(
      pbxId,
      slice.map((i) => i.mailboxId),
    )) {
      const list = byMailbox.get(c.mailboxId) ?? [];
      list.push(c);
      byMailbox.set(c.mailboxId, list);
    }
    const candidates: Candidate[] = [];
    const fresh: Array<{ item: MailboxPlanItem; job: MailboxJob }> = [];
    for (const item of slice) {
      const owner = item.owner;
      const job: MailboxJob = {
        pbxId,
        runId,
        mailboxId: item.mailboxId,
        mailboxName: item.name,
        mailboxAddress: item.address,
        kind: item.kind,
        extensionId: item.kind === 'PERSONAL' && owner?.kind === 'EXTENSION' ? owner.extensionId : null,
        phonebookName: item.phonebookName,
      };
      const cursors = owner
        ? (byMailbox.get(item.mailboxId) ?? []).filter((c) => sameOwner(c.owner, owner))
        : [];
      if (item.action !== 'UPDATE' || !owner || cursors.length === 0 || cursors.some((c) => !c.deltaLink))
        fresh.push({ item, job });
      else candidates.push({ item, job, owner, cursors, check: false });
    }
    // The folder checks due, oldest first, within the run's share.
    const listedAt = (c: Candidate) => Math.min(...c.cursors.map((x) => x.updatedAt?.getTime() ?? 0));
    for (const c of candidates
      .filter((x) => listedAt(x) < staleBefore)
      .sort((a, b) => listedAt(a) - listedAt(b))) {
      if (checksLeft <= 0) break;
      c.check = true;
      checksLeft--;
    }

    // One batch list: a mailbox's probes side by side (they share its 4 concurrent requests).
    const list: FolderProbe[] = [];
    const at = new Map<Candidate, { delta: number; folders: number | null }>();
    for (const c of candidates) {
      const first = list.length;
      for (const cur of c.cursors)
        list.push({
          kind: 'DELTA',
          mailboxId: c.item.mailboxId,
          folderId: cur.folderId,
          deltaLink: cur.deltaLink as string,
        });
      let folders: number | null = null;
      if (c.check) {
        folders = list.length;
        list.push({ kind: 'FOLDERS', mailboxId: c.item.mailboxId });
      }
      at.set(c, { delta: first, folders });
    }
    const roots = list.length;
    for (const f of fresh) list.push({ kind: 'ROOT', mailboxId: f.item.mailboxId });
    const answers = list.length ? await deps.contactsReader.probe(accessToken, list) : [];
    probes += list.length;

    // Changed mailboxes whose folders were not listed in this run are listed now (few).
    const changed = (c: Candidate) =>
      c.cursors.some((_, n) => {
        const a = answers[(at.get(c) as { delta: number }).delta + n] as ProbeAnswer;
        return a.ok && (a.records.length > 0 || a.nextLink !== null || a.deltaLink === null);
      });
    const unlisted = candidates.filter((c) => !c.check && changed(c));
    const listings = unlisted.length
      ? await deps.contactsReader.probe(
          accessToken,
          unlisted.map((c) => ({ kind: 'FOLDERS' as const, mailboxId: c.item.mailboxId })),
        )
      : [];
    probes += unlisted.length;
    const listingOf = new Map<Candidate, ProbeAnswer>(
      unlisted.map((c, n) => [c, listings[n] as ProbeAnswer]),
    );

    const touched: Array<{ mailboxId: string; folderId: string; deltaLink: string }> = [];
    // Mailboxes with changes are synced side by side, each in a unit of work of its own.
    let next = 0;
    await Promise.all(
      Array.from({ length: SETTLE_CONCURRENCY }, async () => {
        const own = { ...deps, store: store.fork() };
        while (next < candidates.length) {
          const c = candidates[next++] as Candidate;
          if (signal?.aborted) checkpoint();
          const where = at.get(c) as { delta: number; folders: number | null };
          const deltas = c.cursors.map((_, n) => answers[where.delta + n] as ProbeAnswer);
          const listing = where.folders !== null ? (answers[where.folders] as ProbeAnswer) : listingOf.get(c);
          const outcome = await settle(own, c, deltas, listing ?? null, accessToken, touched, signal);
          if (outcome === 'JOB') toJobs.push(c.item);
          else settled++;
        }
      }),
    );
    // Mailboxes never synced that the account cannot read: what their job would have found
    // first, reported without one, all of the slice in one transaction (most have nothing synced).
    const unreadables: Array<{ job: MailboxJob; error: MicrosoftError }> = [];
    const readable: FreshMailbox[] = [];
    for (const [n, f] of fresh.entries()) {
      const a = answers[roots + n] as ProbeAnswer;
      if (!a.ok && unreadable(a)) unreadables.push({ job: f.job, error: a.error });
      else if (a.ok && a.folders[0]) readable.push({ ...f, root: a.folders[0] });
      else toJobs.push(f.item);
    }
    const bare = unreadables.filter((u) => !byMailbox.has(u.job.mailboxId) && u.job.kind === 'PERSONAL');
    if (bare.length)
      await store.transactional(async (tx) => {
        for (const u of bare) {
          const report = unreadableReport(u.job, u.error, 0);
          await tx.contactSync.record(pbxId, runId, u.job.mailboxId, report.tally, [report.row]);
        }
      });
    for (const u of unreadables) {
      if (bare.includes(u)) continue;
      if (signal?.aborted) checkpoint();
      await dropUnreadable(store, u.job, await mailboxOwner(store, u.job), [], u.error);
    }
    settled += unreadables.length;
    if (touched.length) await store.contactSync.touchFolders(pbxId, touched);
    onSettled(settled);
    // Mailboxes the account may read and the PBX never read (in full): read in the run too.
    const read = await readFresh(deps, accessToken, readable, toJobs, checkpoint, signal, (n) => {
      settled += n;
      onSettled(settled);
    });
    probes += read.probes;
  }
  return { toJobs, settled, probes };
}

/** A mailbox never read in full whose default Contacts folder the account may read (its ROOT probe). */
interface FreshMailbox {
  item: MailboxPlanItem;
  job: MailboxJob;
  root: ContactFolderInfo;
}

/**
 * The first read of mailboxes (C1–C3) in the run, FRESH_SLICE at a time, instead of a job and
 * three requests each: their folder lists and the first page of each folder's full read go in
 * `$batch`es (2 sub-requests a mailbox, a third per child folder), then the mailboxes are
 * synced side by side from those pages on (the next pages, of a folder of more than 200
 * contacts, are read as a job would). The next slice's batches are read while a slice is
 * written. Anything the batches cannot settle (a folder list of more than one page, a failed
 * sub-request, a mailbox that fails to sync) goes to its job, which starts again from what is
 * stored: pages replayed are upserts by Outlook id, so nothing is duplicated.
 */
async function readFresh(
  deps: MailboxSyncDeps,
  accessToken: string,
  fresh: readonly FreshMailbox[],
  toJobs: MailboxPlanItem[],
  checkpoint: () => void,
  signal: AbortSignal | undefined,
  onSettled: (n: number) => void,
): Promise<{ probes: number }> {
  let probes = 0;
  const read = async (part: readonly FreshMailbox[]) => {
    const first = await deps.contactsReader.probe(
      accessToken,
      part.flatMap((f): FolderProbe[] => [
        { kind: 'FOLDERS', mailboxId: f.item.mailboxId },
        { kind: 'DELTA', mailboxId: f.item.mailboxId, folderId: f.root.id, deltaLink: null },
      ]),
    );
    probes += first.length;
    const ready: Array<{ f: FreshMailbox; folders: ContactFolderInfo[]; pages: ProbeAnswer[] }> = [];
    for (const [n, f] of part.entries()) {
      const listing = first[2 * n] as ProbeAnswer;
      const root = first[2 * n + 1] as ProbeAnswer;
      // Child folders the account may not list: it reads only the default one (as listFolders).
      const children = listing.ok
        ? listing.nextLink === null
          ? listing.folders
          : null
        : listing.error.code === 'ACCESS_DENIED' || listing.error.code === 'NOT_FOUND'
          ? []
          : null;
      if (!root.ok || children === null) toJobs.push(f.item);
      else
        ready.push({
          f,
          folders: [{ id: f.root.id, displayName: f.root.displayName || 'Contacts' }, ...children],
          pages: [root],
        });
    }
    const childProbes = ready.flatMap((r) =>
      r.folders.slice(1).map(
        (x): FolderProbe => ({
          kind: 'DELTA',
          mailboxId: r.f.item.mailboxId,
          folderId: x.id,
          deltaLink: null,
        }),
      ),
    );
    const more = childProbes.length ? await deps.contactsReader.probe(accessToken, childProbes) : [];
    probes += more.length;
    let at = 0;
    for (const r of ready) for (let k = 1; k < r.folders.length; k++) r.pages.push(more[at++] as ProbeAnswer);
    return ready;
  };
  const parts: FreshMailbox[][] = [];
  for (let i = 0; i < fresh.length; i += FRESH_SLICE) parts.push(fresh.slice(i, i + FRESH_SLICE));
  let ahead = parts.length ? read(parts[0] as FreshMailbox[]) : null;
  for (let k = 0; k < parts.length; k++) {
    checkpoint();
    const ready: Array<Awaited<ReturnType<typeof read>>[number] | undefined> = await (ahead as Promise<
      Awaited<ReturnType<typeof read>>
    >);
    ahead = k + 1 < parts.length ? read(parts[k + 1] as FreshMailbox[]) : null;
    // Never an unhandled rejection: the loop awaits it next, or has thrown already.
    ahead?.catch(() => undefined);
    let next = 0;
    let synced = 0;
    await Promise.all(
      Array.from({ length: SETTLE_CONCURRENCY }, async () => {
        const own = { ...deps, store: deps.store.fork() };
        while (next < ready.length) {
          const r = ready[next] as NonNullable<(typeof ready)[number]>;
          // The slice no longer holds the mailbox's pages: they go once it is synced, not with the slice.
          ready[next++] = undefined;
          if (signal?.aborted) checkpoint();
          if (r.pages.some((a) => !a.ok)) {
            toJobs.push(r.f.item);
            continue;
          }
          const firstPages = new Map<string, ProbedPage>();
          r.folders.forEach((folder, n) => {
            const a = r.pages[n] as ProbeAnswer & { ok: true };
            firstPages.set(folder.id, {
              from: null,
              records: a.records,
              nextLink: a.nextLink,
              deltaLink: a.deltaLink,
            });
          });
          try {
            await syncMailbox(own, r.f.job, signal, { accessToken, folders: r.folders, firstPages });
            synced++;
          } catch (err) {
            if (signal?.aborted) throw err;
            deps.log('info', 'a mailbox could not be read in the run: its job takes it over', {
              pbxId: r.f.job.pbxId,
              mailboxId: r.f.job.mailboxId,
              err: err instanceof Error ? err.message : String(err),
            });
            toJobs.push(r.f.item);
          }
        }
      }),
    );
    onSettled(synced);
  }
  return { probes };
}

/** Unreadable folders: gone (403 ErrorAccessDenied), not there (404), or no Exchange mailbox at all. */
const unreadable = (a: ProbeAnswer) =>
  !a.ok &&
  (a.error.code === 'ACCESS_DENIED' || a.error.code === 'NOT_FOUND' || a.error.code === 'NO_MAILBOX');

/** What the probe makes of one mailbox: settled here (UNCHANGED, DROPPED, SYNCED) or a JOB. */
async function settle(
  deps: MailboxSyncDeps,
  c: Candidate,
  deltas: ProbeAnswer[],
  listing: ProbeAnswer | null,
  accessToken: string,
  touched: Array<{ mailboxId: string; folderId: string; deltaLink: string }>,
  signal?: AbortSignal,
): Promise<'UNCHANGED' | 'DROPPED' | 'SYNCED' | 'JOB'> {
  // Expired delta links, throttling past the retries, Microsoft away: the job deals with them (and retries).
  if (deltas.some((a) => !a.ok && !unreadable(a))) return 'JOB';
  // A folder list with a folder the PBX has no cursor of (or too long for one page): the job reads it.
  if (listing?.ok) {
    const known = new Set(c.cursors.map((x) => x.folderId));
    if (listing.nextLink !== null || listing.folders.some((f) => !known.has(f.id))) return 'JOB';
  }
  const denied = c.cursors.filter((_, n) => unreadable(deltas[n] as ProbeAnswer));
  const readable = c.cursors.filter((_, n) => !unreadable(deltas[n] as ProbeAnswer));
  if (denied.length) {
    const first = deltas.find((a) => !a.ok) as { ok: false; error: MicrosoftError };
    await dropUnreadable(
      deps.store,
      c.job,
      c.owner,
      readable.map((x) => x.folderId),
      first.error,
    );
    if (!readable.length) return 'DROPPED';
  }
  const pages = new Map<string, ProbedPage>();
  let changed = false;
  c.cursors.forEach((cur, n) => {
    const a = deltas[n] as ProbeAnswer;
    if (!a.ok) return;
    pages.set(cur.folderId, {
      from: cur.deltaLink,
      records: a.records,
      nextLink: a.nextLink,
      deltaLink: a.deltaLink,
    });
    if (a.records.length > 0 || a.nextLink !== null || a.deltaLink === null) changed = true;
  });
  if (!changed) {
    // Unchanged. A SHARED mailbox's phonebook takes a new name from the rule even so (C3).
    if (c.job.kind === 'SHARED') await mailboxOwner(deps.store, c.job);
    if (listing?.ok || (listing && unreadable(listing)))
      for (const cur of readable)
        touched.push({
          mailboxId: cur.mailboxId,
          folderId: cur.folderId,
          deltaLink: (pages.get(cur.folderId) as ProbedPage).deltaLink as string,
        });
    return denied.length ? 'DROPPED' : 'UNCHANGED';
  }
  try {
    await syncMailbox(deps, c.job, signal, {
      accessToken,
      // Names as the folder list gave them (the default folder's is not listed: the report says "Contacts").
      folders: readable.map((x) => ({
        id: x.folderId,
        displayName: (listing?.ok && listing.folders.find((f) => f.id === x.folderId)?.displayName) || '',
      })),
      firstPages: pages,
    });
    return 'SYNCED';
  } catch (err) {
    if (signal?.aborted) throw err;
    // Its job tries again from the stored links (every page written so far is replayed harmlessly).
    deps.log('info', 'a probed mailbox could not be synced in the run: its job takes it over', {
      pbxId: c.job.pbxId,
      mailboxId: c.job.mailboxId,
      err: err instanceof Error ? err.message : String(err),
    });
    return 'JOB';
  }
}
