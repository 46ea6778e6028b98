import type { DirectoryGroupSummary } from '../app/ports/directory.port.js';
import {
  type DirectoryGroup,
  type DirectoryUser,
  groupKindOf,
  type UserType,
} from '../domain/directory.types.js';
import type { GroupDeltaRecord, MemberDelta, UserDeltaRecord, UserPatch } from '../domain/directory-delta.js';
import type { GraphObject } from './graph-paging.js';

/**
 * Graph JSON of users and groups → the domain's records. Nothing past this file sees raw
 * Graph JSON. Property names and shapes: https://learn.microsoft.com/graph/api/resources/user
 * and https://learn.microsoft.com/graph/api/resources/group.
 */

/** User properties the sync always needs (besides `id`). */
export const USER_CORE_PROPERTIES = [
  'displayName',
  'givenName',
  'surname',
  'mail',
  'userPrincipalName',
  'mobilePhone',
  'businessPhones',
  'jobTitle',
  'department',
  'accountEnabled',
  'userType',
] as const;

const USER_CORE = new Set<string>(['id', ...USER_CORE_PROPERTIES]);

const TEXT_FIELDS = [
  'displayName',
  'givenName',
  'surname',
  'mail',
  'mobilePhone',
  'jobTitle',
  'department',
] as const;

/** Group properties the sync needs: the name and what decides the kind (`groupKindOf`). */
export const GROUP_PROPERTIES = ['displayName', 'groupTypes', 'securityEnabled', 'mailEnabled'] as const;

/**
 * The `$select` for users: the core properties plus the top-level name of every extra one
 * (`onPremisesExtensionAttributes.extensionAttribute1` selects `onPremisesExtensionAttributes`).
 * Returns the extras as well, as they are kept in `properties`.
 */
export function userSelect(extraProperties: readonly string[]): { select: string[]; extras: string[] } {
  const extras: string[] = [];
  for (const raw of extraProperties) {
    const top = raw.trim().split('.')[0]?.trim() ?? '';
    if (!top || USER_CORE.has(top) || extras.includes(top)) continue;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(top)) {
      throw new RangeError(`"${raw}" is not a Graph user property name`);
    }
    extras.push(top);
  }
  return { select: ['id', ...USER_CORE_PROPERTIES, ...extras], extras };
}

function text(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** One array for every user without a phone (most of them): not an empty array per user. */
const NO_PHONES: readonly string[] = Object.freeze([]);

function phones(v: unknown): readonly string[] {
  if (!Array.isArray(v) || v.length === 0) return NO_PHONES;
  return v.filter((x): x is string => typeof x === 'string');
}

function userType(v: unknown): UserType {
  // Graph's userType is "Member" or "Guest"; very old accounts may have none (null): a member.
  return v === 'Guest' ? 'Guest' : 'Member';
}

/** A user as `GET /users` or `GET /directory/deletedItems/microsoft.graph.user` returns it. */
export function toDirectoryUser(
  raw: GraphObject,
  extras: readonly string[],
  softDeleted = false,
): DirectoryUser {
  let properties: Record<string, unknown> | undefined;
  for (const name of extras) {
    const v = raw[name];
    if (v === undefined || v === null) continue; // absent and null are the same to the domain
    properties ??= {};
    properties[name] = v;
  }
  return {
    id: String(raw.id),
    displayName: text(raw.displayName),
    givenName: text(raw.givenName),
    surname: text(raw.surname),
    mail: text(raw.mail),
    userPrincipalName: text(raw.userPrincipalName) ?? '',
    mobilePhone: text(raw.mobilePhone),
    businessPhones: phones(raw.businessPhones),
    jobTitle: text(raw.jobTitle),
    department: text(raw.department),
    // Returned only when selected (it always is here); an account is enabled unless Graph says false.
    accountEnabled: raw.accountEnabled !== false,
    userType: userType(raw.userType),
    deletionState: softDeleted ? 'SOFT_DELETED' : 'PRESENT',
    deletedDateTime: softDeleted ? (text(raw.deletedDateTime) ?? null) : null,
    ...(properties ? { properties } : {}),
  };
}

function removedReason(raw: GraphObject): 'changed' | 'deleted' | undefined {
  const removed = raw['@removed'];
  if (removed === undefined || removed === null) return undefined;
  // 'deleted' = gone for good; 'changed' = soft-deleted (restorable). Anything else is taken as
  // the non-destructive one (https://learn.microsoft.com/graph/delta-query-overview#resource-representation-in-the-delta-query-response).
  return (removed as { reason?: unknown }).reason === 'deleted' ? 'deleted' : 'changed';
}

/**
 * One item of a users delta round. Works for both representations Graph sends
 * (https://learn.microsoft.com/graph/api/user-delta#response): by default a changed user
 * carries every selected property that has a value (one cleared since comes as null, one
 * never set is left out); with `Prefer: return=minimal` only the changed ones. In both, a
 * property that is absent is "unchanged" and `null` is "cleared", as `UserPatch` says.
 * Properties outside the core set are extra ones (the delta link's `$select` is opaque).
 */
export function toUserDeltaRecord(raw: GraphObject): UserDeltaRecord {
  const id = String(raw.id);
  const removed = removedReason(raw);
  if (removed) return { id, removed };
  const patch: { -readonly [K in keyof UserPatch]: UserPatch[K] } = {};
  for (const field of TEXT_FIELDS) if (field in raw) patch[field] = text(raw[field]);
  if ('userPrincipalName' in raw) patch.userPrincipalName = text(raw.userPrincipalName);
  if ('businessPhones' in raw)
    patch.businessPhones = raw.businessPhones === null ? null : phones(raw.businessPhones);
  if (typeof raw.accountEnabled === 'boolean') patch.accountEnabled = raw.accountEnabled;
  if (typeof raw.userType === 'string') patch.userType = userType(raw.userType);
  let properties: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(raw)) {
    if (USER_CORE.has(key) || key.includes('@')) continue;
    properties ??= {};
    properties[key] = value;
  }
  if (properties) patch.properties = properties;
  return { id, ...patch };
}

function memberType(raw: GraphObject): MemberDelta['type'] {
  const t = String(raw['@odata.type'] ?? '').toLowerCase();
  if (t === '#microsoft.graph.user') return 'user';
  if (t === '#microsoft.graph.group') return 'group';
  return 'other';
}

/** `members@delta` entries (https://learn.microsoft.com/graph/api/group-delta#response). */
export function toMembersDelta(raw: unknown): MemberDelta[] {
  if (!Array.isArray(raw)) return [];
  const out: MemberDelta[] = [];
  for (const m of raw as GraphObject[]) {
    if (!m || typeof m.id !== 'string') continue;
    const entry: MemberDelta = { id: m.id, type: memberType(m) };
    out.push(m['@removed'] !== undefined && m['@removed'] !== null ? { ...entry, removed: true } : entry);
  }
  return out;
}

/** The kind, when the item says enough to tell it (both `groupTypes` and `securityEnabled`, or Unified). */
function kindIfKnown(raw: GraphObject): DirectoryGroup['kind'] | undefined {
  const types = Array.isArray(raw.groupTypes) ? (raw.groupTypes as string[]) : undefined;
  if (types?.includes('Unified')) return 'MICROSOFT_365';
  if (types === undefined || typeof raw.securityEnabled !== 'boolean') return undefined;
  return groupKindOf({
    groupTypes: types,
    securityEnabled: raw.securityEnabled,
    mailEnabled: typeof raw.mailEnabled === 'boolean' ? raw.mailEnabled : null,
  });
}

/** One item of a groups delta round. A large group may come as several items (merge by id, in order). */
export function toGroupDeltaRecord(raw: GraphObject): GroupDeltaRecord {
  const id = String(raw.id);
  const removed = removedReason(raw);
  if (removed) return { id, removed };
  const kind = kindIfKnown(raw);
  const membersDelta = 'members@delta' in raw ? toMembersDelta(raw['members@delta']) : undefined;
  return {
    id,
    ...('displayName' in raw ? { displayName: text(raw.displayName) } : {}),
    ...(kind ? { kind } : {}),
    ...(membersDelta && membersDelta.length > 0 ? { membersDelta } : {}),
  };
}

/**
 * One string per member id over a whole read (issue 16 item 3): Graph sends a user's id once
 * per group it is in (324,000 memberships of 100,000 users), and each parsed string would be
 * held until the snapshot takes the users' own.
 */
export class MemberIds {
  private readonly ids = new Map<string, string>();

  own(id: string): string {
    const known = this.ids.get(id);
    if (known !== undefined) return known;
    this.ids.set(id, id);
    return id;
  }
}

/** The ids in order, each once. */
function sortedOnce(ids: readonly string[]): string[] {
  const sorted = [...ids].sort();
  let n = 0;
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[n - 1]) sorted[n++] = sorted[i];
  sorted.length = n;
  return sorted;
}

function remove(ids: string[], id: string): void {
  let n = 0;
  for (let i = 0; i < ids.length; i++) if (ids[i] !== id) ids[n++] = ids[i];
  ids.length = n;
}

/**
 * A group being put together from the items of a full read (delta pages or member pages).
 * Members are kept as they come, in arrays (a repeated id counts once in `toGroup`), not in a
 * Set per group, whose hash table is several times an array's size (issue 16 item 3).
 */
export class GroupAssembly {
  displayName = '';
  kind: DirectoryGroup['kind'] = 'OTHER';
  readonly users: string[] = [];
  readonly groups: string[] = [];

  constructor(
    readonly id: string,
    private readonly ids: MemberIds = new MemberIds(),
  ) {}

  take(raw: GraphObject): void {
    if ('displayName' in raw) this.displayName = text(raw.displayName) ?? '';
    const kind = kindIfKnown(raw);
    if (kind) this.kind = kind;
  }

  member(m: MemberDelta): void {
    const target = m.type === 'user' ? this.users : m.type === 'group' ? this.groups : null;
    if (!target) return;
    if (m.removed) remove(target, m.id);
    else target.push(this.ids.own(m.id));
  }

  /** A member user read apart (a huge group's ranges). */
  addUser(id: string): void {
    this.users.push(this.ids.own(id));
  }

  /** A member group read apart. */
  addGroup(id: string): void {
    this.groups.push(this.ids.own(id));
  }

  /** Members taken so far (a repeated one counted again). */
  get memberCount(): number {
    return this.users.length + this.groups.length;
  }

  toGroup(): DirectoryGroup {
    return {
      id: this.id,
      displayName: this.displayName,
      kind: this.kind,
      memberUserIds: sortedOnce(this.users),
      memberGroupIds: sortedOnce(this.groups),
    };
  }
}

/** For the group picker and rule checks. */
export function toGroupSummary(raw: GraphObject): DirectoryGroupSummary {
  return {
    id: String(raw.id),
    displayName: text(raw.displayName) ?? '',
    kind: kindIfKnown(raw) ?? groupKindOf({ groupTypes: [], securityEnabled: false }),
    description: text(raw.description),
  };
}
