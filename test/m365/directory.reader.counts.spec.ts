import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countDirectory, fullReadLowerBound } from '../../bench/support/lower-bound.js';
import {
  consentAsAdmin,
  removeTestDataDir,
  startTestSandbox,
  type TestSandbox,
} from '../sandbox/sandbox-test.helpers.js';
import {
  allAdminGroups,
  allAdminUsers,
  appOf,
  byId,
  drain,
  expectedGroup,
  expectedUser,
  readerFor,
} from './reader-test.helpers.js';

/**
 * Request counts of a full read against the benchmark's lower bound
 * (bench/support/lower-bound.ts: ⌈users/999⌉ + ⌈groups/999⌉ + ⌈memberships/999⌉; target ≤ 1.1 ×),
 * on a tenant big enough to need several pages of everything.
 */

let t: TestSandbox;
/** The single-chain read these counts are about (a busy machine must not make it partition). */
const ONE_CHAIN = { partitionAboveMs: Number.POSITIVE_INFINITY };

beforeAll(async () => {
  t = await startTestSandbox({ users: 2500, groups: 140 });
  await consentAsAdmin(t);
});

afterAll(async () => {
  await t?.close();
  removeTestDataDir();
});

describe('request counts of a full read (2,500 users, 140 groups)', () => {
  it('users: 1 delta-latest + 3 pages of 999 + 1 recycle-bin page', async () => {
    const reader = readerFor(t, ONE_CHAIN);
    await t.sandbox.admin.resetStats();
    const stream = await reader.readUsers(appOf(t.sandbox), { extraProperties: [] });
    const { items, pages } = await drain(stream);
    expect(items).toHaveLength(2500);
    expect(pages).toBe(3); // the empty recycle bin yields no page
    const admin = await allAdminUsers(t.sandbox);
    expect(byId(items)).toEqual(new Map(admin.map((u) => [u.id, expectedUser(u)])));
    const stats = await t.sandbox.admin.stats();
    expect(stats.graphByPath).toEqual({
      'GET /users/delta': 1,
      'GET /users': 3,
      'GET /directory/deletedItems/microsoft.graph.user': 1,
    });
    expect(reader.stats()).toEqual({ requests: 5, throttled: 0 });
  });

  it('groups by delta: a handful of delta pages; the full read within 1.1 × the lower bound', async () => {
    const reader = readerFor(t, ONE_CHAIN);
    const admin = await allAdminGroups(t.sandbox);
    const groupIds = new Set(admin.map((g) => g.id));
    await t.sandbox.admin.resetStats();
    const { items } = await drain(await reader.readGroups(appOf(t.sandbox)));
    expect(byId(items)).toEqual(new Map(admin.map((g) => [g.id, expectedGroup(g, groupIds)])));
    const stats = await t.sandbox.admin.stats();
    const memberships = admin.reduce((n, g) => n + g.members.length, 0);
    // the sandbox puts up to 999 groups or ~1,000 member references on one delta page
    expect(stats.graphByPath).toEqual({ 'GET /groups/delta': expect.any(Number) });
    expect(stats.graphRequests).toBeLessThanOrEqual(Math.ceil(memberships / 1000) + 2);
    expect(reader.stats().requests).toBe(stats.graphRequests);

    const users = await drain(await reader.readUsers(appOf(t.sandbox), { extraProperties: [] }));
    expect(users.items).toHaveLength(2500);
    const bound = fullReadLowerBound(await countDirectory(t.sandbox.admin)).requests;
    expect(reader.stats().requests).toBeLessThanOrEqual(1.1 * bound);
    console.info(
      `full read, 2,500 users / ${admin.length} groups / ${memberships} memberships: ` +
        `${reader.stats().requests} requests (lower bound ${bound})`,
    );
  });

  it('groups by $batch: 1 delta-latest + 1 page of groups + 20 /members per $batch', async () => {
    const reader = readerFor(t, { groupRead: 'batch' });
    const admin = await allAdminGroups(t.sandbox);
    const groupIds = new Set(admin.map((g) => g.id));
    await t.sandbox.admin.resetStats();
    const { items } = await drain(await reader.readGroups(appOf(t.sandbox)));
    expect(byId(items)).toEqual(new Map(admin.map((g) => [g.id, expectedGroup(g, groupIds)])));
    const stats = await t.sandbox.admin.stats();
    const extraPages = admin.reduce((n, g) => n + Math.max(0, Math.ceil(g.members.length / 999) - 1), 0);
    expect(stats.batchItemsByPath).toBeDefined();
    const items999 = Object.values(stats.batchItemsByPath).reduce((a, b) => a + b, 0);
    expect(items999).toBe(admin.length + extraPages);
    expect(stats.graphByPath['GET /groups/delta']).toBe(1);
    expect(stats.graphByPath['GET /groups']).toBe(1);
    // at least ceil(items / 20) batches; a large group's later pages may need batches of their own
    expect(stats.graphByPath['POST /$batch']).toBeGreaterThanOrEqual(Math.ceil(items999 / 20));
    expect(stats.graphByPath['POST /$batch']).toBeLessThanOrEqual(Math.ceil(items999 / 20) + extraPages);
  });
});
