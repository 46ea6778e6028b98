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
});

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
  microsoft: { authorityHost: string; graphBaseUrl: string; extraCaFile?: string };
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
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  const e = parsed.data;
  const database: Config['database'] = e.DATABASE_URL.startsWith('sqlite:')
    ? { kind: 'sqlite', file: e.DATABASE_URL.slice('sqlite:'.length) || '.data/gateway.sqlite' }
    : { kind: 'postgresql', url: e.DATABASE_URL, poolMax: e.DATABASE_POOL_MAX };
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
    },
  };
}

/** Documented settings, for the README and `--help`. */
export const SETTINGS_DOC = Object.keys(envSchema.shape);
