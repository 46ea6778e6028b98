import type { EntityManager, FilterQuery } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/knex';
import type {
  DeletedPbxRows,
  KeyOwner,
  Page,
  PageRequest,
  PbxFilter,
  TenantRepository,
} from '../app/ports/store.port.js';
import type { ApiRole } from '../domain/access.js';
import type { ApiKeyRecord, PbxRecord, PbxSettings } from '../domain/tenant.js';
import type { Clock } from './clock.js';
import { deleteContactsWhere } from './contact.repository.js';
import { decodeCursor, encodeCursor, likeEscape } from './cursor.js';
import { ApiKey, Extension, Integration, LinkusSessionRow, Pbx } from './entities/index.js';
import { refreshMobileKeys } from './mobile-key.js';
import { readRows } from './raw-read.js';

/** Rows deleted per statement when a PBX is deleted: no single statement holds SQLite for long. */
const DELETE_BATCH = 2000;
/** Ids per `in (...)` list. */
const ID_CHUNK = 500;

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
  pbxId: k.pbx?.id ?? null,
  role: k.role,
  extensionId: k.extension?.id ?? null,
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

  async pagePbxs(filter: PbxFilter, page: PageRequest): Promise<Page<PbxRecord>> {
    const filtered = () => {
      const qb = (this.em as SqlEntityManager).createQueryBuilder(Pbx, 'p');
      if (filter.search)
        qb.where(`lower(p.name) like ? escape '\\'`, [`%${likeEscape(filter.search.toLowerCase())}%`]);
      return qb;
    };
    const qb = filtered();
    if (page.after) {
      const [ms, id] = decodeCursor('pbx', page.after, ['number', 'string']);
      const at = new Date(ms);
      qb.andWhere({ $or: [{ createdAt: { $gt: at } }, { createdAt: at, id: { $gt: id } }] });
    }
    const found = await qb
      .orderBy({ createdAt: 'asc', id: 'asc' })
      .limit(page.first + 1)
      .getResultList();
    const totalCount = await filtered().getCount();
    const edges = found.slice(0, page.first).map((p) => ({
      cursor: encodeCursor('pbx', [p.createdAt.getTime(), p.id]),
      node: toPbx(p),
    }));
    return {
      edges,
      endCursor: edges.at(-1)?.cursor ?? null,
      hasNextPage: found.length > page.first,
      totalCount,
    };
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
    const countryChanged = patch.defaultCountry !== undefined && patch.defaultCountry !== pbx.defaultCountry;
    this.em.assign(pbx, patch);
    await this.em.flush();
    // Mobile numbers are read under the country: caller ID's keys of them are made again.
    if (countryChanged) await refreshMobileKeys(this.em, id);
    return toPbx(pbx);
  }

  /**
   * Every request's key: one raw statement, not the ORM (hydrating an entity per request was a
   * fifth of a Linkus lookup's cost over HTTP). Read each time, never cached: a revoked key,
   * and the key of a deleted extension (deleted with it), stop at once, in every process.
   */
  async findActiveKeyByHash(hash: string): Promise<ApiKeyRecord | null> {
    const [r] = await readRows(
      this.em,
      'select id, pbx_id, role, extension_id, prefix, label, created_at from api_key where hash = ? and revoked_at is null',
      [hash],
      { prepared: true },
    );
    if (!r) return null;
    return {
      id: r.id as string,
      pbxId: (r.pbx_id as string | null) ?? null,
      role: r.role as ApiRole,
      extensionId: (r.extension_id as string | null) ?? null,
      prefix: r.prefix as string,
      label: (r.label as string | null) ?? null,
      createdAt: r.created_at instanceof Date ? r.created_at : new Date(r.created_at as number | string),
      revokedAt: null,
    };
  }

  async findKey(id: string) {
    const k = await this.em.findOne(ApiKey, { id });
    return k ? toKey(k) : null;
  }

  async findKeysByPrefix(prefix: string) {
    const found = await (this.em as SqlEntityManager)
      .createQueryBuilder(ApiKey, 'k')
      .where(`k.prefix like ? escape '\\'`, [`${likeEscape(prefix)}%`])
      .orderBy({ createdAt: 'asc', id: 'asc' })
      .limit(20)
      .getResultList();
    return found.map(toKey);
  }

  async pageKeys(owner: KeyOwner, opts: { includeRevoked: boolean }, page: PageRequest) {
    const where: FilterQuery<ApiKey> = { pbx: 'pbxId' in owner ? owner.pbxId : null };
    if (!opts.includeRevoked) where.revokedAt = null;
    const total = { ...where };
    if (page.after) {
      const [ms, id] = decodeCursor('apiKey', page.after, ['number', 'string']);
      const at = new Date(ms);
      where.$or = [{ createdAt: { $gt: at } }, { createdAt: at, id: { $gt: id } }];
    }
    const found = await this.em.find(ApiKey, where, {
      orderBy: { createdAt: 'asc', id: 'asc' },
      limit: page.first + 1,
    });
    const totalCount = await this.em.count(ApiKey, total);
    const edges = found.slice(0, page.first).map((k) => ({
      cursor: encodeCursor('apiKey', [k.createdAt.getTime(), k.id]),
      node: toKey(k),
    }));
    return {
      edges,
      endCursor: edges.at(-1)?.cursor ?? null,
      hasNextPage: found.length > page.first,
      totalCount,
    };
  }

  async revokeKey(id: string, now: Date) {
    await this.em.nativeUpdate(ApiKey, { id, revokedAt: null }, { revokedAt: now });
    const k = await this.em.findOne(ApiKey, { id }, { refresh: true });
    return k ? toKey(k) : null;
  }

  async activeKeyIds(ids: readonly string[]) {
    const active = new Set<string>();
    for (let i = 0; i < ids.length; i += ID_CHUNK) {
      const rows = await this.em.find(
        ApiKey,
        { id: { $in: ids.slice(i, i + ID_CHUNK) }, revokedAt: null },
        { fields: ['id'] },
      );
      for (const r of rows) active.add(r.id);
    }
    return active;
  }

  async deletePbx(id: string): Promise<DeletedPbxRows | null> {
    // From the database, not the unit of work's identity map (which may hold a PBX deleted since).
    const pbx = await this.em.findOne(Pbx, { id }, { refresh: true });
    if (!pbx) return null;
    const record = toPbx(pbx);
    const keyIds = (await this.em.find(ApiKey, { pbx: id }, { fields: ['id'] })).map((k) => k.id);
    // S4: its live Linkus sessions end with it (announced, so their tokens stop at once).
    const linkusSessionIds = (
      await this.em.find(LinkusSessionRow, { pbx: id, revokedAt: null }, { fields: ['id'] })
    ).map((s) => s.id);
    const rows: Record<string, number> = {};
    // Leaves first, in statements of DELETE_BATCH rows, so that neither database holds one
    // statement for long (SQLite's driver is synchronous) and no cascade has much to do.
    const steps: Array<[table: string, key: string, where: string]> = [
      ['sync_run_item', 'id', 'run_id in (select id from sync_run where pbx_id = ?)'],
      ['welcome_email', 'id', 'pbx_id = ?'],
      ['sync_run', 'id', 'pbx_id = ?'],
      [
        'extension_group_member',
        'group_id, extension_id',
        'group_id in (select id from extension_group where pbx_id = ?)',
      ],
      [
        'phonebook_extension',
        'phonebook_id, extension_id',
        'phonebook_id in (select id from phonebook where pbx_id = ?)',
      ],
      [
        'phonebook_extension_group',
        'phonebook_id, group_id',
        'phonebook_id in (select id from phonebook where pbx_id = ?)',
      ],
      ['phonebook', 'id', 'pbx_id = ?'],
      ['extension_group', 'id', 'pbx_id = ?'],
      ['api_key', 'id', 'pbx_id = ?'],
      ['linkus_refresh_token', 'hash', 'session_id in (select id from linkus_session where pbx_id = ?)'],
      ['linkus_session', 'id', 'pbx_id = ?'],
      ['extension_presence', 'extension_id', 'pbx_id = ?'],
      ['presence_settings', 'pbx_id', 'pbx_id = ?'],
      ['extension', 'id', 'pbx_id = ?'],
      ['directory_object', 'key', 'pbx_id = ?'],
      ['graph_subscription', 'id', 'pbx_id = ?'],
      ['audit_entry', 'id', 'pbx_id = ?'],
      ['sync_settings', 'id', 'pbx_id = ?'],
      ['integration', 'id', 'pbx_id = ?'],
    ];
    // Contacts first (1,000,000 of them, each with its keys): contact-by-contact batches.
    rows.contact = await deleteContactsWhere(this.em, 'c.pbx_id = ?', [id]);
    for (const [table, key, where] of steps) {
      rows[table] = await this.deleteInBatches(table, key, where, id);
    }
    rows.pbx = await this.deleteInBatches('pbx', 'id', 'id = ?', id);
    this.em.clear();
    return rows.pbx === 0 ? null : { pbx: record, keyIds, linkusSessionIds, rows };
  }

  /** `table`, `key` and `where` are constants of this file, never input; the PBX id is bound. */
  private async deleteInBatches(table: string, key: string, where: string, pbxId: string) {
    const em = this.em as SqlEntityManager;
    let total = 0;
    for (;;) {
      const res = await em.execute(
        `delete from ${table} where (${key}) in (select ${key} from ${table} where ${where} limit ${DELETE_BATCH})`,
        [pbxId],
        'run',
      );
      const n = Number((res as { affectedRows?: number }).affectedRows ?? 0);
      total += n;
      if (n < DELETE_BATCH) return total;
    }
  }

  async createKey(input: {
    pbxId: string | null;
    role: ApiRole;
    hash: string;
    prefix: string;
    label: string | null;
    extensionId?: string | null;
  }) {
    const key = this.em.create(ApiKey, {
      pbx: input.pbxId === null ? null : this.em.getReference(Pbx, input.pbxId),
      extension: input.extensionId ? this.em.getReference(Extension, input.extensionId) : null,
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
