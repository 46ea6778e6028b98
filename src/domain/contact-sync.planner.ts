import type { ContactNumber, ContactOwner, ContactSource, SyncedContactInput } from './contact.types.js';
import type { DirectoryUser } from './directory.types.js';
import type { DirectorySnapshot } from './directory-delta.js';
import { createMembershipResolver } from './directory-membership.js';
import type { PbxExtension } from './pbx.types.js';
import type { Steps } from './steps.js';
import { STEP } from './steps.js';
import { createPlan, sortPlanItemSteps } from './sync-plan.js';
import type { PlanItemLike, SyncPlan } from './sync-plan.types.js';
import type { ContactSyncRule } from './sync-rule.types.js';

/**
 * Contact sync (C1–C4), pure, in two parts:
 * - `mailboxChangeSteps`: which mailboxes a run syncs (one job each) and which owners lose their
 *   synced contacts (a user no longer synced or out of range, a shared mailbox left out);
 * - `planContactPage`: one page of one folder's contacts (a delta round) against what the PBX
 *   holds of that folder: upserts, deletes, and the contacts C4 keeps out, each with its reason.
 */

// ---- Outlook contacts, as the reader hands them over ----------------------------------------

/** An Outlook contact, domain-shaped (src/m365 builds it from Graph's `contact`). */
export interface OutlookContact {
  readonly id: string;
  readonly changeKey: string | null;
  readonly givenName: string | null;
  readonly surname: string | null;
  readonly displayName: string | null;
  readonly companyName: string | null;
  readonly jobTitle: string | null;
  readonly mobilePhone: string | null;
  readonly homePhones: readonly string[];
  readonly businessPhones: readonly string[];
  readonly emailAddresses: readonly string[];
}

/** One record of a delta round: a contact new or changed, or one removed from the folder. */
export type ContactDeltaRecord =
  | { readonly kind: 'CHANGED'; readonly contact: OutlookContact }
  | { readonly kind: 'REMOVED'; readonly id: string };

export type ContactProblem = 'NO_NAME' | 'NO_PHONE';

const blank = (s: string | null | undefined) => !s?.trim();

/** C4: why a contact cannot be synced (no first and no last name; no mobile, home or business number), or null. */
export function contactProblem(c: OutlookContact): { reason: ContactProblem; detail: string } | null {
  if (blank(c.givenName) && blank(c.surname))
    return { reason: 'NO_NAME', detail: 'The contact has neither a first name nor a last name.' };
  if (blank(c.mobilePhone) && c.homePhones.every(blank) && c.businessPhones.every(blank))
    return { reason: 'NO_PHONE', detail: 'The contact has no mobile, home or business number.' };
  return null;
}

/** E.164 under the PBX's default country, or null when the number cannot be read. */
export type NormalisePhone = (dialled: string) => string | null;

/** The PBX fields of a complete contact: numbers as dialled and normalised (mobile, home, business). */
export function contactFields(
  c: OutlookContact,
  source: ContactSource,
  normalise: NormalisePhone,
): SyncedContactInput {
  const numbers: ContactNumber[] = [];
  const add = (kind: ContactNumber['kind'], dialled: string | null) => {
    const d = dialled?.trim();
    if (d) numbers.push({ kind, dialled: d, e164: normalise(d) });
  };
  add('MOBILE', c.mobilePhone);
  for (const n of c.homePhones) add('HOME', n);
  for (const n of c.businessPhones) add('BUSINESS', n);
  const firstName = blank(c.givenName) ? null : (c.givenName as string).trim();
  const lastName = blank(c.surname) ? null : (c.surname as string).trim();
  const displayName = blank(c.displayName)
    ? [firstName, lastName].filter(Boolean).join(' ')
    : (c.displayName as string).trim();
  return {
    firstName,
    lastName,
    displayName,
    company: blank(c.companyName) ? null : (c.companyName as string).trim(),
    jobTitle: blank(c.jobTitle) ? null : (c.jobTitle as string).trim(),
    emails: c.emailAddresses.map((e) => e.trim()).filter(Boolean),
    numbers,
    source,
  };
}

/** What the PBX holds of one folder (ContactRepository.syncedKeys). */
export type KnownContacts = ReadonlyMap<string, { id: string; changeKey: string | null }>;

/** A contact C4 keeps out, for the run's report. */
export interface SkippedContact {
  readonly contactId: string;
  readonly name: string;
  readonly reason: ContactProblem;
  readonly detail: string;
  /** It was on the PBX (made incomplete): it is deleted there. */
  readonly removed: boolean;
}

export interface ContactPagePlan {
  readonly creates: readonly SyncedContactInput[];
  readonly updates: readonly SyncedContactInput[];
  /** Outlook contact ids to delete from the PBX (deleted in Outlook, or made incomplete). */
  readonly deletes: readonly string[];
  readonly skipped: readonly SkippedContact[];
  readonly unchanged: number;
}

/**
 * One page of a folder's delta round against what the PBX holds of the folder. A contact whose
 * changeKey is the one it was written with is unchanged (a replayed page plans nothing); an
 * incomplete contact is skipped (C4) and, when the PBX has it, deleted there. Sorted by id.
 */
export function planContactPage(input: {
  readonly folder: Pick<ContactSource, 'mailboxId' | 'folderId'>;
  readonly records: readonly ContactDeltaRecord[];
  readonly known: KnownContacts;
  readonly normalise: NormalisePhone;
}): ContactPagePlan {
  const creates: SyncedContactInput[] = [];
  const updates: SyncedContactInput[] = [];
  const deletes = new Set<string>();
  const skipped: SkippedContact[] = [];
  let unchanged = 0;
  // A contact may come twice in one page (a replay): the last record wins.
  const last = new Map<string, ContactDeltaRecord>();
  for (const r of input.records) last.set(r.kind === 'CHANGED' ? r.contact.id : r.id, r);
  for (const [id, r] of [...last].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const known = input.known.get(id);
    if (r.kind === 'REMOVED') {
      if (known) deletes.add(id);
      continue;
    }
    const c = r.contact;
    const problem = contactProblem(c);
    if (problem) {
      const name = (c.displayName ?? '').trim() || (c.companyName ?? '').trim() || id;
      skipped.push({ contactId: id, name, ...problem, removed: Boolean(known) });
      if (known) deletes.add(id);
      continue;
    }
    if (known && known.changeKey !== null && known.changeKey === c.changeKey) {
      unchanged++;
      continue;
    }
    const fields = contactFields(
      c,
      { ...input.folder, contactId: id, changeKey: c.changeKey },
      input.normalise,
    );
    (known ? updates : creates).push(fields);
  }
  return { creates, updates, deletes: [...deletes], skipped, unchanged };
}

/** After a full round (no delta link to start from): what the PBX holds that the round did not see. */
export function unseenContacts(known: KnownContacts, seen: ReadonlySet<string>): string[] {
  return [...known.keys()].filter((id) => !seen.has(id)).sort();
}

// ---- mailboxes ------------------------------------------------------------------------------

export type MailboxKind = 'PERSONAL' | 'SHARED';

/** A mailbox the PBX holds synced contacts of (from the contact sync's folder cursors). */
export interface SyncedMailbox {
  readonly mailboxId: string;
  readonly kind: MailboxKind;
  readonly owner: ContactOwner;
}

export type MailboxReason =
  | 'FIRST_SYNC'
  | 'DELTA'
  | 'PERSONAL_OFF'
  | 'SHARED_OFF'
  | 'NOT_IN_RANGE'
  | 'USER_NOT_SYNCED'
  | 'OWNER_CHANGED'
  | 'MAILBOX_NOT_FOUND';

/**
 * One mailbox of a run. CREATE: read in full (first time); UPDATE: a delta round per folder;
 * DELETE: its synced contacts (or its phonebook) go; SKIP: reported only.
 */
export interface MailboxPlanItem extends PlanItemLike {
  readonly action: 'CREATE' | 'UPDATE' | 'DELETE' | 'SKIP';
  readonly reason: MailboxReason;
  readonly mailboxId: string;
  readonly kind: MailboxKind;
  readonly name: string;
  readonly address: string | null;
  /** PERSONAL: the user's extension. SHARED: the phonebook when it exists (DELETE), else null (made by the job). */
  readonly owner: ContactOwner | null;
  /** SHARED, CREATE/UPDATE: the phonebook's name. */
  readonly phonebookName: string | null;
  readonly detail: string | null;
}

/**
 * A shared mailbox as Graph shows it: Graph has no property that says "shared mailbox" (that is
 * Exchange's recipient type); such a mailbox is a user object whose sign-in is blocked
 * (`accountEnabled: false`) and that has a mailbox address (`mail`). A disabled employee looks the
 * same: the mailbox job then finds no access (the authorization account is not a member) and says so.
 */
export function isSharedMailboxCandidate(user: DirectoryUser): boolean {
  return user.deletionState === 'PRESENT' && !user.accountEnabled && !blank(user.mail);
}

/** C3: the phonebook of a shared mailbox: the admin's name, with the mailbox's when several are synced. */
export function phonebookNameFor(rule: ContactSyncRule, mailbox: DirectoryUser, several: boolean): string {
  const base = rule.shared.phonebookName.trim();
  return several ? `${base} - ${mailbox.displayName ?? mailbox.mail ?? mailbox.id}`.slice(0, 128) : base;
}

export interface MailboxPlanInput {
  readonly directory: DirectorySnapshot;
  /** The PBX's extensions (the synced ones, with their Entra user id, own personal contacts). */
  readonly extensions: Iterable<PbxExtension>;
  /** Mailboxes the PBX holds synced contacts of, and the synced phonebooks (by mailbox). */
  readonly synced: Iterable<SyncedMailbox>;
  readonly rule: ContactSyncRule;
  readonly now: Date;
}

function mailboxKey(item: MailboxPlanItem) {
  return `${item.kind}:${item.mailboxId}:${item.owner?.kind === 'EXTENSION' ? item.owner.extensionId : (item.owner?.phonebookId ?? '')}`;
}

/** C1, C3: the mailboxes of a run and the owners whose contacts go, sorted (deletes first). */
export function* mailboxChangeSteps(input: MailboxPlanInput): Steps<SyncPlan<MailboxPlanItem>> {
  const { directory, rule } = input;
  const items: MailboxPlanItem[] = [];
  const base = (u: DirectoryUser | undefined, id: string) => ({
    mailboxId: id,
    name: u?.displayName ?? u?.mail ?? id,
    address: u?.mail ?? u?.userPrincipalName ?? null,
    detail: null,
  });

  // What is synced now, by mailbox.
  const syncedPersonal = new Map<string, SyncedMailbox[]>();
  const syncedShared = new Map<string, SyncedMailbox[]>();
  for (const m of input.synced) {
    const into = m.kind === 'PERSONAL' ? syncedPersonal : syncedShared;
    into.set(m.mailboxId, [...(into.get(m.mailboxId) ?? []), m]);
  }

  // C1: every synced user in range, with the extension that owns their contacts.
  let inRange: ((userId: string) => boolean) | null = null;
  if (rule.personal.enabled) {
    const range = rule.personal.range;
    if (range.type === 'ALL') inRange = () => true;
    else {
      const membersOf = createMembershipResolver(directory.groups, false);
      const ids = new Set<string>();
      for (const g of range.groupIds) for (const u of membersOf(g)) ids.add(u);
      inRange = (id) => ids.has(id);
    }
  }
  const wantedPersonal = new Map<string, string>(); // user id → extension id
  let n = 0;
  for (const ext of input.extensions) {
    if (++n % STEP === 0) yield;
    if (ext.source !== 'SYNCED' || !ext.externalId) continue;
    const user = directory.users.get(ext.externalId);
    if (!inRange || !user || user.deletionState !== 'PRESENT' || !inRange(user.id)) continue;
    wantedPersonal.set(user.id, ext.id);
  }
  for (const [userId, extensionId] of wantedPersonal) {
    if (++n % STEP === 0) yield;
    const had = syncedPersonal.get(userId) ?? [];
    const same = had.some((m) => m.owner.kind === 'EXTENSION' && m.owner.extensionId === extensionId);
    items.push({
      ...base(directory.users.get(userId), userId),
      action: same ? 'UPDATE' : 'CREATE',
      reason: same ? 'DELTA' : 'FIRST_SYNC',
      kind: 'PERSONAL',
      owner: { kind: 'EXTENSION', extensionId },
      phonebookName: null,
    });
  }
  for (const [userId, had] of syncedPersonal) {
    for (const m of had) {
      const wantedExt = wantedPersonal.get(userId);
      if (m.owner.kind === 'EXTENSION' && wantedExt === m.owner.extensionId) continue;
      const user = directory.users.get(userId);
      const reason: MailboxReason = !rule.personal.enabled
        ? 'PERSONAL_OFF'
        : wantedExt
          ? 'OWNER_CHANGED'
          : user && user.deletionState === 'PRESENT' && inRange?.(userId) === false
            ? 'NOT_IN_RANGE'
            : 'USER_NOT_SYNCED';
      items.push({
        ...base(user, userId),
        action: 'DELETE',
        reason,
        kind: 'PERSONAL',
        owner: m.owner,
        phonebookName: null,
      });
    }
  }

  // C3: shared mailboxes in range, each into its phonebook.
  const wantedShared: DirectoryUser[] = [];
  if (rule.shared.enabled) {
    const range = rule.shared.range;
    if (range.type === 'ALL') {
      for (const u of directory.users.values()) {
        if (++n % STEP === 0) yield;
        if (isSharedMailboxCandidate(u)) wantedShared.push(u);
      }
    } else {
      for (const id of range.mailboxIds) {
        const u = directory.users.get(id);
        if (u && u.deletionState === 'PRESENT') wantedShared.push(u);
        else
          items.push({
            ...base(u, id),
            action: 'SKIP',
            reason: 'MAILBOX_NOT_FOUND',
            kind: 'SHARED',
            owner: null,
            phonebookName: null,
            detail: 'The shared mailbox is no longer in the directory.',
          });
      }
    }
  }
  const several = wantedShared.length > 1;
  const wantedSharedIds = new Set(wantedShared.map((u) => u.id));
  for (const u of wantedShared) {
    const had = syncedShared.get(u.id);
    items.push({
      ...base(u, u.id),
      action: had ? 'UPDATE' : 'CREATE',
      reason: had ? 'DELTA' : 'FIRST_SYNC',
      kind: 'SHARED',
      owner: had?.[0]?.owner ?? null,
      phonebookName: phonebookNameFor(rule, u, several),
    });
  }
  for (const [mailboxId, had] of syncedShared) {
    if (wantedSharedIds.has(mailboxId)) continue;
    const u = directory.users.get(mailboxId);
    for (const m of had)
      items.push({
        ...base(u, mailboxId),
        action: 'DELETE',
        reason: !rule.shared.enabled
          ? 'SHARED_OFF'
          : u && u.deletionState === 'PRESENT'
            ? 'NOT_IN_RANGE'
            : 'MAILBOX_NOT_FOUND',
        kind: 'SHARED',
        owner: m.owner,
        phonebookName: null,
      });
  }
  const sorted = yield* sortPlanItemSteps(items, mailboxKey);
  return createPlan(input.now, sorted);
}
