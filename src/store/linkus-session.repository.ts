import type { EntityManager } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/knex';
import type {
  LinkusSessionData,
  LinkusSessionRepository,
  LinkusSessionScope,
  LinkusSigningKeyData,
} from '../app/ports/linkus-sessions.port.js';
import type { Clock } from './clock.js';
import { LinkusRefreshTokenRow, LinkusSessionRow, LinkusSigningKeyRow } from './entities/index.js';

/** Ids per `in (...)` list. */
const ID_CHUNK = 500;

const chunk = (ids: readonly string[]) => {
  const out: string[][] = [];
  for (let i = 0; i < ids.length; i += ID_CHUNK) out.push(ids.slice(i, i + ID_CHUNK));
  return out;
};

const toSession = (s: LinkusSessionRow): LinkusSessionData => ({
  id: s.id,
  pbxId: s.pbx.id,
  extensionId: s.extensionId,
  entraObjectId: s.entraObjectId,
  createdAt: s.createdAt,
  lastUsedAt: s.lastUsedAt,
  expiresAt: s.expiresAt,
  revokedAt: s.revokedAt,
  revokedReason: s.revokedReason,
});

export class MikroLinkusSessionRepository implements LinkusSessionRepository {
  constructor(
    private readonly em: EntityManager,
    private readonly now: Clock,
  ) {}

  async create(session: Omit<LinkusSessionData, 'revokedAt' | 'revokedReason'>, refreshHash: string) {
    const { pbxId, ...rest } = session;
    await this.em.insert(LinkusSessionRow, { ...rest, pbx: pbxId });
    await this.em.insert(LinkusRefreshTokenRow, {
      hash: refreshHash,
      session: session.id,
      createdAt: session.createdAt,
    });
  }

  async findRefreshToken(hash: string) {
    const row = await this.em.findOne(
      LinkusRefreshTokenRow,
      { hash },
      { populate: ['session'], refresh: true },
    );
    return row ? { hash: row.hash, usedAt: row.usedAt, session: toSession(row.session) } : null;
  }

  async rotateRefreshToken(hash: string, next: string, at: Date) {
    const won = await this.em.nativeUpdate(LinkusRefreshTokenRow, { hash, usedAt: null }, { usedAt: at });
    if (won !== 1) return false;
    const row = await this.em.findOneOrFail(LinkusRefreshTokenRow, { hash }, { fields: ['session'] });
    await this.em.insert(LinkusRefreshTokenRow, { hash: next, session: row.session.id, createdAt: at });
    await this.em.nativeUpdate(LinkusSessionRow, { id: row.session.id }, { lastUsedAt: at });
    return true;
  }

  async findSession(id: string) {
    const row = await this.em.findOne(LinkusSessionRow, { id }, { refresh: true });
    return row ? toSession(row) : null;
  }

  async listOfExtension(pbxId: string, extensionId: string, limit: number) {
    const rows = await this.em.find(
      LinkusSessionRow,
      { pbx: pbxId, extensionId },
      { orderBy: { createdAt: 'desc', id: 'desc' }, limit, refresh: true },
    );
    return rows.map(toSession);
  }

  async revoke(scope: LinkusSessionScope, reason: string, at: Date) {
    let ids: string[];
    if ('extensionNotSynced' in scope) {
      const rows = (await (this.em as SqlEntityManager).execute(
        `select s.id from linkus_session s where s.pbx_id = ? and s.revoked_at is null and not exists (select 1 from extension e where e.id = s.extension_id and e.pbx_id = s.pbx_id and e.source = 'SYNCED')`,
        [scope.pbxId],
      )) as Array<{ id: string }>;
      ids = rows.map((r) => r.id);
    } else {
      const wheres =
        'sessionId' in scope
          ? [{ id: scope.sessionId }]
          : 'extensionId' in scope
            ? [{ pbx: scope.pbxId, extensionId: scope.extensionId }]
            : 'extensionIds' in scope
              ? chunk(scope.extensionIds).map((part) => ({ pbx: scope.pbxId, extensionId: { $in: part } }))
              : [{ pbx: scope.pbxId }];
      ids = [];
      for (const where of wheres) {
        const rows = await this.em.find(LinkusSessionRow, { ...where, revokedAt: null }, { fields: ['id'] });
        ids.push(...rows.map((r) => r.id));
      }
    }
    for (let i = 0; i < ids.length; i += ID_CHUNK) {
      await this.em.nativeUpdate(
        LinkusSessionRow,
        { id: { $in: ids.slice(i, i + ID_CHUNK) }, revokedAt: null },
        { revokedAt: at, revokedReason: reason.slice(0, 40) },
      );
    }
    return ids;
  }

  async revokedSince(since: Date) {
    const rows = await this.em.find(
      LinkusSessionRow,
      { revokedAt: { $gte: since } },
      { fields: ['id', 'revokedAt'], refresh: true },
    );
    return rows.map((r) => ({ id: r.id, revokedAt: r.revokedAt as Date }));
  }

  async signingKeys(limit: number) {
    const rows = await this.em.find(
      LinkusSigningKeyRow,
      {},
      { orderBy: { createdAt: 'desc', id: 'desc' }, limit, refresh: true },
    );
    return rows.map((r) => ({ id: r.id, sealed: r.sealed, createdAt: r.createdAt }));
  }

  async addSigningKey(key: LinkusSigningKeyData) {
    await this.em.insert(LinkusSigningKeyRow, { ...key, createdAt: key.createdAt ?? this.now() });
  }

  async replaceSealedSigningKey(id: string, expected: string, next: string) {
    return (
      (await this.em.nativeUpdate(LinkusSigningKeyRow, { id, sealed: expected }, { sealed: next })) === 1
    );
  }
}
