import type { Job } from 'bullmq';
import type { MailboxJobFailure, MailboxJobSpec, MailboxJobs } from '../src/app/ports/contact-sync.port.js';
import { JobName, jobOptions, QueueName } from './contracts.js';
import type { JobQueues } from './queues.js';

/** How often the run looks at its mailbox jobs while it waits for them. */
export const MAILBOX_POLL_MS = 250;

/** The id of a run's mailbox job: queueing it again (a retried run) adds nothing. */
export const mailboxJobId = (runId: string, mailboxId: string) => `mailbox-${runId}-${mailboxId}`;

/**
 * The mailbox jobs of one run (C1–C4), as BullMQ children of the run's `sync-directory` job
 * (parent/child dependencies: https://docs.bullmq.io/guide/flows). The run's job stays active
 * while they run, so it keeps the PBX's run lock (no second run of the PBX starts beside them)
 * and counts its children: it is done when none is unprocessed. A child that failed for good
 * (`ignoreDependencyOnFailure`) is listed by BullMQ among the parent's ignored failures, and the
 * run reports it. A run retried after its worker died queues the same ids again (nothing is
 * added for a child that is still there) and waits again.
 */
export class BullMailboxJobs implements MailboxJobs {
  constructor(
    private readonly queues: JobQueues,
    private readonly parent: Job,
  ) {}

  async runAll(
    pbxId: string,
    runId: string,
    mailboxes: readonly MailboxJobSpec[],
    onProgress: (finished: number) => void,
    signal?: AbortSignal,
  ): Promise<MailboxJobFailure[]> {
    const queue = this.queues.queue(QueueName.Contacts);
    const parent = { id: this.parent.id as string, queue: this.parent.queueQualifiedName };
    for (let i = 0; i < mailboxes.length; i += 1000) {
      await queue.addBulk(
        mailboxes.slice(i, i + 1000).map((m) => {
          const data = { pbxId, runId, ...m };
          const id = mailboxJobId(runId, m.mailboxId);
          return {
            name: JobName.SyncMailbox,
            data,
            opts: { ...jobOptions(JobName.SyncMailbox, data, id), parent },
          };
        }),
      );
    }
    for (;;) {
      if (signal?.aborted) throw new Error(String(signal.reason ?? 'the run lost its job'));
      const { unprocessed = 0 } = await this.parent.getDependenciesCount({ unprocessed: true });
      onProgress(mailboxes.length - Math.min(unprocessed, mailboxes.length));
      if (unprocessed === 0) break;
      await new Promise((resolve) => setTimeout(resolve, MAILBOX_POLL_MS));
    }
    const failed = await this.parent.getIgnoredChildrenFailures();
    const prefix = `mailbox-${runId}-`;
    return Object.entries(failed).flatMap(([key, error]) => {
      const id = key.slice(key.lastIndexOf(':') + 1);
      return id.startsWith(prefix) ? [{ mailboxId: id.slice(prefix.length), error: String(error) }] : [];
    });
  }
}
