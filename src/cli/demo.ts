/**
 * `npm run demo`: the gateway on a fresh machine, in one command.
 * SQLite under .data/, Redis from REDIS_URL, else 127.0.0.1:6379, else a private
 * redis-server started under .data/redis (and stopped on exit). Creates one PBX on the
 * first run (kept across runs) and prints a fresh admin key. The Microsoft 365 sandbox tenant
 * runs beside it (HTTPS, its own CA under .data/sandbox) and the gateway is pointed at it through
 * its ordinary settings, as it would be at a national cloud.
 */
import 'reflect-metadata';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createApiKey } from '../app/access.js';
import { createPbx } from '../app/pbx.js';
import { type Config, ConfigError, loadConfig, withDemoSecretKey } from '../config.js';
import { startGateway } from '../gateway.js';
import { startMailSink } from '../mail/sink.js';
import { freePort, reachable } from '../net.js';
import { SANDBOX_PASSWORD, savedSandboxPort, startSandbox } from '../sandbox/index.js';
import { buildPortal, portalStale } from './portal-build.js';

const DEMO_KEY_LABEL = 'demo';

async function ensureRedis(config: Config): Promise<{ url: string; child?: ChildProcess }> {
  if (config.redis.configured) {
    if (await reachable(config.redis.url, 6379)) return { url: config.redis.url };
    throw new Error(`REDIS_URL is set to ${config.redis.url}, but nothing answers there.`);
  }
  const local = 'redis://127.0.0.1:6379';
  if (await reachable(local, 6379)) return { url: local };
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).error) {
    throw new Error(
      'No Redis answers on 127.0.0.1:6379 and there is no redis-server on PATH.\n' +
        'Install one (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis),\n' +
        'or set REDIS_URL to a running Redis, then run `npm run demo` again.',
    );
  }
  const dir = path.resolve('.data/redis');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', ''],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100 && !(await reachable(url, 6379, 200)); i++)
    await new Promise((r) => setTimeout(r, 100));
  if (!(await reachable(url, 6379))) throw new Error('Started redis-server, but it does not answer.');
  return { url, child };
}

async function main() {
  const base = loadConfig(withDemoSecretKey(), ['--role', 'all']);
  const redis = await ensureRedis(base);
  // The sandbox tenant is kept across runs too (.data/sandbox/state.json: consents, refresh
  // tokens, admin API changes), on the port it had, so a connected gateway stays connected.
  // C1–C4: a few Outlook contacts per user and one shared mailbox, for the contact sync.
  const sandboxOptions = {
    users: 200,
    seed: 42,
    dataDir: '.data/sandbox',
    persistState: true,
    contactsPerUser: 5,
    sharedMailboxes: 1,
    contactsPerMailbox: 20,
  };
  const keptPort = savedSandboxPort(path.join(sandboxOptions.dataDir, 'state.json'));
  const sandbox = await startSandbox({ ...sandboxOptions, port: keptPort ?? 0 }).catch((e: unknown) => {
    if (!keptPort || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
    console.log(`Port ${keptPort} of the last run is taken: the sandbox starts on another one.`);
    return startSandbox({ ...sandboxOptions, port: 0 });
  });
  // U6 without SMTP_URL: welcome emails go to a local sink that prints them instead of delivering.
  const mailSink = base.mail.smtpUrl
    ? null
    : await startMailSink({
        onMessage: (m) =>
          console.log(
            `[mail sink] would send to ${m.to.join(', ')}: ${m.subject ?? '(no subject)'} (${m.size} bytes)`,
          ),
      });
  const config: Config = {
    ...base,
    microsoft: {
      authorityHost: sandbox.info.authorityHost,
      graphBaseUrl: sandbox.info.graphBaseUrl,
      extraCaFile: sandbox.info.caFile,
      extraCaPem: readFileSync(sandbox.info.caFile, 'utf8'),
    },
    http: {
      host: base.http.host === '0.0.0.0' ? '127.0.0.1' : base.http.host,
      port: base.http.port,
    },
    redis: { ...base.redis, url: redis.url },
    mail: mailSink ? { ...base.mail, smtpUrl: mailSink.url } : base.mail,
  };
  // Issue 17: the portal, built (Vite) when missing or older than its sources.
  if (portalStale()) {
    console.log('Building the portal (dist/portal)...');
    await buildPortal();
  }
  const gateway = await startGateway(config);
  const store = gateway.openStore();
  const found = (await store.tenants.listPbxs())[0] ?? (await createPbx(store, { name: 'Demo PBX' }));
  // The redirect URI is built from the PBX's public URL (L1): here, the gateway itself.
  const pbx = await store.tenants.updatePbx(found.id, { publicBaseUrl: gateway.url });
  await sandbox.admin.addRedirectUri(sandbox.info.clientId, `${gateway.url}/oauth/microsoft/callback`);
  const sandboxAdmin = (await sandbox.admin.listUsers({ top: 999 })).value.find((u) => u.isAdmin);
  // Keys are stored hashed and cannot be shown again: each run issues a new demo key
  // and retires the one before it.
  await store.tenants.revokeKeys(pbx.id, DEMO_KEY_LABEL, gateway.services.now());
  // Announced, as every revocation is (issue 13): no gateway process serves them from memory.
  await gateway.services.keyRevocations.announcePbxKeys([pbx.id]);
  const { key } = await createApiKey(store, { pbxId: pbx.id, role: 'admin', label: DEMO_KEY_LABEL });

  const graphqlUrl = `${gateway.url}/graphql`;
  console.log(`PORTAL_URL=${gateway.url}/portal`);
  console.log(`GRAPHQL_URL=${graphqlUrl}`);
  console.log(`ADMIN_KEY=${key}`);
  console.log(`PBX_ID=${pbx.id}`);
  console.log(`SANDBOX_TENANT_ID=${sandbox.info.tenantId}`);
  console.log(`SANDBOX_CLIENT_ID=${sandbox.info.clientId}`);
  console.log(`SANDBOX_CLIENT_SECRET=${sandbox.info.clientSecret}`);
  console.log(`SANDBOX_ADMIN=${sandboxAdmin?.userPrincipalName ?? ''}`);
  console.log(`SANDBOX_PASSWORD=${SANDBOX_PASSWORD}`);
  // The sandbox's admin API (src/sandbox/README.md): change the tenant live with curl.
  console.log(`SANDBOX_ADMIN_URL=${sandbox.info.adminUrl}`);
  console.log(`SANDBOX_ADMIN_TOKEN=${sandbox.info.adminToken}`);
  console.log(`SANDBOX_CA_FILE=${sandbox.info.caFile}`);
  console.log('');
  console.log(`Open the portal at ${gateway.url}/portal and sign in with ADMIN_KEY (or a VIEWER key).`);
  console.log('Try it:');
  console.log(
    `  curl -s ${graphqlUrl} -H 'content-type: application/json' -H "authorization: Bearer ${key}" -d '{"query":"{ integration { status } }"}'`,
  );
  console.log(
    'Connect to the sandbox tenant, then open the printed authorizationUrl, sign in as SANDBOX_ADMIN and accept (the sandbox, like a new Entra app, has no admin consent yet: the journey goes on to the admin consent page; accept it too):',
  );
  console.log(
    `  curl -s ${graphqlUrl} -H 'content-type: application/json' -H "authorization: Bearer ${key}" -d '{"query":"mutation { connect(input: { clientId: \\"${sandbox.info.clientId}\\", tenantId: \\"${sandbox.info.tenantId}\\", clientSecret: \\"${sandbox.info.clientSecret}\\" }) { authorizationUrl } }"}'`,
  );
  console.log('');
  if (mailSink)
    console.log(
      `MAIL_SINK=${mailSink.url} (SMTP_URL is not set: welcome emails are printed here, not delivered)`,
    );
  console.log(`Health: ${gateway.url}/readyz   Metrics: ${gateway.url}/metrics   Stop: Ctrl+C`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the demo...`);
    const timer = setTimeout(() => process.exit(1), config.shutdownTimeoutMs);
    timer.unref();
    await gateway.stop();
    await sandbox.close();
    await mailSink?.close();
    redis.child?.kill('SIGTERM');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err) => {
  console.error(err instanceof ConfigError ? err.message : `demo failed: ${(err as Error).message}`);
  process.exit(1);
});
