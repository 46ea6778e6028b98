import { DelayedError } from 'bullmq';
import {
  ensureSubscriptions,
  flushChanges,
  handleLifecycle,
  pbxsDueForPoll,
  pollChanges,
  recordChanges,
} from '../../src/app/change-notifications.js';
import { changeNotificationDeps } from '../../src/app/services.js';
import type { JobName } from '../contracts.js';
import type { Processor } from '../worker.js';
import type { ProcessorDeps } from './index.js';

/**
 * T2: the debounce window of a PBX ended. When a change run was asked for less than a window
 * ago, the job moves itself to the end of that window (keeping its deduplication id, so no
 * second flush is queued meanwhile).
 */
export const flushChangesProcessor =
  (deps: ProcessorDeps): Processor<typeof JobName.FlushChanges> =>
  async ({ pbxId }, job, token) => {
    const result = await flushChanges(changeNotificationDeps(deps.services, deps.openStore()), pbxId);
    if (result.retryInMs !== undefined) {
      await job.moveToDelayed(Date.now() + result.retryInMs, token);
      throw new DelayedError();
    }
    return { synced: result.synced };
  };

/** T2: the webhook counted valid change notifications of a PBX (at most one such job waits per PBX). */
export const recordChangesProcessor =
  (deps: ProcessorDeps): Processor<typeof JobName.RecordChanges> =>
  async ({ pbxId }) => ({
    outcome: await recordChanges(changeNotificationDeps(deps.services, deps.openStore()), pbxId),
  });

/** T2: a lifecycle notification of a known subscription (at most one per subscription and event a minute). */
export const lifecycleEventProcessor =
  (deps: ProcessorDeps): Processor<typeof JobName.LifecycleEvent> =>
  async ({ subscriptionId, event }) => ({
    handled: await handleLifecycle(
      changeNotificationDeps(deps.services, deps.openStore()),
      subscriptionId,
      event,
    ),
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

/** T2 without a public URL: a cheap delta look per PBX that is due (found with one query). */
export const pollChangesProcessor =
  (deps: ProcessorDeps): Processor<typeof JobName.PollChanges> =>
  async () => {
    const ids = await pbxsDueForPoll(changeNotificationDeps(deps.services, deps.openStore()));
    let changed = 0;
    for (const id of ids) {
      if (await pollChanges(changeNotificationDeps(deps.services, deps.openStore()), id)) changed++;
    }
    return { polled: ids.length, changed };
  };
