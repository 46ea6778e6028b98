import { DelayedError, type Job, Worker } from 'bullmq';
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

/** How long a job taken while its work cannot run (the database is away) waits before it is tried again. */
export const NOT_NOW_DELAY_MS = 5_000;

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
  /** Takes no new jobs (those running go on): the database went away. */
  pause(): Promise<void>;
  /** Takes jobs again. */
  resume(): Promise<void>;
  close(graceMs?: number): Promise<void>;
}

/** A lost connection to Redis: said once per attempt by the gateway's watch of Redis, not per worker. */
export function isConnectionError(err: Error): boolean {
  return /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|Connection is closed|Stream isn't writeable|connect ETIMEDOUT/i.test(
    err.message,
  );
}

/** One BullMQ worker per queue, dispatching by job name. */
export function startWorkers(opts: {
  redisUrl: string;
  prefix: string;
  processors: Partial<Record<string, unknown>>;
  logger: Logger;
  /**
   * Whether jobs may run now (the database answers). A job taken when not is put back, delayed
   * by {@link NOT_NOW_DELAY_MS}, without spending an attempt: the workers are paused then, but
   * a fetch already under way may still hand one over.
   */
  canRun?: () => boolean;
  /** Jobs run at once per queue, where not {@link QUEUE_CONCURRENCY}'s (the sync queue: SYNC_CONCURRENCY). */
  concurrency?: Partial<Record<QueueName, number>>;
}): Workers {
  const { processors, logger } = opts;
  assertProcessors(processors);
  const workers = Object.values(QueueName).map((queue) => {
    const connection = createRedis(opts.redisUrl, 'blocking', logger, `worker:${queue}`);
    const worker = new Worker(
      queue,
      // Three parameters: BullMQ then gives each job an AbortSignal (aborted by cancelJob).
      async (job: Job, token?: string, signal?: AbortSignal) => {
        if (opts.canRun && !opts.canRun()) {
          await job.moveToDelayed(Date.now() + NOT_NOW_DELAY_MS, token);
          throw new DelayedError();
        }
        const name = job.name as JobName;
        if (JOB_QUEUE[name] !== queue) throw new Error(`Job ${job.name} does not belong on queue ${queue}`);
        const processor = processors[name] as Processor<JobName>;
        return processor(job.data, job, token, signal);
      },
      {
        connection,
        prefix: opts.prefix,
        concurrency: opts.concurrency?.[queue] ?? QUEUE_CONCURRENCY[queue],
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
    worker.on('error', (err) =>
      isConnectionError(err)
        ? logger.debug({ queue, err: err.message }, 'worker lost its Redis connection')
        : logger.warn({ queue, err: err.message }, 'worker error'),
    );
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
    async pause() {
      // Without waiting for the running jobs: they go on (or fail and are retried) by themselves.
      await Promise.all(workers.map((w) => w.worker.pause(true)));
    },
    async resume() {
      await Promise.all(workers.map((w) => w.worker.resume()));
    },
    /** Lets active jobs finish for up to `graceMs`, then stops them (they are retried elsewhere). */
    async close(graceMs = 5000) {
      const graceful = Promise.all(workers.map((w) => w.worker.close()));
      const timedOut = await Promise.race([
        graceful.then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(true), graceMs).unref()),
      ]);
      if (timedOut) {
        if (graceMs > 0)
          opts.logger.warn({ graceMs }, 'jobs still active at shutdown: stopping them; they will run again');
        // Forced, and not waited for past a second: with Redis away it would wait for Redis.
        await Promise.race([
          Promise.all(workers.map((w) => w.worker.close(true))),
          new Promise((r) => setTimeout(r, 1000).unref()),
        ]);
      }
      // QUIT waits for a connection that is away (it is queued until Redis is back): cut it instead.
      await Promise.all(
        workers.map((w) =>
          w.connection.status === 'ready'
            ? w.connection.quit().catch(() => w.connection.disconnect())
            : w.connection.disconnect(),
        ),
      );
    },
  };
}
