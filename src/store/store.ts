import type { EntityManager } from '@mikro-orm/core';
import type { Store } from '../app/ports/store.port.js';
import { MikroAuditRepository } from './audit.repository.js';
import { bindClock, type Clock } from './clock.js';
import { MikroContactRepository } from './contact.repository.js';
import { MikroContactSyncLedger } from './contact-sync.repository.js';
import { MikroDirectoryApplier } from './directory.applier.js';
import { MikroIntegrationRepository } from './integration.repository.js';
import { MikroLinkusSessionRepository } from './linkus-session.repository.js';
import type { Orm } from './orm.js';
import { MikroPbxDirectoryRepository } from './pbx-directory.repository.js';
import { MikroPresenceRepository } from './presence.repository.js';
import { MikroSubscriptionRepository } from './subscription.repository.js';
import { MikroSyncRepository } from './sync.repository.js';
import { MikroTenantRepository } from './tenant.repository.js';
import { MikroWelcomeEmailRepository } from './welcome-email.repository.js';

class MikroStore implements Store {
  readonly tenants: MikroTenantRepository;
  readonly directory: MikroPbxDirectoryRepository;
  readonly audit: MikroAuditRepository;
  readonly integrations: MikroIntegrationRepository;
  readonly sync: MikroSyncRepository;
  readonly subscriptions: MikroSubscriptionRepository;
  readonly applier: MikroDirectoryApplier;
  readonly welcomeEmails: MikroWelcomeEmailRepository;
  readonly contacts: MikroContactRepository;
  readonly contactSync: MikroContactSyncLedger;
  readonly linkusSessions: MikroLinkusSessionRepository;
  readonly presence: MikroPresenceRepository;

  constructor(
    private readonly em: EntityManager,
    private readonly now: Clock,
  ) {
    bindClock(em, now);
    this.tenants = new MikroTenantRepository(em, now);
    this.directory = new MikroPbxDirectoryRepository(em, now);
    this.audit = new MikroAuditRepository(em, now);
    this.integrations = new MikroIntegrationRepository(em, now);
    this.sync = new MikroSyncRepository(em, now);
    this.subscriptions = new MikroSubscriptionRepository(em, now);
    this.applier = new MikroDirectoryApplier(em, now);
    this.welcomeEmails = new MikroWelcomeEmailRepository(em, now);
    this.contacts = new MikroContactRepository(em, now);
    this.contactSync = new MikroContactSyncLedger(em, now);
    this.linkusSessions = new MikroLinkusSessionRepository(em, now);
    this.presence = new MikroPresenceRepository(em, now);
  }

  transactional<T>(fn: (store: Store) => Promise<T>): Promise<T> {
    return this.em.transactional((em) => fn(new MikroStore(em, this.now)));
  }

  fork(): Store {
    return new MikroStore(this.em.fork(), this.now);
  }
}

/**
 * A fresh unit of work: one EntityManager fork per request and per job. Every time the store
 * writes (createdAt, updatedAt, renewedAt, the time in new ids) comes from `now`.
 */
export function openStore(orm: Orm, now: Clock): Store {
  return new MikroStore(orm.em.fork(), now);
}
