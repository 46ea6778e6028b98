import type { Job } from 'bullmq';
import { payloadPbxId } from '../src/app/jobs-admin.js';
import type { JobAdmin, JobInfo, QueueSummary } from '../src/app/ports/jobs.port.js';
import { QueueName } from './contracts.js';
import type { JobQueues } from './queues.js';

const isQueueName = (name: string): name is QueueName =>
  (Object.values(QueueName) as string[]).includes(name);

const date = (ms: number | undefined | null) => (typeof ms === 'number' && ms > 0 ? new Date(ms) : null);

function toInfo(queue: string, job: Job, state: string): JobInfo {
  return {
    id: String(job.id),
    queue,
    name: job.name,
    pbxId: payloadPbxId(job.data),
    state,
    failedReason: job.failedReason || null,
    attemptsMade: job.attemptsMade ?? 0,
    createdAt: new Date(job.timestamp),
    processedAt: date(job.processedOn),
    finishedAt: date(job.finishedOn),
  };
}

/** JobAdmin over the BullMQ queues of this installation (its QUEUE_PREFIX). */
export class BullJobAdmin implements JobAdmin {
  constructor(private readonly queues: JobQueues) {}

  queueNames(): string[] {
    return [...this.queues.queues.keys()];
  }

  counts(): Promise<QueueSummary[]> {
    return this.queues.counts();
  }

  private queue(name: string) {
    if (!isQueueName(name)) throw new Error(`Unknown queue ${name}`);
    return this.queues.queue(name);
  }

  async failed(queue: string, offset: number, limit: number): Promise<JobInfo[]> {
    const jobs = (await this.queue(queue).getFailed(offset, offset + limit - 1)) as Job[];
    return jobs.filter(Boolean).map((job) => toInfo(queue, job, 'failed'));
  }

  async get(queue: string, id: string): Promise<JobInfo | null> {
    const job = (await this.queue(queue).getJob(id)) as Job | undefined;
    if (!job) return null;
    return toInfo(queue, job, await job.getState());
  }

  async retry(queue: string, id: string): Promise<void> {
    const job = (await this.queue(queue).getJob(id)) as Job | undefined;
    if (!job) throw new Error(`No job ${id} in ${queue}`);
    await job.retry('failed');
  }
}
