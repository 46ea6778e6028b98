import type { Agent } from 'undici';
import { expect } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import type { Logger } from '../../src/logger.js';
import type { Sandbox, SandboxOptions } from '../../src/sandbox/index.js';
import { createSqliteDatabase, type DbLeg, type TestDatabase } from './db.js';
import { connectIntegration, startGatewayWithSandbox, startTestSandbox } from './sandbox.js';

/**
 * The e2e world most *.e2e.spec.ts files start from: a database (a leg's, or a new SQLite
 * file), the sandbox tenant with its CA (`agent`), a gateway pointed at it, a PBX with keys of
 * every role whose public URL is the gateway, and (unless `connect: false`) that PBX connected
 * through the sandbox's consent. `close()` takes it down in order, whatever got started.
 */
export interface E2eOptions {
  /** The database leg; without one, a new SQLite file. */
  leg?: DbLeg;
  /** The sandbox tenant (autoSignIn is on: connect needs no browser). */
  sandbox?: SandboxOptions;
  /** Gateway settings on top of the sandbox's (QUEUE_PREFIX, SMTP_URL ...). */
  env?: Record<string, string>;
  /** `all` (default), or `api` when workers run in processes of their own. */
  role?: string;
  /** Connect the PBX (default true). */
  connect?: boolean;
  /** The gateway's logger (e.g. `captureLogger()`, to read its lines); silent by default. */
  logger?: Logger;
}

export interface E2e {
  db: TestDatabase;
  sandbox: Sandbox;
  agent: Agent;
  gateway: Gateway;
  pbx: Awaited<ReturnType<typeof startGatewayWithSandbox>>['pbx'];
  keys: { admin: string; viewer: string; linkus: string };
  close(): Promise<void>;
}

export async function startE2e(options: E2eOptions = {}): Promise<E2e> {
  const started: Partial<Omit<E2e, 'close'>> = {};
  const close = async () => {
    await started.gateway?.stop();
    await started.agent?.close();
    await started.sandbox?.close();
    await started.db?.drop();
  };
  try {
    started.db = options.leg ? await options.leg.create() : await createSqliteDatabase();
    Object.assign(started, await startTestSandbox({ autoSignIn: true, ...options.sandbox }));
    const w = await startGatewayWithSandbox(
      started.db,
      started.sandbox as Sandbox,
      options.env,
      options.role ?? 'all',
      options.logger,
    );
    Object.assign(started, w);
    if (options.connect !== false) {
      expect((await connectIntegration(w, started.sandbox as Sandbox, started.agent as Agent)).result).toBe(
        'CONNECTED',
      );
    }
    return { ...(started as Omit<E2e, 'close'>), close };
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}
