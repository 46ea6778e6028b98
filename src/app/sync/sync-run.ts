import type { MailboxPlanItem } from '../../domain/contact-sync.planner.js';
import type { DirectorySnapshot } from '../../domain/directory-delta.js';
import { IntegrationStatus } from '../../domain/integration.js';
import type { GroupSyncPlan, PlanItemLike, SyncPlan, UserSyncPlan } from '../../domain/sync-plan.types.js';
import { appCredentials } from '../integration.js';
import { checkAppAccess, type HealthFinding } from '../integration-health.js';
import type { GraphRequestStats } from '../ports/directory.port.js';
import { MicrosoftError } from '../ports/microsoft.port.js';
import type { IntegrationData, Store } from '../ports/store.port.js';
import type { RunCounts, SyncPhase, SyncRunData, SyncScope, SyncSettingsData } from '../ports/sync.port.js';
import { queueRunWelcomeEmails } from '../welcome-email.js';
import { probeMailboxes } from './contact-probe.js';
import { contactSyncKind, failedMailboxRow, inlineMailboxJobs, mailboxJobSpec } from './contact-sync.kind.js';
import {
  type DirectoryRead,
  directorySnapshot,
  persistDirectoryRead,
  readDirectory,
} from './directory-source.js';
import { groupSyncKind } from './group-sync.kind.js';
import { type ScopedDirectory, scopedDirectory } from './scoped-directory.js';
import { stepByStep } from './step-by-step.js';
import { type BatchContext, EMPTY_COUNTS, reportsOnly, type SyncDeps, type SyncKind } from './sync-kind.js';
import { userSyncKind } from './user-sync.kind.js';

/**
 * The run pipeline: READ the directory (full or delta) → for each kind in order, PLAN (pure)
 * → GUARD (policies) → APPLY in batches → then PERSIST the snapshot and delta links →
 * REPORT (counts, items, progress). A kind plugs in through `SyncKind`; the kinds run in
 * this order because groups take their members from the extensions the users leave (G5), and
 * contacts go to the extensions the users leave (C1). The contact kind fans out: one job per
 * mailbox, waited for before the run reports.
 */
// biome-ignore lint/suspicious/noExplicitAny: the kinds differ in item and PBX-state types.
const KINDS: readonly SyncKind<any, any>[] = [userSyncKind, groupSyncKind, contactSyncKind];

/** How many plan items one transaction applies. */
export const APPLY_BATCH = 2000;

/** Errors worth another attempt of the whole run (the job is retried with backoff). */
export function isRetryable(err: unknown): boolean {
  return err instanceof MicrosoftError && (err.code === 'THROTTLED' || err.code === 'UNAVAILABLE');
}

/**
 * APPLY one batch as one unit of work (call it inside `store.transactional`): the PBX's lock,
 * the kind's changes and the batch's report rows from `firstSeq` on commit together or not
 * at all, so a run resumed after a crash neither repeats nor misses an item.
 */
export async function applyBatch<I extends PlanItemLike>(
  tx: Store,
  kind: SyncKind<I, unknown>,
  at: BatchContext,
  batch: readonly I[],
  firstSeq: number,
): Promise<ReadonlyMap<string, string>> {
  await tx.directory.lockPbx(at.pbxId);
  const created = await kind.applyBatch(tx, at, batch);
  // The report rows a statement at a time (issue 16 item 3): 2,000 rows made at once lived
  // through every INSERT of the batch (on PostgreSQL, a round trip each), long enough to be
  // moved to the old generation, which a first sync does not collect again before it ends.
  for (let i = 0; i < batch.length; i += ITEM_ROWS) {
    const rows = batch
      .slice(i, i + ITEM_ROWS)
      .map((item, n) => kind.itemRow(item, firstSeq + i + n, 'APPLIED', created.get(kind.objectId(item))));
    await tx.sync.addItems(at.runId, rows);
  }
  return created;
}

/** Report rows per `addItems` (one INSERT statement). */
const ITEM_ROWS = 500;

/** "Not synced: 3 users, 1 group (…)", or null when nothing failed. */
export function failureSentence(counts: RunCounts): string | null {
  const parts = [
    counts.users.fail ? `${counts.users.fail.toLocaleString('en-US')} user(s)` : null,
    counts.groups.fail ? `${counts.groups.fail.toLocaleString('en-US')} group(s)` : null,
    counts.contacts?.fail ? `${counts.contacts.fail.toLocaleString('en-US')} mailbox(es)` : null,
    counts.contacts?.skip
      ? `${counts.contacts.skip.toLocaleString('en-US')} contact(s) (C4: incomplete)`
      : null,
  ].filter(Boolean);
  if (!parts.length) return null;
  return `Not synced: ${parts.join(', ')}; the run's items with action FAIL say why, one by one.`;
}

/**
 * Like Promise.all, but a failure is thrown only once every promise has settled: no statement
 * of the run is still under way when it reports its failure.
 */
async function allSettled<T extends readonly unknown[]>(
  promises: T,
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as {
    -readonly [K in keyof T]: Awaited<T[K]>;
  };
}

/** A run stopped because its worker lost the job (its lock): the next attempt resumes it. */
export class RunAbortedError extends Error {}

/** A run stopped because Microsoft refuses the app's access (the integration's health says so). */
export class AccessRefusedError extends Error {
  constructor(readonly finding: HealthFinding) {
    super(`${finding.code}: ${finding.message}`);
  }
}

/** Failures that mean the app's own access may be gone: the health check names what is wrong. */
function mayBeAccessRefused(err: unknown): boolean {
  return (
    err instanceof MicrosoftError &&
    ['CONSENT_REQUIRED', 'INVALID_SECRET', 'SECRET_EXPIRED', 'INVALID_CLIENT'].includes(err.code)
  );
}

/** The kinds a run may do, and why the others cannot run. */
interface RunnableKinds {
  integration: IntegrationData;
  settings: SyncSettingsData;
  kinds: ReadonlyArray<SyncKind<PlanItemLike, unknown>>;
  notes: string[];
}

async function runnableKinds(
  store: Store,
  pbxId: string,
  scopes: readonly SyncScope[],
  draft: Partial<Pick<SyncSettingsData, 'userRule' | 'groupRule'>> = {},
): Promise<RunnableKinds> {
  const [integration, saved] = await Promise.all([
    store.integrations.get(pbxId),
    store.sync.getSettings(pbxId),
  ]);
  const settings = { ...saved, ...draft };
  if (integration.status !== IntegrationStatus.CONNECTED) {
    return {
      integration,
      settings,
      kinds: [],
      notes: [`The integration is ${integration.status}: nothing was synced.`],
    };
  }
  const paused: Record<SyncScope, boolean> = {
    USERS: integration.userSyncPaused,
    GROUPS: integration.groupSyncPaused,
    CONTACTS: integration.contactSyncPaused,
  };
  const label: Record<SyncScope, string> = { USERS: 'User', GROUPS: 'Group', CONTACTS: 'Contact' };
  const notes: string[] = [];
  const kinds = KINDS.filter((kind) => {
    if (!scopes.includes(kind.scope)) return false;
    const why = paused[kind.scope]
      ? `${label[kind.scope]} sync is paused.`
      : !kind.hasRule(settings)
        ? `${label[kind.scope]} sync has no rule yet.`
        : null;
    // Contact sync is optional (C1–C4): a PBX that never set it up is not told so on every run.
    if (why && !(kind.scope === 'CONTACTS' && !kind.hasRule(settings))) notes.push(why);
    return why === null;
  });
  return { integration, settings, kinds, notes };
}

/**
 * The finished runs of the PBX, newest first (the last one first), when the last one still
 * holds: it (covering these scopes) succeeded with no held delete, the PBX directory is as
 * that run left it (same fingerprint: nothing created, edited or deleted by hand that could
 * free a number or an email, or that a plan would repair), and since it started neither the
 * rules, nor the PBX settings (e.g. capacity), nor the integration (pause, resume, ...)
 * changed. Else null.
 */
async function lastRunHolds(
  store: Store,
  pbxId: string,
  runId: string,
  ctx: RunnableKinds,
): Promise<SyncRunData[] | null> {
  // The runs, the PBX directory's fingerprint and the PBX side by side (issue 16).
  const [recent, fingerprint, pbx] = await Promise.all([
    store.sync.pageRuns(pbxId, { first: 10 }),
    store.sync.directoryFingerprint(pbxId),
    store.tenants.findPbx(pbxId),
  ]);
  const finished = recent.edges
    .map((e) => e.node)
    .filter((r) => r.id !== runId && ['SUCCEEDED', 'FAILED', 'HELD'].includes(r.status));
  const last = finished[0];
  if (last?.status !== 'SUCCEEDED' || !last.startedAt || !last.counts) return null;
  if (!ctx.kinds.every((k) => last.scopes.includes(k.scope))) return null;
  if (last.counts.users.held || last.counts.groups.held) return null;
  // Failures stay as they were unless the PBX side changed (a number or an email freed, ...).
  if (!last.pbxFingerprint || last.pbxFingerprint !== fingerprint) return null;
  const since = last.startedAt.getTime();
  const { settings, integration } = ctx;
  const unchanged = [
    settings.userRuleSavedAt,
    settings.groupRuleSavedAt,
    pbx?.updatedAt,
    integration.updatedAt,
  ].every((t) => !t || t.getTime() < since);
  return unchanged ? finished : null;
}

const NO_ITEMS = (c: RunCounts['users']) =>
  c.create + c.update + c.associate + c.delete + c.release + c.skip + c.fail + c.held === 0;

/**
 * Issue 16: when a delta run may plan only what changed, the objects it must plan besides:
 * those the last planning run could not sync (its FAIL items, U10 capacity and G3 limit
 * included), since a change elsewhere may let them through now, and the users whose extension
 * it kept in the recycle bin (U4: gone for good after 30 days, with no change to tell). Null (plan every object)
 * unless the last run still holds. Runs that reported nothing (empty delta rounds, skipped)
 * are looked through to the run that planned; a run that planned reported every object it
 * could not sync, by induction from the last full plan.
 */
async function pendingSinceLastRun(
  store: Store,
  finished: SyncRunData[] | null,
  ctx: RunnableKinds,
): Promise<{ users: string[]; groups: string[]; from: string } | null> {
  if (!finished) return null;
  const users: string[] = [];
  const groups: string[] = [];
  for (const run of finished) {
    if (run.status !== 'SUCCEEDED' || !run.counts || run.counts.users.held || run.counts.groups.held)
      return null;
    if (!ctx.kinds.every((k) => run.scopes.includes(k.scope))) return null;
    const failed = await store.sync.failedObjectIds(run.id);
    users.push(...failed.users);
    groups.push(...failed.groups);
    if (run.mode === 'FULL' || !NO_ITEMS(run.counts.users) || !NO_ITEMS(run.counts.groups))
      return { users, groups, from: run.id };
  }
  return null;
}

/** The longest a planner runs before it lets the event loop turn. */
/**
 * Deletes applied within the deletion guard's window: the last `guardWindowHours`, and no
 * earlier than the last approval of held deletes. A window of 0 hours counts one run alone.
 */
async function recentDeletes(deps: SyncDeps, pbxId: string, settings: SyncSettingsData) {
  if (settings.guardWindowHours <= 0) return { users: 0, groups: 0 };
  const windowStart = deps.now().getTime() - settings.guardWindowHours * 3_600_000;
  const since = Math.max(windowStart, settings.guardApprovedAt?.getTime() ?? 0);
  return deps.store.sync.appliedDeletesSince(pbxId, new Date(since));
}

/**
 * PLAN and GUARD of one kind against the PBX as it is now: of every object, or (`scoped`,
 * issue 16) of the scoped directory's objects only.
 */
async function planKind<I extends PlanItemLike, C>(
  deps: SyncDeps,
  kind: SyncKind<I, C>,
  pbxId: string,
  directory: DirectorySnapshot,
  settings: SyncSettingsData,
  scoped?: { directory: ScopedDirectory; extensionsChanged: boolean },
): Promise<SyncPlan<I>> {
  // What the kind plans against, and the deletes the guard counts, side by side (issue 16).
  const [current, recent] = await Promise.all([
    scoped && kind.loadScoped
      ? kind.loadScoped(deps.store, pbxId, scoped.directory, settings, scoped)
      : kind.loadCurrent(deps.store, pbxId),
    recentDeletes(deps, pbxId, settings),
  ]);
  const diff = await stepByStep(kind.plan(directory, current, settings, deps.now()));
  return kind.guard(diff, current, settings, kind.itemScope === 'USER' ? recent.users : recent.groups);
}

/** What `previewSync` shows: the read and each kind's plan (null: the kind does not run), nothing applied. */
export interface SyncPreview {
  notes: string[];
  read: DirectoryRead | null;
  users: UserSyncPlan | null;
  groups: GroupSyncPlan | null;
  /** C1–C4: the mailboxes a run would sync and the owners whose contacts would go. */
  contacts: SyncPlan<MailboxPlanItem> | null;
}

/**
 * Reads and plans without changing anything (previewSync). Every kind is planned against the
 * PBX as it is now (a preview of groups does not see the extensions the user plan would create).
 */
export async function previewSync(
  deps: SyncDeps,
  pbxId: string,
  scopes: readonly SyncScope[],
  /** Rules planned in place of the saved ones (a preview before saving). */
  draft: Partial<Pick<SyncSettingsData, 'userRule' | 'groupRule'>> = {},
): Promise<SyncPreview> {
  const ctx = await runnableKinds(deps.store, pbxId, scopes, draft);
  if (!ctx.kinds.length) return { notes: ctx.notes, read: null, users: null, groups: null, contacts: null };
  const app = appCredentials(ctx.integration, deps.secrets);
  const read = await readDirectory(deps.reader, app, ctx.settings, deps.now());
  const directory = await directorySnapshot(deps.store, pbxId, read, deps.now());
  const planned = <I extends PlanItemLike, C>(kind: SyncKind<I, C>) =>
    ctx.kinds.some((k) => k.scope === kind.scope)
      ? planKind(deps, kind, pbxId, directory, ctx.settings)
      : null;
  return {
    notes: [...ctx.notes, ...read.notes],
    read,
    users: await planned(userSyncKind),
    groups: await planned(groupSyncKind),
    contacts: await planned(contactSyncKind),
  };
}

/**
 * Runs one sync through the pipeline. A run killed at any point and run again re-plans from
 * what is there and reaches the same end state; a run whose `signal` aborts (its worker lost
 * the job) stops at the next batch boundary and is resumed by the next attempt.
 */
export function runSync(
  deps: SyncDeps,
  pbxId: string,
  runId: string,
  opts: { finalAttempt?: boolean; signal?: AbortSignal } = {},
): Promise<SyncRunData> {
  // The run counts the Graph requests it makes, not those of other PBXs' runs in this process.
  return deps.reader.tracked((requests) => new SyncRun(deps, pbxId, runId, opts, requests).run());
}

class SyncRun {
  private current!: SyncRunData;
  private requestsBefore = 0;
  private done = 0;
  private total = 0;
  private seq = 0;
  /** Issue 16: the users whose FAIL rows this run copies from the last run, not planned again. */
  private carried: ScopedDirectory['carried'] = null;

  constructor(
    private readonly deps: SyncDeps,
    private readonly pbxId: string,
    private readonly runId: string,
    private readonly opts: { finalAttempt?: boolean; signal?: AbortSignal },
    private readonly requests: () => GraphRequestStats,
  ) {}

  /** Records the phase (and the Graph requests so far, added to earlier attempts') and tells progress. */
  private async phase(p: SyncPhase, patch: Partial<SyncRunData> = {}) {
    this.current = await this.deps.store.sync.updateRun(this.runId, {
      phase: p,
      graphRequests: this.requestsBefore + this.requests().requests,
      ...patch,
    });
    this.deps.progress(this.current);
    return this.current;
  }

  private async finish(status: 'SUCCEEDED' | 'HELD', patch: Partial<SyncRunData>) {
    return this.phase(status, { status, finishedAt: this.deps.now(), ...patch });
  }

  /**
   * The objects a scoped delta run must plan besides what changed (with their stored snapshot
   * rows), and the failures that may stand.
   */
  private async pendingWithClaims(lastRun: Promise<SyncRunData[] | null> | null, ctx: RunnableKinds) {
    const { store } = this.deps;
    const pending = await pendingSinceLastRun(store, lastRun ? await lastRun : null, ctx);
    if (!pending) return null;
    // The failures that may stand as they were (see carriedFailures in scoped-directory.ts),
    // and the stored snapshot rows of the users to plan again.
    const [failures, freed, stored] = await Promise.all([
      store.sync.claimFailures(pending.from),
      store.sync.freedClaims(pending.from),
      store.sync.loadSnapshotUsers(this.pbxId, pending.users),
    ]);
    return {
      pending: { ...pending, stored: new Map(stored.map((u) => [u.id, u])) },
      claims: freed ? null : { from: pending.from, failures },
    };
  }

  private checkpoint() {
    if (this.opts.signal?.aborted) {
      throw new RunAbortedError(
        `The worker lost this run's job (${String(this.opts.signal.reason ?? 'lock lost')}): it stopped at a batch boundary and the next attempt resumes it.`,
      );
    }
  }

  async run(): Promise<SyncRunData> {
    const { store } = this.deps;
    const found = await store.sync.getRun(this.pbxId, this.runId);
    if (!found) throw new Error(`No sync run ${this.runId} for PBX ${this.pbxId}`);
    this.current = found;
    if (found.status !== 'QUEUED' && found.status !== 'RUNNING') return found;
    this.requestsBefore = found.graphRequests ?? 0;
    // A run resumed after its worker died numbers its items after its first part.
    this.seq = (await store.sync.maxSeq(this.runId)) + 1;
    const resumed = this.seq > 0;
    let appliedAny = false;
    try {
      await this.phase('READING_DIRECTORY', { status: 'RUNNING', startedAt: this.deps.now(), error: null });
      const ctx = await runnableKinds(store, this.pbxId, found.scopes);
      if (!ctx.kinds.length) {
        return await this.finish('SUCCEEDED', {
          counts: { users: EMPTY_COUNTS, groups: EMPTY_COUNTS },
          message: ctx.notes.join(' '),
        });
      }
      // ACCESS: the secret and the application permissions, with a new app token; what is
      // wrong is recorded as the integration's health and stops the run with its code.
      // READ side by side with it (issue 16: a delta run waits for the longer of the two, not
      // their sum); a run whose access is refused abandons its read.
      const app = appCredentials(ctx.integration, this.deps.secrets);
      // Whether the last run still holds, and what it could not sync (with the failures that may
      // stand as they were, see carriedFailures in scoped-directory.ts), do not depend on the
      // read: asked side by side with it (issue 16), used only when the read allows it.
      const directoryOnly = ctx.kinds.every((k) => !k.fansOut);
      const scopable = ctx.kinds.every((k) => k.loadScoped);
      const lastRun = directoryOnly || scopable ? lastRunHolds(store, this.pbxId, this.runId, ctx) : null;
      const pendingRead = scopable ? this.pendingWithClaims(lastRun, ctx) : null;
      // Awaited below when the read allows a scoped run; otherwise not needed (reads only), and
      // their failure is the read's business then.
      lastRun?.catch(() => undefined);
      pendingRead?.catch(() => undefined);
      const abandon = new AbortController();
      const reading = readDirectory(
        this.deps.reader,
        app,
        ctx.settings,
        this.deps.now(),
        this.opts.signal ? AbortSignal.any([this.opts.signal, abandon.signal]) : abandon.signal,
      );
      // Awaited below, unless the access check ends the run first.
      reading.catch(() => undefined);
      const refused = await checkAppAccess(this.deps, ctx.integration).catch((err: unknown) => {
        abandon.abort(err);
        throw err;
      });
      if (refused) {
        abandon.abort(refused.code);
        throw new AccessRefusedError(refused);
      }
      const read = await reading;
      this.checkpoint();
      const messages = [...ctx.notes, ...read.notes];
      // Both delta rounds came back empty and nothing else changed: nothing to plan, and the
      // stored snapshot (100,000 rows at scale) need not even be loaded.
      // Contacts change in Outlook, not in the directory: a run with contacts always goes on.
      // (The last run still holds: the plan would be the same as last time.)
      if (directoryOnly && read.empty && (await lastRun) !== null) {
        await store.transactional((tx) => persistDirectoryRead(tx, this.pbxId, read, null, ctx.settings));
        return await this.finish('SUCCEEDED', {
          mode: 'DELTA',
          pbxFingerprint: await store.sync.directoryFingerprint(this.pbxId),
          counts: { users: EMPTY_COUNTS, groups: EMPTY_COUNTS },
          message: [
            ...messages,
            'Nothing changed in the directory, the rules or the PBX since the last run.',
          ].join(' '),
        });
      }
      // Issue 16: a delta run on a PBX as the last run left it plans what changed (and what
      // failed last time) only, from snapshot rows and extensions looked up by key.
      let scoped: ScopedDirectory | null = null;
      if (read.mode === 'DELTA' && pendingRead) {
        const found = await pendingRead;
        if (found) {
          const { pending, claims } = found;
          scoped = await scopedDirectory(
            store,
            this.pbxId,
            read,
            ctx.settings,
            { ...pending, claims },
            this.deps.now(),
          );
          this.carried = scoped?.carried ?? null;
        }
      }
      const directory =
        scoped?.snapshot ?? (await directorySnapshot(store, this.pbxId, read, this.deps.now()));
      await this.phase('PLANNING', { mode: read.mode });

      // PLAN → GUARD → APPLY → REPORT, kind after kind.
      let held = 0;
      let heldAfter = 0;
      let extensionsChanged = false;
      for (const kind of ctx.kinds) {
        const plan: SyncPlan<PlanItemLike> = await planKind(
          this.deps,
          kind,
          this.pbxId,
          directory,
          ctx.settings,
          scoped ? { directory: scoped, extensionsChanged } : undefined,
        );
        if (kind.scope === 'USERS')
          extensionsChanged = plan.items.some((i) => ['CREATE', 'ASSOCIATE', 'RELEASE'].includes(i.action));
        appliedAny = (await this.apply(kind, plan)) || appliedAny;
        held += plan.heldDeletes.length;
        if (plan.held) heldAfter += plan.guard?.recentDeletes ?? 0;
      }

      // PERSIST: only now that the plan is applied does the next run start from this read.
      // Then the welcome emails; side by side with these, the fingerprint the next run
      // compares with (issue 16).
      const [, pbxFingerprint] = await allSettled([
        store
          .transactional((tx) => persistDirectoryRead(tx, this.pbxId, read, directory, ctx.settings))
          .then(() => this.queueWelcomeEmails(resumed || appliedAny)),
        store.sync.directoryFingerprint(this.pbxId),
      ]);
      if (held) {
        const window = heldAfter
          ? ` (after ${heldAfter} deleted by earlier syncs in the last ${ctx.settings.guardWindowHours} h)`
          : '';
        messages.push(
          `The deletion guard held ${held} deletion(s)${window}: review them and call approveHeldDeletes to apply them.`,
        );
      }
      // REPORT: a run that could not sync some objects says so, never a bare SUCCEEDED.
      const [counts, tally]: [RunCounts, Partial<RunCounts['users']> | null] = await Promise.all([
        store.sync.itemCounts(this.runId),
        ctx.kinds.some((k) => k.scope === 'CONTACTS') ? store.contactSync.runTally(this.runId) : null,
      ]);
      if (tally) counts.contacts = { ...EMPTY_COUNTS, ...tally };
      const failed = failureSentence(counts);
      if (failed) messages.push(failed);
      return await this.finish(held ? 'HELD' : 'SUCCEEDED', {
        pbxFingerprint,
        counts,
        message: messages.join(' ') || null,
      });
    } catch (err) {
      // The batches committed before the failure created extensions: their emails go out too.
      await this.queueWelcomeEmails(resumed || appliedAny);
      let message = err instanceof MicrosoftError ? `${err.code}: ${err.message}` : (err as Error).message;
      if (mayBeAccessRefused(err)) {
        // Refused halfway (consent revoked, secret deleted during the run): say which and why.
        const found = await checkAppAccess(this.deps, await store.integrations.get(this.pbxId)).catch(
          (checkErr: unknown) => {
            this.deps.log('warn', 'the access check after a refused read failed too', {
              pbxId: this.pbxId,
              err: checkErr instanceof Error ? checkErr.message : String(checkErr),
            });
            return null;
          },
        );
        if (found) message = `${found.code}: ${found.message}`;
      }
      if (err instanceof RunAbortedError || (isRetryable(err) && !this.opts.finalAttempt)) {
        await this.phase('QUEUED', { status: 'QUEUED', error: `Will retry: ${message}` });
        throw err;
      }
      await this.phase('FAILED', {
        status: 'FAILED',
        finishedAt: this.deps.now(),
        error: message.slice(0, 2000),
      });
      return this.current;
    }
  }

  /**
   * APPLY one kind's plan in batches of APPLY_BATCH, each in one transaction with its report
   * rows; then REPORT its skips, failures and held deletes. True when it changed anything.
   */
  private async apply<I extends PlanItemLike>(
    kind: SyncKind<I, unknown>,
    plan: SyncPlan<I>,
  ): Promise<boolean> {
    const { store } = this.deps;
    const changes = plan.items.filter((i) => !reportsOnly(i) && !kind.fansOut?.(i));
    this.total += changes.length;
    await this.phase('APPLYING', { done: this.done, total: this.total });
    for (let i = 0; i < changes.length; i += APPLY_BATCH) {
      this.checkpoint();
      const batch = changes.slice(i, i + APPLY_BATCH);
      const at = { pbxId: this.pbxId, runId: this.runId, now: this.deps.now() };
      const first = this.seq;
      await store.transactional((tx) => applyBatch(tx, kind, at, batch, first));
      // S4: extensions deleted or released (no longer synced): their Linkus sessions end now.
      if (kind.scope === 'USERS') {
        const gone = batch
          .filter((i) => i.action === 'DELETE' || i.action === 'RELEASE')
          .map((i) => (i as { extensionId?: string | null }).extensionId)
          .filter((id): id is string => Boolean(id));
        if (gone.length) await this.deps.linkusSessions.afterDirectoryChange(store, this.pbxId, gone);
      }
      this.seq += batch.length;
      this.done += batch.length;
      await this.phase('APPLYING', { done: this.done, total: this.total });
    }
    const reported: Array<[I, 'REPORTED' | 'HELD']> = [
      ...plan.items.filter(reportsOnly).map((item): [I, 'REPORTED'] => [item, 'REPORTED']),
      ...plan.heldDeletes.map((item): [I, 'HELD'] => [item, 'HELD']),
    ];
    for (let i = 0; i < reported.length; i += ITEM_ROWS) {
      const rows = reported
        .slice(i, i + ITEM_ROWS)
        .map(([item, state]) => kind.itemRow(item, this.seq++, state));
      await store.sync.addItems(this.runId, rows);
    }
    // Issue 16: the users whose FAIL stands as it was: their rows of the last run, copied.
    // Not side by side with what follows: on SQLite, run beside the persist step's transaction,
    // the copy stalled runs under load (the portal's Update Now never ended in the browser test).
    if (kind.scope === 'USERS' && this.carried)
      this.seq += await store.sync.copyFailRows(
        this.carried.from,
        this.runId,
        [...this.carried.userIds],
        this.seq,
      );
    const jobs = plan.items.filter((i) => kind.fansOut?.(i));
    if (jobs.length) await this.fanOut(jobs as unknown as MailboxPlanItem[]);
    return changes.length > 0 || jobs.length > 0;
  }

  /**
   * FAN OUT (contacts): one job per mailbox, waited for until every one has finished; a job
   * that failed for good becomes a FAIL row of the run (never silently skipped).
   */
  private async fanOut(items: MailboxPlanItem[]) {
    const { store, contacts } = this.deps;
    const base = this.done;
    this.total += items.length;
    await this.phase('APPLYING', { done: this.done, total: this.total });
    this.checkpoint();
    // PROBE the mailboxes synced before, 20 to a `$batch`: only those that need it get a job.
    let settled = 0;
    const probed = await probeMailboxes(
      contacts,
      this.pbxId,
      this.runId,
      items,
      (n) => {
        settled = n;
        this.done = base + n;
      },
      () => this.checkpoint(),
      this.opts.signal,
    );
    if (probed.probes)
      this.deps.log('info', 'contact mailboxes probed', {
        pbxId: this.pbxId,
        runId: this.runId,
        mailboxes: items.length,
        probes: probed.probes,
        settled: probed.settled,
        jobs: probed.toJobs.length,
      });
    const toJobs = probed.toJobs;
    if (settled) await this.phase('APPLYING', { done: this.done, total: this.total });
    this.checkpoint();
    const jobs = contacts.jobs ?? inlineMailboxJobs(contacts);
    let reported = Date.now();
    // Progress writes go one after another and end before the run goes on: two flushes of one
    // unit of work at once leave it holding a finished transaction (every later statement of
    // the run then fails "Transaction query already complete").
    let progress: Promise<void> = Promise.resolve();
    const failures = toJobs.length
      ? await jobs
          .runAll(
            this.pbxId,
            this.runId,
            toJobs.map(mailboxJobSpec),
            (finished) => {
              this.done = base + settled + finished;
              if (Date.now() - reported < 1000 && finished < toJobs.length) return;
              reported = Date.now();
              const done = this.done;
              progress = progress
                .then(async () => {
                  await this.phase('APPLYING', { done, total: this.total });
                })
                .catch((err: Error) =>
                  this.deps.log('warn', 'could not record the progress of mailbox jobs', {
                    runId: this.runId,
                    err: err.message,
                  }),
                );
            },
            this.opts.signal,
          )
          .finally(() => progress)
      : [];
    this.done = base + items.length;
    // Mailbox jobs added rows of their own: the run's next rows follow theirs.
    this.seq = (await store.sync.maxSeq(this.runId)) + 1;
    if (failures.length) {
      const byId = new Map(items.map((i) => [i.mailboxId, i]));
      const rows = failures.flatMap((f) => {
        const item = byId.get(f.mailboxId);
        return item ? [failedMailboxRow(item, f, this.seq++)] : [];
      });
      await store.transactional(async (tx) => {
        await tx.sync.addItems(this.runId, rows);
        for (const f of failures)
          await tx.contactSync.record(this.pbxId, this.runId, f.mailboxId, { fail: 1 }, []);
      });
    }
  }

  /**
   * U6: the welcome emails of the extensions this run created were recorded with them; queue
   * all the run's still QUEUED ones now that they are committed (a run resumed after its
   * worker died queues those of its first part too). A process that dies first leaves them
   * to the sweep.
   */
  private async queueWelcomeEmails(due: boolean) {
    const { welcomeEmailQueue: queue, store, log } = this.deps;
    if (!due) return;
    const { queued, error } = await queueRunWelcomeEmails({ store, queue }, this.pbxId, this.runId);
    const fields = { pbxId: this.pbxId, runId: this.runId };
    if (error)
      log('warn', 'welcome emails could not be queued now; the sweep queues them later', {
        ...fields,
        err: error.message,
      });
    else if (queued) log('info', 'welcome emails queued', { ...fields, emails: queued });
  }
}
