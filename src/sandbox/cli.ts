import { parseArgs } from 'node:util';
import { type SandboxOptions, startSandbox } from './index.js';

/**
 * `npm run sandbox -- --port 8443 --users 1000 --seed 42 [--auto-sign-in] [--latency-ms N] [--error-rate X]`
 * Starts the sandbox tenant and prints one JSON line with what a client needs
 * (authorityHost, graphBaseUrl, tenantId, clientId, clientSecret, caFile, adminUrl,
 * adminToken). Stops on SIGINT / SIGTERM.
 */
const USAGE = `usage: sandbox [--port N] [--host H] [--users N] [--groups N] [--seed N] [--data-dir DIR]
               [--auto-sign-in] [--latency-ms N] [--error-rate X] [--no-throttling]
               [--access-token-lifetime-seconds N] [--delta-token-lifetime-ms N] [--keep-state]
               [--contacts-per-user N] [--shared-mailboxes N] [--contacts-per-mailbox N]
               [--share-contacts-with-admin]
               [--log] [--timing]`;

function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) {
    console.error(`--${name} must be a number, got '${v}'\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        users: { type: 'string' },
        groups: { type: 'string' },
        seed: { type: 'string' },
        'data-dir': { type: 'string' },
        'auto-sign-in': { type: 'boolean' },
        'latency-ms': { type: 'string' },
        'error-rate': { type: 'string' },
        'no-throttling': { type: 'boolean' },
        'access-token-lifetime-seconds': { type: 'string' },
        'delta-token-lifetime-ms': { type: 'string' },
        'keep-state': { type: 'boolean' },
        'contacts-per-user': { type: 'string' },
        'shared-mailboxes': { type: 'string' },
        'contacts-per-mailbox': { type: 'string' },
        'share-contacts-with-admin': { type: 'boolean' },
        log: { type: 'boolean' },
        timing: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const s = (k: string) => values[k] as string | undefined;
  const options: SandboxOptions = {
    port: num('port', s('port')) ?? 8443,
    host: s('host'),
    users: num('users', s('users')),
    groups: num('groups', s('groups')),
    seed: num('seed', s('seed')),
    dataDir: s('data-dir'),
    autoSignIn: !!values['auto-sign-in'],
    latencyMs: num('latency-ms', s('latency-ms')),
    errorRate: num('error-rate', s('error-rate')),
    throttling: !values['no-throttling'],
    accessTokenLifetimeSeconds: num('access-token-lifetime-seconds', s('access-token-lifetime-seconds')),
    deltaTokenLifetimeMs: num('delta-token-lifetime-ms', s('delta-token-lifetime-ms')),
    persistState: !!values['keep-state'],
    contactsPerUser: num('contacts-per-user', s('contacts-per-user')),
    sharedMailboxes: num('shared-mailboxes', s('shared-mailboxes')),
    contactsPerMailbox: num('contacts-per-mailbox', s('contacts-per-mailbox')),
    shareContactsWithAdmin: !!values['share-contacts-with-admin'],
    log: !!values.log,
  };
  const started = Date.now();
  const sandbox = await startSandbox(options);
  const i = sandbox.info;
  process.stdout.write(
    `${JSON.stringify({
      authorityHost: i.authorityHost,
      graphBaseUrl: i.graphBaseUrl,
      tenantId: i.tenantId,
      clientId: i.clientId,
      clientSecret: i.clientSecret,
      caFile: i.caFile,
      adminUrl: i.adminUrl,
      adminToken: i.adminToken,
    })}\n`,
  );
  if (values.timing) {
    const mem = process.memoryUsage();
    console.error(
      JSON.stringify({
        readyMs: Date.now() - started,
        rssMB: Math.round(mem.rss / 1048576),
        heapUsedMB: Math.round(mem.heapUsed / 1048576),
      }),
    );
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    try {
      await sandbox.close();
    } finally {
      void signal;
      process.exit(0);
    }
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});
