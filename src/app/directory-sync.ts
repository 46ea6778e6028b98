import type { DirectoryGroup, DirectoryUser } from '../domain/directory.types.js';
import {
  applyDirectoryDelta,
  createDirectorySnapshot,
  type DirectorySnapshot,
} from '../domain/directory-delta.js';
import { planGroupSync } from '../domain/group-sync.planner.js';
import { IntegrationStatus } from '../domain/integration.js';
import type {
  GroupPlanItem,
  GroupSyncPlan,
  PlanSummary,
  UserPlanItem,
  UserSyncPlan,
} from '../domain/sync-plan.types.js';
import type { GroupSyncRule, UserSyncRule } from '../domain/sync-rule.types.js';
import { planUserSync } from '../domain/user-sync.planner.js';
import { appCredentials } from './integration.js';
import type { DirectoryReader, DirectoryStream, GraphRequestStats } from './ports/directory.port.js';
import { type MicrosoftAppCredentials, MicrosoftError } from './ports/microsoft.port.js';
import type { IntegrationData, Store } from './ports/store.port.js';
import type {
  SyncPhase,
  SyncRunData,
  SyncRunItemData,
  SyncScope,
  SyncSettingsData,
} from './ports/sync.port.js';
import type { SecretBox } from './secret-box.js';
import { queueRunWelcomeEmails, type WelcomeEmailQueue } from './welcome-email.js';

export interface SyncDeps {
  store: Store;
  reader: DirectoryReader;
  secrets: SecretBox;
  now: () => Date;
  /** Called with the run at each phase and every applied batch (live progress). */
  progress?: (run: SyncRunData) => void;
  /**
   * The `mail` queue (U6). The welcome emails are recorded with the extensions they greet;
   * the jobs are queued once the run's changes are committed. Without a queue (or when it
   * fails) they stay QUEUED and the workers' sweep queues them.
   */
  welcomeEmailQueue?: WelcomeEmailQueue;
  log?: (level: 'info' | 'warn', message: string, fields?: Record<string, unknown>) => void;
}

/** How many plan items one transaction applies. */
export const APPLY_BATCH = 2000;

const EMPTY: PlanSummary = {
  create: 0,
  update: 0,
  associate: 0,
  delete: 0,
  release: 0,
  skip: 0,
  fail: 0,
  held: 0,
};

/** Errors worth another attempt of the whole run (the job is retried with backoff). */
export function isRetryable(err: unknown): boolean {
  return err instanceof MicrosoftError && (err.code === 'THROTTLED' || err.code === 'UNAVAILABLE');
}

/** The Graph user properties U3 FROM_PROPERTY needs read (top-level names, sorted). */
export function extraUserProperties(rule: UserSyncRule | null): string[] {
  if (rule?.numbering.mode !== 'FROM_PROPERTY') return [];
  return [rule.numbering.property.split('.')[0]];
}

interface DirectoryRead {
  snapshot: DirectorySnapshot;
  mode: 'FULL' | 'DELTA';
  notes: string[];
  /** What to write back once the run has applied (snapshot rows and delta links). */
  persist: (store: Store) => Promise<void>;
  /** Nothing changed in the directory since the last read. */
  unchanged: boolean;
  /** Nothing changed anywhere since the last clean run: no planning (snapshot is empty then). */
  skipped?: boolean;
}

async function collect<T>(pages: AsyncIterable<readonly T[]>): Promise<T[]> {
  const all: T[] = [];
  for await (const page of pages) for (const x of page) all.push(x);
  return all;
}

/** One kind of object: a delta round when a link is usable, else (or when Graph says the link expired) a full read. */
async function readKind<Full, Change>(
  delta: (() => DirectoryStream<Change>) | null,
  full: () => Promise<DirectoryStream<Full>>,
  expiredNote: string,
  notes: string[],
): Promise<{ full: Full[] | null; changes: Change[] | null; link: string }> {
  if (delta) {
    try {
      const stream = delta();
      const changes = await collect(stream.pages);
      return { full: null, changes, link: stream.deltaLink() };
    } catch (err) {
      if (!(err instanceof MicrosoftError && err.code === 'DELTA_EXPIRED')) throw err;
      notes.push(expiredNote);
    }
  }
  const stream = await full();
  const all = await collect(stream.pages);
  return { full: all, changes: null, link: stream.deltaLink() };
}

/**
 * Reads the directory: a delta round from the stored links when they are usable, else a
 * full read (first sync, a rule that needs other user properties, or a delta link Graph
 * no longer honours, which the result then says).
 */
async function readDirectory(
  deps: SyncDeps,
  pbxId: string,
  app: MicrosoftAppCredentials,
  settings: SyncSettingsData,
  skipIfUnchanged?: () => Promise<boolean>,
): Promise<DirectoryRead> {
  const now = deps.now();
  const notes: string[] = [];
  const extra = extraUserProperties(settings.userRule);
  const selectKey = extra.join(',');

  if (settings.usersDeltaLink && settings.usersDeltaSelect !== selectKey) {
    notes.push('The user properties the rules need changed: users were read in full.');
  }
  const canDeltaUsers = Boolean(
    settings.usersDeltaLink && settings.lastFullReadAt && settings.usersDeltaSelect === selectKey,
  );
  const canDeltaGroups = Boolean(settings.groupsDeltaLink && settings.lastFullReadAt);
  // Users and groups are read side by side: each is a chain of pages, so together they take
  // the longer of the two rather than the sum (it matters with Graph's latency).
  const [u, g] = await Promise.all([
    readKind(
      canDeltaUsers ? () => deps.reader.readUserChanges(app, settings.usersDeltaLink as string) : null,
      () => deps.reader.readUsers(app, { extraProperties: extra }),
      'The users delta token had expired (Graph asked for a full resync): users were read in full.',
      notes,
    ),
    readKind(
      canDeltaGroups ? () => deps.reader.readGroupChanges(app, settings.groupsDeltaLink as string) : null,
      () => deps.reader.readGroups(app),
      'The groups delta token had expired (Graph asked for a full resync): groups were read in full.',
      notes,
    ),
  ]);
  const users = u.full;
  const userChanges = u.changes;
  const usersLink = u.link;
  const groups = g.full;
  const groupChanges = g.changes;
  const groupsLink = g.link;

  // Both delta rounds came back empty: when nothing else changed either, there is nothing to
  // plan, and the stored snapshot (100,000 rows at scale) need not even be loaded.
  if (!users && !groups && !userChanges?.length && !groupChanges?.length && (await skipIfUnchanged?.())) {
    return {
      snapshot: createDirectorySnapshot([], []),
      mode: 'DELTA',
      notes,
      unchanged: true,
      skipped: true,
      persist: (store) =>
        store.sync
          .updateSettings(pbxId, {
            usersDeltaLink: usersLink,
            usersDeltaSelect: selectKey,
            groupsDeltaLink: groupsLink,
          })
          .then(() => {}),
    };
  }
  const stored = users && groups ? { users: [], groups: [] } : await deps.store.sync.loadSnapshot(pbxId);
  const base = createDirectorySnapshot(users ?? stored.users, groups ?? stored.groups);
  const snapshot =
    userChanges?.length || groupChanges?.length
      ? applyDirectoryDelta(base, { users: userChanges ?? [], groups: groupChanges ?? [] }, now)
      : base;
  const mode = users || groups ? 'FULL' : 'DELTA';
  const unchanged = mode === 'DELTA' && !userChanges?.length && !groupChanges?.length;

  const persist = async (store: Store) => {
    if (users) await store.sync.replaceSnapshot(pbxId, 'USER', [...snapshot.users.values()]);
    else if (userChanges?.length) {
      const ids = new Set(userChanges.map((c) => c.id));
      const changed = [...ids]
        .map((id) => snapshot.users.get(id))
        .filter((u): u is DirectoryUser => Boolean(u));
      await store.sync.patchSnapshot(
        pbxId,
        'USER',
        changed,
        [...ids].filter((id) => !snapshot.users.has(id)),
      );
    }
    if (groups) await store.sync.replaceSnapshot(pbxId, 'GROUP', [...snapshot.groups.values()]);
    else if (groupChanges?.length) {
      const ids = new Set(groupChanges.map((c) => c.id));
      const changed = [...ids]
        .map((id) => snapshot.groups.get(id))
        .filter((g): g is DirectoryGroup => Boolean(g));
      await store.sync.patchSnapshot(
        pbxId,
        'GROUP',
        changed,
        [...ids].filter((id) => !snapshot.groups.has(id)),
      );
    }
    await store.sync.updateSettings(pbxId, {
      usersDeltaLink: usersLink,
      usersDeltaSelect: selectKey,
      groupsDeltaLink: groupsLink,
      ...(mode === 'FULL' || !settings.lastFullReadAt ? { lastFullReadAt: now } : {}),
    });
  };
  return { snapshot, mode, notes, persist, unchanged };
}

export interface PlannedSync {
  read: DirectoryRead;
  userPlan: UserSyncPlan | null;
  groupPlan: GroupSyncPlan | null;
}

async function planUsers(
  deps: SyncDeps,
  pbxId: string,
  rule: UserSyncRule,
  settings: SyncSettingsData,
  snapshot: DirectorySnapshot,
) {
  const pbx = await deps.store.tenants.findPbx(pbxId);
  const extensions = await deps.store.directory.listExtensions(pbxId);
  return planUserSync({
    directory: { users: snapshot.users.values(), groups: snapshot.groups.values() },
    current: { extensions },
    rule,
    capacity: { maxExtensions: pbx?.extensionCapacity ?? 0 },
    now: deps.now(),
    deletionGuard: { maxDeletes: settings.guardMaxDeletes, maxDeleteRatio: settings.guardMaxRatio },
  });
}

async function planGroups(
  deps: SyncDeps,
  pbxId: string,
  rule: GroupSyncRule,
  settings: SyncSettingsData,
  snapshot: DirectorySnapshot,
) {
  const [groups, extensions] = await Promise.all([
    deps.store.directory.listExtensionGroups(pbxId),
    deps.store.directory.listExtensions(pbxId),
  ]);
  return planGroupSync({
    directory: { groups: snapshot.groups.values() },
    current: { groups, extensions },
    rule,
    now: deps.now(),
    deletionGuard: { maxDeletes: settings.guardMaxDeletes, maxDeleteRatio: settings.guardMaxRatio },
  });
}

/** Which of the asked scopes can run, and why the others cannot. */
async function runnableScopes(deps: SyncDeps, pbxId: string, scopes: readonly SyncScope[]) {
  const integration = await deps.store.integrations.get(pbxId);
  const settings = await deps.store.sync.getSettings(pbxId);
  const notes: string[] = [];
  if (integration.status !== IntegrationStatus.CONNECTED) {
    return {
      integration,
      settings,
      scopes: [] as SyncScope[],
      notes: [`The integration is ${integration.status}: nothing was synced.`],
    };
  }
  const ok = scopes.filter((s) => {
    const why =
      s === 'USERS' && integration.userSyncPaused
        ? 'User sync is paused.'
        : s === 'GROUPS' && integration.groupSyncPaused
          ? 'Group sync is paused.'
          : s === 'USERS' && !settings.userRule
            ? 'User sync has no rule yet.'
            : s === 'GROUPS' && !settings.groupRule
              ? 'Group sync has no rule yet.'
              : null;
    if (why) notes.push(why);
    return why === null;
  });
  return { integration, settings, scopes: ok, notes };
}

/**
 * True when a run with empty delta rounds may skip planning: the last finished run of the PBX
 * (covering these scopes) succeeded with no held delete, the PBX directory is as that run left
 * it (same fingerprint: nothing created, edited or deleted by hand that could free a number or
 * an email), and since it started neither the rules, nor the PBX settings (e.g. capacity), nor
 * the integration (pause, resume, ...) changed. Then the plan would be the same as last time.
 */
async function nothingChangedSinceLastRun(
  deps: SyncDeps,
  pbxId: string,
  runId: string,
  scopes: readonly SyncScope[],
  settings: SyncSettingsData,
  integration: IntegrationData,
): Promise<boolean> {
  const recent = await deps.store.sync.pageRuns(pbxId, { first: 10 });
  const last = recent.edges
    .map((e) => e.node)
    .find((r) => r.id !== runId && ['SUCCEEDED', 'FAILED', 'HELD'].includes(r.status));
  if (last?.status !== 'SUCCEEDED' || !last.startedAt || !last.counts) return false;
  if (!scopes.every((s) => last.scopes.includes(s))) return false;
  const { users, groups } = last.counts;
  if (users.held || groups.held) return false;
  // Failures stay as they were unless the PBX side changed (a number or an email freed, ...).
  if (!last.pbxFingerprint || last.pbxFingerprint !== (await deps.store.sync.directoryFingerprint(pbxId)))
    return false;
  const pbx = await deps.store.tenants.findPbx(pbxId);
  const since = last.startedAt.getTime();
  return [settings.userRuleSavedAt, settings.groupRuleSavedAt, pbx?.updatedAt, integration.updatedAt].every(
    (t) => !t || t.getTime() < since,
  );
}

/** Reads and plans without changing anything (previewSync, and the first half of a run). */
export async function planSync(deps: SyncDeps, pbxId: string, scopes: readonly SyncScope[], runId?: string) {
  const ctx = await runnableScopes(deps, pbxId, scopes);
  if (!ctx.scopes.length) return { ...ctx, planned: null };
  const app = appCredentials(ctx.integration, deps.secrets);
  const read = await readDirectory(
    deps,
    pbxId,
    app,
    ctx.settings,
    runId
      ? () => nothingChangedSinceLastRun(deps, pbxId, runId, ctx.scopes, ctx.settings, ctx.integration)
      : undefined,
  );
  if (read.skipped) return { ...ctx, planned: { read, userPlan: null, groupPlan: null } as PlannedSync };
  const userPlan =
    ctx.scopes.includes('USERS') && ctx.settings.userRule
      ? await planUsers(deps, pbxId, ctx.settings.userRule, ctx.settings, read.snapshot)
      : null;
  // A preview of groups sees the extensions as they are now (before this run's user plan).
  const groupPlan =
    ctx.scopes.includes('GROUPS') && ctx.settings.groupRule
      ? await planGroups(deps, pbxId, ctx.settings.groupRule, ctx.settings, read.snapshot)
      : null;
  return { ...ctx, planned: { read, userPlan, groupPlan } as PlannedSync };
}

function userItemRow(item: UserPlanItem, seq: number, state: SyncRunItemData['state'], created?: string) {
  return {
    seq,
    scope: 'USER' as const,
    action: item.action,
    reason: item.reason,
    objectId: item.userId,
    objectName: item.displayName,
    objectSecondary: item.userPrincipalName,
    number: item.number,
    targetId: item.extensionId ?? created ?? null,
    detail: item.detail,
    changes: 'changes' in item && item.changes.length ? JSON.stringify(item.changes) : null,
    state,
  };
}

function groupItemRow(item: GroupPlanItem, seq: number, state: SyncRunItemData['state'], created?: string) {
  const changes =
    item.action === 'UPDATE'
      ? JSON.stringify({
          name: item.nameChange,
          added: item.addedMemberExtensionIds.length,
          removed: item.removedMemberExtensionIds.length,
        })
      : null;
  return {
    seq,
    scope: 'GROUP' as const,
    action: item.action,
    reason: item.reason,
    objectId: item.groupId,
    objectName: item.name,
    objectSecondary: null,
    number: null,
    targetId: item.extensionGroupId ?? created ?? null,
    detail: item.detail,
    changes,
    state,
  };
}

const REPORT_ONLY = new Set(['SKIP', 'FAIL']);

/**
 * One transaction's worth of user items (call it inside `store.transactional`): the PBX
 * directory changes, the run's item rows from `firstSeq` on and, U6, a QUEUED welcome email
 * for each created extension that gets one. They commit together or not at all, so no
 * extension is created without its welcome email on record, and no email outlives a rolled
 * back extension. Returns how many welcome emails it recorded (to queue once committed).
 */
export async function applyUserBatch(
  tx: Store,
  pbxId: string,
  runId: string,
  batch: readonly UserPlanItem[],
  firstSeq: number,
  now: Date,
): Promise<number> {
  await tx.directory.lockPbx(pbxId);
  const created = await tx.applier.applyUserItems(pbxId, batch);
  await tx.sync.addItems(
    runId,
    batch.map((item, i) => userItemRow(item, firstSeq + i, 'APPLIED', created.get(item.userId))),
  );
  const welcome = batch
    .filter(
      (item): item is Extract<UserPlanItem, { action: 'CREATE' }> =>
        item.action === 'CREATE' && item.sendWelcomeEmail && Boolean(item.extension.email),
    )
    .map((item) => {
      const extensionId = created.get(item.userId);
      if (!extensionId) throw new Error(`The extension of user ${item.userId} was not created`);
      const { firstName, lastName } = item.extension;
      return { extensionId, number: item.number, name: `${firstName} ${lastName}`.trim() };
    });
  // The report keeps the number and name (it outlives the extension); the job carries ids only.
  await tx.welcomeEmails.record(welcome.map((e) => ({ pbxId, runId, ...e, queuedAt: now })));
  return welcome.length;
}

/**
 * Runs one sync (ARCHITECTURE "One sync, as data walking through the house"): read the
 * directory, plan users, apply in batches, plan groups against the extensions as they now
 * are, apply, record every item, then store the new snapshot and delta links. A run killed
 * at any point and run again re-plans from what is there and reaches the same end state.
 */
export function runDirectorySync(
  deps: SyncDeps,
  pbxId: string,
  runId: string,
  opts: { finalAttempt?: boolean } = {},
): Promise<SyncRunData> {
  // The run counts the Graph requests it makes, not those of other PBXs' runs in this process.
  return deps.reader.tracked((requests) => runTracked(deps, pbxId, runId, opts, requests));
}

async function runTracked(
  deps: SyncDeps,
  pbxId: string,
  runId: string,
  opts: { finalAttempt?: boolean },
  requests: () => GraphRequestStats,
): Promise<SyncRunData> {
  const store = deps.store;
  let run = await store.sync.getRun(pbxId, runId);
  if (!run) throw new Error(`No sync run ${runId} for PBX ${pbxId}`);
  if (run.status !== 'QUEUED' && run.status !== 'RUNNING') return run;
  // Every phase records the requests so far, added to those of the run's earlier attempts (a
  // retry, or a first part cut short by a dead worker), so the report counts them all.
  const requestsBefore = run.graphRequests ?? 0;
  const phase = async (p: SyncPhase, patch: Partial<SyncRunData> = {}) => {
    run = await store.sync.updateRun(runId, {
      phase: p,
      graphRequests: requestsBefore + requests().requests,
      ...patch,
    });
    deps.progress?.(run);
    return run;
  };
  // U6: the welcome emails of the extensions this run creates are recorded with them, and
  // queued once committed: all the run's still QUEUED ones, so a run resumed after its worker
  // died queues those of its first part too. A process that dies before that leaves them to
  // the sweep.
  let welcomeEmails = 0;
  const queueWelcome = async () => {
    if (!welcomeEmails || !deps.welcomeEmailQueue) return;
    welcomeEmails = 0;
    const { queued, error } = await queueRunWelcomeEmails(
      { store, queue: deps.welcomeEmailQueue },
      pbxId,
      runId,
    );
    if (error)
      deps.log?.('warn', 'welcome emails could not be queued now; the sweep queues them later', {
        pbxId,
        runId,
        err: error.message,
      });
    else deps.log?.('info', 'welcome emails queued', { pbxId, runId, emails: queued });
  };
  try {
    await phase('READING_DIRECTORY', { status: 'RUNNING', startedAt: deps.now(), error: null });
    const { planned, notes, scopes } = await planSync(deps, pbxId, run.scopes, runId);
    if (!planned) {
      return await phase('SUCCEEDED', {
        status: 'SUCCEEDED',
        finishedAt: deps.now(),
        counts: { users: EMPTY, groups: EMPTY },
        message: notes.join(' '),
      });
    }
    const { read } = planned;
    const messages = [...notes, ...read.notes];
    if (read.skipped) {
      await store.transactional((tx) => read.persist(tx));
      return await phase('SUCCEEDED', {
        status: 'SUCCEEDED',
        mode: 'DELTA',
        pbxFingerprint: await store.sync.directoryFingerprint(pbxId),
        finishedAt: deps.now(),
        counts: { users: EMPTY, groups: EMPTY },
        message: [
          ...messages,
          'Nothing changed in the directory, the rules or the PBX since the last run.',
        ].join(' '),
      });
    }
    await phase('PLANNING', { mode: read.mode });

    // Users first: groups take their members from the extensions the user plan leaves.
    // A run resumed after its worker died goes on numbering its items after the first part.
    let seq = (await store.sync.maxSeq(runId)) + 1;
    // Resumed: its first part may have recorded emails that were never queued.
    if (seq > 0) welcomeEmails++;
    const userPlan = planned.userPlan;
    const userChanges = userPlan ? userPlan.items.filter((i) => !REPORT_ONLY.has(i.action)) : [];
    const total = userChanges.length;
    await phase('APPLYING', { total, done: 0 });
    let done = 0;
    if (userPlan) {
      for (let i = 0; i < userChanges.length; i += APPLY_BATCH) {
        const batch = userChanges.slice(i, i + APPLY_BATCH);
        const now = deps.now();
        welcomeEmails += await store.transactional((tx) => applyUserBatch(tx, pbxId, runId, batch, seq, now));
        seq += batch.length;
        done += batch.length;
        await phase('APPLYING', { done, total });
      }
      const reports = [
        ...userPlan.items
          .filter((i) => REPORT_ONLY.has(i.action))
          .map((i) => userItemRow(i, seq++, 'REPORTED')),
        ...userPlan.heldDeletes.map((i) => userItemRow(i, seq++, 'HELD')),
      ];
      await store.sync.addItems(runId, reports);
    }

    let groupPlan: GroupSyncPlan | null = null;
    if (scopes.includes('GROUPS')) {
      const settings = await store.sync.getSettings(pbxId);
      groupPlan = await planGroups(deps, pbxId, settings.groupRule as GroupSyncRule, settings, read.snapshot);
      const changes = groupPlan.items.filter((i) => !REPORT_ONLY.has(i.action));
      await store.transactional(async (tx) => {
        await tx.directory.lockPbx(pbxId);
        const created = await tx.applier.applyGroupItems(pbxId, changes);
        await tx.sync.addItems(runId, [
          ...changes.map((i) => groupItemRow(i, seq++, 'APPLIED', created.get(i.groupId))),
          ...(groupPlan as GroupSyncPlan).items
            .filter((i) => REPORT_ONLY.has(i.action))
            .map((i) => groupItemRow(i, seq++, 'REPORTED')),
          ...(groupPlan as GroupSyncPlan).heldDeletes.map((i) => groupItemRow(i, seq++, 'HELD')),
        ]);
      });
    }

    // Only now that the directory is applied does the next run start from this read.
    await store.transactional((tx) => read.persist(tx));

    const held = Boolean(userPlan?.held || groupPlan?.held);
    if (held) {
      const n = (userPlan?.heldDeletes.length ?? 0) + (groupPlan?.heldDeletes.length ?? 0);
      messages.push(
        `The deletion guard held ${n} deletion(s): review them and call approveHeldDeletes to apply them.`,
      );
    }
    await queueWelcome();
    return await phase(held ? 'HELD' : 'SUCCEEDED', {
      status: held ? 'HELD' : 'SUCCEEDED',
      pbxFingerprint: await store.sync.directoryFingerprint(pbxId),
      finishedAt: deps.now(),
      counts: await store.sync.itemCounts(runId),
      message: messages.join(' ') || null,
    });
  } catch (err) {
    // The batches committed before the failure created extensions: their emails go out too.
    await queueWelcome();
    const message = err instanceof MicrosoftError ? `${err.code}: ${err.message}` : (err as Error).message;
    if (isRetryable(err) && !opts.finalAttempt) {
      await phase('QUEUED', { status: 'QUEUED', error: `Will retry: ${message}` });
      throw err;
    }
    await phase('FAILED', { status: 'FAILED', finishedAt: deps.now(), error: message.slice(0, 2000) });
    return run;
  }
}

/**
 * Applies the deletes the guard held in `runId`, each only if its extension (group) is still
 * synced to the same directory object; the run then counts them as deleted.
 */
export async function approveHeldDeletes(
  deps: Pick<SyncDeps, 'store' | 'now'>,
  pbxId: string,
  runId: string,
) {
  const run = await deps.store.sync.getRun(pbxId, runId);
  if (!run) return null;
  return deps.store.transactional(async (tx) => {
    await tx.directory.lockPbx(pbxId);
    const held = await tx.sync.itemsInState(runId, 'HELD');
    // Since the run, an extension may have been released, deleted, or taken over by another
    // user (U5): only those still synced to the item's own directory object are deleted.
    const heldUsers = held.filter((i) => i.scope === 'USER' && i.targetId);
    const heldGroups = held.filter((i) => i.scope === 'GROUP' && i.targetId);
    const ownerOf = new Map<string, string>();
    if (heldUsers.length) {
      for (const e of await tx.directory.listExtensions(pbxId)) {
        if (e.source === 'SYNCED' && e.externalId) ownerOf.set(e.id, e.externalId);
      }
    }
    if (heldGroups.length) {
      for (const g of await tx.directory.listExtensionGroups(pbxId)) {
        if (g.source === 'SYNCED' && g.externalId) ownerOf.set(g.id, g.externalId);
      }
    }
    const stillDue = (i: SyncRunItemData) => ownerOf.get(i.targetId as string) === i.objectId;
    const users = heldUsers.filter(stillDue);
    const groups = heldGroups.filter(stillDue);
    const stale = held.length - users.length - groups.length;
    await tx.applier.applyUserItems(
      pbxId,
      users.map((i) => ({
        action: 'DELETE',
        reason: i.reason as 'OUT_OF_RANGE',
        userId: i.objectId,
        displayName: i.objectName,
        userPrincipalName: i.objectSecondary,
        extensionId: i.targetId as string,
        number: i.number,
        detail: i.detail,
      })),
    );
    await tx.applier.applyGroupItems(
      pbxId,
      groups.map((i) => ({
        action: 'DELETE',
        reason: i.reason as 'OUT_OF_RANGE',
        groupId: i.objectId,
        name: i.objectName,
        extensionGroupId: i.targetId as string,
        detail: i.detail,
      })),
    );
    const applied = new Set([...users, ...groups].map((i) => i.id));
    await tx.sync.setItemState(
      runId,
      held.filter((i) => applied.has(i.id)).map((i) => i.id),
      'APPROVED',
    );
    await tx.sync.setItemState(
      runId,
      held.filter((i) => !applied.has(i.id)).map((i) => i.id),
      'DISCARDED',
    );
    const counts = run.counts ?? { users: EMPTY, groups: EMPTY };
    const bump = (c: PlanSummary, applied: number, approved: number): PlanSummary => ({
      ...c,
      delete: c.delete + applied,
      held: Math.max(0, c.held - approved),
    });
    const at = deps.now().toISOString();
    return tx.sync.updateRun(runId, {
      status: run.status === 'HELD' ? 'SUCCEEDED' : run.status,
      phase: run.status === 'HELD' ? 'SUCCEEDED' : run.phase,
      counts: {
        users: bump(counts.users, users.length, heldUsers.length),
        groups: bump(counts.groups, groups.length, heldGroups.length),
      },
      message: `${run.message ? `${run.message} ` : ''}${held.length} held deletion(s) approved at ${at}: ${users.length + groups.length} applied${stale ? `, ${stale} no longer synced to their directory object and left alone` : ''}.`,
    });
  });
}
