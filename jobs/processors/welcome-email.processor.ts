import { requeueWelcomeEmails, sendWelcomeEmail } from '../../src/app/welcome-email.js';
import { renderWelcomeEmail } from '../../src/mail/templates.js';
import type { JobName } from '../contracts.js';
import type { Processor } from '../worker.js';
import type { ProcessorDeps } from './index.js';

/**
 * U6: one attempt at one welcome email. A transient failure with attempts left fails the
 * job, so the queue retries it with backoff (jobOptions); a permanent failure, or the last
 * attempt, is recorded FAILED and the job completes: the sync run is never touched.
 */
export const welcomeEmailProcessor =
  (deps: ProcessorDeps): Processor<typeof JobName.WelcomeEmail> =>
  async (payload, job) => {
    const finalAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    const result = await sendWelcomeEmail(
      {
        store: deps.openStore(),
        mailer: deps.mailer,
        render: renderWelcomeEmail,
        now: deps.now,
      },
      payload,
      { finalAttempt },
    );
    const ids = {
      pbxId: payload.pbxId,
      runId: payload.runId,
      extensionId: payload.extensionId,
      attempt: job.attemptsMade + 1,
    };
    switch (result.outcome) {
      case 'RETRY':
        deps.logger.info({ ...ids, err: result.error }, 'welcome email not sent yet; it is retried');
        // The job's failure reason is kept in Redis: the SMTP answer (it may name the address)
        // stays in the database (welcome_email.lastError); the job says only what kind of failure.
        throw new Error(
          `Welcome email not sent (${result.responseCode ? `SMTP ${result.responseCode}` : 'no SMTP answer'}); retried. The reason is on the welcome email.`,
        );
      case 'FAILED':
        deps.logger.warn({ ...ids, err: result.error }, 'welcome email could not be sent');
        return { status: 'FAILED' };
      case 'SENT':
        deps.logger.info({ ...ids, messageId: result.messageId }, 'welcome email sent');
        return { status: 'SENT' };
      default:
        return { status: 'SKIPPED' };
    }
  };

/**
 * U6, nothing lost: the sweep. Emails recorded with their extensions but never queued (the
 * process died between the commit and the enqueue, or Redis refused the jobs) are queued
 * again once they are a couple of minutes old; the job id makes it a no-op for the others.
 */
export const requeueWelcomeEmailsProcessor =
  (deps: ProcessorDeps): Processor<typeof JobName.RequeueWelcomeEmails> =>
  async () => {
    const result = await requeueWelcomeEmails({
      store: deps.openStore(),
      queue: deps.services.welcomeEmailQueue,
      now: deps.now,
    });
    if (result.requeued) deps.logger.info(result, 'welcome emails still QUEUED were queued again');
    return result;
  };
