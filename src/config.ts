import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/**
 * The one place that reads the environment. Everything else takes a `Config`.
 * A bad or missing variable stops the start with one message listing every problem.
 */

export const ROLES = ['api', 'worker', 'all'] as const;
export type ProcessRole = (typeof ROLES)[number];

const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).default(def);

const httpsOrHttpUrl = z
  .string()
  .url()
  .refine((v) => /^https?:\/\//.test(v), 'must be an http(s) URL');

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: int(4000, 0, 65535),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: z
    .string()
    .default('sqlite:.data/gateway.sqlite')
    .refine(
      (v) => /^(postgres|postgresql):\/\//.test(v) || v.startsWith('sqlite:'),
      'must be postgres://user@host:port/db or sqlite:<file path>',
    ),
  DATABASE_POOL_MAX: int(10, 1, 200),
  REDIS_URL: z
    .string()
    .default('redis://127.0.0.1:6379')
    .refine((v) => /^rediss?:\/\//.test(v), 'must be redis://host:port or rediss://host:port'),
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, - and _ only')
    .default('epg'),
  SHUTDOWN_TIMEOUT_MS: int(8000, 100, 60_000),
  GRAPHQL_MAX_DEPTH: int(10, 1, 100),
  GRAPHQL_MAX_ALIASES: int(15, 1, 1000),
  GRAPHQL_MAX_COST: int(5000, 1, 1_000_000),
  GRAPHQL_MAX_TOKENS: int(2000, 10, 100_000),
  MS_AUTHORITY_HOST: httpsOrHttpUrl.default('https://login.microsoftonline.com'),
  MS_GRAPH_BASE_URL: httpsOrHttpUrl.default('https://graph.microsoft.com/v1.0'),
  MS_EXTRA_CA_FILE: z.string().min(1).optional(),
  SECRET_KEY: z.string().min(1).optional(),
  SECRET_KEY_FILE: z.string().min(1).optional(),
  SMTP_URL: z
    .string()
    .url()
    .refine((v) => /^smtps?:\/\//.test(v), 'must be smtp://user:pass@host:587 or smtps://user:pass@host:465')
    .optional(),
  MAIL_FROM: z.string().min(3).default('PBX <no-reply@localhost>'),
  MAIL_ATTEMPTS: int(5, 1, 20),
  MAIL_RETRY_DELAY_MS: int(30_000, 1, 3_600_000),
  /** P1–P3: the shortest presence poll interval; longer when a PBX's users need more requests. */
  PRESENCE_POLL_MS: int(2000, 100, 3_600_000),
  /** Issue 15: after a presence subscription could not be made, the next attempt this much later. */
  PRESENCE_SUBSCRIBE_RETRY_MS: int(600_000, 100, 86_400_000),
  /** Issue 15: users a presence subscription covers are also read this often (the safety net). */
  PRESENCE_SAFETY_NET_MS: int(900_000, 100, 86_400_000),
  SYNC_CONCURRENCY: int(8, 1, 64),
  TRUST_PROXY: z
    .string()
    .regex(
      /^(true|false|[0-9A-Fa-f.:/]+(,[0-9A-Fa-f.:/]+)*)$/,
      "true, false, or the proxies' addresses/CIDRs separated by commas",
    )
    .optional(),
  WEBHOOK_BODY_LIMIT_BYTES: int(1_048_576, 1024, 50 * 1_048_576),
  WEBHOOK_MAX_ITEMS: int(1000, 1, 100_000),
  WEBHOOK_RATE_LIMIT_PER_MINUTE: int(600, 1, 1_000_000),
  WEBHOOK_VALIDATION_TOKEN_MAX: int(2048, 16, 65_536),
  WEBHOOK_FORGED_PER_MINUTE: int(20, 1, 1_000_000),
  WEBHOOK_BODY_TIMEOUT_MS: int(10_000, 100, 600_000),
  WEBHOOK_MAX_WAITING: int(100, 1, 100_000),
  LOGIN_RATE_LIMIT_PER_MINUTE: int(10, 1, 100_000),
  AUTH_FAILURES_PER_MINUTE: int(30, 1, 1_000_000),
  LINKUS_SSO_RATE_LIMIT_PER_MINUTE: int(600, 1, 1_000_000),
  METRICS_PORT: int(0, 0, 65535).optional(),
  METRICS_TOKEN: z.string().min(16, 'at least 16 characters').optional(),
});

/** 32 bytes, as 64 hex digits or base64. */
export function parseSecretKey(text: string): Buffer {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  const b = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (b.length !== 32 || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) {
    throw new Error(
      'must be 32 bytes: 64 hex digits or 44 base64 characters (npm run keys -- generate-secret-key)',
    );
  }
  return b;
}

/**
 * The keys of SECRET_KEY (or of the file SECRET_KEY_FILE names): the current key first, then
 * older ones still accepted for reading, separated by commas, white space or new lines.
 */
export function parseSecretKeys(text: string): Buffer[] {
  const parts = text
    .split(/[\s,]+/)
    .map((p) => p.trim())
    .filter((p) => p && !p.startsWith('#'));
  if (!parts.length) throw new Error('no key: expected 32 bytes as 64 hex digits or base64');
  const keys = parts.map((p, i) => {
    try {
      return parseSecretKey(p);
    } catch (err) {
      throw new Error(parts.length > 1 ? `key ${i + 1}: ${(err as Error).message}` : (err as Error).message);
    }
  });
  const seen = new Set<string>();
  for (const k of keys) {
    if (seen.has(k.toString('hex'))) throw new Error('the same key is listed twice');
    seen.add(k.toString('hex'));
  }
  return keys;
}

/**
 * A key file must be readable by its owner only: one that the group or others may read is
 * refused (its key may already be known), as ssh refuses a private key file.
 */
export function checkKeyFileMode(file: string): string | null {
  if (process.platform === 'win32') return null;
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) {
    return `${file} may be read by others (mode ${mode.toString(8).padStart(4, '0')}); make it readable by its owner only: chmod 600 ${file}`;
  }
  return null;
}

/** Reads SECRET_KEY_FILE's keys, refusing a file others may read. */
export function readSecretKeyFile(file: string): Buffer[] {
  const text = readFileSync(file, 'utf8');
  const loose = checkKeyFileMode(file);
  if (loose) throw new Error(loose);
  return parseSecretKeys(text);
}

export type Env = z.infer<typeof envSchema>;

export interface Config {
  role: ProcessRole;
  nodeEnv: Env['NODE_ENV'];
  production: boolean;
  http: { host: string; port: number };
  logLevel: Env['LOG_LEVEL'];
  database: { kind: 'sqlite'; file: string } | { kind: 'postgresql'; url: string; poolMax: number };
  /** `configured`: REDIS_URL was set explicitly (the demo then uses it or fails, never starts its own). */
  redis: { url: string; queuePrefix: string; configured: boolean };
  shutdownTimeoutMs: number;
  graphql: { maxDepth: number; maxAliases: number; maxCost: number; maxTokens: number };
  microsoft: { authorityHost: string; graphBaseUrl: string; extraCaFile?: string; extraCaPem?: string };
  /**
   * The key that seals client secrets and token caches (AES-256-GCM), and the older keys that
   * may still open them (`previous`, in the order given); `file` when read from SECRET_KEY_FILE.
   */
  secretKey: { key: Buffer; previous: Buffer[]; file: string | null };
  /**
   * The public webhook (`POST /graph/notifications`, `/graph/lifecycle`): largest body, most
   * notifications looked at per body, requests per minute per source address, longest
   * validation token echoed.
   */
  webhook: {
    bodyLimitBytes: number;
    maxItems: number;
    ratePerMinute: number;
    /** bodies with no valid item a minute per source address before it is refused */
    forgedPerMinute: number;
    validationTokenMax: number;
    /** longest a body may take to arrive once its turn came (one body is read at a time) */
    bodyTimeoutMs: number;
    /** bodies waiting for their turn before more are answered 503 */
    maxWaiting: number;
  };
  /** Per source address: dashboard sign-in attempts, and answers 401 (a bad or missing key), per minute. */
  limits: {
    loginPerMinute: number;
    authFailuresPerMinute: number;
    /** S2: Linkus sign-in starts (and Microsoft callbacks) a minute per source address. */
    linkusSsoPerMinute: number;
  };
  /** fastify's trustProxy: whose X-Forwarded-For tells the client's address (rate limits are per address). */
  trustProxy: boolean | string[];
  /**
   * `/metrics`: on the main port (port null) or only on a port of its own; behind
   * `Authorization: Bearer <token>` when a token is set.
   */
  metrics: { port: number | null; token: string | null };
  /**
   * Outgoing mail (U6 welcome emails). `smtpUrl` null: nothing is sent, each email is recorded
   * as not sent. Attempts and the first retry delay (doubled each time) are per email.
   */
  mail: { smtpUrl: string | null; from: string; attempts: number; retryDelayMs: number };
  presence: { pollMinMs: number; subscribeRetryMs: number; safetyNetMs: number };
  /**
   * Issue 16 item 4: sync runs one worker process runs at once (runs of different PBXs; one PBX
   * never runs two). Runs wait on Microsoft most of the time, so several go side by side; each
   * holds its PBX's directory in memory while it plans (a 100,000-user run some 200 MB).
   */
  workers: { syncConcurrency: number };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads `--role api|worker|all` (or `--role=...`). */
export function parseRole(argv: readonly string[]): { role?: string } {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--role') return { role: argv[i + 1] ?? '' };
    if (a.startsWith('--role=')) return { role: a.slice('--role='.length) };
  }
  return {};
}

export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  argv: readonly string[] = process.argv.slice(2),
): Config {
  const problems: string[] = [];
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push(`${issue.path.join('.') || '(environment)'}: ${issue.message}`);
    }
  }
  const { role = 'all' } = parseRole(argv);
  if (!(ROLES as readonly string[]).includes(role)) {
    problems.push(`--role: must be one of ${ROLES.join(', ')} (got "${role}")`);
  }
  let secretKey: Config['secretKey'] | undefined;
  let extraCaPem: string | undefined;
  if (parsed.success) {
    const e = parsed.data;
    if (e.SECRET_KEY && e.SECRET_KEY_FILE) {
      problems.push('SECRET_KEY: set SECRET_KEY or SECRET_KEY_FILE, not both');
    } else if (e.SECRET_KEY) {
      try {
        const [key, ...previous] = parseSecretKeys(e.SECRET_KEY);
        secretKey = { key, previous, file: null };
      } catch (err) {
        problems.push(`SECRET_KEY: ${(err as Error).message}`);
      }
    } else if (e.SECRET_KEY_FILE) {
      try {
        const [key, ...previous] = readSecretKeyFile(e.SECRET_KEY_FILE);
        secretKey = { key, previous, file: e.SECRET_KEY_FILE };
      } catch (err) {
        problems.push(
          `SECRET_KEY_FILE: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? `no file at ${e.SECRET_KEY_FILE}` : (err as Error).message}`,
        );
      }
    } else {
      problems.push(
        'SECRET_KEY: required (or SECRET_KEY_FILE): the key that encrypts client secrets at rest; make one with `npm run keys -- generate-secret-key`',
      );
    }
    if (e.MS_EXTRA_CA_FILE) {
      try {
        extraCaPem = readFileSync(e.MS_EXTRA_CA_FILE, 'utf8');
        if (!extraCaPem.includes('BEGIN CERTIFICATE'))
          problems.push('MS_EXTRA_CA_FILE: not a PEM certificate');
      } catch (err) {
        problems.push(`MS_EXTRA_CA_FILE: ${(err as Error).message}`);
      }
    }
  }
  if (problems.length > 0 || !parsed.success || !secretKey) throw new ConfigError(problems);
  const e = parsed.data;
  const database = databaseOf(e);
  return {
    role: role as ProcessRole,
    nodeEnv: e.NODE_ENV,
    production: e.NODE_ENV === 'production',
    http: { host: e.HOST, port: e.PORT },
    logLevel: e.LOG_LEVEL,
    database,
    redis: { url: e.REDIS_URL, queuePrefix: e.QUEUE_PREFIX, configured: Boolean(env.REDIS_URL) },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    graphql: {
      maxDepth: e.GRAPHQL_MAX_DEPTH,
      maxAliases: e.GRAPHQL_MAX_ALIASES,
      maxCost: e.GRAPHQL_MAX_COST,
      maxTokens: e.GRAPHQL_MAX_TOKENS,
    },
    microsoft: {
      authorityHost: e.MS_AUTHORITY_HOST.replace(/\/+$/, ''),
      graphBaseUrl: e.MS_GRAPH_BASE_URL.replace(/\/+$/, ''),
      extraCaFile: e.MS_EXTRA_CA_FILE,
      extraCaPem,
    },
    secretKey,
    webhook: {
      bodyLimitBytes: e.WEBHOOK_BODY_LIMIT_BYTES,
      maxItems: e.WEBHOOK_MAX_ITEMS,
      ratePerMinute: e.WEBHOOK_RATE_LIMIT_PER_MINUTE,
      forgedPerMinute: e.WEBHOOK_FORGED_PER_MINUTE,
      validationTokenMax: e.WEBHOOK_VALIDATION_TOKEN_MAX,
      bodyTimeoutMs: e.WEBHOOK_BODY_TIMEOUT_MS,
      maxWaiting: e.WEBHOOK_MAX_WAITING,
    },
    limits: {
      loginPerMinute: e.LOGIN_RATE_LIMIT_PER_MINUTE,
      authFailuresPerMinute: e.AUTH_FAILURES_PER_MINUTE,
      linkusSsoPerMinute: e.LINKUS_SSO_RATE_LIMIT_PER_MINUTE,
    },
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    metrics: { port: e.METRICS_PORT ? e.METRICS_PORT : null, token: e.METRICS_TOKEN ?? null },
    mail: {
      smtpUrl: e.SMTP_URL ?? null,
      from: e.MAIL_FROM,
      attempts: e.MAIL_ATTEMPTS,
      retryDelayMs: e.MAIL_RETRY_DELAY_MS,
    },
    presence: {
      pollMinMs: e.PRESENCE_POLL_MS,
      subscribeRetryMs: e.PRESENCE_SUBSCRIBE_RETRY_MS,
      safetyNetMs: e.PRESENCE_SAFETY_NET_MS,
    },
    workers: { syncConcurrency: e.SYNC_CONCURRENCY },
  };
}

/** The database settings of a parsed environment. */
function databaseOf(e: Pick<Env, 'DATABASE_URL' | 'DATABASE_POOL_MAX'>): Config['database'] {
  return e.DATABASE_URL.startsWith('sqlite:')
    ? { kind: 'sqlite', file: e.DATABASE_URL.slice('sqlite:'.length) || '.data/gateway.sqlite' }
    : { kind: 'postgresql', url: e.DATABASE_URL, poolMax: e.DATABASE_POOL_MAX };
}

/**
 * What the PBX and key commands (`npm run keys`) need: the database, and Redis to announce
 * revocations. No SECRET_KEY: they touch no sealed secret. `databaseDefaulted`: DATABASE_URL
 * was not set, so this is the demo's `.data/gateway.sqlite`.
 */
export function loadStoreConfig(env: Record<string, string | undefined> = process.env): {
  database: Config['database'];
  redis: Config['redis'];
  databaseDefaulted: boolean;
} {
  const parsed = envSchema
    .pick({ DATABASE_URL: true, DATABASE_POOL_MAX: true, REDIS_URL: true, QUEUE_PREFIX: true })
    .safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${i.path.join('.') || '(environment)'}: ${i.message}`),
    );
  }
  const e = parsed.data;
  return {
    database: databaseOf(e),
    redis: { url: e.REDIS_URL, queuePrefix: e.QUEUE_PREFIX, configured: Boolean(env.REDIS_URL) },
    databaseDefaulted: !env.DATABASE_URL,
  };
}

function parseTrustProxy(v: string | undefined): Config['trustProxy'] {
  if (v === undefined || v === 'false') return false;
  if (v === 'true') return true;
  return v.split(',');
}

/** Documented settings, for the README and `--help`. */
export const SETTINGS_DOC = Object.keys(envSchema.shape);

/** Where the demo keeps its SECRET_KEY when neither SECRET_KEY nor SECRET_KEY_FILE is set. */
export const DEMO_SECRET_KEY_FILE = '.data/secret.key';

/**
 * For the commands run beside a demo: when neither SECRET_KEY nor SECRET_KEY_FILE is set and
 * the demo's key file exists, use it (never make one: a new key would open nothing stored).
 */
export function withExistingDemoSecretKey(
  env: Record<string, string | undefined> = process.env,
  file = DEMO_SECRET_KEY_FILE,
): Record<string, string | undefined> {
  if (env.SECRET_KEY || env.SECRET_KEY_FILE || !existsSync(file)) return env;
  return { ...env, SECRET_KEY_FILE: file };
}

/**
 * For the demo: when neither SECRET_KEY nor SECRET_KEY_FILE is set, use (and on first run
 * make, mode 0600) a key file under .data/. Production sets one of the two itself.
 */
export function withDemoSecretKey(
  env: Record<string, string | undefined> = process.env,
  file = DEMO_SECRET_KEY_FILE,
): Record<string, string | undefined> {
  if (env.SECRET_KEY) return env;
  const keyFile = env.SECRET_KEY_FILE ?? file;
  if (!existsSync(keyFile)) {
    mkdirSync(path.dirname(path.resolve(keyFile)), { recursive: true });
    writeFileSync(keyFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  }
  return { ...env, SECRET_KEY_FILE: keyFile };
}
