import { applyCapacityPolicy } from './capacity.policy.js';
import { type DeletionGuardOptions, guardDeletions } from './deletion-guard.policy.js';
import { type DirectoryGroup, type DirectoryUser, effectiveDeletionState } from './directory.types.js';
import { createUserRangePredicate } from './directory-membership.js';
import {
  diffExtension,
  emailKey,
  extensionFieldNotes,
  extensionFieldsOf,
  type SyncedExtensionFields,
} from './extension-fields.js';
import { createNumberAllocator, extensionNumberFromValue, readUserProperty } from './extension-number.js';
import type { PbxCapacity, PbxExtension } from './pbx.types.js';
import { runSteps, STEP, type Steps, sortSteps } from './steps.js';
import { compareKeyParts, compareText, createPlan, sortPlanItemSteps, userItemKeyText } from './sync-plan.js';
import type {
  UserDeleteItem,
  UserDeleteReason,
  UserFailReason,
  UserPlanItem,
  UserReleaseItem,
  UserReleaseReason,
  UserSkipItem,
  UserSyncPlan,
} from './sync-plan.types.js';
import { DEFAULT_START_NUMBER, type UserSyncRule } from './sync-rule.types.js';

/**
 * U1–U6, U10: the user → extension reconcile planner (pure).
 *
 * Matching: a directory user and an extension belong together when the extension is
 * SYNCED and its `externalId` is the user's immutable object id. Names never match.
 * Unsynced (MANUAL) extensions are only ever matched by email, for U5.
 *
 * What happens to a user that has a synced extension, first rule that applies wins:
 * | user                                  | plan                                                      |
 * | ------------------------------------- | --------------------------------------------------------- |
 * | gone for good (hard-deleted, absent,  | U4 deleted on: DELETE USER_DELETED                        |
 * |  or > 30 days in the recycle bin)     | U4 deleted off: RELEASE USER_DELETED (nothing can sync it |
 * |                                       |  again, and a locked orphan could never be deleted, U9)   |
 * | soft-deleted (recycle bin)            | U4 deleted on: DELETE USER_SOFT_DELETED                   |
 * |                                       | U4 deleted off: SKIP USER_SOFT_DELETED: kept, still synced|
 * |                                       |  and locked, untouched, so a restore carries on as before |
 * | out of range (U1)                     | U2 on: DELETE OUT_OF_RANGE; off: RELEASE OUT_OF_RANGE     |
 * | disabled, U4 disabled on              | DELETE USER_DISABLED                                      |
 * | otherwise (disabled with U4 off too)  | UPDATE of the changed fields, or nothing                  |
 * Range comes before the disabled check: a user outside the range is no longer governed by
 * the rule, so U2 decides its extension's fate.
 *
 * A user without a synced extension is considered only when present and in range; when
 * disabled with U4 'disabled' on it is reported SKIP USER_DISABLED, else it is synced: it
 * takes over an unsynced extension with its email (U5, ASSOCIATE) or gets a new one (CREATE).
 * Deleted users without an extension and out-of-range users plan nothing.
 *
 * Conflicts never take anything from anyone and never depend on input order:
 * - Email (U5: `mail`, else the UPN, case-insensitive). A user claims an email when it is not
 *   already its own extension's. A claim succeeds only when no current extension holds the
 *   email and no other user in this plan claims it; or, for a user with no extension yet and
 *   U5 on, when exactly one unsynced extension holds it (ASSOCIATE). Otherwise every
 *   claimant FAILs DUPLICATE_EMAIL ("neither": two users wanting one email both fail, until
 *   the directory is fixed). An email a current extension holds stays held for this run even
 *   when that extension is being deleted, released or renamed, so no order of applying the
 *   plan ever makes two extensions share an email; chains of moves settle over later runs.
 * - Number, U3 FROM_PROPERTY: the property value reduces to a number by
 *   `extensionNumberFromValue`, else FAIL INVALID_EXTENSION_NUMBER. A user claims the number
 *   when it is not already its extension's; the claim succeeds only when no current extension
 *   holds it and no other user claims it, else every claimant FAILs NUMBER_IN_USE.
 * - Number, U3 AUTO: a synced extension keeps its number (even below the start number);
 *   ASSOCIATE keeps the taken-over extension's number; new users, in order of lower-cased UPN
 *   then id, get the lowest free number ≥ startNumber, skipping every number any current
 *   extension holds and every number given before in the plan (FAIL NUMBERS_EXHAUSTED past
 *   9999999).
 * - A FAIL for a user that has a synced extension leaves that extension as it is (no partial update).
 * - Two synced extensions with one externalId (should not happen): the lowest extension id is
 *   the user's; each other one is reported FAIL DUPLICATE_EXTERNAL_ID and left alone.
 * - A SYNCED extension without externalId is left alone.
 */

export interface UserSyncInput {
  readonly directory: {
    /** Every user known, each id once: a synced extension whose user is missing counts as hard-deleted. */
    readonly users: Iterable<DirectoryUser>;
    /** Needed for U1 BY_GROUPS. */
    readonly groups?: Iterable<DirectoryGroup>;
  };
  readonly current: { readonly extensions: Iterable<PbxExtension> };
  readonly rule: UserSyncRule;
  readonly capacity: PbxCapacity;
  readonly now: Date;
  readonly deletionGuard?: DeletionGuardOptions;
  /**
   * Issue 16: a plan of some users only (a delta run). `directory.users` then holds just the
   * users of `userIds` that still exist, and `current.extensions` the extensions synced to them
   * plus those that hold an email or number they claim (`userClaims`); a synced extension of a
   * user outside `userIds` is only a holder, never planned. U3 AUTO: `freeNumbers` are the
   * lowest numbers ≥ the start number that no extension of the PBX holds, ascending, at least
   * as many as the scope's users (or every one left): what a plan of every user would give.
   */
  readonly scope?: {
    readonly userIds: ReadonlySet<string>;
    readonly freeNumbers?: readonly string[];
  };
}

/** How many extensions the PBX has, and how many of them are synced. */
export interface ExtensionCounts {
  readonly total: number;
  readonly synced: number;
}

/**
 * What the user policies need of the PBX: its extensions as they are (or only their counts,
 * issue 16), and its capacity.
 */
export interface UserPolicyInput {
  readonly extensions: readonly PbxExtension[] | ExtensionCounts;
  readonly capacity: PbxCapacity;
  readonly deletionGuard?: DeletionGuardOptions;
}

function countExtensions(extensions: readonly PbxExtension[] | ExtensionCounts): ExtensionCounts {
  if (!Array.isArray(extensions)) return extensions as ExtensionCounts;
  let synced = 0;
  for (const extension of extensions as readonly PbxExtension[]) if (extension.source === 'SYNCED') synced++;
  return { total: extensions.length, synced };
}

/**
 * Issue 16: what the users of a scoped plan may claim of other extensions: their emails (U5
 * keys) and, under U3 FROM_PROPERTY, their numbers. The holders of these are all a scoped
 * plan needs to see besides the users' own extensions.
 */
export function userClaims(
  users: Iterable<DirectoryUser>,
  rule: UserSyncRule,
): { emailKeys: string[]; numbers: string[] } {
  const emailKeys = new Set<string>();
  const numbers = new Set<string>();
  const numbering = rule.numbering;
  for (const user of users) {
    const key = emailKey(extensionFieldsOf(user).email);
    if (key !== null) emailKeys.add(key);
    if (numbering.mode === 'FROM_PROPERTY') {
      const number = extensionNumberFromValue(readUserProperty(user, numbering.property));
      if (number !== null) numbers.add(number);
    }
  }
  return { emailKeys: [...emailKeys], numbers: [...numbers] };
}

/**
 * The user policies (plan → plan): the deletion guard (against the currently synced
 * extensions), then the capacity policy (U10).
 */
export function applyUserPolicies(diff: UserSyncPlan, input: UserPolicyInput): UserSyncPlan {
  const { total, synced } = countExtensions(input.extensions);
  const guarded = guardDeletions(diff, synced, input.deletionGuard);
  return applyCapacityPolicy(guarded, {
    maxExtensions: input.capacity.maxExtensions,
    currentExtensions: total,
  });
}

/** The whole user plan: the diff (`planUserChanges`), then the policies (`applyUserPolicies`). */
export function planUserSync(input: UserSyncInput): UserSyncPlan {
  const extensions = [...input.current.extensions];
  const diff = planUserChanges({ ...input, current: { extensions } });
  return applyUserPolicies(diff, {
    extensions,
    capacity: input.capacity,
    deletionGuard: input.deletionGuard,
  });
}

const AMBIGUOUS = Symbol('held by more than one extension');
type Holder = PbxExtension | typeof AMBIGUOUS;

function hold(holders: Map<string, Holder>, key: string, extension: PbxExtension): void {
  holders.set(key, holders.has(key) ? AMBIGUOUS : extension);
}

function describeHolder(holder: Holder): string {
  if (holder === AMBIGUOUS) return 'several extensions';
  return holder.source === 'SYNCED'
    ? `extension ${holder.number} (synced, ${holder.id})`
    : `extension ${holder.number} (not synced, ${holder.id})`;
}

interface Subject {
  readonly userId: string;
  readonly displayName: string;
  readonly userPrincipalName: string | null;
}

function subjectOfUser(user: DirectoryUser): Subject {
  return {
    userId: user.id,
    displayName: user.displayName?.trim() || user.userPrincipalName,
    userPrincipalName: user.userPrincipalName || null,
  };
}

function subjectOf(userId: string, user: DirectoryUser | undefined, extension: PbxExtension): Subject {
  if (user) return subjectOfUser(user);
  const name = `${extension.firstName} ${extension.lastName}`.trim();
  return { userId, displayName: name || extension.number, userPrincipalName: null };
}

function deleteItem(
  reason: UserDeleteReason,
  userId: string,
  user: DirectoryUser | undefined,
  extension: PbxExtension,
): UserDeleteItem {
  const s = subjectOf(userId, user, extension);
  return {
    action: 'DELETE',
    reason,
    userId,
    displayName: s.displayName,
    userPrincipalName: s.userPrincipalName,
    extensionId: extension.id,
    number: extension.number,
    detail: null,
  };
}

function releaseItem(
  reason: UserReleaseReason,
  userId: string,
  user: DirectoryUser | undefined,
  extension: PbxExtension,
): UserReleaseItem {
  const s = subjectOf(userId, user, extension);
  return {
    action: 'RELEASE',
    reason,
    userId,
    displayName: s.displayName,
    userPrincipalName: s.userPrincipalName,
    extensionId: extension.id,
    number: extension.number,
    detail: null,
  };
}

/** U4 'deleted' off: a soft-deleted user's extension is kept as it is, still synced. */
function keptItem(userId: string, user: DirectoryUser | undefined, extension: PbxExtension): UserSkipItem {
  const s = subjectOf(userId, user, extension);
  return {
    action: 'SKIP',
    reason: 'USER_SOFT_DELETED',
    userId,
    displayName: s.displayName,
    userPrincipalName: s.userPrincipalName,
    extensionId: extension.id,
    number: extension.number,
    detail: 'kept while the user is in the recycle bin',
  };
}

/** A user to be on an extension: its subject's fields are its own (no object apart). */
interface Candidate extends Subject {
  readonly user: DirectoryUser;
  /** The text part of its plan item's sort key (`userItemKeyText`). */
  readonly keyText: string;
  /** Its synced extension, when it has one. */
  readonly own: PbxExtension | null;
  /** The extension it will be on: its own, or the unsynced one it takes over (U5). */
  target: PbxExtension | null;
  /**
   * The extension's fields as they will be, `number` set once decided: the very object of its
   * CREATE or ASSOCIATE item (issue 16 item 3: not a copy per user).
   */
  readonly desired: { -readonly [K in keyof SyncedExtensionFields]: SyncedExtensionFields[K] };
  readonly emailKey: string | null;
  number: string | null;
  failure: { readonly reason: UserFailReason; readonly detail: string } | null;
}

/** The diff alone, before any policy (deletion guard, capacity). */
export function planUserChanges(input: UserSyncInput): UserSyncPlan {
  return runSteps(userChangeSteps(input));
}

/** `planUserChanges` in steps (it pauses every STEP users), for a caller that must not block. */
export function* userChangeSteps(input: UserSyncInput): Steps<UserSyncPlan> {
  const { rule, now } = input;
  let work = 0;
  const groups = new Map<string, DirectoryGroup>();
  for (const group of input.directory.groups ?? []) groups.set(group.id, group);
  const inRange = createUserRangePredicate(rule.range, groups, rule.includeNestedMembers);

  const extensions: PbxExtension[] = [];
  /**
   * The synced extension of each user id (the lowest extension id when several claim one). A
   * user's is taken out when the user is planned: those left are the synced extensions whose
   * user is not in the directory at all. Nothing is kept per user (issue 16 item 3: a first
   * sync's 100,000 users, none synced yet, made a map and an object per user).
   */
  const extensionOf = new Map<string, PbxExtension>();
  const duplicates: PbxExtension[] = [];
  for (const extension of input.current.extensions) {
    if (++work % STEP === 0) yield;
    extensions.push(extension);
    const userId = extension.externalId;
    if (extension.source !== 'SYNCED' || !userId) continue;
    // A scoped plan: the extension of a user outside the scope only holds its email and number.
    if (input.scope && !input.scope.userIds.has(userId)) continue;
    const other = extensionOf.get(userId);
    if (other && other.id < extension.id) {
      duplicates.push(extension);
      continue;
    }
    if (other) duplicates.push(other);
    extensionOf.set(userId, extension);
  }
  /** The users of duplicate synced extensions, for their report rows. */
  const duplicated = new Set(duplicates.map((extension) => extension.externalId));
  const usersOfDuplicates = new Map<string, DirectoryUser>();

  // Who holds which email and number; built only when someone claims one.
  let emailIndex: Map<string, Holder> | null = null;
  const emailHolders = (): Map<string, Holder> => {
    if (!emailIndex) {
      emailIndex = new Map();
      for (const extension of extensions) {
        const key = emailKey(extension.email);
        if (key !== null) hold(emailIndex, key, extension);
      }
    }
    return emailIndex;
  };
  let numberIndex: Map<string, Holder> | null = null;
  const numberHolders = (): Map<string, Holder> => {
    if (!numberIndex) {
      numberIndex = new Map();
      for (const extension of extensions) hold(numberIndex, extension.number, extension);
    }
    return numberIndex;
  };

  const items: UserPlanItem[] = [];
  const candidates: Candidate[] = [];
  const candidate = (user: DirectoryUser, own: PbxExtension | null): Candidate => {
    const f = extensionFieldsOf(user);
    const subject = subjectOfUser(user);
    return {
      user,
      userId: subject.userId,
      displayName: subject.displayName,
      userPrincipalName: subject.userPrincipalName,
      keyText: userItemKeyText(subject),
      own,
      target: own,
      desired: {
        number: '',
        firstName: f.firstName,
        lastName: f.lastName,
        email: f.email,
        mobileNumber: f.mobileNumber,
        jobTitle: f.jobTitle,
      },
      emailKey: emailKey(f.email),
      number: null,
      failure: null,
    };
  };

  // A user with a synced extension (or a synced extension whose user is gone).
  const planSynced = (userId: string, user: DirectoryUser | undefined, extension: PbxExtension) => {
    const state = effectiveDeletionState(user, now);
    if (state === 'HARD_DELETED' || !user) {
      if (rule.deleteWhen.deleted) items.push(deleteItem('USER_DELETED', userId, user, extension));
      else items.push(releaseItem('USER_DELETED', userId, user, extension));
    } else if (state === 'SOFT_DELETED') {
      if (rule.deleteWhen.deleted) items.push(deleteItem('USER_SOFT_DELETED', userId, user, extension));
      else items.push(keptItem(userId, user, extension));
    } else if (!inRange(user)) {
      if (rule.autoDelete) items.push(deleteItem('OUT_OF_RANGE', userId, user, extension));
      else items.push(releaseItem('OUT_OF_RANGE', userId, user, extension));
    } else if (!user.accountEnabled && rule.deleteWhen.disabled) {
      items.push(deleteItem('USER_DISABLED', userId, user, extension));
    } else {
      candidates.push(candidate(user, extension));
    }
  };

  // A user without one.
  const planUnsynced = (user: DirectoryUser) => {
    if (effectiveDeletionState(user, now) !== 'PRESENT' || !inRange(user)) return;
    if (!user.accountEnabled && rule.deleteWhen.disabled) {
      const subject = subjectOfUser(user);
      items.push({
        action: 'SKIP',
        reason: 'USER_DISABLED',
        userId: subject.userId,
        displayName: subject.displayName,
        userPrincipalName: subject.userPrincipalName,
        extensionId: null,
        number: null,
        detail: null,
      });
      return;
    }
    candidates.push(candidate(user, null));
  };

  for (const user of input.directory.users) {
    if (++work % STEP === 0) yield;
    if (duplicated.has(user.id)) usersOfDuplicates.set(user.id, user);
    const extension = extensionOf.get(user.id);
    if (extension) {
      extensionOf.delete(user.id);
      planSynced(user.id, user, extension);
    } else planUnsynced(user);
  }
  // Synced extensions whose user is not in the directory at all.
  for (const [userId, extension] of extensionOf) planSynced(userId, undefined, extension);

  const fail = (c: Candidate, reason: UserFailReason, detail: string) => {
    c.failure = { reason, detail };
  };

  // U3 FROM_PROPERTY: the number each user asks for.
  const numbering = rule.numbering;
  if (numbering.mode === 'FROM_PROPERTY') {
    for (const c of candidates) {
      const value = readUserProperty(c.user, numbering.property);
      const number = extensionNumberFromValue(value);
      if (number === null) {
        fail(
          c,
          'INVALID_EXTENSION_NUMBER',
          value === null
            ? `${numbering.property} is empty`
            : `${numbering.property} "${value}" is not an extension number (1-7 digits, no leading 0)`,
        );
      } else {
        c.number = number;
      }
    }
  }

  // U5: email claims, the claimants grouped by sorting them by key (issue 16 item 3: not a
  // Map of every claimed email, 100,000 on a first sync, whose tables V8 makes in the old
  // generation as it grows, garbage the run never collects again).
  const claiming: Candidate[] = [];
  for (const c of candidates) {
    if (++work % STEP === 0) yield;
    if (c.failure || c.emailKey === null) continue;
    if (c.own && emailKey(c.own.email) === c.emailKey) continue;
    claiming.push(c);
  }
  const byEmail = yield* sortSteps(claiming, (a, b) => compareText(a.emailKey ?? '', b.emailKey ?? ''));
  for (let i = 0; i < byEmail.length; ) {
    const key = byEmail[i].emailKey ?? '';
    let end = i + 1;
    while (end < byEmail.length && byEmail[end].emailKey === key) end++;
    work += end - i;
    if (work >= STEP) {
      work = 0;
      yield;
    }
    if (end - i > 1) {
      for (let k = i; k < end; k++) {
        fail(byEmail[k], 'DUPLICATE_EMAIL', `${end - i} users in range want this email`);
      }
      i = end;
      continue;
    }
    const c = byEmail[i];
    i = end;
    const holder = emailHolders().get(key);
    if (holder === undefined) continue;
    if (holder !== AMBIGUOUS && holder.source === 'MANUAL' && c.own === null) {
      if (rule.autoAssociate) c.target = holder;
      else fail(c, 'DUPLICATE_EMAIL', `${describeHolder(holder)} has this email and auto associate is off`);
    } else {
      fail(c, 'DUPLICATE_EMAIL', `${describeHolder(holder)} has this email`);
    }
  }

  if (numbering.mode === 'FROM_PROPERTY') {
    // Number claims: never take a number from anyone; two users wanting one number both fail.
    const numberClaims = new Map<string, Candidate[]>();
    for (const c of candidates) {
      if (c.failure || c.number === null || c.target?.number === c.number) continue;
      const claimants = numberClaims.get(c.number);
      if (claimants) claimants.push(c);
      else numberClaims.set(c.number, [c]);
    }
    for (const [number, claimants] of numberClaims) {
      const holder = numberHolders().get(number);
      if (claimants.length > 1) {
        for (const c of claimants) {
          fail(c, 'NUMBER_IN_USE', `${claimants.length} users in range want ${number}`);
        }
      } else if (holder !== undefined) {
        fail(claimants[0], 'NUMBER_IN_USE', `${number} is held by ${describeHolder(holder)}`);
      }
    }
  } else {
    for (const c of candidates) if (!c.failure && c.target) c.number = c.target.number;
    const fresh = yield* sortSteps(
      candidates.filter((c) => !c.failure && !c.target),
      (a, b) => compareKeyParts(a.keyText, a.userId, b.keyText, b.userId),
    );
    const free = input.scope?.freeNumbers;
    let given = 0;
    const next = free
      ? () => (given < free.length ? free[given++] : null)
      : createNumberAllocator(
          numbering.startNumber ?? DEFAULT_START_NUMBER,
          fresh.length > 0 ? numberHolders() : new Map(),
        );
    for (const c of fresh) {
      if (++work % STEP === 0) yield;
      const number = next();
      if (number === null) fail(c, 'NUMBERS_EXHAUSTED', 'no free extension number is left');
      else c.number = number;
    }
  }

  for (const c of candidates) {
    if (++work % STEP === 0) yield;
    if (c.failure || c.number === null) {
      items.push({
        action: 'FAIL',
        reason: c.failure?.reason ?? 'INVALID_EXTENSION_NUMBER',
        userId: c.userId,
        displayName: c.displayName,
        userPrincipalName: c.userPrincipalName,
        extensionId: c.own?.id ?? null,
        number: c.own?.number ?? null,
        detail: c.failure?.detail ?? null,
      });
      continue;
    }
    const desired: SyncedExtensionFields = c.desired;
    c.desired.number = c.number;
    const { userId, displayName, userPrincipalName } = c;
    // Values fitted to what an extension holds are said so (see extensionFieldsOf).
    const detail = extensionFieldNotes(c.user);
    if (c.own) {
      const changes = diffExtension(c.own, desired);
      if (changes.length > 0) {
        items.push({
          action: 'UPDATE',
          reason: 'USER_CHANGED',
          userId,
          displayName,
          userPrincipalName,
          extensionId: c.own.id,
          number: c.number,
          detail,
          changes,
        });
      }
    } else if (c.target) {
      items.push({
        action: 'ASSOCIATE',
        reason: 'EMAIL_MATCH',
        userId,
        displayName,
        userPrincipalName,
        extensionId: c.target.id,
        number: c.number,
        detail,
        extension: desired,
        changes: diffExtension(c.target, desired),
      });
    } else {
      items.push({
        action: 'CREATE',
        reason: 'NEW_USER',
        userId,
        displayName,
        userPrincipalName,
        extensionId: null,
        number: c.number,
        detail,
        extension: desired,
        sendWelcomeEmail: rule.welcomeEmail && desired.email !== null,
      });
    }
  }

  duplicates.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const extension of duplicates) {
    const userId = extension.externalId ?? '';
    const subject = subjectOf(userId, usersOfDuplicates.get(userId), extension);
    items.push({
      action: 'FAIL',
      reason: 'DUPLICATE_EXTERNAL_ID',
      userId: subject.userId,
      displayName: subject.displayName,
      userPrincipalName: subject.userPrincipalName,
      extensionId: extension.id,
      number: extension.number,
      detail: `extension ${extension.number} is a second synced extension of this user; left alone`,
    });
  }

  return createPlan(now, yield* sortPlanItemSteps(items, userItemKeyText, (item) => item.userId));
}
