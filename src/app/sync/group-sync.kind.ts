import { createMembershipResolver } from '../../domain/directory-membership.js';
import type { ExtensionGroupRecord, ExtensionKey } from '../../domain/extension-rules.js';
import { applyGroupPolicies, groupChangeSteps } from '../../domain/group-sync.planner.js';
import type { GroupPlanItem } from '../../domain/sync-plan.types.js';
import type { SyncRunItemData } from '../ports/sync.port.js';
import type { SyncKind } from './sync-kind.js';

/**
 * What the group kind reads of the PBX to plan: its extension groups, and the extensions as
 * they are when groups are planned (after the run's users are applied, G5).
 */
export interface GroupSyncCurrent {
  groups: ExtensionGroupRecord[];
  extensions: ExtensionKey[];
  /** Issue 16: a scoped plan: the directory groups it plans (see GroupSyncInput.scope). */
  scope?: ReadonlySet<string>;
}

/** The report row of a group item. */
export function groupItemRow(
  item: GroupPlanItem,
  seq: number,
  state: SyncRunItemData['state'],
  createdId?: string,
) {
  const changes =
    item.action === 'UPDATE' || item.action === 'ASSOCIATE'
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
    targetId: item.extensionGroupId ?? createdId ?? null,
    detail: item.detail,
    changes,
    state,
  };
}

/** Groups → extension groups (G1–G5). */
export const groupSyncKind: SyncKind<GroupPlanItem, GroupSyncCurrent> = {
  scope: 'GROUPS',
  itemScope: 'GROUP',
  hasRule: (settings) => Boolean(settings.groupRule),
  async loadCurrent(store, pbxId) {
    const [groups, extensions] = await Promise.all([
      store.directory.listExtensionGroups(pbxId),
      store.directory.listExtensionKeys(pbxId),
    ]);
    return { groups, extensions };
  },
  async loadScoped(store, pbxId, scoped, settings, run) {
    const rule = settings.groupRule;
    if (!rule) throw new Error('Group sync has no rule');
    const nested = rule.includeNestedMembers;
    const scope = new Set(scoped.groupIds);
    // Every synced group is planned when its members may have changed without a change of its
    // own: extensions of its users came or went (G5), or (nested) a group below it changed.
    const wide = run.extensionsChanged || (nested && scoped.groupChanges);
    const groups = await store.directory.listExtensionGroupsFor(pbxId, (g) => {
      if (wide && g.source === 'SYNCED' && g.externalId) scope.add(g.externalId);
      // Members are listed for the groups it plans and for those it may take over (ASSOCIATE).
      return g.source !== 'SYNCED' || (g.externalId !== null && scope.has(g.externalId));
    });
    await scoped.loadGroups(scope, nested);
    const membersOf = createMembershipResolver(scoped.snapshot.groups, nested);
    const userIds = new Set<string>();
    for (const id of scope) for (const userId of membersOf(id)) userIds.add(userId);
    const extensions = await store.directory.findExtensionsByKeys(pbxId, { externalIds: [...userIds] });
    return { groups, extensions, scope };
  },
  plan(directory, current, settings, now) {
    if (!settings.groupRule) throw new Error('Group sync has no rule');
    return groupChangeSteps({
      directory: { groups: directory.groups.values() },
      current,
      rule: settings.groupRule,
      now,
      scope: current.scope,
    });
  },
  guard: (plan, current, settings, recentDeletes) =>
    applyGroupPolicies(plan, {
      groups: current.groups,
      deletionGuard: {
        maxDeletes: settings.guardMaxDeletes,
        maxDeleteRatio: settings.guardMaxRatio,
        recentDeletes,
      },
    }),
  applyBatch: (tx, at, batch) => tx.applier.applyGroupItems(at.pbxId, batch),
  objectId: (item) => item.groupId,
  itemRow: groupItemRow,
};
