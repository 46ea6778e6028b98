import { mailboxSyncDeps } from '../../src/app/services.js';
import { syncMailbox } from '../../src/app/sync/contact-mailbox.js';
import type { JobName } from '../contracts.js';
import type { Processor } from '../worker.js';
import type { ProcessorDeps } from './index.js';

/**
 * C1–C4: one mailbox of a run (src/app/sync/contact-mailbox.ts). Throws to be retried
 * (throttled, Microsoft away, a killed worker's job stalls and runs again); after its last
 * attempt BullMQ moves it to its parent's ignored failures and the run reports it.
 */
export const syncMailboxProcessor =
  (deps: ProcessorDeps): Processor<typeof JobName.SyncMailbox> =>
  async (payload, _job, _token, signal) => {
    const { outcome } = await syncMailbox(mailboxSyncDeps(deps.services, deps.openStore()), payload, signal);
    return { outcome };
  };
