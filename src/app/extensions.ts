import type { Caller } from '../domain/access.js';
import {
  cleanText,
  type ExtensionFields,
  type ExtensionGroupRecord,
  type ExtensionRecord,
  lockedExtensionChanges,
  lockedGroupChanges,
  normaliseExtensionFields,
  normaliseGroupName,
} from '../domain/extension-rules.js';
import { MAX_EXTENSION_GROUPS } from '../domain/pbx.types.js';
import type { FieldProblem } from '../domain/tenant.js';
import { AppError } from './errors.js';
import type { LinkusSessions } from './linkus-sessions.js';
import type { ExtensionFilter, Page, PageRequest, Store } from './ports/store.port.js';

/**
 * The PBX side for admins (issue 4 item 5): extensions and extension groups by hand.
 * Numbers (1–7 digits) and emails (case-insensitively) are unique per PBX, the PBX's
 * extension capacity and the 63-group limit hold, and what the sync manages stays locked
 * (U9, G4). Every write runs in one transaction; every read and write is scoped to the
 * caller's PBX, so an id of another PBX is simply not found.
 */

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

/** What a caller may send for an extension: any field may be missing, null clears a nullable one. */
export type ExtensionInput = { [K in keyof ExtensionFields]?: ExtensionFields[K] | null };

export interface PageArgs {
  first?: number | null;
  after?: string | null;
}

/** Checks `first` (1–500, default 50). */
export function pageRequest(args: PageArgs): PageRequest {
  const first = args.first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw AppError.invalidInput([{ field: 'first', message: `must be from 1 to ${MAX_PAGE_SIZE}` }]);
  }
  return { first, after: args.after || null };
}

const notFound = (what: string, id: string) =>
  new AppError('NOT_FOUND', `No ${what} with id ${id}`, { field: 'id' });

function refuseInvalid(problems: FieldProblem[]) {
  if (problems.length) throw AppError.invalidInput(problems);
}

// ---------------------------------------------------------------------------- extensions

export async function listExtensions(
  store: Store,
  caller: Caller,
  args: PageArgs & { filter?: ExtensionFilter | null },
): Promise<Page<ExtensionRecord>> {
  const page = pageRequest(args);
  const f = args.filter ?? {};
  const filter: ExtensionFilter = {
    number: cleanText(f.number),
    name: cleanText(f.name),
    email: cleanText(f.email),
    source: f.source ?? null,
  };
  return store.directory.pageExtensions(caller.pbxId, filter, page);
}

export async function getExtension(
  store: Store,
  caller: Caller,
  id: string,
): Promise<ExtensionRecord | null> {
  return store.directory.findExtension(caller.pbxId, id);
}

export async function createExtension(
  store: Store,
  caller: Caller,
  input: ExtensionInput,
): Promise<ExtensionRecord> {
  const { value, problems } = normaliseExtensionFields(input, 'create');
  refuseInvalid(problems);
  const fields = value as ExtensionFields;
  return store.transactional(async (tx) => {
    const pbxId = caller.pbxId;
    await tx.directory.lockPbx(pbxId);
    if (await tx.directory.findExtensionByNumber(pbxId, fields.number)) {
      throw new AppError('NUMBER_IN_USE', `Extension number ${fields.number} is in use`, { field: 'number' });
    }
    if (fields.email && (await tx.directory.findExtensionByEmail(pbxId, fields.email))) {
      throw new AppError('EMAIL_IN_USE', `Another extension has the email ${fields.email}`, {
        field: 'email',
      });
    }
    const pbx = await tx.tenants.findPbx(pbxId);
    if (!pbx) throw new AppError('NOT_FOUND', 'This PBX no longer exists');
    const count = await tx.directory.countExtensions(pbxId);
    if (count >= pbx.extensionCapacity) {
      throw new AppError(
        'CAPACITY_REACHED',
        `The PBX holds at most ${pbx.extensionCapacity} extensions and has ${count}`,
        { capacity: pbx.extensionCapacity, count },
      );
    }
    return tx.directory.createExtension(pbxId, { ...fields, source: 'MANUAL', externalId: null });
  });
}

export async function updateExtension(
  store: Store,
  caller: Caller,
  id: string,
  input: ExtensionInput,
): Promise<ExtensionRecord> {
  const { value: patch, problems } = normaliseExtensionFields(input, 'update');
  refuseInvalid(problems);
  return store.transactional(async (tx) => {
    const pbxId = caller.pbxId;
    const current = await tx.directory.findExtension(pbxId, id);
    if (!current) throw notFound('extension', id);
    const locked = lockedExtensionChanges(current, patch);
    if (locked.length) {
      throw new AppError(
        'LOCKED_BY_SYNC',
        `This extension is synced from Microsoft 365: ${locked.join(', ')} cannot be changed by hand`,
        { field: locked[0], fields: locked },
      );
    }
    if (patch.number !== undefined && patch.number !== current.number) {
      const other = await tx.directory.findExtensionByNumber(pbxId, patch.number);
      if (other && other.id !== id) {
        throw new AppError('NUMBER_IN_USE', `Extension number ${patch.number} is in use`, {
          field: 'number',
        });
      }
    }
    if (patch.email) {
      const other = await tx.directory.findExtensionByEmail(pbxId, patch.email);
      if (other && other.id !== id) {
        throw new AppError('EMAIL_IN_USE', `Another extension has the email ${patch.email}`, {
          field: 'email',
        });
      }
    }
    const updated = await tx.directory.updateExtension(pbxId, id, patch);
    if (!updated) throw notFound('extension', id);
    return updated;
  });
}

/**
 * Deletes a hand-made extension; returns its id. Its LINKUS keys go with it (foreign key), and
 * every gateway process hears so at once (issue 13: none serves them from memory).
 */
export async function deleteExtension(
  deps: { store: Store; linkusSessions: Pick<LinkusSessions, 'afterDirectoryChange'> },
  caller: Caller,
  id: string,
): Promise<string> {
  const { store } = deps;
  await store.transactional(async (tx) => {
    const current = await tx.directory.findExtension(caller.pbxId, id);
    if (!current) throw notFound('extension', id);
    if (current.source === 'SYNCED') {
      throw new AppError(
        'LOCKED_BY_SYNC',
        'This extension is synced from Microsoft 365 and cannot be deleted by hand',
        { fields: [] },
      );
    }
    await tx.directory.deleteExtension(caller.pbxId, id);
  });
  await deps.linkusSessions.afterDirectoryChange(store, caller.pbxId, [id]);
  return id;
}

// ---------------------------------------------------------------------------- groups

export interface ExtensionGroupInput {
  name?: string | null;
  memberIds?: readonly string[] | null;
}

export async function listExtensionGroups(
  store: Store,
  caller: Caller,
  args: PageArgs,
): Promise<Page<ExtensionGroupRecord>> {
  return store.directory.pageExtensionGroups(caller.pbxId, pageRequest(args));
}

export async function getExtensionGroup(
  store: Store,
  caller: Caller,
  id: string,
): Promise<ExtensionGroupRecord | null> {
  return store.directory.findExtensionGroup(caller.pbxId, id);
}

/** Refuses member ids that are not extensions of the caller's PBX (named, the first few). */
async function checkMembers(tx: Store, pbxId: string, memberIds: readonly string[]) {
  const found = await tx.directory.existingExtensionIds(pbxId, memberIds);
  const unknown = memberIds.filter((m) => !found.has(m));
  if (unknown.length) {
    const shown =
      unknown.slice(0, 5).join(', ') + (unknown.length > 5 ? ` and ${unknown.length - 5} more` : '');
    throw AppError.invalidInput([{ field: 'memberIds', message: `not extensions of this PBX: ${shown}` }]);
  }
}

export async function createExtensionGroup(
  store: Store,
  caller: Caller,
  input: ExtensionGroupInput,
): Promise<ExtensionGroupRecord> {
  const name = normaliseGroupName(input.name);
  if (name.problem) throw AppError.invalidInput([name.problem]);
  const memberIds = [...new Set(input.memberIds ?? [])];
  return store.transactional(async (tx) => {
    const pbxId = caller.pbxId;
    await tx.directory.lockPbx(pbxId);
    const count = await tx.directory.countExtensionGroups(pbxId);
    if (count >= MAX_EXTENSION_GROUPS) {
      throw new AppError(
        'GROUP_LIMIT_REACHED',
        `The PBX holds at most ${MAX_EXTENSION_GROUPS} extension groups`,
        {
          limit: MAX_EXTENSION_GROUPS,
        },
      );
    }
    if (await tx.directory.findExtensionGroupByName(pbxId, name.value as string)) {
      throw new AppError('NAME_IN_USE', `An extension group named "${name.value}" exists`, { field: 'name' });
    }
    await checkMembers(tx, pbxId, memberIds);
    return tx.directory.createExtensionGroup(pbxId, {
      name: name.value as string,
      source: 'MANUAL',
      externalId: null,
      memberIds,
    });
  });
}

export async function updateExtensionGroup(
  store: Store,
  caller: Caller,
  id: string,
  input: ExtensionGroupInput,
): Promise<ExtensionGroupRecord> {
  let newName: string | undefined;
  if (input.name !== undefined) {
    const name = normaliseGroupName(input.name);
    if (name.problem) throw AppError.invalidInput([name.problem]);
    newName = name.value;
  }
  const memberIds = input.memberIds == null ? undefined : [...new Set(input.memberIds)];
  return store.transactional(async (tx) => {
    const pbxId = caller.pbxId;
    const current = await tx.directory.findExtensionGroup(pbxId, id);
    if (!current) throw notFound('extension group', id);
    const locked = lockedGroupChanges(current, { name: newName, memberIds });
    if (locked.length) {
      throw new AppError(
        'LOCKED_BY_SYNC',
        `This extension group is synced from Microsoft 365: ${locked.join(', ')} cannot be changed by hand`,
        { field: locked[0], fields: locked },
      );
    }
    if (newName !== undefined && newName !== current.name) {
      const other = await tx.directory.findExtensionGroupByName(pbxId, newName);
      if (other && other.id !== id) {
        throw new AppError('NAME_IN_USE', `An extension group named "${newName}" exists`, { field: 'name' });
      }
    }
    if (memberIds) await checkMembers(tx, pbxId, memberIds);
    const updated = await tx.directory.updateExtensionGroup(pbxId, id, { name: newName, memberIds });
    if (!updated) throw notFound('extension group', id);
    return updated;
  });
}

/** Deletes a hand-made extension group (its extensions stay); returns its id. */
export async function deleteExtensionGroup(store: Store, caller: Caller, id: string): Promise<string> {
  return store.transactional(async (tx) => {
    const current = await tx.directory.findExtensionGroup(caller.pbxId, id);
    if (!current) throw notFound('extension group', id);
    if (current.source === 'SYNCED') {
      throw new AppError(
        'LOCKED_BY_SYNC',
        'This extension group is synced from Microsoft 365 and cannot be deleted by hand',
        { fields: [] },
      );
    }
    await tx.directory.deleteExtensionGroup(caller.pbxId, id);
    return id;
  });
}
