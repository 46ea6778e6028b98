import type { TypedDocumentNode } from '@urql/core';
import { Client, type CombinedError, fetchExchange, subscriptionExchange } from '@urql/core';
import { createClient as createWsClient } from 'graphql-ws';

/**
 * The portal's one way to the gateway: its public GraphQL API, over HTTP (POST, JSON) and
 * graphql-ws, both signed in by the portal's session cookie (HttpOnly: no script sees it).
 */
const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`;
const ws = createWsClient({ url: wsUrl, lazy: true, retryAttempts: 3 });

export const client = new Client({
  url: '/graphql',
  // POST with JSON only: the gateway takes the session cookie from nothing else (CSRF).
  preferGetMethod: false,
  requestPolicy: 'network-only',
  fetchOptions: { credentials: 'same-origin', headers: { 'content-type': 'application/json' } },
  exchanges: [
    fetchExchange,
    subscriptionExchange({
      forwardSubscription: (request) => ({
        subscribe: (sink) => ({
          unsubscribe: ws.subscribe({ ...request, query: request.query ?? '' }, sink),
        }),
      }),
    }),
  ],
});

/** An error as the API names it: its `extensions.code`, message, and the field it concerns. */
export interface ApiProblem {
  code: string;
  message: string;
  field?: string;
}

export class ApiError extends Error {
  constructor(readonly problems: ApiProblem[]) {
    super(problems.map((p) => `${p.code}: ${p.message}`).join('\n'));
  }
}

export function problemsOf(error: CombinedError): ApiProblem[] {
  if (error.networkError) return [{ code: 'NETWORK', message: error.networkError.message }];
  const out: ApiProblem[] = [];
  for (const e of error.graphQLErrors) {
    const ext = e.extensions as {
      code?: string;
      field?: string;
      problems?: Array<{ field: string; message: string }>;
    };
    const code = ext.code ?? 'ERROR';
    if (ext.problems?.length) {
      for (const p of ext.problems) out.push({ code, message: p.message, field: p.field });
    } else out.push({ code, message: e.message, ...(ext.field ? { field: ext.field } : {}) });
  }
  return out;
}

export async function query<D, V extends Record<string, unknown>>(
  doc: TypedDocumentNode<D, V>,
  variables: V = {} as V,
): Promise<D> {
  const r = await client.query(doc, variables).toPromise();
  if (r.error) throw new ApiError(problemsOf(r.error));
  return r.data as D;
}

export async function mutate<D, V extends Record<string, unknown>>(
  doc: TypedDocumentNode<D, V>,
  variables: V = {} as V,
): Promise<D> {
  const r = await client.mutation(doc, variables).toPromise();
  if (r.error) throw new ApiError(problemsOf(r.error));
  return r.data as D;
}

/** Follows a subscription until `done` says so (or it ends); returns a stop function. */
export function subscribe<D, V extends Record<string, unknown>>(
  doc: TypedDocumentNode<D, V>,
  variables: V,
  onData: (data: D) => void,
  onError: (problems: ApiProblem[]) => void,
): () => void {
  const { unsubscribe } = client.subscription(doc, variables).subscribe((r) => {
    if (r.error) onError(problemsOf(r.error));
    else if (r.data) onData(r.data);
  });
  return unsubscribe;
}

// ---- the session (src/http/portal.ts) -----------------------------------------------------------

export interface Who {
  pbxId: string;
  role: 'ADMIN' | 'VIEWER';
}

const json = { 'content-type': 'application/json' };

export async function currentSession(): Promise<Who | null> {
  const r = await fetch('/portal/session', { credentials: 'same-origin' });
  return r.ok ? ((await r.json()) as Who) : null;
}

export async function signIn(key: string): Promise<Who> {
  const r = await fetch('/portal/session', {
    method: 'POST',
    credentials: 'same-origin',
    headers: json,
    body: JSON.stringify({ key }),
  });
  const body = (await r.json().catch(() => ({}))) as Who & {
    errors?: Array<{ message: string; extensions?: { code?: string; field?: string } }>;
  };
  if (!r.ok) {
    throw new ApiError(
      (body.errors ?? [{ message: `HTTP ${r.status}` }]).map((e) => ({
        code: e.extensions?.code ?? `HTTP_${r.status}`,
        message: e.message,
        field: e.extensions?.field ?? 'key',
      })),
    );
  }
  return body;
}

export async function signOut(): Promise<void> {
  await fetch('/portal/session', { method: 'DELETE', credentials: 'same-origin' });
  ws.terminate();
}
