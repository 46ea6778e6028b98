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
import { PreparedReads } from './raw-read.js';
import { MikroSubscriptionRepository } from './subscription.repository.js';
import { MikroSyncRepository } from './sync.repository.js';
import { MikroTenantRepository } from './tenant.repository.js';
import { MikroWelcomeEmailRepository } from './welcome-email.repository.js';

interface Repositories {
  tenants?: MikroTenantRepository;
  directory?: MikroPbxDirectoryRepository;
  audit?: MikroAuditRepository;
  integrations?: MikroIntegrationRepository;
  sync?: MikroSyncRepository;
  subscriptions?: MikroSubscriptionRepository;
  applier?: MikroDirectoryApplier;
  welcomeEmails?: MikroWelcomeEmailRepository;
  contacts?: MikroContactRepository;
  contactSync?: MikroContactSyncLedger;
  linkusSessions?: MikroLinkusSessionRepository;
  presence?: MikroPresenceRepository;
}

/**
 * A unit of work. Its EntityManager and repositories are made on first use: a request that
 * reads only through prepared reads outside a transaction (a caller lookup whose key this
 * process remembers) never forks one (issue 13: the fork, with its twelve repositories, was a
 * twentieth of the gateway's CPU for a GraphQL lookup).
 */
class MikroStore implements Store {
  private unitOfWork: EntityManager | undefined;
  private readonly repositories: Repositories = {};

  /**
   * `open`: the unit of work (an EntityManager that is already there: a transaction's), or how
   * to fork it when first needed; `prepared`: prepared reads without it, for a unit of work
   * outside any transaction only.
   */
  constructor(
    private readonly open: EntityManager | (() => EntityManager),
    private readonly now: Clock,
    private readonly prepared: PreparedReads | null,
  ) {
    if (typeof open !== 'function') this.bind(open);
  }

  private bind(em: EntityManager): EntityManager {
    bindClock(em, this.now);
    this.unitOfWork = em;
    return em;
  }

  /** A repository, made on first use. */
  private kept<K extends keyof Repositories>(name: K, make: () => NonNullable<Repositories[K]>) {
    const kept = this.repositories[name] ?? make();
    this.repositories[name] = kept;
    return kept as NonNullable<Repositories[K]>;
  }

  private get em(): EntityManager {
    return this.unitOfWork ?? this.bind((this.open as () => EntityManager)());
  }

  get tenants() {
    return this.kept('tenants', () => new MikroTenantRepository(this.em, this.now));
  }
  get directory() {
    return this.kept('directory', () => new MikroPbxDirectoryRepository(this.em, this.now));
  }
  get audit() {
    return this.kept('audit', () => new MikroAuditRepository(this.em, this.now));
  }
  get integrations() {
    return this.kept('integrations', () => new MikroIntegrationRepository(this.em, this.now));
  }
  get sync() {
    return this.kept('sync', () => new MikroSyncRepository(this.em, this.now));
  }
  get subscriptions() {
    return this.kept('subscriptions', () => new MikroSubscriptionRepository(this.em, this.now));
  }
  get applier() {
    return this.kept('applier', () => new MikroDirectoryApplier(this.em, this.now));
  }
  get welcomeEmails() {
    return this.kept('welcomeEmails', () => new MikroWelcomeEmailRepository(this.em, this.now));
  }
  get contacts() {
    // The EntityManager is asked for only by what needs it (not by prepared reads).
    return this.kept('contacts', () => new MikroContactRepository(() => this.em, this.now, this.prepared));
  }
  get contactSync() {
    return this.kept('contactSync', () => new MikroContactSyncLedger(this.em, this.now));
  }
  get linkusSessions() {
    return this.kept('linkusSessions', () => new MikroLinkusSessionRepository(this.em, this.now));
  }
  get presence() {
    return this.kept('presence', () => new MikroPresenceRepository(this.em, this.now));
  }

  transactional<T>(fn: (store: Store) => Promise<T>): Promise<T> {
    return this.em.transactional((em) => fn(new MikroStore(em, this.now, null)));
  }

  fork(): Store {
    return new MikroStore(this.em.fork(), this.now, null);
  }
}

const preparedReads = new WeakMap<Orm, PreparedReads>();

/**
 * A fresh unit of work: one EntityManager fork per request and per job (made when first
 * needed). Every time the store writes (createdAt, updatedAt, renewedAt, the time in new ids)
 * comes from `now`.
 */
export function openStore(orm: Orm, now: Clock): Store {
  let prepared = preparedReads.get(orm);
  if (!prepared) {
    prepared = new PreparedReads(orm.em);
    preparedReads.set(orm, prepared);
  }
  return new MikroStore(() => orm.em.fork(), now, prepared);
}
