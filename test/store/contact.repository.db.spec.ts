import { describe, expect, inject, it } from 'vitest';
import type { SyncedContactInput } from '../../src/domain/contact.types.js';
import type { UserPlanItem } from '../../src/domain/sync-plan.types.js';
import { createPostgresDatabase, describeEachDb, useStore } from '../support/db.js';

const contact = (id: string, over: Partial<SyncedContactInput> = {}): SyncedContactInput => ({
  firstName: 'Ada',
  lastName: `Lovelace ${id}`,
  displayName: `Ada Lovelace ${id}`,
  company: 'Analytical Engines',
  jobTitle: null,
  emails: [`ada.${id}@example.com`],
  numbers: [{ kind: 'BUSINESS', dialled: '020 7946 0018', e164: '+442079460018' }],
  source: { mailboxId: 'mbx-1', folderId: 'folder-1', contactId: `c-${id}`, changeKey: 'k1' },
  ...over,
});

describeEachDb('contact repository', (leg) => {
  const db = useStore(leg);

  async function extensionOf(pbxId: string, number: string) {
    return db.store().directory.createExtension(pbxId, {
      number,
      firstName: 'User',
      lastName: number,
      email: null,
      mobileNumber: null,
      jobTitle: null,
    });
  }

  it('writes synced contacts of an extension, updates known ones by Outlook id, and reads them back', async () => {
    const pbxId = await db.pbx();
    const ext = await extensionOf(pbxId, '1001');
    const owner = { kind: 'EXTENSION' as const, extensionId: ext.id };
    const store = db.store();
    expect(await store.contacts.upsertSynced(pbxId, owner, [contact('1'), contact('2')])).toBe(2);
    const keys = await db
      .store()
      .contacts.syncedKeys(pbxId, owner, { mailboxId: 'mbx-1', folderId: 'folder-1' });
    expect([...keys.keys()].sort()).toEqual(['c-1', 'c-2']);
    expect(keys.get('c-1')?.changeKey).toBe('k1');

    await db.store().contacts.upsertSynced(pbxId, owner, [
      contact('1', {
        displayName: 'Ada King',
        source: { mailboxId: 'mbx-1', folderId: 'folder-1', contactId: 'c-1', changeKey: 'k2' },
      }),
    ]);
    const again = await db
      .store()
      .contacts.syncedKeys(pbxId, owner, { mailboxId: 'mbx-1', folderId: 'folder-1' });
    expect(again.get('c-1')).toEqual({ id: keys.get('c-1')?.id, changeKey: 'k2' });
    const read = await db.store().contacts.findContact(pbxId, keys.get('c-1')?.id as string);
    expect(read).toMatchObject({
      displayName: 'Ada King',
      owner,
      synced: true,
      numbers: [{ kind: 'BUSINESS', dialled: '020 7946 0018', e164: '+442079460018' }],
      source: { mailboxId: 'mbx-1', folderId: 'folder-1', contactId: 'c-1', changeKey: 'k2' },
    });
    // Another PBX sees nothing of it.
    const other = await db.pbx();
    expect(await db.store().contacts.findContact(other, read?.id as string)).toBeNull();
    expect(
      (await db.store().contacts.syncedKeys(other, owner, { mailboxId: 'mbx-1', folderId: 'folder-1' })).size,
    ).toBe(0);
  });

  it('deletes synced contacts by Outlook id, and every contact of a folder no longer kept', async () => {
    const pbxId = await db.pbx();
    const ext = await extensionOf(pbxId, '1002');
    const owner = { kind: 'EXTENSION' as const, extensionId: ext.id };
    const f2 = (id: string) =>
      contact(id, {
        source: { mailboxId: 'mbx-1', folderId: 'folder-2', contactId: `c-${id}`, changeKey: null },
      });
    await db.store().contacts.upsertSynced(pbxId, owner, [contact('1'), contact('2'), f2('3'), f2('4')]);
    expect(
      await db
        .store()
        .contacts.deleteSynced(pbxId, owner, { mailboxId: 'mbx-1', folderId: 'folder-1' }, [
          'c-1',
          'c-unknown',
        ]),
    ).toBe(1);
    expect(await db.store().contacts.deleteSyncedExcept(pbxId, owner, ['folder-1'])).toBe(2);
    const left = await db
      .store()
      .contacts.syncedKeys(pbxId, owner, { mailboxId: 'mbx-1', folderId: 'folder-1' });
    expect([...left.keys()]).toEqual(['c-2']);
    expect(await db.store().contacts.deleteSyncedExcept(pbxId, owner, [])).toBe(1);
  });

  it('makes one phonebook per shared mailbox, invisible until granted, renamed when the name changes', async () => {
    const pbxId = await db.pbx();
    const made = await db.store().contacts.ensureSyncedPhonebook(pbxId, 'shared-1', 'Suppliers');
    expect(made).toMatchObject({
      name: 'Suppliers',
      mailboxId: 'shared-1',
      synced: true,
      visibility: { allExtensions: false, extensionIds: [], extensionGroupIds: [] },
    });
    const renamed = await db.store().contacts.ensureSyncedPhonebook(pbxId, 'shared-1', 'Vendors');
    expect(renamed.id).toBe(made.id);
    expect(renamed.name).toBe('Vendors');
    const ext = await extensionOf(pbxId, '1003');
    const group = await db
      .store()
      .directory.createExtensionGroup(pbxId, { name: 'Sales', memberIds: [ext.id] });
    const saved = await db.store().contacts.savePhonebookVisibility(pbxId, made.id, {
      allExtensions: false,
      extensionIds: [ext.id],
      extensionGroupIds: [group.id],
    });
    expect(saved.visibility).toEqual({
      allExtensions: false,
      extensionIds: [ext.id],
      extensionGroupIds: [group.id],
    });
    expect((await db.store().contacts.listPhonebooks(pbxId)).map((p) => p.name)).toEqual(['Vendors']);

    await db
      .store()
      .contacts.upsertSynced(pbxId, { kind: 'PHONEBOOK', phonebookId: made.id }, [
        contact('1'),
        contact('2'),
      ]);
    expect(await db.store().contacts.deleteSyncedPhonebook(pbxId, made.id)).toBe(2);
    expect(await db.store().contacts.listPhonebooks(pbxId)).toEqual([]);
  });

  it('writes more contacts than one statement holds (bounded statements)', async () => {
    const pbxId = await db.pbx();
    const book = await db.store().contacts.ensureSyncedPhonebook(pbxId, 'shared-big', 'Big');
    const many = Array.from({ length: 1234 }, (_, i) => contact(String(i)));
    const owner = { kind: 'PHONEBOOK' as const, phonebookId: book.id };
    expect(await db.store().contacts.upsertSynced(pbxId, owner, many)).toBe(1234);
    expect(
      (await db.store().contacts.syncedKeys(pbxId, owner, { mailboxId: 'mbx-1', folderId: 'folder-1' })).size,
    ).toBe(1234);
    expect(await db.store().contacts.deleteSyncedExcept(pbxId, owner, [])).toBe(1234);
  });

  describe('what goes with an extension or a PBX', () => {
    it('a synced extension deleted by a sync plan, or by deleting every synced extension, takes its personal contacts', async () => {
      const pbxId = await db.pbx();
      const synced = async (number: string) =>
        db.store().directory.createExtension(pbxId, {
          number,
          firstName: 'Synced',
          lastName: number,
          email: null,
          mobileNumber: null,
          jobTitle: null,
          source: 'SYNCED',
          externalId: `user-${number}`,
        });
      const [a, b, kept] = [await synced('1020'), await synced('1021'), await extensionOf(pbxId, '1022')];
      const folder = { mailboxId: 'mbx-1', folderId: 'folder-1' };
      for (const e of [a, b, kept]) {
        await db
          .store()
          .contacts.upsertSynced(pbxId, { kind: 'EXTENSION', extensionId: e.id }, [contact(e.number)]);
      }
      const count = async (extensionId: string) =>
        (await db.store().contacts.syncedKeys(pbxId, { kind: 'EXTENSION', extensionId }, folder)).size;
      const idOf = async (extensionId: string) =>
        [
          ...(
            await db.store().contacts.syncedKeys(pbxId, { kind: 'EXTENSION', extensionId }, folder)
          ).values(),
        ][0].id;
      const aContact = await idOf(a.id);
      const bContact = await idOf(b.id);
      await db.store().transactional((tx) =>
        tx.applier.applyUserItems(pbxId, [
          {
            action: 'DELETE',
            reason: 'USER_DELETED',
            userId: 'user-1020',
            displayName: 'Synced 1020',
            userPrincipalName: null,
            extensionId: a.id,
            number: '1020',
            detail: null,
          } satisfies UserPlanItem,
        ]),
      );
      expect(await db.store().contacts.findContact(pbxId, aContact)).toBeNull();
      expect(await count(b.id)).toBe(1);
      await db.store().transactional((tx) => tx.directory.deleteSynced(pbxId, 'EXTENSIONS'));
      expect(await db.store().contacts.findContact(pbxId, bContact)).toBeNull();
      expect(await count(kept.id)).toBe(1);
    });

    it('deleting an extension deletes its personal contacts; deleting the PBX deletes every contact and phonebook', async () => {
      const pbxId = await db.pbx();
      const a = await extensionOf(pbxId, '1010');
      const b = await extensionOf(pbxId, '1011');
      await db.store().contacts.upsertSynced(pbxId, { kind: 'EXTENSION', extensionId: a.id }, [contact('a')]);
      await db.store().contacts.upsertSynced(pbxId, { kind: 'EXTENSION', extensionId: b.id }, [contact('b')]);
      const book = await db.store().contacts.ensureSyncedPhonebook(pbxId, 'shared-x', 'X');
      await db
        .store()
        .contacts.upsertSynced(pbxId, { kind: 'PHONEBOOK', phonebookId: book.id }, [contact('p')]);
      const folder = { mailboxId: 'mbx-1', folderId: 'folder-1' };
      const idOf = async (extensionId: string) =>
        (await db.store().contacts.syncedKeys(pbxId, { kind: 'EXTENSION', extensionId }, folder)).get(
          `c-${extensionId === a.id ? 'a' : 'b'}`,
        )?.id;
      const aContact = await idOf(a.id);
      const bContact = await idOf(b.id);
      expect(await db.store().directory.deleteExtension(pbxId, a.id)).toBe(true);
      expect(await db.store().contacts.findContact(pbxId, aContact as string)).toBeNull();
      expect(await db.store().contacts.findContact(pbxId, bContact as string)).not.toBeNull();

      const store = db.store();
      const deleted = await store.transactional((tx) => tx.tenants.deletePbx(pbxId));
      expect(deleted?.rows.contact).toBe(2);
      expect(deleted?.rows.phonebook).toBe(1);
      expect(await db.store().contacts.findContact(pbxId, bContact as string)).toBeNull();
    });
  });
});

/**
 * Prefix search reads ranges of contact_key.term, right only when terms compare code point by
 * code point. A database made with a linguistic collation compares otherwise (ICU with
 * punctuation ignored, as glibc's en_US.UTF-8 does: "a bc" sorts between "ab" and "ab…").
 * The PostgreSQL migration makes the column compare bytewise whatever the database's default.
 */
const postgresUrl = inject('postgresUrl');
(postgresUrl ? describe : describe.skip)(
  `contact search under a linguistic database collation [postgresql${postgresUrl ? '' : ': SKIPPED, TEST_DATABASE_URL is not set'}]`,
  () => {
    const db = useStore({
      kind: 'postgresql',
      create: () =>
        createPostgresDatabase(
          postgresUrl as string,
          `template template0 locale_provider icu icu_locale 'en-US-u-ka-shifted' locale 'C.UTF-8'`,
        ),
    });

    it('finds names and companies by prefix as written, not as the collation sorts them', async () => {
      const pbxId = await db.pbx();
      const store = db.store();
      const ext = await store.directory.createExtension(pbxId, {
        number: '1001',
        firstName: 'Abel',
        lastName: 'Zed',
        email: null,
        mobileNumber: null,
        jobTitle: null,
      });
      await store.directory.createExtension(pbxId, {
        number: '1002',
        firstName: 'A',
        lastName: 'Bc',
        email: null,
        mobileNumber: null,
        jobTitle: null,
      });
      const owner = { kind: 'EXTENSION' as const, extensionId: ext.id };
      const person = (id: string, first: string, last: string) =>
        contact(id, { firstName: first, lastName: last, displayName: `${first} ${last}`, company: null });
      await db
        .store()
        .contacts.upsertSynced(pbxId, owner, [
          person('1', 'A', 'Bc'),
          person('2', 'Abe', 'Lincoln'),
          person('3', 'Straße', 'One'),
          person('4', 'Strasser', 'Two'),
        ]);
      const scope = { personalOf: ext.id, phonebookIds: [] };
      const names = async (text: string) =>
        (
          await db
            .store()
            .contacts.search(
              pbxId,
              scope,
              { text, e164Prefix: null, digits: null },
              { first: 20, after: null },
            )
        ).edges.map((e) => e.node.displayName);
      expect(await names('ab')).toEqual(['Abel Zed', 'Abe Lincoln']);
      expect(await names('stras')).toEqual(['Strasser Two']);
      expect(await names('a bc')).toEqual(['A Bc', 'A Bc']);
    });
  },
);
