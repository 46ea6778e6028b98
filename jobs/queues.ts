import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { QueueCounts } from '../src/app/ports/jobs.port.js';
import { waitUntilReady } from '../src/redis/connection.js';
import { JOB_QUEUE, type JobName, type JobPayload, jobOptions, QueueName } from './contracts.js';

/** Producer side of every queue. Share one fail-fast Redis connection. */
export class JobQueues {
  readonly queues: Map<QueueName, Queue>;

  constructor(
    /** The producer's Redis connection, shared with what keeps queue-side state (jobs/sync-directory.queue.ts). */
    readonly connection: Redis,
    readonly prefix: string,
    /** A queue's connection error (Redis away); without a listener BullMQ prints each with its stack. */
    onError: (err: Error) => void = () => {
      // Nobody asked: the connection's own watch (the gateway's, src/startup.ts) says Redis is away.
    },
  ) {
    this.queues = new Map(
      Object.values(QueueName).map((q) => {
        const queue = new Queue(q, { connection, prefix });
        queue.on('error', onError);
        return [q, queue] as const;
      }),
    );
  }

  queue(name: QueueName): Queue {
    const q = this.queues.get(name);
    if (!q) throw new Error(`Unknown queue ${name}`);
    return q;
  }

  async enqueue<N extends JobName>(name: N, payload: JobPayload<N>, jobId?: string) {
    const job = await this.queue(JOB_QUEUE[name]).add(name, payload, jobOptions(name, payload, jobId));
    return { id: job.id as string, queue: JOB_QUEUE[name] };
  }

  async counts(): Promise<Array<{ name: QueueName; counts: QueueCounts }>> {
    // Before Redis has ever answered, BullMQ waits for it without end: answer at once instead.
    await waitUntilReady(this.connection, 1000);
    if (this.connection.status !== 'ready') throw new Error('Redis is unavailable');
    return Promise.all(
      [...this.queues].map(async ([name, q]) => {
        const c = await q.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed');
        return {
          name,
          counts: {
            // Sync runs wait by priority (jobs/sync-directory.queue.ts): BullMQ keeps those apart.
            waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
            active: c.active ?? 0,
            delayed: c.delayed ?? 0,
            completed: c.completed ?? 0,
            failed: c.failed ?? 0,
          },
        };
      }),
    );
  }

  async close() {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
