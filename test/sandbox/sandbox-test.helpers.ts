import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Agent, request } from 'undici';
import type { MicrosoftEndpoints } from '../../src/m365/microsoft-clients.js';
import {
  SANDBOX_PASSWORD,
  type Sandbox,
  type SandboxOptions,
  startSandbox,
} from '../../src/sandbox/index.js';

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

/**
 * Plays a Global Administrator's browser through Microsoft's admin consent
 * (`/{tenant}/v2.0/adminconsent?scope=https://graph.microsoft.com/.default`, sign-in page,
 * consent page, "Accept"): the app's requested application and delegated permissions are
 * granted in that directory, as on Microsoft. New sandbox tenants grant nothing until then.
 * Returns the redirect back to the app (`admin_consent=True&tenant=…`).
 */
export async function consentAsAdmin(
  t: TestSandbox,
  opts: { tenantId?: string; clientId?: string; adminUpn?: string; redirectUri?: string } = {},
): Promise<URL> {
  const { authorityHost } = t.sandbox.info;
  const tenantId = opts.tenantId ?? t.sandbox.info.tenantId;
  const clientId = opts.clientId ?? t.sandbox.info.clientId;
  const adminUpn =
    opts.adminUpn ??
    String((await t.sandbox.admin.listUsers({ top: 1000 })).value.find((u) => u.isAdmin)?.userPrincipalName);
  const url = `${authorityHost}/${tenantId}/v2.0/adminconsent?${form({
    client_id: clientId,
    scope: 'https://graph.microsoft.com/.default',
    redirect_uri: opts.redirectUri ?? 'http://localhost',
    state: 'admin-consent',
  })}`;
  const post = (path: string, fields: Record<string, string>) =>
    t.http(`${authorityHost}/${tenantId}/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form(fields),
    });
  const signIn = await t.http(url);
  const flow = /name="flow" value="([^"]+)"/.exec(signIn.text)?.[1];
  if (!flow) throw new Error(`adminconsent: no sign-in page (${signIn.status}) ${signIn.text.slice(0, 200)}`);
  const consent = await post('login', {
    flow,
    login: adminUpn,
    password: SANDBOX_PASSWORD,
    action: 'signin',
  });
  if (!consent.text.includes('decision'))
    throw new Error(`adminconsent: no consent page: ${consent.text.slice(0, 300)}`);
  const back = await post('consent', { flow, decision: 'accept' });
  const location = back.headers.location;
  if (back.status !== 302 || !location) throw new Error(`adminconsent answered ${back.status}`);
  const answer = new URL(location);
  if (answer.searchParams.get('admin_consent') !== 'True' || answer.searchParams.get('error')) {
    throw new Error(`adminconsent failed: ${answer.search}`);
  }
  return answer;
}
