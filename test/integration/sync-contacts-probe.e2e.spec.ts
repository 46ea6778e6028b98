import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { FOLDER_CHECK_MS } from '../../src/app/sync/contact-probe.js';
import { ContactFolderCursorRow } from '../../src/store/entities/index.js';
import { openDatabase } from '../../src/store/orm.js';
import type { ContactSyncRuleInput } from '../generated/graphql.js';
import { SaveContactSyncRuleDocument } from '../generated/graphql.js';
import { describeEachDb } from '../support/db.js';
import { adminUpn } from '../support/sandbox.js';
import { type PbxClient, type Run, type SyncWorld, startSyncWorld } from './sync-world.js';

/**
 * The run's batched probe of the mailboxes it synced before (C1–C3, issue 13's request budget):
 * every folder's stored delta link is one sub-request of a `$batch` of 20, sent from the run; a
 * mailbox job is fanned out only where the probe could not settle the mailbox. Counted at the
 * sandbox, which counts each HTTP request and each item of a batch.
 */
const RULE: ContactSyncRuleInput = {
  personalEnabled: true,
  personalRange: 'ALL' as ContactSyncRuleInput['personalRange'],
  sharedEnabled: true,
  sharedRange: 'SPECIFIC' as ContactSyncRuleInput['sharedRange'],
  phonebookName: 'Shared',
};

const DELTA = /^GET \/users\/[^/]+\/contactFolders\/[^/]+\/contacts\/delta$/;
/** A mailbox job's first request: its default Contacts folder by well-known name. */
const JOB_START = /^GET \/users\/[^/]+\/contactFolders\/contacts$/;

const sum = (stats: Record<string, number>, re: RegExp) =>
  Object.entries(stats)
    .filter(([k]) => re.test(k))
    .reduce((n, [, v]) => n + v, 0);

describeEachDb(
  'contact sync: a run probes the known folders in $batch and fans out only what changed',
  (leg) => {
    let world: SyncWorld;
    let adminId: string;
    beforeAll(async () => {
      world = await startSyncWorld(leg, {
        users: 30,
        groups: 2,
        seed: 31,
        contactsPerUser: 3,
        sharedMailboxes: 1,
        contactsPerMailbox: 5,
        // Every seeded user shared their Contacts folder with the account that connects (C2).
        shareContactsWithAdmin: true,
      });
      adminId = (await world.sandbox.admin.getUser(await adminUpn(world.sandbox))).id;
    }, 120_000);
    afterEach(async () => {
      await world.sandbox.admin.resetMailboxThrottling();
      await world.cleanup();
    });
    afterAll(async () => world?.close());

    /** A PBX with users synced and a first contact sync done (every mailbox through its job). */
    async function synced(): Promise<{ p: PbxClient; folders: number; mailboxes: number }> {
      const p = await world.pbx();
      await p.saveUserRule({ range: 'ALL' });
      // The seeded shared mailbox (the tenant's disabled employees would be candidates under ALL).
      const sharedMailboxIds = (await world.sandbox.admin.listSharedMailboxes()).map((m) => m.userId);
      const data = await p.ok(SaveContactSyncRuleDocument, { input: { ...RULE, sharedMailboxIds } });
      const first = await p.wait(data.saveContactSyncRule.initialRun?.id as string);
      expect(first.status).toBe('SUCCEEDED');
      const store = world.gateway.openStore();
      const boxes = await store.contactSync.syncedMailboxes(p.pbxId);
      const cursors = await store.contactSync.folderCursorsOf(
        p.pbxId,
        boxes.map((b) => b.mailboxId),
      );
      expect(cursors.every((c) => c.deltaLink)).toBe(true);
      return { p, folders: cursors.length, mailboxes: boxes.length };
    }

    async function syncCounted(
      p: PbxClient,
    ): Promise<{ run: Run; stats: Awaited<ReturnType<SyncWorld['sandbox']['admin']['stats']>> }> {
      await world.sandbox.admin.resetStats();
      const run = await p.sync(['CONTACTS']);
      return { run, stats: await world.sandbox.admin.stats() };
    }

    it('C1 C3 first sync (issue 13 item 4): every mailbox is read in the run through $batch, its folder list and first pages included, with no mailbox job', async () => {
      await world.sandbox.admin.resetStats();
      const { folders, mailboxes } = await synced();
      const stats = await world.sandbox.admin.stats();
      // No mailbox job: no default folder read, no folder listed and no folder read outside a batch
      // (every seeded folder holds less than one page).
      expect(sum(stats.graphByPath, JOB_START)).toBe(0);
      expect(sum(stats.graphByPath, /^GET \/users\/[^/]+\/contactFolders$/)).toBe(0);
      expect(sum(stats.graphByPath, DELTA)).toBe(0);
      // In the batches: each folder's first page, and each readable mailbox's folder list.
      expect(sum(stats.batchItemsByPath, DELTA)).toBe(folders);
      expect(sum(stats.batchItemsByPath, /^GET \/users\/[^/]+\/contactFolders$/)).toBe(mailboxes);
      const items = Object.values(stats.batchItemsByPath).reduce((n, v) => n + v, 0);
      expect(stats.graphByPath['POST /$batch']).toBeLessThanOrEqual(Math.ceil(items / 20) + 4);
    });

    it('C1 no change: the re-sync costs ⌈folders / 20⌉ $batch requests of delta probes and fans out no mailbox job', async () => {
      const { p, folders, mailboxes } = await synced();
      expect(mailboxes).toBeGreaterThan(20);
      const { run, stats } = await syncCounted(p);
      expect(run.status).toBe('SUCCEEDED');
      // Mailboxes the account cannot read (no Exchange mailbox, a guest) have no cursor: one
      // sub-request each for their default folder, answered 404 / 403, reported without a job.
      const roots = sum(stats.batchItemsByPath, JOB_START);
      expect(stats.graphByPath['POST /$batch']).toBe(Math.ceil((folders + roots) / 20));
      expect(sum(stats.batchItemsByPath, DELTA)).toBe(folders);
      // No mailbox job: no folder read outside a batch, no folder listed.
      expect(sum(stats.graphByPath, DELTA)).toBe(0);
      expect(sum(stats.graphByPath, JOB_START)).toBe(0);
      // Reported: only the mailboxes it could not read, as in the first run (C4-style reasons:
      // not shared is a FAIL, no Exchange mailbox a SKIP).
      const rows = (await p.items(run.id)).filter((i) => i.scope === 'CONTACT');
      expect(rows).toHaveLength(roots);
      for (const r of rows)
        expect([`${r.action} ${r.reason}`]).toEqual([
          expect.stringMatching(/^(FAIL ACCESS_DENIED|SKIP NO_MAILBOX)$/),
        ]);
      const failed = rows.filter((r) => r.action === 'FAIL').length;
      expect(run.contacts).toMatchObject({ created: 0, updated: 0, deleted: 0, failed });
    });

    it('C1 a changed mailbox is synced from the page its probe read: its change lands, the others cost nothing more', async () => {
      const { p, folders } = await synced();
      const boxes = await world.gateway.openStore().contactSync.syncedMailboxes(p.pbxId);
      const personal = boxes.find((b) => b.kind === 'PERSONAL' && b.mailboxId !== adminId);
      const userId = personal?.mailboxId as string;
      const added = await world.sandbox.admin.createContact(userId, {
        givenName: 'Probe',
        surname: 'Added',
        businessPhones: ['+44 20 7946 0555'],
      });
      const { run, stats } = await syncCounted(p);
      expect(run.status).toBe('SUCCEEDED');
      expect(run.contacts).toMatchObject({ created: 1 });
      const owner = personal?.owner as Parameters<
        ReturnType<SyncWorld['gateway']['openStore']>['contacts']['syncedKeys']
      >[1];
      const [folder] = await world.sandbox.admin.listContactFolders(userId);
      const held = await world.gateway
        .openStore()
        .contacts.syncedKeys(p.pbxId, owner, { mailboxId: userId, folderId: folder.id });
      expect(held.has(added.id)).toBe(true);
      // The probes, plus one listing of the changed mailbox's folders (C2: new folders); the change
      // itself came in the probe's page: no delta read outside the batches, no job.
      expect(sum(stats.batchItemsByPath, DELTA)).toBe(folders);
      expect(sum(stats.graphByPath, DELTA)).toBe(0);
      expect(sum(stats.graphByPath, JOB_START)).toBe(0);
      const roots = sum(stats.batchItemsByPath, JOB_START);
      expect(stats.graphByPath['POST /$batch']).toBe(Math.ceil((folders + roots) / 20) + 1);
      expect((await p.items(run.id)).filter((i) => i.scope === 'CONTACT' && i.objectId === userId)).toEqual([
        expect.objectContaining({ action: 'UPDATE', reason: 'SYNCED' }),
      ]);
    });

    it('C2 a folder unshared answers its probe 403: its contacts go in the run, with a FAIL row, and no job is fanned out', async () => {
      const { p } = await synced();
      const store = world.gateway.openStore();
      const boxes = await store.contactSync.syncedMailboxes(p.pbxId);
      const personal = boxes.find((b) => b.kind === 'PERSONAL' && b.mailboxId !== adminId);
      const userId = personal?.mailboxId as string;
      const owner = personal?.owner as Parameters<typeof store.contacts.syncedKeys>[1];
      const [folder] = await world.sandbox.admin.listContactFolders(userId);
      const ref = { mailboxId: userId, folderId: folder.id };
      expect((await store.contacts.syncedKeys(p.pbxId, owner, ref)).size).toBeGreaterThan(0);
      await world.sandbox.admin.unshareContactFolder(userId, 'contacts', adminId);
      try {
        const { run, stats } = await syncCounted(p);
        expect(run.status).toBe('SUCCEEDED');
        expect((await world.gateway.openStore().contacts.syncedKeys(p.pbxId, owner, ref)).size).toBe(0);
        expect((await p.items(run.id)).filter((i) => i.scope === 'CONTACT' && i.objectId === userId)).toEqual(
          [
            expect.objectContaining({
              action: 'FAIL',
              reason: 'ACCESS_DENIED',
              detail: expect.stringMatching(/not shared/),
            }),
          ],
        );
        expect(sum(stats.graphByPath, JOB_START)).toBe(0);
      } finally {
        await world.sandbox.admin.shareContactFolder(userId, 'contacts', adminId);
      }
    });

    it('a probe throttled on its own inside a $batch (429 MailboxConcurrency, Retry-After 2) is sent again after 2 s, not given up, and no job is needed', async () => {
      // The shared mailbox (the admin is a member: it reads the whole mailbox) has a second folder.
      const [shared] = await world.sandbox.admin.listSharedMailboxes();
      await world.sandbox.admin.createContactFolder(shared.userId, `Suppliers ${Date.now()}`);
      const { p, folders } = await synced();
      const cursors = await world.gateway.openStore().contactSync.folderCursorsOf(p.pbxId, [shared.userId]);
      expect(cursors).toHaveLength(2);

      // One request at a time per mailbox: its two probes in one batch run in parallel, one is refused.
      await world.sandbox.admin.setMailboxThrottling({ concurrency: 1, concurrencyRetryAfterSeconds: 2 });
      const { run, stats } = await syncCounted(p);
      expect(run.status).toBe('SUCCEEDED');
      expect(stats.throttled).toBeGreaterThanOrEqual(1);
      // Each folder probed once: the refused probe was answered 429 before it ran, and ran when
      // sent again, after its Retry-After.
      expect(sum(stats.batchItemsByPath, DELTA)).toBe(folders);
      expect(
        Date.parse(run.finishedAt as string) - Date.parse(run.startedAt as string),
      ).toBeGreaterThanOrEqual(2000);
      expect(sum(stats.graphByPath, JOB_START)).toBe(0);
      expect(run.contacts).toMatchObject({ created: 0, updated: 0, deleted: 0 });
    });

    it("C2 C3 a new folder is found when the mailbox's folder list is older than FOLDER_CHECK_MS: listed in the batches, then read by its job", async () => {
      const { p } = await synced();
      const [shared] = await world.sandbox.admin.listSharedMailboxes();
      const folder = await world.sandbox.admin.createContactFolder(shared.userId, `Partners ${Date.now()}`);
      const added = await world.sandbox.admin.createContact(
        shared.userId,
        { givenName: 'Nina', surname: 'Newfolder', businessPhones: ['+44 20 7946 0777'] },
        folder.id,
      );
      // The shared mailbox's folders were last listed long ago (its cursors say when).
      const orm = await openDatabase(world.db.config, { migrate: false });
      try {
        await orm.em
          .fork()
          .nativeUpdate(
            ContactFolderCursorRow,
            { mailboxId: shared.userId },
            { updatedAt: new Date(Date.now() - FOLDER_CHECK_MS - 60_000) },
          );
      } finally {
        await orm.close(true);
      }
      const { run, stats } = await syncCounted(p);
      expect(run.status).toBe('SUCCEEDED');
      // One folder list in the batches (only this mailbox is due), then its job reads the new folder.
      expect(sum(stats.batchItemsByPath, /^GET \/users\/[^/]+\/contactFolders$/)).toBe(1);
      expect(sum(stats.graphByPath, JOB_START)).toBe(1);
      const store = world.gateway.openStore();
      const [book] = (await store.contactSync.syncedMailboxes(p.pbxId)).filter(
        (b) => b.mailboxId === shared.userId,
      );
      const held = await store.contacts.syncedKeys(p.pbxId, book.owner, {
        mailboxId: shared.userId,
        folderId: folder.id,
      });
      expect([...held.keys()]).toEqual([added.id]);
    });
  },
);
