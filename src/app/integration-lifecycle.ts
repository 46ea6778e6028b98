import type { Caller } from '../domain/access.js';
import { IntegrationStatus, type SyncTarget } from '../domain/integration.js';
import {
  assertAllowed,
  CLEARED_CONNECTION,
  type IntegrationDeps,
  type IntegrationView,
  toView,
} from './integration.js';
import type { DirectoryKind, IntegrationData, Store } from './ports/store.port.js';
import { dropAllSyncedContacts } from './sync/contact-sync.kind.js';
import { Topic } from './topics.js';

/** What a lifecycle step did to the PBX directory, for the portal to confirm. */
export interface LifecycleResult {
  integration: IntegrationView;
  extensionsDeleted: number;
  groupsDeleted: number;
  extensionsReleased: number;
  groupsReleased: number;
}

const KIND: Record<Exclude<SyncTarget, 'CONTACTS'>, DirectoryKind> = {
  USERS: 'EXTENSIONS',
  GROUPS: 'GROUPS',
};

const PAUSED: Record<SyncTarget, 'userSyncPaused' | 'groupSyncPaused' | 'contactSyncPaused'> = {
  USERS: 'userSyncPaused',
  GROUPS: 'groupSyncPaused',
  CONTACTS: 'contactSyncPaused',
};

type Counts = Omit<LifecycleResult, 'integration'>;
const none = (): Counts => ({
  extensionsDeleted: 0,
  groupsDeleted: 0,
  extensionsReleased: 0,
  groupsReleased: 0,
});

/** Deletes the synced rows of `kind`, or keeps them (still synced and locked). */
async function deleteOrRetain(
  tx: Store,
  pbxId: string,
  kind: DirectoryKind,
  remove: boolean,
  counts: Counts,
) {
  if (!remove) return;
  const n = await tx.directory.deleteSynced(pbxId, kind);
  if (kind === 'EXTENSIONS') counts.extensionsDeleted = n;
  else counts.groupsDeleted = n;
}

/**
 * Runs one lifecycle step in one transaction: the directory changes and the new integration
 * state commit together or not at all; the change is published after the commit.
 */
async function step(
  deps: IntegrationDeps,
  caller: Caller,
  check: (i: IntegrationData) => void,
  apply: (tx: Store, counts: Counts) => Promise<Partial<IntegrationData>>,
): Promise<LifecycleResult> {
  const counts = none();
  const saved = await deps.store.transactional(async (tx) => {
    await tx.directory.lockPbx(caller.pbxId);
    const current = await tx.integrations.get(caller.pbxId);
    check(current);
    const patch = await apply(tx, counts);
    return tx.integrations.update(caller.pbxId, patch);
  });
  // S4: a disabled or disconnected integration ends every Linkus session of the PBX.
  if (saved.status === IntegrationStatus.DISABLED || saved.status === IntegrationStatus.NOT_CONNECTED) {
    await deps.linkusSessions
      .revokeSessions(
        deps.store,
        { pbxId: caller.pbxId },
        saved.status === IntegrationStatus.DISABLED ? 'INTEGRATION_DISABLED' : 'INTEGRATION_DISCONNECTED',
      )
      .catch((err: unknown) =>
        // The step is committed: the sessions fail their next refresh (integration check) instead.
        deps.log('warn', 'could not end the Linkus sessions of the PBX', {
          pbxId: caller.pbxId,
          err: err instanceof Error ? err.message : String(err),
        }),
      );
  }
  // Those of extensions the step deleted or released end (all of them, when disabled or
  // disconnected, ended above), and the LINKUS keys deleted with them are announced.
  if (counts.extensionsDeleted || counts.extensionsReleased) {
    await deps.linkusSessions.afterDirectoryChange(deps.store, caller.pbxId);
  }
  const base = (await deps.store.tenants.findPbx(caller.pbxId))?.publicBaseUrl ?? null;
  const view = toView(saved, base, deps.now());
  deps.events.publish(Topic.integrationChanged(caller.pbxId), view);
  return { integration: view, ...counts };
}

/** L4 / L5: pause user or group sync, deleting the synced extensions (groups) or retaining them locked. */
export function pauseSync(deps: IntegrationDeps, caller: Caller, target: SyncTarget, deleteSynced: boolean) {
  return step(
    deps,
    caller,
    (i) => assertAllowed(i, 'PAUSE', target),
    async (tx, counts) => {
      if (target === 'CONTACTS') {
        // Deleted: every synced contact and synced phonebook goes; retained: they stay, locked.
        if (deleteSynced) await dropAllSyncedContacts(tx, caller.pbxId);
      } else await deleteOrRetain(tx, caller.pbxId, KIND[target], deleteSynced, counts);
      return { [PAUSED[target]]: true };
    },
  );
}

/** L8: resume a paused sync; its settings become editable again and the next sync applies them. */
export function resumeSync(deps: IntegrationDeps, caller: Caller, target: SyncTarget) {
  return step(
    deps,
    caller,
    (i) => assertAllowed(i, 'RESUME', target),
    async () => ({ [PAUSED[target]]: false }),
  );
}

/** L6: disable the integration: settings kept and locked, SSO refused, synced rows deleted or retained. */
export function disableIntegration(
  deps: IntegrationDeps,
  caller: Caller,
  deleteExtensions: boolean,
  deleteGroups: boolean,
) {
  return step(
    deps,
    caller,
    (i) => assertAllowed(i, 'DISABLE'),
    async (tx, counts) => {
      await deleteOrRetain(tx, caller.pbxId, 'GROUPS', deleteGroups, counts);
      await deleteOrRetain(tx, caller.pbxId, 'EXTENSIONS', deleteExtensions, counts);
      return { status: IntegrationStatus.DISABLED };
    },
  );
}

/** L8: enable a disabled integration. */
export function enableIntegration(deps: IntegrationDeps, caller: Caller) {
  return step(
    deps,
    caller,
    (i) => assertAllowed(i, 'ENABLE'),
    async () => ({ status: IntegrationStatus.CONNECTED }),
  );
}

/**
 * L7: remove the integration. Synced extensions and groups are deleted, or kept and become
 * fully PBX-managed (unlocked, the Microsoft 365 label gone). Credentials and tokens are erased.
 */
export async function disconnectIntegration(
  deps: IntegrationDeps,
  caller: Caller,
  deleteExtensions: boolean,
  deleteGroups: boolean,
) {
  const current = await deps.store.integrations.get(caller.pbxId);
  assertAllowed(current, 'DISCONNECT');
  // Best effort, before the credentials are erased: Graph stops notifying us (a subscription
  // left at Graph expires by itself). The disconnect goes on, with a log line saying why not.
  await deps.beforeDisconnect(caller.pbxId).catch((err: unknown) =>
    deps.log('warn', 'could not remove the change subscriptions before disconnecting', {
      pbxId: caller.pbxId,
      err: err instanceof Error ? err.message : String(err),
    }),
  );
  return step(
    deps,
    caller,
    (i) => assertAllowed(i, 'DISCONNECT'),
    async (tx, counts) => {
      if (deleteGroups) counts.groupsDeleted = await tx.directory.deleteSynced(caller.pbxId, 'GROUPS');
      else counts.groupsReleased = await tx.directory.releaseSynced(caller.pbxId, 'GROUPS');
      if (deleteExtensions)
        counts.extensionsDeleted = await tx.directory.deleteSynced(caller.pbxId, 'EXTENSIONS');
      else counts.extensionsReleased = await tx.directory.releaseSynced(caller.pbxId, 'EXTENSIONS');
      return { ...CLEARED_CONNECTION, lastErrorCode: null, lastErrorMessage: null, lastErrorAt: null };
    },
  );
}
