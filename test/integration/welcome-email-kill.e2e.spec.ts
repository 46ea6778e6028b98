import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueueName } from '../../jobs/contracts.js';
import {
  SaveUserSyncRuleDocument,
  SyncRunDocument,
  SyncRunWelcomeEmailsDocument,
  UpdatePbxDocument,
} from '../generated/graphql.js';
import { type E2e, startE2e } from '../support/e2e.js';
import { gql, uniquePrefix } from '../support/gateway.js';
import { allExtensions, startWorkerProcess, waitForRun } from '../support/sandbox.js';
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
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let w: E2e;
  const workers: Array<Awaited<ReturnType<typeof startWorkerProcess>>> = [];
  const prefix = uniquePrefix('u6kill');
  let env: Record<string, string> = {};

  const startWorker = async () => {
    const proc = await startWorkerProcess(w.db, w.sandbox, prefix, env);
    workers.push(proc);
    return proc;
  };
  const emails = async (runId: string) =>
    (await gql(w.gateway.url, w.keys.admin, SyncRunWelcomeEmailsDocument, { id: runId, first: 1 })).body.data
      ?.syncRun?.welcomeEmails;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    env = { SMTP_URL: smtp.url };
    // The API here; the runs execute in worker processes of their own (killed with SIGKILL).
    w = await startE2e({
      sandbox: { users: 20_000, groups: 5, seed: 77 },
      env: { QUEUE_PREFIX: prefix },
      role: 'api',
    });
    await gql(w.gateway.url, w.keys.admin, UpdatePbxDocument, { input: { extensionCapacity: 100_000 } });
  }, 120_000);
  afterAll(async () => {
    for (const p of workers) p.child.kill('SIGKILL');
    await w?.close();
    await smtp?.close();
  });

  it('U6: emails recorded before the kill and never queued are sent once the run resumes: exactly one per address', async () => {
    const users = (await w.sandbox.admin.listUsers({ top: 1000 })).value.filter(
      (u) => !u.deleted && u.accountEnabled && !u.isAdmin,
    );
    const group = await w.sandbox.admin.createGroup({
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
