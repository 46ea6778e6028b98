import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { Agent } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import type { Sandbox } from '../../src/sandbox/index.js';
import {
  IntegrationHealthDocument,
  SaveUserSyncRuleDocument,
  SyncNowDocument,
  TestConnectionPermissionsDocument,
} from '../generated/graphql.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';
import { gql } from '../support/gateway.js';
import {
  connectIntegration,
  startGatewayWithSandbox,
  startTestSandbox,
  waitForRun,
} from '../support/sandbox.js';

/**
 * Issue 11 item 3: a sandbox restarted on the same state file (as `npm run demo` does) keeps its
 * consents and refresh tokens, so a gateway connected before stays connected and syncs on.
 */
const RULE = {
  range: 'ALL' as const,
  numbering: 'AUTO' as const,
  startNumber: '1000',
  autoDelete: true,
  deleteWhenDisabled: true,
  deleteWhenDeleted: true,
  autoAssociate: false,
  welcomeEmail: false,
};

describeEachDb('a sandbox restarted on its state file (issue 11 item 3)', (leg) => {
  let db: TestDatabase;
  let dir: string;
  let gateway: Gateway | undefined;
  const running: Array<{ sandbox: Sandbox; agent: Agent }> = [];

  beforeAll(async () => {
    db = await leg.create();
    mkdirSync(path.resolve('.data'), { recursive: true });
    dir = mkdtempSync(path.resolve('.data/sandbox-restart-'));
  });
  afterAll(async () => {
    await gateway?.stop();
    for (const s of running.splice(0)) {
      await s.agent.close();
      await s.sandbox.close();
    }
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the gateway connected before the restart syncs on (SUCCEEDED) and its health stays OK', async () => {
    const stateFile = path.join(dir, 'state.json');
    const first = await startTestSandbox({ autoSignIn: true, users: 15, groups: 3, stateFile });
    running.push(first);
    const w = await startGatewayWithSandbox(db, first.sandbox);
    gateway = w.gateway;
    const q = <TData, TVars>(doc: TypedDocumentNode<TData, TVars>, vars?: TVars) =>
      gql(w.gateway.url, w.keys.admin, doc, vars);
    expect((await connectIntegration(w, first.sandbox, first.agent)).result).toBe('CONNECTED');
    const saved = await q(SaveUserSyncRuleDocument, { input: RULE });
    const initial = await waitForRun(
      w.gateway.url,
      w.keys.admin,
      saved.body.data?.saveUserSyncRule.initialRun?.id as string,
    );
    expect(initial.status, initial.error ?? '').toBe('SUCCEEDED');

    // restart on the same state file and port
    const port = Number(new URL(first.sandbox.info.authorityHost).port);
    running.splice(0);
    await first.agent.close();
    await first.sandbox.close();
    const second = await startTestSandbox({ autoSignIn: true, users: 15, groups: 3, stateFile, port });
    running.push(second);
    expect(second.sandbox.info.authorityHost).toBe(first.sandbox.info.authorityHost);
    await second.sandbox.admin.createUser({
      displayName: 'Hired After Restart',
      userPrincipalName: `hired@${(await second.sandbox.admin.listUsers({ top: 1 })).value[0]?.userPrincipalName.split('@')[1]}`,
    });

    const res = await q(SyncNowDocument, {});
    const run = await waitForRun(w.gateway.url, w.keys.admin, res.body.data?.syncNow.id as string);
    expect(run.status, run.error ?? '').toBe('SUCCEEDED');
    const check = (await q(TestConnectionPermissionsDocument)).body.data?.testConnection;
    expect(check).toMatchObject({ appAccess: true, delegatedAccess: true, problems: [] });
    const health = (await q(IntegrationHealthDocument)).body.data?.integration.health;
    expect(health?.status).toBe('OK');
    expect(health?.codes).toEqual([]);
  });
});
