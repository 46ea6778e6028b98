import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { CryptoProvider } from '@azure/msal-node';
import { PageIterator } from '@microsoft/microsoft-graph-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createConfidentialClient,
  createGraphClient,
  graphDefaultScope,
} from '../../src/m365/microsoft-clients.js';
import type { AdminUser } from '../../src/sandbox/index.js';
import {
  consentAsAdmin,
  type RawResponse,
  removeTestDataDir,
  startTestSandbox,
  type TestSandbox,
  testDataDir,
} from './sandbox-test.helpers.js';

/**
 * Mailboxes in the sandbox (issue 13 item 1): contact folders and contacts as Graph serves
 * them, contact delta, Exchange's access rules (application Contacts.Read after admin consent;
 * delegated Contacts.Read.Shared on a shared folder or as a member of a shared mailbox),
 * Outlook's per-mailbox throttling, seeding and persistence.
 */

const REDIRECT = 'http://localhost/callback';
type Contact = Record<string, unknown> & { id: string };

function cca(t: TestSandbox) {
  return createConfidentialClient(t.endpoints, {
    clientId: t.sandbox.info.clientId,
    tenantId: t.sandbox.info.tenantId,
    clientSecret: t.sandbox.info.clientSecret,
  });
}

async function appToken(t: TestSandbox): Promise<string> {
  const r = await cca(t).acquireTokenByClientCredential({
    scopes: [graphDefaultScope(t.endpoints)],
    skipCache: true,
  });
  return r?.accessToken as string;
}

/** A delegated token of `upn` (auto sign-in, the user consents to `scopes` for themself). */
async function userToken(t: TestSandbox, upn: string, scopes: string[]): Promise<string> {
  const client = cca(t);
  const pkce = await new CryptoProvider().generatePkceCodes();
  const url = await client.getAuthCodeUrl({
    scopes,
    redirectUri: REDIRECT,
    codeChallenge: pkce.challenge,
    codeChallengeMethod: 'S256',
    loginHint: upn,
  });
  const res = await t.http(url);
  expect(res.status, res.text.slice(0, 300)).toBe(302);
  const code = new URL(res.headers.location as string).searchParams.get('code');
  if (!code) throw new Error(`no code: ${res.headers.location}`);
  const r = await client.acquireTokenByCode({
    code,
    scopes,
    redirectUri: REDIRECT,
    codeVerifier: pkce.verifier,
  });
  return r.accessToken;
}

function get(
  t: TestSandbox,
  url: string,
  token: string,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const full = url.startsWith('https://') ? url : `${t.sandbox.info.graphBaseUrl}${url}`;
  return t.http(full, { headers: { authorization: `Bearer ${token}`, ...headers } });
}

/** One contact delta round: nextLinks until the deltaLink. */
async function deltaRound(
  t: TestSandbox,
  start: string,
  token: string,
  headers: Record<string, string> = {},
) {
  const items: Contact[] = [];
  const pageSizes: number[] = [];
  let res = await get(t, start, token, headers);
  for (;;) {
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    const body = res.json<{ value: Contact[]; '@odata.nextLink'?: string; '@odata.deltaLink'?: string }>();
    items.push(...body.value);
    pageSizes.push(body.value.length);
    if (body['@odata.deltaLink']) return { items, pageSizes, deltaLink: body['@odata.deltaLink'] };
    res = await get(t, body['@odata.nextLink'] as string, token, headers);
  }
}

/** Enabled members with a mailbox, not the admin. */
async function people(t: TestSandbox): Promise<AdminUser[]> {
  const users = (await t.sandbox.admin.listUsers({ top: 1000, userType: 'Member', accountEnabled: true }))
    .value;
  return users.filter((u) => u.mail && !u.isAdmin);
}

const denied = { code: 'ErrorAccessDenied', message: 'Access is denied. Check credentials and try again.' };

describe('application access (Contacts.Read)', () => {
  let t: TestSandbox;
  beforeAll(async () => {
    t = await startTestSandbox({ users: 12, groups: 3, autoSignIn: true, contactsPerUser: 5 });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers 403 ErrorAccessDenied until an admin consents to Contacts.Read; then any mailbox reads', async () => {
    const [someone] = await people(t);
    const before = await get(t, `/users/${someone?.id}/contacts`, await appToken(t));
    expect(before.status).toBe(403);
    expect(before.json<{ error: Record<string, unknown> }>().error).toMatchObject(denied);

    // The registration asks for Contacts.Read (the portal's "API permissions"); nothing is
    // granted until admin consent.
    await t.sandbox.admin.setRequiredPermissions(t.sandbox.info.clientId, {
      appRoles: ['User.Read.All', 'Group.Read.All', 'Contacts.Read'],
    });
    expect((await get(t, `/users/${someone?.id}/contacts`, await appToken(t))).status).toBe(403);
    await t.sandbox.admin.addRedirectUri(t.sandbox.info.clientId, REDIRECT);
    await consentAsAdmin(t, { redirectUri: REDIRECT });

    const after = await get(t, `/users/${someone?.id}/contacts`, await appToken(t));
    expect(after.status, after.text).toBe(200);
    expect(after.json<{ value: Contact[] }>().value).toHaveLength(5);
  });
});

describe('contacts of a mailbox', () => {
  let t: TestSandbox;
  let token: string;
  let users: AdminUser[];
  beforeAll(async () => {
    t = await startTestSandbox({
      users: 30,
      groups: 3,
      autoSignIn: true,
      contactsPerUser: 250,
      sharedMailboxes: 2,
      contactsPerMailbox: 30,
    });
    await t.sandbox.admin.addRedirectUri(t.sandbox.info.clientId, REDIRECT);
    await t.sandbox.admin.grantConsent(t.sandbox.info.clientId, { appRoles: ['Contacts.Read'] });
    token = await appToken(t);
    users = await people(t);
  });
  afterEach(async () => {
    await t.sandbox.admin.resetMailboxThrottling();
    await t.sandbox.admin.setLatency(0);
  });
  afterAll(async () => {
    await t?.close();
    removeTestDataDir();
  });

  it('pages hold at most 200 contacts even when Prefer odata.maxpagesize asks for 1000 (list and delta)', async () => {
    const u = users[0] as AdminUser;
    const prefer = { prefer: 'odata.maxpagesize=1000' };
    const round = await deltaRound(t, `/users/${u.id}/contactFolders/contacts/contacts/delta`, token, prefer);
    expect(round.pageSizes).toEqual([200, 50]);
    expect(new Set(round.items.map((c) => c.id)).size).toBe(250);

    const list = await get(t, `/users/${u.id}/contacts?$top=1000`, token);
    const body = list.json<{ value: Contact[]; '@odata.nextLink'?: string }>();
    expect(body.value).toHaveLength(200);
    expect(body['@odata.nextLink']).toContain('$skip=200');
    const rest = (await get(t, body['@odata.nextLink'] as string, token)).json<{
      value: Contact[];
      '@odata.nextLink'?: string;
    }>();
    expect(rest.value).toHaveLength(50);
    expect(rest['@odata.nextLink']).toBeUndefined();

    // Without $top, Outlook's default page of 10.
    expect((await get(t, `/users/${u.id}/contacts`, token)).json<{ value: Contact[] }>().value).toHaveLength(
      10,
    );
  });

  it('the Microsoft Graph client pages through a contact delta round and keeps its deltaLink', async () => {
    const u = users[0] as AdminUser;
    const graph = createGraphClient(t.endpoints, async () => token);
    const first = await graph
      .api(`/users/${u.id}/contactFolders/contacts/contacts/delta`)
      .header('Prefer', 'odata.maxpagesize=200')
      .select(['displayName', 'mobilePhone'])
      .get();
    const seen: Contact[] = [];
    const it = new PageIterator(graph, first, (c: Contact) => {
      seen.push(c);
      return true;
    });
    await it.iterate();
    expect(seen).toHaveLength(250);
    expect(
      Object.keys(seen[0] ?? {})
        .filter((k) => !k.startsWith('@'))
        .sort(),
    ).toEqual(['displayName', 'id', 'mobilePhone']);
    expect(it.getDeltaLink()).toContain('$deltatoken=');
  });

  it('serves the contact resource, and $select limits it to the chosen properties', async () => {
    const u = users[0] as AdminUser;
    const [c] = (await get(t, `/users/${u.id}/contacts?$top=1`, token)).json<{ value: Contact[] }>().value;
    expect(Object.keys(c ?? {})).toEqual(
      expect.arrayContaining([
        'id',
        'createdDateTime',
        'lastModifiedDateTime',
        'changeKey',
        'parentFolderId',
        'givenName',
        'surname',
        'displayName',
        'companyName',
        'jobTitle',
        'businessPhones',
        'homePhones',
        'mobilePhone',
        'emailAddresses',
      ]),
    );
    const folder = (await get(t, `/users/${u.id}/contactFolders/contacts`, token)).json<{ id: string }>();
    expect(c?.parentFolderId).toBe(folder.id);
    const one = await get(
      t,
      `/users/${u.id}/contactFolders/${folder.id}/contacts/${c?.id}?$select=mobilePhone`,
      token,
    );
    expect(Object.keys(one.json()).filter((k) => !k.startsWith('@'))).toEqual(['id', 'mobilePhone']);
    const bad = await get(t, `/users/${u.id}/contacts?$select=nope`, token);
    expect(bad.status).toBe(400);
  });

  it('delta: a full round, then the changes: an added contact, a changed one with a new changeKey, a deleted one as @removed', async () => {
    const u = users[1] as AdminUser;
    const full = await deltaRound(t, `/users/${u.id}/contactFolders/contacts/contacts/delta`, token);
    expect(full.items).toHaveLength(250);
    const [changed, removed] = full.items;

    const added = await t.sandbox.admin.createContact(u.id, {
      givenName: 'Nora',
      surname: 'Newcontact',
      mobilePhone: '+49 151 0000000',
    });
    const updated = await t.sandbox.admin.updateContact(u.id, changed?.id as string, { jobTitle: 'Buyer' });
    expect(updated.changeKey).not.toBe(changed?.changeKey);
    await t.sandbox.admin.deleteContact(u.id, removed?.id as string);

    const next = await deltaRound(t, full.deltaLink, token);
    const byId = new Map(next.items.map((c) => [c.id, c]));
    expect(next.items).toHaveLength(3);
    expect(byId.get(added.id)).toMatchObject({
      givenName: 'Nora',
      surname: 'Newcontact',
      displayName: 'Nora Newcontact',
    });
    expect(byId.get(changed?.id as string)).toMatchObject({
      jobTitle: 'Buyer',
      changeKey: updated.changeKey,
    });
    expect(byId.get(removed?.id as string)).toMatchObject({ '@removed': { reason: 'deleted' } });

    const quiet = await deltaRound(t, next.deltaLink, token);
    expect(quiet.items).toEqual([]);
    expect((await get(t, `/users/${u.id}/contacts/${removed?.id}`, token)).status).toBe(404);
  });

  it('delta: a token whose sync state is gone answers 410 Gone SyncStateNotFound, and a new full round works', async () => {
    const u = users[2] as AdminUser;
    const start = `/users/${u.id}/contactFolders/contacts/contacts/delta`;
    const full = await deltaRound(t, start, token);
    await t.sandbox.admin.expireContactSyncStates({ userId: u.id });
    const stale = await get(t, full.deltaLink, token);
    expect(stale.status).toBe(410);
    expect(stale.json<{ error: { code: string } }>().error.code).toBe('SyncStateNotFound');
    const bogus = await get(t, `${start}?$deltatoken=not-a-token`, token);
    expect(bogus.status).toBe(410);
    expect((await deltaRound(t, start, token)).items).toHaveLength(250);
  });

  it('delegated: a folder not shared with the caller answers 403 ErrorAccessDenied; shared, it reads; unshared, 403 again', async () => {
    const owner = users[3] as AdminUser;
    const reader = users[4] as AdminUser;
    const delegated = await userToken(t, reader.userPrincipalName, ['Contacts.Read.Shared']);
    const path = `/users/${owner.id}/contactFolders/contacts/contacts?$top=5`;

    const before = await get(t, path, delegated);
    expect(before.status).toBe(403);
    expect(before.json<{ error: Record<string, unknown> }>().error).toMatchObject(denied);

    await t.sandbox.admin.shareContactFolder(owner.id, 'contacts', reader.id);
    const shared = await get(t, path, delegated);
    expect(shared.status, shared.text).toBe(200);
    expect(shared.json<{ value: Contact[] }>().value).toHaveLength(5);
    expect((await get(t, `/users/${owner.id}/contacts?$top=1`, delegated)).status).toBe(200);
    // Sharing one folder does not open the mailbox's folder list, nor another's folders.
    expect((await get(t, `/users/${owner.id}/contactFolders`, delegated)).status).toBe(403);
    expect((await get(t, `/users/${(users[5] as AdminUser).id}/contacts`, delegated)).status).toBe(403);
    // Their own mailbox: /me.
    expect((await get(t, '/me/contacts?$top=1', delegated)).status).toBe(200);

    await t.sandbox.admin.unshareContactFolder(owner.id, 'contacts', reader.id);
    expect((await get(t, path, delegated)).status).toBe(403);
  });

  it('delegated: Contacts.Read reads the own mailbox only; a shared folder needs Contacts.Read.Shared', async () => {
    const owner = users[6] as AdminUser;
    const reader = users[7] as AdminUser;
    await t.sandbox.admin.shareContactFolder(owner.id, 'contacts', reader.id);
    const readOnly = await userToken(t, reader.userPrincipalName, ['Contacts.Read']);
    expect((await get(t, '/me/contacts', readOnly)).status).toBe(200);
    expect((await get(t, `/users/${owner.id}/contacts`, readOnly)).status).toBe(403);
    expect((await get(t, '/me/contacts', await appToken(t))).status).toBe(400);
  });

  it('shared mailboxes: users that cannot sign in; a FullAccess member reads them, a removed member gets 403', async () => {
    const shared = await t.sandbox.admin.listSharedMailboxes();
    expect(shared).toHaveLength(2);
    const box = shared[0];
    expect((await t.sandbox.admin.getUser(box?.userId as string)).accountEnabled).toBe(false);
    const member = users[8] as AdminUser;
    await t.sandbox.admin.addMailboxMember(box?.userId as string, member.id);
    const delegated = await userToken(t, member.userPrincipalName, ['Contacts.Read.Shared']);

    const round = await deltaRound(
      t,
      `/users/${box?.userId}/contactFolders/contacts/contacts/delta`,
      delegated,
    );
    expect(round.items).toHaveLength(30);
    expect((await get(t, `/users/${box?.userId}/contactFolders`, delegated)).status).toBe(200);

    await t.sandbox.admin.removeMailboxMember(box?.userId as string, member.id);
    const after = await get(t, `/users/${box?.userId}/contacts`, delegated);
    expect(after.status).toBe(403);
    expect(after.json<{ error: Record<string, unknown> }>().error).toMatchObject(denied);
  });

  it('throttling: the fifth request in flight to one mailbox gets 429 MailboxConcurrency with Retry-After; another mailbox is not affected', async () => {
    const u = users[9] as AdminUser;
    const other = users[10] as AdminUser;
    // Requests stay in flight for the latency: long enough for five to overlap on a busy machine.
    await t.sandbox.admin.setLatency(1500);
    const answers = await Promise.all([
      ...Array.from({ length: 5 }, () => get(t, `/users/${u.id}/contacts?$top=1`, token)),
      get(t, `/users/${other.id}/contacts?$top=1`, token),
    ]);
    const mine = answers.slice(0, 5);
    expect(mine.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 429]);
    const refused = mine.find((a) => a.status === 429) as RawResponse;
    expect(refused.json<{ error: Record<string, unknown> }>().error).toMatchObject({
      code: 'ApplicationThrottled',
      message: 'Application is over its MailboxConcurrency limit.',
    });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(answers[5]?.status).toBe(200);
  });

  it('throttling: past the requests-per-window budget (lowered here from 10,000 per 10 min) a mailbox answers 429 with Retry-After', async () => {
    const u = users[11] as AdminUser;
    await t.sandbox.admin.setMailboxThrottling({ requestsPerWindow: 3, windowMs: 60_000 });
    for (let i = 0; i < 3; i++)
      expect((await get(t, `/users/${u.id}/contacts?$top=1`, token)).status).toBe(200);
    const over = await get(t, `/users/${u.id}/contacts?$top=1`, token);
    expect(over.status).toBe(429);
    expect(over.json<{ error: { code: string } }>().error.code).toBe('ApplicationThrottled');
    const retry = Number(over.headers['retry-after']);
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(60);
    expect((await get(t, `/users/${(users[12] as AdminUser).id}/contacts?$top=1`, token)).status).toBe(200);
  });

  it('$batch: five items for one mailbox in parallel get one 429 MailboxConcurrency; chained with dependsOn, none', async () => {
    const u = users[13] as AdminUser;
    const batch = async (chained: boolean) => {
      const requests = Array.from({ length: 5 }, (_, i) => ({
        id: String(i + 1),
        method: 'GET',
        url: `/users/${u.id}/contacts?$top=1&$skip=${i}`,
        ...(chained && i > 0 ? { dependsOn: [String(i)] } : {}),
      }));
      const res = await t.http(`${t.sandbox.info.graphBaseUrl}/$batch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ requests }),
      });
      expect(res.status).toBe(200);
      return res.json<{
        responses: Array<{ id: string; status: number; headers: Record<string, string>; body: unknown }>;
      }>().responses;
    };
    const parallel = await batch(false);
    expect(parallel.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 429]);
    const throttled = parallel.find((r) => r.status === 429);
    expect(throttled?.headers['Retry-After']).toBeDefined();
    expect(throttled?.body).toMatchObject({ error: { code: 'ApplicationThrottled' } });
    expect((await batch(true)).map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
  });

  it('seeds some contacts incomplete on purpose: about 5 % without any name, about 10 % without any phone, the rest with a phone', async () => {
    let total = 0;
    let nameless = 0;
    let phoneless = 0;
    for (const u of users.slice(14, 18)) {
      const round = await deltaRound(t, `/users/${u.id}/contactFolders/contacts/contacts/delta`, token);
      for (const c of round.items) {
        total++;
        if (!c.givenName && !c.surname) nameless++;
        const phones = [
          ...(c.businessPhones as string[]),
          ...(c.homePhones as string[]),
          c.mobilePhone,
        ].filter(Boolean);
        if (phones.length === 0) phoneless++;
      }
    }
    expect(total).toBe(1000);
    expect(nameless / total).toBeGreaterThan(0.02);
    expect(nameless / total).toBeLessThan(0.09);
    expect(phoneless / total).toBeGreaterThan(0.06);
    expect(phoneless / total).toBeLessThan(0.15);
  });
});

describe('mailboxes across a restart', () => {
  it('keeps created contacts, sharing, members and the delta position; seeded contacts stay the same', async () => {
    const stateFile = path.join(mkdtempSync(path.join(testDataDir(), 'state-')), 'state.json');
    const options = {
      users: 20,
      groups: 3,
      autoSignIn: true,
      contactsPerUser: 40,
      sharedMailboxes: 1,
      contactsPerMailbox: 7,
      stateFile,
    };
    let t = await startTestSandbox(options);
    await t.sandbox.admin.addRedirectUri(t.sandbox.info.clientId, REDIRECT);
    await t.sandbox.admin.grantConsent(t.sandbox.info.clientId, { appRoles: ['Contacts.Read'] });
    const [owner, reader] = await people(t);
    const [shared] = await t.sandbox.admin.listSharedMailboxes();
    const start = `/users/${owner?.id}/contactFolders/contacts/contacts/delta`;
    const full = await deltaRound(t, start, await appToken(t));
    const added = await t.sandbox.admin.createContact(owner?.id as string, { displayName: 'Kept Across' });
    await t.sandbox.admin.shareContactFolder(owner?.id as string, 'contacts', reader?.id as string);
    await t.sandbox.admin.addMailboxMember(shared?.userId as string, reader?.id as string);
    await t.close();

    t = await startTestSandbox(options);
    try {
      await t.sandbox.admin.addRedirectUri(t.sandbox.info.clientId, REDIRECT);
      const token = await appToken(t);
      const next = await deltaRound(t, full.deltaLink.replace(/^https:\/\/[^/]+\/v1\.0/, ''), token);
      expect(next.items.map((c) => c.id)).toEqual([added.id]);
      const again = await deltaRound(t, start, token);
      expect(again.items).toHaveLength(41);
      expect(again.items.slice(0, 40)).toEqual(full.items);
      const delegated = await userToken(t, reader?.userPrincipalName as string, ['Contacts.Read.Shared']);
      expect((await get(t, `/users/${owner?.id}/contacts`, delegated)).status).toBe(200);
      const box = await get(t, `/users/${shared?.userId}/contacts?$top=50`, delegated);
      expect(box.json<{ value: Contact[] }>().value).toHaveLength(7);
    } finally {
      await t.close();
    }
  });
});

describe('seeded sharing (shareContactsWithAdmin)', () => {
  let t: TestSandbox;
  beforeAll(async () => {
    t = await startTestSandbox({
      users: 12,
      groups: 2,
      autoSignIn: true,
      contactsPerUser: 3,
      shareContactsWithAdmin: true,
    });
    await t.sandbox.admin.addRedirectUri(t.sandbox.info.clientId, REDIRECT);
  });
  afterAll(async () => t?.close());

  it('every seeded user has shared their Contacts folder with the admin (read): the admin reads it delegated, another user does not; unshared, 403', async () => {
    const admin = (await t.sandbox.admin.listUsers({ top: 100 })).value.find((u) => u.isAdmin) as AdminUser;
    const [owner, other] = await people(t);
    const asAdmin = await userToken(t, admin.userPrincipalName, ['Contacts.Read.Shared']);
    const path = `/users/${owner?.id}/contactFolders/contacts/contacts/delta`;
    const round = await deltaRound(t, path, asAdmin);
    expect(round.items).toHaveLength(3);
    const asOther = await userToken(t, other?.userPrincipalName as string, ['Contacts.Read.Shared']);
    expect((await get(t, path, asOther)).status).toBe(403);
    // Only the default folder is shared: the folder hierarchy stays private.
    expect((await get(t, `/users/${owner?.id}/contactFolders`, asAdmin)).status).toBe(403);
    const [folder] = await t.sandbox.admin.listContactFolders(owner?.id as string);
    expect(folder?.sharedWith).toEqual([admin.id]);
    await t.sandbox.admin.unshareContactFolder(owner?.id as string, 'contacts', admin.id);
    expect((await get(t, path, asAdmin)).status).toBe(403);
  });
});
