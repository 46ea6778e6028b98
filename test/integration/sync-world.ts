import { randomBytes } from 'node:crypto';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { Agent } from 'undici';
import { expect } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import type {
  AdminGroup,
  AdminUser,
  CreateGroupInput,
  CreateUserInput,
  Sandbox,
  SandboxOptions,
} from '../../src/sandbox/index.js';
import {
  CreateExtensionDocument,
  type CreateExtensionInput,
  ExtensionGroupsDocument,
  type GroupSyncRuleInput,
  SaveChangeTriggersDocument,
  SaveGroupSyncRuleDocument,
  SaveUserSyncRuleDocument,
  type SyncItemAction,
  SyncNowDocument,
  type SyncScope,
  UpdatePbxDocument,
  type UserSyncRuleInput,
} from '../generated/graphql.js';
import type { DbLeg, TestDatabase } from '../support/db.js';
import { startE2e } from '../support/e2e.js';
import { type GqlResponse, gql, seedPbx } from '../support/gateway.js';
import { allExtensions, connectIntegration, runItems, waitForRun } from '../support/sandbox.js';

/**
 * The world of the sync e2e files (sync-users, sync-groups, sync-guard): one sandbox tenant
 * and one gateway per database leg, and a new connected PBX per test (`world.pbx()`), so a
 * test starts from an empty PBX whose first sync reads the tenant in full. The tenant is
 * shared: a test changes only the users and groups it creates (`world.user()`, `world.group()`),
 * and `world.cleanup()` deletes them for good after it. Change triggers (T2) are set so that
 * they never start a run: every run is one the test starts.
 */

export const USER_RULE: UserSyncRuleInput = {
  range: 'ALL',
  numbering: 'AUTO',
  startNumber: '1000',
  autoDelete: true,
  deleteWhenDisabled: true,
  deleteWhenDeleted: true,
  autoAssociate: false,
  welcomeEmail: false,
};

export const GROUP_RULE: GroupSyncRuleInput = { range: 'ALL', autoDelete: true };

export type Run = Awaited<ReturnType<typeof waitForRun>>;

/** A short random tag for names and UPNs of objects a test creates. */
export const tag = () => randomBytes(3).toString('hex');

/** GraphQL errors, shaped for assertions. */
export function errorsOf(res: GqlResponse<unknown>) {
  return (res.body.errors ?? []).map((e) => ({
    code: e.extensions?.code as string | undefined,
    field: e.extensions?.field as string | undefined,
    problems: (e.extensions?.problems as Array<{ field: string; message: string }> | undefined) ?? [],
    message: e.message,
  }));
}

export class PbxClient {
  constructor(
    readonly url: string,
    readonly key: string,
    readonly pbxId: string,
  ) {}

  async ok<TData, TVars>(document: TypedDocumentNode<TData, TVars>, variables?: TVars): Promise<TData> {
    const res = await gql(this.url, this.key, document, variables);
    if (res.body.errors?.length || !res.body.data)
      throw new Error(JSON.stringify(res.body.errors ?? res.body));
    return res.body.data;
  }

  raw<TData, TVars>(document: TypedDocumentNode<TData, TVars>, variables?: TVars) {
    return gql(this.url, this.key, document, variables);
  }

  /** Saves the user rule; returns the initial run, waited for, when the save started one (U7). */
  async saveUserRule(patch: Partial<UserSyncRuleInput> = {}): Promise<Run | null> {
    const data = await this.ok(SaveUserSyncRuleDocument, { input: { ...USER_RULE, ...patch } });
    const id = data.saveUserSyncRule.initialRun?.id;
    return id ? this.wait(id) : null;
  }

  async saveGroupRule(patch: Partial<GroupSyncRuleInput> = {}): Promise<Run | null> {
    const data = await this.ok(SaveGroupSyncRuleDocument, { input: { ...GROUP_RULE, ...patch } });
    const id = data.saveGroupSyncRule.initialRun?.id;
    return id ? this.wait(id) : null;
  }

  /** "Update Now", waited for until it ends. */
  async sync(scopes?: SyncScope[]): Promise<Run> {
    const data = await this.ok(SyncNowDocument, { scopes });
    return this.wait(data.syncNow.id);
  }

  /** Polls the run (every 20 ms: runs of these small tenants take tens of ms) until it ends. */
  async wait(runId: string, timeout = 60_000): Promise<Run> {
    const run = await waitForRun(this.url, this.key, runId, { timeout, interval: 20 });
    expect(run.error ?? null, `run ${runId} error`).toBeNull();
    return run;
  }

  items(runId: string, action?: SyncItemAction) {
    return runItems(this.url, this.key, runId, action);
  }

  extensions() {
    return allExtensions(this.url, this.key);
  }

  /** Extensions by the Entra user id they are synced to. */
  async extensionsByUser() {
    return new Map(
      (await this.extensions()).filter((e) => e.externalId).map((e) => [e.externalId as string, e]),
    );
  }

  async groups() {
    const data = await this.ok(ExtensionGroupsDocument, { first: 200 });
    return data.extensionGroups.nodes;
  }

  async groupsByExternal() {
    return new Map((await this.groups()).filter((g) => g.externalId).map((g) => [g.externalId as string, g]));
  }

  async createExtension(input: Partial<CreateExtensionInput> & { number: string }) {
    const data = await this.ok(CreateExtensionDocument, {
      input: { firstName: 'Manual', lastName: 'Ext', ...input },
    });
    return data.createExtension;
  }
}

export interface SyncWorld {
  db: TestDatabase;
  sandbox: Sandbox;
  agent: Agent;
  gateway: Gateway;
  domain: string;
  /** A new PBX on the gateway, connected to the sandbox tenant. */
  pbx(settings?: { extensionCapacity?: number }): Promise<PbxClient>;
  /** Creates a sandbox user (remembered for cleanup). `name` becomes the UPN's local part. */
  user(name: string, input?: Partial<CreateUserInput>): Promise<AdminUser>;
  /** Creates a sandbox group (remembered for cleanup); a security group unless `groupTypes: ['Unified']`. */
  group(name: string, input?: Partial<CreateGroupInput>): Promise<AdminGroup>;
  /** Deletes every user and group the test created, for good. */
  cleanup(): Promise<void>;
  close(): Promise<void>;
}

export async function startSyncWorld(leg: DbLeg, options: SandboxOptions = {}): Promise<SyncWorld> {
  // The e2e world without its own PBX connected: each test connects a new one (`pbx()`).
  const e2e = await startE2e({
    leg,
    sandbox: { users: 40, groups: 10, seed: 11, ...options },
    connect: false,
  });
  const { db, sandbox, agent, gateway } = e2e;
  const domain = String((await sandbox.admin.info()).defaultDomain);
  let users: string[] = [];
  let groups: string[] = [];

  return {
    db,
    sandbox,
    agent,
    gateway,
    domain,
    async pbx(settings = {}) {
      const seeded = await seedPbx(gateway, settings);
      await gql(gateway.url, seeded.keys.admin, UpdatePbxDocument, { input: { publicBaseUrl: gateway.url } });
      const connected = await connectIntegration({ gateway, keys: seeded.keys }, sandbox, agent);
      expect(connected.result).toBe('CONNECTED');
      const client = new PbxClient(gateway.url, seeded.keys.admin, seeded.pbx.id);
      // The tests sync by hand ("Update Now"): no change notification (T2) may start a run
      // between a change and the test's own sync.
      await client.ok(SaveChangeTriggersDocument, {
        debounceSeconds: 86_400,
        threshold: 100_000,
        pollMinutes: 1440,
      });
      return client;
    },
    async user(name, input = {}) {
      const local = `${name}.${tag()}`.toLowerCase();
      const u = await sandbox.admin.createUser({
        userPrincipalName: `${local}@${domain}`,
        displayName: name,
        givenName: name,
        surname: 'Test',
        mail: `${local}@${domain}`,
        ...input,
      });
      users.push(u.id);
      return u;
    },
    async group(name, input = {}) {
      const g = await sandbox.admin.createGroup({ displayName: name, ...input });
      groups.push(g.id);
      return g;
    },
    async cleanup() {
      for (const id of users) await sandbox.admin.hardDeleteUser(id).catch(() => undefined);
      for (const id of groups)
        await sandbox.admin.deleteGroup(id, { permanent: true }).catch(() => undefined);
      users = [];
      groups = [];
      await sandbox.admin.resetFaults();
      // The test's PBX is done with: Graph need not notify it of the next test's changes.
      await sandbox.admin.resetSubscriptions();
    },
    close: () => e2e.close(),
  };
}

/** Items of a run by the Entra object id they are about. */
export function byObject<T extends { objectId: string }>(items: readonly T[]) {
  return new Map(items.map((i) => [i.objectId, i]));
}
