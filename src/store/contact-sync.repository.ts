import type { EntityManager } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/knex';
import { PostgreSqlPlatform } from '@mikro-orm/postgresql';
import type {
  ContactFolderCursor,
  ContactItemRow,
  ContactSyncLedger,
  ContactTally,
} from '../app/ports/contact-sync.port.js';
import type { ContactOwner } from '../domain/contact.types.js';
import type { MailboxKind, SyncedMailbox } from '../domain/contact-sync.planner.js';
import { insertBound } from './bound-insert.js';
import type { Clock } from './clock.js';
import { ContactFolderCursorRow } from './entities/index.js';
import { SYNC_RUN_ITEM_COLUMNS, syncRunItemValues } from './sync.repository.js';

const ownerOf = (kind: string, id: string): ContactOwner =>
  kind === 'PHONEBOOK' ? { kind: 'PHONEBOOK', phonebookId: id } : { kind: 'EXTENSION', extensionId: id };
const ownerId = (o: ContactOwner) => (o.kind === 'EXTENSION' ? o.extensionId : o.phonebookId);

function cursorOf(r: ContactFolderCursorRow): ContactFolderCursor {
  return {
    mailboxId: r.mailboxId,
    folderId: r.folderId,
    kind: r.kind as MailboxKind,
    owner: ownerOf(r.ownerKind, r.ownerId),
    deltaLink: r.deltaLink,
    updatedAt: r.updatedAt,
  };
}

const CURSOR_COLUMNS = [
  'key',
  'pbx_id',
  'mailbox_id',
  'folder_id',
  'kind',
  'owner_kind',
  'owner_id',
  'delta_link',
  'updated_at',
] as const;
const CURSOR_UPSERT = `on conflict ("key") do update set ${CURSOR_COLUMNS.slice(4)
  .map((c) => `"${c}" = excluded."${c}"`)
  .join(', ')}`;

/** The contact sync's cursors and per-run tallies (ContactSyncLedger). */
export class MikroContactSyncLedger implements ContactSyncLedger {
  constructor(
    private readonly em: EntityManager,
    private readonly now: Clock,
  ) {}

  /**
   * A statement in the unit of work's transaction when there is one (`getConnection().execute`
   * would run it beside the transaction: on SQLite's one connection it waits for the
   * transaction to end, which waits for it).
   */
  private sql<T = Record<string, unknown>>(sql: string, params: readonly unknown[]): Promise<T[]> {
    return (this.em as SqlEntityManager).execute(sql, [...params]) as Promise<T[]>;
  }

  async commitWithoutFlush(): Promise<void> {
    // Only inside a transaction (SET LOCAL outside one warns and does nothing), on PostgreSQL:
    // a first contact sync commits 10,000 mailbox transactions, each of which waited for a WAL
    // flush while it held the PBX's lock (https://www.postgresql.org/docs/current/wal-async-commit.html).
    const em = this.em as SqlEntityManager;
    if (!(em.getPlatform() instanceof PostgreSqlPlatform) || !em.getTransactionContext()) return;
    await this.sql('set local synchronous_commit = off', []);
  }

  async syncedMailboxes(pbxId: string): Promise<SyncedMailbox[]> {
    const rows: Array<{ mailbox_id: string; kind: string; owner_kind: string; owner_id: string }> =
      await this.sql(
        'select distinct mailbox_id, kind, owner_kind, owner_id from contact_folder_cursor where pbx_id = ? order by mailbox_id, owner_id',
        [pbxId],
      );
    return rows.map((r) => ({
      mailboxId: r.mailbox_id,
      kind: r.kind as MailboxKind,
      owner: ownerOf(r.owner_kind, r.owner_id),
    }));
  }

  async folderCursors(pbxId: string, mailboxId: string): Promise<ContactFolderCursor[]> {
    const rows = await this.em.find(
      ContactFolderCursorRow,
      { pbx: pbxId, mailboxId },
      // Read only (the cursors are written by statements, not through the unit of work).
      { orderBy: { folderId: 'asc' }, disableIdentityMap: true },
    );
    return rows.map(cursorOf);
  }

  async folderCursorsOf(pbxId: string, mailboxIds: readonly string[]): Promise<ContactFolderCursor[]> {
    const out: ContactFolderCursor[] = [];
    for (let i = 0; i < mailboxIds.length; i += 500) {
      const rows = await this.em.find(
        ContactFolderCursorRow,
        { pbx: pbxId, mailboxId: { $in: mailboxIds.slice(i, i + 500) } },
        // Read only: 10,000 mailboxes' cursors need not stay in the unit of work.
        { orderBy: { mailboxId: 'asc', folderId: 'asc' }, disableIdentityMap: true },
      );
      for (const r of rows) out.push(cursorOf(r));
    }
    return out;
  }

  async touchFolders(
    pbxId: string,
    folders: ReadonlyArray<{ mailboxId: string; folderId: string; deltaLink: string }>,
  ): Promise<void> {
    for (let i = 0; i < folders.length; i += 200) {
      const part = folders.slice(i, i + 200);
      const keys = part.map((f) => `${pbxId}:${f.mailboxId}:${f.folderId}`);
      // One statement for the links (a CASE over the keys), one for the time (the ORM writes dates as each database keeps them).
      await this.sql(
        `update contact_folder_cursor set delta_link = case ${part.map(() => 'when key = ? then ?').join(' ')} else delta_link end where key in (${keys.map(() => '?').join(', ')})`,
        [...part.flatMap((f, n) => [keys[n], f.deltaLink]), ...keys],
      );
      await this.em.nativeUpdate(ContactFolderCursorRow, { key: { $in: keys } }, { updatedAt: this.now() });
    }
  }

  async saveFolderCursor(pbxId: string, c: ContactFolderCursor): Promise<void> {
    // One statement (an upsert by key), not a read and a flush of the unit of work.
    await insertBound(
      this.em,
      'contact_folder_cursor',
      CURSOR_COLUMNS,
      [
        [
          `${pbxId}:${c.mailboxId}:${c.folderId}`,
          pbxId,
          c.mailboxId,
          c.folderId,
          c.kind,
          c.owner.kind,
          ownerId(c.owner),
          c.deltaLink,
          this.now(),
        ],
      ],
      CURSOR_UPSERT,
    );
  }

  async forgetFolders(
    pbxId: string,
    mailboxId: string,
    keepFolderIds: readonly string[],
    owner?: ContactOwner,
  ) {
    await this.em.nativeDelete(ContactFolderCursorRow, {
      pbx: pbxId,
      mailboxId,
      ...(keepFolderIds.length ? { folderId: { $nin: [...keepFolderIds] } } : {}),
      ...(owner ? { ownerKind: owner.kind, ownerId: ownerId(owner) } : {}),
    });
  }

  async record(
    pbxId: string,
    runId: string,
    mailboxId: string,
    tally: Partial<ContactTally>,
    rows: readonly ContactItemRow[],
    summary?: (mailboxTally: ContactTally) => ContactItemRow,
  ): Promise<number> {
    const conn = { execute: (sql: string, params: unknown[]) => this.sql(sql, params) };
    // The summary row's identity (object, action, reason) does not depend on the tally.
    const zero: ContactTally = { create: 0, update: 0, delete: 0, skip: 0, fail: 0 };
    const all = summary ? [...rows, summary(zero)] : rows;
    let fresh = all;
    if (all.length) {
      // Rows are numbered after the run's last, and told from those the run holds already: under
      // the PBX's lock (PostgreSQL), one writer at a time. The lock is held to the commit: what
      // follows it here is kept to a few statements (the tally and its read are one).
      if (this.em.getPlatform() instanceof PostgreSqlPlatform) {
        await conn.execute('select id from pbx where id = ? for no key update', [pbxId]);
      }
      fresh = await this.notYetReported(runId, all);
    }
    const given = new Set(rows);
    const dropped = (action: string) =>
      rows.filter((r) => r.action === action).length -
      fresh.filter((r) => r.action === action && given.has(r)).length;
    const add = {
      created: tally.create ?? 0,
      updated: tally.update ?? 0,
      deleted: tally.delete ?? 0,
      skipped: Math.max(0, (tally.skip ?? 0) - dropped('SKIP')),
      failed: Math.max(0, (tally.fail ?? 0) - dropped('FAIL')),
    };
    if (summary || Object.values(add).some((n) => n)) {
      // One row per (run, mailbox): jobs of other mailboxes never wait on it. It answers the
      // mailbox's whole tally, for the summary row.
      const [after] = (await conn.execute(
        `insert into contact_run_tally (run_id, mailbox_id, created, updated, deleted, skipped, failed)
         values (?, ?, ?, ?, ?, ?, ?)
         on conflict (run_id, mailbox_id) do update set
           created = contact_run_tally.created + excluded.created,
           updated = contact_run_tally.updated + excluded.updated,
           deleted = contact_run_tally.deleted + excluded.deleted,
           skipped = contact_run_tally.skipped + excluded.skipped,
           failed = contact_run_tally.failed + excluded.failed
         returning created, updated, deleted, skipped, failed`,
        [runId, mailboxId, add.created, add.updated, add.deleted, add.skipped, add.failed],
      )) as Array<Record<string, number | string>>;
      if (summary) {
        const n = (v: number | string | undefined) => Number(v ?? 0);
        const made = summary({
          create: n(after?.created),
          update: n(after?.updated),
          delete: n(after?.deleted),
          skip: n(after?.skipped),
          fail: n(after?.failed),
        });
        const placeholder = all[all.length - 1];
        fresh = fresh.map((r) => (r === placeholder ? made : r));
      }
    }
    if (!fresh.length) return 0;
    const [{ m }] = (await conn.execute('select max(seq) as m from sync_run_item where run_id = ?', [
      runId,
    ])) as Array<{
      m: number | string | null;
    }>;
    const first = m === null ? 0 : Number(m) + 1;
    for (let i = 0; i < fresh.length; i += 500) {
      const part = fresh.slice(i, i + 500);
      const tuple = `(${SYNC_RUN_ITEM_COLUMNS.map(() => '?').join(', ')})`;
      await conn.execute(
        `insert into sync_run_item (${SYNC_RUN_ITEM_COLUMNS.join(', ')}) values ${part.map(() => tuple).join(', ')}`,
        part.flatMap((r, n) => syncRunItemValues(runId, first + i + n, 'CONTACT', r)),
      );
    }
    return fresh.filter((r) => given.has(r)).length;
  }

  /**
   * The rows of `rows` the run does not hold yet (same object, action and reason), each once:
   * one indexed look-up (run, object) per 500 rows.
   */
  private async notYetReported(runId: string, rows: readonly ContactItemRow[]): Promise<ContactItemRow[]> {
    const key = (objectId: string, action: string, reason: string) => `${objectId}\n${action}\n${reason}`;
    const held = new Set<string>();
    const ids = [...new Set(rows.map((r) => r.objectId.slice(0, 64)))];
    for (let i = 0; i < ids.length; i += 500) {
      const part = ids.slice(i, i + 500);
      const found: Array<{ object_id: string; action: string; reason: string }> = await this.sql(
        `select object_id, action, reason from sync_run_item where run_id = ? and scope = 'CONTACT' and object_id in (${part.map(() => '?').join(', ')})`,
        [runId, ...part],
      );
      for (const f of found) held.add(key(f.object_id, f.action, f.reason));
    }
    const fresh: ContactItemRow[] = [];
    for (const r of rows) {
      const k = key(r.objectId.slice(0, 64), r.action, r.reason);
      if (held.has(k)) continue;
      held.add(k);
      fresh.push(r);
    }
    return fresh;
  }

  async runTally(runId: string, mailboxId?: string): Promise<ContactTally> {
    const [r] = (await this.sql(
      `select sum(created) as c, sum(updated) as u, sum(deleted) as d, sum(skipped) as s, sum(failed) as f from contact_run_tally where run_id = ?${mailboxId === undefined ? '' : ' and mailbox_id = ?'}`,
      mailboxId === undefined ? [runId] : [runId, mailboxId],
    )) as Array<Record<string, number | string | null>>;
    const n = (v: number | string | null | undefined) => Number(v ?? 0);
    return { create: n(r?.c), update: n(r?.u), delete: n(r?.d), skip: n(r?.s), fail: n(r?.f) };
  }
}
