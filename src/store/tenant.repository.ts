import type { EntityManager } from '@mikro-orm/core';
import type { TenantRepository } from '../app/ports/store.port.js';
import type { ApiRole } from '../domain/access.js';
import type { ApiKeyRecord, PbxRecord, PbxSettings } from '../domain/tenant.js';
import type { Clock } from './clock.js';
import { ApiKey, Integration, Pbx } from './entities/index.js';

const toPbx = (p: Pbx): PbxRecord => ({
  id: p.id,
  name: p.name,
  timeZone: p.timeZone,
  publicBaseUrl: p.publicBaseUrl,
  extensionCapacity: p.extensionCapacity,
  defaultCountry: p.defaultCountry,
  createdAt: p.createdAt,
  updatedAt: p.updatedAt,
});

const toKey = (k: ApiKey): ApiKeyRecord => ({
  id: k.id,
  pbxId: k.pbx.id,
  role: k.role,
  prefix: k.prefix,
  label: k.label,
  createdAt: k.createdAt,
  revokedAt: k.revokedAt,
});

export class MikroTenantRepository implements TenantRepository {
  constructor(
    private readonly em: EntityManager,
    private readonly now: Clock,
  ) {}

  async findPbx(id: string) {
    const p = await this.em.findOne(Pbx, { id });
    return p ? toPbx(p) : null;
  }

  async listPbxs() {
    return (await this.em.find(Pbx, {}, { orderBy: { createdAt: 'asc', id: 'asc' } })).map(toPbx);
  }

  async createPbx(settings: PbxSettings) {
    const now = this.now();
    const pbx = this.em.create(Pbx, { ...settings, createdAt: now, updatedAt: now });
    this.em.create(Integration, { pbx, createdAt: now, updatedAt: now });
    await this.em.flush();
    return toPbx(pbx);
  }

  async updatePbx(id: string, patch: Partial<PbxSettings>) {
    const pbx = await this.em.findOneOrFail(Pbx, { id });
    this.em.assign(pbx, patch);
    await this.em.flush();
    return toPbx(pbx);
  }

  async findActiveKeyByHash(hash: string) {
    const k = await this.em.findOne(ApiKey, { hash, revokedAt: null });
    return k ? toKey(k) : null;
  }

  async createKey(input: {
    pbxId: string;
    role: ApiRole;
    hash: string;
    prefix: string;
    label: string | null;
  }) {
    const key = this.em.create(ApiKey, {
      pbx: this.em.getReference(Pbx, input.pbxId),
      role: input.role,
      hash: input.hash,
      prefix: input.prefix,
      label: input.label,
      createdAt: this.now(),
    });
    await this.em.flush();
    return toKey(key);
  }

  async revokeKeys(pbxId: string, label: string, now: Date) {
    return this.em.nativeUpdate(ApiKey, { pbx: pbxId, label, revokedAt: null }, { revokedAt: now });
  }
}
