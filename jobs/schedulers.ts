import { JobName, jobOptions } from './contracts.js';
import type { JobQueues } from './queues.js';

/**
 * Repeating jobs, declared once. `upsertJobScheduler` is idempotent, so every worker
 * process may register them at start; Redis keeps one scheduler per id.
 */
export async function registerSchedulers(queues: JobQueues) {
  // T1: each PBX's next scheduled-sync job, at start and then every hour (a PBX created since,
  // a job lost with Redis). Per-PBX schedules are delayed jobs, not job schedulers: see
  // src/app/schedule.ts for why (BullMQ's cron-parser and daylight saving).
  await queues.enqueue(JobName.EnsureSchedules, {});
  await queues
    .queue('system')
    .upsertJobScheduler(
      'ensure-schedules',
      { every: 60 * 60_000 },
      { name: JobName.EnsureSchedules, data: {}, opts: jobOptions(JobName.EnsureSchedules, {}) },
    );
  // U6: welcome emails recorded but never queued (a worker died after the commit), at start
  // and then every 5 minutes; each is picked up once it is 2 minutes old.
  await queues.enqueue(JobName.RequeueWelcomeEmails, {});
  await queues
    .queue('system')
    .upsertJobScheduler(
      'requeue-welcome-emails',
      { every: 5 * 60_000 },
      { name: JobName.RequeueWelcomeEmails, data: {}, opts: jobOptions(JobName.RequeueWelcomeEmails, {}) },
    );
  await queues
    .queue('system')
    .upsertJobScheduler(
      'daily-secret-expiry-check',
      { pattern: '0 3 * * *', tz: 'UTC' },
      { name: JobName.CheckSecretExpiry, data: {}, opts: jobOptions(JobName.CheckSecretExpiry, {}) },
    );
  // T2: subscriptions renewed well before half their ~29-day life is gone, and re-created if lost.
  await queues
    .queue('system')
    .upsertJobScheduler(
      'maintain-subscriptions',
      { every: 30 * 60_000 },
      { name: JobName.MaintainSubscriptions, data: {}, opts: jobOptions(JobName.MaintainSubscriptions, {}) },
    );
  // P1–P3: each PBX with presence on repeats its own `poll-presence` (jobs/presence-poll.queue.ts);
  // at start and every hour, every such PBX gets its poll back (a Redis that lost it).
  await queues.enqueue(JobName.EnsurePresencePolls, {});
  await queues
    .queue('system')
    .upsertJobScheduler(
      'ensure-presence-polls',
      { every: 60 * 60_000 },
      { name: JobName.EnsurePresencePolls, data: {}, opts: jobOptions(JobName.EnsurePresencePolls, {}) },
    );
  // T2 without a public URL: each PBX is looked at every minute, polled when its pollMinutes are up.
  await queues
    .queue('system')
    .upsertJobScheduler(
      'poll-changes',
      { every: 60_000 },
      { name: JobName.PollChanges, data: {}, opts: jobOptions(JobName.PollChanges, {}) },
    );
}
