import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { createApiKey } from '../../src/app/access.js';
import type { ContactOwner } from '../../src/domain/contact.types.js';
import type { AdminUser } from '../../src/sandbox/index.js';
import {
  type ContactSyncRuleInput,
  LookupCallerDocument,
  PhonebooksDocument,
  SaveContactSyncRuleDocument,
  SavePhonebookVisibilityDocument,
  SearchContactsDocument,
  SharedMailboxesDocument,
} from '../generated/graphql.js';
import { describeEachDb } from '../support/db.js';
import { gql } from '../support/gateway.js';
import { adminUpn } from '../support/sandbox.js';
import { type PbxClient, type Run, type SyncWorld, startSyncWorld, tag } from './sync-world.js';

const CONTACT_RULE: ContactSyncRuleInput = {
  personalEnabled: true,
  personalRange: 'ALL' as ContactSyncRuleInput['personalRange'],
  sharedEnabled: false,
  sharedRange: 'ALL' as ContactSyncRuleInput['sharedRange'],
  phonebookName: '',
};

let phoneSerial = 0;
/** A complete contact (C4): a name and a UK business number unique to this file's run. */
const complete = (givenName: string) => {
  phoneSerial += 1;
  return {
    givenName,
    surname: `Contact${tag()}`,
    displayName: `${givenName} Contact`,
    businessPhones: [`+44 20 7946 ${String(1000 + phoneSerial).slice(-4)}`],
  };
};

/**
 * C1–C4 end to end: Outlook contacts in the sandbox's mailboxes → the PBX's Linkus contacts
 * and phonebooks, through the contact rule, the run and its mailbox jobs; checked in the store
 * (the synced label), through a LINKUS key's lookups, and in the run's report.
 */
describeEachDb('sync Outlook contacts to Linkus contacts and phonebooks (C1–C4)', (leg) => {
  let world: SyncWorld;
  let adminId: string;
  beforeAll(async () => {
    world = await startSyncWorld(leg, {
      users: 20,
      groups: 3,
      seed: 17,
      contactsPerUser: 5,
      sharedMailboxes: 1,
      contactsPerMailbox: 20,
    });
    adminId = (await world.sandbox.admin.getUser(await adminUpn(world.sandbox))).id;
  }, 120_000);
  afterEach(async () => world.cleanup());
  afterAll(async () => world?.close());

  const store = () => world.gateway.openStore();

  async function saveContactRule(
    p: PbxClient,
    patch: Partial<ContactSyncRuleInput> = {},
  ): Promise<Run | null> {
    const data = await p.ok(SaveContactSyncRuleDocument, { input: { ...CONTACT_RULE, ...patch } });
    const id = data.saveContactSyncRule.initialRun?.id;
    return id ? p.wait(id) : null;
  }

  /** Default Contacts folder ids by mailbox, known before a mailbox may be deleted. */
  const folders = new Map<string, string>();
  async function defaultFolder(mailboxId: string) {
    if (!folders.has(mailboxId)) {
      const [folder] = await world.sandbox.admin.listContactFolders(mailboxId);
      folders.set(mailboxId, folder.id);
    }
    return folders.get(mailboxId) as string;
  }

  /** The synced contacts an owner holds of one mailbox's default folder, by Outlook contact id. */
  async function held(p: PbxClient, owner: ContactOwner, mailboxId: string) {
    const folderId = await defaultFolder(mailboxId);
    return store().contacts.syncedKeys(p.pbxId, owner, { mailboxId, folderId });
  }

  async function personalOf(p: PbxClient, user: AdminUser) {
    const ext = (await p.extensionsByUser()).get(user.id);
    expect(ext, `extension of ${user.userPrincipalName}`).toBeDefined();
    return held(p, { kind: 'EXTENSION', extensionId: ext?.id as string }, user.id);
  }

  async function linkusOf(p: PbxClient, user: AdminUser) {
    const ext = (await p.extensionsByUser()).get(user.id);
    return (
      await createApiKey(store(), { pbxId: p.pbxId, role: 'linkus', extensionNumber: ext?.number as string })
    ).key;
  }

  async function lookup(key: string, number: string) {
    const res = await gql(world.gateway.url, key, LookupCallerDocument, { number });
    expect(res.body.errors).toBeUndefined();
    return res.body.data?.lookupCaller ?? null;
  }

  async function search(key: string, query: string) {
    const res = await gql(world.gateway.url, key, SearchContactsDocument, { query, first: 100 });
    expect(res.body.errors).toBeUndefined();
    return res.body.data?.searchContacts.edges.map((e) => e.node) ?? [];
  }

  /** The run's contact rows about one object (a mailbox: its user id; a contact: its Outlook id). */
  async function rowsAbout(p: PbxClient, run: Run, objectId: string) {
    return (await p.items(run.id)).filter((i) => i.scope === 'CONTACT' && i.objectId === objectId);
  }

  /** A user with a mailbox and contacts of the test's own; `shared`: the folder is shared with the authorization account (C2). */
  async function userWithContacts(name: string, contacts: Array<Record<string, unknown>>, shared: boolean) {
    const u = await world.user(name);
    const made = [];
    for (const c of contacts) made.push(await world.sandbox.admin.createContact(u.id, c));
    if (shared) await world.sandbox.admin.shareContactFolder(u.id, 'contacts', adminId);
    await defaultFolder(u.id);
    return { user: u, contacts: made };
  }

  it('C1 C2: a user who shared the folder gets the complete contacts in their extension (synced); one who did not gets none and the run says why', async () => {
    const a = await userWithContacts('C1Sharer', [complete('Ann'), complete('Abe'), complete('Ada')], true);
    const b = await userWithContacts('C1Private', [complete('Ben'), complete('Bea')], false);
    const p = await world.pbx();
    await p.saveUserRule({ range: 'ALL' });
    const run = await saveContactRule(p);
    expect(run).toMatchObject({ status: 'SUCCEEDED', scopes: ['CONTACTS'] });

    const mine = await personalOf(p, a.user);
    expect(new Set(mine.keys())).toEqual(new Set(a.contacts.map((c) => c.id)));
    for (const { id } of mine.values()) {
      const rec = await store().contacts.findContact(p.pbxId, id);
      expect(rec).toMatchObject({ synced: true, source: expect.objectContaining({ mailboxId: a.user.id }) });
    }
    expect((await personalOf(p, b.user)).size).toBe(0);
    // The report names each mailbox as an administrator knows it: the user's name and address.
    expect(await rowsAbout(p, run as Run, b.user.id)).toEqual([
      expect.objectContaining({
        action: 'FAIL',
        reason: 'ACCESS_DENIED',
        objectName: 'C1Private',
        userPrincipalName: b.user.mail,
        detail: expect.stringMatching(/not shared/),
      }),
    ]);
    expect(await rowsAbout(p, run as Run, a.user.id)).toEqual([
      expect.objectContaining({
        action: 'UPDATE',
        reason: 'SYNCED',
        objectName: 'C1Sharer',
        userPrincipalName: a.user.mail,
      }),
    ]);

    // What the user sees in Linkus: their own contacts, not another's.
    const key = await linkusOf(p, a.user);
    const number = a.contacts[0].businessPhones[0];
    expect(await lookup(key, number)).toMatchObject({
      source: 'PERSONAL_CONTACT',
      displayName: 'Ann Contact',
    });
    expect(await lookup(key, b.contacts[0].businessPhones[0])).toBeNull();
  });

  it('C1 delta: a contact added, changed or deleted in Outlook shows after the next run; one made incomplete goes and is reported (C4)', async () => {
    const a = await userWithContacts(
      'C1Delta',
      [complete('Dan'), complete('Dot'), complete('Del'), complete('Dee')],
      true,
    );
    const p = await world.pbx();
    await p.saveUserRule({ range: 'ALL' });
    await saveContactRule(p);
    expect((await personalOf(p, a.user)).size).toBe(4);
    const key = await linkusOf(p, a.user);

    const [changed, deleted, madeIncomplete] = a.contacts;
    const added = await world.sandbox.admin.createContact(a.user.id, complete('Dax'));
    await world.sandbox.admin.updateContact(a.user.id, changed.id, {
      displayName: 'Dan Renamed',
      givenName: 'Dan',
    });
    await world.sandbox.admin.deleteContact(a.user.id, deleted.id);
    await world.sandbox.admin.updateContact(a.user.id, madeIncomplete.id, { businessPhones: [] });
    const run = await p.sync(['CONTACTS']);
    expect(run.status).toBe('SUCCEEDED');
    expect(run.contacts).toMatchObject({ created: expect.any(Number), failed: expect.any(Number) });

    const mine = await personalOf(p, a.user);
    expect(new Set(mine.keys())).toEqual(new Set([changed.id, a.contacts[3].id, added.id]));
    expect(await lookup(key, changed.businessPhones[0])).toMatchObject({ displayName: 'Dan Renamed' });
    expect(await lookup(key, added.businessPhones[0])).toMatchObject({ source: 'PERSONAL_CONTACT' });
    expect(await lookup(key, deleted.businessPhones[0])).toBeNull();
    expect(await lookup(key, madeIncomplete.businessPhones[0])).toBeNull();
    expect(await rowsAbout(p, run, madeIncomplete.id)).toEqual([
      expect.objectContaining({
        action: 'SKIP',
        reason: 'NO_PHONE',
        detail: expect.stringMatching(/removed from the PBX/),
      }),
    ]);
  });

  it('C4 incomplete contacts are not synced and are in the run with their reason', async () => {
    const noName = { displayName: '', givenName: null, surname: null, businessPhones: ['+44 20 7946 0999'] };
    const noPhone = { givenName: 'Nora', surname: 'Nophone', displayName: 'Nora Nophone' };
    const a = await userWithContacts('C4Owner', [complete('Cal'), noName, noPhone], true);
    const p = await world.pbx();
    await p.saveUserRule({ range: 'ALL' });
    const run = (await saveContactRule(p)) as Run;
    expect(new Set((await personalOf(p, a.user)).keys())).toEqual(new Set([a.contacts[0].id]));
    expect(await rowsAbout(p, run, a.contacts[1].id)).toEqual([
      expect.objectContaining({ action: 'SKIP', reason: 'NO_NAME' }),
    ]);
    // The row says where to complete the contact: the folder, in whose mailbox.
    expect(await rowsAbout(p, run, a.contacts[2].id)).toEqual([
      expect.objectContaining({
        action: 'SKIP',
        reason: 'NO_PHONE',
        objectName: 'Nora Nophone',
        userPrincipalName: a.user.mail,
        detail: `The contact has no mobile, home or business number. In the folder "Contacts" of C4Owner <${a.user.mail}>.`,
      }),
    ]);
    // The seeded admin's own mailbox (readable without sharing) is synced too: every contact row
    // of the run's skips has a C4 reason, and the tally counts them; the other skips are
    // mailboxes (users without one), which are not contacts.
    const skips = (await p.items(run.id, 'SKIP')).filter((i) => i.scope === 'CONTACT');
    const c4 = skips.filter((i) => i.reason === 'NO_NAME' || i.reason === 'NO_PHONE');
    expect(skips.filter((i) => !c4.includes(i)).every((i) => i.reason === 'NO_MAILBOX')).toBe(true);
    expect(run.contacts?.skipped).toBe(c4.length);
  });

  it('C1: a synced user without an Exchange mailbox is a SKIP row NO_MAILBOX, named, and no failure of the run', async () => {
    const a = await userWithContacts('C1Mailed', [complete('Mia')], true);
    // No mail: the directory's sign that Exchange gave the user no mailbox (no licence).
    const none = await world.user('C1NoMailbox', { mail: null });
    const p = await world.pbx();
    await p.saveUserRule({ range: 'ALL' });
    expect((await p.extensionsByUser()).has(none.id)).toBe(true);
    const run = (await saveContactRule(p)) as Run;
    expect(run.status).toBe('SUCCEEDED');
    expect(await rowsAbout(p, run, none.id)).toEqual([
      expect.objectContaining({
        action: 'SKIP',
        reason: 'NO_MAILBOX',
        state: 'REPORTED',
        objectName: 'C1NoMailbox',
        userPrincipalName: none.userPrincipalName,
        detail: expect.stringMatching(/^C1NoMailbox <[^>]+> has no Exchange Online mailbox/),
      }),
    ]);
    expect(new Set((await personalOf(p, a.user)).keys())).toEqual(new Set([a.contacts[0].id]));
    // Failures are the mailboxes the account may not read (their FAIL rows), not this one.
    const fails = (await p.items(run.id, 'FAIL')).filter((i) => i.scope === 'CONTACT');
    expect(fails.some((i) => i.objectId === none.id)).toBe(false);
    expect(run.contacts?.failed).toBe(fails.length);
  });

  it('C3: a shared mailbox lands in the phonebook the admin named, invisible to Linkus until granted; its member removed, the next run drops it and says why', async () => {
    const t = tag();
    const box = await world.sandbox.admin.createSharedMailbox({
      displayName: `Suppliers ${t}`,
      members: [adminId],
    });
    try {
      const supplier = await world.sandbox.admin.createContact(box.userId, complete('Sue'));
      await world.sandbox.admin.createContact(box.userId, complete('Sid'));
      const viewer = await userWithContacts('C3Viewer', [], false);
      const p = await world.pbx();
      await p.saveUserRule({ range: 'ALL' });

      const picker = (await p.ok(SharedMailboxesDocument, { search: `Suppliers ${t}` })).sharedMailboxes;
      expect(picker.map((m) => m.id)).toEqual([box.userId]);
      const run = (await saveContactRule(p, {
        personalEnabled: false,
        sharedEnabled: true,
        sharedRange: 'SPECIFIC' as ContactSyncRuleInput['sharedRange'],
        sharedMailboxIds: [box.userId],
        phonebookName: `Suppliers book ${t}`,
      })) as Run;
      expect(run.status).toBe('SUCCEEDED');
      const books = (await p.ok(PhonebooksDocument)).phonebooks;
      expect(books).toEqual([
        expect.objectContaining({
          name: `Suppliers book ${t}`,
          mailboxId: box.userId,
          synced: true,
          visibility: { allExtensions: false, extensionIds: [], extensionGroupIds: [] },
        }),
      ]);
      const book = books[0];
      expect((await held(p, { kind: 'PHONEBOOK', phonebookId: book.id }, box.userId)).size).toBe(2);

      const key = await linkusOf(p, viewer.user);
      const number = supplier.businessPhones[0];
      expect(await lookup(key, number)).toBeNull();
      const ext = (await p.extensionsByUser()).get(viewer.user.id);
      await p.ok(SavePhonebookVisibilityDocument, {
        input: {
          phonebookId: book.id,
          allExtensions: false,
          extensionIds: [ext?.id as string],
          extensionGroupIds: [],
        },
      });
      expect(await lookup(key, number)).toMatchObject({
        source: 'PHONEBOOK',
        phonebookName: `Suppliers book ${t}`,
      });
      expect((await search(key, 'Sue')).map((m) => m.source)).toContain('PHONEBOOK');

      await world.sandbox.admin.removeMailboxMember(box.userId, adminId);
      const next = await p.sync(['CONTACTS']);
      expect((await held(p, { kind: 'PHONEBOOK', phonebookId: book.id }, box.userId)).size).toBe(0);
      expect(await lookup(key, number)).toBeNull();
      expect(await rowsAbout(p, next, box.userId)).toEqual([
        expect.objectContaining({
          action: 'FAIL',
          reason: 'ACCESS_DENIED',
          objectName: `Suppliers ${t}`,
          userPrincipalName: box.mail,
          detail: expect.stringMatching(/member/),
        }),
      ]);
    } finally {
      await world.sandbox.admin.hardDeleteUser(box.userId);
    }
  });

  it('C2: unshared, the next run drops the contacts; a user no longer synced (out of the range, or deleted) takes their contacts along', async () => {
    const a = await userWithContacts('C2Unshare', [complete('Uma'), complete('Uri')], true);
    const b = await userWithContacts('C2OutOfRange', [complete('Ola')], true);
    const c = await userWithContacts('C2Deleted', [complete('Dee')], true);
    const group = await world.group(`C2 Range ${tag()}`, { members: [a.user.id, b.user.id, c.user.id] });
    const p = await world.pbx();
    await p.saveUserRule({ range: 'BY_GROUPS', groupIds: [group.id] });
    await saveContactRule(p);
    const owners = new Map(
      [...(await p.extensionsByUser())].map(([userId, e]) => [
        userId,
        { kind: 'EXTENSION' as const, extensionId: e.id },
      ]),
    );
    for (const x of [a, b, c]) expect((await personalOf(p, x.user)).size).toBe(x.contacts.length);

    await world.sandbox.admin.unshareContactFolder(a.user.id, 'contacts', adminId);
    const run = await p.sync(['CONTACTS']);
    expect((await personalOf(p, a.user)).size).toBe(0);
    expect(await rowsAbout(p, run, a.user.id)).toEqual([
      expect.objectContaining({ action: 'FAIL', reason: 'ACCESS_DENIED' }),
    ]);

    await world.sandbox.admin.removeMember(group.id, b.user.id);
    await world.sandbox.admin.hardDeleteUser(c.user.id);
    const after = await p.sync();
    expect(after.status).toBe('SUCCEEDED');
    const ext = await p.extensionsByUser();
    expect(ext.has(b.user.id)).toBe(false);
    expect(ext.has(c.user.id)).toBe(false);
    for (const x of [b, c]) {
      expect((await held(p, owners.get(x.user.id) as ContactOwner, x.user.id)).size).toBe(0);
    }
    expect((await personalOf(p, a.user)).size).toBe(0);
  });
});
