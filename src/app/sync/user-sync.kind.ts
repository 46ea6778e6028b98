import type { ExtensionRecord } from '../../domain/extension-rules.js';
import type { PbxCapacity } from '../../domain/pbx.types.js';
import type { UserCreateItem, UserPlanItem } from '../../domain/sync-plan.types.js';
import { DEFAULT_START_NUMBER } from '../../domain/sync-rule.types.js';
import {
  applyUserPolicies,
  type ExtensionCounts,
  userChangeSteps,
  userClaims,
} from '../../domain/user-sync.planner.js';
import type { Store } from '../ports/store.port.js';
import type { SyncRunItemData } from '../ports/sync.port.js';
import type { BatchContext, SyncKind } from './sync-kind.js';

/**
 * What the user kind reads of the PBX to plan: every extension, and the capacity (U10). A
 * scoped plan (issue 16) reads only the extensions of its users and those holding what they
 * claim, the counts, and (U3 AUTO) the free numbers it may give.
 */
export interface UserSyncCurrent {
  extensions: ExtensionRecord[];
  capacity: PbxCapacity;
  counts?: ExtensionCounts;
  scope?: { userIds: ReadonlySet<string>; freeNumbers?: readonly string[] };
}

/** The report row of a user item. */
export function userItemRow(
  item: UserPlanItem,
  seq: number,
  state: SyncRunItemData['state'],
  createdId?: string,
) {
  return {
    seq,
    scope: 'USER' as const,
    action: item.action,
    reason: item.reason,
    objectId: item.userId,
    objectName: item.displayName,
    objectSecondary: item.userPrincipalName,
    number: item.number,
    targetId: item.extensionId ?? createdId ?? null,
    detail: item.detail,
    changes: 'changes' in item && item.changes.length ? JSON.stringify(item.changes) : null,
    state,
  };
}

function greets(item: UserPlanItem): item is UserCreateItem {
  return item.action === 'CREATE' && item.sendWelcomeEmail && Boolean(item.extension.email);
}

/**
 * Applies one batch of user items in the caller's transaction: the extensions change and,
 * U6, a QUEUED welcome email is recorded for each created extension that gets one, so that
 * no extension is created without its email on record and no email outlives a rolled-back
 * extension. The jobs are queued once the run's changes are committed.
 */
async function applyUserBatch(tx: Store, at: BatchContext, batch: readonly UserPlanItem[]) {
  const created = await tx.applier.applyUserItems(at.pbxId, batch);
  const welcome = batch.filter(greets).map((item) => {
    const extensionId = created.get(item.userId);
    if (!extensionId) throw new Error(`The extension of user ${item.userId} was not created`);
    const { firstName, lastName } = item.extension;
    return { extensionId, number: item.number, name: `${firstName} ${lastName}`.trim() };
  });
  // The report keeps the number and name (it outlives the extension); the job carries ids only.
  await tx.welcomeEmails.record(
    welcome.map((e) => ({ pbxId: at.pbxId, runId: at.runId, ...e, queuedAt: at.now })),
  );
  return created;
}

/** Users → extensions (U1–U10). */
export const userSyncKind: SyncKind<UserPlanItem, UserSyncCurrent> = {
  scope: 'USERS',
  itemScope: 'USER',
  hasRule: (settings) => Boolean(settings.userRule),
  async loadCurrent(store, pbxId) {
    const [pbx, extensions] = await Promise.all([
      store.tenants.findPbx(pbxId),
      store.directory.listExtensions(pbxId),
    ]);
    return { extensions, capacity: { maxExtensions: pbx?.extensionCapacity ?? 0 } };
  },
  async loadScoped(store, pbxId, scoped, settings) {
    const rule = settings.userRule;
    if (!rule) throw new Error('User sync has no rule');
    const users = [...scoped.userIds].flatMap((id) => scoped.snapshot.users.get(id) ?? []);
    const { emailKeys, numbers } = userClaims(users, rule);
    const numbering = rule.numbering;
    const [pbx, extensions, counts, freeNumbers] = await Promise.all([
      store.tenants.findPbx(pbxId),
      store.directory.findExtensionsByKeys(pbxId, { externalIds: [...scoped.userIds], emailKeys, numbers }),
      store.directory.extensionCounts(pbxId),
      numbering.mode === 'AUTO'
        ? store.directory.freeExtensionNumbers(
            pbxId,
            numbering.startNumber ?? DEFAULT_START_NUMBER,
            users.length,
          )
        : undefined,
    ]);
    return {
      extensions,
      capacity: { maxExtensions: pbx?.extensionCapacity ?? 0 },
      counts,
      scope: { userIds: scoped.userIds, freeNumbers },
    };
  },
  plan(directory, current, settings, now) {
    if (!settings.userRule) throw new Error('User sync has no rule');
    return userChangeSteps({
      directory: { users: directory.users.values(), groups: directory.groups.values() },
      current: { extensions: current.extensions },
      rule: settings.userRule,
      capacity: current.capacity,
      now,
      scope: current.scope,
    });
  },
  guard: (plan, current, settings, recentDeletes) =>
    applyUserPolicies(plan, {
      extensions: current.counts ?? current.extensions,
      capacity: current.capacity,
      deletionGuard: {
        maxDeletes: settings.guardMaxDeletes,
        maxDeleteRatio: settings.guardMaxRatio,
        recentDeletes,
      },
    }),
  applyBatch: applyUserBatch,
  objectId: (item) => item.userId,
  itemRow: userItemRow,
};
