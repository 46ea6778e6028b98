import type { DirectoryGroup, DirectoryUser } from '../../domain/directory.types.js';
import {
  applyDirectoryDelta,
  type DirectorySnapshot,
  directorySnapshotSteps,
  type GroupDeltaRecord,
  type UserDeltaRecord,
} from '../../domain/directory-delta.js';
import type { UserSyncRule } from '../../domain/sync-rule.types.js';
import type { DirectoryReader, DirectoryStream } from '../ports/directory.port.js';
import { type MicrosoftAppCredentials, MicrosoftError } from '../ports/microsoft.port.js';
import type { Store } from '../ports/store.port.js';
import type { SyncSettingsData } from '../ports/sync.port.js';
import { stepByStep } from './step-by-step.js';

/**
 * The directory source of a run (users and groups): the READ step and the PERSIST step of
 * the pipeline. Reading never writes; what the next run starts from (snapshot rows, delta
 * links) is written by `persistDirectoryRead` only once the run has applied its plan.
 */

/** The Graph user properties U3 FROM_PROPERTY needs read (top-level names, sorted). */
export function extraUserProperties(rule: UserSyncRule | null): string[] {
  if (rule?.numbering.mode !== 'FROM_PROPERTY') return [];
  return [rule.numbering.property.split('.')[0]];
}

/**
 * One kind of directory object as read: all of them (full read) or what changed (delta round).
 * A full read also has the changes made while it ran (the catch-up round from the delta link
 * taken before it), to be applied on top of `full`.
 */
interface KindRead<Full, Change> {
  /**
   * Every object, when this kind was read in full (else null). `directorySnapshot` empties the
   * array once the snapshot holds its objects (issue 16 item 3: a run does not keep the read's
   * groups and their member ids beside the snapshot's); non-null still says "read in full".
   */
  full: Full[] | null;
  changes: Change[] | null;
  deltaLink: string;
}

/** What the read step found: enough to plan, and enough to persist afterwards. */
export interface DirectoryRead {
  mode: 'FULL' | 'DELTA';
  /** Sentences for the run's message (a delta link that expired, ...). */
  notes: string[];
  /** When the read started (the next run's `lastFullReadAt` after a full read). */
  readAt: Date;
  /** The `$select` extra of the users read (a change of it forces a full read next time). */
  usersSelect: string;
  users: KindRead<DirectoryUser, UserDeltaRecord>;
  groups: KindRead<DirectoryGroup, GroupDeltaRecord>;
  /** True when both delta rounds came back empty: nothing changed in the directory. */
  empty: boolean;
}

async function collect<T>(pages: AsyncIterable<readonly T[]>, signal?: AbortSignal): Promise<T[]> {
  const all: T[] = [];
  for await (const page of pages) {
    signal?.throwIfAborted();
    for (const x of page) all.push(x);
  }
  return all;
}

/** One kind of object: a delta round when a link is usable, else (or when Graph says the link expired) a full read. */
async function readKind<Full, Change>(
  delta: (link: string) => DirectoryStream<Change>,
  link: string | false | null | undefined,
  full: () => Promise<DirectoryStream<Full>>,
  expiredNote: string,
  notes: string[],
  signal?: AbortSignal,
): Promise<KindRead<Full, Change>> {
  if (link) {
    try {
      const stream = delta(link);
      const changes = await collect(stream.pages, signal);
      return { full: null, changes, deltaLink: stream.deltaLink() };
    } catch (err) {
      if (!(err instanceof MicrosoftError && err.code === 'DELTA_EXPIRED')) throw err;
      notes.push(expiredNote);
    }
  }
  const stream = await full();
  const all = await collect(stream.pages, signal);
  return { full: all, changes: null, deltaLink: stream.deltaLink() };
}

/**
 * Catch up after a full read (issue 16 item 2): its delta link was taken before the read (or
 * at the start of its round), so one round from it brings what changed while the reads ran: a
 * user added, changed or deleted meanwhile ends up right in this run, not only in the next.
 * Made once both kinds are read, so it covers the whole read. An object read in full and
 * changed again is applied twice, which delta records allow (whole objects, member sets).
 */
async function catchUp<Full, Change>(
  kind: KindRead<Full, Change>,
  delta: (link: string) => DirectoryStream<Change>,
  signal?: AbortSignal,
): Promise<KindRead<Full, Change>> {
  if (!kind.full) return kind;
  const round = delta(kind.deltaLink);
  const changes = await collect(round.pages, signal);
  return { full: kind.full, changes, deltaLink: round.deltaLink() };
}

/**
 * READ: a delta round from the stored links when they are usable, else a full read (first
 * sync, a rule that needs other user properties, or a delta link Graph no longer honours,
 * which the result then says). Users and groups are read side by side (the reader reads each
 * in parallel partitions at real latency), then a kind read in full catches up (`catchUp`).
 */
export async function readDirectory(
  reader: DirectoryReader,
  app: MicrosoftAppCredentials,
  settings: SyncSettingsData,
  now: Date,
  signal?: AbortSignal,
): Promise<DirectoryRead> {
  const notes: string[] = [];
  const extra = extraUserProperties(settings.userRule);
  const usersSelect = extra.join(',');
  if (settings.usersDeltaLink && settings.usersDeltaSelect !== usersSelect) {
    notes.push('The user properties the rules need changed: users were read in full.');
  }
  const usersLink =
    settings.lastFullReadAt && settings.usersDeltaSelect === usersSelect && settings.usersDeltaLink;
  const groupsLink = settings.lastFullReadAt && settings.groupsDeltaLink;
  const userChanges = (link: string) => reader.readUserChanges(app, link);
  const groupChanges = (link: string) => reader.readGroupChanges(app, link);
  const [usersRead, groupsRead] = await Promise.all([
    readKind(
      userChanges,
      usersLink,
      () => reader.readUsers(app, { extraProperties: extra }),
      'The users delta token had expired (Graph asked for a full resync): users were read in full.',
      notes,
      signal,
    ),
    readKind(
      groupChanges,
      groupsLink,
      () => reader.readGroups(app),
      'The groups delta token had expired (Graph asked for a full resync): groups were read in full.',
      notes,
      signal,
    ),
  ]);
  const [users, groups] = await Promise.all([
    catchUp(usersRead, userChanges, signal),
    catchUp(groupsRead, groupChanges, signal),
  ]);
  const mode = users.full || groups.full ? 'FULL' : 'DELTA';
  const empty = mode === 'DELTA' && !users.changes?.length && !groups.changes?.length;
  return { mode, notes, readAt: now, usersSelect, users, groups, empty };
}

/**
 * The directory the planners see: what was read in full, else the stored snapshot with the
 * delta rounds applied. Loads the stored snapshot only when a kind was read as changes.
 */
export async function directorySnapshot(
  store: Store,
  pbxId: string,
  read: DirectoryRead,
  now: Date,
): Promise<DirectorySnapshot> {
  const { users, groups } = read;
  const stored = users.full && groups.full ? { users: [], groups: [] } : await store.sync.loadSnapshot(pbxId);
  const base = await stepByStep(
    directorySnapshotSteps(users.full ?? stored.users, groups.full ?? stored.groups),
  );
  // The snapshot holds the objects now (groups as copies whose member ids are the users' own
  // strings): the read's arrays are let go, so that the read's copies are garbage from here on.
  if (users.full) users.full.length = 0;
  if (groups.full) groups.full.length = 0;
  if (!users.changes?.length && !groups.changes?.length) return base;
  return applyDirectoryDelta(base, { users: users.changes ?? [], groups: groups.changes ?? [] }, now);
}

/** The objects a delta round touched, as they now are, and the ids it removed. */
function touched<T extends { id: string }>(
  changes: ReadonlyArray<{ id: string }>,
  now: ReadonlyMap<string, T>,
) {
  const ids = new Set(changes.map((c) => c.id));
  const changed: T[] = [];
  const removed: string[] = [];
  for (const id of ids) {
    const object = now.get(id);
    if (object) changed.push(object);
    else removed.push(id);
  }
  return { changed, removed };
}

/**
 * PERSIST: once the run has applied, the next run starts from this read: the snapshot rows
 * (replaced after a full read, patched after a delta round) and the new delta links. Call
 * it in one transaction. `snapshot` is null when the run planned nothing (empty delta rounds).
 */
export async function persistDirectoryRead(
  store: Store,
  pbxId: string,
  read: DirectoryRead,
  snapshot: DirectorySnapshot | null,
  settings: Pick<SyncSettingsData, 'lastFullReadAt'>,
): Promise<void> {
  if (snapshot) {
    if (read.users.full) await store.sync.replaceSnapshot(pbxId, 'USER', [...snapshot.users.values()]);
    else if (read.users.changes?.length) {
      const { changed, removed } = touched(read.users.changes, snapshot.users);
      await store.sync.patchSnapshot(pbxId, 'USER', changed, removed);
    }
    if (read.groups.full) await store.sync.replaceSnapshot(pbxId, 'GROUP', [...snapshot.groups.values()]);
    else if (read.groups.changes?.length) {
      const { changed, removed } = touched(read.groups.changes, snapshot.groups);
      await store.sync.patchSnapshot(pbxId, 'GROUP', changed, removed);
    }
  }
  await store.sync.updateSettings(pbxId, {
    usersDeltaLink: read.users.deltaLink,
    usersDeltaSelect: read.usersSelect,
    groupsDeltaLink: read.groups.deltaLink,
    ...(read.mode === 'FULL' || !settings.lastFullReadAt ? { lastFullReadAt: read.readAt } : {}),
  });
}
