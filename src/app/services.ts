import { type ChangeNotificationDeps, removeSubscriptions } from './change-notifications.js';
import type { FleetDeps } from './fleet.js';
import type { IntegrationDeps } from './integration.js';
import type { KnownKeys } from './known-keys.js';
import type { LinkusSessions } from './linkus-sessions.js';
import type { LinkusWebOrigins } from './linkus-web-origins.js';
import type { AuthStateStore } from './ports/auth-state.port.js';
import type {
  ChangeDebouncer,
  SubscriptionsClient,
  SubscriptionsVersion,
} from './ports/change-notifications.port.js';
import type { ContactsReader } from './ports/contact-sync.port.js';
import type { DirectoryReader } from './ports/directory.port.js';
import type { EventPublisher } from './ports/events.port.js';
import type { JobAdmin } from './ports/jobs.port.js';
import type { KeyRevocationNotifier } from './ports/key-revocation.port.js';
import type { LinkusSignInStates, MicrosoftSignIn } from './ports/linkus-sign-in.port.js';
import type { AppLog } from './ports/log.port.js';
import type { MicrosoftDirectoryInfo, MicrosoftIdentity } from './ports/microsoft.port.js';
import type {
  PresencePollQueue,
  PresenceReader,
  PresenceSubscriptionsClient,
} from './ports/presence.port.js';
import type { ScheduleQueue } from './ports/schedule-queue.port.js';
import type { Store } from './ports/store.port.js';
import type { SyncRunData } from './ports/sync.port.js';
import type { SyncCoordinator } from './ports/sync-coordinator.port.js';
import type { SyncQueue } from './ports/sync-queue.port.js';
import type { WelcomeEmailQueue } from './ports/welcome-email.port.js';
import type { PresenceDeps } from './presence-sync.js';
import type { ScheduleDeps } from './schedule.js';
import type { SecretBox } from './secret-box.js';
import type { MailboxSyncDeps } from './sync/contact-mailbox.js';
import type { SyncDeps } from './sync/sync-kind.js';
import type { SyncRulesDeps } from './sync-rules.js';

/**
 * The long-lived services the use cases need besides a unit of work (built once per process,
 * in one expression, by src/gateway.ts). Every member is required: a role with nothing to do
 * in some setting gets an explicit no-op, never an absent member.
 */
export interface AppServices {
  microsoft: MicrosoftIdentity & MicrosoftDirectoryInfo;
  authStates: AuthStateStore;
  events: EventPublisher;
  secrets: SecretBox;
  /** The job queues, for the queue queries and the job dashboard. */
  jobs: JobAdmin;
  now: () => Date;
  reader: DirectoryReader;
  syncQueue: SyncQueue;
  coordinator: SyncCoordinator;
  subscriptions: SubscriptionsClient;
  debouncer: ChangeDebouncer;
  /** The shared version of the known subscriptions (the webhook's caches reload when it moves). */
  subscriptionsVersion: SubscriptionsVersion;
  /** T1: the delayed scheduled-sync trigger of each PBX. */
  scheduleQueue: ScheduleQueue;
  log: AppLog;
  /** Follows a completed connect (queues the change subscriptions and the schedule). */
  afterConnect: (pbxId: string) => Promise<void>;
  /** Live progress of sync runs (subscriptions). */
  syncProgress: (run: SyncRunData) => void;
  /** The `mail` queue of welcome emails (U6): sync runs and the sweep queue jobs on it. */
  welcomeEmailQueue: WelcomeEmailQueue;
  /** Tells every gateway process that keys were revoked, so each closes their open sockets. */
  keyRevocations: KeyRevocationNotifier;
  /** The API keys this process found valid lately (issue 13), forgotten on each announcement. */
  knownKeys: KnownKeys;
  /** C1–C4: Outlook contacts, read with the authorization account's delegated token. */
  contactsReader: ContactsReader;
  /** S2/S4: Linkus sessions: the sign-in leg's one-time codes (`issue`), tokens, revocation. */
  linkusSessions: LinkusSessions;
  /** S2: the origins of the Linkus web clients (CORS on the token endpoint and /graphql). */
  linkusWebOrigins: LinkusWebOrigins;
  /** S2: the Microsoft leg of Linkus sign-ins (pending sign-ins in Redis, OpenID Connect). */
  linkusSignIn: { states: LinkusSignInStates; microsoft: MicrosoftSignIn };
  /** P1–P3: Teams presence, read app-only (Presence.Read.All). */
  presenceReader: PresenceReader;
  /** P1–P3: the repeating presence poll of each PBX. */
  presencePolls: PresencePollQueue;
  /** The shortest presence poll interval (ms). */
  presencePollMinMs: number;
  /** Issue 15: presence subscriptions, made with the authorization account's delegated token. */
  presenceSubscriptions: PresenceSubscriptionsClient;
  /** Issue 15: retry delay after a failed presence subscription, and the covered users' safety-net period (ms). */
  presenceSubscribeRetryMs: number;
  presenceSafetyNetMs: number;
}

export function presenceDeps(services: AppServices, store: Store): PresenceDeps {
  return {
    store,
    reader: services.presenceReader,
    polls: services.presencePolls,
    events: services.events,
    secrets: services.secrets,
    now: services.now,
    log: services.log,
    minIntervalMs: services.presencePollMinMs,
    identity: services.microsoft,
    presenceSubscriptions: services.presenceSubscriptions,
    subscriptionsVersion: services.subscriptionsVersion,
    subscribeRetryMs: services.presenceSubscribeRetryMs,
    safetyNetMs: services.presenceSafetyNetMs,
  };
}

export function integrationDeps(services: AppServices, store: Store): IntegrationDeps {
  return {
    store,
    identity: services.microsoft,
    directoryInfo: services.microsoft,
    authStates: services.authStates,
    events: services.events,
    secrets: services.secrets,
    now: services.now,
    log: services.log,
    beforeDisconnect: (pbxId) => removeSubscriptions(changeNotificationDeps(services, store), pbxId),
    linkusSessions: services.linkusSessions,
  };
}

export function syncRulesDeps(services: AppServices, store: Store): SyncRulesDeps {
  return {
    store,
    reader: services.reader,
    secrets: services.secrets,
    syncQueue: services.syncQueue,
    coordinator: services.coordinator,
    now: services.now,
    progress: services.syncProgress,
  };
}

export function syncDeps(services: AppServices, store: Store): SyncDeps {
  return {
    store,
    reader: services.reader,
    identity: services.microsoft,
    events: services.events,
    secrets: services.secrets,
    now: services.now,
    progress: services.syncProgress,
    welcomeEmailQueue: services.welcomeEmailQueue,
    log: services.log,
    contacts: mailboxSyncDeps(services, store),
    linkusSessions: services.linkusSessions,
  };
}

/** What one mailbox job needs (C1–C4). */
export function mailboxSyncDeps(services: AppServices, store: Store): MailboxSyncDeps {
  return {
    store,
    contactsReader: services.contactsReader,
    identity: services.microsoft,
    secrets: services.secrets,
    now: services.now,
    log: services.log,
  };
}

export function scheduleDeps(services: AppServices, store: Store): ScheduleDeps {
  return {
    store,
    syncQueue: services.syncQueue,
    coordinator: services.coordinator,
    now: services.now,
    progress: services.syncProgress,
    scheduleQueue: services.scheduleQueue,
  };
}

export function changeNotificationDeps(services: AppServices, store: Store): ChangeNotificationDeps {
  return {
    ...syncRulesDeps(services, store),
    subscriptions: services.subscriptions,
    debouncer: services.debouncer,
    subscriptionsVersion: services.subscriptionsVersion,
    log: services.log,
  };
}

export function fleetDeps(services: AppServices, store: Store): FleetDeps {
  return {
    store,
    coordinator: services.coordinator,
    revocations: services.keyRevocations,
    now: services.now,
    log: services.log,
    beforeDelete: (pbxId) => removeSubscriptions(changeNotificationDeps(services, store), pbxId),
  };
}
