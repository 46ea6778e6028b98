import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redactArguments } from '../../src/app/audit.js';
import { publicBaseUrlProblem } from '../../src/domain/tenant.js';
import { storableText, textProblem } from '../../src/domain/text.js';
import type { Gateway } from '../../src/gateway.js';
import { inputProblems, operationCost } from '../../src/graphql/edge.js';
import { buildGatewaySchema } from '../../src/graphql/schema.js';
import { STRING_LIMITS } from '../../src/limits.js';
import { AuditLogDocument, PbxDocument, UpdatePbxDocument } from '../generated/graphql.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';
import { type GqlResponse, gql, seedPbx, startTestGateway, wsClient } from '../support/gateway.js';

type Errors = GqlResponse<unknown>['body']['errors'];

const NUL = '\u0000';
const LONE = '\ud800';

function overWebSocket(url: string, key: string, query: string, variables?: Record<string, unknown>) {
  const client = wsClient(url, key);
  return new Promise<{ data?: unknown; errors?: Errors }>((resolve) => {
    client.subscribe(
      { query, variables },
      { next: (r) => resolve(r as never), error: (e) => resolve({ errors: e as never }), complete: () => {} },
    );
  }).finally(() => client.dispose());
}

const invalid = (errors: Errors, field: string) => {
  expect(errors?.length).toBe(1);
  expect(errors?.[0].extensions?.code).toBe('INVALID_INPUT');
  expect(errors?.[0].extensions?.field).toBe(field);
  expect(errors?.[0].message).toContain(field);
};

describe('text a database can store (issue 12 item 4)', () => {
  it('names NUL, unpaired surrogates and length', () => {
    expect(textProblem(`a${NUL}b`, 10)).toMatch(/NUL character \(U\+0000\) at position 1/);
    expect(textProblem(`ok${LONE}`, 10)).toMatch(/unpaired surrogate \(U\+D800\) at position 2/);
    expect(textProblem('\udc00x', 10)).toMatch(/unpaired surrogate \(U\+DC00\) at position 0/);
    expect(textProblem('😀 fine', 10)).toBeNull();
    expect(textProblem('x'.repeat(11), 10)).toBe('must be at most 10 characters (got 11)');
  });

  it('makes text storable for the audit log', () => {
    expect(storableText(`a${NUL}b${LONE}c😀`)).toBe('a\uFFFDb\uFFFDc😀');
    const redacted = redactArguments({ input: { name: `x${NUL}`, [`k${NUL}`]: [LONE], clientSecret: NUL } });
    expect(redacted).toEqual({
      input: { name: 'x\uFFFD', 'k\uFFFD': ['\uFFFD'], clientSecret: '[redacted]' },
    });
    // A long value cut in the middle of a surrogate pair stays text.
    const cut = redactArguments({ v: `${'x'.repeat(499)}😀tail` }).v as string;
    expect(cut.startsWith(`${'x'.repeat(499)}\uFFFD…`)).toBe(true);
  });

  it('checks a public base URL: credentials and host length', () => {
    expect(publicBaseUrlProblem('https://pbx.example.com/portal')).toBeNull();
    expect(publicBaseUrlProblem('https://user:secret@pbx.example.com')).toMatch(/user name or password/);
    expect(publicBaseUrlProblem('https://user@pbx.example.com')).toMatch(/user name or password/);
    expect(publicBaseUrlProblem(`https://${'a.'.repeat(127)}com`)).toMatch(/at most 253/);
    expect(publicBaseUrlProblem(`https://${'a'.repeat(64)}.example.com`)).toMatch(/at most 63/);
    expect(publicBaseUrlProblem('https://[::1]:8443')).toBeNull();
    expect(publicBaseUrlProblem(`https://${'a'.repeat(200_000)}.com`)).toMatch(/at most 2048 characters/);
  });
});

describe('the cost of an operation (issue 12)', () => {
  it('counts the objects it could return, each page by its first, literal or variable', async () => {
    const schema = await buildGatewaySchema();
    const cost = (q: string, v?: Record<string, unknown>) => operationCost(schema, parse(q), undefined, v);
    expect(cost('{ pbx { id name } }')).toBe(1);
    expect(
      cost(
        '{ extensions(first: 500) { totalCount pageInfo { hasNextPage } edges { node { id } } nodes { id } } }',
      ),
    ).toBe(2500);
    expect(cost('query($n: Int) { extensions(first: $n) { nodes { id } } }', { n: 500 })).toBe(1000);
    expect(cost('query($n: Int = 20) { extensions(first: $n) { nodes { id } } }')).toBe(40);
    // No first: the argument's default (50), or 50.
    expect(cost('{ extensions { nodes { id } } }')).toBe(100);
    expect(cost('{ syncRuns { nodes { id } } }')).toBe(100);
    // A page larger than the field allows counts as its largest page: the use case refuses it by name.
    expect(cost('{ extensions(first: 100000) { nodes { id } } }')).toBe(1000);
    expect(cost('{ directoryGroups(first: 999) { id } }')).toBe(999);
    // Pages of pages multiply.
    expect(cost('{ syncRuns(first: 100) { nodes { items(first: 500) { nodes { id } } } } }')).toBe(
      100 * (2 + 500 * 2),
    );
    // Fragments count where they are spread.
    expect(
      cost(
        'query { extensions(first: 10) { ...P } } fragment P on ExtensionConnection { nodes { id } pageInfo { hasNextPage } }',
      ),
    ).toBe(30);
  });

  it('checks one document (as Apollo hands the same one to every request of a query text) against each request’s own variables', async () => {
    const schema = await buildGatewaySchema();
    const pages = parse('query($n: Int) { extensions(first: $n) { nodes { id } } }');
    expect(operationCost(schema, pages, undefined, { n: 500 })).toBe(1000);
    expect(operationCost(schema, pages, undefined, { n: 10 })).toBe(20);
    expect(operationCost(schema, pages, undefined, {})).toBe(100);
    const named = parse(
      'query A($s: String) { extensions(filter: { search: $s }) { nodes { id } } } query B { extensions(first: 7) { nodes { id } } }',
    );
    expect(inputProblems(schema, named, 'A', { s: 'fine' })).toEqual([]);
    expect(inputProblems(schema, named, 'A', { s: 'bad\u0000' })).toHaveLength(1);
    expect(inputProblems(schema, named, 'A', { s: 'fine again' })).toEqual([]);
    expect(operationCost(schema, named, 'B', undefined)).toBe(14);
  });
});

describeEachDb('input at the edge (issue 12 item 4)', (leg) => {
  let db: TestDatabase;
  let gw: Gateway;
  let t: Awaited<ReturnType<typeof seedPbx>>;

  beforeAll(async () => {
    db = await leg.create();
    gw = await startTestGateway(db);
    t = await seedPbx(gw, { name: 'Edge' });
  });
  afterAll(async () => {
    await gw?.stop();
    await db?.drop();
  });

  const latestAudit = async () => {
    const res = await gql(gw.url, t.keys.admin, AuditLogDocument, { first: 1 });
    expect(res.body.errors).toBeUndefined();
    return res.body.data?.auditLog.nodes[0];
  };

  it('refuses a NUL byte in a variable with INVALID_INPUT naming the argument (400), and changes nothing', async () => {
    const res = await gql(gw.url, t.keys.admin, UpdatePbxDocument, { input: { name: `Edge${NUL}x` } });
    expect(res.status).toBe(400);
    invalid(res.body.errors, 'input.name');
    expect(res.body.errors?.[0].message).toContain('NUL');
    expect((await gql(gw.url, t.keys.admin, PbxDocument)).body.data?.pbx.name).toBe('Edge');
  });

  it('audits the refused mutation, with what was typed made storable', async () => {
    await gql(gw.url, t.keys.admin, UpdatePbxDocument, { input: { name: `Evil${NUL}name`, timeZone: LONE } });
    const entry = await latestAudit();
    expect(entry).toMatchObject({ operation: 'updatePbx', outcome: 'INVALID_INPUT' });
    expect(entry?.arguments).toEqual({ input: { name: 'Evil\uFFFDname', timeZone: '\uFFFD' } });
    expect(entry?.message).toContain('input.name');
    expect(entry?.message).toContain('input.timeZone');
  });

  it('refuses NUL and unpaired surrogates in literals, lists, nested input and query arguments', async () => {
    const cases: Array<[string, Record<string, unknown> | undefined, string]> = [
      ['mutation { updatePbx(input: { name: "a\\u0000b" }) { id } }', undefined, 'input.name'],
      [
        'mutation { createExtensionGroup(name: "ok", memberIds: ["a", "b\\u0000"]) { id } }',
        undefined,
        'memberIds[1]',
      ],
      [
        'query($f: ExtensionFilter) { extensions(filter: $f) { totalCount } }',
        { f: { name: `x${LONE}` } },
        'filter.name',
      ],
      ['query($id: ID!) { extension(id: $id) { id } }', { id: NUL }, 'id'],
      [
        'query($c: String) { syncRun(id: "x") { items(after: $c) { totalCount } } }',
        { c: `c${NUL}` },
        'after',
      ],
      ['query($q: String! = "bad\\u0000") { directoryGroups(search: $q) { id } }', undefined, 'search'],
    ];
    for (const [query, variables, field] of cases) {
      const res = await gql(gw.url, t.keys.admin, query, variables);
      expect(res.status, query).toBe(400);
      invalid(res.body.errors, field);
    }
  });

  it('refuses the same over WebSocket', async () => {
    const res = await overWebSocket(
      gw.url,
      t.keys.admin,
      'mutation($n: String) { updatePbx(input: { name: $n }) { id } }',
      {
        n: `x${NUL}`,
      },
    );
    invalid(res.errors, 'input.name');
    expect((await latestAudit())?.arguments).toEqual({ input: { name: 'x\uFFFD' } });
    const q = await overWebSocket(
      gw.url,
      t.keys.viewer,
      '{ extensions(filter: { email: "\\u0000" }) { totalCount } }',
    );
    invalid(q.errors, 'filter.email');
  });

  it('holds every string to its length limit', async () => {
    const search = 'g'.repeat(16_000);
    const groups = await gql(
      gw.url,
      t.keys.admin,
      'query($s: String!) { directoryGroups(search: $s) { id } }',
      {
        s: search,
      },
    );
    invalid(groups.body.errors, 'search');
    expect(groups.body.errors?.[0].message).toContain(
      `at most ${STRING_LIMITS['Query.directoryGroups(search:)']} characters`,
    );
    const name = await gql(
      gw.url,
      t.keys.admin,
      `{ extensions(filter: { name: "${'n'.repeat(500)}" }) { totalCount } }`,
    );
    invalid(name.body.errors, 'filter.name');
    // Any string not in the table: at most 1,000 characters.
    const queue = await gql(gw.url, t.keys.admin, `{ failedJobs(queue: "${'q'.repeat(2000)}") { id } }`);
    invalid(queue.body.errors, 'queue');
  });

  it('refuses a public base URL with a 200,000-character host, a host over 253 or credentials', async () => {
    const long = await gql(gw.url, t.keys.admin, UpdatePbxDocument, {
      input: { publicBaseUrl: `https://${'a'.repeat(200_000)}.example.com` },
    });
    invalid(long.body.errors, 'input.publicBaseUrl');
    const host = await gql(gw.url, t.keys.admin, UpdatePbxDocument, {
      input: { publicBaseUrl: `https://${'abc.'.repeat(70)}example.com` },
    });
    invalid(host.body.errors, 'publicBaseUrl');
    expect(host.body.errors?.[0].message).toMatch(/at most 253/);
    const creds = await gql(gw.url, t.keys.admin, UpdatePbxDocument, {
      input: { publicBaseUrl: 'https://admin:hunter2@pbx.example.com' },
    });
    invalid(creds.body.errors, 'publicBaseUrl');
    expect(JSON.stringify(await latestAudit())).not.toContain('hunter2');
    expect((await gql(gw.url, t.keys.admin, '{ pbx { publicBaseUrl } }')).body.data).toEqual({
      pbx: { publicBaseUrl: null },
    });
    const ok = await gql(gw.url, t.keys.admin, UpdatePbxDocument, {
      input: { publicBaseUrl: 'https://pbx.example.com:8443/portal' },
    });
    expect(ok.body.errors).toBeUndefined();
  });

  it('lets documented page sizes through the cost limit', async () => {
    const query = `{ extensions(first: 500) {
      totalCount pageInfo { endCursor hasNextPage }
      edges { cursor node { id number firstName lastName email mobileNumber jobTitle source externalId lockedFields callerIdName voicemailEnabled notes createdAt updatedAt } }
      nodes { id number } } }`;
    const res = await gql(gw.url, t.keys.viewer, query);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data).toMatchObject({ extensions: { totalCount: 0 } });
    for (const q of [
      '{ auditLog(first: 500) { nodes { id } pageInfo { hasNextPage } } }',
      '{ extensionGroups(first: 500) { nodes { id } } }',
      '{ syncRuns(first: 500) { nodes { id } } }',
    ]) {
      expect((await gql(gw.url, t.keys.admin, q)).body.errors, q).toBeUndefined();
    }
  });

  it('refuses an operation over the cost limit with a message naming the limit, literal or variable', async () => {
    const literal = '{ syncRuns(first: 100) { nodes { items(first: 500) { nodes { id } } } } }';
    const viaVariables =
      'query($a: Int, $b: Int) { syncRuns(first: $a) { nodes { items(first: $b) { nodes { id } } } } }';
    for (const [query, variables] of [
      [literal, undefined],
      [viaVariables, { a: 100, b: 500 }],
    ] as const) {
      const res = await gql(gw.url, t.keys.admin, query, variables);
      expect(res.status).toBe(400);
      const e = res.body.errors?.[0];
      expect(e?.message).toMatch(
        /^Query cost limit of 5000 exceeded: this operation could return up to 100200 objects/,
      );
      expect(e?.message).not.toMatch(/syntax/i);
      expect(e?.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', maxCost: 5000, cost: 100200 });
      const ws = await overWebSocket(gw.url, t.keys.admin, query, variables);
      expect(ws.errors?.[0].message).toMatch(/cost limit of 5000/);
    }
  });
});
