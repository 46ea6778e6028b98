import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/orm.js';
import {
  SaveContactSyncRuleDocument,
  SaveUserSyncRuleDocument,
  SyncRunDocument,
} from '../generated/graphql.js';
import { describeEachDb } from '../support/db.js';
import { type E2e, startE2e } from '../support/e2e.js';
import { gql, uniquePrefix } from '../support/gateway.js';
import { adminUpn, allExtensions, runItems, startWorkerProcess, waitForRun } from '../support/sandbox.js';
import { eventually } from '../support/wait.js';

/** Contacts in the authorization account's own mailbox (readable without sharing): 30 pages of 200. */
const CONTACTS = 6000;

describeEachDb(
  'a worker killed mid contact sync: the resumed run leaves no duplicate and no gap (C1, C4)',
  (leg) => {
    let w: E2e;
    let orm: Awaited<ReturnType<typeof openDatabase>>;
    const workers: Array<Awaited<ReturnType<typeof startWorkerProcess>>> = [];
    const prefix = uniquePrefix('killc');
    const startWorker = async () => {
      const proc = await startWorkerProcess(w.db, w.sandbox, prefix);
      workers.push(proc);
      return proc;
    };

    beforeAll(async () => {
      // The API here; the runs and mailbox jobs execute in worker processes of their own.
      w = await startE2e({
        leg,
        sandbox: { users: 5, groups: 1, seed: 23, contactsPerUser: CONTACTS },
        env: { QUEUE_PREFIX: prefix },
        role: 'api',
      });
      orm = await openDatabase(w.db.config);
    }, 120_000);
    afterAll(async () => {
      for (const p of workers) p.child.kill('SIGKILL');
      await orm?.close(true);
      await w?.close();
    });

    /** The contact rows an extension holds, and how many distinct Outlook contacts they are. */
    const rowsOf = async (extensionId: string) => {
      const [r] = (await orm.em
        .fork()
        .getConnection()
        .execute(
          'select count(*) as n, count(distinct source_contact_id) as d from contact where extension_id = ?',
          [extensionId],
        )) as Array<{ n: number | string; d: number | string }>;
      return { rows: Number(r.n), distinct: Number(r.d) };
    };

    it('killed while pages are being written, the run started again holds every complete contact once and reports the rest once (C4)', async () => {
      await startWorker();
      const users = await gql(w.gateway.url, w.keys.admin, SaveUserSyncRuleDocument, {
        input: {
          range: 'ALL',
          numbering: 'AUTO',
          startNumber: '1000',
          autoDelete: true,
          deleteWhenDisabled: true,
          deleteWhenDeleted: true,
          autoAssociate: false,
          welcomeEmail: false,
        },
      });
      const usersRun = users.body.data?.saveUserSyncRule.initialRun?.id as string;
      expect((await waitForRun(w.gateway.url, w.keys.admin, usersRun, 60_000)).status).toBe('SUCCEEDED');
      const adminUser = await w.sandbox.admin.getUser(await adminUpn(w.sandbox));
      const adminId = adminUser.id;
      const ext = (await allExtensions(w.gateway.url, w.keys.admin)).find((e) => e.externalId === adminId);
      expect(ext).toBeDefined();
      const extensionId = ext?.id as string;

      const saved = await gql(w.gateway.url, w.keys.admin, SaveContactSyncRuleDocument, {
        input: { personalEnabled: true, sharedEnabled: false },
      });
      const runId = saved.body.data?.saveContactSyncRule.initialRun?.id as string;
      expect(runId, JSON.stringify(saved.body.errors)).toBeDefined();
      // Kill the worker (SIGKILL: no clean-up at all) once some pages of the mailbox are in and others not.
      await eventually(
        async () => {
          const run = (await gql(w.gateway.url, w.keys.admin, SyncRunDocument, { id: runId, first: 1 })).body
            .data?.syncRun;
          // A run that ended already can never come to the moment waited for.
          expect(run?.status).not.toBe('SUCCEEDED');
          const { rows } = await rowsOf(extensionId);
          return rows > 0 && rows < CONTACTS / 2;
        },
        { timeout: 120_000, interval: 10, message: 'some pages of the mailbox to be in, and others not' },
      );
      const first = workers[0];
      first.child.kill('SIGKILL');
      await first.exited;
      const partial = await rowsOf(extensionId);

      await startWorker();
      const run = await waitForRun(w.gateway.url, w.keys.admin, runId, 120_000);
      expect(run.status, run.error ?? '').toBe('SUCCEEDED');
      const held = await rowsOf(extensionId);
      expect(partial.rows).toBeLessThan(held.rows);
      // No duplicate: one row per Outlook contact, and the run counts each creation once.
      expect(held.rows).toBe(held.distinct);
      expect(run.contacts?.created).toBe(held.rows);
      // No gap: every contact of the mailbox is held, or reported as incomplete (C4).
      const c4Rows = (await runItems(w.gateway.url, w.keys.admin, runId, 'SKIP')).filter(
        (i) => i.scope === 'CONTACT' && (i.reason === 'NO_NAME' || i.reason === 'NO_PHONE'),
      );
      const skipped = new Set(c4Rows.map((i) => i.objectId));
      expect(skipped.size).toBeGreaterThan(0);
      expect(held.rows + skipped.size).toBe(CONTACTS);
      // C4 exact after the resume: the pages replayed do not report or count a contact again.
      expect(c4Rows.length).toBe(skipped.size);
      expect(run.contacts?.skipped).toBe(skipped.size);
      // The mailbox's own row counts both parts of its job, before the kill and after.
      const synced = (await runItems(w.gateway.url, w.keys.admin, runId, 'UPDATE')).filter(
        (i) => i.scope === 'CONTACT' && i.objectId === adminId,
      );
      expect(synced).toEqual([
        expect.objectContaining({
          reason: 'SYNCED',
          objectName: adminUser.displayName,
          userPrincipalName: adminUser.mail ?? adminUser.userPrincipalName,
        }),
      ]);
      expect(JSON.parse(synced[0]?.changes ?? '{}')).toMatchObject({
        create: held.rows,
        skip: skipped.size,
      });
    }, 300_000);
  },
);
