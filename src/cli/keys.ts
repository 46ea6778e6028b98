/**
 * `npm run keys -- <command>`: PBXs and API keys from the command line, as an OPERATOR does
 * over GraphQL, and the SECRET_KEY.
 *
 *   pbx-create --name <name> [--time-zone <IANA>] [--country <CC>] [--capacity <n>] [--public-url <url>]
 *                                    prints the new PBX's id
 *   pbx-list [--search <text>]       id, name, time zone of every PBX (tab-separated)
 *   pbx-delete <pbx id>              deletes the PBX and every row of it; refused while a sync runs
 *   key-create --pbx <id> --role admin|viewer|linkus [--extension <number>] [--label <text>]
 *                                    prints a new key of the PBX once (only its hash is stored);
 *                                    a linkus key needs --extension: it is that extension's Linkus
 *                                    session (and stops working when the extension is deleted);
 *                                    `create` is the same command
 *   key-list --pbx <id> | --operators [--all]
 *                                    id, prefix, role, label, created, revoked (--all: revoked ones too)
 *   key-revoke <key id or prefix>    revokes one key; every gateway closes its open sockets
 *   operator-create [--label <text>] prints a new OPERATOR key once (the fleet: PBXs and their keys)
 *   generate-secret-key              prints a new SECRET_KEY (32 random bytes, base64)
 *   rotate-secret-key [--new-key <key>]
 *                                    re-encrypts every stored secret under a new key, in one
 *                                    transaction. With SECRET_KEY_FILE the file is replaced (the new
 *                                    key is written to `<file>.new` first, so a crash never loses
 *                                    it); with SECRET_KEY the new key is printed.
 *   rotate-linkus-signing-key        a new signing key for Linkus access tokens (S4), sealed with
 *                                    SECRET_KEY; the one before still verifies, so tokens already
 *                                    out work until they expire; running gateways sign with the new
 *                                    key within a minute
 *
 * Settings: DATABASE_URL (default `sqlite:.data/gateway.sqlite`, where `npm run demo` keeps
 * its data), REDIS_URL and QUEUE_PREFIX (to tell running gateways about a revocation, and to
 * see a running sync); SECRET_KEY or SECRET_KEY_FILE only for rotate-secret-key, else the
 * demo's `.data/secret.key` when it exists. The PBX and key commands are audited in the
 * fleet's audit log (role CLI).
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, renameSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Redis } from 'ioredis';
import { createApiKey, createOperatorKey } from '../app/access.js';
import { redactArguments } from '../app/audit.js';
import { AppError } from '../app/errors.js';
import {
  deletePbx,
  type FleetDeps,
  findKeyByReference,
  listKeys,
  listPbxs,
  revokeKey,
} from '../app/fleet.js';
import { ACCESS_TOKEN_TTL_S, AccessTokenKeys } from '../app/linkus-tokens.js';
import { createPbx } from '../app/pbx.js';
import type { KeyOwner, Store } from '../app/ports/store.port.js';
import { type ResealReport, resealStoredSecrets, SecretBox } from '../app/secret-box.js';
import {
  ConfigError,
  loadConfig,
  loadStoreConfig,
  parseSecretKey,
  withExistingDemoSecretKey,
} from '../config.js';
import type { ApiKeyRecord } from '../domain/tenant.js';
import { createRedis, waitUntilReady } from '../redis/connection.js';
import { RedisKeyRevocations } from '../redis/key-revocation.redis.js';
import { RedisSyncCoordinator } from '../redis/sync-coordinator.redis.js';
import { openDatabase } from '../store/orm.js';
import { openStore } from '../store/store.js';

const USAGE = `usage: npm run keys -- <command>
  pbx-create --name <name> [--time-zone <IANA>] [--country <CC>] [--capacity <n>] [--public-url <url>]
  pbx-list [--search <text>]
  pbx-delete <pbx id>
  key-create --pbx <id> --role admin|viewer|linkus [--extension <number>] [--label <text>]   (also: create)
  key-list --pbx <id> | --operators [--all]
  key-revoke <key id or prefix>
  operator-create [--label <text>]
  generate-secret-key
  rotate-secret-key [--new-key <key>] [--settle-ms 3000]
  rotate-linkus-signing-key`;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    pbx: { type: 'string' },
    role: { type: 'string' },
    extension: { type: 'string' },
    label: { type: 'string' },
    name: { type: 'string' },
    'time-zone': { type: 'string' },
    country: { type: 'string' },
    capacity: { type: 'string' },
    'public-url': { type: 'string' },
    search: { type: 'string' },
    operators: { type: 'boolean' },
    all: { type: 'boolean' },
    'new-key': { type: 'string' },
    'settle-ms': { type: 'string' },
  },
});

const describeReport = (r: ResealReport, keyId: string) =>
  [
    `Re-sealed ${r.resealed} value(s) under key ${keyId} (${r.current} already were).`,
    ...(r.unreadable.length
      ? [
          `${r.unreadable.length} value(s) open with no configured key and were left as they are: ${r.unreadable
            .map((u) => `${u.pbxId ? `${u.pbxId} ` : ''}${u.field} (key ${u.keyId})`)
            .join(', ')}`,
        ]
      : []),
    ...(r.remaining ? [`${r.remaining} value(s) changed while re-sealing; run the command again.`] : []),
  ].join('\n');

class UsageError extends Error {}

const warn = (message: string, fields?: Record<string, unknown>) =>
  console.error(fields ? `${message} ${JSON.stringify(fields)}` : message);

/** Every page of a paged list. */
async function all<T>(
  page: (
    after: string | null,
  ) => Promise<{ edges: Array<{ node: T }>; endCursor: string | null; hasNextPage: boolean }>,
): Promise<T[]> {
  const out: T[] = [];
  let after: string | null = null;
  for (;;) {
    const p = await page(after);
    out.push(...p.edges.map((e) => e.node));
    if (!p.hasNextPage) return out;
    after = p.endCursor;
  }
}

const keyLine = (k: ApiKeyRecord) =>
  [
    k.id,
    k.prefix,
    k.role,
    k.label ?? '',
    k.createdAt.toISOString(),
    k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : 'active',
  ].join('\t');

async function main() {
  const command = positionals[0];
  if (command === 'generate-secret-key') {
    console.log(randomBytes(32).toString('base64'));
    return;
  }
  if (command === 'rotate-secret-key') return rotateSecretKey();
  if (command === 'rotate-linkus-signing-key') return rotateLinkusSigningKey();
  if (!command || !COMMANDS[command]) throw new UsageError(USAGE);

  const settings = loadStoreConfig(process.env);
  if (
    settings.database.kind === 'sqlite' &&
    settings.databaseDefaulted &&
    !existsSync(settings.database.file)
  ) {
    throw new Error(
      `No database at ${settings.database.file} (the default). Run \`npm run demo\` (or start the gateway) in this directory first, or set DATABASE_URL.`,
    );
  }
  const orm = await openDatabase(settings.database);
  let redis: Redis | undefined;
  /** Redis, for the commands that need it: connected lazily, failing fast when it does not answer. */
  const connectRedis = async () => {
    if (!redis) {
      redis = createRedis(settings.redis.url, 'command', undefined, 'keys-cli');
      await waitUntilReady(redis, 2000);
    }
    if (redis.status !== 'ready') throw new Error('no answer within 2 s');
    return redis;
  };
  try {
    const store = openStore(orm, () => new Date());
    await COMMANDS[command]({
      store,
      connectRedis,
      queuePrefix: settings.redis.queuePrefix,
      redisUrl: settings.redis.url,
    });
  } finally {
    redis?.disconnect();
    await orm.close(true);
  }
}

interface CommandContext {
  store: Store;
  connectRedis: () => Promise<Redis>;
  queuePrefix: string;
  redisUrl: string;
}

/** A CLI change, in the fleet's audit log (role CLI, no key). */
async function audit(store: Store, operation: string, args: Record<string, unknown>, outcome = 'OK') {
  try {
    await store.audit.record({
      pbxId: null,
      keyId: null,
      role: 'CLI',
      operation: `keys ${operation}`,
      arguments: redactArguments(args),
      outcome,
      message: null,
      requestId: null,
      at: new Date(),
    });
  } catch (err) {
    warn(`(not audited: ${(err as Error).message})`);
  }
}

/** Runs a change and audits it, with its outcome. */
async function audited<T>(
  store: Store,
  operation: string,
  args: Record<string, unknown>,
  fn: () => Promise<T>,
) {
  try {
    const result = await fn();
    await audit(store, operation, args);
    return result;
  } catch (err) {
    await audit(store, operation, args, err instanceof AppError ? err.code : 'ERROR');
    throw err;
  }
}

async function fleetDeps(ctx: CommandContext): Promise<FleetDeps> {
  const redis = await ctx.connectRedis();
  return {
    store: ctx.store,
    coordinator: new RedisSyncCoordinator(redis, ctx.queuePrefix),
    revocations: new RedisKeyRevocations(redis, ctx.queuePrefix),
    now: () => new Date(),
    log: (level, message, fields) => (level === 'warn' ? warn(`warning: ${message}`, fields) : undefined),
    // The CLI holds no Microsoft credentials: a deleted PBX's Graph subscriptions expire by themselves.
    beforeDelete: async () => {},
  };
}

const COMMANDS: Record<string, (ctx: CommandContext) => Promise<void>> = {
  'pbx-create': async ({ store }) => {
    if (!values.name) throw new UsageError('usage: keys pbx-create --name <name> [--time-zone <IANA>] ...');
    const capacity = values.capacity === undefined ? undefined : Number(values.capacity);
    const settings = Object.fromEntries(
      Object.entries({
        name: values.name,
        timeZone: values['time-zone'],
        defaultCountry: values.country,
        extensionCapacity: capacity,
        publicBaseUrl: values['public-url'],
      }).filter(([, v]) => v !== undefined),
    );
    const pbx = await audited(store, 'pbx-create', settings, () => createPbx(store, settings));
    console.log(pbx.id);
  },

  'pbx-list': async ({ store }) => {
    const pbxs = await all((after) => listPbxs(store, { first: 500, after, search: values.search ?? null }));
    for (const p of pbxs) console.log(`${p.id}\t${p.name}\t${p.timeZone}`);
  },

  'pbx-delete': async (ctx) => {
    const id = positionals[1];
    if (!id) throw new UsageError('usage: keys pbx-delete <pbx id>');
    let deps: FleetDeps;
    try {
      deps = await fleetDeps(ctx);
    } catch (err) {
      throw new Error(
        `Redis at ${ctx.redisUrl} does not answer (${(err as Error).message}): cannot see whether a sync of the PBX runs`,
      );
    }
    const deleted = await audited(ctx.store, 'pbx-delete', { id }, () => deletePbx(deps, id));
    console.log(
      `Deleted PBX ${deleted.pbx.id} (${deleted.pbx.name}): ${deleted.keysRevoked} key(s) revoked, ${deleted.rowsDeleted} row(s) deleted.`,
    );
  },

  'key-create': async ({ store }) => {
    if (!values.pbx || !values.role)
      throw new UsageError(
        'usage: keys key-create --pbx <id> --role admin|viewer|linkus [--extension <number>] [--label <text>]',
      );
    if (values.role.toLowerCase() === 'linkus' && !values.extension)
      throw new UsageError(
        "A linkus key is one extension's Linkus session: name it with --extension <extension number>.",
      );
    const input = {
      pbxId: values.pbx,
      role: values.role,
      label: values.label ?? null,
      extensionNumber: values.extension ?? null,
    };
    const created = await audited(store, 'key-create', input, () => createApiKey(store, input));
    console.log(created.key);
  },

  'key-list': async ({ store }) => {
    let owner: KeyOwner;
    if (values.operators) owner = { operators: true };
    else if (values.pbx) owner = { pbxId: values.pbx };
    else throw new UsageError('usage: keys key-list --pbx <id> | --operators [--all]');
    const keys = await all((after) =>
      listKeys(store, owner, { first: 500, after, includeRevoked: values.all ?? false }),
    );
    for (const k of keys) console.log(keyLine(k));
  },

  'key-revoke': async (ctx) => {
    const reference = positionals[1];
    if (!reference) throw new UsageError('usage: keys key-revoke <key id or prefix>');
    const key = await findKeyByReference(ctx.store, reference);
    let deps: FleetDeps | null = null;
    try {
      deps = await fleetDeps(ctx);
    } catch (err) {
      warn(
        `warning: Redis at ${ctx.redisUrl} does not answer (${(err as Error).message}); the key is revoked: running gateways refuse its requests within 5 s (the time they trust a key found valid) and close its open sockets at their next check (within 30 s).`,
      );
    }
    const revoked = await audited(ctx.store, 'key-revoke', { id: key.id }, () =>
      revokeKey(
        deps ?? {
          store: ctx.store,
          revocations: { announce: async () => {}, announcePbxKeys: async () => {} },
          now: () => new Date(),
          log: () => {},
        },
        key.id,
      ),
    );
    console.log(
      `Revoked key ${revoked.id} (${revoked.prefix}, ${revoked.role}, ${revoked.pbxId ? `PBX ${revoked.pbxId}` : 'operator'}).`,
    );
  },

  'operator-create': async ({ store }) => {
    const input = { label: values.label ?? null };
    const created = await audited(store, 'operator-create', input, () => createOperatorKey(store, input));
    console.log(created.key);
  },
};
COMMANDS.create = COMMANDS['key-create'];

async function rotateSecretKey() {
  const config = loadConfig(withExistingDemoSecretKey(process.env), []);
  const orm = await openDatabase(config.database);
  try {
    const store = openStore(orm, () => new Date());
    // Values are re-sealed one at a time, compare-and-set: a value a gateway wrote meanwhile is
    // never overwritten. Gateways whose SECRET_KEY lists older keys do the same in the background.
    const file = config.secretKey.file;
    const configured = [config.secretKey.key, ...config.secretKey.previous];
    if (file) {
      // The file gets the new key on its first line, the keys it held after it (written to
      // `<file>.new`, mode 0600, then renamed: a crash never loses a key); running gateways
      // read the file again within a second or two and seal with the new key.
      const nextText = values['new-key'] ?? randomBytes(32).toString('base64');
      const next = parseSecretKey(nextText);
      const others = configured.filter((k) => !k.equals(next));
      const lines = [nextText.trim(), ...others.map((k) => k.toString('base64'))];
      writeFileSync(`${file}.new`, `${lines.join('\n')}\n`, { mode: 0o600 });
      chmodSync(`${file}.new`, 0o600);
      renameSync(`${file}.new`, file);
      const box = new SecretBox(next, others);
      // Let running gateways seal with the new key before the old values are moved.
      await new Promise((r) => setTimeout(r, Number(values['settle-ms'] ?? 3000)));
      const report = await resealStoredSecrets(store, box);
      console.log(describeReport(report, box.keyId));
      console.log(
        `${file} now holds the new key first; the older key(s) after it still open values a gateway that has not read the file yet writes. Delete those lines once every gateway runs with the new key.`,
      );
      if (report.remaining) process.exitCode = 1;
    } else if (configured.length > 1) {
      const box = new SecretBox(config.secretKey.key, config.secretKey.previous);
      const report = await resealStoredSecrets(store, box);
      console.log(describeReport(report, box.keyId));
      if (!report.unreadable.length && !report.remaining)
        console.log('No value needs the older key(s) any more: SECRET_KEY may list only the first.');
      if (report.remaining) process.exitCode = 1;
    } else {
      const next = values['new-key'] ?? randomBytes(32).toString('base64');
      const current = config.secretKey.key.toString('base64');
      console.error(
        [
          'SECRET_KEY holds one key: rotating it here would lock out every gateway running with it. Instead:',
          `  1. set SECRET_KEY=${current},${next} on every gateway and restart each (they open values of both keys, seal with the current one);`,
          `  2. set SECRET_KEY=${next},${current} on every gateway and restart each: they now seal with the new key and, in the background, re-seal every stored value with it;`,
          '  3. run this command again with that SECRET_KEY (it re-seals whatever is left and says when the old key is no longer needed), then drop the old key.',
          'Or keep the key in a file (SECRET_KEY_FILE): then this command rotates it while gateways run.',
        ].join('\n'),
      );
      process.exitCode = 2;
    }
  } finally {
    await orm.close(true);
  }
}

async function rotateLinkusSigningKey() {
  const config = loadConfig(withExistingDemoSecretKey(process.env), []);
  const orm = await openDatabase(config.database);
  try {
    const store = openStore(orm, () => new Date());
    const keys = new AccessTokenKeys({
      openStore: () => store,
      secrets: new SecretBox(config.secretKey.key, config.secretKey.previous),
      now: () => new Date(),
    });
    const kid = await audited(store, 'rotate-linkus-signing-key', {}, () => keys.rotate());
    console.log(
      `New signing key ${kid} for Linkus access tokens; the one before it still verifies until its tokens expire (${ACCESS_TOKEN_TTL_S / 60} min). Running gateways sign with the new key within a minute.`,
    );
  } finally {
    await orm.close(true);
  }
}

main().catch((err) => {
  // Expected failures (ConfigError, AppError, usage) say what to do; anything else, what broke.
  console.error(
    err instanceof ConfigError || err instanceof AppError || err instanceof UsageError
      ? err.message
      : `keys failed: ${(err as Error).message}`,
  );
  process.exit(1);
});
