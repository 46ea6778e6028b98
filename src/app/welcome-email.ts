import type { WelcomeEmail } from './directory-sync.js';
import type { Page, PageRequest, Store } from './ports.js';

/**
 * U6: the Linkus welcome email, once per extension a sync run created. The sync hands the
 * created extensions over after its changes are committed; each becomes a row here (QUEUED)
 * and a job on the `mail` queue that carries ids only. The job loads the extension and the
 * PBX, renders the email, sends it, and records the outcome on the row, which the portal
 * reads through `SyncRun.welcomeEmails`. Nothing here can fail the sync run.
 */

export type WelcomeEmailStatus = 'QUEUED' | 'SENT' | 'FAILED';

export interface WelcomeEmailData {
  id: string;
  pbxId: string;
  runId: string;
  extensionId: string;
  /** The extension's number and name when the email was queued (the report outlives the extension). */
  number: string;
  name: string;
  /** The address it was sent (or last tried) to; null until a send is tried. */
  recipient: string | null;
  status: WelcomeEmailStatus;
  /** Sends tried so far. */
  attempts: number;
  lastError: string | null;
  queuedAt: Date;
  sentAt: Date | null;
}

export type WelcomeEmailCounts = Record<WelcomeEmailStatus, number>;

export interface WelcomeEmailRepository {
  /** Inserts a QUEUED row per email; one already recorded for the same run and extension is kept as it is. */
  record(
    rows: ReadonlyArray<
      Pick<WelcomeEmailData, 'pbxId' | 'runId' | 'extensionId' | 'number' | 'name' | 'queuedAt'>
    >,
  ): Promise<void>;
  get(pbxId: string, runId: string, extensionId: string): Promise<WelcomeEmailData | null>;
  update(
    id: string,
    patch: Partial<Pick<WelcomeEmailData, 'recipient' | 'status' | 'attempts' | 'lastError' | 'sentAt'>>,
  ): Promise<void>;
  /** Marks the still QUEUED rows of these extensions FAILED with `error` (the jobs could not be queued). */
  failQueued(pbxId: string, runId: string, extensionIds: readonly string[], error: string): Promise<void>;
  /** A run's emails in the order they were queued. */
  page(
    pbxId: string,
    runId: string,
    filter: { status?: WelcomeEmailStatus | null },
    page: PageRequest,
  ): Promise<Page<WelcomeEmailData>>;
  counts(pbxId: string, runId: string): Promise<WelcomeEmailCounts>;
}

/** What a welcome-email job carries: ids only, never an address or a secret. */
export interface WelcomeEmailJob {
  pbxId: string;
  runId: string;
  extensionId: string;
}

/** The `mail` queue (jobs/): one job per email, retried with backoff by the queue. */
export interface WelcomeEmailQueue {
  enqueue(jobs: readonly WelcomeEmailJob[]): Promise<void>;
}

export interface OutgoingEmail {
  to: string;
  subject: string;
  text: string;
  html: string;
}

/** Sends mail (src/mail). `configured` false: there is no SMTP server to send to. */
export interface MailSender {
  readonly configured: boolean;
  send(message: OutgoingEmail): Promise<{ messageId: string }>;
}

/** Thrown by a MailSender; `permanent` when trying again cannot help (an SMTP 5xx answer). */
export class MailSendError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly responseCode?: number,
  ) {
    super(message);
    this.name = 'MailSendError';
  }
}

/** The content of one welcome email (rendered by src/mail/templates). */
export interface WelcomeEmailContent {
  pbxName: string;
  /** Where the PBX is reached (the Linkus server address), when known. */
  pbxUrl: string | null;
  name: string;
  number: string;
  email: string;
}

export interface WelcomeEmailDeps {
  store: Store;
  mailer: MailSender;
  render: (content: WelcomeEmailContent) => Omit<OutgoingEmail, 'to'>;
  now: () => Date;
}

export const NOT_CONFIGURED = 'SMTP_URL is not set: the welcome email was not sent.';

const clip = (text: string) => (text.length > 1000 ? `${text.slice(0, 997)}...` : text);

/**
 * Records the emails (QUEUED) and queues one job each. Never throws: when the jobs cannot be
 * queued the rows say so (FAILED, with the reason) and the error is returned for the log.
 */
export async function queueWelcomeEmails(
  deps: { store: Store; queue: WelcomeEmailQueue; now: () => Date },
  emails: readonly WelcomeEmail[],
): Promise<{ queued: number; error: Error | null }> {
  if (!emails.length) return { queued: 0, error: null };
  const now = deps.now();
  try {
    await deps.store.welcomeEmails.record(
      emails.map((e) => ({
        pbxId: e.pbxId,
        runId: e.runId,
        extensionId: e.extensionId,
        number: e.number,
        name: e.name,
        queuedAt: now,
      })),
    );
  } catch (err) {
    return { queued: 0, error: err as Error };
  }
  try {
    await deps.queue.enqueue(
      emails.map((e) => ({ pbxId: e.pbxId, runId: e.runId, extensionId: e.extensionId })),
    );
    return { queued: emails.length, error: null };
  } catch (err) {
    const reason = clip(`The email could not be queued: ${(err as Error).message}`);
    const byRun = new Map<string, WelcomeEmail[]>();
    for (const e of emails)
      byRun.set(`${e.pbxId} ${e.runId}`, [...(byRun.get(`${e.pbxId} ${e.runId}`) ?? []), e]);
    for (const group of byRun.values()) {
      await deps.store.welcomeEmails
        .failQueued(
          group[0].pbxId,
          group[0].runId,
          group.map((e) => e.extensionId),
          reason,
        )
        .catch(() => undefined);
    }
    return { queued: 0, error: err as Error };
  }
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
