import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Agent } from 'undici';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { AccessTokenKeys } from '../../src/app/linkus-tokens.js';
import { SecretBox } from '../../src/app/secret-box.js';
import { parseSecretKey } from '../../src/config.js';
import type { Gateway } from '../../src/gateway.js';
import type { Sandbox } from '../../src/sandbox/index.js';
import { TestConnectionDocument, UpdateSecretDocument } from '../generated/graphql.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';
import { gql, startTestGateway, TEST_SECRET_KEY } from '../support/gateway.js';
import { databaseUrl, runScript } from '../support/process.js';
import {
  connectIntegration,
  sandboxEnv,
  startGatewayWithSandbox,
  startTestSandbox,
} from '../support/sandbox.js';

/**
 * Issue 12 item 6: the secret key rotated while gateways run. Each test stops its gateways
 * at its end, on a database of its own file (a CLI process and the test's gateways write it).
 */
describeEachDb('secret key rotation while gateways run (issue 12 item 6)', (leg) => {
  let db: TestDatabase;
  let sandbox: Sandbox;
  let agent: Agent;
  const gateways: Gateway[] = [];

  beforeAll(async () => {
    db = await leg.create();
    ({ sandbox, agent } = await startTestSandbox({ autoSignIn: true }));
  });
  afterEach(async () => {
    for (const g of gateways.splice(0)) await g.stop();
  });
  afterAll(async () => {
    await agent?.close();
    await sandbox?.close();
    await db?.drop();
  });

  it('rotates a key file while the gateway runs: it reads the new key, keeps working, and every value moves to it, Linkus signing keys too (issue 12 item 6, S4)', async () => {
    const keyFile = path.resolve('.data/test', `live-rotate-${Date.now()}.key`);
    writeFileSync(keyFile, `${TEST_SECRET_KEY}\n`, { mode: 0o600 });
    const w = await startGatewayWithSandbox(db, sandbox, {
      SECRET_KEY_FILE: keyFile,
      SECRET_KEY: undefined as unknown as string,
    });
    gateways.push(w.gateway);
    expect((await connectIntegration(w, sandbox, agent)).result).toBe('CONNECTED');
    // A Linkus signing key (S4), sealed under the old key, and a token it signed.
    await w.gateway.services.linkusSessions.keys.rotate();
    const claims = { sessionId: 's-1', pbxId: w.pbx.id, extensionId: 'e-1' };
    const token = await w.gateway.services.linkusSessions.keys.sign(claims);
    const oldId = new SecretBox(parseSecretKey(TEST_SECRET_KEY)).keyId;
    expect(
      w.gateway.services.secrets.sealedBy(
        (await w.gateway.openStore().integrations.get(w.pbx.id)).secretSealed as string,
      ),
    ).toBe(oldId);

    const env = { DATABASE_URL: databaseUrl(db.config), SECRET_KEY_FILE: keyFile, LOG_LEVEL: 'silent' };
    const res = await runScript('src/cli/keys.ts', ['rotate-secret-key'], env);
    expect(res.code, res.stderr).toBe(0);
    const [newKey] = readFileSync(keyFile, 'utf8').trim().split('\n');
    const newId = new SecretBox(parseSecretKey(newKey)).keyId;
    // The running gateway took the file's keys (it watches the file) without a restart...
    expect(w.gateway.services.secrets.keyId).toBe(newId);
    const row = await w.gateway.openStore().integrations.get(w.pbx.id);
    expect(w.gateway.services.secrets.sealedBy(row.secretSealed as string)).toBe(newId);
    expect(w.gateway.services.secrets.sealedBy(row.tokenCacheSealed as string)).toBe(newId);
    const signingKeys = await w.gateway.openStore().linkusSessions.signingKeys(10);
    expect(signingKeys.length).toBeGreaterThanOrEqual(1);
    for (const key of signingKeys) expect(w.gateway.services.secrets.sealedBy(key.sealed)).toBe(newId);
    // The signing key re-sealed is the same key: its token still verifies, on a fresh load too.
    const fresh = new AccessTokenKeys({
      openStore: w.gateway.openStore,
      secrets: new SecretBox(parseSecretKey(newKey)),
      now: () => new Date(),
    });
    expect(await fresh.verify(token)).toMatchObject(claims);
    // ...and keeps working: the secret and the token cache open, and what it writes now is sealed with the new key.
    const check = await gql(w.gateway.url, w.keys.admin, TestConnectionDocument);
    expect(check.body.data?.testConnection).toMatchObject({ appAccess: true, delegatedAccess: true });
    await gql(w.gateway.url, w.keys.admin, UpdateSecretDocument, { secret: sandbox.info.clientSecret });
    const after = await w.gateway.openStore().integrations.get(w.pbx.id);
    expect(w.gateway.services.secrets.sealedBy(after.secretSealed as string)).toBe(newId);
  });

  it('a gateway given SECRET_KEY=new,old re-seals in the background; one key alone is not rotated by the command (issue 12 item 6)', async () => {
    const w = await startGatewayWithSandbox(db, sandbox);
    gateways.push(w.gateway);
    expect((await connectIntegration(w, sandbox, agent)).result).toBe('CONNECTED');
    await w.gateway.stop();
    gateways.splice(gateways.indexOf(w.gateway), 1);

    const env = { DATABASE_URL: databaseUrl(db.config), SECRET_KEY: TEST_SECRET_KEY, LOG_LEVEL: 'silent' };
    const single = await runScript('src/cli/keys.ts', ['rotate-secret-key'], env);
    expect(single.code).toBe(2);
    expect(single.stderr).toMatch(/SECRET_KEY holds one key: rotating it here would lock out/);

    const newKey = SecretBox.generateKey();
    const newId = new SecretBox(parseSecretKey(newKey)).keyId;
    const next = await startTestGateway(db, {
      ...sandboxEnv(sandbox),
      SECRET_KEY: `${newKey},${TEST_SECRET_KEY}`,
    });
    gateways.push(next);
    const sealedBy = async () => {
      const row = await next.openStore().integrations.get(w.pbx.id);
      return [row.secretSealed, row.tokenCacheSealed].map((v) => next.services.secrets.sealedBy(v as string));
    };
    for (let i = 0; i < 100 && (await sealedBy()).some((id) => id !== newId); i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(await sealedBy()).toEqual([newId, newId]);
    const check = await gql(next.url, w.keys.admin, TestConnectionDocument);
    expect(check.body.data?.testConnection).toMatchObject({ appAccess: true, delegatedAccess: true });
  });
});
