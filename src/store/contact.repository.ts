import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/knex';
import { PostgreSqlPlatform } from '@mikro-orm/postgresql';
import { v7 as uuidv7 } from 'uuid';
import { AppError } from '../app/errors.js';
import type {
  CallerNumberKeys,
  ContactLookupRepository,
  ContactMatch,
  ContactScope,
  ContactSearchSpec,
  SearchPage,
} from '../app/ports/contact-lookup.port.js';
import type { ContactRepository } from '../app/ports/contacts.port.js';
import type { PageRequest } from '../app/ports/store.port.js';
import type {
  ContactNumber,
  ContactOwner,
  ContactRecord,
  ContactSource,
  PhonebookRecord,
  PhonebookVisibility,
  SyncedContactInput,
} from '../domain/contact.types.js';
import {
  type ContactSourceKind,
  ContactTermKind,
  contactTerms,
  SearchRank,
  SOURCE_ORDER,
} from '../domain/contact-search.js';
import { numberKey } from '../domain/phone-number.js';
import { insertBound, insertRows } from './bound-insert.js';
import type { Clock } from './clock.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { type PreparedReads, type Row, readRows } from './raw-read.js';

/** Contacts per statement (insert: 18 values a row; `in` lists): under SQLite's and PostgreSQL's parameter limits. */
const BATCH = 500;
/** Contacts deleted per statement when an owner or a PBX goes (their keys go first, in the same steps). */
const DELETE_BATCH = 1000;
/** The end of a prefix range: above every character a term can hold. */
const RANGE_END = '\u{10FFFF}';

/** The `contact` table's columns, in the order the bulk writes (and the bench's seed) give them. */
export const CONTACT_COLUMNS = [
  'id',
  'pbx_id',
  'extension_id',
  'phonebook_id',
  'first_name',
  'last_name',
  'display_name',
  'company',
  'job_title',
  'emails',
  'numbers',
  'source_mailbox_id',
  'source_folder_id',
  'source_contact_id',
  'change_key',
  'synced',
  'created_at',
  'updated_at',
] as const;
const KEY_COLUMNS = ['contact_id', 'kind', 'term', 'owner_id'] as const;

/** A synced contact's `contact` row, its values in CONTACT_COLUMNS order. */
export function contactRow(
  id: string,
  pbxId: string,
  owner: ContactOwner,
  c: SyncedContactInput,
  now: Date,
): Array<string | boolean | Date | null> {
  return [
    id,
    pbxId,
    owner.kind === 'EXTENSION' ? owner.extensionId : null,
    owner.kind === 'PHONEBOOK' ? owner.phonebookId : null,
    c.firstName,
    c.lastName,
    c.displayName,
    c.company,
    c.jobTitle,
    JSON.stringify(c.emails),
    JSON.stringify(c.numbers),
    c.source.mailboxId,
    c.source.folderId,
    c.source.contactId,
    c.source.changeKey,
    true,
    now,
    now,
  ];
}

const chunks = <T>(items: readonly T[], size = BATCH): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
};
const toDate = (v: unknown): Date => (v instanceof Date ? v : new Date(v as string | number));
const ownerColumn = (o: ContactOwner) => (o.kind === 'EXTENSION' ? 'extension_id' : 'phonebook_id');
const ownerId = (o: ContactOwner) => (o.kind === 'EXTENSION' ? o.extensionId : o.phonebookId);
const marks = (n: number) => Array.from({ length: n }, () => '?').join(', ');
const parseJson = <T>(v: unknown, fallback: T): T => {
  try {
    return typeof v === 'string' ? (JSON.parse(v) as T) : fallback;
  } catch {
    return fallback;
  }
};

function contactRecord(r: Row): ContactRecord {
  const source: ContactSource | null =
    r.source_contact_id != null
      ? {
          mailboxId: r.source_mailbox_id as string,
          folderId: r.source_folder_id as string,
          contactId: r.source_contact_id as string,
          changeKey: (r.change_key as string | null) ?? null,
        }
      : null;
  return {
    id: r.id as string,
    pbxId: r.pbx_id as string,
    owner:
      r.extension_id != null
        ? { kind: 'EXTENSION', extensionId: r.extension_id as string }
        : { kind: 'PHONEBOOK', phonebookId: r.phonebook_id as string },
    firstName: (r.first_name as string | null) ?? null,
    lastName: (r.last_name as string | null) ?? null,
    displayName: r.display_name as string,
    company: (r.company as string | null) ?? null,
    jobTitle: (r.job_title as string | null) ?? null,
    emails: parseJson<string[]>(r.emails, []),
    numbers: parseJson<ContactNumber[]>(r.numbers, []),
    source,
    synced: Boolean(r.synced),
    updatedAt: toDate(r.updated_at),
  };
}

/**
 * Deletes contacts (keys first) chosen by `where` over `contact c`, DELETE_BATCH at a time, so
 * that no statement holds the database for long at 1,000,000 contacts. `where` is a constant
 * of the store, never input; its values are bound. Returns how many contacts went.
 */
export async function deleteContactsWhere(
  em: EntityManager,
  where: string,
  params: unknown[],
): Promise<number> {
  const sqlEm = em as SqlEntityManager;
  let total = 0;
  for (;;) {
    const ids = (
      (await sqlEm.execute(
        `select c.id from contact c where ${where} limit ${DELETE_BATCH}`,
        params,
        'all',
      )) as Row[]
    ).map((r) => r.id as string);
    if (ids.length === 0) return total;
    for (const part of chunks(ids)) {
      await sqlEm.execute(`delete from contact_key where contact_id in (${marks(part.length)})`, part, 'run');
      await sqlEm.execute(`delete from contact where id in (${marks(part.length)})`, part, 'run');
    }
    total += ids.length;
    if (ids.length < DELETE_BATCH) return total;
  }
}

/**
 * The caller-ID statement (lookupNumber) for its database, reader (LINKUS: an extension's
 * own contacts and phonebooks; else every phonebook) and extension column: a dozen texts in all,
 * each made once, so that a lookup hands the statement caches the same string every time
 * (issue 13). Its values, in order: the PBX (its country); the PBX and the number (the
 * extension's part, when `extension`); the term kind and key; the reader's.
 */
function lookupStatement(postgres: boolean, linkus: boolean, extension: 'x.number' | 'x.mobile_e164' | null) {
  const key = `${postgres}:${linkus}:${extension}`;
  let sql = lookupStatements.get(key);
  if (sql) return sql;
  // The owners the reader sees, as a subquery: one index probe of contact_key per owner. A
  // LINKUS reader whose extension is gone sees nothing: that is checked once (a subquery of no
  // phonebook's column, not once per phonebook of the PBX: a tenth of the statement on SQLite).
  const owners = linkus
    ? `select x.id from extension x where x.id = ? and x.pbx_id = ?
               union all select b.id from phonebook b where b.pbx_id = ? and exists (select 1 from extension x where x.id = ? and x.pbx_id = ?) and (b.all_extensions = ?
               or exists (select 1 from phonebook_extension pe where pe.phonebook_id = b.id and pe.extension_id = ?)
               or exists (select 1 from phonebook_extension_group pg join extension_group_member m on m.group_id = pg.group_id
                          where pg.phonebook_id = b.id and m.extension_id = ?))`
    : 'select b.id from phonebook b where b.pbx_id = ?';
  // One statement: the PBX's extension of that number (an extension number), and the contacts in scope.
  // On PostgreSQL the owners are made once into an array (an init plan) that one scan of
  // contact_key_owner_term_index probes, and the phonebook's name is read for a match only:
  // a tenth less of the server's CPU than `in (…)` and a join, whose generic plan hashed the
  // owners and every phonebook of the PBX on each lookup (issue 13).
  const inScope = postgres ? `k.owner_id = any (array(${owners}))` : `k.owner_id in (${owners})`;
  const parts = [
    // And the PBX's country now, which the keys were made under: the caller checks it.
    `select p.default_country as id, null as display_name, null as company, null as numbers, null as phonebook_id, null as phonebook_name, null as extension_number, 'P' as src
         from pbx p where p.id = ?`,
  ];
  if (extension) {
    parts.push(
      `select x.id, trim(x.first_name || ' ' || x.last_name) as display_name, null as company, x.mobile_number as numbers, null as phonebook_id, null as phonebook_name, x.number as extension_number, 'X' as src
           from extension x where x.pbx_id = ? and ${extension} = ?`,
    );
  }
  parts.push(
    `select c.id, c.display_name, c.company, c.numbers, c.phonebook_id, (select p.name from phonebook p where p.id = c.phonebook_id) as phonebook_name, cast(null as varchar(7)) as extension_number, 'C' as src
         from contact_key k join contact c on c.id = k.contact_id
        where k.kind = ? and k.term = ? and ${inScope}`,
  );
  sql = parts.join(' union all ');
  lookupStatements.set(key, sql);
  return sql;
}
const lookupStatements = new Map<string, string>();

/**
 * The contacts and phonebooks of a PBX on MikroORM (C1–C4) and the reads of the Linkus
 * lookups. Writes are set-based and bounded (BATCH rows per statement, bound values); reads
 * are index ranges of `contact_key` (see the entity) with limits.
 */
export class MikroContactRepository implements ContactRepository, ContactLookupRepository {
  private readonly unitOfWork: () => EntityManager;

  /**
   * `em`: the unit of work, or how to make it on first use; `prepared`: how its prepared reads
   * run without it when it works outside any transaction (see PreparedReads).
   */
  constructor(
    em: EntityManager | (() => EntityManager),
    private readonly now: Clock,
    private readonly prepared: PreparedReads | null = null,
  ) {
    this.unitOfWork = typeof em === 'function' ? em : () => em;
  }

  private get em(): SqlEntityManager {
    return this.unitOfWork() as SqlEntityManager;
  }

  private get postgres(): boolean {
    return this.prepared ? this.prepared.postgres : this.em.getPlatform() instanceof PostgreSqlPlatform;
  }

  /** A statement with bound values, in the unit of work's transaction when there is one. */
  private rows(sql: string, params: readonly unknown[] = [], opts: { prepared?: boolean } = {}) {
    if (opts.prepared && this.prepared) return this.prepared.read(sql, params);
    return readRows(this.em, sql, params, opts);
  }

  private async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    const res = await this.em.execute(sql, params as unknown[], 'run');
    return Number((res as { affectedRows?: number }).affectedRows ?? 0);
  }

  /**
   * Whether the owner belongs to the PBX. Contact statements then select by owner alone, so
   * that the owner's index (not the PBX's, of 1,000,000 rows) is the one used.
   */
  private async ownerInPbx(pbxId: string, owner: ContactOwner): Promise<boolean> {
    const table = owner.kind === 'EXTENSION' ? 'extension' : 'phonebook';
    return (
      (await this.rows(`select 1 from ${table} where id = ? and pbx_id = ?`, [ownerId(owner), pbxId]))
        .length > 0
    );
  }

  // ---- the contact sync's side -------------------------------------------------------------

  async syncedKeys(
    pbxId: string,
    owner: ContactOwner,
    folder: Pick<ContactSource, 'mailboxId' | 'folderId'>,
  ): Promise<Map<string, { id: string; changeKey: string | null }>> {
    const out = new Map<string, { id: string; changeKey: string | null }>();
    if (!(await this.ownerInPbx(pbxId, owner))) return out;
    const rows = await this.rows(
      `select id, source_contact_id, change_key from contact where ${ownerColumn(owner)} = ? and source_mailbox_id = ? and source_folder_id = ? and synced = ?`,
      [ownerId(owner), folder.mailboxId, folder.folderId, true],
    );
    for (const r of rows) {
      out.set(r.source_contact_id as string, {
        id: r.id as string,
        changeKey: (r.change_key as string | null) ?? null,
      });
    }
    return out;
  }

  async upsertSynced(
    pbxId: string,
    owner: ContactOwner,
    contacts: readonly SyncedContactInput[],
  ): Promise<number> {
    const now = this.now();
    const col = ownerColumn(owner);
    const oid = ownerId(owner);
    if (contacts.length === 0) return 0;
    if (!(await this.ownerInPbx(pbxId, owner))) {
      throw new AppError(
        'NOT_FOUND',
        `No ${owner.kind === 'EXTENSION' ? 'extension' : 'phonebook'} with id ${oid}`,
      );
    }
    let written = 0;
    for (const batch of chunks(contacts)) {
      const existing = new Map<string, string>();
      const rows = await this.rows(
        `select id, source_mailbox_id, source_folder_id, source_contact_id from contact where ${col} = ? and source_contact_id in (${marks(batch.length)})`,
        [oid, ...batch.map((c) => c.source.contactId)],
      );
      const sourceKey = (m: unknown, f: unknown, c: unknown) => JSON.stringify([m, f, c]);
      for (const r of rows) {
        existing.set(sourceKey(r.source_mailbox_id, r.source_folder_id, r.source_contact_id), r.id as string);
      }
      const inserts: Array<Array<string | number | boolean | Date | null>> = [];
      const keyed: Array<{ id: string; c: SyncedContactInput }> = [];
      const updated: string[] = [];
      for (const c of batch) {
        const known = existing.get(sourceKey(c.source.mailboxId, c.source.folderId, c.source.contactId));
        if (known) {
          await this.run(
            `update contact set first_name = ?, last_name = ?, display_name = ?, company = ?, job_title = ?, emails = ?, numbers = ?, change_key = ?, synced = ?, updated_at = ? where id = ?`,
            [
              c.firstName,
              c.lastName,
              c.displayName,
              c.company,
              c.jobTitle,
              JSON.stringify(c.emails),
              JSON.stringify(c.numbers),
              c.source.changeKey,
              true,
              now,
              known,
            ],
          );
          updated.push(known);
          keyed.push({ id: known, c });
        } else {
          // UUIDv7 (time first, monotonic): new rows append to the primary keys of contact and
          // contact_key instead of landing on random pages of trees of millions.
          const id = uuidv7();
          inserts.push(contactRow(id, pbxId, owner, c, now));
          keyed.push({ id, c });
        }
      }
      if (updated.length) {
        await this.run(`delete from contact_key where contact_id in (${marks(updated.length)})`, updated);
      }
      await insertRows(this.em, 'contact', CONTACT_COLUMNS, inserts, { maxRowsPerStatement: BATCH });
      await this.insertKeys(oid, keyed);
      written += batch.length;
    }
    return written;
  }

  /** The search keys of contacts (contactTerms), in bounded inserts. */
  private async insertKeys(owner: string, contacts: ReadonlyArray<{ id: string; c: SyncedContactInput }>) {
    const rows: Array<[string, number, string, string]> = [];
    for (const { id, c } of contacts) for (const t of contactTerms(c)) rows.push([id, t.kind, t.term, owner]);
    await insertRows(this.em, 'contact_key', KEY_COLUMNS, rows, { maxRowsPerStatement: 2 * BATCH });
  }

  async deleteSynced(
    pbxId: string,
    owner: ContactOwner,
    folder: Pick<ContactSource, 'mailboxId' | 'folderId'>,
    contactIds: readonly string[],
  ): Promise<number> {
    let total = 0;
    if (!(await this.ownerInPbx(pbxId, owner))) return 0;
    for (const part of chunks([...new Set(contactIds)])) {
      total += await deleteContactsWhere(
        this.em,
        `c.${ownerColumn(owner)} = ? and c.source_mailbox_id = ? and c.source_folder_id = ? and c.synced = ? and c.source_contact_id in (${marks(part.length)})`,
        [ownerId(owner), folder.mailboxId, folder.folderId, true, ...part],
      );
    }
    return total;
  }

  async deleteSyncedExcept(
    pbxId: string,
    owner: ContactOwner,
    keepFolderIds: readonly string[],
  ): Promise<number> {
    const keep = [...new Set(keepFolderIds)];
    if (!(await this.ownerInPbx(pbxId, owner))) return 0;
    if (keep.length > BATCH) {
      // More folders than one `in` list holds: delete folder by folder what is not kept.
      const folders = await this.rows(
        `select distinct source_folder_id from contact where ${ownerColumn(owner)} = ? and synced = ?`,
        [ownerId(owner), true],
      );
      const kept = new Set(keep);
      let total = 0;
      for (const f of folders) {
        if (kept.has(f.source_folder_id as string)) continue;
        total += await deleteContactsWhere(
          this.em,
          `c.${ownerColumn(owner)} = ? and c.synced = ? and c.source_folder_id = ?`,
          [ownerId(owner), true, f.source_folder_id],
        );
      }
      return total;
    }
    return deleteContactsWhere(
      this.em,
      `c.${ownerColumn(owner)} = ? and c.synced = ?${keep.length ? ` and c.source_folder_id not in (${marks(keep.length)})` : ''}`,
      [ownerId(owner), true, ...keep],
    );
  }

  async ensureSyncedPhonebook(pbxId: string, mailboxId: string, name: string): Promise<PhonebookRecord> {
    const found = await this.rows('select id, name from phonebook where pbx_id = ? and mailbox_id = ?', [
      pbxId,
      mailboxId,
    ]);
    const now = this.now();
    if (found.length === 0) {
      const id = randomUUID();
      await insertBound(
        this.em,
        'phonebook',
        ['id', 'pbx_id', 'name', 'mailbox_id', 'synced', 'all_extensions', 'created_at', 'updated_at'],
        [[id, pbxId, name, mailboxId, true, false, now, now]],
      );
      return (await this.findPhonebook(pbxId, id)) as PhonebookRecord;
    }
    const id = found[0].id as string;
    if (found[0].name !== name) {
      await this.run('update phonebook set name = ?, updated_at = ? where id = ?', [name, now, id]);
    }
    return (await this.findPhonebook(pbxId, id)) as PhonebookRecord;
  }

  async listPhonebooks(pbxId: string): Promise<PhonebookRecord[]> {
    const rows = await this.rows('select * from phonebook where pbx_id = ? order by name, id', [pbxId]);
    return this.withVisibility(rows);
  }

  async findPhonebook(pbxId: string, id: string): Promise<PhonebookRecord | null> {
    const rows = await this.rows('select * from phonebook where pbx_id = ? and id = ?', [pbxId, id]);
    return (await this.withVisibility(rows))[0] ?? null;
  }

  private async withVisibility(rows: Row[]): Promise<PhonebookRecord[]> {
    const ids = rows.map((r) => r.id as string);
    const extensions = new Map<string, string[]>(ids.map((id) => [id, []]));
    const groups = new Map<string, string[]>(ids.map((id) => [id, []]));
    for (const part of chunks(ids)) {
      for (const r of await this.rows(
        `select phonebook_id, extension_id from phonebook_extension where phonebook_id in (${marks(part.length)})`,
        part,
      ))
        extensions.get(r.phonebook_id as string)?.push(r.extension_id as string);
      for (const r of await this.rows(
        `select phonebook_id, group_id from phonebook_extension_group where phonebook_id in (${marks(part.length)})`,
        part,
      ))
        groups.get(r.phonebook_id as string)?.push(r.group_id as string);
    }
    return rows.map((r) => ({
      id: r.id as string,
      pbxId: r.pbx_id as string,
      name: r.name as string,
      mailboxId: (r.mailbox_id as string | null) ?? null,
      synced: Boolean(r.synced),
      visibility: {
        allExtensions: Boolean(r.all_extensions),
        extensionIds: (extensions.get(r.id as string) ?? []).sort(),
        extensionGroupIds: (groups.get(r.id as string) ?? []).sort(),
      },
      createdAt: toDate(r.created_at),
      updatedAt: toDate(r.updated_at),
    }));
  }

  async deleteSyncedPhonebook(pbxId: string, phonebookId: string): Promise<number> {
    if (!(await this.ownerInPbx(pbxId, { kind: 'PHONEBOOK', phonebookId }))) return 0;
    const removed = await deleteContactsWhere(this.em, 'c.phonebook_id = ?', [phonebookId]);
    await this.run('delete from phonebook where id = ? and pbx_id = ? and synced = ?', [
      phonebookId,
      pbxId,
      true,
    ]);
    return removed;
  }

  // ---- the admin's side ------------------------------------------------------------------

  async savePhonebookVisibility(
    pbxId: string,
    phonebookId: string,
    visibility: PhonebookVisibility,
  ): Promise<PhonebookRecord> {
    const changed = await this.run(
      'update phonebook set all_extensions = ?, updated_at = ? where id = ? and pbx_id = ?',
      [visibility.allExtensions, this.now(), phonebookId, pbxId],
    );
    if (changed === 0)
      throw new AppError('NOT_FOUND', `No phonebook with id ${phonebookId}`, { field: 'phonebookId' });
    await this.run('delete from phonebook_extension where phonebook_id = ?', [phonebookId]);
    await this.run('delete from phonebook_extension_group where phonebook_id = ?', [phonebookId]);
    for (const part of chunks([...new Set(visibility.extensionIds)])) {
      await insertBound(
        this.em,
        'phonebook_extension',
        ['phonebook_id', 'extension_id'],
        part.map((e) => [phonebookId, e]),
      );
    }
    for (const part of chunks([...new Set(visibility.extensionGroupIds)])) {
      await insertBound(
        this.em,
        'phonebook_extension_group',
        ['phonebook_id', 'group_id'],
        part.map((g) => [phonebookId, g]),
      );
    }
    return (await this.findPhonebook(pbxId, phonebookId)) as PhonebookRecord;
  }

  async findContact(pbxId: string, id: string): Promise<ContactRecord | null> {
    const rows = await this.rows('select * from contact where id = ? and pbx_id = ?', [id, pbxId]);
    return rows[0] ? contactRecord(rows[0]) : null;
  }

  async deleteContact(pbxId: string, id: string): Promise<boolean> {
    return (await deleteContactsWhere(this.em, 'c.id = ? and c.pbx_id = ?', [id, pbxId])) > 0;
  }

  // ---- the lookups ------------------------------------------------------------------------

  async visiblePhonebooks(pbxId: string, extensionId: string | null) {
    const rows =
      extensionId === null
        ? await this.rows('select id, name from phonebook where pbx_id = ? order by name, id', [pbxId])
        : await this.rows(
            `select p.id, p.name from phonebook p where p.pbx_id = ? and (p.all_extensions = ?
               or exists (select 1 from phonebook_extension pe where pe.phonebook_id = p.id and pe.extension_id = ?)
               or exists (select 1 from phonebook_extension_group pg join extension_group_member m on m.group_id = pg.group_id
                          where pg.phonebook_id = p.id and m.extension_id = ?))
             order by p.name, p.id`,
            [pbxId, true, extensionId, extensionId],
          );
    return rows.map((r) => ({ id: r.id as string, name: r.name as string }));
  }

  /** The owners of a scope with their source, personal first. */
  private owners(scope: ContactScope): Array<{ id: string; source: ContactSourceKind }> {
    return [
      ...(scope.personalOf ? [{ id: scope.personalOf, source: 'PERSONAL_CONTACT' as const }] : []),
      ...scope.phonebookIds.map((id) => ({ id, source: 'PHONEBOOK' as const })),
    ];
  }

  /** Contacts by id with their phonebook's name. */
  private async contactsById(ids: readonly string[]): Promise<Map<string, Row>> {
    const out = new Map<string, Row>();
    for (const part of chunks([...new Set(ids)])) {
      for (const r of await this.rows(
        `select c.id, c.display_name, c.company, c.numbers, c.phonebook_id, p.name as phonebook_name
           from contact c left join phonebook p on p.id = c.phonebook_id where c.id in (${marks(part.length)})`,
        part,
      ))
        out.set(r.id as string, r);
    }
    return out;
  }

  async pbxCountry(pbxId: string): Promise<string | null> {
    const [row] = await this.rows('select default_country from pbx where id = ?', [pbxId], {
      prepared: true,
    });
    return row ? (row.default_country as string) : null;
  }

  async lookupNumber(
    pbxId: string,
    extensionId: string | null,
    number: CallerNumberKeys,
    limit: number,
  ): Promise<{ country: string | null; matches: ContactMatch[] }> {
    // The PBX's extension of that number: by its extension number, or by its mobile number.
    const extension =
      number.extensionNumber !== null ? 'x.number' : number.e164 !== null ? 'x.mobile_e164' : null;
    const params: unknown[] = [pbxId];
    if (extension) params.push(pbxId, number.extensionNumber ?? number.e164);
    params.push(ContactTermKind.NUMBER, number.key);
    if (extensionId === null) params.push(pbxId);
    else params.push(extensionId, pbxId, pbxId, extensionId, pbxId, true, extensionId, extensionId);
    const sql = lookupStatement(this.postgres, extensionId !== null, extension);
    const all = await this.rows(sql, params, { prepared: true });
    const country = (all.find((r) => r.src === 'P')?.id as string | undefined) ?? null;
    const rows = all.filter((r) => r.src !== 'P');
    const matches = rows.map((c): ContactMatch => {
      if (c.src === 'X') {
        return {
          source: 'EXTENSION',
          id: c.id as string,
          displayName: c.display_name as string,
          company: null,
          // The number that matched: the extension number, or the mobile number as written.
          number: number.extensionNumber !== null ? (c.extension_number as string) : (c.numbers as string),
          extensionNumber: c.extension_number as string,
          phonebookId: null,
          phonebookName: null,
          rank: SearchRank.NUMBER_PREFIX,
        };
      }
      const numbers = parseJson<ContactNumber[]>(c.numbers, []);
      return this.match(
        c,
        c.phonebook_id == null ? 'PERSONAL_CONTACT' : 'PHONEBOOK',
        SearchRank.NUMBER_PREFIX,
        { number: numbers.find((n) => numberKey(n) === number.key)?.dialled ?? null },
      );
    });
    return { country, matches: matches.sort(byPrecedence).slice(0, limit) };
  }

  private match(
    c: Row,
    source: ContactSourceKind,
    rank: SearchRank,
    extra: { number?: string | null } = {},
  ): ContactMatch {
    const numbers = parseJson<ContactNumber[]>(c.numbers, []);
    return {
      source,
      id: c.id as string,
      displayName: c.display_name as string,
      company: (c.company as string | null) ?? null,
      number: extra.number !== undefined ? extra.number : (numbers[0]?.dialled ?? null),
      extensionNumber: null,
      phonebookId: (c.phonebook_id as string | null) ?? null,
      phonebookName: (c.phonebook_name as string | null) ?? null,
      rank,
    };
  }

  async search(
    pbxId: string,
    scope: ContactScope,
    spec: ContactSearchSpec,
    page: PageRequest,
  ): Promise<SearchPage<ContactMatch>> {
    const after = page.after
      ? (() => {
          const [rank, source, term, id] = decodeCursor('contactSearch', page.after, [
            'number',
            'number',
            'string',
            'string',
          ]) as unknown as [number, number, string, string];
          return { rank, source, term, id };
        })()
      : null;
    const ranks: SearchRank[] = [];
    if (spec.text) ranks.push(SearchRank.EXACT_NAME, SearchRank.NAME_PREFIX, SearchRank.WORD_PREFIX);
    if (spec.e164Prefix || spec.digits) ranks.push(SearchRank.NUMBER_PREFIX);
    const want = page.first + 1;
    const hits: Array<{ rank: SearchRank; source: number; term: string; id: string; node: ContactMatch }> =
      [];
    for (const rank of ranks) {
      if (after && rank < after.rank) continue;
      const keyset = after && rank === after.rank ? after : null;
      hits.push(...(await this.searchRank(pbxId, scope, spec, rank, keyset, want - hits.length)));
      if (hits.length >= want) break;
    }
    const edges = hits.slice(0, page.first).map((h) => ({
      cursor: encodeCursor('contactSearch', [h.rank, h.source, h.term, h.id]),
      node: h.node,
    }));
    return { edges, endCursor: edges.at(-1)?.cursor ?? null, hasNextPage: hits.length > page.first };
  }

  /** One rank's matches after `keyset`, in (source, term, id) order, at most `limit`. */
  private async searchRank(
    pbxId: string,
    scope: ContactScope,
    spec: ContactSearchSpec,
    rank: SearchRank,
    keyset: { source: number; term: string; id: string } | null,
    limit: number,
  ) {
    const parts: string[] = [];
    const params: unknown[] = [];
    /** The keyset condition of one source over (term, id). */
    const after = (source: number, term: string, id: string): string | null => {
      if (!keyset || source > keyset.source) return '';
      if (source < keyset.source) return null;
      params.push(keyset.term, keyset.term, keyset.id);
      return ` and (${term} > ? or (${term} = ? and ${id} > ?))`;
    };
    // Extensions: at most the PBX's capacity, scanned with the PBX's index.
    const ext = this.extensionCondition(spec, rank);
    if (ext) {
      params.push(SOURCE_ORDER.EXTENSION, pbxId, ...ext.params);
      const k = after(SOURCE_ORDER.EXTENSION, ext.term, 'x.id');
      if (k === null) params.length -= ext.params.length + 2;
      else {
        parts.push(
          `select * from (select x.id as id, ${ext.term} as term, cast(? as integer) as src, cast(null as varchar(36)) as owner_id from extension x where x.pbx_id = ? and ${ext.where}${k} order by term, x.id limit ${limit}) p${parts.length}`,
        );
      }
    }
    const range = this.termRange(spec, rank);
    if (range) {
      for (const owner of this.owners(scope)) {
        const source = SOURCE_ORDER[owner.source];
        const head: unknown[] = [source, owner.id, owner.id, range.kind, ...range.params];
        const mark = params.length;
        params.push(...head);
        const k = after(source, 'k.term', 'k.contact_id');
        if (k === null) {
          params.length = mark;
          continue;
        }
        const dedupe = this.dedupe(rank, spec, params);
        parts.push(
          `select * from (select k.contact_id as id, k.term as term, cast(? as integer) as src, cast(? as varchar(36)) as owner_id from contact_key k where k.owner_id = ? and k.kind = ? and ${range.where}${k}${dedupe} order by k.term, k.contact_id limit ${limit}) p${parts.length}`,
        );
      }
    }
    if (parts.length === 0) return [];
    const found = await this.rows(
      `select * from (${parts.join(' union all ')}) u order by u.src, u.term, u.id limit ${limit}`,
      params,
    );
    const contacts = await this.contactsById(
      found.filter((r) => r.owner_id != null).map((r) => r.id as string),
    );
    const extensions = await this.extensionsById(
      found.filter((r) => r.owner_id == null).map((r) => r.id as string),
    );
    const sourceOf = new Map(this.owners(scope).map((o) => [o.id, o.source]));
    return found.flatMap((r) => {
      const id = r.id as string;
      const term = r.term as string;
      const source = Number(r.src);
      let node: ContactMatch | undefined;
      if (r.owner_id == null) {
        node = extensions.get(id);
        if (node) node = { ...node, rank };
      } else {
        const c = contacts.get(id);
        if (c) {
          const numbers = parseJson<ContactNumber[]>(c.numbers, []);
          node = this.match(
            c,
            sourceOf.get(r.owner_id as string) ?? 'PHONEBOOK',
            rank,
            rank === SearchRank.NUMBER_PREFIX
              ? { number: numbers.find((n) => numberKey(n) === term)?.dialled ?? null }
              : {},
          );
        }
      }
      return node ? [{ rank, source, term, id, node }] : [];
    });
  }

  /** The contact_key range of a rank. */
  private termRange(spec: ContactSearchSpec, rank: SearchRank) {
    const q = spec.text;
    switch (rank) {
      case SearchRank.EXACT_NAME:
        return { kind: ContactTermKind.NAME, where: 'k.term = ?', params: [q] };
      case SearchRank.NAME_PREFIX:
        return { kind: ContactTermKind.NAME, where: 'k.term > ? and k.term < ?', params: [q, q + RANGE_END] };
      case SearchRank.WORD_PREFIX:
        return {
          kind: ContactTermKind.WORD,
          where: 'k.term >= ? and k.term < ?',
          params: [q, q + RANGE_END],
        };
      case SearchRank.NUMBER_PREFIX: {
        const p = spec.e164Prefix ?? (spec.digits ? `#${spec.digits}` : null);
        return p
          ? { kind: ContactTermKind.NUMBER, where: 'k.term >= ? and k.term < ?', params: [p, p + RANGE_END] }
          : null;
      }
    }
  }

  /** Keeps one row per contact: its best rank, and within a rank its first term. */
  private dedupe(rank: SearchRank, spec: ContactSearchSpec, params: unknown[]): string {
    if (rank === SearchRank.WORD_PREFIX) {
      params.push(ContactTermKind.NAME, spec.text, spec.text + RANGE_END, ContactTermKind.WORD, spec.text);
      return ` and not exists (select 1 from contact_key d where d.contact_id = k.contact_id and ((d.kind = ? and d.term >= ? and d.term < ?) or (d.kind = ? and d.term >= ? and d.term < k.term)))`;
    }
    if (rank === SearchRank.NUMBER_PREFIX) {
      const p = spec.e164Prefix ?? `#${spec.digits}`;
      params.push(ContactTermKind.NUMBER, p);
      return ' and not exists (select 1 from contact_key d where d.contact_id = k.contact_id and d.kind = ? and d.term >= ? and d.term < k.term)';
    }
    return '';
  }

  /** How extensions match a rank: by "first last" (any case), by last name, by number prefix. */
  private extensionCondition(spec: ContactSearchSpec, rank: SearchRank) {
    const q = spec.text;
    // Compared and ordered as contact_key.term is, code point by code point (PostgreSQL: "C",
    // whatever the database's collation; SQLite's BINARY is that already).
    const bytewise = (expr: string) =>
      this.em.getPlatform() instanceof PostgreSqlPlatform ? `(${expr} collate "C")` : expr;
    const name = bytewise(`lower(trim(x.first_name || ' ' || x.last_name))`);
    const last = bytewise('lower(x.last_name)');
    switch (rank) {
      case SearchRank.EXACT_NAME:
        return { term: name, where: `${name} = ?`, params: [q] };
      case SearchRank.NAME_PREFIX:
        return { term: name, where: `${name} > ? and substr(${name}, 1, ?) = ?`, params: [q, q.length, q] };
      case SearchRank.WORD_PREFIX:
        return {
          term: last,
          where: `substr(${last}, 1, ?) = ? and substr(${name}, 1, ?) <> ?`,
          params: [q.length, q, q.length, q],
        };
      case SearchRank.NUMBER_PREFIX:
        return spec.digits && /^[0-9]+$/.test(spec.digits)
          ? {
              term: bytewise('x.number'),
              where: 'substr(x.number, 1, ?) = ?',
              params: [spec.digits.length, spec.digits],
            }
          : null;
    }
  }

  private async extensionsById(ids: readonly string[]): Promise<Map<string, ContactMatch>> {
    const out = new Map<string, ContactMatch>();
    for (const part of chunks(ids)) {
      for (const r of await this.rows(
        `select id, number, first_name, last_name, mobile_number from extension where id in (${marks(part.length)})`,
        part,
      )) {
        out.set(r.id as string, {
          source: 'EXTENSION',
          id: r.id as string,
          displayName: `${r.first_name as string} ${(r.last_name as string | null) ?? ''}`.trim(),
          company: null,
          number: r.number as string,
          extensionNumber: r.number as string,
          phonebookId: null,
          phonebookName: null,
          rank: SearchRank.EXACT_NAME,
        });
      }
    }
    return out;
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
/** Caller ID precedence among contacts: personal first, then by phonebook name, name, id. */
const byPrecedence = (a: ContactMatch, b: ContactMatch) =>
  SOURCE_ORDER[a.source] - SOURCE_ORDER[b.source] ||
  cmp(a.phonebookName ?? '', b.phonebookName ?? '') ||
  cmp(a.displayName, b.displayName) ||
  cmp(a.id, b.id);
