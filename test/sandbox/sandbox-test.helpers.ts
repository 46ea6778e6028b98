import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Agent, request } from 'undici';
import type { MicrosoftEndpoints } from '../../src/m365/microsoft-clients.js';
import { type Sandbox, type SandboxOptions, startSandbox } from '../../src/sandbox/index.js';

/** A shared data dir per test process, so the CA and keys are made once per file. */
let sharedDir: string | undefined;

export function testDataDir(): string {
  if (!sharedDir) {
    mkdirSync(path.resolve('.data'), { recursive: true });
    sharedDir = mkdtempSync(path.resolve('.data/sandbox-test-'));
  }
  return sharedDir;
}

export function removeTestDataDir(): void {
  if (sharedDir) rmSync(sharedDir, { recursive: true, force: true });
  sharedDir = undefined;
}

export interface TestSandbox {
  sandbox: Sandbox;
  endpoints: MicrosoftEndpoints;
  caPem: string;
  /** HTTPS client trusting the sandbox CA, not following redirects. */
  http: (
    url: string,
    init?: { method?: string; headers?: Record<string, string>; body?: string },
  ) => Promise<RawResponse>;
  close(): Promise<void>;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
  json: <T = Record<string, unknown>>() => T;
}

export async function startTestSandbox(options: SandboxOptions = {}): Promise<TestSandbox> {
  const sandbox = await startSandbox({ port: 0, dataDir: testDataDir(), users: 50, ...options });
  const caPem = readFileSync(sandbox.info.caFile, 'utf8');
  const agent = new Agent({ connect: { ca: caPem } });
  const http = async (
    url: string,
    init: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ) => {
    const res = await request(url, {
      method: (init.method ?? 'GET') as 'GET',
      headers: init.headers,
      body: init.body,
      dispatcher: agent,
    });
    const text = await res.body.text();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers))
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    return { status: res.statusCode, headers, text, json: <T>() => JSON.parse(text) as T };
  };
  return {
    sandbox,
    endpoints: {
      authorityHost: sandbox.info.authorityHost,
      graphBaseUrl: sandbox.info.graphBaseUrl,
      extraCaPem: caPem,
    },
    caPem,
    http,
    async close() {
      await agent.close();
      await sandbox.close();
    },
  };
}

export function decodeJwt(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

export function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}
