import { createSecureContext, rootCertificates } from 'node:tls';
import {
  ConfidentialClientApplication,
  type ICachePlugin,
  type INetworkModule,
  type NetworkRequestOptions,
  type NetworkResponse,
} from '@azure/msal-node';
import { type AuthenticationProvider, Client } from '@microsoft/microsoft-graph-client';
import { Agent, request } from 'undici';

/**
 * Where the gateway finds Microsoft: the identity platform's authority host and the Graph
 * base URL are settings, because Microsoft's national clouds use other hosts than the
 * global one (https://learn.microsoft.com/graph/deployments), and the sandbox tenant is
 * one more such "cloud". `extraCaPem` is a CA to trust besides the system store (the
 * sandbox's own CA); nothing here touches NODE_TLS_REJECT_UNAUTHORIZED or NODE_EXTRA_CA_CERTS.
 */
export interface MicrosoftEndpoints {
  /** e.g. https://login.microsoftonline.com (no tenant, no trailing slash) */
  authorityHost: string;
  /** e.g. https://graph.microsoft.com/v1.0 */
  graphBaseUrl: string;
  /** PEM of an extra CA to trust for both hosts */
  extraCaPem?: string;
}

export interface AppCredentials {
  clientId: string;
  tenantId: string;
  clientSecret: string;
}

/** Microsoft's clouds (https://learn.microsoft.com/graph/deployments#app-registration-and-token-service-root-endpoints). */
export const MICROSOFT_CLOUDS = {
  global: {
    authorityHost: 'https://login.microsoftonline.com',
    graphBaseUrl: 'https://graph.microsoft.com/v1.0',
  },
  usGovL4: {
    authorityHost: 'https://login.microsoftonline.us',
    graphBaseUrl: 'https://graph.microsoft.us/v1.0',
  },
  usGovL5: {
    authorityHost: 'https://login.microsoftonline.us',
    graphBaseUrl: 'https://dod-graph.microsoft.us/v1.0',
  },
  china: {
    authorityHost: 'https://login.chinacloudapi.cn',
    graphBaseUrl: 'https://microsoftgraph.chinacloudapi.cn/v1.0',
  },
} as const satisfies Record<string, MicrosoftEndpoints>;

const agents = new Map<string, Agent>();

/** One keep-alive agent per extra CA, shared by the clients that trust it. */
export function agentFor(extraCaPem: string | undefined): Agent | undefined {
  if (!extraCaPem) return undefined;
  let a = agents.get(extraCaPem);
  if (!a) {
    // The extra CA is added to Node's bundled roots, so Microsoft's own hosts still verify. One
    // secure context for every connection: built from ~150 certificates, it costs a CPU-heavy
    // moment, which `ca` alone would spend again on each new connection (a parallel read opens
    // several: issue 16).
    a = new Agent({
      connect: { secureContext: createSecureContext({ ca: [...rootCertificates, extraCaPem] }) },
    });
    agents.set(extraCaPem, a);
  }
  return a;
}

function trimSlash(s: string): string {
  return s.replace(/\/+$/, '');
}

/** The Graph resource for client-credentials scopes and token audiences: the Graph host's origin. */
export function graphResource(endpoints: MicrosoftEndpoints): string {
  return new URL(endpoints.graphBaseUrl).origin;
}

/** `https://graph.microsoft.com/.default` for the global cloud, the cloud's own Graph origin elsewhere. */
export function graphDefaultScope(endpoints: MicrosoftEndpoints): string {
  return `${graphResource(endpoints)}/.default`;
}

/**
 * msal-node's network client over undici, trusting `extraCaPem` when given. msal-node 7
 * uses the global fetch by default, which offers no way to add a CA per client.
 */
export class MsalNetworkClient implements INetworkModule {
  constructor(private readonly agent?: Agent) {}

  sendGetRequestAsync<T>(
    url: string,
    options?: NetworkRequestOptions,
    timeout?: number,
  ): Promise<NetworkResponse<T>> {
    return this.send<T>('GET', url, options, timeout);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>('POST', url, options);
  }

  private async send<T>(
    method: 'GET' | 'POST',
    url: string,
    options?: NetworkRequestOptions,
    timeout?: number,
  ): Promise<NetworkResponse<T>> {
    const res = await request(url, {
      method,
      headers: options?.headers,
      body: method === 'POST' ? (options?.body ?? '') : undefined,
      dispatcher: this.agent,
      headersTimeout: timeout,
      bodyTimeout: timeout,
    });
    const text = await res.body.text();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers))
      if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
    let body: T;
    try {
      body = (text ? JSON.parse(text) : {}) as T;
    } catch {
      throw new Error(
        `Failed to parse response from ${new URL(url).origin}: HTTP ${res.statusCode} ${text.slice(0, 200)}`,
      );
    }
    return { headers, body, status: res.statusCode };
  }
}

/**
 * A confidential client (client secret) for one app registration in one tenant, against
 * any Microsoft cloud. `knownAuthorities` lets msal trust a host that is not one of
 * Microsoft's (it then reads `{authority}/v2.0/.well-known/openid-configuration` instead
 * of calling Microsoft's instance discovery).
 */
export function createConfidentialClient(
  endpoints: MicrosoftEndpoints,
  app: AppCredentials,
  cachePlugin?: ICachePlugin,
  /** The tenant's OpenID configuration (JSON) when the caller has it: msal then does not fetch it. */
  authorityMetadata?: string,
): ConfidentialClientApplication {
  const host = new URL(endpoints.authorityHost).host;
  return new ConfidentialClientApplication({
    auth: {
      clientId: app.clientId,
      clientSecret: app.clientSecret,
      authority: `${trimSlash(endpoints.authorityHost)}/${app.tenantId}`,
      knownAuthorities: [host],
      authorityMetadata,
    },
    cache: cachePlugin ? { cachePlugin } : undefined,
    system: { networkClient: new MsalNetworkClient(agentFor(endpoints.extraCaPem)) },
  });
}

/**
 * A Graph client for `graphBaseUrl` with graph-client's default middleware chain
 * (authentication, retry honouring Retry-After, redirect, telemetry). graph-client only
 * attaches the token to https URLs whose host is a Graph host or listed in
 * `customHosts`, so the Graph host is always listed; the fetch trusts `extraCaPem`.
 */
export function createGraphClient(
  endpoints: MicrosoftEndpoints,
  getAccessToken: () => Promise<string>,
): Client {
  const base = new URL(trimSlash(endpoints.graphBaseUrl));
  const segments = base.pathname.split('/').filter(Boolean);
  const version = segments.pop() ?? 'v1.0';
  const baseUrl = `${base.origin}${segments.length > 0 ? `/${segments.join('/')}` : ''}`;
  const authProvider: AuthenticationProvider = { getAccessToken };
  const agent = agentFor(endpoints.extraCaPem);
  return Client.initWithMiddleware({
    authProvider,
    baseUrl,
    defaultVersion: version,
    customHosts: new Set([base.hostname]),
    // Node's fetch takes an undici dispatcher; graph-client passes fetchOptions through to fetch.
    fetchOptions: agent ? ({ dispatcher: agent } as unknown as RequestInit) : undefined,
  });
}
