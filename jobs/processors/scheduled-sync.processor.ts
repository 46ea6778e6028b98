import { ensureSchedule, runScheduledSync } from '../../src/app/schedule.js';
import { scheduleDeps } from '../../src/app/services.js';
import type { JobName } from '../contracts.js';
import type { Processor } from '../worker.js';
import type { ProcessorDeps } from './index.js';

/**
 * T1: a PBX's scheduled trigger is due: a run with trigger SCHEDULE (skipped quietly when the
 * integration is not connected), and the following occurrence queued.
 */
export const scheduledSyncProcessor =
  (deps: ProcessorDeps): Processor<typeof JobName.ScheduledSync> =>
  async ({ pbxId, at }) => {
    const result = await runScheduledSync(scheduleDeps(deps.services, deps.openStore()), pbxId, new Date(at));
    if (result.outcome === 'QUEUED' || result.outcome === 'COALESCED') {
      deps.logger.info({ pbxId, outcome: result.outcome, runId: result.runId }, 'scheduled sync');
    }
    return { outcome: result.outcome, runId: result.runId, next: result.next?.toISOString() ?? null };
  };

/** T1: makes sure the next scheduled trigger of one PBX, or of every PBX, is queued (idempotent). */
export const ensureSchedulesProcessor =
  (deps: ProcessorDeps): Processor<typeof JobName.EnsureSchedules> =>
  async ({ pbxId }) => {
    const ids = pbxId ? [pbxId] : (await deps.openStore().tenants.listPbxs()).map((p) => p.id);
    let failed = 0;
    for (const id of ids) {
      // One PBX that cannot be scheduled (e.g. Redis hiccup) does not keep the others from it.
      try {
        await ensureSchedule(scheduleDeps(deps.services, deps.openStore()), id);
      } catch (err) {
        failed++;
        deps.logger.warn(
          { pbxId: id, err: (err as Error).message },
          'could not queue the next scheduled sync',
        );
      }
    }
    // Fail the job (it is retried) when some could not be scheduled; the others are idempotent.
    if (failed) throw new Error(`${failed} of ${ids.length} PBX schedule(s) could not be queued`);
    return { pbxs: ids.length };
  };
