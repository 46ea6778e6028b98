import type { EntityManager } from '@mikro-orm/core';
import type { IntegrationData, IntegrationRepository } from '../app/ports/store.port.js';
import type { Clock } from './clock.js';
import { Integration, Pbx } from './entities/index.js';

const LAZY = ['secretSealed', 'tokenCacheSealed'] as const;

function toData(i: Integration): IntegrationData {
  return {
    id: i.id,
    pbxId: i.pbx.id,
    status: i.status,
    userSyncPaused: i.userSyncPaused,
    groupSyncPaused: i.groupSyncPaused,
    clientId: i.clientId,
    tenantId: i.tenantId,
    secretSealed: i.secretSealed,
    secretLast4: i.secretLast4,
    secretExpiresAt: i.secretExpiresAt,
    tokenCacheSealed: i.tokenCacheSealed,
    accountUsername: i.accountUsername,
    accountName: i.accountName,
    accountOid: i.accountOid,
    accountHomeId: i.accountHomeId,
    organizationId: i.organizationId,
    organizationName: i.organizationName,
    directoryGroupCount: i.directoryGroupCount,
    connectedAt: i.connectedAt,
    lastErrorCode: i.lastErrorCode,
    lastErrorMessage: i.lastErrorMessage,
    lastErrorAt: i.lastErrorAt,
    warnings: i.warnings,
    warningsCheckedAt: i.warningsCheckedAt,
    connectAttempt: i.connectAttempt,
    updatedAt: i.updatedAt,
  };
}

export class MikroIntegrationRepository implements IntegrationRepository {
  constructor(
    private readonly em: EntityManager,
    private readonly now: Clock,
  ) {}

  private async entity(pbxId: string): Promise<Integration> {
    let i = await this.em.findOne(Integration, { pbx: pbxId }, { populate: [...LAZY] });
    if (!i) {
      const now = this.now();
      i = this.em.create(Integration, {
        pbx: this.em.getReference(Pbx, pbxId),
        createdAt: now,
        updatedAt: now,
      });
      await this.em.flush();
    }
    return i;
  }

  async get(pbxId: string) {
    return toData(await this.entity(pbxId));
  }

  async update(pbxId: string, patch: Partial<Omit<IntegrationData, 'id' | 'pbxId'>>) {
    const i = await this.entity(pbxId);
    this.em.assign(i, patch);
    await this.em.flush();
    return toData(i);
  }

  async replaceSealed(
    pbxId: string,
    field: 'secretSealed' | 'tokenCacheSealed',
    expected: string,
    next: string,
  ) {
    const changed = await this.em.nativeUpdate(
      Integration,
      { pbx: pbxId, [field]: expected },
      { [field]: next, updatedAt: this.now() },
    );
    return changed === 1;
  }

  async listAll() {
    const all = await this.em.find(
      Integration,
      {},
      { populate: [...LAZY], orderBy: { id: 'asc' }, refresh: true },
    );
    return all.map(toData);
  }
}
