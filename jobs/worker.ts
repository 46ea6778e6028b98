import { type Job, Worker } from 'bullmq';
import type { Logger } from '../src/logger.js';
import { createRedis } from '../src/redis/connection.js';
import {
  JOB_QUEUE,
  JobName,
  type JobPayload,
  type JobResult,
  QUEUE_CONCURRENCY,
  QueueName,
} from './contracts.js';

/** A processor is a thin shell around one use case. */
export type Processor<N extends JobName> = (
  payload: JobPayload<N>,
  job: Job,
  token?: string,
  /** Aborted when this worker lost the job (its lock could not be renewed): stop soon. */
  signal?: AbortSignal,
) => Promise<JobResult<N>>;
export type Processors = { [N in JobName]: Processor<N> };

export class MissingProcessorError extends Error {}

/** Refuses to boot when a declared job has no processor. */
export function assertProcessors(
  processors: Partial<Record<string, unknown>>,
): asserts processors is Processors {
  const missing = Object.values(JobName).filter((n) => typeof processors[n] !== 'function');
  if (missing.length) {
    throw new MissingProcessorError(
      `No processor for job(s): ${missing.join(', ')}. Refusing to start workers.`,
    );
  }
}

export interface Workers {
  workers: Worker[];
  close(graceMs?: number): Promise<void>;
}

/** One BullMQ worker per queue, dispatching by job name. */
export function startWorkers(opts: {
  redisUrl: string;
  prefix: string;
  processors: Partial<Record<string, unknown>>;
  logger: Logger;
}): Workers {
  const { processors, logger } = opts;
  assertProcessors(processors);
  const workers = Object.values(QueueName).map((queue) => {
    const connection = createRedis(opts.redisUrl, 'blocking', logger, `worker:${queue}`);
    const worker = new Worker(
      queue,
      // Three parameters: BullMQ then gives each job an AbortSignal (aborted by cancelJob).
      async (job: Job, token?: string, signal?: AbortSignal) => {
        const name = job.name as JobName;
        if (JOB_QUEUE[name] !== queue) throw new Error(`Job ${job.name} does not belong on queue ${queue}`);
        const processor = processors[name] as Processor<JobName>;
        return processor(job.data, job, token, signal);
      },
      {
        connection,
        prefix: opts.prefix,
        concurrency: QUEUE_CONCURRENCY[queue],
        autorun: true,
        // A worker that dies mid-job (killed, out of memory) gives its job back within ~15 s:
        // the job lock lapses after 10 s without renewal (renewed every 5 s while alive) and
        // stalled jobs are looked for every 5 s.
        lockDuration: 10_000,
        stalledInterval: 5_000,
      },
    );
    worker.on('failed', (job, err) => {
      logger.warn(
        { queue, job: job?.name, jobId: job?.id, attempts: job?.attemptsMade, err: err.message },
        'job failed',
      );
    });
    worker.on('error', (err) => logger.warn({ queue, err: err.message }, 'worker error'));
    // A job whose lock could not be renewed may already be another worker's: its processor is
    // told (AbortSignal) so that it stops at its next safe point instead of carrying on.
    worker.on('lockRenewalFailed', (jobIds) => {
      for (const jobId of jobIds) {
        logger.warn({ queue, jobId }, 'lost the lock of a job: stopping it; its next attempt resumes it');
        worker.cancelJob(jobId, 'the job lock could not be renewed');
      }
    });
    return { worker, connection };
  });
  return {
    workers: workers.map((w) => w.worker),
    /** Lets active jobs finish for up to `graceMs`, then stops them (they are retried elsewhere). */
    async close(graceMs = 5000) {
      const graceful = Promise.all(workers.map((w) => w.worker.close()));
      const timedOut = await Promise.race([
        graceful.then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(true), graceMs).unref()),
      ]);
      if (timedOut) {
        opts.logger.warn({ graceMs }, 'jobs still active at shutdown: stopping them; they will run again');
        await Promise.all(workers.map((w) => w.worker.close(true)));
      }
      await Promise.all(workers.map((w) => w.connection.quit().catch(() => w.connection.disconnect())));
    },
  };
}
