import type { JobsOptions } from 'bullmq';

/**
 * Every queue, job and payload, declared once. A worker refuses to boot when a job
 * declared here has no processor (jobs/worker.ts).
 */
export const QueueName = {
  System: 'system',
  Sync: 'sync',
  Mail: 'mail',
  Contacts: 'contacts',
} as const;
export type QueueName = (typeof QueueName)[keyof typeof QueueName];

export const JobName = {
  Ping: 'ping',
  CheckSecretExpiry: 'check-secret-expiry',
  SyncDirectory: 'sync-directory',
  WelcomeEmail: 'welcome-email',
  RequeueWelcomeEmails: 'requeue-welcome-emails',
  FlushChanges: 'flush-changes',
  RecordChanges: 'record-changes',
  LifecycleEvent: 'lifecycle-event',
  ResealSecrets: 'reseal-secrets',
  MaintainSubscriptions: 'maintain-subscriptions',
  PollChanges: 'poll-changes',
  ScheduledSync: 'scheduled-sync',
  EnsureSchedules: 'ensure-schedules',
  SyncMailbox: 'sync-mailbox',
  PollPresence: 'poll-presence',
  EnsurePresencePolls: 'ensure-presence-polls',
} as const;
export type JobName = (typeof JobName)[keyof typeof JobName];

export interface JobPayloads {
  [JobName.Ping]: { message: string };
  [JobName.CheckSecretExpiry]: Record<string, never>;
  [JobName.SyncDirectory]: { pbxId: string; runId: string };
  /** Ids only: the processor loads the address and the rest from the database (no personal data in Redis). */
  [JobName.WelcomeEmail]: { pbxId: string; runId: string; extensionId: string };
  /** U6: queues again the welcome emails still QUEUED a while after they were recorded (every PBX). */
  [JobName.RequeueWelcomeEmails]: Record<string, never>;
  [JobName.FlushChanges]: { pbxId: string };
  /** T2: valid change notifications of the PBX were counted in Redis by the webhook; decide what they start. */
  [JobName.RecordChanges]: { pbxId: string };
  /** T2: a lifecycle notification of a known subscription (reauthorizationRequired, subscriptionRemoved). */
  [JobName.LifecycleEvent]: { subscriptionId: string; event: string };
  /** Re-seals stored secrets sealed with an older key than SECRET_KEY's current one. */
  [JobName.ResealSecrets]: Record<string, never>;
  /** Without pbxId: every PBX. */
  [JobName.MaintainSubscriptions]: { pbxId?: string };
  [JobName.PollChanges]: Record<string, never>;
  /** T1: the PBX's schedule is due at `at` (epoch ms); the job is delayed until then. */
  [JobName.ScheduledSync]: { pbxId: string; at: number };
  /** T1: makes sure each PBX's next scheduled-sync job is queued. Without pbxId: every PBX. */
  [JobName.EnsureSchedules]: { pbxId?: string };
  /** P1–P3: one round of a PBX's presence poll (repeating, jobs/presence-poll.queue.ts). */
  [JobName.PollPresence]: { pbxId: string };
  /** P1–P3: every PBX with presence on has its repeating poll, at the interval its users need. */
  [JobName.EnsurePresencePolls]: Record<string, never>;
  /** C1–C4: one mailbox of a run (a child of the run's sync-directory job). Ids only, and the admin's phonebook name. */
  [JobName.SyncMailbox]: {
    pbxId: string;
    runId: string;
    mailboxId: string;
    kind: 'PERSONAL' | 'SHARED';
    extensionId: string | null;
    phonebookName: string | null;
  };
}
export interface JobResults {
  [JobName.Ping]: { pong: string; at: string };
  [JobName.CheckSecretExpiry]: {
    checkedAt: string;
    warned: Array<{ pbxId: string; warnings: string[] }>;
    /** Integrations whose live health check found something wrong (issue 11 item 3). */
    unhealthy: Array<{ pbxId: string; codes: string[] }>;
  };
  [JobName.SyncDirectory]: { status: string };
  [JobName.WelcomeEmail]: { status: 'SENT' | 'FAILED' | 'SKIPPED' };
  [JobName.RequeueWelcomeEmails]: { requeued: number };
  [JobName.FlushChanges]: { synced: boolean };
  [JobName.RecordChanges]: { outcome: string };
  [JobName.LifecycleEvent]: { handled: boolean };
  [JobName.ResealSecrets]: { resealed: number; current: number; unreadable: number; remaining: number };
  [JobName.MaintainSubscriptions]: { pbxs: number };
  [JobName.PollChanges]: { polled: number; changed: number };
  [JobName.ScheduledSync]: { outcome: string; runId: string | null; next: string | null };
  [JobName.EnsureSchedules]: { pbxs: number };
  [JobName.PollPresence]: {
    outcome: string;
    read: number;
    changed: number;
    requests: number;
    /** Issue 15: users the presence subscription covered (not polled this round). */
    covered?: number;
    /** Issue 15: users read because a presence notification named them. */
    notified?: number;
  };
  [JobName.EnsurePresencePolls]: { pbxs: number };
  [JobName.SyncMailbox]: { outcome: string };
}

export type JobPayload<N extends JobName> = JobPayloads[N];
export type JobResult<N extends JobName> = JobResults[N];

/** Which queue carries each job. */
export const JOB_QUEUE: { [N in JobName]: QueueName } = {
  [JobName.Ping]: QueueName.System,
  [JobName.CheckSecretExpiry]: QueueName.System,
  [JobName.SyncDirectory]: QueueName.Sync,
  [JobName.WelcomeEmail]: QueueName.Mail,
  // A sweep, not an email: on the system queue, so it never waits behind a backlog of emails.
  [JobName.RequeueWelcomeEmails]: QueueName.System,
  [JobName.FlushChanges]: QueueName.System,
  [JobName.RecordChanges]: QueueName.System,
  [JobName.LifecycleEvent]: QueueName.System,
  [JobName.ResealSecrets]: QueueName.System,
  [JobName.MaintainSubscriptions]: QueueName.System,
  [JobName.PollChanges]: QueueName.System,
  // A trigger, not a run: it must not wait behind long runs for the sync queue's two slots.
  [JobName.ScheduledSync]: QueueName.System,
  [JobName.EnsureSchedules]: QueueName.System,
  [JobName.PollPresence]: QueueName.System,
  [JobName.EnsurePresencePolls]: QueueName.System,
  [JobName.SyncMailbox]: QueueName.Contacts,
};

/** How many jobs of a queue one worker process runs at once. */
export const QUEUE_CONCURRENCY: { [Q in QueueName]: number } = {
  [QueueName.System]: 4,
  // Runs of different PBXs in parallel; one PBX never runs two at once (jobs are per run, and
  // the run refuses to start while another of its PBX is RUNNING). SYNC_CONCURRENCY sets it
  // (src/config.ts); this is the default of a worker started without a config.
  [QueueName.Sync]: 8,
  [QueueName.Mail]: 4,
  // Mailbox jobs of every run: each reads one folder page at a time (one request in flight per
  // mailbox, under Outlook's 4), so many mailboxes go side by side.
  [QueueName.Contacts]: 8,
};

/**
 * Ids, retries and backoff for every job, in one place. A job id, when given, is
 * deterministic, so that triggers arriving together coalesce into one job.
 */
export function jobOptions<N extends JobName>(
  name: N,
  _payload: JobPayload<N>,
  jobId?: string,
  /** Welcome emails: MAIL_ATTEMPTS and MAIL_RETRY_DELAY_MS. */
  retry?: { attempts: number; delayMs: number },
): JobsOptions {
  const base: JobsOptions = {
    attempts: 5,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: { age: 24 * 3600, count: 1000 },
    removeOnFail: { age: 7 * 24 * 3600, count: 5000 },
  };
  switch (name) {
    case JobName.Ping:
      return { ...base, attempts: 1, jobId };
    case JobName.SyncDirectory:
      // Retries are for Microsoft being throttled or unavailable; backoff 5 s, 10 s, 20 s, 40 s.
      return { ...base, attempts: 5, backoff: { type: 'exponential', delay: 5000 }, jobId };
    case JobName.SyncMailbox:
      // Throttled or unavailable Microsoft: 5 s, 10 s, 20 s, 40 s. A mailbox that fails for good
      // is reported by its run (the parent), which goes on without it.
      return {
        ...base,
        attempts: 5,
        backoff: { type: 'exponential', delay: 5000 },
        ignoreDependencyOnFailure: true,
        jobId,
      };
    case JobName.WelcomeEmail:
      // SMTP 4xx and network errors are retried: by default 30 s, 1 min, 2 min, 4 min.
      return {
        ...base,
        attempts: retry?.attempts ?? 5,
        backoff: { type: 'exponential', delay: retry?.delayMs ?? 30_000 },
        jobId,
      };
    case JobName.PollPresence:
      // The next round is seconds away: a failed one is not retried; few are kept.
      return {
        ...base,
        attempts: 1,
        removeOnComplete: { age: 600, count: 100 },
        removeOnFail: { age: 24 * 3600, count: 100 },
        jobId,
      };
    case JobName.RequeueWelcomeEmails:
      // The next sweep is minutes away: a failed one is not retried.
      return { ...base, attempts: 1, jobId };
    case JobName.RecordChanges:
    case JobName.LifecycleEvent:
      // As many as notifications come: kept briefly, and few of them.
      return { ...base, removeOnComplete: { age: 3600, count: 100 }, jobId };
    case JobName.ScheduledSync:
      // The id is the PBX and the occurrence (jobs/scheduled-sync.queue.ts): kept for two days
      // once run, whatever else the queue completes, so that the occurrence cannot be queued again.
      return { ...base, removeOnComplete: { age: 2 * 24 * 3600 }, jobId };
    default:
      return { ...base, jobId };
  }
}
