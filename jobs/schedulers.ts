import { JobName, jobOptions } from './contracts.js';
import type { JobQueues } from './queues.js';

/**
 * Repeating jobs, declared once. `upsertJobScheduler` is idempotent, so every worker
 * process may register them at start; Redis keeps one scheduler per id.
 */
export async function registerSchedulers(queues: JobQueues) {
  await queues
    .queue('system')
    .upsertJobScheduler(
      'daily-secret-expiry-check',
      { pattern: '0 3 * * *', tz: 'UTC' },
      { name: JobName.CheckSecretExpiry, data: {}, opts: jobOptions(JobName.CheckSecretExpiry, {}) },
    );
}
