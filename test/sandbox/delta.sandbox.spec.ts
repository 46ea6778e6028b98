import type { Client } from '@microsoft/microsoft-graph-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createConfidentialClient,
  createGraphClient,
  graphDefaultScope,
} from '../../src/m365/microsoft-clients.js';
import { eventually } from '../support/wait.js';
import {
  consentAsAdmin,
  removeTestDataDir,
  startTestSandbox,
  type TestSandbox,
} from './sandbox-test.helpers.js';

type Item = Record<string, unknown> & { id: string };

interface Round {
  items: Item[];
  deltaLink: string;
  pages: number;
}

async function clientFor(sb: TestSandbox): Promise<Client> {
  const cca = createConfidentialClient(sb.endpoints, {
    clientId: sb.sandbox.info.clientId,
    tenantId: sb.sandbox.info.tenantId,
    clientSecret: sb.sandbox.info.clientSecret,
  });
  return createGraphClient(sb.endpoints, async () => {
    const r = await cca.acquireTokenByClientCredential({ scopes: [graphDefaultScope(sb.endpoints)] });
    return r?.accessToken as string;
  });
}

/** One delta round: follow nextLinks until a page carries the deltaLink. */
async function round(graph: Client, start: string, headers: Record<string, string> = {}): Promise<Round> {
  const items: Item[] = [];
  let page = await graph.api(start).headers(headers).get();
  let pages = 1;
  for (;;) {
    items.push(...page.value);
    if (page['@odata.deltaLink']) return { items, deltaLink: page['@odata.deltaLink'], pages };
    expect(page['@odata.nextLink']).toBeTruthy();
    page = await graph.api(page['@odata.nextLink']).headers(headers).get();
    pages++;
  }
}

let t: TestSandbox;
let graph: Client;

beforeAll(async () => {
  t = await startTestSandbox({ users: 300 });
  await consentAsAdmin(t);
  graph = await clientFor(t);
});

afterAll(async () => {
  await t?.close();
  removeTestDataDir();
});

describe('users/delta', () => {
  it('after disabling one user, soft-deleting one and renaming one, one round returns exactly those three', async () => {
    const initial = await round(
      graph,
      '/users/delta?$select=displayName,accountEnabled,userPrincipalName,jobTitle',
    );
    expect(initial.items.length).toBe(300);
    expect(initial.pages).toBeGreaterThan(1);
    const enabled = initial.items.filter(
      (u) => u.accountEnabled === true && !String(u.userPrincipalName).includes('#EXT#'),
    );
    const [a, b, c] = enabled.slice(10, 13) as [Item, Item, Item];

    await t.sandbox.admin.disableUser(a.id);
    await t.sandbox.admin.softDeleteUser(b.id);
    await t.sandbox.admin.updateUser(c.id, { displayName: 'Renamed Person' });

    const next = await round(graph, initial.deltaLink);
    expect(next.items).toHaveLength(3);
    const byId = Object.fromEntries(next.items.map((i) => [i.id, i]));
    expect(byId[a.id]).toMatchObject({ id: a.id, accountEnabled: false, displayName: a.displayName });
    expect(byId[b.id]).toEqual({ id: b.id, '@removed': { reason: 'changed' } });
    expect(byId[c.id]).toMatchObject({ id: c.id, displayName: 'Renamed Person', accountEnabled: true });

    // nothing more happened: an empty round
    const quiet = await round(graph, next.deltaLink);
    expect(quiet.items).toEqual([]);

    // hard delete → reason deleted; restore of another → back as a full object
    await t.sandbox.admin.hardDeleteUser(b.id);
    const gone = await round(graph, quiet.deltaLink);
    expect(gone.items).toEqual([{ id: b.id, '@removed': { reason: 'deleted' } }]);

    await t.sandbox.admin.softDeleteUser(a.id);
    await t.sandbox.admin.restoreUser(a.id);
    const back = await round(graph, gone.deltaLink);
    expect(back.items).toHaveLength(1);
    expect(back.items[0]).toMatchObject({
      id: a.id,
      accountEnabled: false,
      userPrincipalName: a.userPrincipalName,
    });
  });

  it('$select limits what is tracked; Prefer: return=minimal returns only changed properties', async () => {
    const start = await round(graph, '/users/delta?$select=displayName,mobilePhone');
    const u = start.items[20] as Item;
    await t.sandbox.admin.updateUser(u.id, { department: 'Untracked' });
    expect((await round(graph, start.deltaLink)).items).toEqual([]);

    await t.sandbox.admin.updateUser(u.id, { mobilePhone: '+1 206 555 0199' });
    const minimal = await round(graph, start.deltaLink, { Prefer: 'return=minimal' });
    expect(minimal.items).toEqual([{ id: u.id, mobilePhone: '+1 206 555 0199' }]);
    const full = await round(graph, start.deltaLink);
    expect(full.items).toEqual([{ id: u.id, displayName: u.displayName, mobilePhone: '+1 206 555 0199' }]);

    await t.sandbox.admin.updateUser(u.id, { mobilePhone: null });
    const cleared = await round(graph, full.deltaLink, { Prefer: 'return=minimal' });
    expect(cleared.items).toEqual([{ id: u.id, mobilePhone: null }]);
  });

  it('new users come in full; $deltatoken=latest starts from now; $filter=id tracks given objects', async () => {
    const latest = await graph.api('/users/delta?$deltatoken=latest&$select=displayName').get();
    expect(latest.value).toEqual([]);
    expect(latest['@odata.deltaLink']).toBeTruthy();
    const created = await t.sandbox.admin.createUser({
      userPrincipalName: `new.person@${String((await t.sandbox.admin.info()).defaultDomain)}`,
      displayName: 'New Person',
    });
    const r = await round(graph, latest['@odata.deltaLink']);
    expect(r.items).toEqual([{ id: created.id, displayName: 'New Person' }]);

    const someone = (await t.sandbox.admin.listUsers({ top: 5 })).value[3] as { id: string };
    const tracked = await round(
      graph,
      `/users/delta?$filter=id eq '${created.id}' or id eq '${someone.id}'&$select=displayName`,
    );
    expect(tracked.items.map((i) => i.id).sort()).toEqual([created.id, someone.id].sort());
    await t.sandbox.admin.updateUser(created.id, { displayName: 'New Person 2' });
    await t.sandbox.admin.updateUser((await t.sandbox.admin.listUsers({ top: 9 })).value[8]?.id as string, {
      displayName: 'Not tracked',
    });
    expect((await round(graph, tracked.deltaLink)).items).toEqual([
      { id: created.id, displayName: 'New Person 2' },
    ]);
  });

  it('$top is ignored on delta, as Graph ignores it (page size comes from Prefer: odata.maxpagesize); $orderby is refused', async () => {
    const plain = await round(graph, '/users/delta?$select=displayName');
    const topped = await round(graph, '/users/delta?$select=displayName&$top=10');
    // The same round: every user, default pages of 100, not pages of 10.
    expect(topped.items.map((i) => i.id)).toEqual(plain.items.map((i) => i.id));
    expect(topped.pages).toBe(plain.pages);
    const first = await graph.api('/users/delta?$top=10').get();
    expect(first.value).toHaveLength(100);
    const sized = await graph.api('/users/delta?$top=10').header('Prefer', 'odata.maxpagesize=7').get();
    expect(sized.value).toHaveLength(7);
    await expect(graph.api('/groups/delta?$top=1').get()).resolves.toMatchObject({
      value: expect.any(Array),
    });
    await expect(graph.api('/users/delta?$orderby=displayName').get()).rejects.toMatchObject({
      statusCode: 400,
    });
  });
});

describe('expired delta tokens', () => {
  it('answer 400 syncStateNotFound (admin knob and token lifetime)', async () => {
    const r = await round(graph, '/users/delta?$select=displayName');
    await t.sandbox.admin.expireDeltaTokens();
    const err = await graph
      .api(r.deltaLink)
      .get()
      .catch((e: unknown) => e);
    expect(err).toMatchObject({
      statusCode: 400,
      code: 'syncStateNotFound',
      message:
        'The sync state generation is not found. The delta token is expired and data must be synchronized again.',
    });
    // a new full round works again
    expect((await round(graph, '/users/delta?$select=displayName')).items.length).toBeGreaterThan(250);

    // Graph has also been seen spelling the code SyncStateNotFound: the knob can answer so.
    const again = await round(graph, '/users/delta?$select=displayName');
    expect(await t.sandbox.admin.expireDeltaTokens({ code: 'SyncStateNotFound' })).toMatchObject({
      code: 'SyncStateNotFound',
    });
    await expect(graph.api(again.deltaLink).get()).rejects.toMatchObject({
      statusCode: 400,
      code: 'SyncStateNotFound',
    });
    await expect(t.sandbox.admin.expireDeltaTokens({ code: 'somethingElse' })).rejects.toMatchObject({
      status: 400,
    });
    await t.sandbox.admin.expireDeltaTokens(); // back to the documented spelling
    const third = await round(graph, '/users/delta?$select=displayName');
    await t.sandbox.admin.expireDeltaTokens();
    await expect(graph.api(third.deltaLink).get()).rejects.toMatchObject({ code: 'syncStateNotFound' });

    const short = await startTestSandbox({ users: 5, deltaTokenLifetimeMs: 300 });
    await consentAsAdmin(short);
    try {
      const g = await clientFor(short);
      const first = await round(g, '/users/delta');
      // Once its 300 ms lifetime has passed, the delta link is refused.
      await eventually(
        () =>
          expect(g.api(first.deltaLink).get()).rejects.toMatchObject({
            statusCode: 400,
            code: 'syncStateNotFound',
          }),
        { message: 'the delta token to expire' },
      );
    } finally {
      await short.close();
    }
  });
});

describe('synchronization reset (410 Gone)', () => {
  it('the delta-resync knob: old delta and skip links answer 410 with a Location that starts a new full round of the same query', async () => {
    const cca = createConfidentialClient(t.endpoints, {
      clientId: t.sandbox.info.clientId,
      tenantId: t.sandbox.info.tenantId,
      clientSecret: t.sandbox.info.clientSecret,
    });
    const token = (await cca.acquireTokenByClientCredential({ scopes: [graphDefaultScope(t.endpoints)] }))
      ?.accessToken as string;
    const raw = (url: string) => t.http(url, { headers: { authorization: `Bearer ${token}` } });

    const users = await round(graph, '/users/delta?$select=displayName,jobTitle');
    const groups = await round(graph, '/groups/delta?$select=displayName,members');
    const midRound = (await graph.api('/users/delta?$select=displayName').get())['@odata.nextLink'] as string;
    expect(midRound).toMatch(/\$skiptoken=/);
    expect(await t.sandbox.admin.forceDeltaResync()).toMatchObject({
      deltaTokensGoneBefore: expect.any(String),
    });

    const gone = await raw(users.deltaLink);
    expect(gone.status).toBe(410);
    expect(gone.json()).toMatchObject({
      error: {
        code: 'resyncRequired',
        message: 'The delta token is no longer valid, and the app must reset the sync state.',
        innerError: { 'request-id': expect.any(String) },
      },
    });
    const location = new URL(gone.headers.location as string);
    expect(`${location.origin}${location.pathname}`).toBe(`${t.sandbox.info.graphBaseUrl}/users/delta`);
    expect(location.searchParams.get('$select')).toBe('displayName,jobTitle');
    expect(location.searchParams.get('$deltatoken')).toBe('');
    expect((await raw(midRound)).status).toBe(410);
    const groupsGone = await raw(groups.deltaLink);
    expect(groupsGone.status).toBe(410);
    expect(new URL(groupsGone.headers.location as string).searchParams.get('$select')).toBe(
      'displayName,members',
    );
    // graph-client surfaces it as a GraphError with status 410.
    await expect(graph.api(users.deltaLink).get()).rejects.toMatchObject({ statusCode: 410 });

    // Following Location is a new full round of the same query; its deltaLink is honoured.
    const restarted = await round(graph, location.href);
    expect(restarted.items.map((i) => i.id).sort()).toEqual(users.items.map((i) => i.id).sort());
    const keys = new Set(restarted.items.flatMap((i) => Object.keys(i)));
    expect([...keys].sort()).toEqual(['displayName', 'id', 'jobTitle']);
    const u = restarted.items[5] as Item;
    await t.sandbox.admin.updateUser(u.id, { jobTitle: 'After the reset' });
    expect((await round(graph, restarted.deltaLink)).items).toEqual([
      { id: u.id, displayName: u.displayName, jobTitle: 'After the reset' },
    ]);
  });
});

describe('groups/delta', () => {
  it('members@delta: initial members, then added and removed members, renamed, created and deleted groups', async () => {
    const initial = await round(graph, '/groups/delta?$select=displayName,groupTypes,members');
    const merged = new Map<string, Set<string>>();
    for (const g of initial.items) {
      const set = merged.get(g.id) ?? new Set<string>();
      for (const m of (g['members@delta'] as Array<{ id: string }> | undefined) ?? []) set.add(m.id);
      merged.set(g.id, set);
    }
    const all = initial.items.find((g) => g.displayName === 'All Company') as Item;
    expect(merged.get(all.id)?.size).toBeGreaterThan(200);
    const security = initial.items.find(
      (g) =>
        Array.isArray(g.groupTypes) &&
        (g.groupTypes as string[]).length === 0 &&
        (merged.get(g.id)?.size ?? 0) > 2,
    ) as Item;
    const [keep, drop] = [...(merged.get(security.id) ?? [])] as [string, string];
    const users = (await t.sandbox.admin.listUsers({ top: 300 })).value;
    const outsider = users.find((u) => !merged.get(security.id)?.has(u.id) && !u.deleted) as { id: string };

    await t.sandbox.admin.addMember(security.id, outsider.id);
    await t.sandbox.admin.removeMember(security.id, drop);
    await t.sandbox.admin.renameGroup(all.id, 'Everyone');
    const created = await t.sandbox.admin.createGroup({
      displayName: 'Fresh Team',
      groupTypes: ['Unified'],
      members: [keep],
    });
    const doomed = await t.sandbox.admin.createGroup({ displayName: 'Short Lived' });
    const round2 = await round(graph, initial.deltaLink);
    const byId = new Map<string, Item>();
    for (const g of round2.items) byId.set(g.id, g);
    expect(byId.get(security.id)?.['members@delta']).toEqual(
      expect.arrayContaining([
        { '@odata.type': '#microsoft.graph.user', id: outsider.id },
        { '@odata.type': '#microsoft.graph.user', id: drop, '@removed': { reason: 'deleted' } },
      ]),
    );
    expect(byId.get(security.id)?.['members@delta']).toHaveLength(2);
    expect(byId.get(all.id)).toMatchObject({ displayName: 'Everyone' });
    expect(byId.get(all.id)?.['members@delta']).toBeUndefined();
    expect(byId.get(created.id)).toMatchObject({
      displayName: 'Fresh Team',
      'members@delta': [{ '@odata.type': '#microsoft.graph.user', id: keep }],
    });
    expect(byId.get(doomed.id)).toMatchObject({ displayName: 'Short Lived' });

    // a Microsoft 365 group goes to the recycle bin (changed), a security group is gone (deleted);
    // a soft-deleted user leaves its groups
    await t.sandbox.admin.deleteGroup(created.id);
    await t.sandbox.admin.deleteGroup(doomed.id);
    await t.sandbox.admin.softDeleteUser(outsider.id);
    const round3 = await round(graph, round2.deltaLink);
    const r3 = new Map(round3.items.map((g) => [g.id, g]));
    expect(r3.get(created.id)).toEqual({ id: created.id, '@removed': { reason: 'changed' } });
    expect(r3.get(doomed.id)).toEqual({ id: doomed.id, '@removed': { reason: 'deleted' } });
    expect(r3.get(security.id)?.['members@delta']).toEqual([
      { '@odata.type': '#microsoft.graph.user', id: outsider.id, '@removed': { reason: 'deleted' } },
    ]);
  });

  it('a group with many members continues on the next page (merge by id)', async () => {
    const big = await startTestSandbox({ users: 1300, groups: 12 });
    await consentAsAdmin(big);
    try {
      const g = await clientFor(big);
      const r = await round(g, '/groups/delta');
      const all = r.items.filter((x) => x.displayName === 'All Company');
      expect(all.length).toBeGreaterThan(1);
      const ids = new Set(all.flatMap((x) => (x['members@delta'] as Array<{ id: string }>).map((m) => m.id)));
      const members = (await big.sandbox.admin.listUsers({ top: 2000, userType: 'Member' })).total;
      expect(ids.size).toBe(members);
    } finally {
      await big.close();
    }
  });
});
