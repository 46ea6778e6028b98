import { ensureSchedule, runScheduledSync } from '../../src/app/schedule.js';
import { scheduleDeps } from '../../src/app/services.js';
import type { JobName } from '../contracts.js';
import type { Processor } from '../worker.js';
import type { ProcessorDeps } from './index.js';

const needServices = (deps: ProcessorDeps) => {
  if (!deps.services) throw new Error('scheduled syncs need the app services');
  return deps.services;
};

/**
 * T1: a PBX's scheduled trigger is due: a run with trigger SCHEDULE (skipped quietly when the
 * integration is not connected), and the following occurrence queued.
 */
export const scheduledSyncProcessor =
  (deps: ProcessorDeps): Processor<typeof JobName.ScheduledSync> =>
  async ({ pbxId, at }) => {
    const result = await runScheduledSync(
      scheduleDeps(needServices(deps), deps.openStore()),
      pbxId,
      new Date(at),
    );
    if (result.outcome === 'QUEUED' || result.outcome === 'COALESCED') {
      deps.logger?.info({ pbxId, outcome: result.outcome, runId: result.runId }, 'scheduled sync');
    }
    return { outcome: result.outcome, runId: result.runId, next: result.next?.toISOString() ?? null };
  };

/** T1: makes sure the next scheduled trigger of one PBX, or of every PBX, is queued (idempotent). */
export const ensureSchedulesProcessor =
  (deps: ProcessorDeps): Processor<typeof JobName.EnsureSchedules> =>
  async ({ pbxId }) => {
    const ids = pbxId ? [pbxId] : (await deps.openStore().tenants.listPbxs()).map((p) => p.id);
    for (const id of ids) await ensureSchedule(scheduleDeps(needServices(deps), deps.openStore()), id);
    return { pbxs: ids.length };
  };
