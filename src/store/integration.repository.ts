import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/knex';
import type {
  IntegrationData,
  IntegrationHealthData,
  IntegrationRepository,
} from '../app/ports/store.port.js';
import type { HealthCode } from '../domain/integration.js';
import type { Clock } from './clock.js';
import { Integration, IntegrationHealth, Pbx } from './entities/index.js';

const LAZY = ['secretSealed', 'tokenCacheSealed'] as const;

const list = (v: string | null) => (v ? v.split(',').filter(Boolean) : []);

function toHealth(h: IntegrationHealth | null): IntegrationHealthData {
  return {
    codes: list(h?.codes ?? null) as HealthCode[],
    missingPermissions: list(h?.missingPermissions ?? null),
    message: h?.message ?? null,
    checkedAt: h?.checkedAt ?? null,
    lastHealthyAt: h?.lastHealthyAt ?? null,
  };
}

function toData(i: Integration, health: IntegrationHealth | null): IntegrationData {
  return {
    id: i.id,
    pbxId: i.pbx.id,
    status: i.status,
    userSyncPaused: i.userSyncPaused,
    contactSyncPaused: i.contactSyncPaused,
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
    linkusSsoEnabled: i.linkusSsoEnabled,
    linkusSsoRedirectUris: i.linkusSsoRedirectUris ?? [],
    updatedAt: i.updatedAt,
    health: toHealth(health),
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

  private health(pbxId: string) {
    return this.em.findOne(IntegrationHealth, { pbx: pbxId });
  }

  async get(pbxId: string) {
    const i = await this.entity(pbxId);
    return toData(i, await this.health(pbxId));
  }

  async update(pbxId: string, patch: Partial<Omit<IntegrationData, 'id' | 'pbxId' | 'health'>>) {
    const i = await this.entity(pbxId);
    this.em.assign(i, patch);
    await this.em.flush();
    return toData(i, await this.health(pbxId));
  }

  async recordHealth(pbxId: string, health: IntegrationHealthData) {
    let row = await this.health(pbxId);
    if (!row) {
      // Made on first use; a check and a run may get here at once: the second insert is ignored.
      await (this.em as SqlEntityManager)
        .createQueryBuilder(IntegrationHealth)
        .insert({ id: randomUUID(), pbx: pbxId })
        .onConflict(['pbx'])
        .ignore()
        .execute();
      row = await this.em.findOneOrFail(IntegrationHealth, { pbx: pbxId });
    }
    this.em.assign(row, {
      codes: health.codes.join(',') || null,
      missingPermissions: health.missingPermissions.join(',') || null,
      message: health.message?.slice(0, 1000) ?? null,
      checkedAt: health.checkedAt,
      lastHealthyAt: health.lastHealthyAt,
    });
    await this.em.flush();
    return toHealth(row);
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

  async linkusSsoRedirectUris() {
    const rows = await this.em.find(
      Integration,
      { linkusSsoEnabled: true },
      { fields: ['linkusSsoRedirectUris'], refresh: true },
    );
    return rows.flatMap((i) => i.linkusSsoRedirectUris ?? []);
  }

  async listAll() {
    const all = await this.em.find(
      Integration,
      {},
      { populate: [...LAZY], orderBy: { id: 'asc' }, refresh: true },
    );
    const health = new Map(
      (await this.em.find(IntegrationHealth, {}, { refresh: true })).map((h) => [h.pbx.id, h]),
    );
    return all.map((i) => toData(i, health.get(i.pbx.id) ?? null));
  }
}
