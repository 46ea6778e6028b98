import type { EntityManager } from '@mikro-orm/core';
import type { SubscriptionRecord, SubscriptionRepository } from '../app/ports/change-notifications.port.js';
import type { Clock } from './clock.js';
import { GraphSubscription, Pbx } from './entities/index.js';

const toRecord = (s: GraphSubscription): SubscriptionRecord => ({
  id: s.id,
  pbxId: s.pbx.id,
  resource: s.resource,
  expiresAt: s.expiresAt,
  clientStateHash: s.clientStateHash,
});

export class MikroSubscriptionRepository implements SubscriptionRepository {
  constructor(
    private readonly em: EntityManager,
    private readonly now: Clock,
  ) {}

  async list(pbxId: string) {
    return (await this.em.find(GraphSubscription, { pbx: pbxId }, { orderBy: { resource: 'asc' } })).map(
      toRecord,
    );
  }

  async find(id: string) {
    const s = await this.em.findOne(GraphSubscription, { id });
    return s ? toRecord(s) : null;
  }

  async save(record: SubscriptionRecord) {
    const existing = await this.em.findOne(GraphSubscription, { id: record.id });
    if (existing) {
      existing.expiresAt = record.expiresAt;
      existing.renewedAt = this.now();
    } else {
      this.em.create(GraphSubscription, {
        id: record.id,
        pbx: this.em.getReference(Pbx, record.pbxId),
        resource: record.resource,
        expiresAt: record.expiresAt,
        clientStateHash: record.clientStateHash,
        createdAt: this.now(),
      });
    }
    await this.em.flush();
  }

  async remove(id: string) {
    await this.em.nativeDelete(GraphSubscription, { id });
  }

  async listAll() {
    return (await this.em.find(GraphSubscription, {}, { orderBy: { id: 'asc' } })).map(toRecord);
  }

  async pbxIds() {
    const rows: Array<{ pbx_id: string }> = await this.em
      .getConnection()
      .execute('select distinct pbx_id from graph_subscription');
    return rows.map((r) => r.pbx_id);
  }
}
