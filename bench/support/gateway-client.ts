import { Agent, request } from 'undici';

/**
 * The gateway driven over its public GraphQL API, as the tests drive it (test/support/sandbox.ts),
 * with plain query strings so that the bench does not depend on vitest or the generated types.
 */
export interface GqlError {
  message: string;
  extensions?: Record<string, unknown>;
}

export async function gql<T>(
  url: string,
  key: string,
  query: string,
  variables?: Record<string, unknown>,
): Promise<T> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  let body: { data?: T; errors?: GqlError[] };
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`GraphQL answered ${res.status}: ${text.slice(0, 500)}`);
  }
  if (body.errors?.length || !body.data) {
    throw new Error(`GraphQL errors: ${JSON.stringify(body.errors ?? body).slice(0, 2000)}`);
  }
  return body.data;
}

export interface Counts {
  created: number;
  updated: number;
  associated: number;
  deleted: number;
  released: number;
  skipped: number;
  failed: number;
  held: number;
}

export interface RunView {
  id: string;
  status: string;
  phase: string;
  mode: string | null;
  trigger: string;
  queuedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  done: number;
  total: number;
  message: string | null;
  error: string | null;
  graphRequests: number | null;
  users: Counts;
  groups: Counts;
}

const COUNTS = 'created updated associated deleted released skipped failed held';
export const RUN_FIELDS = `id status phase mode trigger queuedAt startedAt finishedAt done total message error graphRequests users { ${COUNTS} } groups { ${COUNTS} }`;

export const FINAL_STATUSES = new Set(['SUCCEEDED', 'FAILED', 'HELD']);

export async function getRun(url: string, key: string, id: string): Promise<RunView | null> {
  const data = await gql<{ syncRun: RunView | null }>(
    url,
    key,
    `query($id: ID!) { syncRun(id: $id) { ${RUN_FIELDS} } }`,
    {
      id,
    },
  );
  return data.syncRun;
}

export async function listRuns(url: string, key: string, first = 50): Promise<RunView[]> {
  const data = await gql<{ syncRuns: { nodes: RunView[] } }>(
    url,
    key,
    `query($first: Int) { syncRuns(first: $first) { nodes { ${RUN_FIELDS} } } }`,
    { first },
  );
  return data.syncRuns.nodes;
}

/** The user rule every bench saves: all users, numbers from `startNumber`, deletes followed. */
export const BENCH_USER_RULE = {
  range: 'ALL',
  numbering: 'AUTO',
  startNumber: '1000',
  autoDelete: true,
  deleteWhenDisabled: true,
  deleteWhenDeleted: true,
  autoAssociate: false,
  welcomeEmail: false,
} as const;

export async function saveUserSyncRule(
  url: string,
  key: string,
  input: Record<string, unknown>,
): Promise<RunView | null> {
  const data = await gql<{ saveUserSyncRule: { initialRun: RunView | null } }>(
    url,
    key,
    `mutation($input: UserSyncRuleInput!) { saveUserSyncRule(input: $input) { initialRun { ${RUN_FIELDS} } } }`,
    { input },
  );
  return data.saveUserSyncRule.initialRun;
}

export async function syncNow(url: string, key: string): Promise<RunView> {
  const data = await gql<{ syncNow: RunView }>(url, key, `mutation { syncNow { ${RUN_FIELDS} } }`);
  return data.syncNow;
}

/**
 * connect + consent through the sandbox with auto sign-in: the connect mutation gives the
 * authorization URL; the sandbox signs the admin in (login_hint) and redirects to the gateway's
 * callback, which sends the browser on to Microsoft's admin consent while the app's application
 * permissions are not granted (the sandbox grants nothing until then), and finally to its
 * result page. Returns the result code (CONNECTED when it worked).
 */
export async function connectThroughSandbox(
  gatewayUrl: string,
  key: string,
  sandbox: { clientId: string; tenantId: string; clientSecret: string },
  adminUpn: string,
  agent: Agent,
): Promise<string> {
  const data = await gql<{ connect: { authorizationUrl: string } }>(
    gatewayUrl,
    key,
    'mutation($input: ConnectInput!) { connect(input: $input) { authorizationUrl } }',
    { input: { clientId: sandbox.clientId, tenantId: sandbox.tenantId, clientSecret: sandbox.clientSecret } },
  );
  // The sign-in, then (when the app's application permissions have no admin consent yet) the
  // admin consent the gateway sends the browser on to, each with auto sign-in.
  let authorize = new URL(data.connect.authorizationUrl);
  for (let hop = 0; ; hop++) {
    if (hop > 3) throw new Error('the sign-in journey did not end');
    authorize.searchParams.set('login_hint', adminUpn);
    const res = await request(authorize, { dispatcher: agent });
    await res.body.text();
    const location = res.headers.location;
    if (res.statusCode !== 302 || typeof location !== 'string') {
      throw new Error(`${authorize.pathname} answered ${res.statusCode} without a redirect`);
    }
    const cb = await fetch(location, { redirect: 'manual' });
    const next = cb.headers.get('location');
    if (cb.status !== 303 || !next) {
      // Its error code only (e.g. SQLITE_BUSY): the message may carry a statement's values.
      const code = /"code":"(\w+)"/.exec(await cb.text())?.[1];
      throw new Error(`the gateway's callback answered ${cb.status}${code ? ` (${code})` : ''}`);
    }
    const resultUrl = new URL(next, location);
    if (resultUrl.origin !== new URL(location).origin) {
      authorize = resultUrl;
      continue;
    }
    await (await fetch(resultUrl)).text();
    return resultUrl.searchParams.get('result') ?? '';
  }
}

/** The reasons of a run's FAIL items (the first 2,000), as the API lists them. */
export async function failReasons(url: string, key: string, runId: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  let after: string | null = null;
  for (let page = 0; page < 10; page++) {
    const data: {
      syncRun: {
        items: {
          nodes: Array<{ reason: string }>;
          pageInfo: { hasNextPage: boolean; endCursor: string | null };
        };
      };
    } = await gql(
      url,
      key,
      'query($id: ID!, $after: String) { syncRun(id: $id) { items(action: FAIL, first: 200, after: $after) { nodes { reason } pageInfo { hasNextPage endCursor } } } }',
      { id: runId, after },
    );
    for (const n of data.syncRun.items.nodes) out[n.reason] = (out[n.reason] ?? 0) + 1;
    if (!data.syncRun.items.pageInfo.hasNextPage) break;
    after = data.syncRun.items.pageInfo.endCursor;
  }
  return out;
}
