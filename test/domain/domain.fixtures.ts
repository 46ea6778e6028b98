import type { DirectoryGroup, DirectoryUser } from '../../src/domain/directory.types.js';
import { extensionFieldsOf } from '../../src/domain/extension-fields.js';
import type { PbxExtension, PbxExtensionGroup } from '../../src/domain/pbx.types.js';
import type { GroupSyncPlan, UserSyncPlan } from '../../src/domain/sync-plan.types.js';
import {
  DEFAULT_GROUP_SYNC_RULE,
  DEFAULT_USER_SYNC_RULE,
  type GroupSyncRule,
  type UserSyncRule,
} from '../../src/domain/sync-rule.types.js';

export const NOW = new Date('2026-11-26T12:00:00.000Z');

export function user(id: string, over: Partial<DirectoryUser> = {}): DirectoryUser {
  return {
    id,
    displayName: `User ${id}`,
    givenName: `Given-${id}`,
    surname: `Sur-${id}`,
    mail: `${id}@contoso.com`,
    userPrincipalName: `${id}@contoso.com`,
    mobilePhone: null,
    businessPhones: [],
    jobTitle: null,
    department: null,
    accountEnabled: true,
    userType: 'Member',
    deletionState: 'PRESENT',
    ...over,
  };
}

export function userRule(over: Partial<UserSyncRule> = {}): UserSyncRule {
  return { ...DEFAULT_USER_SYNC_RULE, ...over };
}

export function groupRule(over: Partial<GroupSyncRule> = {}): GroupSyncRule {
  return { ...DEFAULT_GROUP_SYNC_RULE, ...over };
}

/** An unsynced extension. */
export function manualExt(id: string, number: string, over: Partial<PbxExtension> = {}): PbxExtension {
  return {
    id,
    number,
    firstName: `First-${id}`,
    lastName: `Last-${id}`,
    email: null,
    mobileNumber: null,
    jobTitle: null,
    source: 'MANUAL',
    externalId: null,
    ...over,
  };
}

/** A synced extension that is up to date with `u`. */
export function syncedExt(u: DirectoryUser, number: string, id = `ext-${u.id}`): PbxExtension {
  return { id, number, ...extensionFieldsOf(u), source: 'SYNCED', externalId: u.id };
}

export function group(id: string, over: Partial<DirectoryGroup> = {}): DirectoryGroup {
  return { id, displayName: `Group ${id}`, kind: 'SECURITY', memberUserIds: [], ...over };
}

export function extGroup(id: string, over: Partial<PbxExtensionGroup> = {}): PbxExtensionGroup {
  return { id, name: `Ext group ${id}`, source: 'MANUAL', externalId: null, memberExtensionIds: [], ...over };
}

/** A seeded shuffle (mulberry32), so a failing case can be replayed. */
export function shuffle<T>(values: readonly T[], seed: number): T[] {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...values];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * A reference applier for tests: what the store applier is expected to do with a user plan
 * (held deletes are not applied). New extensions get the id `ext-<userId>`.
 */
export function applyUserPlan(extensions: readonly PbxExtension[], plan: UserSyncPlan): PbxExtension[] {
  const byId = new Map(extensions.map((e) => [e.id, e]));
  for (const item of plan.items) {
    switch (item.action) {
      case 'DELETE':
        byId.delete(item.extensionId);
        break;
      case 'RELEASE': {
        const e = byId.get(item.extensionId);
        if (!e) throw new Error(`no extension ${item.extensionId}`);
        byId.set(e.id, { ...e, source: 'MANUAL', externalId: null });
        break;
      }
      case 'UPDATE': {
        const e = byId.get(item.extensionId);
        if (!e) throw new Error(`no extension ${item.extensionId}`);
        const patch: Record<string, string | null> = {};
        for (const change of item.changes) patch[change.field] = change.to;
        byId.set(e.id, { ...e, ...patch });
        break;
      }
      case 'ASSOCIATE':
        byId.set(item.extensionId, {
          id: item.extensionId,
          ...item.extension,
          source: 'SYNCED',
          externalId: item.userId,
        });
        break;
      case 'CREATE': {
        const id = `ext-${item.userId}`;
        if (byId.has(id)) throw new Error(`duplicate ${id}`);
        byId.set(id, { id, ...item.extension, source: 'SYNCED', externalId: item.userId });
        break;
      }
      default:
        break;
    }
  }
  return [...byId.values()];
}

/** A reference applier for group plans; new extension groups get the id `xg-<groupId>`. */
export function applyGroupPlan(
  groups: readonly PbxExtensionGroup[],
  plan: GroupSyncPlan,
): PbxExtensionGroup[] {
  const byId = new Map(groups.map((g) => [g.id, g]));
  for (const item of plan.items) {
    switch (item.action) {
      case 'DELETE':
        byId.delete(item.extensionGroupId);
        break;
      case 'RELEASE': {
        const g = byId.get(item.extensionGroupId);
        if (!g) throw new Error(`no extension group ${item.extensionGroupId}`);
        // Released groups keep their directory group's id (taken over again if it returns).
        byId.set(g.id, { ...g, source: 'MANUAL' });
        break;
      }
      case 'ASSOCIATE': {
        const g = byId.get(item.extensionGroupId);
        if (!g) throw new Error(`no extension group ${item.extensionGroupId}`);
        byId.set(g.id, {
          ...g,
          source: 'SYNCED',
          externalId: item.groupId,
          name: item.nameChange?.to ?? g.name,
          memberExtensionIds: item.memberExtensionIds,
        });
        break;
      }
      case 'UPDATE': {
        const g = byId.get(item.extensionGroupId);
        if (!g) throw new Error(`no extension group ${item.extensionGroupId}`);
        byId.set(g.id, {
          ...g,
          name: item.nameChange?.to ?? g.name,
          memberExtensionIds: item.memberExtensionIds,
        });
        break;
      }
      case 'CREATE': {
        const id = `xg-${item.groupId}`;
        byId.set(id, {
          id,
          name: item.name,
          source: 'SYNCED',
          externalId: item.groupId,
          memberExtensionIds: item.memberExtensionIds,
        });
        break;
      }
      default:
        break;
    }
  }
  return [...byId.values()];
}

/** `action reason userId` lines: compact and readable in a failing assertion. */
export function lines(plan: UserSyncPlan): string[] {
  return plan.items.map((i) => `${i.action} ${i.reason} ${i.userId}`);
}

export function groupLines(plan: GroupSyncPlan): string[] {
  return plan.items.map((i) => `${i.action} ${i.reason} ${i.groupId}`);
}
