import type { SyncRunData, SyncRunItemData, SyncSettingsData } from '../app/ports/sync.port.js';
import type { GroupPlanItem, PlanSummary, UserPlanItem } from '../domain/sync-plan.types.js';
import type { GroupSyncRule, UserSyncRule } from '../domain/sync-rule.types.js';
import type {
  GroupSyncRuleInput,
  SyncCountsType,
  SyncRunItemType,
  UserSyncRuleInput,
} from './types/sync.type.js';

/** GraphQL's flat rule inputs to the domain's rules, and back. */
export function toUserRule(i: UserSyncRuleInput): UserSyncRule {
  return {
    range:
      i.range === 'BY_TYPE'
        ? { type: 'BY_TYPE', userTypes: i.userTypes ?? [] }
        : i.range === 'BY_GROUPS'
          ? { type: 'BY_GROUPS', groupIds: i.groupIds ?? [] }
          : { type: 'ALL' },
    autoDelete: i.autoDelete,
    numbering:
      i.numbering === 'FROM_PROPERTY'
        ? { mode: 'FROM_PROPERTY', property: i.numberProperty ?? '' }
        : { mode: 'AUTO', startNumber: i.startNumber ?? '1000' },
    deleteWhen: { disabled: i.deleteWhenDisabled, deleted: i.deleteWhenDeleted },
    autoAssociate: i.autoAssociate,
    welcomeEmail: i.welcomeEmail,
    includeNestedMembers: i.includeNestedMembers ?? false,
  };
}

export function fromUserRule(r: UserSyncRule) {
  return {
    range: r.range.type,
    userTypes: r.range.type === 'BY_TYPE' ? [...r.range.userTypes] : [],
    groupIds: r.range.type === 'BY_GROUPS' ? [...r.range.groupIds] : [],
    autoDelete: r.autoDelete,
    numbering: r.numbering.mode,
    startNumber: r.numbering.mode === 'AUTO' ? (r.numbering.startNumber ?? '1000') : null,
    numberProperty: r.numbering.mode === 'FROM_PROPERTY' ? r.numbering.property : null,
    deleteWhenDisabled: r.deleteWhen.disabled,
    deleteWhenDeleted: r.deleteWhen.deleted,
    autoAssociate: r.autoAssociate,
    welcomeEmail: r.welcomeEmail,
    includeNestedMembers: r.includeNestedMembers,
  };
}

export function toGroupRule(i: GroupSyncRuleInput): GroupSyncRule {
  return {
    range:
      i.range === 'BY_TYPE'
        ? {
            type: 'BY_TYPE',
            kinds: (i.kinds ?? []).filter((k) => k !== 'OTHER') as Array<'SECURITY' | 'MICROSOFT_365'>,
          }
        : i.range === 'SPECIFIC'
          ? { type: 'SPECIFIC', groupIds: i.groupIds ?? [] }
          : { type: 'ALL' },
    autoDelete: i.autoDelete,
    includeNestedMembers: i.includeNestedMembers ?? false,
  };
}

export function fromGroupRule(r: GroupSyncRule) {
  return {
    range: r.range.type,
    kinds: r.range.type === 'BY_TYPE' ? [...r.range.kinds] : [],
    groupIds: r.range.type === 'SPECIFIC' ? [...r.range.groupIds] : [],
    autoDelete: r.autoDelete,
    includeNestedMembers: r.includeNestedMembers,
  };
}

export function toSettingsView(s: SyncSettingsData) {
  return {
    userRule: s.userRule ? fromUserRule(s.userRule) : null,
    groupRule: s.groupRule ? fromGroupRule(s.groupRule) : null,
    userRuleSavedAt: s.userRuleSavedAt,
    groupRuleSavedAt: s.groupRuleSavedAt,
    lastFullReadAt: s.lastFullReadAt,
    deletionGuard: {
      maxDeletes: s.guardMaxDeletes,
      maxRatio: s.guardMaxRatio,
      windowHours: s.guardWindowHours,
      approvedAt: s.guardApprovedAt,
    },
  };
}

export function toCounts(c: PlanSummary | undefined): SyncCountsType {
  return {
    created: c?.create ?? 0,
    updated: c?.update ?? 0,
    associated: c?.associate ?? 0,
    deleted: c?.delete ?? 0,
    released: c?.release ?? 0,
    skipped: c?.skip ?? 0,
    failed: c?.fail ?? 0,
    held: c?.held ?? 0,
  };
}

export function toRunView(r: SyncRunData) {
  return {
    ...r,
    users: toCounts(r.counts?.users),
    groups: toCounts(r.counts?.groups),
    contacts: r.counts?.contacts ? toCounts(r.counts.contacts) : null,
  };
}

export function toItemView(i: SyncRunItemData): SyncRunItemType {
  return { ...i, userPrincipalName: i.objectSecondary } as SyncRunItemType;
}

/** A planned (not applied) item in the shape of a run item, for previews. */
export function previewUserItem(item: UserPlanItem, seq: number): SyncRunItemType {
  return {
    id: `preview-${seq}`,
    scope: 'USER',
    action: item.action,
    reason: item.reason,
    objectId: item.userId,
    objectName: item.displayName,
    userPrincipalName: item.userPrincipalName,
    number: item.number,
    targetId: item.extensionId,
    detail: item.detail,
    changes: 'changes' in item && item.changes.length ? JSON.stringify(item.changes) : null,
    state: 'PLANNED',
  } as SyncRunItemType;
}

export function previewGroupItem(item: GroupPlanItem, seq: number): SyncRunItemType {
  return {
    id: `preview-${seq}`,
    scope: 'GROUP',
    action: item.action,
    reason: item.reason,
    objectId: item.groupId,
    objectName: item.name,
    userPrincipalName: null,
    number: null,
    targetId: item.extensionGroupId,
    detail: item.detail,
    changes: null,
    state: 'PLANNED',
  } as SyncRunItemType;
}
