import { QueueEvents } from 'bullmq';
import pino from 'pino';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { JobName, QueueName } from '../../jobs/contracts.js';
import { buildProcessors } from '../../jobs/processors/index.js';
import { JobQueues } from '../../jobs/queues.js';
import { MissingProcessorError, startWorkers } from '../../jobs/worker.js';
import { createMailSender } from '../../src/mail/transport.js';
import { createRedis } from '../../src/redis/connection.js';
import { uniquePrefix } from '../support/gateway.js';
import { unusedServices } from '../support/services.js';

const logger = pino({ level: 'silent' });

describe('BullMQ jobs on real Redis: producer to worker, coalescing by job id, a processor for every job, queue depths', () => {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix('jobs');
  const producer = createRedis(redisUrl, 'command', logger);
  const queues = new JobQueues(producer, prefix);
  const workers = startWorkers({
    redisUrl,
    prefix,
    processors: buildProcessors({
      openStore: () => {
        throw new Error('no store in this test');
      },
      now: () => new Date(),
      services: unusedServices('in the ping test'),
      mailer: createMailSender({ smtpUrl: null, from: 'test@example.com' }),
      logger,
    }),
    logger,
  });

  afterAll(async () => {
    await workers.close();
    await queues.close();
    await producer.quit();
  });

  it('runs a ping job end to end on real Redis: producer → queue → worker → result', async () => {
    const events = new QueueEvents(QueueName.System, {
      connection: createRedis(redisUrl, 'blocking'),
      prefix,
    });
    await events.waitUntilReady();
    const { id } = await queues.enqueue(JobName.Ping, { message: 'hello' });
    const job = await queues.queue(QueueName.System).getJob(id);
    const result = await job?.waitUntilFinished(events, 10_000);
    expect(result).toMatchObject({ pong: 'hello' });
    expect(Date.parse(result.at)).not.toBeNaN();
    await events.close();
  });

  it('coalesces jobs that share a deterministic id', async () => {
    const q = queues.queue(QueueName.System);
    await q.pause();
    const first = await queues.enqueue(JobName.Ping, { message: 'a' }, 'same-id');
    const second = await queues.enqueue(JobName.Ping, { message: 'b' }, 'same-id');
    expect(second.id).toBe(first.id);
    expect(await q.getJobCountByTypes('waiting', 'prioritized')).toBe(1);
    await q.obliterate({ force: true });
    await q.resume();
  });

  it('refuses to boot workers when a declared job has no processor', () => {
    expect(() => startWorkers({ redisUrl, prefix, processors: {}, logger })).toThrow(MissingProcessorError);
    expect(() => startWorkers({ redisUrl, prefix, processors: {}, logger })).toThrow(
      /No processor for job\(s\): ping/,
    );
  });

  it('reports queue depths', async () => {
    const counts = await queues.counts();
    expect(counts.map((c) => c.name)).toContain('system');
    expect(counts[0].counts).toHaveProperty('waiting');
  });
});
