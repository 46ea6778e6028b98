import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { unwatchFile, watchFile } from 'node:fs';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyBaseLogger, LogController } from 'fastify';
import type { Redis } from 'ioredis';
import { RedisChangeDebouncer } from '../jobs/change-debouncer.js';
import { JobName, jobOptions, QUEUE_CONCURRENCY, QueueName } from '../jobs/contracts.js';
import { BullJobAdmin } from '../jobs/job-admin.js';
import { BullPresencePollQueue } from '../jobs/presence-poll.queue.js';
import { buildProcessors } from '../jobs/processors/index.js';
import { JobQueues } from '../jobs/queues.js';
import { BullScheduleQueue } from '../jobs/scheduled-sync.queue.js';
import { registerSchedulers } from '../jobs/schedulers.js';
import { BullSyncQueue } from '../jobs/sync-directory.queue.js';
import { BullWelcomeEmailQueue } from '../jobs/welcome-email.queue.js';
import { startWorkers, type Workers } from '../jobs/worker.js';
import { KnownKeys } from './app/known-keys.js';
import { LinkusSessions } from './app/linkus-sessions.js';
import { LinkusWebOrigins } from './app/linkus-web-origins.js';
import { createNotificationIntake, KnownSubscriptions } from './app/notification-intake.js';
import type { EventPublisher } from './app/ports/events.port.js';
import type { KeyRevocationNotifier } from './app/ports/key-revocation.port.js';
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
import { registerLinkusCors } from './http/linkus-cors.js';
import { registerLinkusLookup } from './http/linkus-lookup.js';
import { registerLinkusSso } from './http/linkus-sso.js';
import { registerLinkusToken } from './http/linkus-token.js';
import { Metrics, registerMetricsRoute, startMetricsServer } from './http/metrics.js';
import { registerOAuthCallback } from './http/oauth-callback.js';
import { PortalSessions, registerPortal } from './http/portal.js';
import { registerRateLimits } from './http/rate-limits.js';
import { lazyRequestLogger } from './http/request-logger.js';
import { answerUnhandledError } from './http/server-errors.js';
import { BODY_LIMIT_BYTES } from './limits.js';
import { createLogger, type Logger } from './logger.js';
import { GraphContactsReader } from './m365/contacts.reader.js';
import { GraphDirectoryReader } from './m365/directory.reader.js';
import { MsalIdentity } from './m365/identity.adapter.js';
import { MsalLinkusSignIn } from './m365/linkus-sign-in.adapter.js';
import { GraphPresenceReader } from './m365/presence.reader.js';
import { GraphPresenceSubscriptions } from './m365/presence-subscriptions.adapter.js';
import { GraphSubscriptionsClient } from './m365/subscriptions.adapter.js';
import { createMailSender, describeSmtpUrl } from './mail/transport.js';
import { RedisAuthStateStore } from './redis/auth-state.redis.js';
import { createRedis, pingRedis } from './redis/connection.js';
import { RedisDashboardSessionStore } from './redis/dashboard-session.redis.js';
import { listenForRevokedKeys, RedisKeyRevocations } from './redis/key-revocation.redis.js';
import { RedisSignInCodeStore } from './redis/linkus-codes.redis.js';
import { RedisLinkusSignInStates } from './redis/linkus-sign-in-state.redis.js';
import { createEventBus, type EventBus } from './redis/pubsub.redis.js';
import { RedisSubscriptionsVersion } from './redis/subscriptions-version.redis.js';
import { RedisSyncCoordinator } from './redis/sync-coordinator.redis.js';
import {
  backoffMs,
  type ComponentName,
  type Dependencies,
  describeError,
  describeRedis,
  watchDependencies,
} from './startup.js';
import { createOrm, describeDatabase, type Orm, pingDatabase, prepareDatabase } from './store/orm.js';
import { openStore } from './store/store.js';

export interface Gateway {
  config: Config;
  logger: Logger;
  orm: Orm;
  queues: JobQueues;
  services: AppServices;
  /** The database and Redis as the process sees them (src/startup.ts). */
  dependencies: Dependencies;
  /** Resolves once both answer and the role's work has started (workers, job schedulers). */
  ready: Promise<void>;
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
 *
 * The HTTP server listens at once, whatever answers: /healthz says the process is alive and
 * /readyz names what is not there yet. The database and Redis are retried with backoff, one log
 * line per attempt naming each (src/startup.ts); the API answers 503 until both have answered
 * once, and the workers and job schedulers start when both answer (again after an outage).
 * `waitUntilReady` (default true) resolves the gateway only once they have; `npm start` does not
 * wait (src/main.ts).
 */
export async function startGateway(
  config: Config,
  opts: {
    logger?: Logger;
    waitUntilReady?: boolean;
    /** The built portal (issue 17); default dist/portal (src/http/portal.ts). */
    portalDir?: string;
  } = {},
): Promise<Gateway> {
  const logger = opts.logger ?? createLogger(config.logLevel);
  const serveApi = config.role === 'api' || config.role === 'all';
  const runWorkers = config.role === 'worker' || config.role === 'all';
  let stopping = false;

  // Nothing below waits for the database or Redis: the ORM connects at its first query, and
  // every Redis connection retries by itself.
  const orm = await createOrm(config.database, logger);
  const redis: Redis = createRedis(config.redis.url, 'command', logger, 'command');
  const queues = new JobQueues(redis, config.redis.queuePrefix, (err) =>
    logger.debug({ err: err.message }, 'queue connection error'),
  );
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
  // Announced in this process at once too (its own copy of the announcement arrives a moment
  // later): a key revoked through this process is refused by it from the reply on.
  const knownKeys = new KnownKeys();
  const published = new RedisKeyRevocations(redis, config.redis.queuePrefix);
  const keyRevocations: KeyRevocationNotifier = {
    announce: (keyIds) => {
      knownKeys.forget(keyIds);
      return published.announce(keyIds);
    },
    announcePbxKeys: (pbxIds) => {
      knownKeys.forgetPbx(pbxIds);
      return published.announcePbxKeys(pbxIds);
    },
  };
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
    syncQueue: new BullSyncQueue(queues),
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
    keyRevocations,
    knownKeys,
    contactsReader: new GraphContactsReader(endpoints),
    linkusSessions: new LinkusSessions({
      codes: new RedisSignInCodeStore(redis, config.redis.queuePrefix),
      openStore: store,
      secrets,
      revocations: keyRevocations,
      now,
      log: (level, message, fields) => logger[level](fields ?? {}, message),
    }),
    linkusWebOrigins: new LinkusWebOrigins(store),
    linkusSignIn: {
      states: new RedisLinkusSignInStates(redis, config.redis.queuePrefix),
      microsoft: new MsalLinkusSignIn(endpoints, now),
    },
    presenceReader: new GraphPresenceReader(endpoints, microsoft),
    presencePolls: new BullPresencePollQueue(queues, redis, config.redis.queuePrefix),
    presencePollMinMs: config.presence.pollMinMs,
    presenceSubscriptions: new GraphPresenceSubscriptions(endpoints),
    presenceSubscribeRetryMs: config.presence.subscribeRetryMs,
    presenceSafetyNetMs: config.presence.safetyNetMs,
  };

  // The role's work: started the first time the database and Redis both answer; paused while
  // the database is away, resumed when it is back; job schedulers registered again after any
  // outage (idempotent: a Redis that lost its data gets them back).
  let workers: Workers | undefined;
  let registering: Promise<void> | undefined;
  const registerSchedulersWhileUp = () => {
    registering ??= (async () => {
      for (let attempt = 1; dependencies.up && !stopping; attempt++) {
        try {
          await registerSchedulers(queues);
          return;
        } catch (err) {
          const delay = backoffMs(attempt);
          logger.warn(
            { component: 'redis', attempt, retryInMs: delay, err: describeError(err) },
            `could not register the job schedulers (${describeError(err)}): retrying in ${delay / 1000} s`,
          );
          await new Promise((r) => setTimeout(r, delay).unref());
        }
      }
    })().finally(() => {
      registering = undefined;
    });
    return registering;
  };
  const onUp = async () => {
    if (!runWorkers) return;
    if (!workers) {
      workers = startWorkers({
        redisUrl: config.redis.url,
        prefix: config.redis.queuePrefix,
        processors: buildProcessors({
          openStore: store,
          now: services.now,
          services,
          mailer,
          logger,
          queues,
        }),
        logger,
        canRun: () => dependencies.database.up,
        concurrency: { [QueueName.Sync]: config.workers.syncConcurrency },
      });
      if (!mailer.configured)
        logger.warn('SMTP_URL is not set: welcome emails (U6) are recorded as not sent');
      else logger.info({ smtp: describeSmtpUrl(config.mail.smtpUrl) }, 'welcome emails go through SMTP');
    } else {
      await workers.resume();
      logger.info('workers resumed: the database and Redis answer');
    }
    workersState = 'running';
    await registerSchedulersWhileUp();
    // Key rotation: values sealed with an older key of SECRET_KEY are sealed again, in the background.
    if (config.secretKey.previous.length) await queueReseal();
  };
  const onDown = async (component: ComponentName) => {
    if (component !== 'database' || !workers) return;
    await workers.pause();
    workersState = 'paused';
    logger.warn({ component }, 'workers paused: they take no job until the database is back');
  };
  let workersState: 'waiting' | 'running' | 'paused' = 'waiting';

  // Watched from now on (every attempt logged, the first too), while the server starts listening.
  const dependencies: Dependencies = watchDependencies({
    logger,
    database: {
      where: describeDatabase(config.database),
      prepare: () => prepareDatabase(orm),
      ping: () => pingDatabase(orm),
    },
    redis: { where: describeRedis(config.redis.url), connection: redis },
    onUp,
    onDown,
  });

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
    watchFile(keyFile, { interval: 1000, persistent: false }, (current, before) => {
      if (current.mtimeMs === before.mtimeMs && current.ino === before.ino) return;
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

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => randomUUID(),
    // request.log made when a request logs something, not for every request (issue 13).
    childLoggerFactory: lazyRequestLogger,
    trustProxy: config.trustProxy,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    bodyLimit: BODY_LIMIT_BYTES,
  });

  // An error no route answered: logged, and answered without its message (src/http/server-errors.ts).
  app.setErrorHandler(answerUnhandledError);

  // The hooks every request runs are callbacks, not async functions: no promise and no extra
  // turn of the microtask queue per hook (issue 13).
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    request.log.debug({ method: request.method, url: request.url, status: reply.statusCode }, 'request');
    done();
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
      // Until its migrations have run, the database is not there for the gateway.
      dependencies.database.everUp ? check(() => pingDatabase(orm)) : ('down' as const),
      check(() => pingRedis(redis)),
    ]);
    const down = [
      ...(database === 'down' ? ['database'] : []),
      ...(redisState === 'down' ? ['redis'] : []),
      ...(runWorkers && workersState !== 'running' ? ['workers'] : []),
    ];
    const ready = !stopping && down.length === 0;
    return reply.code(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'unavailable',
      database,
      redis: redisState,
      ...(runWorkers ? { workers: workersState } : {}),
      ...(down.length ? { down } : {}),
      ...(stopping ? { shuttingDown: true } : {}),
    });
  });
  // Until the database (migrated) and Redis have both answered once, the API answers 503 naming
  // what it waits for; health, readiness and metrics answer whatever happens.
  const startedOnce = () => dependencies.database.everUp && dependencies.redis.everUp;
  app.addHook('onRequest', (request, reply, done) => {
    if (startedOnce() || ['/healthz', '/readyz', '/metrics'].includes(request.url.split('?')[0]))
      return done();
    const waitingFor = dependencies.down().join(' and ');
    reply
      .code(503)
      .header('retry-after', '5')
      .send({
        errors: [
          {
            message: `The gateway is starting: waiting for ${waitingFor}.`,
            extensions: { code: 'UNAVAILABLE', waitingFor: dependencies.down() },
          },
        ],
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
  let revokedKeys: ReturnType<typeof listenForRevokedKeys> | undefined;
  if (serveApi) {
    const schema = await buildGatewaySchema(events.pubSub);
    const armor = createArmor(config.graphql);
    await registerLinkusCors(app, services.linkusWebOrigins);
    const sessions = new RedisDashboardSessionStore(redis, config.redis.queuePrefix);
    const portalSessions = new PortalSessions(() => ({ store: store(), sessions, now: services.now }));
    await registerGraphQLHttp(app, {
      schema,
      config,
      logger,
      metrics,
      openStore: store,
      armor,
      services,
      authFailures: rateLimits.authFailures,
      portalSessions,
    });
    registerLinkusLookup(app, { openStore: store, services, authFailures: rateLimits.authFailures, logger });
    registerOAuthCallback(app, { services, openStore: store, logger });
    registerLinkusSso(app, {
      services,
      openStore: store,
      codes: services.linkusSessions,
      ratePerMinute: config.limits.linkusSsoPerMinute,
    });
    await registerLinkusToken(app, { services, logger, authFailures: rateLimits.authFailures });
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
        bodyTimeoutMs: config.webhook.bodyTimeoutMs,
        maxWaiting: config.webhook.maxWaiting,
      },
      observeGate: (s) => {
        metrics.webhookBodies.set({ state: 'reading' }, s.reading);
        metrics.webhookBodies.set({ state: 'waiting' }, s.waiting);
      },
    });
    await registerDashboard(app, {
      queues: [...queues.queues.values()],
      jobs: services.jobs,
      sessions,
      openStore: store,
      now: services.now,
      loginLimit: (request) => rateLimits.login(request),
    });
    await registerPortal(app, {
      sessions,
      openStore: store,
      now: services.now,
      dir: opts.portalDir,
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
      // A WebSocket message is held to HTTP's body limit: nothing bigger is read before its key is checked.
      maxPayload: app.initialConfig.bodyLimit ?? BODY_LIMIT_BYTES,
      maxCost: config.graphql.maxCost,
      accepting: startedOnce,
      portalSessions,
    });
    const sockets = ws;
    // Revoking a key, in any process, closes this process's sockets of it at once, and this
    // process forgets it if it remembered it valid (issue 13).
    const resweep = () =>
      void sockets
        .sweep()
        .catch((err: Error) =>
          logger.warn({ err: err.message }, 'could not re-check the keys of open sockets (will try again)'),
        );
    let heardBefore = false;
    revokedKeys = listenForRevokedKeys(config.redis.url, config.redis.queuePrefix, logger, {
      revoked: (keyIds) => {
        // Keys and Linkus sessions alike (S4): their tokens are refused from now on, their sockets close.
        services.knownKeys.forget(keyIds);
        services.linkusSessions.markRevoked(keyIds);
        sockets.closeSessionsOf(keyIds);
      },
      pbxKeysRevoked: (pbxIds) => {
        // Keys deleted with their extensions: read again, and the sockets' keys checked now.
        services.knownKeys.forgetPbx(pbxIds);
        resweep();
      },
      listening: (on) => {
        // Announcements may have been missed while the channel was away: nothing is trusted
        // from memory meanwhile, and the sockets' keys are checked again when it is back.
        services.knownKeys.setListening(on);
        if (on) {
          logger.info('hearing revoked keys: API keys found valid are trusted for a few seconds');
          if (heardBefore) resweep();
          heardBefore = true;
        } else {
          logger.warn('not hearing revoked keys (Redis away): every API key is read from the database');
        }
      },
    });
  }

  await app.listen({ host: config.http.host, port: config.http.port });
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`;
  logger.info({ listening: url, role: config.role }, 'gateway listening: /healthz and /readyz answer');

  const ready = dependencies.ready.then(() => {
    if (!dependencies.up) return;
    logger.info({ url, role: config.role, database: config.database.kind }, 'gateway started');
  });
  if (opts.waitUntilReady !== false) await ready;

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      stopping = true;
      logger.info('shutting down');
      const budget = config.shutdownTimeoutMs;
      await dependencies.stop();
      await revokedKeys?.close();
      await ws?.close();
      // In-flight requests finish; one that does not within a third of the budget is cut.
      await Promise.race([app.close(), new Promise((r) => setTimeout(r, budget / 3).unref())]);
      // With Redis away, nothing is left to finish: the workers stop at once.
      await workers?.close(dependencies.redis.up ? budget / 3 : 0);
      if (keyFile) unwatchFile(keyFile);
      await metricsServer?.close();
      mailer.close();
      // BullMQ's close waits for a Redis that is away: not past a second.
      await Promise.race([queues.close(), new Promise((r) => setTimeout(r, 1000).unref())]);
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
    dependencies,
    ready,
    url,
    metricsUrl: metricsServer?.url ?? null,
    openStore: store,
    stop,
  };
}
