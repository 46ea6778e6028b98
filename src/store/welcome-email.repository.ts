import { type EntityManager, raw } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/knex';
import type { Page, PageRequest } from '../app/ports/store.port.js';
import type {
  WelcomeEmailCounts,
  WelcomeEmailData,
  WelcomeEmailRepository,
  WelcomeEmailStatus,
} from '../app/ports/welcome-email.port.js';
import { uuidv7 } from './audit.repository.js';
import { insertRows } from './bound-insert.js';
import type { Clock } from './clock.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { WelcomeEmailRow } from './entities/index.js';

/** Rows per INSERT / UPDATE statement: well under SQLite's and PostgreSQL's parameter limits. */
const BATCH = 500;

/** The columns `record` writes (the others keep their defaults: no recipient, error or sent time yet). */
const WELCOME_EMAIL_COLUMNS = [
  'id',
  'pbx_id',
  'run_id',
  'extension_id',
  'number',
  'name',
  'status',
  'attempts',
  'queued_at',
  'updated_at',
] as const;

const toData = (r: WelcomeEmailRow): WelcomeEmailData => ({
  id: r.id,
  pbxId: r.pbx.id,
  runId: r.run.id,
  extensionId: r.extensionId,
  number: r.number,
  name: r.name,
  recipient: r.recipient,
  status: r.status as WelcomeEmailStatus,
  attempts: r.attempts,
  lastError: r.lastError,
  queuedAt: r.queuedAt,
  sentAt: r.sentAt,
});

export class MikroWelcomeEmailRepository implements WelcomeEmailRepository {
  private readonly em: SqlEntityManager;

  constructor(
    em: EntityManager,
    private readonly now: Clock,
  ) {
    this.em = em as SqlEntityManager;
  }

  async record(rows: Parameters<WelcomeEmailRepository['record']>[0]) {
    // Bound values (bound-insert.ts), each statement's rows made just before it: a first sync
    // records 90,000 emails, 2,000 per applied batch, which MikroORM's query builder inlined
    // into SQL text of every batch (issue 16 item 3: a large part of what the user apply
    // allocated, kept long enough to reach the old generation).
    // A run retried after it queued its emails queues the same ones again: keep the first.
    await insertRows(
      this.em,
      'welcome_email',
      WELCOME_EMAIL_COLUMNS,
      {
        length: rows.length,
        row: (n) => {
          const r = rows[n];
          return [
            uuidv7(this.now().getTime()),
            r.pbxId,
            r.runId,
            r.extensionId,
            r.number.slice(0, 7),
            r.name.slice(0, 200),
            'QUEUED',
            0,
            r.queuedAt,
            r.queuedAt,
          ];
        },
      },
      { onConflict: 'on conflict ("run_id", "extension_id") do nothing', maxRowsPerStatement: BATCH },
    );
  }

  async get(pbxId: string, runId: string, extensionId: string) {
    const row = await this.em.findOne(
      WelcomeEmailRow,
      { pbx: pbxId, run: runId, extensionId },
      { refresh: true },
    );
    return row ? toData(row) : null;
  }

  async update(id: string, patch: Parameters<WelcomeEmailRepository['update']>[1]) {
    await this.em.nativeUpdate(WelcomeEmailRow, { id }, { ...patch, updatedAt: this.now() });
  }

  async pageQueued(
    filter: Parameters<WelcomeEmailRepository['pageQueued']>[0],
    after: string | null,
    limit: number,
  ) {
    // A run's: welcome_email_pbx_run_index (pbx, run, id). Every PBX's (the sweep):
    // welcome_email_status_index (status, id). Either way a range scan in id order that stops
    // after `limit` rows; no identity map, so 100,000 rows pass one page at a time.
    const rows = await this.em.find(
      WelcomeEmailRow,
      {
        status: 'QUEUED',
        ...('queuedBefore' in filter
          ? { queuedAt: { $lt: filter.queuedBefore } }
          : { pbx: filter.pbxId, run: filter.runId }),
        ...(after ? { id: { $gt: after } } : {}),
      },
      {
        fields: ['id', 'pbx', 'run', 'extensionId'],
        orderBy: { id: 'asc' },
        limit,
        disableIdentityMap: true,
      },
    );
    return rows.map((r) => ({ id: r.id, pbxId: r.pbx.id, runId: r.run.id, extensionId: r.extensionId }));
  }

  async page(
    pbxId: string,
    runId: string,
    filter: { status?: WelcomeEmailStatus | null },
    page: PageRequest,
  ): Promise<Page<WelcomeEmailData>> {
    const base: Record<string, unknown> = {
      pbx: pbxId,
      run: runId,
      ...(filter.status ? { status: filter.status } : {}),
    };
    const where: Record<string, unknown> = { ...base };
    if (page.after) {
      const [id] = decodeCursor('welcomeEmail', page.after, ['string']);
      where.id = { $gt: id };
    }
    const found = await this.em.find(WelcomeEmailRow, where, {
      orderBy: { id: 'asc' },
      limit: page.first + 1,
    });
    const totalCount = await this.em.count(WelcomeEmailRow, base);
    const edges = found
      .slice(0, page.first)
      .map((r) => ({ cursor: encodeCursor('welcomeEmail', [r.id]), node: toData(r) }));
    return {
      edges,
      endCursor: edges.at(-1)?.cursor ?? null,
      hasNextPage: found.length > page.first,
      totalCount,
    };
  }

  async counts(pbxId: string, runId: string): Promise<WelcomeEmailCounts> {
    const rows: Array<{ status: string; n: number | string }> = await this.em
      .createQueryBuilder(WelcomeEmailRow, 'w')
      .select(['w.status', raw('count(*) as n')])
      .where({ pbx: pbxId, run: runId })
      .groupBy('w.status')
      .execute('all', false);
    const counts: WelcomeEmailCounts = { QUEUED: 0, SENT: 0, FAILED: 0 };
    for (const r of rows) if (r.status in counts) counts[r.status as WelcomeEmailStatus] = Number(r.n);
    return counts;
  }
}
