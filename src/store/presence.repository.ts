import type { EntityManager } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/knex';
import type {
  ExtensionPresenceData,
  PresenceRepository,
  PresenceTarget,
  PresenceWrite,
} from '../app/ports/presence.port.js';
import type {
  ExtensionPresence,
  ExtensionPresenceStatus,
  PresenceMapping,
  PresenceSource,
} from '../domain/presence.mapping.js';
import type { Clock } from './clock.js';

/**
 * P1–P3 in the store: `presence_settings` (the integration's switch and a pending Retry-After)
 * and `extension_presence` (one row per extension once read, set by hand or configured).
 *
 * Plain statements with bound values (knex `raw`, as bound-insert.ts explains), in the unit of
 * work's transaction when there is one: the poller writes a few hundred changed rows a round
 * for 100,000 users, in statements of at most WRITE_BATCH rows, one upsert each
 * (`insert … on conflict (extension_id) do update`, which both databases know). Dates are bound
 * as Date (SQLite stores milliseconds, as MikroORM does; PostgreSQL timestamptz) and read back
 * from either.
 */
const WRITE_BATCH = 500;

type Row = Record<string, unknown>;

function toDate(v: unknown): Date | null {
  if (v === null || v === undefined) return null;
  return v instanceof Date
    ? v
    : new Date(typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : (v as string));
}

function toBool(v: unknown, dflt: boolean): boolean {
  if (v === null || v === undefined) return dflt;
  return v === true || v === 1 || v === '1' || v === 't';
}

function parseMapping(v: unknown): Partial<PresenceMapping> {
  if (typeof v !== 'string' || !v) return {};
  try {
    return JSON.parse(v) as Partial<PresenceMapping>;
  } catch {
    // a mapping the gateway did not write: the default applies
    return {};
  }
}

function presenceOf(r: Row): ExtensionPresence {
  return {
    status: (r.status as ExtensionPresenceStatus | null) ?? null,
    source: (r.source as PresenceSource | null) ?? null,
    teamsAvailability: (r.teams_availability as string | null) ?? null,
    teamsActivity: (r.teams_activity as string | null) ?? null,
    changedAt: toDate(r.changed_at),
  };
}

function marks(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}

export class MikroPresenceRepository implements PresenceRepository {
  constructor(
    private readonly em: EntityManager,
    private readonly now: Clock,
  ) {}

  private async raw(sql: string, params: unknown[] = []): Promise<Row[]> {
    const sqlEm = this.em as SqlEntityManager;
    const query = sqlEm
      .getConnection()
      .getKnex()
      .raw(sql, params as never[]);
    const tx = sqlEm.getTransactionContext();
    if (tx) query.transacting(tx);
    try {
      const res = (await query) as unknown;
      // pg: { rows }; better-sqlite3: the rows themselves (select) or a run result
      if (Array.isArray(res)) return res as Row[];
      const rows = (res as { rows?: Row[] }).rows;
      return Array.isArray(rows) ? rows : [];
    } catch (err) {
      throw sqlEm
        .getPlatform()
        .getExceptionConverter()
        .convertException(err as Error);
    }
  }

  async settings(pbxId: string) {
    const [r] = await this.raw('select enabled, updated_at from presence_settings where pbx_id = ?', [pbxId]);
    return r
      ? { enabled: toBool(r.enabled, false), updatedAt: toDate(r.updated_at) }
      : { enabled: false, updatedAt: null };
  }

  async saveSettings(pbxId: string, enabled: boolean): Promise<void> {
    await this.raw(
      `insert into presence_settings (pbx_id, enabled, retry_at, updated_at) values (?, ?, null, ?)
       on conflict (pbx_id) do update set enabled = excluded.enabled, retry_at = null, updated_at = excluded.updated_at`,
      [pbxId, enabled, this.now()],
    );
  }

  async retryAt(pbxId: string): Promise<Date | null> {
    const [r] = await this.raw('select retry_at from presence_settings where pbx_id = ?', [pbxId]);
    return r ? toDate(r.retry_at) : null;
  }

  async setRetryAt(pbxId: string, at: Date | null): Promise<void> {
    await this.raw('update presence_settings set retry_at = ? where pbx_id = ?', [at, pbxId]);
  }

  async enabledPbxIds(): Promise<string[]> {
    const rows = await this.raw('select pbx_id from presence_settings where enabled = ? order by pbx_id', [
      true,
    ]);
    return rows.map((r) => String(r.pbx_id));
  }

  /**
   * Synced extensions whose presence is on (no row: on). Paged by the Entra user id: the unique
   * index (pbx_id, external_id) serves the range in order (paged by extension id, SQLite scanned and
   * sorted all 90,000 extensions of the PBX for each page of 5,200).
   */
  private static readonly TARGETS = `from extension e left join extension_presence p on p.extension_id = e.id
    where e.pbx_id = ? and e.source = 'SYNCED' and e.external_id is not null and (p.enabled is null or p.enabled = ?)`;

  async pageTargets(pbxId: string, after: string | null, limit: number): Promise<PresenceTarget[]> {
    const rows = await this.raw(
      `select e.id as extension_id, e.external_id, p.mapping, p.status, p.source, p.teams_availability,
              p.teams_activity, p.changed_at
       ${MikroPresenceRepository.TARGETS} ${after === null ? '' : 'and e.external_id > ?'} order by e.external_id limit ?`,
      after === null ? [pbxId, true, limit] : [pbxId, true, after, limit],
    );
    return rows.map((r) => ({
      extensionId: String(r.extension_id),
      userId: String(r.external_id),
      current: presenceOf(r),
      customMapping: parseMapping(r.mapping),
    }));
  }

  async countTargets(pbxId: string): Promise<number> {
    const [r] = await this.raw(`select count(*) as n ${MikroPresenceRepository.TARGETS}`, [pbxId, true]);
    return Number(r?.n ?? 0);
  }

  async find(pbxId: string, extensionIds: readonly string[]): Promise<Map<string, ExtensionPresenceData>> {
    const out = new Map<string, ExtensionPresenceData>();
    for (let i = 0; i < extensionIds.length; i += WRITE_BATCH) {
      const part = extensionIds.slice(i, i + WRITE_BATCH);
      const rows = await this.raw(
        `select * from extension_presence where pbx_id = ? and extension_id in (${marks(part.length)})`,
        [pbxId, ...part],
      );
      for (const r of rows) {
        out.set(String(r.extension_id), {
          extensionId: String(r.extension_id),
          pbxId,
          enabled: toBool(r.enabled, true),
          customMapping: parseMapping(r.mapping),
          ...presenceOf(r),
        });
      }
    }
    return out;
  }

  async write(pbxId: string, writes: readonly PresenceWrite[]): Promise<void> {
    const now = this.now();
    for (let i = 0; i < writes.length; i += WRITE_BATCH) {
      const part = writes.slice(i, i + WRITE_BATCH);
      const params: unknown[] = [];
      for (const w of part) {
        const p = w.presence;
        params.push(
          w.extensionId,
          pbxId,
          true,
          p.status,
          p.source,
          p.teamsAvailability,
          p.teamsActivity,
          p.changedAt,
          now,
        );
      }
      await this.raw(
        `insert into extension_presence (extension_id, pbx_id, enabled, status, source, teams_availability, teams_activity, changed_at, updated_at)
         values ${part.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}
         on conflict (extension_id) do update set status = excluded.status, source = excluded.source,
           teams_availability = excluded.teams_availability, teams_activity = excluded.teams_activity,
           changed_at = excluded.changed_at, updated_at = excluded.updated_at`,
        params,
      );
    }
  }

  async configure(
    pbxId: string,
    extensionIds: readonly string[],
    patch: { enabled?: boolean; customMapping?: Partial<PresenceMapping> },
  ): Promise<string[]> {
    const found: string[] = [];
    const now = this.now();
    const mapping = patch.customMapping === undefined ? undefined : JSON.stringify(patch.customMapping);
    for (let i = 0; i < extensionIds.length; i += WRITE_BATCH) {
      const part = [...new Set(extensionIds.slice(i, i + WRITE_BATCH))];
      const rows = await this.raw(
        `select id from extension where pbx_id = ? and source = 'SYNCED' and external_id is not null and id in (${marks(part.length)})`,
        [pbxId, ...part],
      );
      const ids = rows.map((r) => String(r.id));
      if (ids.length === 0) continue;
      found.push(...ids);
      const sets = [
        ...(patch.enabled === undefined ? [] : ['enabled = excluded.enabled']),
        ...(mapping === undefined ? [] : ['mapping = excluded.mapping']),
        'updated_at = excluded.updated_at',
      ];
      const params: unknown[] = [];
      for (const id of ids) params.push(id, pbxId, patch.enabled ?? true, mapping ?? null, now);
      await this.raw(
        `insert into extension_presence (extension_id, pbx_id, enabled, mapping, updated_at)
         values ${ids.map(() => '(?, ?, ?, ?, ?)').join(', ')}
         on conflict (extension_id) do update set ${sets.join(', ')}`,
        params,
      );
    }
    return found;
  }

  async clearUnsynced(pbxId: string): Promise<string[]> {
    const rows = await this.raw(
      `select p.extension_id from extension_presence p join extension e on e.id = p.extension_id
       where p.pbx_id = ? and p.status is not null and (e.source <> 'SYNCED' or e.external_id is null)`,
      [pbxId],
    );
    const ids = rows.map((r) => String(r.extension_id));
    for (let i = 0; i < ids.length; i += WRITE_BATCH) {
      const part = ids.slice(i, i + WRITE_BATCH);
      await this.raw(
        `update extension_presence set status = null, source = null, teams_availability = null, teams_activity = null,
           changed_at = ?, updated_at = ? where extension_id in (${marks(part.length)})`,
        [this.now(), this.now(), ...part],
      );
    }
    return ids;
  }
}
