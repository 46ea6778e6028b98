import { type EntityManager, type FilterQuery, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/knex';
import { PostgreSqlPlatform } from '@mikro-orm/postgresql';
import { AppError } from '../app/errors.js';
import type {
  DirectoryKind,
  ExtensionFilter,
  ExtensionGroupWrite,
  ExtensionWrite,
  Page,
  PageRequest,
  PbxDirectoryRepository,
} from '../app/ports/store.port.js';
import { emailKey } from '../domain/extension-fields.js';
import { MAX_EXTENSION_NUMBER } from '../domain/extension-number.js';
import type { ExtensionGroupRecord, ExtensionKey, ExtensionRecord } from '../domain/extension-rules.js';
import type { SyncSource } from '../domain/pbx.types.js';
import type { Clock } from './clock.js';
import { deleteContactsWhere } from './contact.repository.js';
import { decodeCursor, encodeCursor, likeEscape, mapInSlices, rowsPerStatement } from './cursor.js';
import { Extension, ExtensionGroup, ExtensionGroupMember, Pbx } from './entities/index.js';
import { mobileE164, pbxCountry } from './mobile-key.js';
import { readRows } from './raw-read.js';

/** Rows per statement for IN lists and bulk inserts: well under SQLite's and PostgreSQL's parameter limits. */
const CHUNK = 500;

const chunks = <T>(items: readonly T[], size = CHUNK): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
};

const toDate = (v: unknown): Date => (v instanceof Date ? v : new Date(v as string | number));

const toExtension = (e: Extension): ExtensionRecord => ({
  id: e.id,
  pbxId: e.pbx.id,
  number: e.number,
  firstName: e.firstName,
  lastName: e.lastName,
  email: e.email,
  mobileNumber: e.mobileNumber,
  jobTitle: e.jobTitle,
  source: e.source,
  externalId: e.externalId,
  callerIdName: e.callerIdName,
  voicemailEnabled: e.voicemailEnabled,
  notes: e.notes,
  createdAt: e.createdAt,
  updatedAt: e.updatedAt,
});

const toGroup = (g: ExtensionGroup, memberIds: readonly string[]): ExtensionGroupRecord => ({
  id: g.id,
  pbxId: g.pbx.id,
  name: g.name,
  source: g.source,
  externalId: g.externalId,
  memberExtensionIds: [...memberIds].sort(),
  createdAt: g.createdAt,
  updatedAt: g.updatedAt,
});

const MAX_NUMBER = MAX_EXTENSION_NUMBER;

/** The number as an integer, for ordering (numbers are 1–7 digits). */
const numberSort = (number: string): number => {
  const n = Number.parseInt(number, 10);
  return Number.isFinite(n) ? n : 0;
};

/** Which unique index a violation hit: PostgreSQL names the constraint, SQLite the columns. */
function violatedIndex(err: UniqueConstraintViolationException): string {
  const constraint = (err as unknown as { constraint?: unknown }).constraint;
  if (typeof constraint === 'string') return constraint;
  return /UNIQUE constraint failed: (.*)$/m.exec(err.message)?.[1] ?? '';
}

/** Turns a unique-index violation into the error the caller can act on. */
function conflict(err: unknown): unknown {
  if (!(err instanceof UniqueConstraintViolationException)) return err;
  const index = violatedIndex(err);
  if (/email_key/.test(index))
    return new AppError('EMAIL_IN_USE', 'Another extension has this email', { field: 'email' });
  if (/external_id/.test(index))
    return AppError.invalidInput([{ field: 'externalId', message: 'is already used in this PBX' }]);
  if (/extension_group_pbx_name|extension_group\.name/.test(index))
    return new AppError('NAME_IN_USE', 'Another extension group has this name', { field: 'name' });
  if (/extension_pbx_number|extension\.number/.test(index))
    return new AppError('NUMBER_IN_USE', 'Another extension has this number', { field: 'number' });
  return err;
}

/**
 * The PBX directory on MikroORM. Whole-PBX reads (for the sync engine at 100,000
 * extensions) are single queries returning plain records, not managed entities; bulk
 * lifecycle writes are single statements; member sets are written as pivot rows in chunks.
 */
/** Extensions read per statement by listExtensions. */
const EXTENSION_PAGE = 2000;
/** A page of `listExtensionKeys`: each row is an ExtensionKey as it comes (the alias names its field). */
const EXTENSION_KEYS_FIRST_PAGE =
  'select "id", "source", "external_id" as "externalId" from "extension" where "pbx_id" = ? order by "id" limit ?';
const EXTENSION_KEYS_NEXT_PAGE =
  'select "id", "source", "external_id" as "externalId" from "extension" where "pbx_id" = ? and "id" > ? order by "id" limit ?';
const EXTENSION_COLUMNS = [
  'id',
  'number',
  'firstName',
  'lastName',
  'email',
  'mobileNumber',
  'jobTitle',
  'source',
  'externalId',
  'callerIdName',
  'voicemailEnabled',
  'notes',
  'createdAt',
  'updatedAt',
] as const;

function extensionRecord(pbxId: string, r: Record<string, unknown>): ExtensionRecord {
  return {
    id: r.id as string,
    pbxId,
    number: r.number as string,
    firstName: r.firstName as string,
    lastName: r.lastName as string,
    email: (r.email as string | null) ?? null,
    mobileNumber: (r.mobileNumber as string | null) ?? null,
    jobTitle: (r.jobTitle as string | null) ?? null,
    source: r.source as SyncSource,
    externalId: (r.externalId as string | null) ?? null,
    callerIdName: (r.callerIdName as string | null) ?? null,
    voicemailEnabled: Boolean(r.voicemailEnabled),
    notes: (r.notes as string | null) ?? null,
    createdAt: toDate(r.createdAt),
    updatedAt: toDate(r.updatedAt),
  };
}

export class MikroPbxDirectoryRepository implements PbxDirectoryRepository {
  private readonly em: SqlEntityManager;

  constructor(
    em: EntityManager,
    private readonly now: Clock,
  ) {
    this.em = em as SqlEntityManager;
  }

  private async write<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      // A failed flush leaves its entities queued; forget them so no later flush retries them.
      this.em.clear();
      throw conflict(err);
    }
  }

  async lockPbx(pbxId: string) {
    // PostgreSQL: a row lock on the PBX until the transaction ends (NO KEY UPDATE does not
    // block inserts of rows that reference the PBX). SQLite has one writer at a time anyway.
    if (this.em.getPlatform() instanceof PostgreSqlPlatform) {
      await this.em.execute('select id from pbx where id = ? for no key update', [pbxId]);
    }
  }

  async listExtensions(pbxId: string): Promise<ExtensionRecord[]> {
    // In pages along (numberSort, id), so that no single statement holds a synchronous
    // driver (better-sqlite3) for long at 100,000 extensions; one statement on PostgreSQL.
    const pageSize = rowsPerStatement(this.em, EXTENSION_PAGE);
    const records: ExtensionRecord[] = [];
    let last: { numberSort: number; id: string } | null = null;
    for (;;) {
      const qb = this.em
        .createQueryBuilder(Extension, 'x')
        .select([...EXTENSION_COLUMNS, 'numberSort'])
        .where({ pbx: pbxId });
      if (last) {
        const { numberSort, id } = last;
        qb.andWhere({ $or: [{ numberSort: { $gt: numberSort } }, { numberSort, id: { $gt: id } }] });
      }
      const rows: Array<Record<string, unknown>> = await qb
        .orderBy({ numberSort: 'asc', id: 'asc' })
        .limit(pageSize)
        .execute('all', true);
      await mapInSlices(rows, (r) => extensionRecord(pbxId, r), records);
      if (rows.length < pageSize) return records;
      const end = rows[rows.length - 1];
      last = { numberSort: end.numberSort as number, id: end.id as string };
    }
  }

  async listExtensionKeys(pbxId: string): Promise<ExtensionKey[]> {
    // In pages along id (see listExtensions), three columns, read without the ORM: each row
    // as the driver makes it is the key (issue 16 item 3: the query builder's raw and mapped
    // rows were two more objects per extension, 90,000 on a first sync, each page kept across
    // the statements' turns of the event loop long enough to reach the old generation).
    const pageSize = rowsPerStatement(this.em, EXTENSION_PAGE);
    const keys: ExtensionKey[] = [];
    let last: string | null = null;
    for (;;) {
      const rows = (await readRows(
        this.em,
        last === null ? EXTENSION_KEYS_FIRST_PAGE : EXTENSION_KEYS_NEXT_PAGE,
        last === null ? [pbxId, pageSize] : [pbxId, last, pageSize],
        { prepared: true },
      )) as unknown as ExtensionKey[];
      for (const row of rows) keys.push(row);
      if (rows.length < pageSize) return keys;
      last = rows[rows.length - 1].id;
    }
  }

  async listExtensionGroups(pbxId: string): Promise<ExtensionGroupRecord[]> {
    const rows: Array<Record<string, unknown>> = await this.em
      .createQueryBuilder(ExtensionGroup, 'g')
      .select([
        'g.id',
        'g.name',
        'g.source',
        'g.external_id',
        'g.created_at',
        'g.updated_at',
        'm.extension_id',
      ])
      .leftJoin('g.members', 'm')
      .where({ pbx: pbxId })
      .orderBy({ id: 'asc' })
      .execute('all', false);
    const byId = new Map<string, { row: Record<string, unknown>; members: string[] }>();
    for (const row of rows) {
      const id = row.id as string;
      let entry = byId.get(id);
      if (!entry) {
        entry = { row, members: [] };
        byId.set(id, entry);
      }
      if (row.extension_id != null) entry.members.push(row.extension_id as string);
    }
    const groups = [...byId.values()].map(
      ({ row, members }): ExtensionGroupRecord => ({
        id: row.id as string,
        pbxId,
        name: row.name as string,
        source: row.source as SyncSource,
        externalId: (row.external_id as string | null) ?? null,
        memberExtensionIds: members.sort(),
        createdAt: toDate(row.created_at),
        updatedAt: toDate(row.updated_at),
      }),
    );
    return groups.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : 1));
  }

  async listExtensionGroupsFor(
    pbxId: string,
    withMembers: (group: ExtensionGroupRecord) => boolean,
  ): Promise<ExtensionGroupRecord[]> {
    const rows: Array<Record<string, unknown>> = await this.em
      .createQueryBuilder(ExtensionGroup, 'g')
      .select(['id', 'name', 'source', 'externalId', 'createdAt', 'updatedAt'])
      .where({ pbx: pbxId })
      .execute('all', true);
    const groups = rows.map(
      (row): ExtensionGroupRecord => ({
        id: row.id as string,
        pbxId,
        name: row.name as string,
        source: row.source as SyncSource,
        externalId: (row.externalId as string | null) ?? null,
        memberExtensionIds: [],
        createdAt: toDate(row.createdAt),
        updatedAt: toDate(row.updatedAt),
      }),
    );
    const members = new Map(groups.filter(withMembers).map((g) => [g.id, [] as string[]]));
    for (const batch of chunks([...members.keys()])) {
      const rows: Array<{ group_id: string; extension_id: string }> = await this.em
        .getConnection()
        .execute(
          `select group_id, extension_id from extension_group_member where group_id in (${batch.map(() => '?').join(',')})`,
          batch,
        );
      for (const m of rows) members.get(m.group_id)?.push(m.extension_id);
    }
    return groups
      .map((g) => ({ ...g, memberExtensionIds: (members.get(g.id) ?? []).sort() }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : 1));
  }

  async pageExtensions(
    pbxId: string,
    filter: ExtensionFilter,
    page: PageRequest,
  ): Promise<Page<ExtensionRecord>> {
    const filtered = () => {
      const qb = this.em.createQueryBuilder(Extension, 'x').where({ pbx: pbxId });
      if (filter.source) qb.andWhere({ source: filter.source });
      if (filter.number) qb.andWhere(`x.number like ? escape '\\'`, [`${likeEscape(filter.number)}%`]);
      if (filter.email)
        qb.andWhere(`x.email_key like ? escape '\\'`, [`%${likeEscape(filter.email.toLowerCase())}%`]);
      if (filter.name) {
        qb.andWhere(`lower(x.first_name || ' ' || x.last_name) like ? escape '\\'`, [
          `%${likeEscape(filter.name.toLowerCase())}%`,
        ]);
      }
      return qb;
    };
    const qb = filtered();
    if (page.after) {
      const [sort, id] = decodeCursor('extension', page.after, ['number', 'string']);
      qb.andWhere({ $or: [{ numberSort: { $gt: sort } }, { numberSort: sort, id: { $gt: id } }] });
    }
    const found = await qb
      .orderBy({ numberSort: 'asc', id: 'asc' })
      .limit(page.first + 1)
      .getResultList();
    const totalCount = await filtered().getCount();
    const items = found.slice(0, page.first);
    const edges = items.map((e) => ({
      cursor: encodeCursor('extension', [e.numberSort, e.id]),
      node: toExtension(e),
    }));
    return {
      edges,
      endCursor: edges.at(-1)?.cursor ?? null,
      hasNextPage: found.length > page.first,
      totalCount,
    };
  }

  async pageExtensionGroups(pbxId: string, page: PageRequest): Promise<Page<ExtensionGroupRecord>> {
    const where: FilterQuery<ExtensionGroup> = { pbx: pbxId };
    if (page.after) {
      const [name, id] = decodeCursor('extensionGroup', page.after, ['string', 'string']);
      where.$or = [{ name: { $gt: name } }, { name, id: { $gt: id } }];
    }
    const found = await this.em.find(ExtensionGroup, where, {
      orderBy: { name: 'asc', id: 'asc' },
      limit: page.first + 1,
    });
    const totalCount = await this.em.count(ExtensionGroup, { pbx: pbxId });
    const items = found.slice(0, page.first);
    const members = await this.memberIdsOf(items.map((g) => g.id));
    const edges = items.map((g) => ({
      cursor: encodeCursor('extensionGroup', [g.name, g.id]),
      node: toGroup(g, members.get(g.id) ?? []),
    }));
    return {
      edges,
      endCursor: edges.at(-1)?.cursor ?? null,
      hasNextPage: found.length > page.first,
      totalCount,
    };
  }

  /** Member ids of the given groups, one query per chunk of groups. */
  private async memberIdsOf(groupIds: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>(groupIds.map((id) => [id, []]));
    for (const part of chunks(groupIds)) {
      const rows: Array<Record<string, unknown>> = await this.em
        .createQueryBuilder(ExtensionGroupMember, 'm')
        .select(['m.group_id', 'm.extension_id'])
        .where({ group: { $in: part } })
        .execute('all', false);
      for (const r of rows) out.get(r.group_id as string)?.push(r.extension_id as string);
    }
    return out;
  }

  async findExtension(pbxId: string, id: string) {
    const e = await this.em.findOne(Extension, { id, pbx: pbxId });
    return e ? toExtension(e) : null;
  }

  async findExtensionByNumber(pbxId: string, number: string) {
    const e = await this.em.findOne(Extension, { number, pbx: pbxId });
    return e ? toExtension(e) : null;
  }

  async findSyncedExtensionByExternalId(pbxId: string, externalId: string) {
    // extension_pbx_external_id_unique (pbx, external_id): one index probe.
    const e = await this.em.findOne(Extension, { pbx: pbxId, externalId, source: 'SYNCED' });
    return e ? toExtension(e) : null;
  }

  async findExtensionByEmail(pbxId: string, email: string) {
    const key = emailKey(email);
    if (key === null) return null;
    const e = await this.em.findOne(Extension, { emailKey: key, pbx: pbxId });
    return e ? toExtension(e) : null;
  }

  async existingExtensionIds(pbxId: string, ids: readonly string[]) {
    const found = new Set<string>();
    for (const part of chunks([...new Set(ids)])) {
      const rows: Array<{ id: string }> = await this.em
        .createQueryBuilder(Extension, 'x')
        .select(['id'])
        .where({ pbx: pbxId, id: { $in: part } })
        .execute('all', true);
      for (const r of rows) found.add(r.id);
    }
    return found;
  }

  countExtensions(pbxId: string) {
    return this.em.count(Extension, { pbx: pbxId });
  }

  async extensionCounts(pbxId: string) {
    const [total, synced] = await Promise.all([
      this.em.count(Extension, { pbx: pbxId }),
      this.em.count(Extension, { pbx: pbxId, source: 'SYNCED' }),
    ]);
    return { total, synced };
  }

  async findExtensionsByKeys(
    pbxId: string,
    keys: { externalIds?: readonly string[]; emailKeys?: readonly string[]; numbers?: readonly string[] },
  ): Promise<ExtensionRecord[]> {
    // Each column has a unique index with the PBX: one indexed probe per key, CHUNK keys a statement.
    const byId = new Map<string, ExtensionRecord>();
    const lookups: Array<[string, readonly string[] | undefined]> = [
      ['externalId', keys.externalIds],
      ['emailKey', keys.emailKeys],
      ['number', keys.numbers],
    ];
    for (const [column, values] of lookups) {
      for (const batch of chunks([...new Set(values ?? [])])) {
        const rows: Array<Record<string, unknown>> = await this.em
          .createQueryBuilder(Extension, 'x')
          .select([...EXTENSION_COLUMNS])
          .where({ pbx: pbxId, [column]: { $in: batch } })
          .execute('all', true);
        for (const r of rows) byId.set(r.id as string, extensionRecord(pbxId, r));
      }
    }
    return [...byId.values()].sort(
      (a, b) => numberSort(a.number) - numberSort(b.number) || (a.id < b.id ? -1 : 1),
    );
  }

  async freeExtensionNumbers(pbxId: string, start: string, count: number): Promise<string[]> {
    if (count <= 0) return [];
    const from = Number.parseInt(start, 10);
    // The gaps above `from`, in number order, along the (pbx, numberSort) index: each used
    // number with the next used one; a gap follows it when they are not neighbours. The scan
    // stops at the `count`-th gap (each gap holds at least one free number).
    const conn = this.em.getConnection();
    // The used numbers from `from` on: how many, the lowest and the highest, along the index.
    const [first]: Array<{ c: number | string; n: number | string | null; m: number | string | null }> =
      await conn.execute(
        'select count(*) as c, min(number_sort) as n, max(number_sort) as m from extension where pbx_id = ? and number_sort >= ?',
        [pbxId, from],
      );
    const free: string[] = [];
    const take = (lo: number, hi: number) => {
      for (let n = lo; n <= Math.min(hi, MAX_NUMBER) && free.length < count; n++) free.push(String(n));
    };
    const lowest = first?.n === null || first?.n === undefined ? null : Number(first.n);
    if (lowest === null || lowest > from) take(from, lowest === null ? MAX_NUMBER : lowest - 1);
    if (lowest === null || free.length >= count) return free;
    // Issue 16: numbers given by AUTO numbering are usually one unbroken run (100,000 of them
    // in a 100,000-user directory); then every free number is above the highest, and the
    // window below, which walks every used number to find the gaps, is not needed. (Numbers
    // have no leading zero, so number_sort is unique per PBX as the number is.)
    const highest = Number(first.m);
    if (Number(first.c) === highest - lowest + 1) {
      take(highest + 1, MAX_NUMBER);
      return free;
    }
    const gaps: Array<{ n: number | string; nxt: number | string | null }> = await conn.execute(
      `select n, nxt from (
         select number_sort as n, lead(number_sort) over (order by number_sort) as nxt
         from extension where pbx_id = ? and number_sort >= ?
       ) t where nxt is null or nxt > n + 1 order by n limit ?`,
      [pbxId, from, count],
    );
    for (const gap of gaps) {
      if (free.length >= count) break;
      take(Number(gap.n) + 1, gap.nxt === null ? MAX_NUMBER : Number(gap.nxt) - 1);
    }
    return free;
  }

  async createExtension(pbxId: string, data: ExtensionWrite) {
    return this.write(async () => {
      const defined = Object.fromEntries(
        Object.entries(data).filter(([, v]) => v !== undefined),
      ) as ExtensionWrite;
      const e = this.em.create(Extension, {
        ...defined,
        pbx: this.em.getReference(Pbx, pbxId),
        numberSort: numberSort(data.number),
        emailKey: emailKey(data.email),
        mobileE164: mobileE164(data.mobileNumber, await pbxCountry(this.em, pbxId)),
        createdAt: this.now(),
        updatedAt: this.now(),
      });
      await this.em.flush();
      return toExtension(e);
    });
  }

  async updateExtension(pbxId: string, id: string, patch: Partial<ExtensionWrite>) {
    return this.write(async () => {
      const e = await this.em.findOne(Extension, { id, pbx: pbxId });
      if (!e) return null;
      const defined = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
      this.em.assign(e, defined);
      if (patch.number !== undefined) e.numberSort = numberSort(patch.number);
      if (patch.email !== undefined) e.emailKey = emailKey(patch.email);
      if (patch.mobileNumber !== undefined)
        e.mobileE164 = mobileE164(patch.mobileNumber, await pbxCountry(this.em, pbxId));
      await this.em.flush();
      return toExtension(e);
    });
  }

  async deleteExtension(pbxId: string, id: string) {
    // Its personal contacts (C1) first, in bounded statements; memberships, phonebook grants
    // and its Linkus keys' binding go with it (foreign keys).
    await deleteContactsWhere(
      this.em,
      'c.extension_id in (select id from extension where id = ? and pbx_id = ?)',
      [id, pbxId],
    );
    return (await this.em.nativeDelete(Extension, { id, pbx: pbxId })) > 0;
  }

  async findExtensionGroup(pbxId: string, id: string) {
    const g = await this.em.findOne(ExtensionGroup, { id, pbx: pbxId });
    if (!g) return null;
    return toGroup(g, (await this.memberIdsOf([g.id])).get(g.id) ?? []);
  }

  async findExtensionGroupByName(pbxId: string, name: string) {
    const g = await this.em.findOne(ExtensionGroup, { name, pbx: pbxId });
    if (!g) return null;
    return toGroup(g, (await this.memberIdsOf([g.id])).get(g.id) ?? []);
  }

  countExtensionGroups(pbxId: string) {
    return this.em.count(ExtensionGroup, { pbx: pbxId });
  }

  async createExtensionGroup(pbxId: string, data: ExtensionGroupWrite) {
    return this.write(async () => {
      const { memberIds = [], ...fields } = data;
      const now = this.now();
      const g = this.em.create(ExtensionGroup, {
        ...fields,
        pbx: this.em.getReference(Pbx, pbxId),
        createdAt: now,
        updatedAt: now,
      });
      await this.em.flush();
      const members = [...new Set(memberIds)];
      await this.insertMembers(g.id, members);
      return toGroup(g, members);
    });
  }

  async updateExtensionGroup(pbxId: string, id: string, patch: Partial<ExtensionGroupWrite>) {
    return this.write(async () => {
      const g = await this.em.findOne(ExtensionGroup, { id, pbx: pbxId });
      if (!g) return null;
      const { memberIds, ...fields } = patch;
      const defined = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
      this.em.assign(g, defined);
      // A change of members alone still marks the group as changed.
      if (memberIds !== undefined) g.updatedAt = this.now();
      await this.em.flush();
      const current = (await this.memberIdsOf([g.id])).get(g.id) ?? [];
      if (memberIds === undefined) return toGroup(g, current);
      const next = new Set(memberIds);
      const now = new Set(current);
      const removed = current.filter((m) => !next.has(m));
      const added = [...next].filter((m) => !now.has(m));
      for (const part of chunks(removed)) {
        await this.em.nativeDelete(ExtensionGroupMember, { group: g.id, extension: { $in: part } });
      }
      await this.insertMembers(g.id, added);
      return toGroup(g, [...next]);
    });
  }

  private async insertMembers(groupId: string, extensionIds: readonly string[]) {
    for (const part of chunks(extensionIds)) {
      await this.em.insertMany(
        ExtensionGroupMember,
        part.map((extension) => ({ group: groupId, extension })),
      );
    }
  }

  async deleteExtensionGroup(pbxId: string, id: string) {
    return (await this.em.nativeDelete(ExtensionGroup, { id, pbx: pbxId })) > 0;
  }

  async deleteSynced(pbxId: string, kind: DirectoryKind) {
    const entity = kind === 'EXTENSIONS' ? Extension : ExtensionGroup;
    if (kind === 'EXTENSIONS') {
      await deleteContactsWhere(
        this.em,
        `c.extension_id in (select id from extension where pbx_id = ? and source = 'SYNCED')`,
        [pbxId],
      );
    }
    return this.em.nativeDelete(entity, { pbx: pbxId, source: 'SYNCED' });
  }

  async releaseSynced(pbxId: string, kind: DirectoryKind) {
    if (kind === 'GROUPS') {
      // A released group keeps its directory group's id (it is PBX-managed now: source
      // MANUAL), so that a later sync takes it over again instead of failing on its name.
      return this.em.nativeUpdate(
        ExtensionGroup,
        { pbx: pbxId, source: 'SYNCED' },
        { source: 'MANUAL', updatedAt: this.now() },
      );
    }
    return this.em.nativeUpdate(
      Extension,
      { pbx: pbxId, source: 'SYNCED' },
      { source: 'MANUAL', externalId: null, updatedAt: this.now() },
    );
  }
}
