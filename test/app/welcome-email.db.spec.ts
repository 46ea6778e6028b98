import { randomUUID } from 'node:crypto';
import { Worker } from 'bullmq';
import pino from 'pino';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { QueueName } from '../../jobs/contracts.js';
import { JobQueues } from '../../jobs/queues.js';
import { BullWelcomeEmailQueue, welcomeEmailJobId } from '../../jobs/welcome-email.queue.js';
import { createPbx } from '../../src/app/pbx.js';
import type { Store } from '../../src/app/ports/store.port.js';
import type { WelcomeEmailJob } from '../../src/app/ports/welcome-email.port.js';
import { applyBatch } from '../../src/app/sync/sync-run.js';
import { userSyncKind } from '../../src/app/sync/user-sync.kind.js';
import {
  queueRunWelcomeEmails,
  requeueWelcomeEmails,
  WELCOME_EMAIL_REQUEUE_AFTER_MS,
} from '../../src/app/welcome-email.js';
import type { UserPlanItem } from '../../src/domain/sync-plan.types.js';
import { createRedis } from '../../src/redis/connection.js';
import { type Orm, openDatabase } from '../../src/store/orm.js';
import { openStore } from '../../src/store/store.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';
import { uniquePrefix } from '../support/gateway.js';

/**
 * U6, nothing lost, at the unit-of-work level: a created extension and its welcome-email row
 * commit together or not at all (the batch the sync applies in one transaction), and the
 * sweep queues again only what is still QUEUED, a page at a time, one job per email however
 * often it runs. Real database (SQLite and PostgreSQL) and real Redis (BullMQ).
 */

const logger = pino({ level: 'silent' });

function createItem(n: number, opts: { email?: boolean; welcome?: boolean } = {}): UserPlanItem {
  const number = String(2000 + n);
  return {
    action: 'CREATE',
    reason: 'NEW_USER',
    userId: randomUUID(),
    displayName: `User ${n}`,
    userPrincipalName: `user${n}@contoso.test`,
    extensionId: null,
    number,
    detail: null,
    extension: {
      number,
      firstName: 'User',
      lastName: String(n),
      email: opts.email === false ? null : `user${n}.${number}@contoso.test`,
      mobileNumber: null,
      jobTitle: null,
    },
    sendWelcomeEmail: opts.welcome ?? true,
  };
}

/** One batch of the users kind, as the run pipeline applies it (extensions, report rows, welcome emails). */
function applyUserBatch(
  tx: Store,
  pbxId: string,
  runId: string,
  items: UserPlanItem[],
  firstSeq: number,
  now: Date,
) {
  return applyBatch(tx, userSyncKind, { pbxId, runId, now }, items, firstSeq);
}

describeEachDb('U6 welcome emails: recorded with their extensions, swept when never queued', (leg) => {
  let db: TestDatabase;
  let orm: Orm;
  let store: Store;
  let pbxId: string;
  const redis = createRedis(inject('redisUrl'), 'command', logger);
  const prefix = uniquePrefix('u6');
  const queues = new JobQueues(redis, prefix);
  const mail = new BullWelcomeEmailQueue(queues);
  const mailQueue = queues.queue(QueueName.Mail);

  const newRun = async () =>
    (await store.sync.createRun({ pbxId, trigger: 'MANUAL', scopes: ['USERS'], queuedAt: new Date() })).id;
  const rowsOf = async (runId: string) =>
    (await store.welcomeEmails.page(pbxId, runId, {}, { first: 500 })).edges.map((e) => e.node);
  const jobsInRedis = async () =>
    (await mailQueue.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed'])).filter(Boolean);

  beforeAll(async () => {
    db = await leg.create();
    orm = await openDatabase(db.config);
    store = openStore(orm, () => new Date());
    pbxId = (await createPbx(store, { name: 'U6 PBX', extensionCapacity: 1000 })).id;
  });
  afterAll(async () => {
    await mailQueue.obliterate({ force: true }).catch(() => undefined);
    await queues.close();
    await redis.quit();
    await orm?.close(true);
    await db?.drop();
  });

  it('U6: a batch commits each created extension with one QUEUED welcome-email row (none without an email or with welcome off)', async () => {
    const runId = await newRun();
    const items = [
      createItem(1),
      createItem(2),
      createItem(3, { email: false }),
      createItem(4, { welcome: false }),
    ];
    const now = new Date(Date.now() - 1000);
    await store.transactional((tx) => applyUserBatch(tx, pbxId, runId, items, 0, now));

    const exts = new Map((await store.directory.listExtensions(pbxId)).map((e) => [e.externalId, e]));
    const rows = await rowsOf(runId);
    expect(rows).toHaveLength(2);
    for (const [i, item] of items.slice(0, 2).entries()) {
      const ext = exts.get(item.userId);
      expect(ext, item.userId).toBeTruthy();
      expect(rows[i]).toMatchObject({
        extensionId: ext?.id,
        number: item.number,
        name: `User ${i + 1}`,
        status: 'QUEUED',
        attempts: 0,
        recipient: null,
        queuedAt: now,
      });
    }
    // Recording the same email again (a retried batch) keeps the one row.
    await store.welcomeEmails.record(rows.map((r) => ({ ...r, queuedAt: new Date() })));
    expect(await rowsOf(runId)).toEqual(rows);
  });

  it('U6: once committed, the run queues every email it recorded, those of an earlier part of it (before its worker died) included; ids only', async () => {
    await mailQueue.obliterate({ force: true });
    const runId = await newRun();
    const other = await newRun();
    // The first part of the run, committed by a worker that then died; then the resumed part.
    await store.transactional((tx) =>
      applyUserBatch(tx, pbxId, runId, [createItem(41), createItem(42)], 0, new Date()),
    );
    await store.transactional((tx) => applyUserBatch(tx, pbxId, other, [createItem(43)], 0, new Date()));
    await store.transactional((tx) => applyUserBatch(tx, pbxId, runId, [createItem(44)], 2, new Date()));

    expect(await queueRunWelcomeEmails({ store, queue: mail }, pbxId, runId, { pageSize: 2 })).toEqual({
      queued: 3,
      error: null,
    });
    const rows = await rowsOf(runId);
    const jobs = await jobsInRedis();
    expect(jobs.map((j) => j.id).sort()).toEqual(rows.map((r) => welcomeEmailJobId(r)).sort());
    for (const j of jobs) {
      expect(j.name).toBe('welcome-email');
      expect(j.data).toEqual({ pbxId, runId, extensionId: expect.any(String) });
    }
    // Queued again (the run retried): the jobs exist, nothing is added.
    await queueRunWelcomeEmails({ store, queue: mail }, pbxId, runId);
    expect(await jobsInRedis()).toHaveLength(3);
  });

  it('U6: a batch rolled back after it applied (the process died mid-transaction) leaves neither extension nor welcome row', async () => {
    const runId = await newRun();
    const before = await store.directory.countExtensions(pbxId);
    const items = [createItem(11), createItem(12)];
    await expect(
      store.transactional(async (tx) => {
        await applyUserBatch(tx, pbxId, runId, items, 0, new Date());
        throw new Error('worker killed before the commit');
      }),
    ).rejects.toThrow('worker killed');
    expect(await store.directory.countExtensions(pbxId)).toBe(before);
    expect(await rowsOf(runId)).toEqual([]);
    expect(await store.sync.maxSeq(runId)).toBe(-1);
  });

  it('U6: an extension insert that fails (number taken since the plan) rolls back the welcome rows of the whole batch', async () => {
    const runId = await newRun();
    const items = [createItem(21), createItem(22)];
    // Someone created extension 2022 by hand after the plan was made.
    await store.directory.createExtension(pbxId, {
      number: '2022',
      firstName: 'Manual',
      lastName: 'Ext',
      email: null,
      mobileNumber: null,
      jobTitle: null,
    });
    const before = await store.directory.countExtensions(pbxId);
    await expect(
      store.transactional((tx) => applyUserBatch(tx, pbxId, runId, items, 0, new Date())),
    ).rejects.toThrow(/unique|duplicate/i);
    expect(await store.directory.countExtensions(pbxId)).toBe(before);
    expect(await rowsOf(runId)).toEqual([]);
  });

  it('U6: a welcome row that cannot be written (its run is gone) rolls the extension back with it', async () => {
    const before = await store.directory.countExtensions(pbxId);
    await expect(
      store.transactional((tx) => applyUserBatch(tx, pbxId, randomUUID(), [createItem(31)], 0, new Date())),
    ).rejects.toThrow(/foreign key/i);
    expect(await store.directory.countExtensions(pbxId)).toBe(before);
  });

  it('U6 sweep: queues again only QUEUED emails past the grace period, a page at a time, ids only, one job each however often it runs', async () => {
    const runId = await newRun();
    const now = new Date();
    const old = new Date(now.getTime() - WELCOME_EMAIL_REQUEUE_AFTER_MS - 1000);
    const young = new Date(now.getTime() - 10_000);
    const ext = () => randomUUID();
    const stale = [ext(), ext(), ext(), ext(), ext()];
    const [fresh, sent, failed] = [ext(), ext(), ext()];
    await store.welcomeEmails.record([
      ...stale.map((extensionId, i) => ({
        pbxId,
        runId,
        extensionId,
        number: `30${i}`,
        name: 'Old',
        queuedAt: old,
      })),
      { pbxId, runId, extensionId: fresh, number: '310', name: 'Young', queuedAt: young },
      { pbxId, runId, extensionId: sent, number: '311', name: 'Sent', queuedAt: old },
      { pbxId, runId, extensionId: failed, number: '312', name: 'Failed', queuedAt: old },
    ]);
    const byExt = new Map((await rowsOf(runId)).map((r) => [r.extensionId, r]));
    await store.welcomeEmails.update(byExt.get(sent)?.id as string, {
      status: 'SENT',
      sentAt: now,
      attempts: 1,
    });
    await store.welcomeEmails.update(byExt.get(failed)?.id as string, { status: 'FAILED', attempts: 5 });
    await mailQueue.obliterate({ force: true });
    // Rows of the earlier tests are QUEUED too, but young: left to their run.

    // The repository pages: never more than asked, in id order, after the cursor.
    const page1 = await store.welcomeEmails.pageQueued(
      { queuedBefore: new Date(now.getTime() - WELCOME_EMAIL_REQUEUE_AFTER_MS) },
      null,
      2,
    );
    expect(page1.map((r) => r.extensionId)).toEqual(stale.slice(0, 2));
    const page2 = await store.welcomeEmails.pageQueued(
      { queuedBefore: new Date(now.getTime() - WELCOME_EMAIL_REQUEUE_AFTER_MS) },
      page1[1].id,
      2,
    );
    expect(page2.map((r) => r.extensionId)).toEqual(stale.slice(2, 4));

    const deps = { store, queue: mail, now: () => now };
    expect(await requeueWelcomeEmails(deps, { pageSize: 2 })).toEqual({ requeued: 5 });
    const expected = stale.map((extensionId) => ({ pbxId, runId, extensionId }) as WelcomeEmailJob);
    const jobs = await jobsInRedis();
    expect(jobs.map((j) => j.id).sort()).toEqual(expected.map(welcomeEmailJobId).sort());
    for (const j of jobs) {
      expect(j.name).toBe('welcome-email');
      expect(Object.keys(j.data).sort()).toEqual(['extensionId', 'pbxId', 'runId']);
    }

    // Again, and twice at once (two worker processes): the jobs exist, nothing is added.
    await Promise.all([requeueWelcomeEmails(deps, { pageSize: 2 }), requeueWelcomeEmails(deps)]);
    expect(await jobsInRedis()).toHaveLength(5);
    expect(await mailQueue.getJobCountByTypes('waiting')).toBe(5);
  });

  it('U6 sweep: an email whose job finished and left Redis is not queued again (its row is SENT or FAILED)', async () => {
    await mailQueue.obliterate({ force: true });
    const runId = await newRun();
    const old = new Date(Date.now() - WELCOME_EMAIL_REQUEUE_AFTER_MS - 1000);
    const extensionId = randomUUID();
    await store.welcomeEmails.record([
      { pbxId, runId, extensionId, number: '400', name: 'Done', queuedAt: old },
    ]);
    const row = await store.welcomeEmails.get(pbxId, runId, extensionId);
    await store.welcomeEmails.update(row?.id as string, { status: 'SENT', sentAt: new Date(), attempts: 1 });
    // Every other QUEUED row of this database is settled too, as a worker would have.
    for (const r of await store.welcomeEmails.pageQueued({ queuedBefore: new Date() }, null, 1000))
      await store.welcomeEmails.update(r.id, { status: 'FAILED' });

    expect(await requeueWelcomeEmails({ store, queue: mail, now: () => new Date() })).toEqual({
      requeued: 0,
    });
    expect(await jobsInRedis()).toEqual([]);
  });
  it('U6 sweep: a job that failed for good before recording any outcome (database down on its last attempt) is tried again', async () => {
    await mailQueue.obliterate({ force: true });
    for (const r of await store.welcomeEmails.pageQueued({ queuedBefore: new Date() }, null, 1000))
      await store.welcomeEmails.update(r.id, { status: 'FAILED' });
    const runId = await newRun();
    const extensionId = randomUUID();
    const old = new Date(Date.now() - WELCOME_EMAIL_REQUEUE_AFTER_MS - 1000);
    await store.welcomeEmails.record([
      { pbxId, runId, extensionId, number: '401', name: 'Stuck', queuedAt: old },
    ]);
    const oneAttempt = new BullWelcomeEmailQueue(queues, { attempts: 1, delayMs: 0 });
    await oneAttempt.enqueue([{ pbxId, runId, extensionId }]);

    // Its only attempt throws before the row is touched, as with the database unreachable.
    const blocking = createRedis(inject('redisUrl'), 'blocking', logger);
    const failed = new Promise<void>((resolve) => {
      const worker = new Worker(
        QueueName.Mail,
        async () => {
          throw new Error('database unreachable');
        },
        { connection: blocking, prefix },
      );
      worker.on('failed', () => void worker.close().then(() => resolve()));
    });
    await failed;
    await blocking.quit();
    const id = welcomeEmailJobId({ runId, extensionId });
    expect(await mailQueue.getJobState(id)).toBe('failed');
    expect((await store.welcomeEmails.get(pbxId, runId, extensionId))?.status).toBe('QUEUED');

    // The sweep finds it QUEUED and its job failed: the job goes back to wait, attempts reset.
    expect(await requeueWelcomeEmails({ store, queue: oneAttempt, now: () => new Date() })).toEqual({
      requeued: 1,
    });
    expect(await mailQueue.getJobState(id)).toBe('waiting');
    expect((await mailQueue.getJob(id))?.attemptsMade).toBe(0);
  });
});
