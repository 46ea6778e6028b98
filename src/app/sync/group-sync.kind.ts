import type { ExtensionGroupRecord, ExtensionRecord } from '../../domain/extension-rules.js';
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
  extensions: ExtensionRecord[];
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
      store.directory.listExtensions(pbxId),
    ]);
    return { groups, extensions };
  },
  plan(directory, current, settings, now) {
    if (!settings.groupRule) throw new Error('Group sync has no rule');
    return groupChangeSteps({
      directory: { groups: directory.groups.values() },
      current,
      rule: settings.groupRule,
      now,
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
