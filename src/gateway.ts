import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { unwatchFile, watchFile } from 'node:fs';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyBaseLogger, LogController } from 'fastify';
import type { Redis } from 'ioredis';
import { RedisChangeDebouncer } from '../jobs/change-debouncer.js';
import { JobName, jobOptions, QUEUE_CONCURRENCY, QueueName } from '../jobs/contracts.js';
import { BullJobAdmin } from '../jobs/job-admin.js';
import { buildProcessors } from '../jobs/processors/index.js';
import { JobQueues } from '../jobs/queues.js';
import { BullScheduleQueue } from '../jobs/scheduled-sync.queue.js';
import { registerSchedulers } from '../jobs/schedulers.js';
import { BullWelcomeEmailQueue } from '../jobs/welcome-email.queue.js';
import { startWorkers, type Workers } from '../jobs/worker.js';
import { createNotificationIntake, KnownSubscriptions } from './app/notification-intake.js';
import type { EventPublisher } from './app/ports/events.port.js';
import type { Store } from './app/ports/store.port.js';
import { SecretBox } from './app/secret-box.js';
import type { AppServices } from './app/services.js';
import { progressPublisher } from './app/sync-progress.js';
import { type Config, readSecretKeyFile } from './config.js';
import { buildGatewaySchema } from './graphql/schema.js';
import { registerDashboard } from './http/dashboard.js';
import { registerGraphNotifications } from './http/graph-notifications.js';
import { createArmor, registerGraphQLHttp } from './http/graphql-http.js';
import { attachGraphQLWebSocket } from './http/graphql-ws.js';
import { Metrics, registerMetricsRoute, startMetricsServer } from './http/metrics.js';
import { registerOAuthCallback } from './http/oauth-callback.js';
import { registerRateLimits } from './http/rate-limits.js';
import { createLogger, type Logger } from './logger.js';
import { GraphDirectoryReader } from './m365/directory.reader.js';
import { MsalIdentity } from './m365/identity.adapter.js';
import { GraphSubscriptionsClient } from './m365/subscriptions.adapter.js';
import { createMailSender, describeSmtpUrl } from './mail/transport.js';
import { RedisAuthStateStore } from './redis/auth-state.redis.js';
import { createRedis, pingRedis, waitUntilReady } from './redis/connection.js';
import { RedisDashboardSessionStore } from './redis/dashboard-session.redis.js';
import { createEventBus, type EventBus } from './redis/pubsub.redis.js';
import { RedisSubscriptionsVersion } from './redis/subscriptions-version.redis.js';
import { RedisSyncCoordinator } from './redis/sync-coordinator.redis.js';
import { type Orm, openDatabase, pingDatabase } from './store/orm.js';
import { openStore } from './store/store.js';

export interface Gateway {
  config: Config;
  logger: Logger;
  orm: Orm;
  queues: JobQueues;
  services: AppServices;
  /** Base URL of the HTTP server, once listening (e.g. http://127.0.0.1:4000). */
  url: string;
  /** Base URL of /metrics' own server (METRICS_PORT), when it has one. */
  metricsUrl: string | null;
  openStore(): Store;
  /** Graceful stop: stop accepting, finish in-flight work, close sockets, workers, Redis, database. */
  stop(): Promise<void>;
}

/**
 * Builds and starts one gateway process: the API (HTTP + WebSocket), the workers, or both,
 * as `config.role` says. Health and metrics endpoints are served in every role.
 */
export async function startGateway(config: Config, opts: { logger?: Logger } = {}): Promise<Gateway> {
  const logger = opts.logger ?? createLogger(config.logLevel);
  const serveApi = config.role === 'api' || config.role === 'all';
  const runWorkers = config.role === 'worker' || config.role === 'all';

  const orm = await openDatabase(config.database);
  const redis: Redis = createRedis(config.redis.url, 'command', logger, 'command');
  // The command connection fails fast by design; give it a moment to connect before serving.
  // If Redis is down, start anyway: /readyz says so and the connection keeps retrying.
  await waitUntilReady(redis, 5000);
  const queues = new JobQueues(redis, config.redis.queuePrefix);
  const metrics = new Metrics(() => queues.counts());
  const events: EventBus = createEventBus(config.redis.url, config.redis.queuePrefix, logger);
  // The one clock of the process: use cases, processors and the store all read it.
  const now = () => new Date();
  const store = () => openStore(orm, now);
  const endpoints = {
    authorityHost: config.microsoft.authorityHost,
    graphBaseUrl: config.microsoft.graphBaseUrl,
    extraCaPem: config.microsoft.extraCaPem,
  };
  const microsoft = new MsalIdentity(endpoints);
  const mailer = createMailSender({
    smtpUrl: config.mail.smtpUrl,
    from: config.mail.from,
    maxConnections: QUEUE_CONCURRENCY[QueueName.Mail],
  });
  const eventPublisher: EventPublisher = {
    publish: (topic, payload) => events.pubSub.publish(topic, payload),
    subscribe: (topic) => events.pubSub.subscribe(topic) as AsyncIterable<unknown>,
  };
  const debouncer = new RedisChangeDebouncer(redis, queues, config.redis.queuePrefix);
  const secrets = new SecretBox(config.secretKey.key, config.secretKey.previous);
  const services: AppServices = {
    microsoft,
    reader: new GraphDirectoryReader(endpoints, microsoft),
    coordinator: new RedisSyncCoordinator(redis, config.redis.queuePrefix),
    subscriptions: new GraphSubscriptionsClient((app) => microsoft.graphAsApp(app)),
    debouncer,
    subscriptionsVersion: new RedisSubscriptionsVersion(redis, config.redis.queuePrefix),
    scheduleQueue: new BullScheduleQueue(queues),
    log: (level, message, fields) => logger[level](fields ?? {}, message),
    afterConnect: async (pbxId) => {
      await queues.enqueue(JobName.MaintainSubscriptions, { pbxId });
      await queues.enqueue(JobName.EnsureSchedules, { pbxId });
    },
    syncQueue: {
      enqueue: async (run) => {
        await queues.enqueue(JobName.SyncDirectory, { pbxId: run.pbxId, runId: run.id }, `sync-${run.id}`);
      },
    },
    authStates: new RedisAuthStateStore(redis, config.redis.queuePrefix),
    events: eventPublisher,
    syncProgress: progressPublisher(eventPublisher, now),
    secrets,
    jobs: new BullJobAdmin(queues),
    now,
    // U6: one `welcome-email` job per email (ids only), queued by sync runs after they commit
    // and by the sweep of emails left QUEUED; never fails the sync run.
    welcomeEmailQueue: new BullWelcomeEmailQueue(queues, {
      attempts: config.mail.attempts,
      delayMs: config.mail.retryDelayMs,
    }),
  };

  let workers: Workers | undefined;
  if (runWorkers) {
    workers = startWorkers({
      redisUrl: config.redis.url,
      prefix: config.redis.queuePrefix,
      processors: buildProcessors({ openStore: store, now: services.now, services, mailer, logger }),
      logger,
    });
    if (!mailer.configured) logger.warn('SMTP_URL is not set: welcome emails (U6) are recorded as not sent');
    else logger.info({ smtp: describeSmtpUrl(config.mail.smtpUrl) }, 'welcome emails go through SMTP');
    await registerSchedulers(queues).catch((err) =>
      logger.warn(
        { err: (err as Error).message },
        'could not register job schedulers (Redis down?); they are registered at the next start',
      ),
    );
    // Key rotation: values sealed with an older key of SECRET_KEY are sealed again, in the background.
    if (config.secretKey.previous.length) await queueReseal();
  }

  async function queueReseal() {
    await queues
      .queue('system')
      .add(
        JobName.ResealSecrets,
        {},
        { ...jobOptions(JobName.ResealSecrets, {}), deduplication: { id: 'reseal-secrets' } },
      )
      .catch((err) =>
        logger.warn({ err: (err as Error).message }, 'could not queue the re-sealing of secrets'),
      );
  }

  // SECRET_KEY_FILE: a rotation (`npm run keys -- rotate-secret-key`) writes the new key first
  // in the file; a running gateway takes the file's keys as they change, so it opens values
  // sealed with the new key and seals with it.
  const keyFile = config.secretKey.file;
  if (keyFile) {
    watchFile(keyFile, { interval: 1000, persistent: false }, (now, before) => {
      if (now.mtimeMs === before.mtimeMs && now.ino === before.ino) return;
      try {
        const [key, ...previous] = readSecretKeyFile(keyFile);
        const was = secrets.keyId;
        secrets.useKeys(key, previous);
        logger.info({ file: keyFile, keyId: secrets.keyId, keyIds: secrets.keyIds }, 'secret keys reloaded');
        if (runWorkers && was !== secrets.keyId) void queueReseal();
      } catch (err) {
        logger.error(
          { file: keyFile, err: (err as Error).message },
          'the secret key file changed but cannot be used; the keys in use stay',
        );
      }
    });
  }

  let stopping = false;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => randomUUID(),
    trustProxy: config.trustProxy,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    request.log.debug({ method: request.method, url: request.url, status: reply.statusCode }, 'request');
  });

  const rateLimits = await registerRateLimits(app, {
    redis,
    prefix: config.redis.queuePrefix,
    loginPerMinute: config.limits.loginPerMinute,
    authFailuresPerMinute: config.limits.authFailuresPerMinute,
    forgedPerMinute: config.webhook.forgedPerMinute,
    metrics,
    logger,
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const check = async (fn: () => Promise<void>) =>
      fn().then(
        () => 'ok' as const,
        () => 'down' as const,
      );
    const [database, redisState] = await Promise.all([
      check(() => pingDatabase(orm)),
      check(() => pingRedis(redis)),
    ]);
    const ready = !stopping && database === 'ok' && redisState === 'ok';
    return reply.code(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'unavailable',
      database,
      redis: redisState,
      ...(stopping ? { shuttingDown: true } : {}),
    });
  });
  // /metrics: on the main port unless METRICS_PORT gives it one of its own; behind METRICS_TOKEN when set.
  let metricsServer: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
  if (config.metrics.port) {
    metricsServer = await startMetricsServer(metrics, {
      host: config.http.host,
      port: config.metrics.port,
      token: config.metrics.token,
    });
  } else {
    registerMetricsRoute(app, metrics, { token: config.metrics.token });
  }

  let ws: ReturnType<typeof attachGraphQLWebSocket> | undefined;
  if (serveApi) {
    const schema = await buildGatewaySchema(events.pubSub);
    const armor = createArmor(config.graphql);
    await registerGraphQLHttp(app, { schema, config, logger, metrics, openStore: store, armor, services });
    registerOAuthCallback(app, { services, openStore: store, logger });
    const known = new KnownSubscriptions({
      load: () => store().subscriptions.listAll(),
      version: services.subscriptionsVersion,
      onLoad: () => metrics.subscriptionCacheLoads.inc(),
    });
    registerGraphNotifications(app, {
      intake: createNotificationIntake({
        known,
        queue: debouncer,
        log: services.log,
        maxItems: config.webhook.maxItems,
        observe: (endpoint, r) => {
          if (r.accepted) metrics.graphNotifications.inc({ endpoint, outcome: 'accepted' }, r.accepted);
          if (r.rejected) metrics.graphNotifications.inc({ endpoint, outcome: 'rejected' }, r.rejected);
          if (r.ignored) metrics.graphNotifications.inc({ endpoint, outcome: 'ignored' }, r.ignored);
        },
      }),
      logger,
      forged: rateLimits.forged,
      limits: {
        bodyLimitBytes: config.webhook.bodyLimitBytes,
        ratePerMinute: config.webhook.ratePerMinute,
        validationTokenMax: config.webhook.validationTokenMax,
      },
    });
    await registerDashboard(app, {
      queues: [...queues.queues.values()],
      jobs: services.jobs,
      sessions: new RedisDashboardSessionStore(redis, config.redis.queuePrefix),
      openStore: store,
      now: services.now,
      loginLimit: (request) => rateLimits.login(request),
    });
    ws = attachGraphQLWebSocket(app.server, {
      schema,
      logger,
      openStore: store,
      services,
      validationRules: armor.validationRules,
      production: config.production,
      maxTokens: config.graphql.maxTokens,
    });
  }

  await app.listen({ host: config.http.host, port: config.http.port });
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`;
  logger.info({ url, role: config.role, database: config.database.kind }, 'gateway started');

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      stopping = true;
      logger.info('shutting down');
      const budget = config.shutdownTimeoutMs;
      await ws?.close();
      // In-flight requests finish; one that does not within a third of the budget is cut.
      await Promise.race([app.close(), new Promise((r) => setTimeout(r, budget / 3).unref())]);
      await workers?.close(budget / 3);
      if (keyFile) unwatchFile(keyFile);
      await metricsServer?.close();
      mailer.close();
      await queues.close();
      await events.close();
      await redis.quit().catch(() => redis.disconnect());
      await orm.close(true);
      logger.info('stopped');
    })();
    return stopped;
  };

  return {
    config,
    logger,
    orm,
    queues,
    services,
    url,
    metricsUrl: metricsServer?.url ?? null,
    openStore: store,
    stop,
  };
}
