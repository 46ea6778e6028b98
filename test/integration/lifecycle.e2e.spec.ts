import { randomUUID } from 'node:crypto';
import type { Agent } from 'undici';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import type { Sandbox } from '../../src/sandbox/index.js';
import {
  DeleteExtensionDocument,
  DisableDocument,
  DisconnectDocument,
  EnableDocument,
  ExtensionGroupsDocument,
  ExtensionsDocument,
  IntegrationDetailsDocument,
  PauseDocument,
  ResumeDocument,
  UpdateExtensionDocument,
  UpdateExtensionGroupDocument,
} from '../generated/graphql.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';
import { gql } from '../support/gateway.js';
import { connectIntegration, startGatewayWithSandbox, startTestSandbox } from '../support/sandbox.js';

type World = Awaited<ReturnType<typeof startGatewayWithSandbox>>;

describeEachDb('pause, resume, disable, enable, disconnect (L4–L8, U9, G4)', (leg) => {
  let db: TestDatabase;
  let sandbox: Sandbox;
  let agent: Agent;
  let w: World;
  const gateways: Gateway[] = [];

  beforeAll(async () => {
    db = await leg.create();
    ({ sandbox, agent } = await startTestSandbox({ autoSignIn: true }));
  });
  afterAll(async () => {
    for (const g of gateways) await g.stop();
    await agent?.close();
    await sandbox?.close();
    await db?.drop();
  });

  /** A connected PBX with 3 synced extensions in a synced group, and 1 manual extension in a manual group. */
  beforeEach(async () => {
    w = await startGatewayWithSandbox(db, sandbox);
    gateways.push(w.gateway);
    expect((await connectIntegration(w, sandbox, agent)).result).toBe('CONNECTED');
    const dir = w.gateway.openStore().directory;
    const base = {
      mobileNumber: null,
      jobTitle: null,
      callerIdName: null,
      voicemailEnabled: true,
      notes: null,
    };
    const synced = [];
    for (let i = 0; i < 3; i++) {
      synced.push(
        await dir.createExtension(w.pbx.id, {
          ...base,
          number: `100${i}`,
          firstName: `Synced${i}`,
          lastName: 'User',
          email: `synced${i}@example.com`,
          source: 'SYNCED',
          externalId: randomUUID(),
        }),
      );
    }
    const manual = await dir.createExtension(w.pbx.id, {
      ...base,
      number: '2000',
      firstName: 'Manual',
      lastName: 'User',
      email: 'manual@example.com',
    });
    await dir.createExtensionGroup(w.pbx.id, {
      name: 'Synced group',
      source: 'SYNCED',
      externalId: randomUUID(),
      memberIds: synced.map((e) => e.id),
    });
    await dir.createExtensionGroup(w.pbx.id, { name: 'Manual group', memberIds: [manual.id] });
  });

  const state = async () => {
    const ext = (await gql(w.gateway.url, w.keys.admin, ExtensionsDocument, { first: 100 })).body.data
      ?.extensions;
    const groups = (await gql(w.gateway.url, w.keys.admin, ExtensionGroupsDocument, { first: 100 })).body.data
      ?.extensionGroups;
    const integration = (await gql(w.gateway.url, w.keys.admin, IntegrationDetailsDocument)).body.data
      ?.integration;
    const extNodes = (ext?.edges ?? []).map((e) => e.node);
    const groupNodes = groups?.nodes ?? [];
    return {
      extensions: extNodes.map((e) => `${e.number}:${e.source}`).sort(),
      groups: groupNodes.map((g) => `${g.name}:${g.source}:${g.memberIds.length}`).sort(),
      ext: extNodes,
      grp: groupNodes,
      integration,
    };
  };

  const syncedLocked = async () => {
    const s = await state();
    const e = s.ext.find((x) => x.source === 'SYNCED');
    const g = s.grp.find((x) => x.source === 'SYNCED');
    const edit =
      e &&
      (await gql(w.gateway.url, w.keys.admin, UpdateExtensionDocument, {
        id: e.id,
        input: { lastName: 'X' },
      }));
    const del = e && (await gql(w.gateway.url, w.keys.admin, DeleteExtensionDocument, { id: e.id }));
    const rename =
      g &&
      (await gql(w.gateway.url, w.keys.admin, UpdateExtensionGroupDocument, { id: g.id, name: 'Renamed' }));
    return {
      extensionEdit: edit?.body.errors?.[0]?.extensions?.code,
      extensionDelete: del?.body.errors?.[0]?.extensions?.code,
      groupRename: rename?.body.errors?.[0]?.extensions?.code,
    };
  };

  const ALL = {
    extensions: ['1000:SYNCED', '1001:SYNCED', '1002:SYNCED', '2000:MANUAL'],
    groups: ['Manual group:MANUAL:1', 'Synced group:SYNCED:3'],
  };
  const LOCKED = {
    extensionEdit: 'LOCKED_BY_SYNC',
    extensionDelete: 'LOCKED_BY_SYNC',
    groupRename: 'LOCKED_BY_SYNC',
  };

  it('L4 pause user sync, delete: synced extensions go (and leave their group), the rest stays', async () => {
    const res = await gql(w.gateway.url, w.keys.admin, PauseDocument, {
      target: 'USERS',
      deleteSynced: true,
    });
    expect(res.body.data?.pause).toMatchObject({ extensionsDeleted: 3, groupsDeleted: 0 });
    expect(res.body.data?.pause.integration).toMatchObject({ userSyncPaused: true, groupSyncPaused: false });
    const s = await state();
    expect(s.extensions).toEqual(['2000:MANUAL']);
    expect(s.groups).toEqual(['Manual group:MANUAL:1', 'Synced group:SYNCED:0']);
  });

  it('L4 pause user sync, retain: synced extensions stay, still locked; L8 resume', async () => {
    const res = await gql(w.gateway.url, w.keys.admin, PauseDocument, {
      target: 'USERS',
      deleteSynced: false,
    });
    expect(res.body.data?.pause.extensionsDeleted).toBe(0);
    expect((await state()).extensions).toEqual(ALL.extensions);
    expect(await syncedLocked()).toEqual(LOCKED);
    const again = await gql(w.gateway.url, w.keys.admin, PauseDocument, {
      target: 'USERS',
      deleteSynced: false,
    });
    expect(again.body.errors?.[0].extensions?.code).toBe('INVALID_STATE');
    const resumed = await gql(w.gateway.url, w.keys.admin, ResumeDocument, { target: 'USERS' });
    expect(resumed.body.data?.resume.integration.userSyncPaused).toBe(false);
    const twice = await gql(w.gateway.url, w.keys.admin, ResumeDocument, { target: 'USERS' });
    expect(twice.body.errors?.[0].extensions?.code).toBe('INVALID_STATE');
  });

  it('L5 pause group sync, delete: the synced group goes, extensions stay', async () => {
    const res = await gql(w.gateway.url, w.keys.admin, PauseDocument, {
      target: 'GROUPS',
      deleteSynced: true,
    });
    expect(res.body.data?.pause).toMatchObject({ groupsDeleted: 1, extensionsDeleted: 0 });
    expect(res.body.data?.pause.integration.groupSyncPaused).toBe(true);
    const s = await state();
    expect(s.extensions).toEqual(ALL.extensions);
    expect(s.groups).toEqual(['Manual group:MANUAL:1']);
  });

  it('L5 pause group sync, retain: the synced group stays with its members, name and members locked', async () => {
    await gql(w.gateway.url, w.keys.admin, PauseDocument, { target: 'GROUPS', deleteSynced: false });
    expect((await state()).groups).toEqual(ALL.groups);
    expect((await syncedLocked()).groupRename).toBe('LOCKED_BY_SYNC');
  });

  it('L6 disable deleting both, then L8 enable', async () => {
    const res = await gql(w.gateway.url, w.keys.admin, DisableDocument, {
      deleteExtensions: true,
      deleteGroups: true,
    });
    expect(res.body.data?.disable).toMatchObject({ extensionsDeleted: 3, groupsDeleted: 1 });
    expect(res.body.data?.disable.integration.status).toBe('DISABLED');
    const s = await state();
    expect(s.extensions).toEqual(['2000:MANUAL']);
    expect(s.groups).toEqual(['Manual group:MANUAL:1']);
    const pause = await gql(w.gateway.url, w.keys.admin, PauseDocument, {
      target: 'USERS',
      deleteSynced: false,
    });
    expect(pause.body.errors?.[0].extensions?.code).toBe('INVALID_STATE');
    const enabled = await gql(w.gateway.url, w.keys.admin, EnableDocument);
    expect(enabled.body.data?.enable.integration.status).toBe('CONNECTED');
    expect((await gql(w.gateway.url, w.keys.admin, EnableDocument)).body.errors?.[0].extensions?.code).toBe(
      'INVALID_STATE',
    );
  });

  it('L6 disable retaining both: all stay, synced ones locked; retain extensions only / groups only', async () => {
    await gql(w.gateway.url, w.keys.admin, DisableDocument, { deleteExtensions: false, deleteGroups: false });
    let s = await state();
    expect(s.extensions).toEqual(ALL.extensions);
    expect(s.groups).toEqual(ALL.groups);
    expect(await syncedLocked()).toEqual(LOCKED);
    await gql(w.gateway.url, w.keys.admin, EnableDocument);
    await gql(w.gateway.url, w.keys.admin, DisableDocument, { deleteExtensions: false, deleteGroups: true });
    s = await state();
    expect(s.extensions).toEqual(ALL.extensions);
    expect(s.groups).toEqual(['Manual group:MANUAL:1']);
    await gql(w.gateway.url, w.keys.admin, EnableDocument);
    await gql(w.gateway.url, w.keys.admin, DisableDocument, { deleteExtensions: true, deleteGroups: false });
    expect((await state()).extensions).toEqual(['2000:MANUAL']);
  });

  it('L7 disconnect deleting both: synced rows go, credentials are erased', async () => {
    const res = await gql(w.gateway.url, w.keys.admin, DisconnectDocument, {
      deleteExtensions: true,
      deleteGroups: true,
    });
    expect(res.body.data?.disconnect).toMatchObject({
      extensionsDeleted: 3,
      groupsDeleted: 1,
      extensionsReleased: 0,
    });
    expect(res.body.data?.disconnect.integration).toMatchObject({
      status: 'NOT_CONNECTED',
      clientId: null,
      authorizationAccount: null,
    });
    const s = await state();
    expect(s.extensions).toEqual(['2000:MANUAL']);
    expect(s.groups).toEqual(['Manual group:MANUAL:1']);
    const twice = await gql(w.gateway.url, w.keys.admin, DisconnectDocument, {
      deleteExtensions: true,
      deleteGroups: true,
    });
    expect(twice.body.errors?.[0].extensions?.code).toBe('INVALID_STATE');
  });

  it('L7 disconnect retaining both: kept rows become fully PBX-managed (label gone, unlocked)', async () => {
    const res = await gql(w.gateway.url, w.keys.admin, DisconnectDocument, {
      deleteExtensions: false,
      deleteGroups: false,
    });
    expect(res.body.data?.disconnect).toMatchObject({
      extensionsReleased: 3,
      groupsReleased: 1,
      extensionsDeleted: 0,
    });
    const s = await state();
    expect(s.extensions).toEqual(['1000:MANUAL', '1001:MANUAL', '1002:MANUAL', '2000:MANUAL']);
    expect(s.groups).toEqual(['Manual group:MANUAL:1', 'Synced group:MANUAL:3']);
    expect(s.ext.every((e) => e.externalId === null && e.lockedFields.length === 0)).toBe(true);
    const edit = await gql(w.gateway.url, w.keys.admin, UpdateExtensionDocument, {
      id: s.ext[0].id,
      input: { lastName: 'Edited' },
    });
    expect(edit.body.data?.updateExtension.lastName).toBe('Edited');
    const g = s.grp.find((x) => x.name === 'Synced group');
    const rename = await gql(w.gateway.url, w.keys.admin, UpdateExtensionGroupDocument, {
      id: g?.id as string,
      name: 'Mine now',
    });
    expect(rename.body.data?.updateExtensionGroup.name).toBe('Mine now');
  });

  it('L7 disconnect retaining extensions, deleting groups (and the reverse)', async () => {
    await gql(w.gateway.url, w.keys.admin, DisconnectDocument, {
      deleteExtensions: false,
      deleteGroups: true,
    });
    const s = await state();
    expect(s.extensions).toEqual(['1000:MANUAL', '1001:MANUAL', '1002:MANUAL', '2000:MANUAL']);
    expect(s.groups).toEqual(['Manual group:MANUAL:1']);
  });

  it('refuses lifecycle steps in the wrong state with INVALID_STATE', async () => {
    await gql(w.gateway.url, w.keys.admin, DisconnectDocument, {
      deleteExtensions: true,
      deleteGroups: true,
    });
    for (const res of [
      await gql(w.gateway.url, w.keys.admin, PauseDocument, { target: 'USERS', deleteSynced: true }),
      await gql(w.gateway.url, w.keys.admin, DisableDocument, { deleteExtensions: true, deleteGroups: true }),
      await gql(w.gateway.url, w.keys.admin, EnableDocument),
      await gql(w.gateway.url, w.keys.viewer, EnableDocument),
    ]) {
      expect(['INVALID_STATE', 'FORBIDDEN']).toContain(res.body.errors?.[0].extensions?.code);
    }
    expect((await gql(w.gateway.url, w.keys.viewer, EnableDocument)).body.errors?.[0].extensions?.code).toBe(
      'FORBIDDEN',
    );
  });
});
