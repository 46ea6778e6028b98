import { randomUUID } from 'node:crypto';
import { Entity, Index, ManyToOne, OneToOne, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { updatedNow } from '../clock.js';
import { Pbx } from './pbx.entity.js';

/**
 * The sync rules of one PBX (U1–U6, G1–G2) and where its directory reading stands:
 * delta links per kind, with the `$select` the users link was made with.
 */
@Entity({ tableName: 'sync_settings' })
export class SyncSettings {
  [OptionalProps]?:
    | 'userRule'
    | 'groupRule'
    | 'userRuleSavedAt'
    | 'groupRuleSavedAt'
    | 'contactRule'
    | 'contactRuleSavedAt'
    | 'usersDeltaLink'
    | 'usersDeltaSelect'
    | 'groupsDeltaLink'
    | 'lastFullReadAt'
    | 'guardMaxDeletes'
    | 'guardMaxRatio'
    | 'guardWindowHours'
    | 'guardApprovedAt'
    | 'changeDebounceSeconds'
    | 'changeThreshold'
    | 'pollMinutes'
    | 'lastPolledAt'
    | 'scheduleFrequency'
    | 'scheduleDays'
    | 'scheduleTime'
    | 'updatedAt';

  @PrimaryKey({ type: 'string', length: 36 })
  id: string = randomUUID();

  @OneToOne(() => Pbx, { owner: true, unique: true, deleteRule: 'cascade' })
  pbx!: Pbx;

  /** JSON of the domain's UserSyncRule; null until first saved. */
  @Property({ type: 'text', nullable: true })
  userRule: string | null = null;

  @Property({ type: 'text', nullable: true })
  groupRule: string | null = null;

  @Property({ type: Date, nullable: true })
  userRuleSavedAt: Date | null = null;

  /** JSON of the domain's ContactSyncRule (C1, C3); null until first saved. */
  @Property({ type: 'text', nullable: true })
  contactRule: string | null = null;

  @Property({ type: Date, nullable: true })
  contactRuleSavedAt: Date | null = null;

  @Property({ type: Date, nullable: true })
  groupRuleSavedAt: Date | null = null;

  @Property({ type: 'text', nullable: true })
  usersDeltaLink: string | null = null;

  /** The extra user properties the users delta link tracks (comma-separated, sorted). */
  @Property({ type: 'string', length: 1000, nullable: true })
  usersDeltaSelect: string | null = null;

  @Property({ type: 'text', nullable: true })
  groupsDeltaLink: string | null = null;

  @Property({ type: Date, nullable: true })
  lastFullReadAt: Date | null = null;

  /** Deletion guard: hold a run's deletes when they are more than this many ... */
  @Property({ type: 'integer' })
  guardMaxDeletes: number = 10;

  /** ... and more than this share of the synced extensions (0..1). */
  @Property({ type: 'double' })
  guardMaxRatio: number = 0.1;

  /** ... counting the deletes the syncs applied over this many hours (0: one run alone). */
  @Property({ type: 'integer', default: 24 })
  guardWindowHours: number = 24;

  /** The last approval of held deletes: the guard's count starts again there. */
  @Property({ type: Date, nullable: true })
  guardApprovedAt: Date | null = null;

  /** T2: a sync this many seconds after the first change notification ... */
  @Property({ type: 'integer' })
  changeDebounceSeconds: number = 600;

  /** ... or at once when this many change events have gathered. */
  @Property({ type: 'integer' })
  changeThreshold: number = 10;

  /** Without a public URL (no notifications), the directory is polled with delta links this often. */
  @Property({ type: 'integer' })
  pollMinutes: number = 5;

  @Property({ type: Date, nullable: true })
  lastPolledAt: Date | null = null;

  /** T1: DAILY or WEEKLY, at `scheduleTime` ("HH:MM") in the PBX's time zone; default daily 00:30. */
  @Property({ type: 'string', length: 8 })
  scheduleFrequency: string = 'DAILY';

  /** WEEKLY: the days, comma-separated in MON..SUN order (e.g. "MON,THU"); empty for DAILY. */
  @Property({ type: 'string', length: 32 })
  scheduleDays: string = '';

  @Property({ type: 'string', length: 5 })
  scheduleTime: string = '00:30';

  @Property({ type: Date, onUpdate: updatedNow })
  updatedAt: Date = new Date();
}

/**
 * The directory as last read (users and groups), kept between syncs so a delta round can be
 * merged into it and the planners still see everything. One row per object; `data` is the
 * domain record as JSON.
 */
@Entity({ tableName: 'directory_object' })
@Index({ name: 'directory_object_pbx_kind_index', properties: ['pbx', 'kind'] })
export class DirectoryObject {
  /** `${pbxId}:${kind}:${objectId}`: one row per object per PBX. */
  @PrimaryKey({ type: 'string', length: 120 })
  key!: string;

  @ManyToOne(() => Pbx, { deleteRule: 'cascade' })
  pbx!: Pbx;

  @Property({ type: 'string', length: 5 })
  kind!: 'USER' | 'GROUP';

  @Property({ type: 'text' })
  data!: string;
}

/** One sync run (U8). */
@Entity({ tableName: 'sync_run' })
@Index({ name: 'sync_run_pbx_queued_index', properties: ['pbx', 'queuedAt'] })
export class SyncRun {
  [OptionalProps]?:
    | 'status'
    | 'mode'
    | 'startedAt'
    | 'finishedAt'
    | 'counts'
    | 'message'
    | 'error'
    | 'graphRequests'
    | 'phase'
    | 'done'
    | 'total'
    | 'pbxFingerprint';

  @PrimaryKey({ type: 'string', length: 36 })
  id: string = randomUUID();

  @ManyToOne(() => Pbx, { deleteRule: 'cascade' })
  pbx!: Pbx;

  /** QUEUED, RUNNING, SUCCEEDED, FAILED, HELD */
  @Property({ type: 'string', length: 16 })
  status: string = 'QUEUED';

  /** FULL or DELTA (null until the run knows) */
  @Property({ type: 'string', length: 8, nullable: true })
  mode: string | null = null;

  /** MANUAL, SCHEDULE, CHANGE, RULES_SAVED, POLL */
  @Property({ type: 'string', length: 16 })
  trigger!: string;

  /** USERS, GROUPS or both, comma-separated */
  @Property({ type: 'string', length: 32 })
  scopes!: string;

  @Property({ type: Date })
  queuedAt!: Date;

  @Property({ type: Date, nullable: true })
  startedAt: Date | null = null;

  @Property({ type: Date, nullable: true })
  finishedAt: Date | null = null;

  /** JSON: counts per action and per scope */
  @Property({ type: 'text', nullable: true })
  counts: string | null = null;

  /** What a person should know (e.g. "the delta token had expired: read in full"). */
  @Property({ type: 'string', length: 2000, nullable: true })
  message: string | null = null;

  @Property({ type: 'string', length: 2000, nullable: true })
  error: string | null = null;

  @Property({ type: 'integer', nullable: true })
  graphRequests: number | null = null;

  /** QUEUED, READING_DIRECTORY, PLANNING, APPLYING, then the final status */
  @Property({ type: 'string', length: 24 })
  phase: string = 'QUEUED';

  @Property({ type: 'integer' })
  done: number = 0;

  @Property({ type: 'integer' })
  total: number = 0;

  /** The PBX directory as this run left it (extension and group counts and latest changes). */
  @Property({ type: 'string', length: 200, nullable: true })
  pbxFingerprint: string | null = null;
}

/** One line of a run's result: an object, what was done to it, and why. */
@Entity({ tableName: 'sync_run_item' })
@Index({ name: 'sync_run_item_run_action_index', properties: ['run', 'action', 'seq'] })
// A run reports a contact once (C4): the contact sync looks its rows up by object.
@Index({ name: 'sync_run_item_run_object_index', properties: ['run', 'objectId'] })
export class SyncRunItem {
  [OptionalProps]?: 'detail' | 'number' | 'objectSecondary' | 'changes' | 'state';

  @PrimaryKey({ type: 'string', length: 36 })
  id: string = randomUUID();

  @ManyToOne(() => SyncRun, { deleteRule: 'cascade' })
  run!: SyncRun;

  /** Order within the run (plan order), for stable paging. */
  @Property({ type: 'integer' })
  seq!: number;

  /** USER, GROUP or CONTACT */
  @Property({ type: 'string', length: 10 })
  scope!: string;

  @Property({ type: 'string', length: 10 })
  action!: string;

  @Property({ type: 'string', length: 40 })
  reason!: string;

  /** The Entra object id */
  @Property({ type: 'string', length: 64 })
  objectId!: string;

  @Property({ type: 'string', length: 300 })
  objectName!: string;

  /** The user principal name (users) */
  @Property({ type: 'string', length: 300, nullable: true })
  objectSecondary: string | null = null;

  @Property({ type: 'string', length: 7, nullable: true })
  number: string | null = null;

  /** The extension or extension group acted on */
  @Property({ type: 'string', length: 36, nullable: true })
  targetId: string | null = null;

  @Property({ type: 'string', length: 1000, nullable: true })
  detail: string | null = null;

  /** JSON of the field changes (UPDATE / ASSOCIATE) */
  @Property({ type: 'text', nullable: true })
  changes: string | null = null;

  /** APPLIED, HELD (deletion guard), REPORTED (SKIP / FAIL), APPROVED */
  @Property({ type: 'string', length: 10 })
  state: string = 'APPLIED';
}

/**
 * Where the contact sync stands with one folder of one mailbox (C1–C4): whose contacts it
 * fills (a user's extension or a shared mailbox's phonebook) and the delta link of its last
 * finished round (null: none yet, the next round reads in full). Made before the first
 * contact of the folder is written, so the sync always knows whose contacts to take away.
 */
@Entity({ tableName: 'contact_folder_cursor' })
@Index({ name: 'contact_folder_cursor_pbx_mailbox_index', properties: ['pbx', 'mailboxId'] })
export class ContactFolderCursorRow {
  [OptionalProps]?: 'deltaLink' | 'updatedAt';

  /** `${pbxId}:${mailboxId}:${folderId}` */
  @PrimaryKey({ type: 'string', length: 400 })
  key!: string;

  @ManyToOne(() => Pbx, { deleteRule: 'cascade' })
  pbx!: Pbx;

  @Property({ type: 'string', length: 64 })
  mailboxId!: string;

  @Property({ type: 'string', length: 300 })
  folderId!: string;

  /** PERSONAL or SHARED */
  @Property({ type: 'string', length: 8 })
  kind!: string;

  /** EXTENSION or PHONEBOOK */
  @Property({ type: 'string', length: 10 })
  ownerKind!: string;

  @Property({ type: 'string', length: 36 })
  ownerId!: string;

  @Property({ type: 'text', nullable: true })
  deltaLink: string | null = null;

  @Property({ type: Date, onUpdate: updatedNow })
  updatedAt: Date = new Date();
}

/** What one run did to the contacts of one mailbox (summed into the run's counts). */
@Entity({ tableName: 'contact_run_tally' })
export class ContactRunTally {
  [OptionalProps]?: 'created' | 'updated' | 'deleted' | 'skipped' | 'failed';

  @ManyToOne(() => SyncRun, { primary: true, deleteRule: 'cascade' })
  run!: SyncRun;

  @PrimaryKey({ type: 'string', length: 64 })
  mailboxId!: string;

  @Property({ type: 'integer' })
  created: number = 0;

  @Property({ type: 'integer' })
  updated: number = 0;

  @Property({ type: 'integer' })
  deleted: number = 0;

  @Property({ type: 'integer' })
  skipped: number = 0;

  @Property({ type: 'integer' })
  failed: number = 0;
}
