import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import Fastify from 'fastify';
import { registerAdminRoutes } from './admin.routes.js';
import { SandboxAdminClient } from './admin-client.js';
import { loadOrCreateKeyMaterial } from './certificates.tls.js';
import { registerGraphRoutes } from './graph.routes.js';
import { registerIdentityRoutes } from './identity.routes.js';
import { applyMailboxThrottleSettings, type MailboxThrottleSettings } from './mailbox.throttle.js';
import { NotificationDispatcher } from './notifications.dispatcher.js';
import { presenceOf } from './presence.store.js';
import { type Faults, SandboxContext } from './sandbox.context.js';
import { DEFAULT_CHANGE_LOG_LIMIT, readStateFile, StateSaver, snapshotState } from './state.file.js';
import { applySettings, type NotificationSettings } from './subscriptions.store.js';
import { seedTenant } from './tenant.seed.js';
import type { Tenant } from './tenant.store.js';
import { TokenSigner } from './tokens.signer.js';

export type * from './admin.types.js';
export { SandboxAdminClient, SandboxAdminError } from './admin-client.js';
export { savedSandboxPort } from './state.file.js';
export { SANDBOX_PASSWORD } from './tenant.seed.js';

/**
 * The Microsoft 365 sandbox tenant: one HTTPS server that answers as the Microsoft
 * identity platform (`/{tenantId}/...`) and Microsoft Graph v1.0 (`/v1.0/...`), from a
 * seeded, mutable tenant, plus its own admin API (`/_sandbox/...`). The real
 * `@azure/msal-node` and `@microsoft/microsoft-graph-client` work against it unchanged
 * once they trust its CA (`caFile`) and know its hosts (see src/m365/microsoft-clients.ts).
 */
export interface SandboxOptions {
  /** 0 or undefined = a free port */
  port?: number;
  /** default '127.0.0.1' (the certificate covers localhost and 127.0.0.1) */
  host?: string;
  /** default 1000 */
  users?: number;
  /** default max(10, users / 20) */
  groups?: number;
  /** Contacts in every user's default Contacts folder, generated on demand (default 0; see contacts.seed.ts). */
  contactsPerUser?: number;
  /** Shared mailboxes to seed: users that cannot sign in, with FullAccess members (default 0). */
  sharedMailboxes?: number;
  /** Contacts in each shared mailbox (default 0). */
  contactsPerMailbox?: number;
  /**
   * Every seeded user has shared their default Contacts folder with the Global Administrator (the
   * account that connects the gateway), as the seed guide asks users to (default false).
   */
  shareContactsWithAdmin?: boolean;
  /** Outlook's per-app, per-mailbox limits (4 concurrent, 10,000 per 10 min by default); tests lower them. */
  mailboxThrottling?: Partial<MailboxThrottleSettings>;
  /** default 42; the tenant is deterministic from it */
  seed?: number;
  /** default '.data/sandbox' (CA, server certificate and token signing key, made on first start) */
  dataDir?: string;
  /** authorize with the login_hint of a sandbox user signs in and consents with no page */
  autoSignIn?: boolean;
  latencyMs?: number;
  errorRate?: number;
  /** default true */
  throttling?: boolean;
  /** default 3600 */
  accessTokenLifetimeSeconds?: number;
  /** default 7 days */
  deltaTokenLifetimeMs?: number;
  /** Change-notification knobs (retry timing, deadlines, batching, quotas); Graph's values by default. */
  notifications?: Partial<NotificationSettings>;
  log?: boolean;
  /**
   * Keep the tenant across restarts in `<dataDir>/state.json` (see state.file.ts): loaded at
   * start when it exists (instead of seeding), saved 500 ms after changes and at close.
   * Default false (every start seeds the tenant anew).
   */
  persistState?: boolean;
  /** The state file to use (implies `persistState`); default `<dataDir>/state.json`. */
  stateFile?: string;
  /** Delta change-log entries kept in the state file at most (default 200,000); beyond, tokens from before a restart answer 400 syncStateNotFound. */
  stateChangeLogLimit?: number;
}

export interface SandboxInfo {
  /** e.g. https://localhost:8443 (msal authority = `${authorityHost}/${tenantId}`) */
  authorityHost: string;
  /** e.g. https://localhost:8443/v1.0 */
  graphBaseUrl: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  caFile: string;
  adminUrl: string;
  adminToken: string;
}

export interface Sandbox {
  info: SandboxInfo;
  admin: SandboxAdminClient;
  close(): Promise<void>;
}

const SEVEN_DAYS_MS = 7 * 24 * 60 * 60 * 1000;

function publicHost(host: string): string {
  if (['127.0.0.1', 'localhost', '0.0.0.0', '::', '::1'].includes(host)) return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const host = options.host ?? '127.0.0.1';
  const users = options.users ?? 1000;
  const seed = options.seed ?? 42;
  const dataDir = options.dataDir ?? '.data/sandbox';
  const keys = await loadOrCreateKeyMaterial(dataDir, [host]);
  const stateFile =
    options.stateFile ?? (options.persistState ? path.join(dataDir, 'state.json') : undefined);
  const loaded = stateFile ? readStateFile(stateFile) : { state: null };
  if (stateFile && loaded.reason) {
    process.stderr.write(`sandbox: state not loaded from ${stateFile}: ${loaded.reason}; starting seeded\n`);
  }
  let tenant: Tenant;
  let primary: { tenantId: string; clientId: string; clientSecret: string };
  if (loaded.state) {
    tenant = loaded.state.tenants[0] as Tenant;
    primary = loaded.state.primary;
  } else {
    const seeded = seedTenant({
      seed,
      users,
      groups: options.groups,
      contactsPerUser: options.contactsPerUser,
      sharedMailboxes: options.sharedMailboxes,
      contactsPerMailbox: options.contactsPerMailbox,
      shareContactsWithAdmin: options.shareContactsWithAdmin,
    });
    tenant = seeded.tenant;
    primary = { tenantId: tenant.id, clientId: seeded.app.appId, clientSecret: seeded.clientSecret };
  }

  const faults: Faults = {
    latencyMs: Math.max(0, options.latencyMs ?? 0),
    errorRate: Math.min(1, Math.max(0, options.errorRate ?? 0)),
    throttling: options.throttling ?? true,
    resourceUnitLimit: null,
    forced429: [],
  };
  const ctx = new SandboxContext(
    tenant,
    new TokenSigner(keys.signingKey, keys.signingKid),
    '',
    '',
    {
      autoSignIn: options.autoSignIn ?? false,
      accessTokenLifetimeSeconds: options.accessTokenLifetimeSeconds ?? 3600,
      deltaTokenLifetimeMs: options.deltaTokenLifetimeMs ?? SEVEN_DAYS_MS,
    },
    faults,
  );
  if (loaded.state) {
    for (const t of loaded.state.tenants.slice(1)) ctx.tenants.set(t.id, t);
    for (const [rt, grant] of loaded.state.refreshTokens) ctx.refreshTokens.set(rt, grant);
  }
  ctx.initialFaults = { ...faults, forced429: [] };
  applyMailboxThrottleSettings(ctx.mailboxThrottle.settings, options.mailboxThrottling ?? {});
  ctx.initialMailboxThrottle = { ...ctx.mailboxThrottle.settings };
  applySettings(ctx.subscriptions.settings, options.notifications ?? {});
  ctx.initialNotificationSettings = { ...ctx.subscriptions.settings };
  const dispatcher = new NotificationDispatcher(ctx, keys.caPem);
  ctx.notifications = dispatcher;
  for (const t of ctx.tenants.values()) {
    t.changeListeners.push((change) => dispatcher.onDirectoryChange(change, t.id));
    presenceOf(t).listeners.push((userId, state) => dispatcher.onPresenceChange(userId, state, t.id));
  }
  const saver = stateFile
    ? new StateSaver(stateFile, () =>
        snapshotState(ctx.tenants.values(), primary, ctx.refreshTokens, {
          changeLogLimit: options.stateChangeLogLimit ?? DEFAULT_CHANGE_LOG_LIMIT,
          port: ctx.authorityHost ? Number(new URL(ctx.authorityHost).port) : undefined,
        }),
      )
    : null;
  const adminToken = randomBytes(24).toString('base64url');

  const server = Fastify({
    https: { key: keys.keyPem, cert: keys.certPem },
    // logs go to stderr: stdout carries the one JSON line of the CLI
    logger: options.log ? { level: 'info', stream: process.stderr } : false,
    forceCloseConnections: true,
    bodyLimit: 4 * 1024 * 1024,
    routerOptions: { maxParamLength: 2000 },
  });
  await server.register(formbody);
  await server.register(cookie);
  // Identity endpoints wait as long as Graph does when latency is asked for.
  server.addHook('onRequest', async (req) => {
    if (ctx.faults.latencyMs > 0 && !req.url.startsWith('/v1.0/') && !req.url.startsWith('/_sandbox/')) {
      await new Promise((r) => setTimeout(r, ctx.faults.latencyMs));
    }
  });
  if (saver) {
    // Graph reads change nothing kept; anything else (token requests, consent, Graph writes,
    // the admin API) may: save a moment after it.
    server.addHook('onResponse', async (req) => {
      if (req.method === 'GET' && req.url.startsWith('/v1.0/')) return;
      saver.schedule();
    });
  }
  registerIdentityRoutes(server, ctx);
  registerGraphRoutes(server, ctx);
  registerAdminRoutes(server, ctx, adminToken);

  try {
    await server.listen({ port: options.port ?? 0, host });
  } catch (e) {
    await dispatcher.close();
    await server.close();
    throw e;
  }
  const port = (server.server.address() as AddressInfo).port;
  const authorityHost = `https://${publicHost(host)}:${port}`;
  ctx.authorityHost = authorityHost;
  ctx.graphBaseUrl = `${authorityHost}/v1.0`;

  const info: SandboxInfo = {
    authorityHost,
    graphBaseUrl: ctx.graphBaseUrl,
    tenantId: tenant.id,
    clientId: primary.clientId,
    clientSecret: primary.clientSecret,
    caFile: keys.caFile,
    adminUrl: `${authorityHost}/_sandbox`,
    adminToken,
  };
  const admin = new SandboxAdminClient(info.adminUrl, adminToken, keys.caPem);
  let closed = false;
  return {
    info,
    admin,
    async close() {
      if (closed) return;
      closed = true;
      ctx.presenceLoad.stop();
      await dispatcher.close();
      await admin.close();
      await server.close();
      saver?.close();
    },
  };
}
