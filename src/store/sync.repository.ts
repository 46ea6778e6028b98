import type { EntityManager } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/knex';
import { PostgreSqlPlatform } from '@mikro-orm/postgresql';
import type { Page, PageRequest } from '../app/ports/store.port.js';
import type {
  ItemAction,
  PollCandidate,
  SyncRepository,
  SyncRunData,
  SyncRunItemData,
  SyncScope,
  SyncSettingsData,
  SyncTrigger,
} from '../app/ports/sync.port.js';
import type { DirectoryGroup, DirectoryUser } from '../domain/directory.types.js';
import { IntegrationStatus } from '../domain/integration.js';
import type { ScheduleFrequency, Weekday } from '../domain/schedule.js';
import type { PlanSummary } from '../domain/sync-plan.types.js';
import { insertRows } from './bound-insert.js';
import type { Clock } from './clock.js';
import { decodeCursor, encodeCursor, mapInSlices, rowsPerStatement } from './cursor.js';
import { DirectoryObject, Pbx, SyncRun, SyncRunItem, SyncSettings } from './entities/index.js';
import { readRows } from './raw-read.js';

/** Rows per INSERT / DELETE statement: well under SQLite's and PostgreSQL's parameter limits. */
const BATCH = 500;
/** Object ids a `copyFailRows` statement copies the rows of, on PostgreSQL. */
const COPY_CHUNK = 20_000;

const DIRECTORY_OBJECT_COLUMNS = ['key', 'pbx_id', 'kind', 'data'] as const;
/** Snapshot rows per INSERT, and the JSON characters past which a statement takes no more. */
const SNAPSHOT_ROWS = 100;
const SNAPSHOT_CHARS = 1_000_000;
export const SYNC_RUN_ITEM_COLUMNS = [
  'id',
  'run_id',
  'seq',
  'scope',
  'action',
  'reason',
  'object_id',
  'object_name',
  'object_secondary',
  'number',
  'target_id',
  'detail',
  'changes',
  'state',
] as const;

/**
 * A run item's values in SYNC_RUN_ITEM_COLUMNS order, a fresh id, the texts cut to their
 * columns' lengths: the one way a user, group or contact row of a run is written.
 */
export function syncRunItemValues(
  runId: string,
  seq: number,
  scope: SyncRunItemData['scope'],
  i: Omit<SyncRunItemData, 'id' | 'runId' | 'seq' | 'scope'>,
): Array<string | number | null> {
  return [
    crypto.randomUUID(),
    runId,
    seq,
    scope,
    i.action,
    i.reason,
    i.objectId.slice(0, 64),
    i.objectName.slice(0, 300),
    i.objectSecondary?.slice(0, 300) ?? null,
    i.number,
    i.targetId,
    i.detail?.slice(0, 1000) ?? null,
    i.changes,
    i.state,
  ];
}

function chunks<T>(items: readonly T[], size = BATCH): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const toSettings = (s: SyncSettings): SyncSettingsData => ({
  pbxId: s.pbx.id,
  userRule: s.userRule ? JSON.parse(s.userRule) : null,
  groupRule: s.groupRule ? JSON.parse(s.groupRule) : null,
  userRuleSavedAt: s.userRuleSavedAt,
  groupRuleSavedAt: s.groupRuleSavedAt,
  contactRule: s.contactRule ? JSON.parse(s.contactRule) : null,
  contactRuleSavedAt: s.contactRuleSavedAt,
  usersDeltaLink: s.usersDeltaLink,
  usersDeltaSelect: s.usersDeltaSelect,
  groupsDeltaLink: s.groupsDeltaLink,
  lastFullReadAt: s.lastFullReadAt,
  guardMaxDeletes: s.guardMaxDeletes,
  guardMaxRatio: s.guardMaxRatio,
  guardWindowHours: s.guardWindowHours,
  guardApprovedAt: s.guardApprovedAt,
  changeDebounceSeconds: s.changeDebounceSeconds,
  changeThreshold: s.changeThreshold,
  pollMinutes: s.pollMinutes,
  lastPolledAt: s.lastPolledAt,
  schedule: {
    frequency: s.scheduleFrequency as ScheduleFrequency,
    days: s.scheduleDays ? (s.scheduleDays.split(',') as Weekday[]) : [],
    time: s.scheduleTime,
  },
});

const toRun = (r: SyncRun): SyncRunData => ({
  id: r.id,
  pbxId: r.pbx.id,
  status: r.status as SyncRunData['status'],
  mode: r.mode as SyncRunData['mode'],
  trigger: r.trigger as SyncTrigger,
  scopes: r.scopes.split(',').filter(Boolean) as SyncScope[],
  queuedAt: r.queuedAt,
  startedAt: r.startedAt,
  finishedAt: r.finishedAt,
  counts: r.counts ? JSON.parse(r.counts) : null,
  message: r.message,
  error: r.error,
  graphRequests: r.graphRequests,
  phase: r.phase as SyncRunData['phase'],
  done: r.done,
  total: r.total,
  pbxFingerprint: r.pbxFingerprint,
});

const toItem = (i: SyncRunItem): SyncRunItemData => ({
  id: i.id,
  runId: i.run.id,
  seq: i.seq,
  scope: i.scope as SyncRunItemData['scope'],
  action: i.action as ItemAction,
  reason: i.reason,
  objectId: i.objectId,
  objectName: i.objectName,
  objectSecondary: i.objectSecondary,
  number: i.number,
  targetId: i.targetId,
  detail: i.detail,
  changes: i.changes,
  state: i.state as SyncRunItemData['state'],
});

/** Snapshot rows read per statement. */
const SNAPSHOT_PAGE = 2000;

export class MikroSyncRepository implements SyncRepository {
  constructor(
    private readonly em: EntityManager,
    private readonly now: Clock,
  ) {}

  private async settings(pbxId: string): Promise<SyncSettings> {
    const found = await this.em.findOne(SyncSettings, { pbx: pbxId });
    if (found) return found;
    // Made on first use, which two jobs (or a job and a request) may reach at once: the
    // second insert is ignored rather than failing on the unique PBX, and both read the row.
    const { pbx: _none, ...defaults } = new SyncSettings();
    await (this.em as SqlEntityManager)
      .createQueryBuilder(SyncSettings)
      .insert({ ...defaults, pbx: pbxId, updatedAt: this.now() })
      .onConflict(['pbx'])
      .ignore()
      .execute();
    return this.em.findOneOrFail(SyncSettings, { pbx: pbxId });
  }

  async getSettings(pbxId: string) {
    return toSettings(await this.settings(pbxId));
  }

  async pollCandidates(ignoredResources: readonly string[]): Promise<PollCandidate[]> {
    const ignored = ignoredResources.length ? ignoredResources : [''];
    const rows = await readRows(
      this.em,
      `select s.pbx_id, s.last_polled_at, s.poll_minutes
         from sync_settings s
         join integration i on i.pbx_id = s.pbx_id and i.status = ?
        where s.users_delta_link is not null and s.groups_delta_link is not null
          and not exists (select 1 from graph_subscription g
                           where g.pbx_id = s.pbx_id and g.resource not in (${ignored.map(() => '?').join(', ')}))`,
      [IntegrationStatus.CONNECTED, ...ignored],
    );
    return rows.map((r) => ({
      pbxId: r.pbx_id as string,
      lastPolledAt:
        r.last_polled_at == null
          ? null
          : r.last_polled_at instanceof Date
            ? r.last_polled_at
            : new Date(r.last_polled_at as string | number),
      pollMinutes: Number(r.poll_minutes),
    }));
  }

  async updateSettings(pbxId: string, patch: Partial<Omit<SyncSettingsData, 'pbxId'>>) {
    const s = await this.settings(pbxId);
    const { userRule, groupRule, contactRule, schedule, ...rest } = patch;
    this.em.assign(s, rest);
    if (userRule !== undefined) s.userRule = userRule ? JSON.stringify(userRule) : null;
    if (groupRule !== undefined) s.groupRule = groupRule ? JSON.stringify(groupRule) : null;
    if (contactRule !== undefined) s.contactRule = contactRule ? JSON.stringify(contactRule) : null;
    if (schedule !== undefined) {
      s.scheduleFrequency = schedule.frequency;
      s.scheduleDays = schedule.days.join(',');
      s.scheduleTime = schedule.time;
    }
    await this.em.flush();
    return toSettings(s);
  }

  async loadSnapshot(pbxId: string) {
    // Plain rows, no entities: 100,000 of them must load in well under a second. Read in
    // pages along the primary key (every key of the PBX starts with `<pbxId>:`), so that no
    // single statement holds a synchronous driver (better-sqlite3) for long; one on PostgreSQL.
    const pageSize = rowsPerStatement(this.em, SNAPSHOT_PAGE);
    const users: DirectoryUser[] = [];
    const groups: DirectoryGroup[] = [];
    const end = `${pbxId};`;
    let after = `${pbxId}:`;
    for (;;) {
      const rows: Array<{ key: string; kind: string; data: string }> = await this.em
        .getConnection()
        .execute(
          'select key, kind, data from directory_object where key > ? and key < ? order by key limit ?',
          [after, end, pageSize],
        );
      await mapInSlices(rows, (r) => {
        if (r.kind === 'USER') users.push(JSON.parse(r.data));
        else groups.push(JSON.parse(r.data));
      });
      if (rows.length < pageSize) return { users, groups };
      after = rows[rows.length - 1].key;
    }
  }

  private async loadObjects(pbxId: string, kind: 'USER' | 'GROUP', ids: readonly string[]) {
    const out: unknown[] = [];
    for (const batch of chunks([...new Set(ids)])) {
      const rows: Array<{ data: string }> = await this.em.getConnection().execute(
        `select data from directory_object where key in (${batch.map(() => '?').join(',')})`,
        batch.map((id) => `${pbxId}:${kind}:${id}`),
      );
      for (const r of rows) out.push(JSON.parse(r.data));
    }
    return out;
  }

  async loadSnapshotUsers(pbxId: string, ids: readonly string[]) {
    return (await this.loadObjects(pbxId, 'USER', ids)) as DirectoryUser[];
  }

  async loadSnapshotGroups(pbxId: string, ids: readonly string[]) {
    return (await this.loadObjects(pbxId, 'GROUP', ids)) as DirectoryGroup[];
  }

  private async insertObjects(pbxId: string, kind: 'USER' | 'GROUP', objects: ReadonlyArray<{ id: string }>) {
    // Bound values, in batches of 100 rows: a group row carries its member list (megabytes for
    // a group of the whole organisation), which inlined into the SQL text was the largest
    // memory peak of a sync on PostgreSQL.
    // Fewer rows when their JSON is large (issue 16 item 3): 100 groups of a large tenant came
    // to 7 million characters in one statement, held twice (the strings and the driver's copy).
    let rows: Array<[string, string, string, string]> = [];
    let chars = 0;
    const flush = async () => {
      await insertRows(this.em, 'directory_object', DIRECTORY_OBJECT_COLUMNS, rows, {
        maxRowsPerStatement: SNAPSHOT_ROWS,
      });
      rows = [];
      chars = 0;
    };
    for (const o of objects) {
      const data = JSON.stringify(o);
      rows.push([`${pbxId}:${kind}:${o.id}`, pbxId, kind, data]);
      chars += data.length;
      if (rows.length >= SNAPSHOT_ROWS || chars >= SNAPSHOT_CHARS) await flush();
    }
    if (rows.length) await flush();
  }

  async replaceSnapshot(pbxId: string, kind: 'USER' | 'GROUP', objects: ReadonlyArray<{ id: string }>) {
    await this.em.nativeDelete(DirectoryObject, { pbx: pbxId, kind });
    await this.insertObjects(pbxId, kind, objects);
  }

  async patchSnapshot(
    pbxId: string,
    kind: 'USER' | 'GROUP',
    changed: ReadonlyArray<{ id: string }>,
    removedIds: readonly string[],
  ) {
    const gone = [...removedIds, ...changed.map((o) => o.id)];
    for (const batch of chunks(gone)) {
      await this.em.nativeDelete(DirectoryObject, {
        key: { $in: batch.map((id) => `${pbxId}:${kind}:${id}`) },
      });
    }
    await this.insertObjects(pbxId, kind, changed);
  }

  async createRun(input: {
    id?: string;
    pbxId: string;
    trigger: SyncTrigger;
    scopes: SyncScope[];
    queuedAt: Date;
  }) {
    const run = this.em.create(SyncRun, {
      ...(input.id ? { id: input.id } : {}),
      pbx: this.em.getReference(Pbx, input.pbxId),
      trigger: input.trigger,
      scopes: input.scopes.join(','),
      queuedAt: input.queuedAt,
    });
    await this.em.flush();
    return toRun(run);
  }

  async updateRun(id: string, patch: Partial<Omit<SyncRunData, 'id' | 'pbxId'>>) {
    const run = await this.em.findOneOrFail(SyncRun, { id });
    const { counts, scopes, ...rest } = patch;
    this.em.assign(run, rest);
    if (counts !== undefined) run.counts = counts ? JSON.stringify(counts) : null;
    if (scopes !== undefined) run.scopes = scopes.join(',');
    await this.em.flush();
    return toRun(run);
  }

  async getRun(pbxId: string, id: string) {
    const run = await this.em.findOne(SyncRun, { id, pbx: pbxId });
    return run ? toRun(run) : null;
  }

  async pageRuns(pbxId: string, page: PageRequest): Promise<Page<SyncRunData>> {
    const where: Record<string, unknown> = { pbx: pbxId };
    if (page.after) {
      const [at, id] = decodeCursor('syncRun', page.after, ['number', 'string']);
      where.$or = [{ queuedAt: { $lt: new Date(at) } }, { queuedAt: new Date(at), id: { $lt: id } }];
    }
    const found = await this.em.find(SyncRun, where, {
      orderBy: { queuedAt: 'desc', id: 'desc' },
      limit: page.first + 1,
    });
    const totalCount = await this.em.count(SyncRun, { pbx: pbxId });
    const edges = found.slice(0, page.first).map((r) => ({
      cursor: encodeCursor('syncRun', [r.queuedAt.getTime(), r.id]),
      node: toRun(r),
    }));
    return {
      edges,
      endCursor: edges.at(-1)?.cursor ?? null,
      hasNextPage: found.length > page.first,
      totalCount,
    };
  }

  async unfinishedRuns(pbxId: string) {
    const runs = await this.em.find(
      SyncRun,
      { pbx: pbxId, status: { $in: ['QUEUED', 'RUNNING'] } },
      { orderBy: { queuedAt: 'asc' } },
    );
    return runs.map(toRun);
  }

  async addItems(runId: string, items: ReadonlyArray<Omit<SyncRunItemData, 'id' | 'runId'>>) {
    // 90,000 items on a first sync: bound values (see bound-insert.ts), 14 per row, 500 rows
    // per statement on PostgreSQL; each row's values made just before its statement.
    await insertRows(
      this.em,
      'sync_run_item',
      SYNC_RUN_ITEM_COLUMNS,
      {
        length: items.length,
        row: (n) => {
          const i = items[n];
          return syncRunItemValues(runId, i.seq, i.scope, i);
        },
      },
      { maxRowsPerStatement: BATCH },
    );
  }

  async pageItems(
    runId: string,
    filter: { action?: ItemAction | null },
    page: PageRequest,
  ): Promise<Page<SyncRunItemData>> {
    const base: Record<string, unknown> = { run: runId, ...(filter.action ? { action: filter.action } : {}) };
    const where: Record<string, unknown> = { ...base };
    if (page.after) {
      const [seq] = decodeCursor('syncRunItem', page.after, ['number']);
      where.seq = { $gt: seq };
    }
    const found = await this.em.find(SyncRunItem, where, { orderBy: { seq: 'asc' }, limit: page.first + 1 });
    const totalCount = await this.em.count(SyncRunItem, base);
    const edges = found
      .slice(0, page.first)
      .map((i) => ({ cursor: encodeCursor('syncRunItem', [i.seq]), node: toItem(i) }));
    return {
      edges,
      endCursor: edges.at(-1)?.cursor ?? null,
      hasNextPage: found.length > page.first,
      totalCount,
    };
  }

  async appliedDeletesSince(pbxId: string, since: Date) {
    const count = (scope: 'USER' | 'GROUP') =>
      this.em.count(SyncRunItem, {
        run: { pbx: pbxId, startedAt: { $gte: since } },
        scope,
        action: 'DELETE',
        state: 'APPLIED',
      });
    const [users, groups] = await Promise.all([count('USER'), count('GROUP')]);
    return { users, groups };
  }

  async itemCounts(runId: string) {
    const rows: Array<{ scope: string; action: string; state: string; n: number | string }> = await this.em
      .getConnection()
      .execute(
        'select scope, action, state, count(*) as n from sync_run_item where run_id = ? group by scope, action, state',
        [runId],
      );
    const empty = (): PlanSummary => ({
      create: 0,
      update: 0,
      associate: 0,
      delete: 0,
      release: 0,
      skip: 0,
      fail: 0,
      held: 0,
    });
    const out = { users: empty(), groups: empty() };
    for (const r of rows) {
      const c = r.scope === 'USER' ? out.users : r.scope === 'GROUP' ? out.groups : null;
      if (!c) continue; // CONTACT rows: the contact counts come from the contact sync's tallies
      const key = r.state === 'HELD' ? 'held' : (r.action.toLowerCase() as keyof PlanSummary);
      if (key in c) (c as unknown as Record<string, number>)[key] += Number(r.n);
    }
    return out;
  }

  async directoryFingerprint(pbxId: string) {
    const conn = this.em.getConnection();
    const part = async (table: string) => {
      const [row]: Array<{ n: number | string; m: unknown }> = await conn.execute(
        `select count(*) as n, max(updated_at) as m from ${table} where pbx_id = ?`,
        [pbxId],
      );
      const m = row?.m instanceof Date ? row.m.getTime() : row?.m;
      return `${Number(row?.n ?? 0)}@${String(m ?? '')}`;
    };
    // Issue 16: count and max(updated_at) read along the (pbx_id, updated_at) index.
    const [extensions, groups] = await Promise.all([part('extension'), part('extension_group')]);
    return `${extensions}|${groups}`;
  }

  async failedObjectIds(runId: string) {
    const rows: Array<{ scope: string; object_id: string }> = await this.em.getConnection().execute(
      // Two probes of the (run_id, action) index, not a walk over every item of the run (a
      // first sync's 100,000 CREATE rows; issue 16).
      "select scope, object_id from sync_run_item where run_id = ? and action = 'FAIL' union all select scope, object_id from sync_run_item where run_id = ? and action = 'SKIP' and reason = 'USER_SOFT_DELETED'",
      [runId, runId],
    );
    const users = rows.filter((r) => r.scope === 'USER').map((r) => r.object_id);
    const groups = rows.filter((r) => r.scope === 'GROUP').map((r) => r.object_id);
    return { users, groups };
  }

  async claimFailures(runId: string) {
    const rows: Array<{ object_id: string; reason: string }> = await this.em
      .getConnection()
      .execute(
        "select object_id, reason from sync_run_item where run_id = ? and action = 'FAIL' and scope = 'USER' and reason in ('DUPLICATE_EMAIL', 'INVALID_EXTENSION_NUMBER')",
        [runId],
      );
    return new Map(rows.map((r) => [r.object_id, r.reason]));
  }

  async freedClaims(runId: string) {
    // Along the (run_id, action) index; the UPDATE rows' field changes are JSON (changes column).
    const [row]: Array<{ n: number | string }> = await this.em.getConnection().execute(
      `select count(*) as n from sync_run_item where run_id = ? and action in ('DELETE', 'RELEASE', 'ASSOCIATE', 'UPDATE')
         and scope = 'USER' and state = 'APPLIED'
         and (action <> 'UPDATE' or changes like '%"field":"email"%' or changes like '%"field":"number"%')`,
      [runId],
    );
    return Number(row?.n ?? 0) > 0;
  }

  async copyFailRows(fromRunId: string, toRunId: string, objectIds: readonly string[], firstSeq: number) {
    // A fresh id per row in SQL: gen_random_uuid() on PostgreSQL, a version-4 UUID from
    // randomblob() on SQLite.
    const postgres = this.em.getPlatform() instanceof PostgreSqlPlatform;
    const id = postgres
      ? 'gen_random_uuid()::text'
      : "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))";
    const columns =
      'scope, action, reason, object_id, object_name, object_secondary, number, target_id, detail, changes, state';
    let copied = 0;
    // Issue 16: on PostgreSQL (65,535 parameters a statement) one statement for up to
    // COPY_CHUNK rows: each statement walks the last run's FAIL rows once.
    for (const batch of chunks([...objectIds], postgres ? COPY_CHUNK : BATCH)) {
      const result = await this.em.getConnection().execute(
        `insert into sync_run_item (id, run_id, seq, ${columns})
         select ${id}, ?, ? + row_number() over (order by seq) - 1, ${columns}
         from sync_run_item where run_id = ? and action = 'FAIL' and scope = 'USER'
         and object_id in (${batch.map(() => '?').join(', ')})`,
        [toRunId, firstSeq + copied, fromRunId, ...batch],
        'run',
      );
      copied += Number((result as { affectedRows?: number }).affectedRows ?? 0);
    }
    return copied;
  }

  async maxSeq(runId: string) {
    const [row]: Array<{ m: number | string | null }> = await this.em
      .getConnection()
      .execute('select max(seq) as m from sync_run_item where run_id = ?', [runId]);
    return row?.m === null || row?.m === undefined ? -1 : Number(row.m);
  }

  async itemsInState(runId: string, state: SyncRunItemData['state']) {
    return (await this.em.find(SyncRunItem, { run: runId, state }, { orderBy: { seq: 'asc' } })).map(toItem);
  }

  async setItemState(runId: string, ids: readonly string[], state: SyncRunItemData['state']) {
    for (const batch of chunks(ids))
      await this.em.nativeUpdate(SyncRunItem, { run: runId, id: { $in: batch } }, { state });
  }
}
