import 'reflect-metadata';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { createApiKey } from '../../src/app/access.js';
import type { Gateway } from '../../src/gateway.js';
import {
  CreateApiKeyDocument,
  CreatePbxDocument,
  DeleteExtensionDocument,
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
} from '../support/gateway.js';
import { COLD_START_MS, databaseUrl, startScript } from '../support/process.js';

/**
 * Issue 13: an HTTP caller lookup costs one database round trip, so a gateway process remembers
 * the API keys it found valid for a few seconds (src/app/known-keys.ts). Every way a key stops
 * working is announced to every process, which forgets it at once: two gateway processes share
 * the database and Redis (A in this process, B a child process with `--role api`); B serves a
 * key (so remembers it), the key stops working through A, and B's very next request with it is
 * refused.
 */

const HEARING = /hearing revoked keys/;

interface Lookup {
  status: number;
  body: { match?: { displayName: string } | null; errors?: Array<{ extensions: { code: string } }> };
}
async function lookup(url: string, key: string, number = '1001'): Promise<Lookup> {
  const res = await fetch(`${url}/linkus/lookup/caller?number=${encodeURIComponent(number)}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  return { status: res.status, body: (await res.json()) as Lookup['body'] };
}

describeEachDb('keys a gateway remembers are forgotten on every process at once (issue 13)', (leg) => {
  let db: TestDatabase;
  let a: Gateway;
  let b: ReturnType<typeof startScript>;
  let bUrl: string;
  let op: Awaited<ReturnType<typeof seedOperator>>;
  let tenant: Awaited<ReturnType<typeof seedPbx>>;

  beforeAll(async () => {
    db = await leg.create();
    const prefix = uniquePrefix('knownkeys');
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
    // B remembers keys only once it hears the announcements: wait for its line saying so.
    if (!HEARING.test(b.output())) {
      await new Promise<void>((resolve) => {
        const onData = () => {
          if (!HEARING.test(b.output())) return;
          b.child.stdout?.off('data', onData);
          resolve();
        };
        b.child.stdout?.on('data', onData);
      });
    }
    op = await seedOperator(a);
    tenant = await seedPbx(a, { name: 'Known keys', defaultCountry: 'GB' });
    await a.openStore().directory.createExtension(tenant.pbx.id, {
      number: '1001',
      firstName: 'Alice',
      lastName: 'Archer',
      email: null,
      mobileNumber: null,
      jobTitle: null,
    });
    // Two gateways' cold starts (A in this process, B a child) on a busy machine.
  }, 2 * COLD_START_MS);
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

  it('B trusts a key it found valid for a moment: revoked behind its back (no announcement), B still serves it, A refuses it', async () => {
    const k = await newKey(tenant.pbx.id);
    expect((await lookup(bUrl, k.key)).status).toBe(200);
    // Revoked in the database only: nothing is announced, so B answers from memory (one round
    // trip per lookup, the lookup's own), while A, which never served the key, reads it.
    await a.openStore().tenants.revokeKey(k.id, new Date());
    const fromMemory = await lookup(bUrl, k.key);
    expect(fromMemory.status).toBe(200);
    expect(fromMemory.body.match?.displayName).toBe('Alice Archer');
    expect((await lookup(a.url, k.key)).status).toBe(401);
  });

  it('a key revoked through A: B, which has just served it, refuses it on its next request (GET lookup and GraphQL)', async () => {
    const k = await newKey(tenant.pbx.id);
    expect((await lookup(bUrl, k.key)).status).toBe(200);
    expect((await gql(bUrl, k.key, PbxDocument)).status).toBe(200);
    const revoked = await gql(a.url, op.key, RevokeApiKeyDocument, { id: k.id });
    expect(revoked.body.data?.revokeApiKey.revokedAt).toBeTruthy();
    const refused = await lookup(bUrl, k.key);
    expect(refused.status).toBe(401);
    expect(refused.body.errors?.[0].extensions.code).toBe('UNAUTHENTICATED');
    expect((await gql(bUrl, k.key, PbxDocument)).status).toBe(401);
    expect((await lookup(a.url, k.key)).status).toBe(401);
  });

  it('an extension deleted through A: its LINKUS key, just served by B and A, is refused by both on the next request', async () => {
    const store = a.openStore();
    const e = await store.directory.createExtension(tenant.pbx.id, {
      number: '1077',
      firstName: 'Gone',
      lastName: 'Soon',
      email: null,
      mobileNumber: null,
      jobTitle: null,
    });
    const k = (await createApiKey(store, { pbxId: tenant.pbx.id, role: 'linkus', extensionNumber: '1077' }))
      .key;
    for (const url of [bUrl, a.url])
      expect((await lookup(url, k)).body.match?.displayName).toBe('Alice Archer');
    const deleted = await gql(a.url, tenant.keys.admin, DeleteExtensionDocument, { id: e.id });
    expect(deleted.body.errors).toBeUndefined();
    for (const url of [bUrl, a.url]) expect((await lookup(url, k)).status).toBe(401);
  });

  it('extensions deleted by a sync or a lifecycle step (the store deletes them, then the run announces as it does): their LINKUS keys are refused by B at once', async () => {
    const store = a.openStore();
    const e = await store.directory.createExtension(tenant.pbx.id, {
      number: '1088',
      firstName: 'Synced',
      lastName: 'Away',
      email: null,
      mobileNumber: null,
      jobTitle: null,
    });
    const k = (await createApiKey(store, { pbxId: tenant.pbx.id, role: 'linkus', extensionNumber: '1088' }))
      .key;
    expect((await lookup(bUrl, k)).status).toBe(200);
    // What a sync run's batch does for the extensions it deleted (src/app/sync/sync-run.ts).
    expect(await store.directory.deleteExtension(tenant.pbx.id, e.id)).toBe(true);
    await a.services.linkusSessions.afterDirectoryChange(store, tenant.pbx.id, [e.id]);
    expect((await lookup(bUrl, k)).status).toBe(401);
    // The PBX's other keys are read again, and still work.
    expect((await lookup(bUrl, tenant.keys.admin)).status).toBe(200);
  });

  it('a PBX deleted through A: its keys, just served by B, are refused by B on the next request', async () => {
    const pbx = (await gql(a.url, op.key, CreatePbxDocument, { input: { name: 'Short-lived' } })).body.data
      ?.createPbx.id as string;
    const k = await newKey(pbx, 'VIEWER');
    expect((await lookup(bUrl, k.key)).status).toBe(200);
    const deleted = await gql(a.url, op.key, DeletePbxDocument, { id: pbx });
    expect(deleted.body.data?.deletePbx.keysRevoked).toBe(1);
    expect((await lookup(bUrl, k.key)).status).toBe(401);
  });
});
