import { type Client, GraphError, PageIterator } from '@microsoft/microsoft-graph-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createConfidentialClient,
  createGraphClient,
  graphDefaultScope,
} from '../../src/m365/microsoft-clients.js';
import {
  consentAsAdmin,
  removeTestDataDir,
  startTestSandbox,
  type TestSandbox,
} from './sandbox-test.helpers.js';

let t: TestSandbox;
let graph: Client;
let token: string;

async function appToken(sb: TestSandbox): Promise<string> {
  const cca = createConfidentialClient(sb.endpoints, {
    clientId: sb.sandbox.info.clientId,
    tenantId: sb.sandbox.info.tenantId,
    clientSecret: sb.sandbox.info.clientSecret,
  });
  const r = await cca.acquireTokenByClientCredential({
    scopes: [graphDefaultScope(sb.endpoints)],
    skipCache: true,
  });
  return r?.accessToken as string;
}

beforeAll(async () => {
  t = await startTestSandbox({ users: 2500 });
  await consentAsAdmin(t);
  token = await appToken(t);
  graph = createGraphClient(t.endpoints, async () => token);
});

afterAll(async () => {
  await t?.close();
  removeTestDataDir();
});

beforeEach(async () => {
  await t.sandbox.admin.resetFaults();
});

function raw(path: string, headers: Record<string, string> = {}, bearer = token) {
  return t.http(`${t.sandbox.info.graphBaseUrl}${path}`, {
    headers: { authorization: `Bearer ${bearer}`, ...headers },
  });
}

describe('Graph: users', () => {
  it("graph-client's PageIterator reads 2,500 users at $top=999 in exactly 3 requests", async () => {
    await t.sandbox.admin.resetStats();
    const first = await graph.api('/users').top(999).select('id,displayName').get();
    const ids = new Set<string>();
    const it = new PageIterator(graph, first, (u: { id: string }) => {
      ids.add(u.id);
      return true;
    });
    await it.iterate();
    expect(ids.size).toBe(2500);
    const stats = await t.sandbox.admin.stats();
    expect(stats.graphByPath['GET /users']).toBe(3);
  });

  it('$top must be 1..999 (400 Request_UnsupportedQuery); default page is 100 with a nextLink', async () => {
    for (const bad of ['1000', '0', '-1', 'abc']) {
      const err = await graph
        .api('/users')
        .query({ $top: bad })
        .get()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GraphError);
      expect(err).toMatchObject({ statusCode: 400, code: 'Request_UnsupportedQuery' });
      expect((err as GraphError).message).toContain('Must be between 1 and 999');
    }
    const page = await graph.api('/users').get();
    expect(page.value).toHaveLength(100);
    expect(page['@odata.nextLink']).toMatch(/\$skiptoken=/);
    expect(Object.keys(page.value[0]).sort()).toEqual(
      [
        'businessPhones',
        'displayName',
        'givenName',
        'id',
        'jobTitle',
        'mail',
        'mobilePhone',
        'officeLocation',
        'preferredLanguage',
        'surname',
        'userPrincipalName',
      ].sort(),
    );
    const one = await graph.api('/users').top(1).get();
    expect(one.value).toHaveLength(1);
  });

  it('$select returns what is asked (accountEnabled only when selected)', async () => {
    const page = await graph.api('/users').select(['id', 'accountEnabled', 'userType']).top(50).get();
    for (const u of page.value) expect(Object.keys(u).sort()).toEqual(['accountEnabled', 'id', 'userType']);
    const bad = await graph
      .api('/users')
      .select('nope')
      .get()
      .catch((e: unknown) => e);
    expect(bad).toMatchObject({ statusCode: 400 });
  });

  it('$filter on accountEnabled, userType, id in (...), startswith(userPrincipalName, ...)', async () => {
    const all = async (req: string, headers: Record<string, string> = {}) => {
      const out: Array<Record<string, unknown>> = [];
      let page = await graph.api(req).headers(headers).get();
      for (;;) {
        out.push(...page.value);
        if (!page['@odata.nextLink']) break;
        page = await graph.api(page['@odata.nextLink']).get();
      }
      return out;
    };
    const disabled = await all('/users?$filter=accountEnabled eq false&$select=id,accountEnabled&$top=999');
    expect(disabled.length).toBeGreaterThan(20);
    expect(disabled.every((u) => u.accountEnabled === false)).toBe(true);

    const guests = await all(
      "/users?$filter=userType eq 'Guest'&$select=id,userType,userPrincipalName&$top=999",
    );
    expect(guests.length).toBeGreaterThan(50);
    expect(guests.every((u) => u.userType === 'Guest' && String(u.userPrincipalName).includes('#EXT#'))).toBe(
      true,
    );

    const ids = disabled.slice(0, 3).map((u) => u.id as string);
    const byId = await all(`/users?$filter=id in (${ids.map((i) => `'${i}'`).join(',')})&$select=id`);
    expect(byId.map((u) => u.id).sort()).toEqual([...ids].sort());

    const a = await all(
      "/users?$filter=startswith(userPrincipalName,'a')&$select=userPrincipalName&$top=999",
    );
    expect(a.length).toBeGreaterThan(0);
    expect(a.every((u) => String(u.userPrincipalName).toLowerCase().startsWith('a'))).toBe(true);

    // ne needs advanced query (ConsistencyLevel: eventual + $count=true)
    const plain = await graph
      .api("/users?$filter=userType ne 'Member'")
      .get()
      .catch((e: unknown) => e);
    expect(plain).toMatchObject({ statusCode: 400, code: 'Request_UnsupportedQuery' });
    const adv = await graph
      .api("/users?$filter=userType ne 'Member'&$count=true&$top=1")
      .header('ConsistencyLevel', 'eventual')
      .get();
    expect(adv['@odata.count']).toBe(guests.length);
  });

  it('$count=true needs ConsistencyLevel: eventual (without it Graph ignores the parameter; the /$count segment is an error)', async () => {
    const ignored = await graph.api('/users').query({ $count: 'true' }).top(5).get();
    expect(ignored.value).toHaveLength(5);
    expect(ignored).not.toHaveProperty('@odata.count');
    const segment = await raw('/users/$count');
    expect(segment.status).toBe(400);
    expect(segment.json()).toMatchObject({
      error: { code: 'Request_BadRequest', message: '$count is not currently supported.' },
    });
    const ok = await graph
      .api('/users')
      .query({ $count: 'true' })
      .top(5)
      .header('ConsistencyLevel', 'eventual')
      .get();
    expect(ok['@odata.count']).toBe(2500);
    const text = await raw('/users/$count', { ConsistencyLevel: 'eventual' });
    expect(text.text).toBe('2500');
  });

  it('$orderby: displayName by default; with $filter, or on createdDateTime, only with ConsistencyLevel: eventual and $count=true', async () => {
    const sorted = await graph.api('/users?$orderby=displayName&$top=5&$select=displayName').get();
    const names = sorted.value.map((u: Record<string, string>) => u.displayName.toLowerCase());
    expect(names).toEqual([...names].sort());
    const advanced = [
      "/users?$filter=startswith(displayName,'a')&$orderby=displayName&$top=5",
      '/users?$orderby=createdDateTime&$top=5',
    ];
    for (const path of advanced) {
      for (const [query, headers] of [
        ['', {}],
        ['', { ConsistencyLevel: 'eventual' }],
        ['&$count=true', {}],
      ] as const) {
        const res = await raw(`${path}${query}`, headers);
        expect(res.status, `${path}${query} ${JSON.stringify(headers)}`).toBe(400);
        expect(res.json()).toMatchObject({
          error: { code: 'Request_UnsupportedQuery', message: 'Sorting not supported for current query.' },
        });
      }
      expect((await raw(`${path}&$count=true`, { ConsistencyLevel: 'eventual' })).status, path).toBe(200);
    }
  });

  it('@odata.count comes on the first page only (https://learn.microsoft.com/graph/paging)', async () => {
    const pages: Record<string, unknown>[] = [];
    let next: string | undefined = '/users?$count=true&$top=999&$select=id';
    while (next) {
      const page: Record<string, unknown> = await graph
        .api(next)
        .header('ConsistencyLevel', 'eventual')
        .get();
      pages.push(page);
      next = page['@odata.nextLink'] as string | undefined;
    }
    expect(pages).toHaveLength(3);
    expect(pages[0]?.['@odata.count']).toBe(2500);
    expect(pages.slice(1).map((p) => '@odata.count' in p)).toEqual([false, false]);
    // The same for a list paged by offset ($search / $orderby) and for a relation.
    const searched = await graph
      .api('/users?$search="displayName:a"&$count=true&$top=5&$orderby=displayName')
      .header('ConsistencyLevel', 'eventual')
      .get();
    expect(searched['@odata.count']).toBeGreaterThan(5);
    const second = await graph.api(searched['@odata.nextLink']).header('ConsistencyLevel', 'eventual').get();
    expect(second.value).toHaveLength(5);
    expect(second).not.toHaveProperty('@odata.count');
  });

  it('GET /users/{id} by id and by userPrincipalName; 404 with Graph error body', async () => {
    const first = (await graph.api('/users').top(1).select('id,userPrincipalName').get()).value[0];
    expect((await graph.api(`/users/${first.id}`).get()).id).toBe(first.id);
    expect((await graph.api(`/users/${encodeURIComponent(first.userPrincipalName)}`).get()).id).toBe(
      first.id,
    );
    const missing = await raw('/users/00000000-0000-0000-0000-000000000000');
    expect(missing.status).toBe(404);
    expect(missing.json()).toMatchObject({
      error: { code: 'Request_ResourceNotFound', innerError: { 'request-id': expect.any(String) } },
    });
  });
});

describe('Graph: groups', () => {
  it('lists Microsoft 365 and security groups, $filter and $search for the picker', async () => {
    const unified = await graph.api("/groups?$filter=groupTypes/any(c:c eq 'Unified')&$top=999").get();
    expect(unified.value.length).toBeGreaterThan(5);
    for (const g of unified.value) expect(g).toMatchObject({ groupTypes: ['Unified'], mailEnabled: true });
    const security = await graph
      .api('/groups?$filter=securityEnabled eq true and mailEnabled eq false&$top=999')
      .get();
    expect(security.value.length).toBeGreaterThan(5);
    for (const g of security.value) expect(g.groupTypes).toEqual([]);

    const noHeader = await graph
      .api('/groups')
      .search('"displayName:SG"')
      .get()
      .catch((e: unknown) => e);
    expect(noHeader).toMatchObject({ statusCode: 400 });
    const found = await graph
      .api('/groups')
      .search('"displayName:sales"')
      .header('ConsistencyLevel', 'eventual')
      .get();
    expect(found.value.length).toBeGreaterThan(0);
    for (const g of found.value) expect(String(g.displayName).toLowerCase()).toContain('sales');
  });

  it('members, transitiveMembers and nested groups', async () => {
    const nested = (await graph.api("/groups?$filter=displayName eq 'SG-Global'").get()).value[0];
    expect(nested).toBeTruthy();
    const direct = await graph.api(`/groups/${nested.id}/members`).top(999).get();
    expect(direct.value.length).toBeGreaterThan(0);
    expect(
      direct.value.every((m: Record<string, string>) => m['@odata.type'] === '#microsoft.graph.group'),
    ).toBe(true);
    const trans = await graph.api(`/groups/${nested.id}/transitiveMembers`).top(999).get();
    const types = new Set(trans.value.map((m: Record<string, string>) => m['@odata.type']));
    expect(types).toEqual(new Set(['#microsoft.graph.group', '#microsoft.graph.user']));
    const usersOnly = await graph
      .api(`/groups/${nested.id}/transitiveMembers/microsoft.graph.user`)
      .top(5)
      .select('id,displayName')
      .query({ $count: 'true' })
      .header('ConsistencyLevel', 'eventual')
      .get();
    expect(usersOnly.value.length).toBe(5);
    expect(usersOnly['@odata.count']).toBe(
      trans.value.filter((m: Record<string, string>) => m['@odata.type'] === '#microsoft.graph.user').length,
    );
    // The next page needs the header again (Graph does not carry it over); $count travels in the link.
    const page2 = await graph.api(usersOnly['@odata.nextLink']).header('ConsistencyLevel', 'eventual').get();
    expect(page2.value.length).toBeGreaterThan(0);
    expect(page2).not.toHaveProperty('@odata.count');
  });

  it('an OData cast under transitiveMembers / transitiveMemberOf needs ConsistencyLevel: eventual and $count=true (400 Request_UnsupportedQuery)', async () => {
    const nested = (await graph.api("/groups?$filter=displayName eq 'SG-Global'").get()).value[0];
    const member = (await graph.api(`/groups/${nested.id}/transitiveMembers`).top(999).get()).value.find(
      (m: Record<string, string>) => m['@odata.type'] === '#microsoft.graph.user',
    );
    const casts = [
      `/groups/${nested.id}/transitiveMembers/microsoft.graph.user?$select=id`,
      `/groups/${nested.id}/transitiveMembers/microsoft.graph.group?$select=id`,
      `/users/${member.id}/transitiveMemberOf/microsoft.graph.group?$select=id`,
    ];
    for (const path of casts) {
      for (const [query, headers] of [
        ['', {}],
        ['&$count=true', {}],
        ['', { ConsistencyLevel: 'eventual' }],
      ] as const) {
        const res = await raw(`${path}${query}`, headers);
        expect(res.status, `${path}${query} ${JSON.stringify(headers)}`).toBe(400);
        expect(res.json()).toMatchObject({
          error: {
            code: 'Request_UnsupportedQuery',
            message: expect.stringContaining('ConsistencyLevel:eventual'),
          },
        });
      }
      const ok = await raw(`${path}&$count=true`, { ConsistencyLevel: 'eventual' });
      expect(ok.status, path).toBe(200);
      expect(ok.json<{ value: unknown[] }>().value.length).toBeGreaterThan(0);
    }
    // Direct relations take a cast by default.
    expect((await raw(`/groups/${nested.id}/members/microsoft.graph.group?$select=id`)).status).toBe(200);
    expect((await raw(`/users/${member.id}/memberOf/microsoft.graph.group?$select=id`)).status).toBe(200);
    // A cast to a type a Microsoft 365 group cannot hold is refused.
    const unified = (await graph.api("/groups?$filter=groupTypes/any(c:c eq 'Unified')&$top=1").get())
      .value[0];
    const bad = await raw(`/groups/${unified.id}/members/microsoft.graph.group`);
    expect(bad.status).toBe(400);
    expect(bad.json()).toMatchObject({ error: { code: 'Request_UnsupportedQuery' } });
  });
});

describe('Graph: authorization', () => {
  it('/me needs a delegated token (400 with an app token)', async () => {
    const res = await raw('/me');
    expect(res.status).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'BadRequest' } });
  });

  it('unknown segments answer 400 like Graph', async () => {
    const res = await raw('/nothing-here');
    expect(res.status).toBe(400);
    expect(res.json()).toMatchObject({
      error: { code: 'BadRequest', message: "Resource not found for the segment 'nothing-here'." },
    });
  });

  it('no token, a token from another tenant → 401 InvalidAuthenticationToken with Graph error body', async () => {
    const none = await t.http(`${t.sandbox.info.graphBaseUrl}/users`);
    expect(none.status).toBe(401);
    expect(none.json()).toMatchObject({
      error: { code: 'InvalidAuthenticationToken', message: 'Access token is empty.' },
    });

    const other = await startTestSandbox({ users: 10, seed: 7 });
    try {
      expect(other.sandbox.info.tenantId).not.toBe(t.sandbox.info.tenantId);
      const foreign = await appToken(other);
      const res = await raw('/users', {}, foreign);
      expect(res.status).toBe(401);
      expect(res.json()).toMatchObject({
        error: {
          code: 'InvalidAuthenticationToken',
          message: expect.any(String),
          innerError: { date: expect.any(String), 'request-id': expect.any(String) },
        },
      });
      const viaClient = createGraphClient(t.endpoints, async () => foreign);
      await expect(viaClient.api('/users').get()).rejects.toMatchObject({
        statusCode: 401,
        code: 'InvalidAuthenticationToken',
      });
    } finally {
      await other.close();
    }
  });

  it('a token without the permission → 403 Authorization_RequestDenied', async () => {
    const { clientId } = t.sandbox.info;
    await t.sandbox.admin.revokeConsent(clientId);
    await t.sandbox.admin.grantConsent(clientId, { appRoles: ['Group.Read.All'], scopes: [] });
    try {
      const limited = await appToken(t);
      const res = await raw('/users', {}, limited);
      expect(res.status).toBe(403);
      expect(res.json()).toMatchObject({
        error: {
          code: 'Authorization_RequestDenied',
          message: 'Insufficient privileges to complete the operation.',
        },
      });
      expect((await raw('/groups?$top=1', {}, limited)).status).toBe(200);
    } finally {
      await t.sandbox.admin.grantConsent(clientId);
    }
  });
});

describe('Graph: throttling', () => {
  it("a forced 429 with Retry-After: 2 is retried by graph-client's retry handler after ≥ 2 s", async () => {
    await t.sandbox.admin.resetStats();
    await t.sandbox.admin.forceThrottle({ count: 1, retryAfterSeconds: 2 });
    const started = Date.now();
    const page = await graph.api('/users').top(1).get();
    const elapsed = Date.now() - started;
    expect(page.value).toHaveLength(1);
    expect(elapsed).toBeGreaterThanOrEqual(2000);
    const stats = await t.sandbox.admin.stats();
    expect(stats.graphByPath['GET /users']).toBe(2);
    expect(stats.throttled).toBe(1);
  });

  it('the resource-unit bucket answers 429 with Retry-After and x-ms-throttle-* headers; costs follow the documented table', async () => {
    await t.sandbox.admin.setFaults({ resourceUnitLimit: 10 });
    const a = await raw('/users'); // GET users: 2
    expect(a.status).toBe(200);
    expect(a.headers['x-ms-resource-unit']).toBe('2');
    expect((await raw('/users?$select=id')).headers['x-ms-resource-unit']).toBe('1'); // $select −1
    expect((await raw('/users?$select=id&$top=5')).headers['x-ms-resource-unit']).toBe('1'); // never below 1
    const g = (await graph.api('/groups').top(1).select('id').get()).value[0];
    expect((await raw(`/groups/${g.id}/members`)).headers['x-ms-resource-unit']).toBe('3');
    const near = await raw(`/groups/${g.id}/transitiveMembers?$top=5`); // 5 − 1, bucket runs dry
    const last = near.status === 429 ? near : await raw('/users');
    expect(last.status).toBe(429);
    expect(Number(last.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(last.headers['x-ms-throttle-scope']).toBe(
      `Tenant_Application/ReadWrite/${t.sandbox.info.clientId}/${t.sandbox.info.tenantId}`,
    );
    expect(last.headers['x-ms-throttle-information']).toBe('ResourceUnitLimitExceeded');
    expect(last.json()).toMatchObject({ error: { code: 'TooManyRequests' } });
  });

  it('tenant size sets the bucket: 8,000 RU per 10 s above 500 users', async () => {
    // 2,500 users: L. 3,990 requests at cost 2 fit, so a burst of 50 does not come near.
    for (let i = 0; i < 50; i++) expect((await raw('/users?$top=1')).status).toBe(200);
  });

  it('the error rate knob answers 503/504 with Retry-After', async () => {
    await t.sandbox.admin.setFaults({ errorRate: 1 });
    const res = await raw('/users?$top=1');
    expect([503, 504]).toContain(res.status);
    expect(res.headers['retry-after']).toBe('1');
    await t.sandbox.admin.setFaults({ errorRate: 0 });
  });
});

describe('Graph: $batch', () => {
  it('answers each request on its own; ≤ 20 requests; dependsOn; items are throttled on their own', async () => {
    const g = (await graph.api('/groups').top(1).select('id').get()).value[0];
    const body = await graph.api('/$batch').post({
      requests: [
        { id: '1', method: 'GET', url: '/users?$top=2&$select=id' },
        { id: '2', method: 'GET', url: `/groups/${g.id}/members?$top=3` },
        { id: '3', method: 'GET', url: '/users/00000000-0000-0000-0000-000000000000' },
        { id: '4', method: 'GET', url: '/users?$top=1', dependsOn: ['3'] },
        { id: '5', method: 'GET', url: '/users/$count', headers: { ConsistencyLevel: 'eventual' } },
      ],
    });
    const byId = Object.fromEntries(body.responses.map((r: { id: string }) => [r.id, r]));
    expect(byId['1']).toMatchObject({ status: 200 });
    expect(byId['1'].body.value).toHaveLength(2);
    expect(byId['2']).toMatchObject({ status: 200 });
    expect(byId['3']).toMatchObject({ status: 404, body: { error: { code: 'Request_ResourceNotFound' } } });
    expect(byId['4']).toMatchObject({ status: 424 });
    expect(byId['5']).toMatchObject({ status: 200, body: '2500' });

    const tooMany = await graph
      .api('/$batch')
      .post({
        requests: Array.from({ length: 21 }, (_, i) => ({
          id: String(i + 1),
          method: 'GET',
          url: '/users?$top=1',
        })),
      })
      .catch((e: unknown) => e);
    expect(tooMany).toMatchObject({ statusCode: 400 });

    await t.sandbox.admin.forceThrottle({ count: 1, retryAfterSeconds: 3, pathContains: 'groups' });
    const throttled = await graph.api('/$batch').post({
      requests: [
        { id: 'u', method: 'GET', url: '/users?$top=1' },
        { id: 'g', method: 'GET', url: '/groups?$top=1' },
      ],
    });
    const r = Object.fromEntries(throttled.responses.map((x: { id: string }) => [x.id, x]));
    expect(r.u.status).toBe(200);
    expect(r.g.status).toBe(429);
    expect(r.g.headers['Retry-After']).toBe('3');
  });
});
