import type { DirectorySnapshot } from '../../domain/directory-delta.js';
import type { Steps } from '../../domain/steps.js';
import type { PlanItemLike, PlanSummary, SyncPlan } from '../../domain/sync-plan.types.js';
import type { LinkusSessions } from '../linkus-sessions.js';
import type { MailboxJobs } from '../ports/contact-sync.port.js';
import type { DirectoryReader } from '../ports/directory.port.js';
import type { EventPublisher } from '../ports/events.port.js';
import type { AppLog } from '../ports/log.port.js';
import type { MicrosoftIdentity } from '../ports/microsoft.port.js';
import type { Store } from '../ports/store.port.js';
import type { SyncRunData, SyncRunItemData, SyncScope, SyncSettingsData } from '../ports/sync.port.js';
import type { WelcomeEmailQueue } from '../ports/welcome-email.port.js';
import type { SecretBox } from '../secret-box.js';
import type { MailboxSyncDeps } from './contact-mailbox.js';
import type { ScopedDirectory } from './scoped-directory.js';

/** What a sync run (and a preview) needs. */
export interface SyncDeps {
  store: Store;
  reader: DirectoryReader;
  /** A run checks the app's access (secret, application permissions) before it reads. */
  identity: MicrosoftIdentity;
  /** Publishes the integration when a run finds its health changed. */
  events: EventPublisher;
  secrets: SecretBox;
  now: () => Date;
  /** Called with the run at each phase and every applied batch (live progress). */
  progress: (run: SyncRunData) => void;
  /**
   * The `mail` queue (U6). The welcome emails are recorded with the extensions they greet;
   * the jobs are queued once the run's changes are committed. When the queue fails they stay
   * QUEUED and the workers' sweep queues them.
   */
  welcomeEmailQueue: WelcomeEmailQueue;
  log: AppLog;
  /**
   * C1–C4: the contact sync's mailbox work. `jobs`: one BullMQ job per mailbox (a run's worker
   * gives it); without it (a preview, a run called directly) mailboxes are synced in the run itself.
   */
  contacts: MailboxSyncDeps & { jobs?: MailboxJobs };
  /** S4: the Linkus sessions of extensions a run deleted or released end after each batch. */
  linkusSessions: Pick<LinkusSessions, 'afterDirectoryChange'>;
}

/** One row of a run's report, as the run records it. */
export type RunItemRow = Omit<SyncRunItemData, 'id' | 'runId'>;

/** Where a batch is applied: the run, and the clock reading the batch stamps its rows with. */
export interface BatchContext {
  pbxId: string;
  runId: string;
  now: Date;
}

/**
 * One kind of reconciliation (users → extensions, groups → extension groups, later
 * contacts): the steps of the run pipeline (`sync-run.ts`) that differ from kind to kind.
 * The pipeline calls them in this order: loadCurrent → plan → guard → applyBatch (per batch,
 * in a transaction) → itemRow (report). `Current` is what the kind reads of the PBX to plan.
 */
export interface SyncKind<I extends PlanItemLike, Current> {
  /** The scope a run asks for (`USERS`). */
  readonly scope: SyncScope;
  /** The scope of its report rows (`USER`). */
  readonly itemScope: SyncRunItemData['scope'];
  /** The kind's rule is set (a kind with no rule does not run). */
  hasRule(settings: SyncSettingsData): boolean;
  /** The PBX side as it is now (I/O). */
  loadCurrent(store: Store, pbxId: string): Promise<Current>;
  /**
   * Issue 16: the PBX side a plan of the scoped directory's objects needs (indexed lookups
   * only), with the scope for `plan`. `extensionsChanged`: this run created, associated or
   * released extensions (the groups of their users may gain or lose members). A kind without
   * it makes a delta run plan every object.
   */
  loadScoped?(
    store: Store,
    pbxId: string,
    scoped: ScopedDirectory,
    settings: SyncSettingsData,
    run: { extensionsChanged: boolean },
  ): Promise<Current>;
  /** PLAN (pure, src/domain): the diff between the directory and the PBX, in steps (it must not block). */
  plan(
    directory: DirectorySnapshot,
    current: Current,
    settings: SyncSettingsData,
    now: Date,
  ): Steps<SyncPlan<I>>;
  /**
   * GUARD (pure, src/domain): the policies, plan → plan (deletion guard, capacity, limits).
   * `recentDeletes`: what earlier runs deleted of this kind within the guard's window.
   */
  guard(plan: SyncPlan<I>, current: Current, settings: SyncSettingsData, recentDeletes: number): SyncPlan<I>;
  /**
   * APPLY one batch of change items inside the caller's transaction (which also records
   * their report rows). Returns the ids of the PBX objects it created, by directory object id.
   */
  applyBatch(tx: Store, at: BatchContext, batch: readonly I[]): Promise<ReadonlyMap<string, string>>;
  /** The directory object an item is about (the key of `applyBatch`'s created ids). */
  objectId(item: I): string;
  /** REPORT: the item as a row of the run's report. */
  itemRow(item: I, seq: number, state: SyncRunItemData['state'], createdId?: string): RunItemRow;
  /**
   * FAN OUT (contacts): items whose work is a job of their own (one per mailbox), handed to
   * the run's jobs once the kind's batches are applied, instead of being applied in batches.
   */
  fansOut?(item: I): boolean;
}

export const EMPTY_COUNTS: PlanSummary = {
  create: 0,
  update: 0,
  associate: 0,
  delete: 0,
  release: 0,
  skip: 0,
  fail: 0,
  held: 0,
};

/** SKIP and FAIL only report: they change nothing on the PBX. */
export function reportsOnly(item: PlanItemLike): boolean {
  return item.action === 'SKIP' || item.action === 'FAIL';
}
