import type { MailSender } from '../../src/app/ports/mail.port.js';
import type { Store } from '../../src/app/ports/store.port.js';
import type { AppServices } from '../../src/app/services.js';
import type { Logger } from '../../src/logger.js';
import type { JobQueues } from '../queues.js';
import type { Processors } from '../worker.js';
import {
  flushChangesProcessor,
  lifecycleEventProcessor,
  maintainSubscriptionsProcessor,
  pollChangesProcessor,
  recordChangesProcessor,
} from './change-notifications.processor.js';
import { checkSecretExpiryProcessor } from './check-secret-expiry.processor.js';
import { pingProcessor } from './ping.processor.js';
import { ensurePresencePollsProcessor, pollPresenceProcessor } from './presence.processor.js';
import { resealSecretsProcessor } from './reseal-secrets.processor.js';
import { ensureSchedulesProcessor, scheduledSyncProcessor } from './scheduled-sync.processor.js';
import { syncDirectoryProcessor } from './sync-directory.processor.js';
import { syncMailboxProcessor } from './sync-mailbox.processor.js';
import { requeueWelcomeEmailsProcessor, welcomeEmailProcessor } from './welcome-email.processor.js';

/** What processors need: a fresh unit of work per job, the clock, the app services, mail and a logger. */
export interface ProcessorDeps {
  openStore: () => Store;
  now: () => Date;
  services: AppServices;
  /** Sends welcome emails (U6); without SMTP settings, one that is not `configured` (emails are recorded as not sent). */
  mailer: MailSender;
  logger: Logger;
  /** The producer side of the queues (a run queues its mailbox jobs; without it, a run syncs mailboxes itself). */
  queues?: JobQueues;
}

/** Every processor, by job name. */
export function buildProcessors(deps: ProcessorDeps): Processors {
  return {
    ping: pingProcessor,
    'check-secret-expiry': checkSecretExpiryProcessor(deps),
    'sync-directory': syncDirectoryProcessor(deps),
    'welcome-email': welcomeEmailProcessor(deps),
    'requeue-welcome-emails': requeueWelcomeEmailsProcessor(deps),
    'flush-changes': flushChangesProcessor(deps),
    'record-changes': recordChangesProcessor(deps),
    'lifecycle-event': lifecycleEventProcessor(deps),
    'reseal-secrets': resealSecretsProcessor(deps),
    'maintain-subscriptions': maintainSubscriptionsProcessor(deps),
    'poll-changes': pollChangesProcessor(deps),
    'scheduled-sync': scheduledSyncProcessor(deps),
    'ensure-schedules': ensureSchedulesProcessor(deps),
    'sync-mailbox': syncMailboxProcessor(deps),
    'poll-presence': pollPresenceProcessor(deps),
    'ensure-presence-polls': ensurePresencePollsProcessor(deps),
  };
}
