import type { FieldChange, SyncedExtensionFields } from './extension-fields.js';

/**
 * A sync plan: what one run will do, item by item, each with a reason code. Unchanged
 * objects plan nothing (there is no NO_CHANGE item). Items are plain JSON-able data, sorted
 * by action in apply order (DELETE, RELEASE, UPDATE, ASSOCIATE, CREATE, then the reports
 * SKIP and FAIL), then by subject (users: lower-cased UPN, then id; groups: lower-cased
 * name, then id). The same input always gives the same plan.
 */
export type PlanAction = 'DELETE' | 'RELEASE' | 'UPDATE' | 'ASSOCIATE' | 'CREATE' | 'SKIP' | 'FAIL';

/** Apply order; an applier that follows it frees capacity before it uses it. */
export const ACTION_ORDER: Readonly<Record<PlanAction, number>> = {
  DELETE: 0,
  RELEASE: 1,
  UPDATE: 2,
  ASSOCIATE: 3,
  CREATE: 4,
  SKIP: 5,
  FAIL: 6,
};

/** Actions that change the PBX; SKIP and FAIL only report. */
export const CHANGE_ACTIONS: readonly PlanAction[] = ['DELETE', 'RELEASE', 'UPDATE', 'ASSOCIATE', 'CREATE'];

// ---------------------------------------------------------------- users

export type UserDeleteReason = 'OUT_OF_RANGE' | 'USER_DISABLED' | 'USER_DELETED' | 'USER_SOFT_DELETED';
export type UserReleaseReason = 'OUT_OF_RANGE' | 'USER_DELETED';
export type UserSkipReason = 'USER_DISABLED' | 'USER_SOFT_DELETED';
export type UserFailReason =
  | 'DUPLICATE_EMAIL'
  | 'INVALID_EXTENSION_NUMBER'
  | 'NUMBER_IN_USE'
  | 'NUMBERS_EXHAUSTED'
  | 'CAPACITY_REACHED'
  | 'DUPLICATE_EXTERNAL_ID';

interface UserItemBase {
  /** The Entra object id. */
  readonly userId: string;
  /** For reports: the user's display name, or the extension's name when the user is gone. */
  readonly displayName: string;
  readonly userPrincipalName: string | null;
  /** The extension acted on; null when there is none yet. */
  readonly extensionId: string | null;
  /** The extension's number after the item is applied (for DELETE: the number it had). */
  readonly number: string | null;
  /** A sentence for people, e.g. which extension holds the wanted number. */
  readonly detail: string | null;
}

export interface UserCreateItem extends UserItemBase {
  readonly action: 'CREATE';
  readonly reason: 'NEW_USER';
  readonly extensionId: null;
  readonly number: string;
  readonly extension: SyncedExtensionFields;
  /** U6: send the Linkus welcome email once created (rule on and the extension has an email). */
  readonly sendWelcomeEmail: boolean;
}

export interface UserUpdateItem extends UserItemBase {
  readonly action: 'UPDATE';
  readonly reason: 'USER_CHANGED';
  readonly extensionId: string;
  readonly number: string;
  /** Never empty. */
  readonly changes: readonly FieldChange[];
}

/** U5: an unsynced extension with the user's email is taken over: marked SYNCED with the user's id, fields overwritten. */
export interface UserAssociateItem extends UserItemBase {
  readonly action: 'ASSOCIATE';
  readonly reason: 'EMAIL_MATCH';
  readonly extensionId: string;
  readonly number: string;
  /** Every synced field as it will be. */
  readonly extension: SyncedExtensionFields;
  /** What the take-over overwrites (may be empty). */
  readonly changes: readonly FieldChange[];
}

export interface UserDeleteItem extends UserItemBase {
  readonly action: 'DELETE';
  readonly reason: UserDeleteReason;
  readonly extensionId: string;
}

/** U2 off (or U4 'deleted' off for a user gone for good): the extension stays, unlocked and fully PBX-managed (source MANUAL). */
export interface UserReleaseItem extends UserItemBase {
  readonly action: 'RELEASE';
  readonly reason: UserReleaseReason;
  readonly extensionId: string;
}

export interface UserSkipItem extends UserItemBase {
  readonly action: 'SKIP';
  readonly reason: UserSkipReason;
}

export interface UserFailItem extends UserItemBase {
  readonly action: 'FAIL';
  readonly reason: UserFailReason;
}

export type UserPlanItem =
  | UserCreateItem
  | UserUpdateItem
  | UserAssociateItem
  | UserDeleteItem
  | UserReleaseItem
  | UserSkipItem
  | UserFailItem;

// ---------------------------------------------------------------- groups

export type GroupGoneReason = 'OUT_OF_RANGE' | 'GROUP_DELETED';
export type GroupAssociateReason = 'KEPT_GROUP_ID' | 'NAME_MATCH';
export type GroupFailReason =
  | 'GROUP_LIMIT_REACHED'
  | 'DUPLICATE_NAME'
  | 'INVALID_NAME'
  | 'DUPLICATE_EXTERNAL_ID';

interface GroupItemBase {
  /** The Entra object id. */
  readonly groupId: string;
  /** The group's name (for DELETE / RELEASE: the extension group's). */
  readonly name: string;
  readonly extensionGroupId: string | null;
  readonly detail: string | null;
}

export interface GroupCreateItem extends GroupItemBase {
  readonly action: 'CREATE';
  readonly reason: 'NEW_GROUP';
  readonly extensionGroupId: null;
  /** G5, sorted. */
  readonly memberExtensionIds: readonly string[];
}

export interface GroupUpdateItem extends GroupItemBase {
  readonly action: 'UPDATE';
  readonly reason: 'GROUP_CHANGED';
  readonly extensionGroupId: string;
  readonly nameChange: { readonly from: string; readonly to: string } | null;
  /** The whole member list as it will be (sorted), and what changes (sorted). */
  readonly memberExtensionIds: readonly string[];
  readonly addedMemberExtensionIds: readonly string[];
  readonly removedMemberExtensionIds: readonly string[];
}

/**
 * A retained extension group (not synced, e.g. kept at a disconnect) taken over by its
 * directory group again: by the directory id it kept, else by its name when it never had
 * one. It becomes synced, with the group's name and members.
 */
export interface GroupAssociateItem extends GroupItemBase {
  readonly action: 'ASSOCIATE';
  readonly reason: GroupAssociateReason;
  readonly extensionGroupId: string;
  readonly nameChange: { readonly from: string; readonly to: string } | null;
  readonly memberExtensionIds: readonly string[];
  readonly addedMemberExtensionIds: readonly string[];
  readonly removedMemberExtensionIds: readonly string[];
}

export interface GroupDeleteItem extends GroupItemBase {
  readonly action: 'DELETE';
  readonly reason: GroupGoneReason;
  readonly extensionGroupId: string;
}

export interface GroupReleaseItem extends GroupItemBase {
  readonly action: 'RELEASE';
  readonly reason: GroupGoneReason;
  readonly extensionGroupId: string;
}

export interface GroupFailItem extends GroupItemBase {
  readonly action: 'FAIL';
  readonly reason: GroupFailReason;
}

export type GroupPlanItem =
  | GroupCreateItem
  | GroupUpdateItem
  | GroupAssociateItem
  | GroupDeleteItem
  | GroupReleaseItem
  | GroupFailItem;

// ---------------------------------------------------------------- plans

export interface PlanItemLike {
  readonly action: PlanAction;
  readonly reason: string;
}

export type PolicyName = 'DELETION_GUARD' | 'CAPACITY' | 'GROUP_LIMIT';

/** What a policy held back: the item as planned, and what became of it. */
export interface Suppression<I extends PlanItemLike> {
  readonly policy: PolicyName;
  readonly item: I;
  /** HELD: moved to `heldDeletes`; FAILED: replaced in `items` by a FAIL item. */
  readonly outcome: 'HELD' | 'FAILED';
}

export interface DeletionGuardVerdict {
  /** This run's deletes. */
  readonly deletes: number;
  /** Deletes earlier runs applied within the guard's window. */
  readonly recentDeletes: number;
  readonly synced: number;
  readonly maxDeletes: number;
  readonly maxDeleteRatio: number;
  readonly held: boolean;
}

export interface SyncPlan<I extends PlanItemLike> {
  /** `now` as given to the planner (ISO 8601). */
  readonly plannedAt: string;
  /** What to apply now, sorted. */
  readonly items: readonly I[];
  /** True when the deletion guard held this run's deletes (the run ends HELD). */
  readonly held: boolean;
  /** The DELETE items the guard held, sorted; `approveHeldDeletes` puts them back. */
  readonly heldDeletes: readonly I[];
  readonly guard: DeletionGuardVerdict | null;
  /** Every item a policy held back or turned into a failure. */
  readonly suppressed: readonly Suppression<I>[];
}

export type UserSyncPlan = SyncPlan<UserPlanItem>;
export type GroupSyncPlan = SyncPlan<GroupPlanItem>;

/** U8 counts. `held` counts held deletes (not in `delete`). */
export interface PlanSummary {
  readonly create: number;
  readonly update: number;
  readonly associate: number;
  readonly delete: number;
  readonly release: number;
  readonly skip: number;
  readonly fail: number;
  readonly held: number;
}

/** Every reason a user DELETE can have (to read a held delete back from a report row). */
export const USER_DELETE_REASONS: readonly UserDeleteReason[] = [
  'OUT_OF_RANGE',
  'USER_DISABLED',
  'USER_DELETED',
  'USER_SOFT_DELETED',
];
/** Every reason a group DELETE can have. */
export const GROUP_DELETE_REASONS: readonly GroupGoneReason[] = ['OUT_OF_RANGE', 'GROUP_DELETED'];
