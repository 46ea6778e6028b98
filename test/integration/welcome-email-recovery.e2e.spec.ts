import type { Agent } from 'undici';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { JobName, QueueName } from '../../jobs/contracts.js';
import { JobQueues } from '../../jobs/queues.js';
import { BullWelcomeEmailQueue } from '../../jobs/welcome-email.queue.js';
import type { WelcomeEmailQueue } from '../../src/app/ports/welcome-email.port.js';
import { type AppServices, syncDeps } from '../../src/app/services.js';
import { runSync } from '../../src/app/sync/sync-run.js';
import type { Gateway } from '../../src/gateway.js';
import { createRedis, waitUntilReady } from '../../src/redis/connection.js';
import type { Sandbox } from '../../src/sandbox/index.js';
import {
  SaveUserSyncRuleDocument,
  SyncNowDocument,
  SyncRunWelcomeEmailsDocument,
  UpdatePbxDocument,
} from '../generated/graphql.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';
import { gql, seedPbx, startTestGateway, uniquePrefix } from '../support/gateway.js';
import { connectIntegration, sandboxEnv, startTestSandbox } from '../support/sandbox.js';
import { startSmtpServer } from '../support/smtp.js';
import { eventually, staysTrue } from '../support/wait.js';
import { PbxClient, tag, USER_RULE } from './sync-world.js';

/**
 * U6, "nothing lost": a worker that dies after a run committed its extensions and before it
 * queued their welcome emails. The emails were recorded (QUEUED) in the transactions that
 * created the extensions; the sweep, run by the next worker at its start, queues them, and
 * each address receives exactly one message at a real SMTP server. Nothing is sent twice,
 * even once the finished jobs have left Redis.
 *
 * The dying worker is this test process: an API-only gateway takes the GraphQL calls (no
 * worker takes the run's job), and the test runs the run itself with the gateway's services,
 * but a mail queue that never queues (it "dies" right after the commit) and a clock ten
 * minutes back, so that the emails are past the sweep's grace period when a worker starts.
 */

describeEachDb('U6 welcome emails after a worker died between commit and enqueue', (leg) => {
  let db: TestDatabase;
  let sandbox: Sandbox;
  let agent: Agent;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let api: Gateway;
  let worker: Gateway | undefined;
  let pbx: PbxClient;
  let domain: string;
  const prefix = uniquePrefix('u6r');
  const runs: string[] = [];
  const warnings: string[] = [];

  const env = () => ({ ...sandboxEnv(sandbox), QUEUE_PREFIX: prefix, SMTP_URL: smtp.url });
  const tenMinutesAgo = () => new Date(Date.now() - 10 * 60_000);

  /** The mail queue of a worker that dies right after the commit: no job ever reaches Redis. */
  const diesBeforeEnqueue: WelcomeEmailQueue = { enqueue: async () => {} };

  /** The worker that dies: runs the run to its end, with the mail queue it is given. */
  async function runAndDie(runId: string, services: Partial<AppServices>) {
    const deps = syncDeps({ ...api.services, now: tenMinutesAgo, ...services }, api.openStore());
    return runSync(deps, pbx.pbxId, runId);
  }

  async function emailsOf(runId: string) {
    const data = await pbx.ok(SyncRunWelcomeEmailsDocument, { id: runId, first: 500 });
    const emails = data.syncRun?.welcomeEmails;
    if (!emails) throw new Error(`no run ${runId}`);
    return emails;
  }

  async function mailJobs() {
    return api.queues
      .queue(QueueName.Mail)
      .getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
  }

  beforeAll(async () => {
    db = await leg.create();
    ({ sandbox, agent } = await startTestSandbox({ autoSignIn: true, users: 12, groups: 2, seed: 61 }));
    domain = String((await sandbox.admin.info()).defaultDomain);
    smtp = await startSmtpServer();
    api = await startTestGateway(db, env(), 'api');
    await sandbox.admin.addRedirectUri(sandbox.info.clientId, `${api.url}/oauth/microsoft/callback`);
    const seeded = await seedPbx(api);
    await gql(api.url, seeded.keys.admin, UpdatePbxDocument, { input: { publicBaseUrl: api.url } });
    expect((await connectIntegration({ gateway: api, keys: seeded.keys }, sandbox, agent)).result).toBe(
      'CONNECTED',
    );
    pbx = new PbxClient(api.url, seeded.keys.admin, seeded.pbx.id);
  });
  afterAll(async () => {
    await agent?.close();
    await sandbox?.close();
    await worker?.stop();
    await api?.stop();
    await smtp?.close();
    await db?.drop();
  });

  it('U6: a run whose worker dies after the commit, before the enqueue: every created extension has its email on record, QUEUED, and no job', async () => {
    const saved = await pbx.ok(SaveUserSyncRuleDocument, { input: { ...USER_RULE, welcomeEmail: true } });
    const runId = saved.saveUserSyncRule.initialRun?.id as string;
    runs.push(runId);

    const run = await runAndDie(runId, { welcomeEmailQueue: diesBeforeEnqueue });
    expect(run.status, run.error ?? '').toBe('SUCCEEDED');
    const exts = (await pbx.extensions()).filter((e) => e.email);
    expect(exts.length).toBeGreaterThan(5);

    const emails = await emailsOf(runId);
    expect(emails.counts).toEqual({ queued: exts.length, sent: 0, failed: 0 });
    expect(new Set(emails.nodes.map((n) => n.extensionId))).toEqual(new Set(exts.map((e) => e.id)));
    expect(await mailJobs()).toEqual({ waiting: 0, active: 0, delayed: 0, completed: 0, failed: 0 });
    expect(smtp.messages).toHaveLength(0);
  });

  it('U6: a mail queue that refuses the jobs (its Redis connection is gone) fails neither the run nor the emails: they stay QUEUED', async () => {
    const local = `late.${tag()}`;
    await sandbox.admin.createUser({
      userPrincipalName: `${local}@${domain}`,
      displayName: 'Late Test',
      givenName: 'Late',
      surname: 'Test',
      mail: `${local}@${domain}`,
    });
    const runId = (await pbx.ok(SyncNowDocument, { scopes: ['USERS'] })).syncNow.id;
    runs.push(runId);

    const redis = createRedis(inject('redisUrl'), 'command');
    await waitUntilReady(redis, 2000);
    const gone = new JobQueues(redis, prefix);
    await gone.close();
    await redis.quit();
    const run = await runAndDie(runId, {
      welcomeEmailQueue: new BullWelcomeEmailQueue(gone),
      log: (_level, message, fields) => warnings.push(`${message} ${JSON.stringify(fields)}`),
    });
    expect(run.status, run.error ?? '').toBe('SUCCEEDED');
    expect(run.counts?.users.create).toBe(1);

    const emails = await emailsOf(runId);
    expect(emails.counts).toEqual({ queued: 1, sent: 0, failed: 0 });
    expect(emails.nodes[0]).toMatchObject({ status: 'QUEUED', attempts: 0, lastError: null });
    expect(warnings.join('\n')).toMatch(
      /could not be queued now; the sweep queues them later.*Connection is closed/,
    );
    expect(await mailJobs()).toEqual({ waiting: 0, active: 0, delayed: 0, completed: 0, failed: 0 });
  });

  it('U6: the next worker sweeps them into the mail queue at its start: each address receives exactly one email', async () => {
    worker = await startTestGateway(db, env(), 'worker');
    const exts = (await pbx.extensions()).filter((e) => e.email);
    await eventually(
      async () => {
        const counts = await Promise.all(runs.map(async (id) => (await emailsOf(id)).counts));
        expect(counts.filter((c) => c.queued > 0)).toEqual([]);
      },
      { timeout: 30_000, interval: 100, message: 'no welcome email left QUEUED' },
    );
    for (const id of runs) {
      const emails = await emailsOf(id);
      expect(emails.counts.failed).toBe(0);
      for (const n of emails.nodes) expect(n).toMatchObject({ status: 'SENT', attempts: 1, lastError: null });
    }
    expect(smtp.messages).toHaveLength(exts.length);
    for (const e of exts) expect(smtp.to(e.email as string), e.email as string).toHaveLength(1);
  });

  it('U6: the sweep run again, after the finished jobs have left Redis, sends nothing more', async () => {
    const mail = (worker as Gateway).queues.queue(QueueName.Mail);
    const before = smtp.messages.length;
    await mail.clean(0, 10_000, 'completed');
    expect((await mailJobs()).completed).toBe(0);

    const system = (worker as Gateway).queues.queue(QueueName.System);
    const { id } = await (worker as Gateway).queues.enqueue(JobName.RequeueWelcomeEmails, {});
    await eventually(async () => (await system.getJob(id))?.isCompleted(), {
      message: 'the sweep to finish',
    });
    expect((await system.getJob(id))?.returnvalue).toEqual({ requeued: 0 });
    await staysTrue(
      async () => {
        expect(await mailJobs()).toEqual({ waiting: 0, active: 0, delayed: 0, completed: 0, failed: 0 });
        expect(smtp.messages).toHaveLength(before);
      },
      { for: 300, message: 'no mail job and no email after the sweep' },
    );
  });
});
