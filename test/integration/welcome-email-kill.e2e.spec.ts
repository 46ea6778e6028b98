import type { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueueName } from '../../jobs/contracts.js';
import type { Sandbox } from '../../src/sandbox/index.js';
import {
  SaveUserSyncRuleDocument,
  SyncRunDocument,
  SyncRunWelcomeEmailsDocument,
  UpdatePbxDocument,
} from '../generated/graphql.js';
import { createSqliteDatabase, type TestDatabase } from '../support/db.js';
import { gql, uniquePrefix } from '../support/gateway.js';
import {
  allExtensions,
  connectIntegration,
  startGatewayWithSandbox,
  startTestSandbox,
  startWorkerProcess,
  waitForRun,
} from '../support/sandbox.js';
import { startSmtpServer } from '../support/smtp.js';
import { eventually } from '../support/wait.js';

/**
 * U6, "nothing lost", with a real process death (the kill-worker style of
 * kill-worker.e2e.spec.ts): a worker process is SIGKILLed after the initial sync committed its
 * extensions and their welcome emails, and before it queued any job (while it writes the
 * snapshot of a 20,000-user directory, of which a group of 120 are in range). The next worker
 * resumes the run, which queues the emails its first part recorded; every address gets
 * exactly one email.
 * The worker runs as `node --import tsx` (startScript): SIGKILL to a tsx wrapper
 * would leave the worker itself running.
 */
describe('U6 welcome emails when the worker is killed mid-sync', () => {
  let db: TestDatabase;
  let sandbox: Sandbox;
  let agent: Agent;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let w: Awaited<ReturnType<typeof startGatewayWithSandbox>>;
  const workers: Array<Awaited<ReturnType<typeof startWorkerProcess>>> = [];
  const prefix = uniquePrefix('u6kill');
  let env: Record<string, string> = {};

  const startWorker = async () => {
    const proc = await startWorkerProcess(db, sandbox, prefix, env);
    workers.push(proc);
    return proc;
  };
  const emails = async (runId: string) =>
    (await gql(w.gateway.url, w.keys.admin, SyncRunWelcomeEmailsDocument, { id: runId, first: 1 })).body.data
      ?.syncRun?.welcomeEmails;

  beforeAll(async () => {
    db = await createSqliteDatabase();
    ({ sandbox, agent } = await startTestSandbox({ autoSignIn: true, users: 20_000, groups: 5, seed: 77 }));
    smtp = await startSmtpServer();
    w = await startGatewayWithSandbox(db, sandbox, { QUEUE_PREFIX: prefix }, 'api');
    env = { SMTP_URL: smtp.url };
    expect((await connectIntegration(w, sandbox, agent)).result).toBe('CONNECTED');
    await gql(w.gateway.url, w.keys.admin, UpdatePbxDocument, { input: { extensionCapacity: 100_000 } });
  }, 120_000);
  afterAll(async () => {
    for (const p of workers) p.child.kill('SIGKILL');
    await w?.gateway.stop();
    await agent?.close();
    await sandbox?.close();
    await smtp?.close();
    await db?.drop();
  });

  it('U6: emails recorded before the kill and never queued are sent once the run resumes: exactly one per address', async () => {
    const users = (await sandbox.admin.listUsers({ top: 1000 })).value.filter(
      (u) => !u.deleted && u.accountEnabled && !u.isAdmin,
    );
    const group = await sandbox.admin.createGroup({
      displayName: 'U6 welcome',
      members: users.slice(0, 120).map((u) => u.id),
    });
    const first = await startWorker();
    const saved = await gql(w.gateway.url, w.keys.admin, SaveUserSyncRuleDocument, {
      input: {
        range: 'BY_GROUPS',
        groupIds: [group.id],
        numbering: 'AUTO',
        startNumber: '1000',
        autoDelete: true,
        deleteWhenDisabled: true,
        deleteWhenDeleted: true,
        autoAssociate: false,
        welcomeEmail: true,
      },
    });
    const runId = saved.body.data?.saveUserSyncRule.initialRun?.id as string;
    await eventually(
      async () => {
        const run = (await gql(w.gateway.url, w.keys.admin, SyncRunDocument, { id: runId, first: 1 })).body
          .data?.syncRun;
        // A run that ended already can never come to the moment waited for.
        expect(run?.status).not.toBe('SUCCEEDED');
        // Every batch is committed; the run goes on writing the snapshot, then queues the emails.
        return run?.phase === 'APPLYING' && run.total > 0 && run.done === run.total;
      },
      { timeout: 120_000, interval: 10, message: 'every batch of the run to be committed' },
    );
    first.child.kill('SIGKILL');
    await first.exited;

    // Died after the commit, before the enqueue: the extensions and their emails are on record, no job.
    const partial = (await allExtensions(w.gateway.url, w.keys.admin)).filter((e) => e.email).length;
    expect(partial).toBeGreaterThan(100);
    expect(
      (await gql(w.gateway.url, w.keys.admin, SyncRunDocument, { id: runId, first: 1 })).body.data?.syncRun
        ?.status,
    ).toBe('RUNNING');
    expect((await emails(runId))?.counts).toEqual({ queued: partial, sent: 0, failed: 0 });
    const mail = w.gateway.queues.queue(QueueName.Mail);
    expect(await mail.getJobCountByTypes('waiting', 'active', 'delayed', 'completed', 'failed')).toBe(0);

    await startWorker();
    const run = await waitForRun(w.gateway.url, w.keys.admin, runId, 90_000);
    expect(run.status, run.error ?? '').toBe('SUCCEEDED');
    const exts = (await allExtensions(w.gateway.url, w.keys.admin)).filter((e) => e.email);
    expect(exts.length).toBe(partial);

    await eventually(async () => expect((await emails(runId))?.counts.queued).toBe(0), {
      timeout: 60_000,
      interval: 250,
      message: 'no welcome email left QUEUED',
    });
    expect((await emails(runId))?.counts).toEqual({ queued: 0, sent: exts.length, failed: 0 });
    expect(smtp.messages).toHaveLength(exts.length);
    const perAddress = new Map<string, number>();
    for (const m of smtp.messages) for (const to of m.to) perAddress.set(to, (perAddress.get(to) ?? 0) + 1);
    expect(perAddress.size).toBe(exts.length);
    expect([...perAddress.values()].every((n) => n === 1)).toBe(true);
    for (const e of exts)
      expect(perAddress.get((e.email as string).toLowerCase()), e.email as string).toBe(1);
  }, 180_000);
});
