import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import type { DirectoryApplier } from '../app/ports/sync.port.js';
import { emailKey } from '../domain/extension-fields.js';
import type { GroupPlanItem, UserPlanItem } from '../domain/sync-plan.types.js';
import { executeBound, insertRows } from './bound-insert.js';
import type { Clock } from './clock.js';
import { deleteContactsWhere } from './contact.repository.js';
import { Extension, ExtensionGroup, ExtensionGroupMember } from './entities/index.js';
import { mobileE164, pbxCountry } from './mobile-key.js';

const BATCH = 500;
/** UPDATE items per statement: up to 9 columns of 2 parameters each, well under the drivers' limits. */
const UPDATE_BATCH = 200;

/** The column of each synced field an UPDATE item may change. */
const UPDATE_COLUMNS: Record<string, string> = {
  number: 'number',
  firstName: 'first_name',
  lastName: 'last_name',
  email: 'email',
  mobileNumber: 'mobile_number',
  jobTitle: 'job_title',
};

/** The columns of a new synced extension, in the order `applyUserItems` gives its values. */
const EXTENSION_COLUMNS = [
  'id',
  'pbx_id',
  'number',
  'number_sort',
  'first_name',
  'last_name',
  'email',
  'email_key',
  'mobile_number',
  'mobile_e164',
  'job_title',
  'source',
  'external_id',
  'caller_id_name',
  'voicemail_enabled',
  'notes',
  'created_at',
  'updated_at',
] as const;

/** The columns of a new synced extension group, in the order `applyGroupItems` gives its values. */
const GROUP_COLUMNS = ['id', 'pbx_id', 'name', 'source', 'external_id', 'created_at', 'updated_at'] as const;

/** The columns of an extension group's member, and how many go to one statement. */
const MEMBER_COLUMNS = ['group_id', 'extension_id'] as const;
const MEMBER_ROWS = 1000;

function chunks<T>(items: readonly T[], size = BATCH): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const ids = <T extends { extensionId?: string | null; extensionGroupId?: string | null }>(
  items: readonly T[],
  key: 'extensionId' | 'extensionGroupId',
) => items.map((i) => i[key] as string);

/**
 * Applies sync plans to the PBX directory with set-based statements (one INSERT per 500 new
 * extensions, one DELETE per 500 gone ones), inside the caller's transaction. Items come in
 * the planner's apply order (deletes first), which the planner guarantees never collides on
 * a number, an email or an object id. Every statement is scoped to the PBX and, where it
 * removes or releases, to rows the sync still owns (source SYNCED), so a concurrent hand edit
 * can never be undone by a stale plan.
 */
/**
 * Issue 16: the PBX condition of a statement that names its extensions by id. Written so that
 * no index can serve it (`pbx_id || ''`): SQLite otherwise walks one of the PBX's indexes
 * (every one of its 100,000 extensions, evaluating the statement's CASE on each) instead of
 * looking the ids up by primary key, and so may PostgreSQL.
 */
const BY_ID_OF_PBX = `("pbx_id" || '') = ?`;
/**
 * And that the sync still owns them, written the same way: PostgreSQL, before it has analyzed
 * a freshly filled table, otherwise walks the (pbx_id, source) index over every synced
 * extension.
 */
const STILL_SYNCED = `("source" || '') = 'SYNCED'`;

export class MikroDirectoryApplier implements DirectoryApplier {
  constructor(
    private readonly em: EntityManager,
    private readonly now: Clock,
  ) {}

  async applyUserItems(pbxId: string, items: readonly UserPlanItem[]) {
    const now = this.now();
    const country = await pbxCountry(this.em, pbxId);
    const createdIds = new Map<string, string>();
    const of = <A extends UserPlanItem['action']>(a: A) =>
      items.filter((i) => i.action === a) as Extract<UserPlanItem, { action: A }>[];
    for (const batch of chunks(ids(of('DELETE'), 'extensionId'))) {
      const marks = batch.map(() => '?').join(', ');
      // Their personal contacts (C1) first, in bounded statements; then the extensions.
      await deleteContactsWhere(
        this.em,
        `c.extension_id in (select id from extension where id in (${marks}) and ${BY_ID_OF_PBX} and ${STILL_SYNCED})`,
        [...batch, pbxId],
      );
      await executeBound(
        this.em,
        `delete from "extension" where "id" in (${marks}) and ${BY_ID_OF_PBX} and ${STILL_SYNCED}`,
        [...batch, pbxId],
      );
    }
    for (const batch of chunks(ids(of('RELEASE'), 'extensionId'))) {
      await executeBound(
        this.em,
        `update "extension" set "source" = 'MANUAL', "external_id" = null, "updated_at" = ? where "id" in (${batch.map(() => '?').join(', ')}) and ${BY_ID_OF_PBX} and ${STILL_SYNCED}`,
        [now, ...batch, pbxId],
      );
    }
    // Issue 16: one UPDATE per UPDATE_BATCH items (a CASE per changed column), not one per item.
    for (const batch of chunks(of('UPDATE'), UPDATE_BATCH)) {
      const byColumn = new Map<string, Array<[string, string | number | null]>>();
      const set = (column: string, id: string, value: string | number | null) => {
        const pairs = byColumn.get(column);
        if (pairs) pairs.push([id, value]);
        else byColumn.set(column, [[id, value]]);
      };
      for (const item of batch) {
        const id = item.extensionId;
        for (const c of item.changes) {
          const to = c.to as string | null;
          set(UPDATE_COLUMNS[c.field], id, to);
          if (c.field === 'email') set('email_key', id, emailKey(to));
          if (c.field === 'number') set('number_sort', id, Number.parseInt(to as string, 10));
          if (c.field === 'mobileNumber') set('mobile_e164', id, mobileE164(to, country));
        }
      }
      const bindings: Array<string | number | Date | null> = [now];
      const sets = ['"updated_at" = ?'];
      for (const [column, pairs] of byColumn) {
        sets.push(
          `"${column}" = case "id" ${pairs.map(() => 'when ? then ?').join(' ')} else "${column}" end`,
        );
        for (const [id, value] of pairs) bindings.push(id, value);
      }
      // Only rows still synced to the item's user (a hand edit or a release in between wins).
      const guard = `"external_id" = case "id" ${batch.map(() => 'when ? then ?').join(' ')} end`;
      for (const item of batch) bindings.push(item.extensionId, item.userId);
      bindings.push(...batch.map((i) => i.extensionId), pbxId);
      await executeBound(
        this.em,
        `update "extension" set ${sets.join(', ')} where ${guard} and "id" in (${batch.map(() => '?').join(', ')}) and ${BY_ID_OF_PBX}`,
        bindings,
      );
    }
    for (const item of of('ASSOCIATE')) {
      const e = item.extension;
      await this.em.nativeUpdate(
        Extension,
        { pbx: pbxId, id: item.extensionId, source: 'MANUAL' },
        {
          ...e,
          numberSort: Number.parseInt(e.number, 10),
          emailKey: emailKey(e.email),
          mobileE164: mobileE164(e.mobileNumber, country),
          source: 'SYNCED',
          externalId: item.userId,
          updatedAt: now,
        },
      );
    }
    // Bound values (bound-insert.ts): 90,000 new extensions on a first sync of 100,000 users,
    // each statement's rows made just before it (issue 16 item 3: not a batch's rows at once).
    for (const batch of chunks(of('CREATE'))) {
      await insertRows(this.em, 'extension', EXTENSION_COLUMNS, {
        length: batch.length,
        row: (n) => {
          const item = batch[n];
          const id = randomUUID();
          createdIds.set(item.userId, id);
          const e = item.extension;
          return [
            id,
            pbxId,
            e.number,
            Number.parseInt(e.number, 10),
            e.firstName,
            e.lastName,
            e.email,
            emailKey(e.email),
            e.mobileNumber,
            mobileE164(e.mobileNumber, country),
            e.jobTitle,
            'SYNCED',
            item.userId,
            null,
            true,
            null,
            now,
            now,
          ];
        },
      });
    }
    return createdIds;
  }

  async applyGroupItems(pbxId: string, items: readonly GroupPlanItem[]) {
    const now = this.now();
    const createdIds = new Map<string, string>();
    const of = <A extends GroupPlanItem['action']>(a: A) =>
      items.filter((i) => i.action === a) as Extract<GroupPlanItem, { action: A }>[];
    for (const batch of chunks(ids(of('DELETE'), 'extensionGroupId'))) {
      await this.em.nativeDelete(ExtensionGroup, { pbx: pbxId, source: 'SYNCED', id: { $in: batch } });
    }
    // A released group keeps the id of its directory group (source MANUAL: PBX-managed), so
    // that the group is taken over again if it comes back (ASSOCIATE KEPT_GROUP_ID).
    for (const batch of chunks(ids(of('RELEASE'), 'extensionGroupId'))) {
      await this.em.nativeUpdate(
        ExtensionGroup,
        { pbx: pbxId, source: 'SYNCED', id: { $in: batch } },
        { source: 'MANUAL', updatedAt: now },
      );
    }
    /** The members to add: [extension group id, its new members' extension ids]. */
    const memberLists: Array<[string, readonly string[]]> = [];
    for (const item of of('ASSOCIATE')) {
      await this.em.nativeUpdate(
        ExtensionGroup,
        { pbx: pbxId, id: item.extensionGroupId, source: 'MANUAL' },
        {
          source: 'SYNCED',
          externalId: item.groupId,
          ...(item.nameChange ? { name: item.nameChange.to } : {}),
          updatedAt: now,
        },
      );
    }
    for (const item of [...of('UPDATE'), ...of('ASSOCIATE')]) {
      if (item.action === 'UPDATE') {
        await this.em.nativeUpdate(
          ExtensionGroup,
          { pbx: pbxId, id: item.extensionGroupId, source: 'SYNCED' },
          { ...(item.nameChange ? { name: item.nameChange.to } : {}), updatedAt: now },
        );
      }
      for (const batch of chunks(item.removedMemberExtensionIds)) {
        await this.em.nativeDelete(ExtensionGroupMember, {
          group: item.extensionGroupId,
          extension: { $in: batch },
        });
      }
      memberLists.push([item.extensionGroupId, item.addedMemberExtensionIds]);
    }
    // Bound values (bound-insert.ts), not MikroORM's insertMany, which inlined every value
    // into the SQL text (5,000 new groups on a first sync).
    for (const batch of chunks(of('CREATE'))) {
      await insertRows(
        this.em,
        'extension_group',
        GROUP_COLUMNS,
        batch.map((item) => {
          const id = randomUUID();
          createdIds.set(item.groupId, id);
          memberLists.push([id, item.memberExtensionIds]);
          return [id, pbxId, item.name, 'SYNCED', item.groupId, now, now];
        }),
      );
    }
    // Bound values, each statement's rows made just before it (324,000 members of 5,000 groups
    // on a first sync; issue 16 item 3: not an object per member for the whole apply, nor the
    // values inlined in the SQL text, nor a thousand rows kept through ten statements' turns).
    let length = 0;
    for (const [, extensions] of memberLists) length += extensions.length;
    let list = 0;
    let at = 0;
    await insertRows(
      this.em,
      'extension_group_member',
      MEMBER_COLUMNS,
      {
        length,
        // Called once per row, in order: the lists walked with a cursor.
        row: () => {
          while (at >= memberLists[list][1].length) {
            list++;
            at = 0;
          }
          const [group, extensions] = memberLists[list];
          return [group, extensions[at++]];
        },
      },
      { maxRowsPerStatement: MEMBER_ROWS },
    );
    return createdIds;
  }
}
