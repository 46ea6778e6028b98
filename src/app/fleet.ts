import { randomUUID } from 'node:crypto';
import type { ApiKeyRecord, PbxRecord } from '../domain/tenant.js';
import { createApiKey } from './access.js';
import { AppError } from './errors.js';
import { type PageArgs, pageRequest } from './extensions.js';
import type { KeyRevocationNotifier } from './ports/key-revocation.port.js';
import type { AppLog } from './ports/log.port.js';
import type { KeyOwner, Page, Store } from './ports/store.port.js';
import type { SyncCoordinator } from './ports/sync-coordinator.port.js';

/**
 * The fleet (issue 11 item 5): what an OPERATOR key does across PBXs. It creates, lists and
 * deletes PBXs and creates, lists and revokes their keys; it never acts inside a PBX here
 * (that is the PBX's own API, with the PBX named). A PBX's own keys never reach these.
 */

export interface RevokeDeps {
  store: Store;
  revocations: KeyRevocationNotifier;
  now: () => Date;
  log: AppLog;
}

export interface FleetDeps extends RevokeDeps {
  coordinator: SyncCoordinator;
  /** Runs before a PBX's rows go: removes its Graph change subscriptions at Microsoft (best effort). */
  beforeDelete: (pbxId: string) => Promise<void>;
}

/** What `deletePbx` removed. */
export interface DeletedPbx {
  pbx: PbxRecord;
  /** Its keys, all deleted (and so revoked): their open sessions are closed. */
  keysRevoked: number;
  /** Every row deleted, the PBX's own included. */
  rowsDeleted: number;
}

/** The longest a PBX name search may be. */
const SEARCH_MAX = 200;
/** The run lock a deletion holds (renewed while it lasts), so no sync of the PBX starts meanwhile. */
const DELETE_LOCK_TTL_MS = 60_000;

export function listPbxs(
  store: Store,
  args: PageArgs & { search?: string | null },
): Promise<Page<PbxRecord>> {
  const search = args.search?.trim() || null;
  if (search && search.length > SEARCH_MAX) {
    throw AppError.invalidInput([{ field: 'search', message: `must be at most ${SEARCH_MAX} characters` }]);
  }
  return store.tenants.pagePbxs({ search }, pageRequest(args));
}

export async function findFleetPbx(store: Store, id: string): Promise<PbxRecord> {
  const pbx = await store.tenants.findPbx(id);
  if (!pbx) throw new AppError('NOT_FOUND', `No PBX with id ${id}`, { field: 'id' });
  return pbx;
}

/**
 * Deletes a PBX and every row of it (extensions, groups, runs, settings, integration, audit
 * log, keys) in one transaction, then announces its keys as revoked so every process closes
 * their open sockets. While a sync of the PBX runs (its run lock is held), it is refused with
 * SYNC_RUNNING; it holds that lock itself while it deletes, so no run starts meanwhile.
 */
export async function deletePbx(deps: FleetDeps, id: string): Promise<DeletedPbx> {
  await findFleetPbx(deps.store, id);
  const holder = `delete-pbx:${randomUUID()}`;
  if (!(await deps.coordinator.acquireLock(id, holder, DELETE_LOCK_TTL_MS))) {
    throw new AppError(
      'SYNC_RUNNING',
      `A sync of PBX ${id} is running; delete the PBX once it has ended (syncRuns shows it).`,
      { field: 'id' },
    );
  }
  const renew = setInterval(() => {
    deps.coordinator.renewLock(id, holder, DELETE_LOCK_TTL_MS).catch((err: Error) =>
      deps.log('warn', 'could not renew the lock of a PBX being deleted (will try again)', {
        pbxId: id,
        err: err.message,
      }),
    );
  }, DELETE_LOCK_TTL_MS / 3);
  try {
    await deps.beforeDelete(id).catch((err: Error) =>
      deps.log(
        'warn',
        'could not remove the Graph subscriptions of a PBX being deleted; they expire by themselves',
        {
          pbxId: id,
          err: err.message,
        },
      ),
    );
    const deleted = await deps.store.transactional((tx) => tx.tenants.deletePbx(id));
    if (!deleted) throw new AppError('NOT_FOUND', `No PBX with id ${id}`, { field: 'id' });
    await announce(deps, [...deleted.keyIds, ...deleted.linkusSessionIds]);
    deps.log('info', 'PBX deleted', { pbxId: id, keys: deleted.keyIds.length, rows: deleted.rows });
    return {
      pbx: deleted.pbx,
      keysRevoked: deleted.keyIds.length,
      rowsDeleted: Object.values(deleted.rows).reduce((a, b) => a + b, 0),
    };
  } finally {
    clearInterval(renew);
    await deps.coordinator.releaseLock(id, holder).catch((err: Error) =>
      deps.log('warn', 'could not release the lock of a deleted PBX; it expires by itself', {
        pbxId: id,
        err: err.message,
      }),
    );
  }
}

/** One PBX's keys, or (owner `{ operators: true }`) the operator keys, oldest first. */
export async function listKeys(
  store: Store,
  owner: KeyOwner,
  args: PageArgs & { includeRevoked?: boolean | null },
): Promise<Page<ApiKeyRecord>> {
  if ('pbxId' in owner) await findFleetPbx(store, owner.pbxId);
  return store.tenants.pageKeys(owner, { includeRevoked: args.includeRevoked ?? false }, pageRequest(args));
}

/** A key of one PBX (ADMIN, VIEWER or LINKUS), shown in clear once. */
export async function createPbxKey(
  store: Store,
  input: { pbxId: string; role: string; label?: string | null; extensionNumber?: string | null },
): Promise<{ key: string; record: ApiKeyRecord }> {
  const created = await createApiKey(store, input);
  const record = await store.tenants.findKey(created.id);
  if (!record) throw new Error(`key ${created.id} vanished after it was created`);
  return { key: created.key, record };
}

/**
 * Revokes one key: from now on every HTTP request and dashboard page with it is refused, and
 * every process closes its open WebSocket sessions of it (announced after the commit).
 * Revoking a key revoked already changes nothing and announces it again.
 */
export async function revokeKey(deps: RevokeDeps, id: string): Promise<ApiKeyRecord> {
  const revoked = await deps.store.transactional((tx) => tx.tenants.revokeKey(id, deps.now()));
  if (!revoked) throw new AppError('NOT_FOUND', `No API key with id ${id}`, { field: 'id' });
  await announce(deps, [revoked.id]);
  return revoked;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A key named by its id, or by the start of its shown prefix (e.g. `epg_Ab3xY9`): exactly one must match. */
export async function findKeyByReference(store: Store, reference: string): Promise<ApiKeyRecord> {
  const ref = reference.trim();
  if (UUID.test(ref)) {
    const key = await store.tenants.findKey(ref.toLowerCase());
    if (key) return key;
    throw new AppError('NOT_FOUND', `No API key with id ${ref}`, { field: 'key' });
  }
  if (ref.length < 6) {
    throw AppError.invalidInput([
      { field: 'key', message: 'give the key id, or at least 6 characters of its prefix' },
    ]);
  }
  const matches = await store.tenants.findKeysByPrefix(ref);
  if (matches.length === 0)
    throw new AppError('NOT_FOUND', `No API key with prefix ${ref}`, { field: 'key' });
  if (matches.length > 1) {
    throw AppError.invalidInput([
      {
        field: 'key',
        message: `prefix ${ref} matches ${matches.length} keys (${matches.map((k) => k.id).join(', ')}); give the id`,
      },
    ]);
  }
  return matches[0];
}

async function announce(deps: RevokeDeps, keyIds: readonly string[]) {
  if (keyIds.length === 0) return;
  try {
    await deps.revocations.announce(keyIds);
  } catch (err) {
    // The database is the truth: HTTP and the dashboard refuse the keys at once; open sockets
    // are closed at each process's next sweep of its sockets' keys instead.
    deps.log('warn', 'could not announce revoked keys to the other gateway processes', {
      keys: keyIds.length,
      err: (err as Error).message,
    });
  }
}
