import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { IntegrationDocument, PbxDocument, UpdatePbxDocument } from '../generated/graphql.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';
import { gql, seedPbx, startTestGateway, wsClient } from '../support/gateway.js';

describeEachDb(
  'gateway over HTTP and WebSocket: keys and roles, PBX isolation, query limits, health',
  (leg) => {
    let db: TestDatabase;
    let gw: Gateway;
    let a: Awaited<ReturnType<typeof seedPbx>>;
    let b: Awaited<ReturnType<typeof seedPbx>>;

    beforeAll(async () => {
      db = await leg.create();
      gw = await startTestGateway(db);
      a = await seedPbx(gw, { name: 'Alpha', timeZone: 'Europe/Berlin' });
      b = await seedPbx(gw, { name: 'Bravo', timeZone: 'America/New_York' });
    });
    afterAll(async () => {
      await gw?.stop();
      await db?.drop();
    });

    it('answers integration { status } with NOT_CONNECTED for a new PBX', async () => {
      const res = await gql(gw.url, a.keys.admin, IntegrationDocument);
      expect(res.status).toBe(200);
      expect(res.body.data?.integration.status).toBe('NOT_CONNECTED');
    });

    it('tells caches to keep no answer (cache-control: no-store), answered or refused', async () => {
      const post = (query: string) =>
        fetch(`${gw.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${a.keys.admin}` },
          body: JSON.stringify({ query }),
        });
      for (const query of ['{ pbx { name } }', '{ nope }']) {
        const res = await post(query);
        expect(res.status).toBe(query === '{ nope }' ? 400 : 200);
        expect(res.headers.get('cache-control')).toBe('no-store');
      }
    });

    it('refuses a request without a key, or with a bad one, with 401', async () => {
      for (const key of [null, 'epg_not-a-real-key', 'garbage']) {
        const res = await gql(gw.url, key, PbxDocument);
        expect(res.status).toBe(401);
        expect(res.body.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
        expect(res.body.data).toBeUndefined();
      }
    });

    it('lets a VIEWER read but refuses its mutation with FORBIDDEN', async () => {
      const read = await gql(gw.url, a.keys.viewer, PbxDocument);
      expect(read.body.data?.pbx.name).toBe('Alpha');
      const write = await gql(gw.url, a.keys.viewer, UpdatePbxDocument, { input: { name: 'Hacked' } });
      expect(write.body.errors?.[0].extensions?.code).toBe('FORBIDDEN');
      expect((await gql(gw.url, a.keys.admin, PbxDocument)).body.data?.pbx.name).toBe('Alpha');
    });

    it('refuses the portal queries to a LINKUS session key with FORBIDDEN', async () => {
      const res = await gql(gw.url, a.keys.linkus, PbxDocument);
      expect(res.body.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    });

    it('keeps each PBX to its own data: a key of one never sees or changes the other', async () => {
      const ra = await gql(gw.url, a.keys.admin, PbxDocument);
      const rb = await gql(gw.url, b.keys.admin, PbxDocument);
      expect(ra.body.data?.pbx).toMatchObject({ id: a.pbx.id, name: 'Alpha', timeZone: 'Europe/Berlin' });
      expect(rb.body.data?.pbx).toMatchObject({ id: b.pbx.id, name: 'Bravo', timeZone: 'America/New_York' });
      await gql(gw.url, a.keys.admin, UpdatePbxDocument, { input: { name: 'Alpha 2' } });
      expect((await gql(gw.url, b.keys.admin, PbxDocument)).body.data?.pbx.name).toBe('Bravo');
      expect((await gql(gw.url, a.keys.admin, PbxDocument)).body.data?.pbx.name).toBe('Alpha 2');
    });

    it('refuses bad settings with INVALID_INPUT naming every field', async () => {
      const res = await gql(gw.url, a.keys.admin, UpdatePbxDocument, {
        input: { timeZone: 'Mars/Olympus', defaultCountry: 'germany' },
      });
      const err = res.body.errors?.[0];
      expect(err?.extensions?.code).toBe('INVALID_INPUT');
      expect(err?.extensions?.field).toBe('timeZone');
      expect(err?.message).toContain('defaultCountry');
    });

    it('refuses a query nested 20 deep with a message naming the depth limit, and keeps serving', async () => {
      let q = 'id';
      for (let i = 0; i < 20; i++) q = `pbx { ${q} }`;
      const res = await gql(gw.url, a.keys.admin, `query Deep { ${q} }`);
      expect(res.body.data).toBeUndefined();
      expect(res.body.errors?.some((e) => /depth limit of 10/i.test(e.message))).toBe(true);
      expect((await gql(gw.url, a.keys.admin, IntegrationDocument)).body.data?.integration.status).toBe(
        'NOT_CONNECTED',
      );
    });

    it('refuses too many aliases with a message naming the alias limit', async () => {
      const fields = Array.from({ length: 20 }, (_, i) => `a${i}: pbx { id }`).join(' ');
      const res = await gql(gw.url, a.keys.admin, `query Many { ${fields} }`);
      expect(res.body.errors?.some((e) => /aliases limit of 15/i.test(e.message))).toBe(true);
    });

    it('refuses invalid GraphQL with a parse error, and keeps serving', async () => {
      const res = await gql(gw.url, a.keys.admin, 'query { pbx { ');
      expect(res.status).toBe(400);
      expect(res.body.errors?.[0].extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
      expect((await gql(gw.url, a.keys.admin, PbxDocument)).status).toBe(200);
    });

    it('refuses batched HTTP requests', async () => {
      const res = await fetch(`${gw.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${a.keys.admin}` },
        body: JSON.stringify([{ query: '{ pbx { id } }' }, { query: '{ pbx { id } }' }]),
      });
      expect(res.status).toBe(400);
      expect(await res.text()).toMatch(/batch/i);
    });

    it('prevents CSRF: a simple GET without a preflight header is refused', async () => {
      const res = await fetch(`${gw.url}/graphql?query=${encodeURIComponent('{ pbx { id } }')}`, {
        headers: { authorization: `Bearer ${a.keys.admin}` },
      });
      expect(res.status).toBe(400);
      expect(await res.text()).toMatch(/CSRF/i);
    });

    it('serves /healthz, /readyz and /metrics', async () => {
      expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${gw.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ database: 'ok', redis: 'ok' });
      const metrics = await (await fetch(`${gw.url}/metrics`)).text();
      expect(metrics).toMatch(/http_requests_total\{method="POST",route="\/graphql",status="200"\} \d+/);
      expect(metrics).toMatch(/graphql_operations_total\{type="query",operation="pbx",outcome="ok"\} \d+/);
      expect(metrics).toContain('http_request_duration_seconds_bucket');
      expect(metrics).toContain('graphql_operation_duration_seconds_bucket');
      expect(metrics).toMatch(/queue_jobs\{queue="system",state="waiting"\} 0/);
    });

    it('runs operations over graphql-ws with a key, and closes with 4401 without one', async () => {
      const client = wsClient(gw.url, a.keys.viewer);
      const result = await new Promise<unknown>((resolve, reject) => {
        client.subscribe(
          { query: '{ integration { status } }' },
          { next: resolve, error: reject, complete: () => {} },
        );
      });
      expect(result).toMatchObject({ data: { integration: { status: 'NOT_CONNECTED' } } });
      await client.dispose();

      const closed = new Promise<number>((resolve) => {
        const anon = wsClient(gw.url, null, { onClose: (code) => resolve(code) });
        anon.subscribe({ query: '{ pbx { id } }' }, { next: () => {}, error: () => {}, complete: () => {} });
      });
      expect(await closed).toBe(4401);

      const bad = new Promise<number>((resolve) => {
        const c = wsClient(gw.url, 'epg_wrong', { onClose: (code) => resolve(code) });
        c.subscribe({ query: '{ pbx { id } }' }, { next: () => {}, error: () => {}, complete: () => {} });
      });
      expect(await bad).toBe(4401);
    });

    it('applies the depth limit to WebSocket operations too', async () => {
      let q = 'id';
      for (let i = 0; i < 20; i++) q = `pbx { ${q} }`;
      const client = wsClient(gw.url, a.keys.admin);
      const errors = await new Promise<Array<{ message: string }>>((resolve) => {
        client.subscribe(
          { query: `{ ${q} }` },
          { next: () => {}, error: (e) => resolve(e as never), complete: () => {} },
        );
      });
      await client.dispose();
      expect(errors.some((e) => /depth limit of 10/i.test(e.message))).toBe(true);
    });
  },
);
