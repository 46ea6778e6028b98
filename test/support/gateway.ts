import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { type ExecutionResult, print } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import WebSocket from 'ws';
import { createApiKey, createOperatorKey, hashApiKey } from '../../src/app/access.js';
import { createPbx } from '../../src/app/pbx.js';
import { type Config, loadConfig } from '../../src/config.js';
import { ApiRole } from '../../src/domain/access.js';
import type { PbxSettings } from '../../src/domain/tenant.js';
import { type Gateway, startGateway } from '../../src/gateway.js';
import { createLogger, type Logger } from '../../src/logger.js';
import type { TestDatabase } from './db.js';
import { eventually } from './wait.js';

/** The key tests seal secrets with (a fixed, test-only value). */
export const TEST_SECRET_KEY = '0123456789abcdef'.repeat(4);

/** A queue/topic prefix of its own, so test files sharing one Redis never see each other's jobs. */
export function uniquePrefix(label = 't'): string {
  return `${label}-${randomBytes(5).toString('hex')}`;
}

export function testConfig(db: TestDatabase, overrides: Record<string, string> = {}, role = 'all'): Config {
  const base = loadConfig(
    {
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      REDIS_URL: inject('redisUrl'),
      QUEUE_PREFIX: uniquePrefix(),
      SECRET_KEY: TEST_SECRET_KEY,
      ...overrides,
    },
    ['--role', role],
  );
  return { ...base, database: db.config };
}

export async function startTestGateway(
  db: TestDatabase,
  overrides: Record<string, string> = {},
  role = 'all',
  logger?: Logger,
) {
  return startGateway(testConfig(db, overrides, role), { logger });
}

/** A logger that keeps every line (as JSON text) for a test to read; redacts as the gateway's does. */
export function captureLogger(level = 'trace'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { logger: createLogger(level, 'gateway', stream), lines };
}

/** A PBX with keys of every role. */
export async function seedPbx(gateway: Gateway, settings: Partial<PbxSettings> = {}) {
  const store = gateway.openStore();
  const pbx = await createPbx(store, { name: `PBX ${randomBytes(3).toString('hex')}`, ...settings });
  const admin = (await createApiKey(store, { pbxId: pbx.id, role: 'admin' })).key;
  const viewer = (await createApiKey(store, { pbxId: pbx.id, role: 'viewer' })).key;
  // A LINKUS key of no extension, as keys were before they had one: it authenticates and can call
  // nothing. A Linkus session of an extension is made with createApiKey(..., extensionNumber).
  const linkus = `epg_${randomBytes(32).toString('base64url')}`;
  await store.tenants.createKey({
    pbxId: pbx.id,
    role: ApiRole.LINKUS,
    hash: hashApiKey(linkus),
    prefix: linkus.slice(0, 10),
    label: null,
  });
  return { pbx, keys: { admin, viewer, linkus } };
}

/** An OPERATOR key (of no PBX) and its id. */
export async function seedOperator(gateway: Gateway, label = 'test operator') {
  return createOperatorKey(gateway.openStore(), { label });
}

export interface GqlResponse<T> {
  status: number;
  body: Omit<ExecutionResult<T>, 'errors'> & {
    errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
  };
}

/** A GraphQL request over real HTTP, typed by the generated documents. */
export async function gql<TData, TVars>(
  url: string,
  key: string | null,
  document: TypedDocumentNode<TData, TVars> | string,
  variables?: TVars,
  opts: { pbxId?: string } = {},
): Promise<GqlResponse<TData>> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      // How an OPERATOR key names the PBX it acts on.
      ...(opts.pbxId ? { 'x-pbx-id': opts.pbxId } : {}),
    },
    body: JSON.stringify({ query: typeof document === 'string' ? document : print(document), variables }),
  });
  const text = await res.text();
  let body: GqlResponse<TData>['body'];
  try {
    body = JSON.parse(text);
  } catch {
    body = { errors: [{ message: text }] };
  }
  return { status: res.status, body };
}

/** A graphql-ws client on the gateway's WebSocket endpoint. */
export function wsClient(
  url: string,
  key: string | null,
  opts: {
    onClose?: (code: number, reason: string) => void;
    onConnected?: () => void;
    /** An OPERATOR key's PBX (connectionParams["x-pbx-id"]). */
    pbxId?: string;
  } = {},
): Client {
  return createClient({
    url: `${url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(opts.pbxId ? { 'x-pbx-id': opts.pbxId } : {}),
    },
    retryAttempts: 0,
    shouldRetry: () => false,
    lazy: true,
    on: {
      connected: () => opts.onConnected?.(),
      closed: (event) => {
        const e = event as { code: number; reason: string };
        opts.onClose?.(e.code, String(e.reason));
      },
    },
  });
}

/**
 * Resolves once a gateway process listens at Redis on the event topic (`Topic.*`) of its
 * queue prefix: a GraphQL subscription on it is live, and an event published now reaches it.
 */
export async function topicListened(prefix: string, topic: string, options: { timeout?: number } = {}) {
  const redis = new Redis(inject('redisUrl'));
  try {
    await eventually(
      async () => {
        const [, listeners] = (await redis.pubsub('NUMSUB', `${prefix}:${topic}`)) as [string, number];
        return Number(listeners) > 0;
      },
      { timeout: options.timeout, message: `a listener on ${topic}` },
    );
  } finally {
    redis.disconnect();
  }
}
