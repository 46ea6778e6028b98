import type { Agent } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { QueueName } from '../../jobs/contracts.js';
import type { Gateway } from '../../src/gateway.js';
import { createRedis } from '../../src/redis/connection.js';
import type { Sandbox } from '../../src/sandbox/index.js';
import {
  SyncRunWelcomeEmailsDocument,
  type SyncRunWelcomeEmailsQuery,
  UpdatePbxDocument,
} from '../generated/graphql.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';
import { gql, seedPbx, startTestGateway } from '../support/gateway.js';
import { connectIntegration, sandboxEnv, startTestSandbox } from '../support/sandbox.js';
import { startSmtpServer } from '../support/smtp.js';
import { eventually } from '../support/wait.js';
import { PbxClient, tag } from './sync-world.js';

/**
 * U6 end to end: the sandbox tenant, the gateway with its workers on real Redis, a real
 * database, and a real SMTP server in this process (smtp-server) that can be told to refuse
 * some recipients, for a while or for good.
 */

/** The decoded text/plain part of a MIME message (7bit, quoted-printable or base64). */
function plainText(raw: string): string {
  const at = raw.search(/content-type:\s*text\/plain/i);
  const part = at >= 0 ? raw.slice(at) : raw;
  const headerEnd = part.search(/\r?\n\r?\n/);
  const headers = part.slice(0, headerEnd);
  const body = part
    .slice(headerEnd)
    .replace(/^\s+/, '')
    .split(/\r?\n--/)[0];
  const cte = /content-transfer-encoding:\s*([\w-]+)/i.exec(headers)?.[1]?.toLowerCase();
  if (cte === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (cte === 'quoted-printable') {
    const bytes = body
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-F]{2})/gi, (_m, h) => String.fromCharCode(Number.parseInt(h, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return body;
}

type Emails = NonNullable<SyncRunWelcomeEmailsQuery['syncRun']>['welcomeEmails'];

/** Polls a run's welcome emails until none is QUEUED. */
function settledEmails(pbx: PbxClient, runId: string, timeout = 20_000): Promise<Emails> {
  return eventually(
    async () => {
      const data = await pbx.ok(SyncRunWelcomeEmailsDocument, { id: runId, first: 500 });
      const emails = data.syncRun?.welcomeEmails;
      if (!emails) throw new Error(`no run ${runId}`);
      // counts and nodes are two reads: settled when both say so.
      expect(emails.counts.queued, JSON.stringify(emails.counts)).toBe(0);
      expect(emails.nodes.filter((n) => n.status === 'QUEUED')).toEqual([]);
      return emails;
    },
    { timeout, interval: 50, message: `the welcome emails of run ${runId} to settle` },
  );
}

const MAIL_ATTEMPTS = 4;

describeEachDb('U6 Linkus welcome emails through the mail queue and SMTP', (leg) => {
  let db: TestDatabase;
  let sandbox: Sandbox;
  let agent: Agent;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let gateway: Gateway;
  let domain: string;
  let pbx: PbxClient;
  const gateways: Gateway[] = [];
  let initialRunId: string;

  async function connectedPbx(g: Gateway) {
    await sandbox.admin.addRedirectUri(sandbox.info.clientId, `${g.url}/oauth/microsoft/callback`);
    const seeded = await seedPbx(g);
    await gql(g.url, seeded.keys.admin, UpdatePbxDocument, { input: { publicBaseUrl: g.url } });
    expect((await connectIntegration({ gateway: g, keys: seeded.keys }, sandbox, agent)).result).toBe(
      'CONNECTED',
    );
    return new PbxClient(g.url, seeded.keys.admin, seeded.pbx.id);
  }

  async function newUser(name: string) {
    const local = `${name}.${tag()}`.toLowerCase();
    const u = await sandbox.admin.createUser({
      userPrincipalName: `${local}@${domain}`,
      displayName: `${name} Test`,
      givenName: name,
      surname: 'Test',
      mail: `${local}@${domain}`,
    });
    return { ...u, address: `${local}@${domain}` };
  }

  beforeAll(async () => {
    db = await leg.create();
    ({ sandbox, agent } = await startTestSandbox({ autoSignIn: true, users: 12, groups: 2, seed: 23 }));
    domain = String((await sandbox.admin.info()).defaultDomain);
    smtp = await startSmtpServer();
    gateway = await startTestGateway(db, {
      ...sandboxEnv(sandbox),
      SMTP_URL: smtp.url,
      MAIL_FROM: 'Acme PBX <pbx@acme.test>',
      MAIL_ATTEMPTS: String(MAIL_ATTEMPTS),
      MAIL_RETRY_DELAY_MS: '50',
    });
    gateways.push(gateway);
    pbx = await connectedPbx(gateway);
  });
  afterAll(async () => {
    // The sandbox goes first: no Graph change notification then reaches a gateway while it stops.
    await agent?.close();
    await sandbox?.close();
    for (const g of gateways) await g.stop();
    await smtp?.close();
    await db?.drop();
  });

  it('the initial sync sends exactly one email per created extension, to its address, with its number', async () => {
    const run = await pbx.saveUserRule({ welcomeEmail: true });
    expect(run?.status).toBe('SUCCEEDED');
    initialRunId = run?.id as string;
    const exts = (await pbx.extensions()).filter((e) => e.email);
    expect(exts.length).toBeGreaterThan(5);
    expect(run?.users.created).toBe((await pbx.extensions()).length);

    const emails = await settledEmails(pbx, run?.id as string);
    expect(emails.counts).toEqual({ queued: 0, sent: exts.length, failed: 0 });
    expect(emails.totalCount).toBe(exts.length);

    // One message per extension, each to that extension's address only.
    expect(smtp.messages).toHaveLength(exts.length);
    const byExtension = new Map(emails.nodes.map((n) => [n.extensionId, n]));
    for (const e of exts) {
      const address = (e.email as string).toLowerCase();
      const received = smtp.to(address);
      expect(received, address).toHaveLength(1);
      expect(received[0].to).toEqual([address]);
      const text = plainText(received[0].raw);
      expect(text).toContain(`Extension number: ${e.number}`);
      expect(text).toContain(e.email as string);
      expect(received[0].raw).toMatch(/^From: Acme PBX <pbx@acme\.test>/im);
      expect(received[0].raw).toMatch(/content-type:\s*text\/html/i);

      const row = byExtension.get(e.id);
      expect(row).toMatchObject({
        number: e.number,
        recipient: e.email,
        status: 'SENT',
        attempts: 1,
        lastError: null,
      });
      expect(row?.sentAt).toBeTruthy();
    }
  });

  it('an SMTP server that answers 451 at first gets the email on a retry: SENT with attempts > 1', async () => {
    const u = await newUser('Retry');
    smtp.rules.set(u.address, (n) =>
      n <= 2 ? { code: 451, message: `<${u.address}>: Mailbox busy, try again later` } : null,
    );
    const run = await pbx.sync(['USERS']);
    expect(run.status).toBe('SUCCEEDED');
    expect(run.users.created).toBe(1);

    const emails = await settledEmails(pbx, run.id);
    expect(emails.nodes).toHaveLength(1);
    expect(emails.nodes[0]).toMatchObject({
      recipient: u.address,
      status: 'SENT',
      attempts: 3,
      lastError: null,
    });
    expect(smtp.rcptAttempts.get(u.address)).toBe(3);
    expect(smtp.to(u.address)).toHaveLength(1);
  });

  it('an SMTP server that always answers 451 ends FAILED with the reason after every attempt; the run SUCCEEDED', async () => {
    const u = await newUser('Busy');
    smtp.rules.set(u.address, () => ({
      code: 451,
      message: `<${u.address}>: Mailbox busy, try again later`,
    }));
    const run = await pbx.sync(['USERS']);
    expect(run.status).toBe('SUCCEEDED');
    expect(run.users.created).toBe(1);

    const emails = await settledEmails(pbx, run.id);
    expect(emails.counts).toEqual({ queued: 0, sent: 0, failed: 1 });
    expect(emails.nodes[0]).toMatchObject({
      recipient: u.address,
      status: 'FAILED',
      attempts: MAIL_ATTEMPTS,
      sentAt: null,
    });
    expect(emails.nodes[0].lastError).toMatch(/451.*Mailbox busy/);
    expect(smtp.rcptAttempts.get(u.address)).toBe(MAIL_ATTEMPTS);
    expect(smtp.to(u.address)).toHaveLength(0);
    // The run is untouched by the email's fate.
    expect((await pbx.wait(run.id)).status).toBe('SUCCEEDED');
  });

  it('a permanent refusal (550) is not retried: FAILED after one attempt, with the reason', async () => {
    const u = await newUser('Nobody');
    smtp.rules.set(u.address, () => ({ code: 550, message: `<${u.address}>: No such user here` }));
    const run = await pbx.sync(['USERS']);
    expect(run.status).toBe('SUCCEEDED');

    const emails = await settledEmails(pbx, run.id);
    expect(emails.nodes[0]).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(emails.nodes[0].lastError).toMatch(/550.*No such user here/);
    expect(smtp.rcptAttempts.get(u.address)).toBe(1);
  });

  it('Redis holds ids only: no address or name in any key of the mail queue, retries and failures included', async () => {
    const queue = gateway.queues.queue(QueueName.Mail);
    const jobs = await queue.getJobs(['completed', 'failed', 'waiting', 'delayed', 'active']);
    expect(jobs.length).toBeGreaterThan(0);
    for (const job of jobs) {
      expect(job.name).toBe('welcome-email');
      expect(Object.keys(job.data).sort()).toEqual(['extensionId', 'pbxId', 'runId']);
    }
    // Every key BullMQ keeps for the queue: job hashes (data, result, failure reason, stack
    // traces), the events stream, the state lists and sets.
    const redis = createRedis(gateway.config.redis.url, 'blocking');
    const keys = await redis.keys(`${gateway.config.redis.queuePrefix}:${QueueName.Mail}:*`);
    expect(keys.length).toBeGreaterThan(0);
    let dump = '';
    for (const key of keys) {
      const type = await redis.type(key);
      if (type === 'hash') dump += JSON.stringify(await redis.hgetall(key));
      else if (type === 'stream') dump += JSON.stringify(await redis.xrange(key, '-', '+'));
      else if (type === 'list') dump += JSON.stringify(await redis.lrange(key, 0, -1));
      else if (type === 'zset') dump += JSON.stringify(await redis.zrange(key, 0, -1));
      else if (type === 'set') dump += JSON.stringify(await redis.smembers(key));
      else if (type === 'string') dump += String(await redis.get(key));
    }
    expect(dump).toContain('Welcome email not sent (SMTP 451); retried.');
    expect(dump).not.toContain('@');
    expect(dump).not.toMatch(/Mailbox busy|No such user/);
    await redis.quit();
  });

  it('welcomeEmails filters by status and pages', async () => {
    const all = await pbx.ok(SyncRunWelcomeEmailsDocument, { id: initialRunId });
    const total = all.syncRun?.welcomeEmails.totalCount as number;
    const page1 = await pbx.ok(SyncRunWelcomeEmailsDocument, { id: initialRunId, first: 2 });
    expect(page1.syncRun?.welcomeEmails.nodes).toHaveLength(2);
    expect(page1.syncRun?.welcomeEmails.pageInfo.hasNextPage).toBe(true);
    const page2 = await pbx.ok(SyncRunWelcomeEmailsDocument, {
      id: initialRunId,
      first: 500,
      after: page1.syncRun?.welcomeEmails.pageInfo.endCursor,
    });
    const ids = [
      ...(page1.syncRun?.welcomeEmails.nodes ?? []),
      ...(page2.syncRun?.welcomeEmails.nodes ?? []),
    ].map((n) => n.id);
    expect(new Set(ids).size).toBe(total);
    const sent = await pbx.ok(SyncRunWelcomeEmailsDocument, { id: initialRunId, status: 'SENT' });
    expect(sent.syncRun?.welcomeEmails.totalCount).toBe(total);
    const failed = await pbx.ok(SyncRunWelcomeEmailsDocument, { id: initialRunId, status: 'FAILED' });
    expect(failed.syncRun?.welcomeEmails).toMatchObject({
      totalCount: 0,
      nodes: [],
      counts: { sent: total },
    });
  });

  it('with welcomeEmail off, a new extension gets no email', async () => {
    await pbx.saveUserRule({ welcomeEmail: false });
    const u = await newUser('Quiet');
    const run = await pbx.sync(['USERS']);
    expect(run.users.created).toBe(1);
    const data = await pbx.ok(SyncRunWelcomeEmailsDocument, { id: run.id });
    expect(data.syncRun?.welcomeEmails.totalCount).toBe(0);
    expect(smtp.rcptAttempts.has(u.address)).toBe(false);
  });

  it('without SMTP_URL the gateway records each email as not sent, and the sync still SUCCEEDED', async () => {
    const bare = await startTestGateway(db, sandboxEnv(sandbox));
    gateways.push(bare);
    const other = await connectedPbx(bare);
    const before = smtp.messages.length;
    const run = await other.saveUserRule({ welcomeEmail: true });
    expect(run?.status).toBe('SUCCEEDED');
    const emails = await settledEmails(other, run?.id as string);
    expect(emails.totalCount).toBe((await other.extensions()).filter((e) => e.email).length);
    expect(emails.counts.failed).toBe(emails.totalCount);
    for (const n of emails.nodes)
      expect(n).toMatchObject({
        status: 'FAILED',
        attempts: 0,
        lastError: expect.stringMatching(/SMTP_URL is not set/),
      });
    expect(smtp.messages.length).toBe(before);
  });
});
