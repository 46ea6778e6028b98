import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { buildPortal, portalStale } from '../../src/cli/portal-build.js';
import { IntegrationDocument } from '../generated/graphql.js';
import { gql, uniquePrefix } from '../support/gateway.js';
import { COLD_START_MS, freePort, runScript, startScript } from '../support/process.js';

/**
 * Each run is a cold start of a new Node process (COLD_START_MS), and the first test needs two
 * (the second proves the PBX is kept). The tests wait on the demo's own output, never on time.
 */
describe('npm run demo', () => {
  const file = path.resolve('.data/test', `demo-${randomBytes(4).toString('hex')}.sqlite`);
  const env = {
    DATABASE_URL: `sqlite:${file}`,
    REDIS_URL: inject('redisUrl'),
    QUEUE_PREFIX: uniquePrefix('demo'),
    PORT: '0',
    LOG_LEVEL: 'warn',
    SECRET_KEY_FILE: path.resolve('.data/test', 'demo-secret.key'),
  };

  // The demo builds the portal (issue 17) when dist/portal is missing or stale: built here first,
  // so that each run below is the cold start COLD_START_MS allows for.
  beforeAll(async () => {
    if (portalStale()) await buildPortal();
  }, 120_000);

  it(
    'prints PORTAL_URL, GRAPHQL_URL and ADMIN_KEY; the portal answers; the key answers NOT_CONNECTED; the PBX is kept across runs',
    async () => {
      const pbxIds: string[] = [];
      const keys: string[] = [];
      for (let run = 0; run < 2; run++) {
        const demo = startScript('src/cli/demo.ts', [], env, /Stop: Ctrl\+C/, COLD_START_MS);
        await demo.match;
        const out = demo.output();
        const url = /^GRAPHQL_URL=(http:\/\/\S+)\/graphql$/m.exec(out)?.[1];
        const key = /^ADMIN_KEY=(\S+)$/m.exec(out)?.[1];
        expect(url).toBeDefined();
        expect(key).toMatch(/^epg_/);
        expect(out).toMatch(/curl -s \S+\/graphql/);
        // The sandbox tenant runs beside the gateway, with what a newcomer needs to connect.
        for (const name of [
          'SANDBOX_TENANT_ID',
          'SANDBOX_CLIENT_ID',
          'SANDBOX_CLIENT_SECRET',
          'SANDBOX_ADMIN',
          'SANDBOX_ADMIN_URL',
          'SANDBOX_ADMIN_TOKEN',
          'SANDBOX_CA_FILE',
        ]) {
          expect(out).toMatch(new RegExp(`^${name}=\\S+$`, 'm'));
        }
        // ... and can change it through the admin API with what the demo printed.
        const printed = (name: string) => new RegExp(`^${name}=(\\S+)$`, 'm').exec(out)?.[1] as string;
        const agent = new Agent({ connect: { ca: readFileSync(printed('SANDBOX_CA_FILE')) } });
        const info = await undiciFetch(`${printed('SANDBOX_ADMIN_URL')}/info`, {
          headers: { authorization: `Bearer ${printed('SANDBOX_ADMIN_TOKEN')}` },
          dispatcher: agent,
        });
        expect(info.status).toBe(200);
        expect(((await info.json()) as { tenantId: string }).tenantId).toBe(printed('SANDBOX_TENANT_ID'));
        await agent.close();
        // Issue 17: the portal, at the printed URL.
        expect(printed('PORTAL_URL')).toBe(`${url}/portal`);
        const portal = await undiciFetch(printed('PORTAL_URL'));
        expect(portal.status).toBe(200);
        expect(await portal.text()).toContain('<title>PBX portal</title>');
        const res = await gql(url as string, key as string, IntegrationDocument);
        expect(res.body.data?.integration.status).toBe('NOT_CONNECTED');
        pbxIds.push(/PBX_ID=(\S+)/.exec(out)?.[1] as string);
        keys.push(key as string);
        demo.child.kill('SIGINT');
        expect((await demo.exited).code).toBe(0);
      }
      expect(pbxIds[1]).toBe(pbxIds[0]);
      expect(keys[1]).not.toBe(keys[0]);
      for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
    },
    2 * COLD_START_MS,
  );

  it(
    'stops with a clear message when REDIS_URL names a Redis that does not answer',
    async () => {
      const port = await freePort();
      const res = await runScript('src/cli/demo.ts', [], { ...env, REDIS_URL: `redis://127.0.0.1:${port}` });
      expect(res.code, res.stderr).toBe(1);
      expect(res.stderr).toContain(
        `REDIS_URL is set to redis://127.0.0.1:${port}, but nothing answers there`,
      );
    },
    COLD_START_MS,
  );
});
