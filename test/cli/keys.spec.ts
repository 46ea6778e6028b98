import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { FleetAuditLogDocument, MeDocument, PbxDocument, PbxsDocument } from '../generated/graphql.js';
import { createSqliteDatabase, type TestDatabase } from '../support/db.js';
import { gql, startTestGateway, uniquePrefix, wsClient } from '../support/gateway.js';
import { databaseUrl, runScript } from '../support/process.js';

/**
 * `npm run keys` as a process (issue 11 item 5): the fleet from the command line, beside a
 * running gateway on the same database and Redis. On SQLite only: each run of the command is
 * a process of a few seconds, and what it does in the database is the use cases' own, tested
 * on both databases over GraphQL (test/graphql/fleet.db.spec.ts, test/store/delete-pbx.db.spec.ts).
 */
const KEYS = 'src/cli/keys.ts';
/** Each command is a process that loads the ORM: a few seconds on a busy 2-core machine. */
const SLOW = { timeout: 180_000 };

describe('npm run keys: PBXs and keys from the command line', () => {
  let db: TestDatabase;
  let gw: Gateway;
  let env: Record<string, string>;
  const keys = (...args: string[]) => runScript(KEYS, args, env);

  beforeAll(async () => {
    db = await createSqliteDatabase();
    const prefix = uniquePrefix('keys');
    gw = await startTestGateway(db, { QUEUE_PREFIX: prefix });
    env = { DATABASE_URL: databaseUrl(db.config), REDIS_URL: inject('redisUrl'), QUEUE_PREFIX: prefix };
  });
  afterAll(async () => {
    await gw?.stop();
    await db?.drop();
  });

  let operatorKey: string;
  let pbxId: string;
  let adminKey: string;

  it('operator-create, pbx-create, pbx-list, key-create and key-list', SLOW, async () => {
    const op = await keys('operator-create', '--label', 'provider');
    expect(op.code).toBe(0);
    operatorKey = op.stdout.trim();
    expect(operatorKey).toMatch(/^epg_[A-Za-z0-9_-]{40,}$/);

    const made = await keys(
      'pbx-create',
      '--name',
      'CLI PBX',
      '--time-zone',
      'Europe/Berlin',
      '--capacity',
      '40',
    );
    expect(made.code).toBe(0);
    pbxId = made.stdout.trim();
    expect((await keys('pbx-create', '--name', 'Other PBX')).code).toBe(0);
    const listed = await keys('pbx-list');
    expect(listed.stdout).toContain(`${pbxId}\tCLI PBX\tEurope/Berlin\n`);
    expect(listed.stdout).toContain('\tOther PBX\tUTC\n');
    expect((await keys('pbx-list', '--search', 'cli')).stdout.trim().split('\n')).toEqual([
      `${pbxId}\tCLI PBX\tEurope/Berlin`,
    ]);
    // The operator key made by the CLI sees the same fleet over GraphQL.
    const fleet = await gql(gw.url, operatorKey, PbxsDocument, { search: 'CLI' });
    expect(fleet.body.data?.pbxs.nodes).toEqual([
      expect.objectContaining({ id: pbxId, extensionCapacity: 40 }),
    ]);

    const key = await keys('key-create', '--pbx', pbxId, '--role', 'admin', '--label', 'portal');
    expect(key.code).toBe(0);
    adminKey = key.stdout.trim();
    expect((await gql(gw.url, adminKey, PbxDocument)).body.data?.pbx).toMatchObject({
      id: pbxId,
      name: 'CLI PBX',
    });
    const list = await keys('key-list', '--pbx', pbxId);
    const lines = list.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0].split('\t')).toEqual([
      expect.any(String),
      adminKey.slice(0, 10),
      'ADMIN',
      'portal',
      expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      'active',
    ]);
    expect(list.stdout).not.toContain(adminKey);
    const ops = await keys('key-list', '--operators');
    expect(ops.stdout).toContain(`\t${operatorKey.slice(0, 10)}\tOPERATOR\tprovider\t`);
  });

  it(
    'key-create --role linkus: bound to the extension --extension names, refused without one or for an unknown number',
    SLOW,
    async () => {
      // A PBX of its own: the other cases count the keys of theirs.
      const own = (
        await gw.openStore().tenants.createPbx({
          name: 'Linkus PBX',
          timeZone: 'UTC',
          publicBaseUrl: null,
          extensionCapacity: 10,
          defaultCountry: 'GB',
        })
      ).id;
      await gw.openStore().directory.createExtension(own, {
        number: '2001',
        firstName: 'Lina',
        lastName: 'Linkus',
        email: null,
        mobileNumber: null,
        jobTitle: null,
      });
      const [missing, unknown, made] = await Promise.all([
        keys('key-create', '--pbx', own, '--role', 'linkus'),
        keys('key-create', '--pbx', own, '--role', 'linkus', '--extension', '4242'),
        keys('create', '--pbx', own, '--role', 'linkus', '--extension', '2001'),
      ]);
      expect([missing.code, unknown.code, made.code]).toEqual([1, 1, 0]);
      expect(missing.stderr).toContain('--extension <extension number>');
      expect(unknown.stderr).toContain('No extension with number 4242');
      const me = await gql(gw.url, made.stdout.trim(), MeDocument);
      expect(me.body.data?.me).toMatchObject({ role: 'LINKUS', extension: { number: '2001' } });
    },
  );

  it('refuses bad input with a message and exit code 1, changing nothing', SLOW, async () => {
    const [operatorRole, noName, badZone, unknown] = await Promise.all([
      keys('key-create', '--pbx', pbxId, '--role', 'operator'),
      keys('pbx-create'),
      keys('pbx-create', '--name', 'Bad', '--time-zone', 'Mars/Base'),
      keys('no-such-command'),
    ]);
    expect([operatorRole.code, noName.code, badZone.code, unknown.code]).toEqual([1, 1, 1, 1]);
    expect(operatorRole.stderr).toContain('role: must be admin, viewer or linkus');
    expect(noName.stderr).toContain('usage: keys pbx-create --name');
    expect(badZone.stderr).toContain('timeZone');
    expect(unknown.stderr).toContain('usage: npm run keys -- <command>');
    const pbxs = await gql(gw.url, operatorKey, PbxsDocument, { search: 'Bad' });
    expect(pbxs.body.data?.pbxs.totalCount).toBe(0);
  });

  it(
    'key-revoke by prefix: the next request answers 401 and an open socket of the key closes within 5 s',
    SLOW,
    async () => {
      let closed: (c: { code: number; at: number }) => void = () => {};
      const socketClosed = new Promise<{ code: number; at: number }>((resolve) => {
        closed = resolve;
      });
      const client = wsClient(gw.url, adminKey, { onClose: (code) => closed({ code, at: Date.now() }) });
      await new Promise((resolve, reject) =>
        client.subscribe({ query: '{ pbx { id } }' }, { next: resolve, error: reject, complete: () => {} }),
      );
      client.subscribe(
        { query: 'subscription { syncProgress { id } }' },
        { next: () => {}, error: () => {}, complete: () => {} },
      );

      const revoked = await keys('key-revoke', adminKey.slice(0, 10));
      const exitedAt = Date.now();
      expect(revoked.code).toBe(0);
      expect(revoked.stdout).toMatch(/^Revoked key \S+ \(epg_\S+, ADMIN, PBX /);
      expect((await gql(gw.url, adminKey, PbxDocument)).status).toBe(401);
      const close = await Promise.race([
        socketClosed,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('socket still open after 5 s')), 5000),
        ),
      ]);
      expect(close.code).toBe(4403);
      expect(close.at - exitedAt).toBeLessThan(5000);
      await client.dispose();

      const [withRevoked, unknown, short] = await Promise.all([
        keys('key-list', '--pbx', pbxId, '--all'),
        keys('key-revoke', 'epg_nosuchkeyprefix'),
        keys('key-revoke', 'epg'),
      ]);
      expect(withRevoked.stdout).toMatch(/\tADMIN\tportal\t\S+\trevoked \d{4}-/);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain('No API key with prefix epg_nosuchkeyprefix');
      expect(short.code).toBe(1);
      expect(short.stderr).toContain('at least 6 characters');
    },
  );

  it(
    'pbx-delete: refused while a sync of the PBX runs, then deletes it; the CLI changes are in the fleet audit log',
    SLOW,
    async () => {
      // Held until released below: long enough for a CLI's cold start on a busy machine.
      expect(await gw.services.coordinator.acquireLock(pbxId, 'run-x:token', 10 * 60_000)).toBe(true);
      const busy = await keys('pbx-delete', pbxId);
      expect(busy.code).toBe(1);
      expect(busy.stderr).toMatch(/A sync of PBX \S+ is running/);
      await gw.services.coordinator.releaseLock(pbxId, 'run-x:token');
      const deleted = await keys('pbx-delete', pbxId);
      expect(deleted.code).toBe(0);
      expect(deleted.stdout).toMatch(
        new RegExp(`^Deleted PBX ${pbxId} \\(CLI PBX\\): 1 key\\(s\\) revoked, \\d+ row\\(s\\) deleted`),
      );
      expect(
        (await gql(gw.url, operatorKey, PbxsDocument, { search: 'CLI PBX' })).body.data?.pbxs.totalCount,
      ).toBe(0);

      const log = await gql(gw.url, operatorKey, FleetAuditLogDocument, { first: 50 });
      const cli = (log.body.data?.fleetAuditLog.nodes ?? []).filter((e) => e.role === 'CLI');
      expect(cli.map((e) => [e.operation, e.outcome])).toEqual(
        expect.arrayContaining([
          ['keys pbx-delete', 'OK'],
          ['keys pbx-delete', 'SYNC_RUNNING'],
          ['keys key-revoke', 'OK'],
          ['keys key-create', 'OK'],
          ['keys key-create', 'INVALID_INPUT'],
          ['keys pbx-create', 'INVALID_INPUT'],
          ['keys pbx-create', 'OK'],
          ['keys operator-create', 'OK'],
        ]),
      );
      expect(JSON.stringify(cli)).not.toContain(adminKey);
    },
  );
});
