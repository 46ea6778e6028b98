import 'reflect-metadata';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApiKey } from '../../src/app/access.js';
import { revokeKey } from '../../src/app/fleet.js';
import type { SyncedContactInput } from '../../src/domain/contact.types.js';
import { toE164 } from '../../src/domain/phone-number.js';
import type { Gateway } from '../../src/gateway.js';
import { LookupCallerDocument, SavePhonebookVisibilityDocument } from '../generated/graphql.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';
import { gql, seedOperator, seedPbx, startTestGateway } from '../support/gateway.js';

/**
 * Caller ID over plain HTTP (issue 13 item 4): `GET /linkus/lookup/caller?number=…`, the PBX's
 * "contact lookup URL", over the same use case, keys and scoping as GraphQL's lookupCaller.
 */

let serial = 0;
const contact = (displayName: string, numbers: string[]): SyncedContactInput => {
  serial += 1;
  const [firstName, ...rest] = displayName.split(' ');
  return {
    firstName,
    lastName: rest.join(' ') || null,
    displayName,
    company: 'Co Ltd',
    jobTitle: null,
    emails: [],
    numbers: numbers.map((dialled) => ({ kind: 'BUSINESS' as const, dialled, e164: toE164(dialled, 'GB') })),
    source: { mailboxId: 'mbx', folderId: 'contacts', contactId: `outlook-${serial}`, changeKey: 'ck' },
  };
};

interface Answer {
  status: number;
  headers: Headers;
  body: {
    match?: Record<string, unknown> | null;
    errors?: Array<{ message: string; extensions: Record<string, unknown> }>;
  };
}

/** The raw query string is sent as given: a PBX fills its lookup URL without encoding. */
async function get(url: string, key: string | null, query: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/linkus/lookup/caller${query}`, {
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
  });
  return { status: res.status, headers: res.headers, body: await res.json() } as Answer;
}
const byNumber = (url: string, key: string | null, number: string) =>
  get(url, key, `?number=${encodeURIComponent(number)}`);

describeEachDb('caller ID over plain HTTP: GET /linkus/lookup/caller (issue 13 item 4)', (leg) => {
  let db: TestDatabase;
  let gw: Gateway;
  let t: Awaited<ReturnType<typeof seedPbx>>;
  const ext: Record<string, string> = {};
  const linkus: Record<string, string> = {};

  beforeAll(async () => {
    db = await leg.create();
    gw = await startTestGateway(db);
    t = await seedPbx(gw, { name: 'UK', defaultCountry: 'GB' });
    const store = gw.openStore();
    const pbxId = t.pbx.id;
    for (const [number, first, last] of [
      ['1001', 'Alice', 'Archer'],
      ['1002', 'Bob', 'Baker'],
    ]) {
      const e = await store.directory.createExtension(pbxId, {
        number,
        firstName: first,
        lastName: last,
        email: null,
        mobileNumber: null,
        jobTitle: null,
      });
      ext[first] = e.id;
      linkus[first] = (await createApiKey(store, { pbxId, role: 'linkus', extensionNumber: number })).key;
    }
    await store.contacts.upsertSynced(pbxId, { kind: 'EXTENSION', extensionId: ext.Alice }, [
      contact('Zoe Personal', ['+44 20 7946 0018']),
    ]);
    await store.contacts.upsertSynced(pbxId, { kind: 'EXTENSION', extensionId: ext.Bob }, [
      contact('Secret Sam', ['020 7946 0099']),
    ]);
    const book: Record<string, string> = {};
    for (const name of ['Everyone', 'Bobs', 'Hidden']) {
      book[name] = (await store.contacts.ensureSyncedPhonebook(pbxId, `shared-${name}`, name)).id;
    }
    const into = (name: string, c: SyncedContactInput) =>
      store.contacts.upsertSynced(pbxId, { kind: 'PHONEBOOK', phonebookId: book[name] }, [c]);
    await into('Everyone', contact('Acme Supply', ['00442079460055']));
    await into('Bobs', contact('Dan Director', ['020 7946 0066']));
    await into('Hidden', contact('Harry Hidden', ['020 7946 0077']));
    for (const [name, v] of [
      ['Everyone', { allExtensions: true, extensionIds: [] }],
      ['Bobs', { allExtensions: false, extensionIds: [ext.Bob] }],
    ] as const) {
      const res = await gql(gw.url, t.keys.admin, SavePhonebookVisibilityDocument, {
        input: { phonebookId: book[name], extensionGroupIds: [], ...v, extensionIds: [...v.extensionIds] },
      });
      expect(res.body.errors).toBeUndefined();
    }
  });
  afterAll(async () => {
    await gw?.stop();
    await db?.drop();
  });

  it('"+44 20 7946 0018", "020 7946 0018" and "00442079460018" find the same contact, as a PBX puts them in its URL; JSON, never cached', async () => {
    const queries = [
      '?number=%2B44%2020%207946%200018',
      '?number=+442079460018', // a leading + as the PBX writes it, unencoded: the number's own
      '?number=+44+20+7946+0018',
      '?number=020%207946%200018',
      '?number=020+7946+0018', // form encoding: + is a space
      '?number=00442079460018',
    ];
    for (const q of queries) {
      const res = await get(gw.url, linkus.Alice, q);
      expect(res.status, q).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.body.match, q).toMatchObject({
        source: 'PERSONAL_CONTACT',
        displayName: 'Zoe Personal',
        number: '+44 20 7946 0018',
        phonebookId: null,
      });
    }
    expect((await byNumber(gw.url, linkus.Alice, '+1 212 555 0100')).body).toEqual({ match: null });
  });

  it("scoping: a LINKUS key never sees another extension's personal contact or an ungranted phonebook; ADMIN and VIEWER see every phonebook and no personal contact", async () => {
    const name = async (key: string, number: string) => {
      const res = await byNumber(gw.url, key, number);
      expect(res.status).toBe(200);
      return (res.body.match?.displayName as string | undefined) ?? null;
    };
    // Alice: her own contact, the phonebook granted to all; not Bob's contact, Bob's phonebook or Hidden.
    expect(await name(linkus.Alice, '020 7946 0018')).toBe('Zoe Personal');
    expect(await name(linkus.Alice, '020 7946 0055')).toBe('Acme Supply');
    expect(await name(linkus.Alice, '020 7946 0099')).toBeNull();
    expect(await name(linkus.Alice, '020 7946 0066')).toBeNull();
    expect(await name(linkus.Alice, '020 7946 0077')).toBeNull();
    // Bob: his own and his phonebook; not Alice's contact.
    expect(await name(linkus.Bob, '020 7946 0099')).toBe('Secret Sam');
    expect(await name(linkus.Bob, '020 7946 0066')).toBe('Dan Director');
    expect(await name(linkus.Bob, '020 7946 0018')).toBeNull();
    expect(await name(linkus.Bob, '020 7946 0077')).toBeNull();
    for (const key of [t.keys.admin, t.keys.viewer]) {
      expect(await name(key, '020 7946 0077')).toBe('Harry Hidden');
      expect(await name(key, '020 7946 0066')).toBe('Dan Director');
      expect(await name(key, '020 7946 0018')).toBeNull();
      expect(await name(key, '1002')).toBe('Bob Baker');
    }
  });

  it('answers exactly what GraphQL lookupCaller answers, for every key and number', async () => {
    const numbers = [
      '+44 20 7946 0018',
      '00442079460055',
      '020 7946 0066',
      '020 7946 0077',
      '020 7946 0099',
      '1001',
      '1002',
      '+1 212 555 0100',
    ];
    for (const key of [linkus.Alice, linkus.Bob, t.keys.admin, t.keys.viewer]) {
      for (const number of numbers) {
        const [http, graphql] = await Promise.all([
          byNumber(gw.url, key, number),
          gql(gw.url, key, LookupCallerDocument, { number }),
        ]);
        expect(graphql.body.errors).toBeUndefined();
        expect(http.body, number).toEqual({ match: graphql.body.data?.lookupCaller ?? null });
      }
    }
  });

  it('a revoked key gets 401 UNAUTHENTICATED at once, as do a missing and an unknown key', async () => {
    const store = gw.openStore();
    const k = await createApiKey(store, { pbxId: t.pbx.id, role: 'linkus', extensionNumber: '1001' });
    expect((await byNumber(gw.url, k.key, '1002')).status).toBe(200);
    // Revoked as an operator or `npm run keys -- key-revoke` revokes it (announced: the gateway,
    // which has just served the key, forgets it at once; issue 13).
    await revokeKey(
      { store, revocations: gw.services.keyRevocations, now: () => new Date(), log: () => {} },
      k.id,
    );
    for (const key of [k.key, null, 'epg_unknown', 'not-a-token']) {
      const res = await byNumber(gw.url, key, '1002');
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(res.body.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
      expect(res.body.match).toBeUndefined();
    }
  });

  it('bad input is 400 INVALID_INPUT: letters, a NUL byte, an oversized number, no number, two numbers, bad encoding', async () => {
    for (const q of [
      '?number=abc',
      '?number=020%007946',
      `?number=${'1'.repeat(65)}`,
      '',
      '?other=1',
      '?number=',
      '?number=1001&number=1002',
      '?number=%E0%A4%A',
    ]) {
      const res = await get(gw.url, t.keys.admin, q);
      expect(res.status, q).toBe(400);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.body.errors?.[0]?.extensions, q).toMatchObject({ code: 'INVALID_INPUT', field: 'number' });
    }
    // GraphQL says the same of the same number.
    const graphql = await gql(gw.url, t.keys.admin, LookupCallerDocument, { number: 'abc' });
    expect(graphql.body.errors?.[0]?.extensions?.code).toBe('INVALID_INPUT');
  });

  it('S2: the Linkus web client of a registered redirect URI may call it across origins; no other origin', async () => {
    await gw.openStore().integrations.update(t.pbx.id, {
      linkusSsoEnabled: true,
      linkusSsoRedirectUris: ['https://linkus.example.com/callback'],
    });
    const allowed = 'https://linkus.example.com';
    const preflight = (origin: string) =>
      fetch(`${gw.url}/linkus/lookup/caller?number=1002`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'GET',
          'access-control-request-headers': 'authorization',
        },
      });
    const ok = await preflight(allowed);
    expect(ok.headers.get('access-control-allow-origin')).toBe(allowed);
    expect(ok.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    expect(
      (await preflight('https://evil.example.com')).headers.get('access-control-allow-origin'),
    ).toBeNull();
    const answer = await get(gw.url, linkus.Alice, '?number=1002', { origin: allowed });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('access-control-allow-origin')).toBe(allowed);
  });

  it('403 FORBIDDEN for a LINKUS key of no extension and for a key naming another PBX; an operator names the PBX (PBX_REQUIRED without)', async () => {
    const noExtension = await byNumber(gw.url, t.keys.linkus, '1002');
    expect(noExtension.status).toBe(403);
    expect(noExtension.body.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    const other = await get(gw.url, t.keys.admin, '?number=1002', { 'x-pbx-id': 'another-pbx' });
    expect(other.status).toBe(403);
    expect(other.body.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    const op = await seedOperator(gw);
    const unnamed = await byNumber(gw.url, op.key, '1002');
    expect(unnamed.status).toBe(400);
    expect(unnamed.body.errors?.[0]?.extensions.code).toBe('PBX_REQUIRED');
    const named = await get(gw.url, op.key, '?number=1002', { 'x-pbx-id': t.pbx.id });
    expect(named.status).toBe(200);
    expect(named.body.match?.displayName).toBe('Bob Baker');
  });
});

describeEachDb('caller ID over plain HTTP: the auth-failure limit (issue 12 item 6)', (leg) => {
  let db: TestDatabase;
  let gw: Gateway;
  let t: Awaited<ReturnType<typeof seedPbx>>;

  beforeAll(async () => {
    db = await leg.create();
    gw = await startTestGateway(db, { AUTH_FAILURES_PER_MINUTE: '3' });
    t = await seedPbx(gw, { defaultCountry: 'GB' });
  });
  afterAll(async () => {
    await gw?.stop();
    await db?.drop();
  });

  it('its 401s count with those of /graphql: past the limit a bad key gets 429, a valid key is still answered', async () => {
    expect((await byNumber(gw.url, 'epg_bad', '1001')).status).toBe(401);
    expect((await gql(gw.url, 'epg_bad', '{ __typename }')).status).toBe(401);
    expect((await byNumber(gw.url, null, '1001')).status).toBe(401);
    for (const key of ['epg_bad', null]) {
      const refused = await byNumber(gw.url, key, '1001');
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(refused.body.errors?.[0]?.extensions.code).toBe('TOO_MANY_REQUESTS');
    }
    expect((await gql(gw.url, 'epg_bad', '{ __typename }')).status).toBe(429);
    const valid = await byNumber(gw.url, t.keys.admin, '1001');
    expect(valid.status).toBe(200);
    expect(valid.body).toEqual({ match: null });
  });
});
