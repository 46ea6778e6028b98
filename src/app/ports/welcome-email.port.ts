import type { Page, PageRequest } from './store.port.js';

/** U6: where welcome emails are recorded (src/store) and queued (jobs/). */

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
  /**
   * Up to `limit` QUEUED emails, in id order after the id `after` (keyset paging: a caller
   * never holds more than one page): those of one run, or those of every PBX queued before
   * `queuedBefore`.
   */
  pageQueued(
    filter: { pbxId: string; runId: string } | { queuedBefore: Date },
    after: string | null,
    limit: number,
  ): Promise<Array<WelcomeEmailJob & { id: string }>>;
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

/**
 * The `mail` queue (jobs/): one job per email, retried with backoff by the queue. The job id
 * is the run and the extension, so queueing an email whose job exists (waiting, delayed,
 * running, or kept once finished) adds nothing.
 */
export interface WelcomeEmailQueue {
  /**
   * Queues one job per email; an email whose job is already there is left as it is, except,
   * with `retryFailed`, a job that failed for good (its row is still QUEUED, so no attempt got
   * as far as recording an outcome: the database was down, the worker crashed): it is retried.
   */
  enqueue(jobs: readonly WelcomeEmailJob[], opts?: { retryFailed?: boolean }): Promise<void>;
}
