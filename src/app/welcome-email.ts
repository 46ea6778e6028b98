import { MailSendError, type MailSender, type RenderWelcomeEmail } from './ports/mail.port.js';
import type { PageRequest, Store } from './ports/store.port.js';
import type {
  WelcomeEmailJob,
  WelcomeEmailQueue,
  WelcomeEmailRepository,
  WelcomeEmailStatus,
} from './ports/welcome-email.port.js';

/**
 * U6: the Linkus welcome email, once per extension a sync run created. The row (QUEUED) is
 * written in the same transaction that creates the extension, so the two commit together or
 * not at all; once the run's changes are committed, each becomes a job on the `mail` queue
 * that carries ids only, with a deterministic job id. A process that dies between the commit
 * and the enqueue leaves QUEUED rows without a job: the sweep (`requeueWelcomeEmails`, at
 * worker start and every few minutes) queues them again, and the job id makes that a no-op
 * for any that is still waiting, delayed or running. The job loads the extension and the
 * PBX, renders the email, sends it, and records the outcome on the row, which the portal
 * reads through `SyncRun.welcomeEmails`. Nothing here can fail the sync run.
 */

export interface WelcomeEmailDeps {
  store: Store;
  mailer: MailSender;
  render: RenderWelcomeEmail;
  now: () => Date;
}

export const NOT_CONFIGURED = 'SMTP_URL is not set: the welcome email was not sent.';

const clip = (text: string) => (text.length > 1000 ? `${text.slice(0, 997)}...` : text);

/** Emails per page when queueing them from the database (one SELECT and one addBulk each). */
export const WELCOME_EMAIL_PAGE = 1000;

/** Queues a job for every still QUEUED email `filter` selects, a page at a time; returns how many. */
async function queueStillQueued(
  store: Store,
  queue: WelcomeEmailQueue,
  filter: Parameters<WelcomeEmailRepository['pageQueued']>[0],
  pageSize: number,
  opts: { retryFailed?: boolean } = {},
): Promise<number> {
  let after: string | null = null;
  let queued = 0;
  for (;;) {
    const page = await store.welcomeEmails.pageQueued(filter, after, pageSize);
    if (!page.length) return queued;
    await queue.enqueue(
      page.map((e) => ({ pbxId: e.pbxId, runId: e.runId, extensionId: e.extensionId })),
      opts,
    );
    queued += page.length;
    if (page.length < pageSize) return queued;
    after = page[page.length - 1].id;
  }
}

/**
 * A sync run, once its changes are committed: queues the jobs of its emails still QUEUED,
 * the ones an earlier attempt of the run recorded included (a run resumed after its worker
 * died). Never throws: when the jobs cannot be queued (Redis down, ...) the rows stay QUEUED
 * for the sweep, and the error is returned for the log.
 */
export async function queueRunWelcomeEmails(
  deps: { store: Store; queue: WelcomeEmailQueue },
  pbxId: string,
  runId: string,
  opts: { pageSize?: number } = {},
): Promise<{ queued: number; error: Error | null }> {
  try {
    const queued = await queueStillQueued(
      deps.store,
      deps.queue,
      { pbxId, runId },
      opts.pageSize ?? WELCOME_EMAIL_PAGE,
    );
    return { queued, error: null };
  } catch (err) {
    return { queued: 0, error: err as Error };
  }
}

/** How old a QUEUED email must be before the sweep queues it again (its run has had time to). */
export const WELCOME_EMAIL_REQUEUE_AFTER_MS = 2 * 60_000;

/**
 * The sweep: queues again every email still QUEUED after `olderThanMs`, whatever PBX or run,
 * a page at a time. Safe to run at any time and in several processes at once: an email whose
 * job exists is not queued twice (job id), and one already SENT or FAILED is not QUEUED, so a
 * job that finished and was removed from Redis is never sent again. `requeued` counts the
 * emails handed to the queue, those whose job already existed included.
 */
export async function requeueWelcomeEmails(
  deps: { store: Store; queue: WelcomeEmailQueue; now: () => Date },
  opts: { olderThanMs?: number; pageSize?: number } = {},
): Promise<{ requeued: number }> {
  const queuedBefore = new Date(deps.now().getTime() - (opts.olderThanMs ?? WELCOME_EMAIL_REQUEUE_AFTER_MS));
  const requeued = await queueStillQueued(
    deps.store,
    deps.queue,
    { queuedBefore },
    opts.pageSize ?? WELCOME_EMAIL_PAGE,
    { retryFailed: true },
  );
  return { requeued };
}

/**
 * What became of one attempt: SENT; RETRY (a transient failure, and attempts are left: the
 * job should fail so that the queue tries again later); FAILED (for good, recorded); SKIPPED
 * (nothing to do: already sent, or no such email recorded).
 */
export type WelcomeEmailOutcome =
  | { outcome: 'SENT'; messageId: string }
  | { outcome: 'RETRY'; error: string; responseCode: number | null }
  | { outcome: 'FAILED'; error: string }
  | { outcome: 'SKIPPED'; reason: string };

/** One attempt at one welcome email (the `welcome-email` job). */
export async function sendWelcomeEmail(
  deps: WelcomeEmailDeps,
  job: WelcomeEmailJob,
  attempt: { finalAttempt: boolean },
): Promise<WelcomeEmailOutcome> {
  const { store } = deps;
  const row = await store.welcomeEmails.get(job.pbxId, job.runId, job.extensionId);
  if (!row) return { outcome: 'SKIPPED', reason: 'no welcome email is recorded for this extension and run' };
  if (row.status !== 'QUEUED') return { outcome: 'SKIPPED', reason: `already ${row.status}` };

  const fail = async (error: string, attempts = row.attempts) => {
    await store.welcomeEmails.update(row.id, { status: 'FAILED', lastError: clip(error), attempts });
    return { outcome: 'FAILED' as const, error };
  };
  if (!deps.mailer.configured) return fail(NOT_CONFIGURED);

  const [extension, pbx] = await Promise.all([
    store.directory.findExtension(job.pbxId, job.extensionId),
    store.tenants.findPbx(job.pbxId),
  ]);
  if (!extension || !pbx) return fail('The extension no longer exists.');
  if (!extension.email) return fail('The extension has no email address.');

  const attempts = row.attempts + 1;
  const to = extension.email;
  const content = deps.render({
    pbxName: pbx.name,
    pbxUrl: pbx.publicBaseUrl,
    name: `${extension.firstName} ${extension.lastName}`.trim() || row.name,
    number: extension.number,
    email: to,
  });
  try {
    const { messageId } = await deps.mailer.send({ to, ...content });
    await store.welcomeEmails.update(row.id, {
      status: 'SENT',
      recipient: to,
      attempts,
      lastError: null,
      sentAt: deps.now(),
    });
    return { outcome: 'SENT', messageId };
  } catch (err) {
    const error = clip((err as Error).message || String(err));
    const permanent = err instanceof MailSendError && err.permanent;
    if (permanent || attempt.finalAttempt) {
      await store.welcomeEmails.update(row.id, {
        status: 'FAILED',
        recipient: to,
        attempts,
        lastError: error,
      });
      return { outcome: 'FAILED', error };
    }
    await store.welcomeEmails.update(row.id, { recipient: to, attempts, lastError: error });
    return {
      outcome: 'RETRY',
      error,
      responseCode: err instanceof MailSendError ? (err.responseCode ?? null) : null,
    };
  }
}

/** `SyncRun.welcomeEmails`: a run's emails, scoped to the caller's PBX. */
export function pageWelcomeEmails(
  store: Store,
  pbxId: string,
  runId: string,
  filter: { status?: WelcomeEmailStatus | null },
  page: PageRequest,
) {
  return store.welcomeEmails.page(pbxId, runId, filter, page);
}

export function welcomeEmailCounts(store: Store, pbxId: string, runId: string) {
  return store.welcomeEmails.counts(pbxId, runId);
}
