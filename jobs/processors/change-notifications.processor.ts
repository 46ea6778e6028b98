import { ensureSubscriptions, flushChanges, pollChanges } from '../../src/app/change-notifications.js';
import { changeNotificationDeps } from '../../src/app/services.js';
import type { JobName } from '../contracts.js';
import type { Processor } from '../worker.js';
import type { ProcessorDeps } from './index.js';

/** T2: the debounce window of a PBX ended. */
export const flushChangesProcessor =
  (deps: ProcessorDeps): Processor<typeof JobName.FlushChanges> =>
  async ({ pbxId }) => ({
    synced: await flushChanges(changeNotificationDeps(deps.services, deps.openStore()), pbxId),
  });

/** T2: create, renew or re-create the Graph subscriptions of one PBX, or of every connected one. */
export const maintainSubscriptionsProcessor =
  (deps: ProcessorDeps): Processor<typeof JobName.MaintainSubscriptions> =>
  async ({ pbxId }) => {
    const store = deps.openStore();
    const ids = pbxId ? [pbxId] : (await store.tenants.listPbxs()).map((p) => p.id);
    for (const id of ids)
      await ensureSubscriptions(changeNotificationDeps(deps.services, deps.openStore()), id);
    return { pbxs: ids.length };
  };

/** T2 without a public URL: a cheap delta look per PBX that is due. */
export const pollChangesProcessor =
  (deps: ProcessorDeps): Processor<typeof JobName.PollChanges> =>
  async () => {
    const ids = (await deps.openStore().tenants.listPbxs()).map((p) => p.id);
    let changed = 0;
    for (const id of ids) {
      if (await pollChanges(changeNotificationDeps(deps.services, deps.openStore()), id)) changed++;
    }
    return { polled: ids.length, changed };
  };
