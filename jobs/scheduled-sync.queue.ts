import type { ScheduleQueue } from '../src/app/ports/schedule-queue.port.js';
import { JOB_QUEUE, JobName, jobOptions } from './contracts.js';
import type { JobQueues } from './queues.js';

/**
 * The id of a PBX's scheduled trigger for one occurrence. Deterministic, so two processes
 * queueing "the next run" of a PBX add one job (BullMQ ignores an add whose id exists, in any
 * state). Dashes, not colons: BullMQ reserves `a:b:c` ids for its own job schedulers.
 */
export function scheduledSyncJobId(pbxId: string, at: Date): string {
  return `schedule-${pbxId}-${at.getTime()}`;
}

/** T1: one delayed `scheduled-sync` job per PBX, due at its next occurrence (src/app/schedule.ts). */
export class BullScheduleQueue implements ScheduleQueue {
  constructor(private readonly queues: JobQueues) {}

  private get queue() {
    return this.queues.queue(JOB_QUEUE[JobName.ScheduledSync]);
  }

  async ensure(pbxId: string, at: Date) {
    const payload = { pbxId, at: at.getTime() };
    // timestamp + delay is exactly `at`: BullMQ promotes the job then (its clock, not ours).
    const timestamp = Date.now();
    await this.queue.add(JobName.ScheduledSync, payload, {
      ...jobOptions(JobName.ScheduledSync, payload, scheduledSyncJobId(pbxId, at)),
      timestamp,
      delay: Math.max(0, at.getTime() - timestamp),
    });
  }

  async cancel(pbxId: string, at: Date) {
    const job = await this.queue.getJob(scheduledSyncJobId(pbxId, at));
    // Only a trigger still waiting; one running or done is left alone. A removal that fails
    // (the job started meanwhile) needs no log line: a leftover trigger does nothing when it
    // runs, as it is no occurrence of the schedule in force (runScheduledSync: STALE).
    if (job && (await job.isDelayed())) await job.remove().catch(() => undefined);
  }
}
