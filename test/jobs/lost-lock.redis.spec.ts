import pino from 'pino';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { JobName, QueueName } from '../../jobs/contracts.js';
import { buildProcessors } from '../../jobs/processors/index.js';
import { JobQueues } from '../../jobs/queues.js';
import { type Processor, startWorkers } from '../../jobs/worker.js';
import { createMailSender } from '../../src/mail/transport.js';
import { createRedis } from '../../src/redis/connection.js';
import { uniquePrefix } from '../support/gateway.js';
import { unusedServices } from '../support/services.js';

const logger = pino({ level: 'silent' });

describe('a worker that loses a job lock tells the job (AbortSignal) instead of letting it run on', () => {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix('lostlock');
  const producer = createRedis(redisUrl, 'command', logger);
  const queues = new JobQueues(producer, prefix);
  let started: (jobId: string) => void = () => {};
  const active = new Promise<string>((resolve) => {
    started = resolve;
  });
  let aborted: (reason: unknown) => void = () => {};
  const abortedWith = new Promise<unknown>((resolve) => {
    aborted = resolve;
  });
  /** A ping that runs until its signal says the job is no longer this worker's. */
  const waitForAbort: Processor<typeof JobName.Ping> = (payload, job, _token, signal) =>
    new Promise((resolve) => {
      signal?.addEventListener('abort', () => {
        aborted(signal.reason);
        resolve({ pong: payload.message, at: 'aborted' });
      });
      started(String(job.id));
    });
  const workers = startWorkers({
    redisUrl,
    prefix,
    processors: {
      ...buildProcessors({
        openStore: () => {
          throw new Error('no store in this test');
        },
        now: () => new Date(),
        services: unusedServices('in the lost-lock test'),
        mailer: createMailSender({ smtpUrl: null, from: 'test@example.com' }),
        logger,
      }),
      [JobName.Ping]: waitForAbort,
    },
    logger,
  });

  afterAll(async () => {
    await workers.close(1000);
    await queues.close();
    await producer.quit();
  });

  it('the lock key vanishes (expired while the process stalled): the renewal fails and the processor is aborted', async () => {
    const { id } = await queues.enqueue(JobName.Ping, { message: 'long' });
    expect(await active).toBe(id);
    // What a stall longer than the lock duration leaves behind: the job's lock is gone.
    expect(await producer.del(`${prefix}:${QueueName.System}:${id}:lock`)).toBe(1);
    expect(await abortedWith).toBe('the job lock could not be renewed');
  });
});
