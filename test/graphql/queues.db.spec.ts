import { afterAll, beforeAll, expect, it } from 'vitest';
import { QueueName } from '../../jobs/contracts.js';
import type { Gateway } from '../../src/gateway.js';
import {
  AuditLogDocument,
  FailedJobsDocument,
  type FailedJobsQuery,
  QueuesDocument,
  RetryJobDocument,
} from '../generated/graphql.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';
import { gql, seedPbx, startTestGateway } from '../support/gateway.js';
import { eventually } from '../support/wait.js';

type Tenant = Awaited<ReturnType<typeof seedPbx>>;
type FailedJob = FailedJobsQuery['failedJobs'][number];

/** A job name no processor knows: the production worker refuses it, so the job fails for real. */
const BOGUS_JOB = 'test-no-such-job';

describeEachDb(
  'queues, failedJobs and retryJob in GraphQL: counts, each PBX its own failed jobs, retry',
  (leg) => {
    let db: TestDatabase;
    let gw: Gateway;
    let a: Tenant;
    let b: Tenant;
    let jobA: string;
    let jobB: string;

    /** Queues a job for one PBX (its payload names the PBX) that the worker rejects. */
    const enqueueFailing = async (pbxId: string, opts: { delay?: number } = {}) => {
      const job = await gw.queues.queue(QueueName.System).add(BOGUS_JOB, { pbxId }, { attempts: 1, ...opts });
      return job.id as string;
    };
    const failed = async (t: Tenant, key: 'admin' | 'viewer' = 'admin'): Promise<FailedJob[]> => {
      const res = await gql(gw.url, t.keys[key], FailedJobsDocument, { queue: QueueName.System });
      expect(res.body.errors).toBeUndefined();
      return res.body.data?.failedJobs ?? [];
    };
    const failedJob = async (t: Tenant, id: string) => (await failed(t)).find((j) => j.id === id);

    beforeAll(async () => {
      db = await leg.create();
      gw = await startTestGateway(db);
      a = await seedPbx(gw, { name: 'Alpha' });
      b = await seedPbx(gw, { name: 'Bravo' });
      jobA = await enqueueFailing(a.pbx.id);
      jobB = await enqueueFailing(b.pbx.id);
      await eventually(async () => Boolean((await failedJob(a, jobA)) && (await failedJob(b, jobB))), {
        message: 'both jobs to fail',
      });
    });
    afterAll(async () => {
      await gw?.stop();
      await db?.drop();
    });

    it('lists the queues with their counts to ADMIN and VIEWER keys, and refuses a LINKUS key', async () => {
      for (const key of [a.keys.admin, a.keys.viewer]) {
        const res = await gql(gw.url, key, QueuesDocument);
        expect(res.body.errors).toBeUndefined();
        const system = res.body.data?.queues.find((q) => q.name === QueueName.System);
        // Schedulers keep delayed jobs of their own; the two failed jobs are counted.
        for (const n of Object.values(system?.counts ?? {})) expect(Number.isInteger(n) && n >= 0).toBe(true);
        expect(Object.keys(system?.counts ?? {}).sort()).toEqual([
          'active',
          'completed',
          'delayed',
          'failed',
          'waiting',
        ]);
        expect(system?.counts.failed).toBeGreaterThanOrEqual(2);
      }
      const linkus = await gql(gw.url, a.keys.linkus, QueuesDocument);
      expect(linkus.body.errors?.[0].extensions?.code).toBe('FORBIDDEN');
      expect(linkus.body.data).toBeNull();
    });

    it('shows a job that really failed, with its reason, attempts and times', async () => {
      const job = await failedJob(a, jobA);
      expect(job).toMatchObject({
        id: jobA,
        queue: QueueName.System,
        name: BOGUS_JOB,
        state: 'failed',
        attemptsMade: 1,
      });
      expect(job?.failedReason).toMatch(/does not belong on queue system/);
      const created = Date.parse(job?.createdAt as string);
      expect(Date.parse(job?.processedAt as string)).toBeGreaterThanOrEqual(created);
      expect(Date.parse(job?.finishedAt as string)).toBeGreaterThanOrEqual(
        Date.parse(job?.processedAt as string),
      );
      // A VIEWER reads the same list.
      expect((await failed(a, 'viewer')).map((j) => j.id)).toContain(jobA);
    });

    it("keeps each PBX to its own jobs: the other PBX's failed job is neither listed nor retryable", async () => {
      expect((await failed(a)).map((j) => j.id)).not.toContain(jobB);
      expect((await failed(b)).map((j) => j.id)).not.toContain(jobA);
      const res = await gql(gw.url, a.keys.admin, RetryJobDocument, { queue: QueueName.System, id: jobB });
      expect(res.body.errors?.[0].extensions?.code).toBe('NOT_FOUND');
      expect((await failedJob(b, jobB))?.attemptsMade).toBe(1);
    });

    it('refuses an unknown queue and an out-of-range first with INVALID_INPUT', async () => {
      const unknown = await gql(gw.url, a.keys.admin, FailedJobsDocument, { queue: 'no-such-queue' });
      expect(unknown.body.errors?.[0].extensions).toMatchObject({ code: 'INVALID_INPUT', field: 'queue' });
      for (const first of [0, 101]) {
        const res = await gql(gw.url, a.keys.admin, FailedJobsDocument, { queue: QueueName.System, first });
        expect(res.body.errors?.[0].extensions).toMatchObject({ code: 'INVALID_INPUT', field: 'first' });
      }
      const retry = await gql(gw.url, a.keys.admin, RetryJobDocument, { queue: 'no-such-queue', id: jobA });
      expect(retry.body.errors?.[0].extensions?.code).toBe('INVALID_INPUT');
    });

    it('refuses retryJob to a VIEWER with FORBIDDEN, and the job stays failed', async () => {
      const res = await gql(gw.url, a.keys.viewer, RetryJobDocument, { queue: QueueName.System, id: jobA });
      expect(res.body.errors?.[0].extensions?.code).toBe('FORBIDDEN');
      expect(res.body.data).toBeNull();
      expect(await failedJob(a, jobA)).toMatchObject({ state: 'failed', attemptsMade: 1 });
    });

    it('answers NOT_FOUND for an unknown job, and INVALID_STATE for a job that has not failed', async () => {
      const unknown = await gql(gw.url, a.keys.admin, RetryJobDocument, {
        queue: QueueName.System,
        id: '999999',
      });
      expect(unknown.body.errors?.[0].extensions?.code).toBe('NOT_FOUND');
      const delayed = await enqueueFailing(a.pbx.id, { delay: 3_600_000 });
      const res = await gql(gw.url, a.keys.admin, RetryJobDocument, { queue: QueueName.System, id: delayed });
      expect(res.body.errors?.[0].extensions?.code).toBe('INVALID_STATE');
      expect(res.body.errors?.[0].message).toMatch(/delayed/);
      await gw.queues.queue(QueueName.System).remove(delayed);
    });

    it('lets an ADMIN retry its failed job: the worker runs it again (and it fails again)', async () => {
      const res = await gql(gw.url, a.keys.admin, RetryJobDocument, { queue: QueueName.System, id: jobA });
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data?.retryJob).toMatchObject({ id: jobA, queue: QueueName.System, name: BOGUS_JOB });
      expect(['waiting', 'active', 'failed']).toContain(res.body.data?.retryJob.state);
      const again = await eventually(
        async () => {
          const job = await failedJob(a, jobA);
          return job && job.attemptsMade === 2 ? job : false;
        },
        { message: 'the retried job to fail again' },
      );
      expect(again.failedReason).toMatch(/does not belong on queue system/);
      // The mutation is audited like every other.
      const audit = await gql(gw.url, a.keys.admin, AuditLogDocument, { first: 20 });
      const entries = audit.body.data?.auditLog.nodes ?? [];
      expect(entries.find((e) => e.operation === 'retryJob' && e.outcome === 'OK')).toBeTruthy();
      expect(entries.find((e) => e.operation === 'retryJob' && e.outcome === 'FORBIDDEN')).toBeTruthy();
    });

    it('returns at most `first` jobs, newest first', async () => {
      const more = [await enqueueFailing(a.pbx.id), await enqueueFailing(a.pbx.id)];
      await eventually(
        async () => {
          const ids = (await failed(a)).map((j) => j.id);
          return more.every((id) => ids.includes(id));
        },
        { message: 'two more jobs to fail' },
      );
      const res = await gql(gw.url, a.keys.admin, FailedJobsDocument, { queue: QueueName.System, first: 2 });
      const ids = res.body.data?.failedJobs.map((j) => j.id) ?? [];
      expect(ids).toHaveLength(2);
      expect(new Set(ids)).toEqual(new Set(more));
    });
  },
);
