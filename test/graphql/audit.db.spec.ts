import 'reflect-metadata';
import { GraphQLError } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticate } from '../../src/app/access.js';
import { AppError } from '../../src/app/errors.js';
import type { Gateway } from '../../src/gateway.js';
import { failureOf, isAudited } from '../../src/graphql/audit.middleware.js';
import { buildGatewaySchema } from '../../src/graphql/schema.js';
import {
  AuditLogDocument,
  type AuditLogQuery,
  ConnectDocument,
  CreateExtensionDocument,
  CreateExtensionGroupDocument,
  DeleteExtensionDocument,
  UpdatePbxDocument,
  UpdateSecretDocument,
} from '../generated/graphql.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';
import { type GqlResponse, gql, seedPbx, startTestGateway, wsClient } from '../support/gateway.js';

type Tenant = Awaited<ReturnType<typeof seedPbx>>;
type Entry = AuditLogQuery['auditLog']['nodes'][number];

describe('the audit hook covers every mutation', () => {
  it('wraps every field of the Mutation type, whichever resolver defines it', async () => {
    const schema = await buildGatewaySchema();
    const fields = Object.values(schema.getMutationType()?.getFields() ?? {});
    expect(fields.length).toBeGreaterThan(5);
    for (const field of fields) expect([field.name, isAudited(field.resolve)]).toEqual([field.name, true]);
    // Queries are not audited.
    expect(isAudited(schema.getQueryType()?.getFields().extensions.resolve)).toBe(false);
  });

  it('records the code of an expected failure, and masks anything else', () => {
    expect(failureOf(new AppError('NUMBER_IN_USE', 'taken'))).toEqual({
      outcome: 'NUMBER_IN_USE',
      message: 'taken',
    });
    const wrapped = new GraphQLError('x', { originalError: new AppError('LOCKED_BY_SYNC', 'locked') });
    expect(failureOf(wrapped)).toEqual({ outcome: 'LOCKED_BY_SYNC', message: 'locked' });
    expect(failureOf(new GraphQLError('no', { extensions: { code: 'FORBIDDEN' } }))).toEqual({
      outcome: 'FORBIDDEN',
      message: 'no',
    });
    expect(failureOf(new Error('duplicate key value (password=hunter2)'))).toEqual({
      outcome: 'INTERNAL_SERVER_ERROR',
      message: 'Internal server error',
    });
  });
});

describeEachDb('audit log: every mutation recorded (HTTP and WebSocket), paged, ADMIN only', (leg) => {
  let db: TestDatabase;
  let gw: Gateway;
  let a: Tenant;
  let b: Tenant;
  let adminKeyId: string;
  let viewerKeyId: string;

  beforeAll(async () => {
    db = await leg.create();
    gw = await startTestGateway(db);
    a = await seedPbx(gw, { name: 'Alpha' });
    b = await seedPbx(gw, { name: 'Bravo' });
    adminKeyId = (await authenticate(gw.openStore(), a.keys.admin))?.keyId as string;
    viewerKeyId = (await authenticate(gw.openStore(), a.keys.viewer))?.keyId as string;
  });
  afterAll(async () => {
    await gw?.stop();
    await db?.drop();
  });

  const log = async (t: Tenant = a, first = 500): Promise<Entry[]> => {
    const res = await gql(gw.url, t.keys.admin, AuditLogDocument, { first });
    expect(res.body.errors).toBeUndefined();
    return res.body.data?.auditLog.nodes ?? [];
  };
  const latest = async (t: Tenant = a) => (await log(t, 1))[0];

  it('records a successful mutation: key, role, operation, arguments, OK, when', async () => {
    const before = Date.now();
    const res = await gql(gw.url, a.keys.admin, CreateExtensionDocument, {
      input: { number: '1000', firstName: 'Ann', email: 'ann@example.com' },
    });
    expect(res.body.errors).toBeUndefined();
    const entry = await latest();
    expect(entry).toMatchObject({
      keyId: adminKeyId,
      role: 'ADMIN',
      operation: 'createExtension',
      outcome: 'OK',
      message: null,
      arguments: { input: { number: '1000', firstName: 'Ann', email: 'ann@example.com' } },
    });
    expect(entry.requestId).toMatch(/^[0-9a-f-]{36}$/);
    const at = Date.parse(entry.at);
    expect(at).toBeGreaterThanOrEqual(before - 1000);
    expect(at).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it("records a failing mutation with its error code and message (and the failure's rollback keeps it)", async () => {
    const res = await gql(gw.url, a.keys.admin, CreateExtensionDocument, {
      input: { number: '1000', firstName: 'Dup' },
    });
    expect(res.body.errors?.[0].extensions?.code).toBe('NUMBER_IN_USE');
    expect(await latest()).toMatchObject({
      operation: 'createExtension',
      outcome: 'NUMBER_IN_USE',
      message: expect.stringContaining('1000'),
      arguments: { input: { number: '1000', firstName: 'Dup' } },
    });
    const bad = await gql(gw.url, a.keys.admin, DeleteExtensionDocument, { id: 'no-such-id' });
    expect(bad.body.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    expect(await latest()).toMatchObject({
      operation: 'deleteExtension',
      outcome: 'NOT_FOUND',
      arguments: { id: 'no-such-id' },
    });
  });

  it('records a mutation refused by the role check (FORBIDDEN), with the viewer key', async () => {
    const res = await gql(gw.url, a.keys.viewer, UpdatePbxDocument, { input: { name: 'Hacked' } });
    expect(res.body.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect(await latest()).toMatchObject({
      keyId: viewerKeyId,
      role: 'VIEWER',
      operation: 'updatePbx',
      outcome: 'FORBIDDEN',
      arguments: { input: { name: 'Hacked' } },
    });
  });

  it("records other engineers' mutations too (updatePbx, connect, updateSecret), secrets redacted", async () => {
    const secret = 'Sup3r~Secret~Value-never-stored-9x';
    await gql(gw.url, a.keys.admin, UpdatePbxDocument, { input: { timeZone: 'Europe/Berlin' } });
    expect(await latest()).toMatchObject({
      operation: 'updatePbx',
      outcome: 'OK',
      arguments: { input: { timeZone: 'Europe/Berlin' } },
    });

    const connect = await gql(gw.url, a.keys.admin, ConnectDocument, {
      input: { clientId: 'not-a-guid', tenantId: 'not-a-guid-either', clientSecret: secret },
    });
    expect(connect.body.errors?.length).toBeGreaterThan(0);
    const entry = await latest();
    expect(entry.operation).toBe('connect');
    expect(entry.outcome).toBe(connect.body.errors?.[0].extensions?.code);
    expect(entry.arguments).toMatchObject({
      input: { clientId: 'not-a-guid', tenantId: 'not-a-guid-either', clientSecret: '[redacted]' },
    });

    await gql(gw.url, a.keys.admin, UpdateSecretDocument, { secret });
    expect(await latest()).toMatchObject({ operation: 'updateSecret', arguments: { secret: '[redacted]' } });

    // Nowhere in the stored audit rows, in any column.
    const rows = await gw.orm.em.fork().getConnection().execute('select * from audit_entry');
    expect(rows.length).toBeGreaterThan(3);
    expect(JSON.stringify(rows)).not.toContain(secret);
    expect(JSON.stringify(rows)).not.toContain('Sup3r');
  });

  it('records mutations sent over WebSocket', async () => {
    const client = wsClient(gw.url, a.keys.admin);
    const result = await new Promise<unknown>((resolve, reject) => {
      client.subscribe(
        { query: 'mutation { createExtensionGroup(name: "Over WS") { id } }' },
        { next: resolve, error: reject, complete: () => {} },
      );
    });
    await client.dispose();
    expect(result).toMatchObject({ data: { createExtensionGroup: { id: expect.any(String) } } });
    expect(await latest()).toMatchObject({
      operation: 'createExtensionGroup',
      outcome: 'OK',
      arguments: { name: 'Over WS' },
    });
  });

  it('records each root field of a multi-field mutation on its own', async () => {
    const res = await gql(
      gw.url,
      a.keys.admin,
      'mutation Two { one: createExtensionGroup(name: "One") { id } two: createExtensionGroup(name: "One") { id } }',
    );
    expect(res.body.data).toBeNull();
    const [newest, previous] = await log(a, 2);
    expect(previous).toMatchObject({
      operation: 'createExtensionGroup',
      outcome: 'OK',
      arguments: { name: 'One' },
    });
    expect(newest).toMatchObject({
      operation: 'createExtensionGroup',
      outcome: 'NAME_IN_USE',
      arguments: { name: 'One' },
    });
  });

  it('pages newest first with opaque cursors, without gaps or repeats', async () => {
    for (let i = 0; i < 7; i++) {
      await gql(gw.url, a.keys.admin, CreateExtensionGroupDocument, { name: `Paged ${i}` });
    }
    const all = await log();
    const seen: Entry[] = [];
    let after: string | null | undefined = null;
    for (;;) {
      const res: GqlResponse<AuditLogQuery> = await gql(gw.url, a.keys.admin, AuditLogDocument, {
        first: 3,
        after,
      });
      const conn = res.body.data?.auditLog;
      if (!conn) throw new Error(JSON.stringify(res.body.errors));
      expect(conn.totalCount).toBe(all.length);
      seen.push(...conn.nodes);
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    expect(seen.map((e) => e.id)).toEqual(all.map((e) => e.id));
    const times = seen.map((e) => Date.parse(e.at));
    expect(times).toEqual([...times].sort((x, y) => y - x));
    expect(seen.slice(0, 7).map((e) => (e.arguments as Record<string, unknown>).name)).toEqual(
      Array.from({ length: 7 }, (_, i) => `Paged ${6 - i}`),
    );
    const badCursor = await gql(gw.url, a.keys.admin, AuditLogDocument, { after: 'nope' });
    expect(badCursor.body.errors?.[0].extensions).toMatchObject({ code: 'INVALID_INPUT', field: 'after' });
  });

  it('is readable by ADMIN and VIEWER (issue 17: a VIEWER sees everything), never LINKUS, and only for its own PBX', async () => {
    const linkus = await gql(gw.url, a.keys.linkus, AuditLogDocument, {});
    expect(linkus.body.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const byViewer = await gql(gw.url, a.keys.viewer, AuditLogDocument, {});
    expect(byViewer.body.errors).toBeUndefined();
    const byAdmin = await gql(gw.url, a.keys.admin, AuditLogDocument, {});
    expect(byViewer.body.data?.auditLog.totalCount).toBe(byAdmin.body.data?.auditLog.totalCount);
    await gql(gw.url, b.keys.admin, CreateExtensionGroupDocument, { name: 'Bravo group' });
    const ofB = await log(b);
    expect(ofB.map((e) => e.operation)).toEqual(['createExtensionGroup']);
    expect(ofB[0].arguments).toEqual({ name: 'Bravo group' });
    const ofA = await log(a);
    expect(ofA.some((e) => (e.arguments as Record<string, unknown>).name === 'Bravo group')).toBe(false);
  });
});
