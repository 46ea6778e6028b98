import type { WelcomeEmailJob, WelcomeEmailQueue } from '../src/app/ports/welcome-email.port.js';
import { JOB_QUEUE, JobName, jobOptions } from './contracts.js';
import type { JobQueues } from './queues.js';

/** Jobs per addBulk call (one Redis round trip each). */
const BULK = 1000;

/**
 * The id of one welcome email's job: its run and extension (one email per run and extension,
 * as the welcome_email table holds them). Deterministic, so the run and the sweep queueing the
 * same email add one job: BullMQ ignores an add whose id exists, in any state.
 */
export function welcomeEmailJobId(job: Pick<WelcomeEmailJob, 'runId' | 'extensionId'>): string {
  return `welcome-${job.runId}-${job.extensionId}`;
}

/** U6: the `mail` queue, one `welcome-email` job per email, ids only. */
export class BullWelcomeEmailQueue implements WelcomeEmailQueue {
  constructor(
    private readonly queues: JobQueues,
    /** MAIL_ATTEMPTS and MAIL_RETRY_DELAY_MS. */
    private readonly retry?: { attempts: number; delayMs: number },
  ) {}

  async enqueue(jobs: readonly WelcomeEmailJob[], opts: { retryFailed?: boolean } = {}) {
    const queue = this.queues.queue(JOB_QUEUE[JobName.WelcomeEmail]);
    for (let i = 0; i < jobs.length; i += BULK) {
      const added = await queue.addBulk(
        jobs.slice(i, i + BULK).map((j) => {
          const data = { pbxId: j.pbxId, runId: j.runId, extensionId: j.extensionId };
          return {
            name: JobName.WelcomeEmail,
            data,
            opts: jobOptions(JobName.WelcomeEmail, data, welcomeEmailJobId(j), this.retry),
          };
        }),
      );
      if (!opts.retryFailed) continue;
      // The sweep's rows are few (QUEUED past a grace period): one state read per job is fine.
      const states = await Promise.all(added.map((job) => job.getState()));
      await Promise.all(
        added
          .filter((_, k) => states[k] === 'failed')
          .map((job) => job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true })),
      );
    }
  }
}
