import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, LevelWithSilentOrString } from 'pino';

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * A request's logger (`request.log`) made only when the request logs something. Fastify makes
 * a pino child for every request (its request id bound), and pino serializes the bindings and
 * applies the redaction at once: a fiftieth of a GraphQL caller lookup's CPU (issue 13), for a
 * logger that most requests never use. Until then a line below the parent's level costs
 * nothing; the first line at or above it (or a `child`, or a change of level) makes the child,
 * with the same bindings, and everything goes to it from then on.
 */
class LazyRequestLogger implements FastifyBaseLogger {
  private made: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bound: Bindings,
  ) {}

  private get logger(): FastifyBaseLogger {
    if (!this.made) this.made = this.parent.child(this.bound);
    return this.made;
  }

  private write(level: Level, args: unknown[]) {
    const to = this.made ?? (enabled(this.parent, level) ? this.logger : null);
    if (to) (to[level] as (...a: unknown[]) => void)(...args);
  }

  get level(): LevelWithSilentOrString {
    return (this.made ?? this.parent).level;
  }

  set level(level: LevelWithSilentOrString) {
    this.logger.level = level;
  }

  fatal(...args: unknown[]) {
    this.write('fatal', args);
  }
  error(...args: unknown[]) {
    this.write('error', args);
  }
  warn(...args: unknown[]) {
    this.write('warn', args);
  }
  info(...args: unknown[]) {
    this.write('info', args);
  }
  debug(...args: unknown[]) {
    this.write('debug', args);
  }
  trace(...args: unknown[]) {
    this.write('trace', args);
  }
  silent() {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.logger.child(bindings, options);
  }
}

/** Whether a pino logger writes lines of `level` (pino's own test when it has one). */
function enabled(logger: FastifyBaseLogger, level: Level): boolean {
  const test = (logger as { isLevelEnabled?: (l: string) => boolean }).isLevelEnabled;
  return test ? test.call(logger, level) : true;
}

/**
 * Fastify's `childLoggerFactory`: the request's child made when first used. A route with a
 * level or serializers of its own gets its child at once, as Fastify makes it.
 */
export function lazyRequestLogger(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
): FastifyBaseLogger {
  if (options.level !== undefined || options.serializers !== undefined)
    return logger.child(bindings, options);
  return new LazyRequestLogger(logger, bindings);
}
