import 'reflect-metadata';
import { getMetadataStorage } from 'type-graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/app/errors.js';
import { ApiRole } from '../../src/domain/access.js';
import type { Gateway } from '../../src/gateway.js';
import { authChecker } from '../../src/graphql/auth-checker.js';
import { buildContext, type GraphQLContext } from '../../src/graphql/context.js';
import { isFleetField } from '../../src/graphql/fleet.js';
import { buildGatewaySchema } from '../../src/graphql/schema.js';
import {
  ApiKeysDocument,
  AuditLogDocument,
  CreateApiKeyDocument,
  CreateExtensionDocument,
  CreatePbxDocument,
  DeletePbxDocument,
  ExtensionsDocument,
  FleetAuditLogDocument,
  IntegrationDocument,
  OperatorKeysDocument,
  PbxDocument,
  PbxsDocument,
  type PbxsQuery,
  QueuesDocument,
  RevokeApiKeyDocument,
  SaveScheduleDocument,
  ScheduleDocument,
  SyncRunsDocument,
  UpdatePbxDocument,
} from '../generated/graphql.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';
import { type GqlResponse, gql, seedOperator, seedPbx, startTestGateway } from '../support/gateway.js';

type Tenant = Awaited<ReturnType<typeof seedPbx>>;

const codeOf = (res: { body: { errors?: Array<{ extensions?: Record<string, unknown> }> } }) =>
  res.body.errors?.[0]?.extensions?.code;

describe('who may call which root field (issue 11 item 5)', () => {
  it('every root field is authorized: fleet fields for OPERATOR only, every other field acts on one PBX', async () => {
    const schema = await buildGatewaySchema();
    const authorized = getMetadataStorage().authorizedFields;
    const roots = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()];
    const fleet: string[] = [];
    for (const type of roots) {
      for (const field of Object.values(type?.getFields() ?? {})) {
        const meta = authorized.find((a) => a.fieldName === field.name);
        expect([field.name, Boolean(meta)]).toEqual([field.name, true]);
        if (isFleetField(field)) {
          fleet.push(field.name);
          expect([field.name, meta?.roles]).toEqual([field.name, [ApiRole.OPERATOR]]);
        } else {
          expect([field.name, meta?.roles.includes(ApiRole.OPERATOR)]).toEqual([field.name, false]);
        }
      }
    }
    expect(fleet.sort()).toEqual([
      'apiKeys',
      'createApiKey',
      'createPbx',
      'deletePbx',
      'fleetAuditLog',
      'operatorKeys',
      'pbxs',
      'revokeApiKey',
    ]);
  });

  it('the auth checker: an operator needs a named, existing PBX for PBX fields; a PBX key never passes a fleet field', async () => {
    const context = (pbxId: string | null, role: ApiRole, named: string | null, exists = true) => {
      const ctx = buildContext({
        principal: { keyId: 'k', role, pbxId },
        namedPbxId: named,
        store: { tenants: { findPbx: async () => (exists ? { id: named } : null) } } as never,
        requestId: 'r',
        logger: {} as never,
        services: {} as never,
      });
      return { context: ctx } as unknown as {
        context: GraphQLContext;
        root: never;
        args: never;
        info: never;
      };
    };
    const check = async (data: ReturnType<typeof context>, roles: ApiRole[]) => {
      try {
        return await (authChecker as (d: unknown, r: ApiRole[]) => Promise<boolean>)(data, roles);
      } catch (err) {
        return (err as AppError).code ?? (err as { extensions?: { code?: string } }).extensions?.code;
      }
    };
    const pbxRoles = [ApiRole.ADMIN, ApiRole.VIEWER];
    expect(await check(context(null, ApiRole.OPERATOR, null), pbxRoles)).toBe('PBX_REQUIRED');
    expect(await check(context(null, ApiRole.OPERATOR, 'p1'), pbxRoles)).toBe(true);
    expect(await check(context(null, ApiRole.OPERATOR, 'p1'), [ApiRole.LINKUS])).toBe(true);
    expect(await check(context(null, ApiRole.OPERATOR, 'gone', false), pbxRoles)).toBe('NOT_FOUND');
    expect(await check(context(null, ApiRole.OPERATOR, null), [ApiRole.OPERATOR])).toBe(true);
    for (const role of [ApiRole.ADMIN, ApiRole.VIEWER, ApiRole.LINKUS]) {
      expect(await check(context('p1', role, null), [ApiRole.OPERATOR])).toBe('FORBIDDEN');
    }
    // An operator that named no PBX cannot reach a PBX through `caller` either.
    expect(() => context(null, ApiRole.OPERATOR, null).context.caller).toThrow(AppError);
    expect(context(null, ApiRole.OPERATOR, 'p1').context.caller).toEqual({
      pbxId: 'p1',
      role: ApiRole.OPERATOR,
      keyId: 'k',
    });
  });
});

describeEachDb('operators: the fleet over GraphQL (issue 11 item 5)', (leg) => {
  let db: TestDatabase;
  let gw: Gateway;
  let op: Awaited<ReturnType<typeof seedOperator>>;
  let a: Tenant;

  beforeAll(async () => {
    db = await leg.create();
    gw = await startTestGateway(db);
    op = await seedOperator(gw);
    a = await seedPbx(gw, { name: 'Alpha' });
  });
  afterAll(async () => {
    await gw?.stop();
    await db?.drop();
  });

  it('creates PBXs and lists them in pages, searchable by name', async () => {
    const made: string[] = [];
    for (const name of ['Fleet One', 'Fleet Two', 'Fleet Three']) {
      const res = await gql(gw.url, op.key, CreatePbxDocument, {
        input: { name, timeZone: 'Europe/Berlin', extensionCapacity: 50 },
      });
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data?.createPbx).toMatchObject({
        name,
        timeZone: 'Europe/Berlin',
        extensionCapacity: 50,
        defaultCountry: 'US',
      });
      made.push(res.body.data?.createPbx.id as string);
    }
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const res: GqlResponse<PbxsQuery> = await gql(gw.url, op.key, PbxsDocument, { first: 2, after });
      const list = res.body.data?.pbxs;
      expect(list?.nodes.length).toBeLessThanOrEqual(2);
      seen.push(...(list?.nodes.map((p) => p.id) ?? []));
      if (!list?.pageInfo.hasNextPage) break;
      after = list.pageInfo.endCursor ?? null;
    }
    expect(seen).toEqual(expect.arrayContaining([a.pbx.id, ...made]));
    expect(new Set(seen).size).toBe(seen.length);
    const found = await gql(gw.url, op.key, PbxsDocument, { search: 'fleet t' });
    expect(found.body.data?.pbxs.nodes.map((p) => p.name).sort()).toEqual(['Fleet Three', 'Fleet Two']);
    expect(found.body.data?.pbxs.totalCount).toBe(2);
    const bad = await gql(gw.url, op.key, PbxsDocument, { after: 'not-a-cursor' });
    expect(codeOf(bad)).toBe('INVALID_INPUT');
    const invalid = await gql(gw.url, op.key, CreatePbxDocument, {
      input: { name: ' ', timeZone: 'Mars/Base' },
    });
    expect(codeOf(invalid)).toBe('INVALID_INPUT');
  });

  it("acts on one PBX's own API only by naming it (x-pbx-id): PBX_REQUIRED without, NOT_FOUND for an unknown one", async () => {
    const pbx = { pbxId: a.pbx.id };
    expect(codeOf(await gql(gw.url, op.key, PbxDocument))).toBe('PBX_REQUIRED');
    expect(codeOf(await gql(gw.url, op.key, IntegrationDocument))).toBe('PBX_REQUIRED');
    expect(codeOf(await gql(gw.url, op.key, UpdatePbxDocument, { input: { name: 'x' } }))).toBe(
      'PBX_REQUIRED',
    );
    const unknown = { pbxId: '00000000-0000-4000-8000-000000000000' };
    expect(codeOf(await gql(gw.url, op.key, PbxDocument, undefined, unknown))).toBe('NOT_FOUND');

    // Named, every kind of PBX-scoped field works, with an ADMIN's rights.
    expect((await gql(gw.url, op.key, PbxDocument, undefined, pbx)).body.data?.pbx.name).toBe('Alpha');
    expect(
      (await gql(gw.url, op.key, IntegrationDocument, undefined, pbx)).body.data?.integration.status,
    ).toBe('NOT_CONNECTED');
    const updated = await gql(
      gw.url,
      op.key,
      UpdatePbxDocument,
      { input: { name: 'Alpha by operator' } },
      pbx,
    );
    expect(updated.body.data?.updatePbx.name).toBe('Alpha by operator');
    const ext = await gql(
      gw.url,
      op.key,
      CreateExtensionDocument,
      { input: { number: '101', firstName: 'Op', lastName: 'Erator' } },
      pbx,
    );
    expect(ext.body.errors).toBeUndefined();
    const listed = await gql(gw.url, op.key, ExtensionsDocument, { first: 10 }, pbx);
    expect(listed.body.data?.extensions.nodes.map((e) => e.number)).toEqual(['101']);
    // ... and only in the PBX it named: the admin of Alpha sees the extension, nobody else's data moved.
    expect(
      (await gql(gw.url, a.keys.admin, ExtensionsDocument, { first: 10 })).body.data?.extensions.totalCount,
    ).toBe(1);
    const schedule = await gql(
      gw.url,
      op.key,
      SaveScheduleDocument,
      { input: { frequency: 'DAILY', time: '02:15' } },
      pbx,
    );
    expect(schedule.body.errors).toBeUndefined();
    expect((await gql(gw.url, op.key, ScheduleDocument, undefined, pbx)).body.data?.schedule.time).toBe(
      '02:15',
    );
    expect((await gql(gw.url, op.key, SyncRunsDocument, { first: 5 }, pbx)).body.errors).toBeUndefined();
    expect((await gql(gw.url, op.key, QueuesDocument, undefined, pbx)).body.errors).toBeUndefined();

    // What the operator did inside the PBX is in that PBX's own audit log, as the OPERATOR's.
    const log = await gql(gw.url, a.keys.admin, AuditLogDocument, { first: 20 });
    const mine = log.body.data?.auditLog.nodes.filter((e) => e.keyId === op.id) ?? [];
    expect(mine.map((e) => e.operation).sort()).toEqual(['createExtension', 'saveSchedule', 'updatePbx']);
    expect(mine.every((e) => e.role === 'OPERATOR' && e.outcome === 'OK')).toBe(true);
    // The refused one (no PBX named) is in the fleet's log.
    const fleet = await gql(gw.url, op.key, FleetAuditLogDocument, { first: 50 });
    expect(fleet.body.data?.fleetAuditLog.nodes).toEqual(
      expect.arrayContaining([expect.objectContaining({ operation: 'updatePbx', outcome: 'PBX_REQUIRED' })]),
    );
  });

  it("refuses a PBX's key that names another PBX (403 FORBIDDEN), and lets it name its own", async () => {
    const b = await seedPbx(gw, { name: 'Bravo' });
    const other = await gql(gw.url, a.keys.admin, PbxDocument, undefined, { pbxId: b.pbx.id });
    expect(other.status).toBe(403);
    expect(codeOf(other)).toBe('FORBIDDEN');
    const own = await gql(gw.url, a.keys.admin, PbxDocument, undefined, { pbxId: a.pbx.id });
    expect(own.body.data?.pbx.id).toBe(a.pbx.id);
  });

  it("never shows the fleet to a PBX's keys (FORBIDDEN), and audits their refused fleet mutations in their PBX's log", async () => {
    for (const key of [a.keys.admin, a.keys.viewer, a.keys.linkus]) {
      expect(codeOf(await gql(gw.url, key, PbxsDocument))).toBe('FORBIDDEN');
      expect(codeOf(await gql(gw.url, key, ApiKeysDocument, { pbxId: a.pbx.id }))).toBe('FORBIDDEN');
      expect(codeOf(await gql(gw.url, key, OperatorKeysDocument))).toBe('FORBIDDEN');
      expect(codeOf(await gql(gw.url, key, FleetAuditLogDocument))).toBe('FORBIDDEN');
      expect(codeOf(await gql(gw.url, key, CreatePbxDocument, { input: { name: 'Mine' } }))).toBe(
        'FORBIDDEN',
      );
      expect(codeOf(await gql(gw.url, key, DeletePbxDocument, { id: a.pbx.id }))).toBe('FORBIDDEN');
      expect(
        codeOf(await gql(gw.url, key, CreateApiKeyDocument, { input: { pbxId: a.pbx.id, role: 'ADMIN' } })),
      ).toBe('FORBIDDEN');
    }
    expect((await gql(gw.url, op.key, PbxDocument, undefined, { pbxId: a.pbx.id })).body.data?.pbx.id).toBe(
      a.pbx.id,
    );
    const log = await gql(gw.url, a.keys.admin, AuditLogDocument, { first: 100 });
    const refused = log.body.data?.auditLog.nodes.filter(
      (e) => ['createPbx', 'deletePbx', 'createApiKey'].includes(e.operation) && e.outcome === 'FORBIDDEN',
    );
    expect(refused?.length).toBe(9);
  });

  it('creates a key of a PBX, shown once; lists keys without the key itself; revokes it: the next request is 401', async () => {
    const created = await gql(gw.url, op.key, CreateApiKeyDocument, {
      input: { pbxId: a.pbx.id, role: 'VIEWER', label: 'wallboard' },
    });
    const made = created.body.data?.createApiKey;
    expect(made?.key).toMatch(/^epg_[A-Za-z0-9_-]{40,}$/);
    expect(made?.apiKey).toMatchObject({
      pbxId: a.pbx.id,
      role: 'VIEWER',
      label: 'wallboard',
      revokedAt: null,
    });
    expect(made?.key.startsWith(made?.apiKey.prefix ?? '-')).toBe(true);
    const key = made?.key as string;
    expect((await gql(gw.url, key, PbxDocument)).body.data?.pbx.id).toBe(a.pbx.id);

    const listed = await gql(gw.url, op.key, ApiKeysDocument, { pbxId: a.pbx.id });
    expect(listed.body.data?.apiKeys.nodes.map((k) => k.id)).toContain(made?.apiKey.id);
    expect(JSON.stringify(listed.body)).not.toContain(key);
    expect(listed.body.data?.apiKeys.totalCount).toBe(4);

    const revoked = await gql(gw.url, op.key, RevokeApiKeyDocument, { id: made?.apiKey.id as string });
    expect(revoked.body.data?.revokeApiKey.revokedAt).toBeTruthy();
    expect((await gql(gw.url, key, PbxDocument)).status).toBe(401);
    const active = await gql(gw.url, op.key, ApiKeysDocument, { pbxId: a.pbx.id });
    expect(active.body.data?.apiKeys.nodes.map((k) => k.id)).not.toContain(made?.apiKey.id);
    const all = await gql(gw.url, op.key, ApiKeysDocument, { pbxId: a.pbx.id, includeRevoked: true });
    expect(all.body.data?.apiKeys.nodes.map((k) => k.id)).toContain(made?.apiKey.id);

    expect(codeOf(await gql(gw.url, op.key, RevokeApiKeyDocument, { id: 'no-such-key' }))).toBe('NOT_FOUND');
    expect(
      codeOf(
        await gql(gw.url, op.key, CreateApiKeyDocument, {
          input: { pbxId: '00000000-0000-4000-8000-000000000000', role: 'ADMIN' },
        }),
      ),
    ).toBe('NOT_FOUND');
    const ops = await gql(gw.url, op.key, OperatorKeysDocument);
    expect(ops.body.data?.operatorKeys.nodes).toEqual([
      expect.objectContaining({ id: op.id, pbxId: null, role: 'OPERATOR' }),
    ]);
  });

  it('audits every fleet mutation in the fleet log, with the key never stored', async () => {
    const pbx = (await gql(gw.url, op.key, CreatePbxDocument, { input: { name: 'Audited' } })).body.data
      ?.createPbx.id as string;
    const key = (await gql(gw.url, op.key, CreateApiKeyDocument, { input: { pbxId: pbx, role: 'ADMIN' } }))
      .body.data?.createApiKey;
    await gql(gw.url, op.key, RevokeApiKeyDocument, { id: key?.apiKey.id as string });
    await gql(gw.url, op.key, DeletePbxDocument, { id: pbx });
    await gql(gw.url, op.key, DeletePbxDocument, { id: pbx });
    const log = await gql(gw.url, op.key, FleetAuditLogDocument, { first: 10 });
    const entries = log.body.data?.fleetAuditLog.nodes ?? [];
    expect(entries.slice(0, 5).map((e) => [e.operation, e.outcome])).toEqual([
      ['deletePbx', 'NOT_FOUND'],
      ['deletePbx', 'OK'],
      ['revokeApiKey', 'OK'],
      ['createApiKey', 'OK'],
      ['createPbx', 'OK'],
    ]);
    for (const e of entries.slice(0, 5)) expect(e).toMatchObject({ keyId: op.id, role: 'OPERATOR' });
    expect(entries[1].arguments).toEqual({ id: pbx });
    expect(JSON.stringify(entries)).not.toContain(key?.key as string);
  });

  it('deletes a PBX with every row of it in one go; its keys stop working; other PBXs keep theirs', async () => {
    const doomed = await seedPbx(gw, { name: 'Doomed' });
    const pbx = { pbxId: doomed.pbx.id };
    for (const number of ['201', '202']) {
      await gql(
        gw.url,
        op.key,
        CreateExtensionDocument,
        { input: { number, firstName: 'A', lastName: number } },
        pbx,
      );
    }
    await gql(gw.url, doomed.keys.admin, UpdatePbxDocument, { input: { name: 'Doomed soon' } });
    const deleted = await gql(gw.url, op.key, DeletePbxDocument, { id: doomed.pbx.id });
    expect(deleted.body.data?.deletePbx).toMatchObject({
      id: doomed.pbx.id,
      name: 'Doomed soon',
      keysRevoked: 3,
    });
    // pbx, integration, 3 keys, 2 extensions, audit entries (2 createExtension + updatePbx).
    expect(deleted.body.data?.deletePbx.rowsDeleted).toBeGreaterThanOrEqual(10);
    for (const key of Object.values(doomed.keys))
      expect((await gql(gw.url, key, PbxDocument)).status).toBe(401);
    expect(codeOf(await gql(gw.url, op.key, PbxDocument, undefined, pbx))).toBe('NOT_FOUND');
    const conn = gw.orm.em.fork().getConnection();
    for (const table of ['extension', 'api_key', 'audit_entry', 'integration', 'sync_settings']) {
      const rows = await conn.execute(`select count(*) as n from ${table} where pbx_id = ?`, [doomed.pbx.id]);
      expect([table, Number(rows[0].n)]).toEqual([table, 0]);
    }
    expect((await gql(gw.url, a.keys.admin, PbxDocument)).body.data?.pbx.id).toBe(a.pbx.id);
    expect(codeOf(await gql(gw.url, op.key, DeletePbxDocument, { id: doomed.pbx.id }))).toBe('NOT_FOUND');
  });

  it('refuses to delete a PBX while a sync of it runs (SYNC_RUNNING), deleting nothing', async () => {
    const busy = await seedPbx(gw, { name: 'Busy' });
    // A run holds the PBX's run lock, as the sync-directory job does.
    expect(await gw.services.coordinator.acquireLock(busy.pbx.id, 'run-1:token', 15_000)).toBe(true);
    const refused = await gql(gw.url, op.key, DeletePbxDocument, { id: busy.pbx.id });
    expect(codeOf(refused)).toBe('SYNC_RUNNING');
    expect(refused.body.errors?.[0].message).toMatch(/sync of PBX .* is running/);
    expect((await gql(gw.url, busy.keys.admin, PbxDocument)).body.data?.pbx.name).toBe('Busy');
    await gw.services.coordinator.releaseLock(busy.pbx.id, 'run-1:token');
    expect((await gql(gw.url, op.key, DeletePbxDocument, { id: busy.pbx.id })).body.data?.deletePbx.id).toBe(
      busy.pbx.id,
    );
    // The deletion let go of the lock: a run could take it now (no PBX to sync, though).
    expect(await gw.services.coordinator.acquireLock(busy.pbx.id, 'run-2:token', 1000)).toBe(true);
    await gw.services.coordinator.releaseLock(busy.pbx.id, 'run-2:token');
  });
});
