import { randomBytes } from 'node:crypto';
import type { EntityManager, FilterQuery } from '@mikro-orm/core';
import type { AuditEntryRecord, AuditRepository, Page, PageRequest } from '../app/ports/store.port.js';
import type { Clock } from './clock.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { AuditEntry, Pbx } from './entities/index.js';

let lastMs = 0;
let sequence = 0;

/**
 * A UUID version 7: 48 bits of Unix milliseconds, then a per-process counter, then random
 * bits. Ids made later in this process sort after earlier ones, so entries that share the
 * same millisecond still list in the order they were written.
 */
export function uuidv7(nowMs: number): string {
  if (nowMs > lastMs) {
    lastMs = nowMs;
    sequence = 0;
  } else if (++sequence > 0xfff) {
    lastMs++;
    sequence = 0;
  }
  const bytes = randomBytes(16);
  bytes.writeUIntBE(lastMs, 0, 6);
  bytes[6] = 0x70 | (sequence >> 8);
  bytes[7] = sequence & 0xff;
  bytes[8] = 0x80 | (bytes[8] & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const toRecord = (a: AuditEntry): AuditEntryRecord => ({
  id: a.id,
  pbxId: a.pbx?.id ?? null,
  keyId: a.keyId,
  role: a.role,
  operation: a.operation,
  arguments: a.arguments,
  outcome: a.outcome,
  message: a.message,
  requestId: a.requestId,
  at: a.at,
});

export class MikroAuditRepository implements AuditRepository {
  constructor(
    private readonly em: EntityManager,
    private readonly now: Clock,
  ) {}

  async record(entry: Omit<AuditEntryRecord, 'id'>) {
    // A native insert: it runs at once, and flushes nothing else the unit of work may hold.
    const { pbxId, ...fields } = entry;
    const row = this.em.create(
      AuditEntry,
      {
        ...fields,
        id: uuidv7(this.now().getTime()),
        pbx: pbxId === null ? null : this.em.getReference(Pbx, pbxId),
      },
      { persist: false },
    );
    await this.em.insert(row);
  }

  async page(pbxId: string | null, page: PageRequest): Promise<Page<AuditEntryRecord>> {
    const where: FilterQuery<AuditEntry> = { pbx: pbxId };
    if (page.after) {
      const [ms, id] = decodeCursor('audit', page.after, ['number', 'string']);
      const at = new Date(ms);
      where.$or = [{ at: { $lt: at } }, { at, id: { $lt: id } }];
    }
    const found = await this.em.find(AuditEntry, where, {
      orderBy: { at: 'desc', id: 'desc' },
      limit: page.first + 1,
    });
    const totalCount = await this.em.count(AuditEntry, { pbx: pbxId });
    const edges = found.slice(0, page.first).map((a) => ({
      cursor: encodeCursor('audit', [a.at.getTime(), a.id]),
      node: toRecord(a),
    }));
    return {
      edges,
      endCursor: edges.at(-1)?.cursor ?? null,
      hasNextPage: found.length > page.first,
      totalCount,
    };
  }
}
