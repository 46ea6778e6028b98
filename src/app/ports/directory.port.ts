import type { DirectoryGroup, DirectoryUser, GroupKind } from '../../domain/directory.types.js';
import type { GroupDeltaRecord, UserDeltaRecord } from '../../domain/directory-delta.js';
import type { MicrosoftAppCredentials } from './microsoft.port.js';

/**
 * Reading the organisation's directory from Microsoft Graph, as plain domain records.
 * src/m365 implements it (graph-client: paging, delta links, throttling, typed errors).
 * Every failure is a `MicrosoftError`; a delta link Graph no longer honours is
 * `DELTA_EXPIRED` (the caller then reads in full).
 */

/** A stream of pages; `deltaLink()` is known once every page has been read. */
export interface DirectoryStream<T> {
  pages: AsyncIterable<readonly T[]>;
  deltaLink(): string;
}

export interface UserReadOptions {
  /** Graph user properties to read besides the ones the sync always needs (U3 FROM_PROPERTY). */
  extraProperties: readonly string[];
}

export interface DirectoryGroupSummary {
  id: string;
  displayName: string;
  kind: GroupKind;
  description: string | null;
}

/** C3: a shared mailbox, for the picker. */
export interface SharedMailboxSummary {
  id: string;
  displayName: string;
  mail: string;
}

export interface GraphRequestStats {
  /** HTTP requests sent to Graph (a `$batch` counts once), retries included. */
  requests: number;
  /** Of which answered 429 / 503 and retried. */
  throttled: number;
}

export interface DirectoryReader {
  /**
   * Every user (`GET /users`, `$select` only what is needed, `$top=999`), plus a users delta
   * link taken *before* the read (`$deltatoken=latest`), so the next delta round replays
   * anything that changed while the read ran. Soft-deleted users (recycle bin) come too,
   * as `deletionState: 'SOFT_DELETED'`.
   */
  readUsers(app: MicrosoftAppCredentials, options: UserReadOptions): Promise<DirectoryStream<DirectoryUser>>;
  /** One delta round of users from `deltaLink` (the `$select` is the one the link was made with). */
  readUserChanges(app: MicrosoftAppCredentials, deltaLink: string): DirectoryStream<UserDeltaRecord>;
  /** Every group with its direct members (users and groups), plus a groups delta link. */
  readGroups(app: MicrosoftAppCredentials): Promise<DirectoryStream<DirectoryGroup>>;
  /** One delta round of groups from `deltaLink`, with `members@delta` as `membersDelta`. */
  readGroupChanges(app: MicrosoftAppCredentials, deltaLink: string): DirectoryStream<GroupDeltaRecord>;
  /** Users that are members of each group directly or through nested groups (`transitiveMembers`). */
  readTransitiveMemberUsers(
    app: MicrosoftAppCredentials,
    groupIds: readonly string[],
  ): Promise<Map<string, readonly string[]>>;
  /** The group picker (G1): groups whose name starts with / contains `search`, at most `first`. */
  searchGroups(app: MicrosoftAppCredentials, search: string, first: number): Promise<DirectoryGroupSummary[]>;
  /** C3, the shared mailbox picker: users whose sign-in is blocked and that have a mailbox (see the adapter). */
  searchSharedMailboxes(
    app: MicrosoftAppCredentials,
    search: string,
    first: number,
  ): Promise<SharedMailboxSummary[]>;
  /** Which of `ids` exist (for validating rules); unknown ids are left out. */
  findGroups(app: MicrosoftAppCredentials, ids: readonly string[]): Promise<DirectoryGroupSummary[]>;
  /** Requests made so far by this reader, for every caller (benchmarks, metrics). */
  stats(): GraphRequestStats;
  /**
   * Runs `work` with a request counter of its own: `stats()` given to it counts the Graph
   * requests made within `work` only, while other work (another PBX's run) shares this reader.
   * Not nested: an inner `tracked` counts apart from the outer one.
   */
  tracked<T>(work: (stats: () => GraphRequestStats) => Promise<T>): Promise<T>;
}
