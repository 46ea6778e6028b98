import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { DASHBOARD_PATH, LOGIN_PATH, SESSION_COOKIE } from '../../src/http/dashboard.js';
import {
  AuditLogDocument,
  CreateApiKeyDocument,
  CreatePbxDocument,
  DeletePbxDocument,
  PbxDocument,
  RevokeApiKeyDocument,
} from '../generated/graphql.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';
import {
  gql,
  seedOperator,
  seedPbx,
  startTestGateway,
  TEST_SECRET_KEY,
  uniquePrefix,
  wsClient,
} from '../support/gateway.js';
import { databaseUrl, startScript } from '../support/process.js';

/**
 * Revoking a key ends its sessions everywhere within 5 s (issue 11 item 5, issue 12 item 2):
 * two gateway processes share the database and Redis (A in this process, B a child process
 * with `--role api`); a key's graphql-ws sockets on both are closed (4403) when an operator
 * revokes it through A, its HTTP requests answer 401 and its dashboard session ends.
 */

const REVOKE_DEADLINE_MS = 5_000;

type Closed = { code: number; reason: string; at: number };

/** Fails when `promise` has not settled within `ms`: waits on the event, bounded. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    }),
  ]);
}

/** A graphql-ws connection with an open subscription, and a way to send more operations on it. */
async function openSocket(url: string, key: string, pbxId?: string) {
  let onClosed: (c: Closed) => void = () => {};
  const closed = new Promise<Closed>((resolve) => {
    onClosed = resolve;
  });
  const client = wsClient(url, key, {
    pbxId,
    onClose: (code, reason) => onClosed({ code, reason, at: Date.now() }),
  });
  const send = (query: string) =>
    new Promise<unknown>((resolve, reject) => {
      client.subscribe({ query }, { next: resolve, error: reject, complete: () => {} });
    });
  client.subscribe(
    { query: 'subscription { syncProgress { id status } }' },
    { next: () => {}, error: () => {}, complete: () => {} },
  );
  // The same connection answers a query: it is open and past its connection_init.
  await expect(send('{ pbx { id } }')).resolves.toMatchObject({ data: { pbx: { id: expect.any(String) } } });
  return { client, closed, send };
}

async function dashboardLogin(url: string, key: string): Promise<string> {
  const res = await fetch(`${url}${LOGIN_PATH}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ key }).toString(),
  });
  expect(res.status).toBe(303);
  const header = res.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`)) ?? '';
  return header.slice(SESSION_COOKIE.length + 1).split(';')[0];
}

const dashboardStatus = async (url: string, cookie: string) =>
  (await fetch(`${url}${DASHBOARD_PATH}/api/queues`, { headers: { cookie: `${SESSION_COOKIE}=${cookie}` } }))
    .status;

describeEachDb('revoking a key ends its sessions on every process within 5 s', (leg) => {
  let db: TestDatabase;
  let a: Gateway;
  let b: ReturnType<typeof startScript>;
  let bUrl: string;
  let op: Awaited<ReturnType<typeof seedOperator>>;
  let tenant: Awaited<ReturnType<typeof seedPbx>>;

  beforeAll(async () => {
    db = await leg.create();
    const prefix = uniquePrefix('revoke');
    a = await startTestGateway(db, { QUEUE_PREFIX: prefix });
    b = startScript(
      'src/main.ts',
      ['--role', 'api'],
      {
        DATABASE_URL: databaseUrl(db.config),
        REDIS_URL: inject('redisUrl'),
        QUEUE_PREFIX: prefix,
        HOST: '127.0.0.1',
        PORT: '0',
        LOG_LEVEL: 'info',
        NODE_ENV: 'test',
        SECRET_KEY: TEST_SECRET_KEY,
      },
      /"url":"(http:\/\/[^"]+)"/,
    );
    bUrl = (await b.match)[1];
    op = await seedOperator(a);
    tenant = await seedPbx(a, { name: 'Revoke' });
  });
  afterAll(async () => {
    b?.child.kill('SIGTERM');
    await b?.exited;
    await a?.stop();
    await db?.drop();
  });

  const newKey = async (pbxId: string, role: 'ADMIN' | 'VIEWER' = 'ADMIN') => {
    const res = await gql(a.url, op.key, CreateApiKeyDocument, { input: { pbxId, role } });
    const made = res.body.data?.createApiKey;
    if (!made) throw new Error(JSON.stringify(res.body));
    return { key: made.key, id: made.apiKey.id };
  };

  it('an operator revokes a key on A: its sockets on A and on B close with 4403, HTTP answers 401, the dashboard cookie stops working', async () => {
    const k = await newKey(tenant.pbx.id);
    const onB = await openSocket(bUrl, k.key);
    const onA = await openSocket(a.url, k.key);
    const cookie = await dashboardLogin(bUrl, k.key);
    expect(await dashboardStatus(bUrl, cookie)).toBe(200);

    const revokedAt = Date.now();
    const revoked = await gql(a.url, op.key, RevokeApiKeyDocument, { id: k.id });
    expect(revoked.body.data?.revokeApiKey.revokedAt).toBeTruthy();
    const [closedB, closedA] = await within(
      Promise.all([onB.closed, onA.closed]),
      REVOKE_DEADLINE_MS,
      'sockets of the revoked key closed',
    );
    for (const c of [closedB, closedA]) {
      expect(c.code).toBe(4403);
      expect(c.reason).toMatch(/revoked/);
      expect(c.at - revokedAt).toBeLessThan(REVOKE_DEADLINE_MS);
    }
    for (const url of [a.url, bUrl]) expect((await gql(url, k.key, PbxDocument)).status).toBe(401);
    expect(await dashboardStatus(bUrl, cookie)).toBe(401);
    // A new connection with the key is refused from the start.
    const again = await new Promise<number>((resolve) => {
      const c = wsClient(bUrl, k.key, { onClose: (code) => resolve(code) });
      c.subscribe({ query: '{ pbx { id } }' }, { next: () => {}, error: () => {}, complete: () => {} });
    });
    expect(again).toBe(4401);
    // Other keys' sockets stay open.
    const other = await openSocket(bUrl, tenant.keys.viewer);
    await expect(other.send('{ pbx { name } }')).resolves.toMatchObject({
      data: { pbx: { name: 'Revoke' } },
    });
    await other.client.dispose();
    await Promise.all([onA.client.dispose(), onB.client.dispose()]);
  });

  it('a mutation sent on an open socket after the key was revoked (before any close) is refused and audited as refused', async () => {
    const k = await newKey(tenant.pbx.id);
    const socket = await openSocket(bUrl, k.key);
    // Revoked in the database without an announcement: the socket is still open when the
    // mutation arrives, so only the per-operation re-check can refuse it.
    await a.openStore().tenants.revokeKey(k.id, new Date());
    const refused = await socket
      .send('mutation { updatePbx(input: { name: "after revocation" }) { name } }')
      .then(
        () => null,
        (errors: Array<{ message: string; extensions?: { code?: string } }>) => errors,
      );
    expect(refused?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    expect((await within(socket.closed, REVOKE_DEADLINE_MS, 'socket closed after the refusal')).code).toBe(
      4403,
    );
    expect((await gql(a.url, tenant.keys.admin, PbxDocument)).body.data?.pbx.name).toBe('Revoke');
    const log = await gql(a.url, tenant.keys.admin, AuditLogDocument, { first: 20 });
    expect(log.body.data?.auditLog.nodes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          keyId: k.id,
          role: 'ADMIN',
          operation: 'updatePbx',
          outcome: 'UNAUTHENTICATED',
          arguments: { input: { name: 'after revocation' } },
        }),
      ]),
    );
    await socket.client.dispose();
  });

  it("deleting a PBX closes its keys' sockets, and an operator's socket naming it", async () => {
    const pbx = (await gql(a.url, op.key, CreatePbxDocument, { input: { name: 'Short-lived' } })).body.data
      ?.createPbx.id as string;
    const k = await newKey(pbx, 'VIEWER');
    const viewer = await openSocket(bUrl, k.key);
    const second = await seedOperator(a, 'second operator');
    const operator = await openSocket(bUrl, second.key, pbx);
    const deletedAt = Date.now();
    const deleted = await gql(a.url, op.key, DeletePbxDocument, { id: pbx });
    expect(deleted.body.data?.deletePbx.keysRevoked).toBe(1);
    const closed = await within(viewer.closed, REVOKE_DEADLINE_MS, "the deleted PBX's key's socket closed");
    expect(closed.code).toBe(4403);
    expect(closed.at - deletedAt).toBeLessThan(REVOKE_DEADLINE_MS);
    // The operator key still works, but its PBX is gone: the operation says so.
    await expect(operator.send('{ pbx { id } }')).resolves.toMatchObject({
      errors: [{ extensions: { code: 'NOT_FOUND' } }],
    });
    // Revoking the operator key closes the operator's socket too.
    await gql(a.url, op.key, RevokeApiKeyDocument, { id: second.id });
    expect((await within(operator.closed, REVOKE_DEADLINE_MS, "the operator's socket closed")).code).toBe(
      4403,
    );
    await Promise.all([viewer.client.dispose(), operator.client.dispose()]);
  });
});
