import type { DirectoryGroup, DirectoryUser } from '../../domain/directory.types.js';
import type { Schedule } from '../../domain/schedule.js';
import type { GroupPlanItem, PlanSummary, UserPlanItem } from '../../domain/sync-plan.types.js';
import type { ContactSyncRule, GroupSyncRule, UserSyncRule } from '../../domain/sync-rule.types.js';
import type { Page, PageRequest } from './store.port.js';

export type SyncScope = 'USERS' | 'GROUPS' | 'CONTACTS';
export type SyncRunStatus = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'HELD';
export type SyncPhase =
  | 'QUEUED'
  | 'READING_DIRECTORY'
  | 'PLANNING'
  | 'APPLYING'
  | 'SUCCEEDED'
  | 'FAILED'
  | 'HELD';
export type SyncTrigger = 'MANUAL' | 'SCHEDULE' | 'CHANGE' | 'RULES_SAVED' | 'POLL';
export type ItemAction = 'CREATE' | 'UPDATE' | 'ASSOCIATE' | 'DELETE' | 'RELEASE' | 'SKIP' | 'FAIL';

/** U8 counts per scope; `contacts` once a run synced contacts (C1–C4). */
export interface RunCounts {
  users: PlanSummary;
  groups: PlanSummary;
  contacts?: PlanSummary;
}

export interface SyncSettingsData {
  pbxId: string;
  userRule: UserSyncRule | null;
  groupRule: GroupSyncRule | null;
  userRuleSavedAt: Date | null;
  groupRuleSavedAt: Date | null;
  /** C1, C3 */
  contactRule: ContactSyncRule | null;
  contactRuleSavedAt: Date | null;
  usersDeltaLink: string | null;
  usersDeltaSelect: string | null;
  groupsDeltaLink: string | null;
  lastFullReadAt: Date | null;
  guardMaxDeletes: number;
  guardMaxRatio: number;
  /** The deletion guard counts the deletes applied over this many hours (0: one run alone). */
  guardWindowHours: number;
  /** The last approval of held deletes: the guard's window starts no earlier. */
  guardApprovedAt: Date | null;
  changeDebounceSeconds: number;
  changeThreshold: number;
  pollMinutes: number;
  lastPolledAt: Date | null;
  /** T1: when the PBX syncs on its own (in the PBX's time zone). */
  schedule: Schedule;
}

export interface SyncRunData {
  id: string;
  pbxId: string;
  status: SyncRunStatus;
  mode: 'FULL' | 'DELTA' | null;
  trigger: SyncTrigger;
  scopes: SyncScope[];
  queuedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** U8 counts per scope (`held`: deletes the guard held). */
  counts: RunCounts | null;
  message: string | null;
  error: string | null;
  graphRequests: number | null;
  phase: SyncPhase;
  done: number;
  total: number;
  pbxFingerprint?: string | null;
}

export interface SyncRunItemData {
  id: string;
  runId: string;
  seq: number;
  scope: 'USER' | 'GROUP' | 'CONTACT';
  action: ItemAction;
  reason: string;
  objectId: string;
  objectName: string;
  objectSecondary: string | null;
  number: string | null;
  targetId: string | null;
  detail: string | null;
  changes: string | null;
  state: 'APPLIED' | 'HELD' | 'REPORTED' | 'APPROVED' | 'DISCARDED';
}

/** A PBX that a delta poll may be for (T2 without change notifications). */
export interface PollCandidate {
  pbxId: string;
  lastPolledAt: Date | null;
  pollMinutes: number;
}

export interface SyncRepository {
  getSettings(pbxId: string): Promise<SyncSettingsData>;
  /**
   * Issue 16 item 4: every PBX whose integration is CONNECTED, that has both delta links and
   * holds no change subscription other than of `ignoredResources` (e.g. presence), in one
   * statement however many PBXs there are; each with when it was last polled and its interval.
   */
  pollCandidates(ignoredResources: readonly string[]): Promise<PollCandidate[]>;
  updateSettings(pbxId: string, patch: Partial<Omit<SyncSettingsData, 'pbxId'>>): Promise<SyncSettingsData>;

  /** The directory as last read. */
  loadSnapshot(pbxId: string): Promise<{ users: DirectoryUser[]; groups: DirectoryGroup[] }>;
  /** Issue 16: the stored users of these ids (those that are stored), by their keys. */
  loadSnapshotUsers(pbxId: string, ids: readonly string[]): Promise<DirectoryUser[]>;
  /** Issue 16: the stored groups of these ids (those that are stored), by their keys. */
  loadSnapshotGroups(pbxId: string, ids: readonly string[]): Promise<DirectoryGroup[]>;
  /** Replaces the stored users (or groups) with exactly `objects`. */
  replaceSnapshot(
    pbxId: string,
    kind: 'USER' | 'GROUP',
    objects: ReadonlyArray<{ id: string }>,
  ): Promise<void>;
  /** Writes changed objects and forgets removed ones. */
  patchSnapshot(
    pbxId: string,
    kind: 'USER' | 'GROUP',
    changed: ReadonlyArray<{ id: string }>,
    removedIds: readonly string[],
  ): Promise<void>;

  createRun(input: {
    id?: string;
    pbxId: string;
    trigger: SyncTrigger;
    scopes: SyncScope[];
    queuedAt: Date;
  }): Promise<SyncRunData>;
  updateRun(id: string, patch: Partial<Omit<SyncRunData, 'id' | 'pbxId'>>): Promise<SyncRunData>;
  getRun(pbxId: string, id: string): Promise<SyncRunData | null>;
  pageRuns(pbxId: string, page: PageRequest): Promise<Page<SyncRunData>>;
  /** Runs left QUEUED or RUNNING (e.g. by a killed worker). */
  unfinishedRuns(pbxId: string): Promise<SyncRunData[]>;

  addItems(runId: string, items: ReadonlyArray<Omit<SyncRunItemData, 'id' | 'runId'>>): Promise<void>;
  pageItems(
    runId: string,
    filter: { action?: ItemAction | null },
    page: PageRequest,
  ): Promise<Page<SyncRunItemData>>;
  itemsInState(runId: string, state: SyncRunItemData['state']): Promise<SyncRunItemData[]>;
  /** Deletes the syncs of the PBX applied (not held) in runs started at or after `since`. */
  appliedDeletesSince(pbxId: string, since: Date): Promise<{ users: number; groups: number }>;
  /** U8 counts from the recorded items (so a run resumed after a crash counts both parts). */
  itemCounts(runId: string): Promise<{ users: PlanSummary; groups: PlanSummary }>;
  /** Changes whenever any extension or extension group of the PBX is created, changed or deleted. */
  directoryFingerprint(pbxId: string): Promise<string>;
  /**
   * Issue 16: the directory objects the run reported FAIL (users and groups), and the users
   * whose extension it kept while they are in the recycle bin (SKIP USER_SOFT_DELETED: after
   * 30 days they count as gone without any change), by object id.
   */
  failedObjectIds(runId: string): Promise<{ users: string[]; groups: string[] }>;
  /**
   * Issue 16: the users the run reported FAIL for a reason that only the user itself, or
   * another user claiming the same email, can change (DUPLICATE_EMAIL, INVALID_EXTENSION_NUMBER),
   * by object id.
   */
  claimFailures(runId: string): Promise<Map<string, string>>;
  /**
   * Issue 16: true when the run applied a user item that may have freed an email or a number
   * (DELETE, RELEASE, ASSOCIATE, or an UPDATE of the email or the number).
   */
  freedClaims(runId: string): Promise<boolean>;
  /**
   * Issue 16: copies the USER FAIL rows of `fromRunId` for these objects into `toRunId`, numbered
   * from `firstSeq` in their order there; returns how many were copied.
   */
  copyFailRows(
    fromRunId: string,
    toRunId: string,
    objectIds: readonly string[],
    firstSeq: number,
  ): Promise<number>;
  /** The highest `seq` recorded for the run, or -1. */
  maxSeq(runId: string): Promise<number>;
  setItemState(runId: string, ids: readonly string[], state: SyncRunItemData['state']): Promise<void>;
}

/** Applies plans to the PBX directory in bulk (batches inside the caller's transaction). */
export interface DirectoryApplier {
  /** Returns the ids of the extensions it created, by Entra user id. */
  applyUserItems(pbxId: string, items: readonly UserPlanItem[]): Promise<Map<string, string>>;
  /** Returns the ids of the extension groups it created, by Entra group id. */
  applyGroupItems(pbxId: string, items: readonly GroupPlanItem[]): Promise<Map<string, string>>;
}
