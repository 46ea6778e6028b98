import type { EntityManager } from '@mikro-orm/core';
import type { Store } from '../app/ports/store.port.js';
import { MikroAuditRepository } from './audit.repository.js';
import { MikroDirectoryApplier } from './directory.applier.js';
import { MikroIntegrationRepository } from './integration.repository.js';
import type { Orm } from './orm.js';
import { MikroPbxDirectoryRepository } from './pbx-directory.repository.js';
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

  constructor(private readonly em: EntityManager) {
    this.tenants = new MikroTenantRepository(em);
    this.directory = new MikroPbxDirectoryRepository(em);
    this.audit = new MikroAuditRepository(em);
    this.integrations = new MikroIntegrationRepository(em);
    this.sync = new MikroSyncRepository(em);
    this.subscriptions = new MikroSubscriptionRepository(em);
    this.applier = new MikroDirectoryApplier(em);
    this.welcomeEmails = new MikroWelcomeEmailRepository(em);
  }

  transactional<T>(fn: (store: Store) => Promise<T>): Promise<T> {
    return this.em.transactional((em) => fn(new MikroStore(em)));
  }
}

/** A fresh unit of work: one EntityManager fork per request and per job. */
export function openStore(orm: Orm): Store {
  return new MikroStore(orm.em.fork());
}
