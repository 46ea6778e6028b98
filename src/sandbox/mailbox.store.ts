import { createHash } from 'node:crypto';
import { firstEntryAfter, isLastEntryWithin } from './change.log.js';
import { SandboxError } from './sandbox.error.js';

/**
 * Exchange mailboxes of a directory: each user's contact folders and contacts, shared
 * mailboxes with their FullAccess members, folders shared with other users, and a change
 * log per folder that contact delta reads.
 *
 * Memory-lean by design: seeded contacts are not stored. Contact `index` < `folder.seeded`
 * is made on demand by `generate(ordinal, index)` (contacts.seed.ts); only contacts that
 * were created, changed or deleted afterwards are stored (`stored`, `deleted`). A mailbox
 * record itself is made on first use. So 10,000 users × 100 contacts cost nothing at start,
 * and the state file holds only what changed (`snapshot`).
 *
 * Ids: a contact id names its mailbox (the user's creation ordinal), folder and index, so a
 * read finds it without an index of all contacts. They look like Exchange ids (`AAMkA…`,
 * URL-safe) and are opaque to clients.
 */
export interface EmailAddress {
  name: string;
  address: string;
}

/** The writable properties of a contact (Graph's contact resource, the ones the sandbox keeps). */
export interface ContactData {
  givenName: string | null;
  surname: string | null;
  displayName: string;
  companyName: string | null;
  jobTitle: string | null;
  businessPhones: string[];
  homePhones: string[];
  mobilePhone: string | null;
  emailAddresses: EmailAddress[];
}

export const CONTACT_FIELDS: readonly (keyof ContactData)[] = [
  'givenName',
  'surname',
  'displayName',
  'companyName',
  'jobTitle',
  'businessPhones',
  'homePhones',
  'mobilePhone',
  'emailAddresses',
];

export interface StoredContact extends ContactData {
  /** bumped on every update: the changeKey follows it */
  version: number;
  created: number;
  modified: number;
}

/** Graph's contact as the sandbox serves it (every property the sandbox knows, in Graph's order). */
export interface ContactView extends ContactData {
  id: string;
  createdDateTime: string;
  lastModifiedDateTime: string;
  changeKey: string;
  parentFolderId: string;
}

/** Per-folder change log: one entry per create/update/delete, chained per contact (as change.log.ts). */
export class FolderLog {
  readonly seq: number[] = [];
  readonly index: number[] = [];
  readonly removed: boolean[] = [];
  readonly next: number[] = [];
  /** contact index → its last entry */
  readonly last = new Map<number, number>();

  get length(): number {
    return this.seq.length;
  }

  append(seq: number, index: number, removed: boolean): void {
    const at = this.seq.length;
    this.seq.push(seq);
    this.index.push(index);
    this.removed.push(removed);
    this.next.push(-1);
    const prev = this.last.get(index);
    if (prev !== undefined) this.next[prev] = at;
    this.last.set(index, at);
  }

  firstAfter(seq: number): number {
    return firstEntryAfter(this.seq, seq);
  }

  /** Entry `at` is its contact's last entry with a sequence ≤ `to`. */
  isLastWithin(at: number, to: number): boolean {
    return isLastEntryWithin(this.seq, this.next, at, to);
  }
}

export interface ContactFolder {
  /** 0: the default Contacts folder */
  no: number;
  displayName: string;
  /** contacts 0..seeded-1 are generated */
  seeded: number;
  nextIndex: number;
  /** generated contacts that were deleted */
  deleted: Set<number>;
  /** indices of contacts created here (ascending), live only */
  created: number[];
  /** changed generated contacts and created ones, by index */
  stored: Map<number, StoredContact>;
  /** users this folder is shared with (read) */
  sharedWith: Set<string>;
  log: FolderLog;
  /** delta and skip tokens of this folder issued before this time (ms) answer 410 SyncStateNotFound */
  syncValidAfter: number;
}

export interface Mailbox {
  userId: string;
  /** the user's creation ordinal: names the mailbox in ids and seeds its contacts */
  ordinal: number;
  shared: boolean;
  /** FullAccess members (shared mailboxes, or delegates of a user mailbox) */
  members: Set<string>;
  folders: Map<number, ContactFolder>;
  nextFolderNo: number;
  /** something here differs from what the seed makes (kept by the state file) */
  touched: boolean;
}

export interface MailboxSeedConfig {
  seed: number;
  contactsPerUser: number;
  contactsPerSharedMailbox: number;
  /** users created before the seed ran (ordinal below) have seeded contacts; later ones start empty */
  seededBelowOrdinal: number;
  /**
   * Users the seeded users' default Contacts folders are shared with (the seed's
   * `shareContactsWithAdmin`). Applied when a mailbox record is made, so 10,000 shares cost nothing
   * at start either.
   */
  sharedWith?: string[];
}

export type ContactGenerator = (
  seed: number,
  ordinal: number,
  index: number,
) => { data: ContactData; created: number };

const ROOT_FOLDER_NO = -1;

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64url');
}

export function folderId(ordinal: number, no: number): string {
  return `AAMkAF${b64(`${ordinal}.${no}`)}`;
}

export function contactId(ordinal: number, no: number, index: number): string {
  return `AAMkAC${b64(`${ordinal}.${no}.${index}`)}`;
}

function parseId(id: string, prefix: string, parts: number): number[] | null {
  if (!id.startsWith(prefix)) return null;
  const raw = Buffer.from(id.slice(prefix.length), 'base64url').toString('utf8');
  const nums = raw.split('.').map(Number);
  if (nums.length !== parts || nums.some((n) => !Number.isInteger(n))) return null;
  return nums;
}

export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function itemNotFound(): SandboxError {
  return new SandboxError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
}

function changeKeyOf(id: string, version: number): string {
  return `EQAAABYAAA${createHash('sha1').update(`${id}:${version}`).digest('base64').slice(0, 22)}`;
}

function cleanData(input: Partial<ContactData>, base: ContactData): ContactData {
  const out: ContactData = {
    ...base,
    businessPhones: [...base.businessPhones],
    homePhones: [...base.homePhones],
    emailAddresses: base.emailAddresses.map((e) => ({ ...e })),
  };
  for (const [k, v] of Object.entries(input)) {
    if (v === undefined) continue;
    if (!(CONTACT_FIELDS as readonly string[]).includes(k)) {
      throw new SandboxError(
        400,
        'ErrorInvalidProperty',
        `The property '${k}' does not exist on type 'contact'.`,
      );
    }
    if (k === 'businessPhones' || k === 'homePhones') {
      if (v !== null && !Array.isArray(v))
        throw new SandboxError(400, 'ErrorInvalidRequest', `${k} must be an array.`);
      out[k] = (v ?? []).map(String);
    } else if (k === 'emailAddresses') {
      if (v !== null && !Array.isArray(v))
        throw new SandboxError(400, 'ErrorInvalidRequest', `${k} must be an array.`);
      out.emailAddresses = ((v ?? []) as Array<Partial<EmailAddress>>).map((e) => ({
        name: String(e?.name ?? e?.address ?? ''),
        address: String(e?.address ?? ''),
      }));
    } else if (k === 'displayName') {
      out.displayName = v === null ? '' : String(v);
    } else {
      (out as unknown as Record<string, unknown>)[k] = v === null ? null : String(v);
    }
  }
  return out;
}

const EMPTY: ContactData = {
  givenName: null,
  surname: null,
  displayName: '',
  companyName: null,
  jobTitle: null,
  businessPhones: [],
  homePhones: [],
  mobilePhone: null,
  emailAddresses: [],
};

export class MailboxStore {
  config: MailboxSeedConfig = {
    seed: 0,
    contactsPerUser: 0,
    contactsPerSharedMailbox: 0,
    seededBelowOrdinal: 0,
  };
  /** user ids of shared mailboxes (seeded or made through the admin API) */
  readonly sharedMailboxes = new Set<string>();
  /** last change sequence handed out (all folders) */
  seq = 0;
  /** every contact delta token issued before this time (ms) answers 410 SyncStateNotFound */
  syncValidAfter = 0;
  private readonly boxes = new Map<string, Mailbox>();
  private generator: ContactGenerator | null = null;

  /** Seeded contacts (the generator is contacts.seed.ts; injected to keep the import graph acyclic). */
  configure(config: MailboxSeedConfig, generator: ContactGenerator): void {
    this.config = { ...config };
    this.generator = generator;
  }

  /** The mailbox of a user (made on first use). */
  mailbox(userId: string, ordinal: number): Mailbox {
    let box = this.boxes.get(userId);
    if (box) return box;
    const shared = this.sharedMailboxes.has(userId);
    const seeded =
      ordinal < this.config.seededBelowOrdinal
        ? shared
          ? this.config.contactsPerSharedMailbox
          : this.config.contactsPerUser
        : 0;
    box = {
      userId,
      ordinal,
      shared,
      members: new Set(),
      folders: new Map(),
      nextFolderNo: 1,
      touched: false,
    };
    const contacts = this.newFolder(0, 'Contacts', seeded);
    if (!shared && ordinal < this.config.seededBelowOrdinal)
      for (const id of this.config.sharedWith ?? []) contacts.sharedWith.add(id);
    box.folders.set(0, contacts);
    this.boxes.set(userId, box);
    return box;
  }

  /** Mailboxes that hold something the seed does not make (the state file keeps these). */
  touchedMailboxes(): Mailbox[] {
    return [...this.boxes.values()].filter((b) => b.touched);
  }

  /** Forgets a user's mailbox (the user is gone for good). */
  drop(userId: string): void {
    this.boxes.delete(userId);
    this.sharedMailboxes.delete(userId);
  }

  adopt(box: Mailbox): void {
    this.boxes.set(box.userId, box);
  }

  newFolder(no: number, displayName: string, seeded = 0): ContactFolder {
    return {
      no,
      displayName,
      seeded,
      nextIndex: seeded,
      deleted: new Set(),
      created: [],
      stored: new Map(),
      sharedWith: new Set(),
      log: new FolderLog(),
      syncValidAfter: 0,
    };
  }

  // ---------------------------------------------------------------- folders

  /** A folder by id, or by the well-known name `contacts` (the default Contacts folder). */
  folder(box: Mailbox, id: string): ContactFolder | undefined {
    if (id.toLowerCase() === 'contacts') return box.folders.get(0);
    const parsed = parseId(id, 'AAMkAF', 2);
    if (!parsed || parsed[0] !== box.ordinal) return undefined;
    return box.folders.get(parsed[1] as number);
  }

  folderOr404(box: Mailbox, id: string): ContactFolder {
    const f = this.folder(box, id);
    if (!f) throw itemNotFound();
    return f;
  }

  folderView(box: Mailbox, f: ContactFolder): { id: string; displayName: string; parentFolderId: string } {
    return {
      id: folderId(box.ordinal, f.no),
      displayName: f.displayName,
      parentFolderId: folderId(box.ordinal, f.no === 0 ? ROOT_FOLDER_NO : 0),
    };
  }

  /** A child folder of the default Contacts folder. */
  createFolder(box: Mailbox, displayName: string): ContactFolder {
    const name = displayName.trim();
    if (!name) throw new SandboxError(400, 'ErrorInvalidRequest', 'displayName is required.');
    for (const f of box.folders.values()) {
      if (f.no !== 0 && f.displayName.toLowerCase() === name.toLowerCase()) {
        throw new SandboxError(409, 'ErrorFolderExists', 'A folder with the specified name already exists.');
      }
    }
    const f = this.newFolder(box.nextFolderNo++, name);
    box.folders.set(f.no, f);
    box.touched = true;
    return f;
  }

  share(box: Mailbox, f: ContactFolder, userId: string): void {
    f.sharedWith.add(userId);
    box.touched = true;
  }

  unshare(box: Mailbox, f: ContactFolder, userId: string): void {
    f.sharedWith.delete(userId);
    box.touched = true;
  }

  addMember(box: Mailbox, userId: string): void {
    box.members.add(userId);
    box.touched = true;
  }

  removeMember(box: Mailbox, userId: string): void {
    if (!box.members.delete(userId)) throw itemNotFound();
    box.touched = true;
  }

  // ---------------------------------------------------------------- contacts

  /** Live contact indices of a folder, ascending: generated ones not deleted, then created ones. */
  *liveIndices(f: ContactFolder, after = -1): Generator<number> {
    for (let i = Math.max(0, after + 1); i < f.seeded; i++) if (!f.deleted.has(i)) yield i;
    let lo = 0;
    let hi = f.created.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((f.created[mid] as number) <= after) lo = mid + 1;
      else hi = mid;
    }
    for (let j = lo; j < f.created.length; j++) yield f.created[j] as number;
  }

  liveCount(f: ContactFolder): number {
    return f.seeded - f.deleted.size + f.created.length;
  }

  /** The index of the `n`-th live contact (0-based), for `$skip` paging; -1 past the end. */
  nthLive(f: ContactFolder, n: number): number {
    const seededLive = f.seeded - f.deleted.size;
    if (n >= seededLive) return f.created[n - seededLive] ?? -1;
    if (f.deleted.size === 0) return n;
    let idx = n;
    for (const d of [...f.deleted].sort((a, b) => a - b)) if (d <= idx) idx++;
    return idx;
  }

  /** The contact at `index`, or undefined when there is none (never made, or deleted). */
  contactAt(box: Mailbox, f: ContactFolder, index: number): StoredContact | undefined {
    const s = f.stored.get(index);
    if (s) return s;
    if (index < 0 || index >= f.seeded || f.deleted.has(index) || !this.generator) return undefined;
    const g = this.generator(this.config.seed, box.ordinal, index);
    return { ...g.data, version: 0, created: g.created, modified: g.created };
  }

  /** Finds a contact by id in one folder (or, with no folder, in any folder of the mailbox). */
  findContact(
    box: Mailbox,
    id: string,
    f?: ContactFolder,
  ): { f: ContactFolder; index: number; c: StoredContact } {
    const parsed = parseId(id, 'AAMkAC', 3);
    if (!parsed || parsed[0] !== box.ordinal) throw itemNotFound();
    const folder = box.folders.get(parsed[1] as number);
    if (!folder || (f && folder !== f)) throw itemNotFound();
    const c = this.contactAt(box, folder, parsed[2] as number);
    if (!c) throw itemNotFound();
    return { f: folder, index: parsed[2] as number, c };
  }

  view(box: Mailbox, f: ContactFolder, index: number, c: StoredContact): ContactView {
    const id = contactId(box.ordinal, f.no, index);
    return {
      id,
      createdDateTime: isoSeconds(c.created),
      lastModifiedDateTime: isoSeconds(c.modified),
      changeKey: changeKeyOf(id, c.version),
      parentFolderId: folderId(box.ordinal, f.no),
      givenName: c.givenName,
      surname: c.surname,
      displayName: c.displayName,
      companyName: c.companyName,
      jobTitle: c.jobTitle,
      businessPhones: c.businessPhones,
      homePhones: c.homePhones,
      mobilePhone: c.mobilePhone,
      emailAddresses: c.emailAddresses,
    };
  }

  createContact(box: Mailbox, f: ContactFolder, input: Partial<ContactData>, now = Date.now()): ContactView {
    const data = cleanData(input, EMPTY);
    if (!data.displayName) {
      data.displayName = [data.givenName, data.surname].filter(Boolean).join(' ');
    }
    const index = f.nextIndex++;
    const c: StoredContact = { ...data, version: 0, created: now, modified: now };
    f.stored.set(index, c);
    f.created.push(index);
    this.record(box, f, index, false);
    return this.view(box, f, index, c);
  }

  updateContact(box: Mailbox, id: string, patch: Partial<ContactData>, now = Date.now()): ContactView {
    const { f, index, c } = this.findContact(box, id);
    const data = cleanData(patch, c);
    const next: StoredContact = {
      ...data,
      version: c.version + 1,
      created: c.created,
      modified: Math.max(now, c.modified + 1000),
    };
    f.stored.set(index, next);
    this.record(box, f, index, false);
    return this.view(box, f, index, next);
  }

  deleteContact(box: Mailbox, id: string): void {
    const { f, index } = this.findContact(box, id);
    f.stored.delete(index);
    if (index < f.seeded) f.deleted.add(index);
    else {
      const at = f.created.indexOf(index);
      if (at >= 0) f.created.splice(at, 1);
    }
    this.record(box, f, index, true);
  }

  private record(box: Mailbox, f: ContactFolder, index: number, removed: boolean): void {
    this.seq++;
    f.log.append(this.seq, index, removed);
    box.touched = true;
  }
}
