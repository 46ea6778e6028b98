/**
 * The Microsoft 365 / Entra ID directory as the reconcile engine sees it: plain, immutable
 * records that src/m365 builds from Graph (full read or delta merge), never raw Graph JSON.
 */

export type UserType = 'Member' | 'Guest';

/**
 * Where an object stands in its life, as Graph tells it:
 * - `PRESENT`: a live object (enabled or not);
 * - `SOFT_DELETED`: delta `@removed: { reason: 'changed' }`, in the recycle bin, restorable for 30 days;
 * - `HARD_DELETED`: delta `@removed: { reason: 'deleted' }`, gone for good.
 * A user or group that is absent from the directory the planners are given counts as `HARD_DELETED`.
 */
export type DeletionState = 'PRESENT' | 'SOFT_DELETED' | 'HARD_DELETED';

/** Entra purges a soft-deleted user or group after this many days. */
export const SOFT_DELETE_RETENTION_DAYS = 30;

export interface DirectoryUser {
  /** The immutable Entra object id: the only key users are matched by. */
  readonly id: string;
  readonly displayName: string | null;
  readonly givenName: string | null;
  readonly surname: string | null;
  readonly mail: string | null;
  readonly userPrincipalName: string;
  readonly mobilePhone: string | null;
  readonly businessPhones: readonly string[];
  readonly jobTitle: string | null;
  readonly department: string | null;
  readonly accountEnabled: boolean;
  readonly userType: UserType;
  readonly deletionState: DeletionState;
  /** ISO 8601; when it went to the recycle bin (Graph `deletedDateTime`, or when the delta said so). */
  readonly deletedDateTime?: string | null;
  /**
   * Further `$select`ed properties, by their Graph name (e.g. `employeeId`,
   * `onPremisesExtensionAttributes`, `extension_<appId>_ext`), for U3 FROM_PROPERTY.
   */
  readonly properties?: Readonly<Record<string, unknown>>;
}

/** SECURITY: security groups (mail-enabled or not); MICROSOFT_365: unified groups; OTHER: the rest (distribution lists). */
export type GroupKind = 'SECURITY' | 'MICROSOFT_365' | 'OTHER';

export interface DirectoryGroup {
  readonly id: string;
  readonly displayName: string;
  readonly kind: GroupKind;
  /** Direct members that are users (Graph `members`, users only). */
  readonly memberUserIds: readonly string[];
  /** Direct members that are groups; lets the domain work out nested membership itself. */
  readonly memberGroupIds?: readonly string[];
  /**
   * Users that are members directly or through nested groups (Graph `transitiveMembers`).
   * When given it wins over the closure over `memberGroupIds`.
   */
  readonly transitiveMemberUserIds?: readonly string[];
  /** Absent means `PRESENT`. */
  readonly deletionState?: DeletionState;
}

/** The kind of a Graph group from its `groupTypes`, `securityEnabled` and `mailEnabled`. */
export function groupKindOf(group: {
  groupTypes?: readonly string[] | null;
  securityEnabled?: boolean | null;
  mailEnabled?: boolean | null;
}): GroupKind {
  if (group.groupTypes?.includes('Unified')) return 'MICROSOFT_365';
  if (group.securityEnabled) return 'SECURITY';
  return 'OTHER';
}

/**
 * A user's deletion state at `now`: a soft-deleted user whose recycle-bin time is over
 * (more than 30 days since `deletedDateTime`) is treated as hard-deleted; an absent one too.
 */
export function effectiveDeletionState(user: DirectoryUser | undefined, now: Date): DeletionState {
  if (!user) return 'HARD_DELETED';
  if (user.deletionState !== 'SOFT_DELETED' || !user.deletedDateTime) return user.deletionState;
  const deletedAt = Date.parse(user.deletedDateTime);
  if (Number.isNaN(deletedAt)) return 'SOFT_DELETED';
  const purgeAt = deletedAt + SOFT_DELETE_RETENTION_DAYS * 24 * 60 * 60 * 1000;
  return now.getTime() > purgeAt ? 'HARD_DELETED' : 'SOFT_DELETED';
}
