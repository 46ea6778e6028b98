import type { Agent } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { syncDeps } from '../../src/app/services.js';
import { APPLY_BATCH, RunAbortedError, runSync } from '../../src/app/sync/sync-run.js';
import type { Gateway } from '../../src/gateway.js';
import type { Sandbox } from '../../src/sandbox/index.js';
import { SaveUserSyncRuleDocument, UpdatePbxDocument } from '../generated/graphql.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';
import { gql, seedPbx, startTestGateway, uniquePrefix } from '../support/gateway.js';
import { connectIntegration, runItems, sandboxEnv, startTestSandbox } from '../support/sandbox.js';
import { PbxClient, USER_RULE } from './sync-world.js';

/**
 * A run whose worker lost the job (its BullMQ lock, or the PBX's sync lock, could not be
 * renewed) must not carry on beside the attempt that takes the job over: it stops at the
 * next batch boundary, says so on the run, and the next attempt resumes it to the same end
 * state as one uninterrupted run. The worker is this test process (an API-only gateway
 * takes the GraphQL calls); the signal aborts once the first batch is committed.
 */
const USERS = APPLY_BATCH * 2 + 500;

describeEachDb('a run that lost its job stops at a batch boundary and is resumed', (leg) => {
  let db: TestDatabase;
  let sandbox: Sandbox;
  let agent: Agent;
  let api: Gateway;
  let pbx: PbxClient;

  beforeAll(async () => {
    db = await leg.create();
    ({ sandbox, agent } = await startTestSandbox({ autoSignIn: true, users: USERS, groups: 2, seed: 71 }));
    api = await startTestGateway(db, { ...sandboxEnv(sandbox), QUEUE_PREFIX: uniquePrefix('lock') }, 'api');
    await sandbox.admin.addRedirectUri(sandbox.info.clientId, `${api.url}/oauth/microsoft/callback`);
    const seeded = await seedPbx(api, { extensionCapacity: USERS * 2 });
    await gql(api.url, seeded.keys.admin, UpdatePbxDocument, { input: { publicBaseUrl: api.url } });
    expect((await connectIntegration({ gateway: api, keys: seeded.keys }, sandbox, agent)).result).toBe(
      'CONNECTED',
    );
    pbx = new PbxClient(api.url, seeded.keys.admin, seeded.pbx.id);
  }, 120_000);
  afterAll(async () => {
    await agent?.close();
    await sandbox?.close();
    await api?.stop();
    await db?.drop();
  });

  it('stops after the batch in flight, records why, and the next attempt finishes with every user once', async () => {
    const saved = await pbx.ok(SaveUserSyncRuleDocument, { input: USER_RULE });
    const runId = saved.saveUserSyncRule.initialRun?.id as string;
    expect(runId).toBeTruthy();

    const lost = new AbortController();
    const deps = syncDeps(
      {
        ...api.services,
        // The lock is lost once the first batch is committed: the abort is seen at the next boundary.
        syncProgress: (run) => {
          if (run.phase === 'APPLYING' && run.done === APPLY_BATCH) lost.abort('lock lost in test');
        },
      },
      api.openStore(),
    );
    await expect(runSync(deps, pbx.pbxId, runId, { signal: lost.signal })).rejects.toBeInstanceOf(
      RunAbortedError,
    );
    const stopped = await api.openStore().sync.getRun(pbx.pbxId, runId);
    expect(stopped?.status).toBe('QUEUED');
    expect(stopped?.error).toMatch(/lost this run's job.*lock lost in test.*next attempt resumes it/);
    // Nothing after the boundary: exactly the first batch is on the PBX and in the report.
    expect(stopped?.done).toBe(APPLY_BATCH);
    expect(await api.openStore().directory.countExtensions(pbx.pbxId)).toBe(APPLY_BATCH);
    expect(await api.openStore().sync.maxSeq(runId)).toBe(APPLY_BATCH - 1);

    const resumed = await runSync(syncDeps(api.services, api.openStore()), pbx.pbxId, runId);
    expect(resumed.status, resumed.error ?? '').toBe('SUCCEEDED');
    const extensions = await api.openStore().directory.listExtensions(pbx.pbxId);
    const users = new Set(extensions.map((e) => e.externalId));
    expect(users.size).toBe(extensions.length);
    expect(resumed.counts?.users.create).toBe(extensions.length);
    const failed = await runItems(api.url, pbx.key, runId, 'FAIL');
    // The seeded tenant has users sharing an email on purpose; nothing else may fail (a
    // resumed run that re-applied the first part would fail on numbers or ids in use).
    expect(new Set(failed.map((i) => i.reason))).toEqual(new Set(['DUPLICATE_EMAIL']));
    const created = await runItems(api.url, pbx.key, runId, 'CREATE');
    expect(created).toHaveLength(extensions.length);
    expect(new Set(created.map((i) => i.objectId))).toEqual(users);
  });
});
