import type { Redis } from 'ioredis';
import type { Logger } from './logger.js';

/**
 * Start-up and faults (issue 12 item 3). The gateway serves /healthz and /readyz at once; the
 * database and Redis are watched here, each a component with a state, retried with backoff and
 * one log line per failed attempt that names it ("database unavailable (...): retrying in 2 s").
 * Work (workers, job schedulers) starts when both answer, stops taking jobs when the database
 * goes away, and picks up again when it is back; the same after Redis comes back.
 */

export type ComponentName = 'database' | 'redis';
export type ComponentState = 'starting' | 'up' | 'down';

/** The delay before retry `attempt` (1, 2, ...): 0.5 s, doubled each time, at most 5 s. */
export function backoffMs(attempt: number): number {
  return Math.min(500 * 2 ** Math.max(0, attempt - 1), 5000);
}

/** An error's message, whatever it is (pg's AggregateError for several addresses has none of its own). */
export function describeError(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length) {
    return [...new Set(err.errors.map(describeError))].join('; ');
  }
  if (err instanceof Error) return err.message || (err as NodeJS.ErrnoException).code || err.name;
  return String(err);
}

export class Component {
  state: ComponentState = 'starting';
  /** Why it is down (the last error), while it is. */
  error: string | null = null;
  /** Failed attempts since it last answered. */
  attempts = 0;
  /** Whether it ever answered since the process started. */
  everUp = false;
  private readonly listeners = new Set<() => void>();

  constructor(readonly name: ComponentName) {}

  get up(): boolean {
    return this.state === 'up';
  }

  markUp() {
    const changed = this.state !== 'up';
    this.state = 'up';
    this.error = null;
    this.attempts = 0;
    this.everUp = true;
    if (changed) this.changed();
  }

  markDown(error: string) {
    const changed = this.state === 'up';
    this.state = 'down';
    this.error = error;
    this.attempts++;
    if (changed) this.changed();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed() {
    for (const listener of this.listeners) listener();
  }
}

/** A sleep that `stop` cuts short. */
function pause(ms: number, stopped: { signal: AbortSignal }): Promise<void> {
  return new Promise((resolve) => {
    if (stopped.signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      stopped.signal.removeEventListener('abort', done);
      resolve();
    }
    stopped.signal.addEventListener('abort', done);
  });
}

/**
 * Watches the database: `prepare` (first contact: answer, exist, migrate) until it succeeds,
 * then `ping` every `intervalMs`. Each failure marks it down and logs one line; each success
 * after a failure marks it up and says so.
 */
function watchDatabase(
  component: Component,
  deps: {
    logger: Logger;
    where: string;
    prepare: () => Promise<void>;
    ping: () => Promise<void>;
    intervalMs: number;
    stopped: AbortController;
  },
): Promise<void> {
  const { logger, where, stopped } = deps;
  return (async () => {
    let prepared = false;
    while (!stopped.signal.aborted) {
      try {
        if (prepared) await deps.ping();
        else {
          await deps.prepare();
          prepared = true;
        }
        if (!component.up) {
          const attempts = component.attempts;
          logger.info(
            { component: 'database', where, attempts },
            component.everUp ? 'database is back' : 'database is up',
          );
          component.markUp();
        }
        await pause(deps.intervalMs, stopped);
      } catch (err) {
        if (stopped.signal.aborted) return;
        const message = describeError(err);
        component.markDown(message);
        const delay = backoffMs(component.attempts);
        logger.warn(
          { component: 'database', where, attempt: component.attempts, retryInMs: delay, err: message },
          `database unavailable (${where}: ${message}): retrying in ${delay / 1000} s`,
        );
        await pause(delay, stopped);
      }
    }
  })();
}

/**
 * Watches Redis through one connection (the process's command connection): ioredis reconnects
 * by itself (its retryStrategy is {@link backoffMs}); each attempt that fails is one log line
 * naming Redis, and the connection's `ready` marks it up. The other connections (workers,
 * events) retry alike and say nothing above debug.
 */
function watchRedis(component: Component, redis: Redis, deps: { logger: Logger; where: string }) {
  const { logger, where } = deps;
  let lastError = '';
  const onError = (err: Error) => {
    lastError = describeError(err);
  };
  const onReconnecting = (delay: number) => {
    const message = lastError || 'connection lost';
    lastError = '';
    component.markDown(message);
    logger.warn(
      { component: 'redis', where, attempt: component.attempts, retryInMs: delay, err: message },
      `redis unavailable (${where}: ${message}): retrying in ${delay / 1000} s`,
    );
  };
  const onReady = () => {
    logger.info(
      { component: 'redis', where, attempts: component.attempts },
      component.everUp ? 'redis is back' : 'redis is up',
    );
    lastError = '';
    component.markUp();
  };
  redis.on('error', onError);
  redis.on('reconnecting', onReconnecting);
  redis.on('ready', onReady);
  if (redis.status === 'ready') component.markUp();
  return () => {
    redis.off('error', onError);
    redis.off('reconnecting', onReconnecting);
    redis.off('ready', onReady);
  };
}

export interface Dependencies {
  database: Component;
  redis: Component;
  /** Both answer. */
  readonly up: boolean;
  /** The components that do not answer, by name. */
  down(): ComponentName[];
  /** Resolves the first time both answer (and `onUp` has run), or when stopped. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

/** Where Redis is, for log lines: host and port, never a password. */
export function describeRedis(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 6379}`;
  } catch {
    return 'redis';
  }
}

/**
 * Watches both and drives the work: `onUp` each time both answer (the first time, and after
 * either came back), `onDown` each time one of them goes away. Calls never overlap.
 */
export function watchDependencies(opts: {
  logger: Logger;
  database: { where: string; prepare: () => Promise<void>; ping: () => Promise<void> };
  redis: { where: string; connection: Redis };
  onUp?: (deps: Dependencies) => Promise<void>;
  onDown?: (component: ComponentName) => Promise<void>;
  /** How often a database that answers is pinged (default 2 s). */
  pingIntervalMs?: number;
}): Dependencies {
  const { logger } = opts;
  const database = new Component('database');
  const redis = new Component('redis');
  const stopped = new AbortController();
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  stopped.signal.addEventListener('abort', () => markReady());

  const deps: Dependencies = {
    database,
    redis,
    get up() {
      return database.up && redis.up;
    },
    down: () => [database, redis].filter((c) => !c.up).map((c) => c.name),
    ready,
    async stop() {
      stopped.abort();
      unwatchRedis();
      await Promise.allSettled([dbLoop, chain]);
    },
  };

  // One transition at a time, in order: onUp and onDown never run side by side.
  let chain: Promise<void> = Promise.resolve();
  let wasUp = false;
  const step = () => {
    chain = chain.then(async () => {
      if (stopped.signal.aborted) return;
      const up = deps.up;
      if (up && !wasUp) {
        wasUp = true;
        try {
          await opts.onUp?.(deps);
        } catch (err) {
          logger.error(
            { err: describeError(err) },
            'could not start the work that needs the database and Redis',
          );
        }
        markReady();
      } else if (!up && wasUp) {
        wasUp = false;
        const gone = deps.down();
        for (const name of gone) {
          try {
            await opts.onDown?.(name);
          } catch (err) {
            logger.error(
              { err: describeError(err), component: name },
              'could not react to a component going away',
            );
          }
        }
      }
    });
  };
  database.onChange(step);
  redis.onChange(step);

  const unwatchRedis = watchRedis(redis, opts.redis.connection, { logger, where: opts.redis.where });
  const dbLoop = watchDatabase(database, {
    logger,
    where: opts.database.where,
    prepare: opts.database.prepare,
    ping: opts.database.ping,
    intervalMs: opts.pingIntervalMs ?? 2000,
    stopped,
  });
  step();
  return deps;
}
