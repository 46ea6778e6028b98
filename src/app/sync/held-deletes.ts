import {
  GROUP_DELETE_REASONS,
  type GroupDeleteItem,
  type PlanSummary,
  USER_DELETE_REASONS,
  type UserDeleteItem,
} from '../../domain/sync-plan.types.js';
import type { Store } from '../ports/store.port.js';
import type { SyncRunItemData } from '../ports/sync.port.js';
import { EMPTY_COUNTS } from './sync-kind.js';

function oneOf<T extends string>(allowed: readonly T[], value: string): value is T {
  return (allowed as readonly string[]).includes(value);
}

/** A held user delete as the applier takes it, read back from its report row (null: not one). */
function userDelete(row: SyncRunItemData): UserDeleteItem | null {
  if (row.scope !== 'USER' || row.action !== 'DELETE' || !row.targetId) return null;
  if (!oneOf(USER_DELETE_REASONS, row.reason)) return null;
  return {
    action: 'DELETE',
    reason: row.reason,
    userId: row.objectId,
    displayName: row.objectName,
    userPrincipalName: row.objectSecondary,
    extensionId: row.targetId,
    number: row.number,
    detail: row.detail,
  };
}

/** A held group delete, read back from its report row (null: not one). */
function groupDelete(row: SyncRunItemData): GroupDeleteItem | null {
  if (row.scope !== 'GROUP' || row.action !== 'DELETE' || !row.targetId) return null;
  if (!oneOf(GROUP_DELETE_REASONS, row.reason)) return null;
  return {
    action: 'DELETE',
    reason: row.reason,
    groupId: row.objectId,
    name: row.objectName,
    extensionGroupId: row.targetId,
    detail: row.detail,
  };
}

function notNull<T>(x: T | null): x is T {
  return x !== null;
}

function withRow<I>(row: SyncRunItemData, item: I | null) {
  return item && { row, item };
}

/**
 * Approving held deletes (U8, deletion guard): applies the deletes the guard held in
 * `runId`, each only if its extension (group) is still synced to the same directory object;
 * the run then counts them as deleted, and the others are discarded.
 */
export async function approveHeldDeletes(
  deps: { store: Store; now: () => Date },
  pbxId: string,
  runId: string,
) {
  const run = await deps.store.sync.getRun(pbxId, runId);
  if (!run) return null;
  return deps.store.transactional(async (tx) => {
    await tx.directory.lockPbx(pbxId);
    const held = await tx.sync.itemsInState(runId, 'HELD');
    const heldUsers = held.map((row) => withRow(row, userDelete(row))).filter(notNull);
    const heldGroups = held.map((row) => withRow(row, groupDelete(row))).filter(notNull);
    // Since the run, an extension may have been released, deleted, or taken over by another
    // user (U5): only those still synced to the item's own directory object are deleted.
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
    const users = heldUsers.filter(({ item }) => ownerOf.get(item.extensionId) === item.userId);
    const groups = heldGroups.filter(({ item }) => ownerOf.get(item.extensionGroupId) === item.groupId);
    const stale = held.length - users.length - groups.length;
    await tx.applier.applyUserItems(
      pbxId,
      users.map((u) => u.item),
    );
    await tx.applier.applyGroupItems(
      pbxId,
      groups.map((g) => g.item),
    );
    const applied = new Set([...users, ...groups].map((x) => x.row.id));
    const isApplied = (row: SyncRunItemData) => applied.has(row.id);
    await tx.sync.setItemState(
      runId,
      held.filter(isApplied).map((i) => i.id),
      'APPROVED',
    );
    await tx.sync.setItemState(
      runId,
      held.filter((i) => !isApplied(i)).map((i) => i.id),
      'DISCARDED',
    );
    const counts = run.counts ?? { users: EMPTY_COUNTS, groups: EMPTY_COUNTS };
    const bump = (c: PlanSummary, applied: number, approved: number): PlanSummary => ({
      ...c,
      delete: c.delete + applied,
      held: Math.max(0, c.held - approved),
    });
    // The guard's window starts again: what was approved is not counted against later runs.
    await tx.sync.updateSettings(pbxId, { guardApprovedAt: deps.now() });
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
