/**
 * The pure planners at scale: 100,000 users and 5,000 groups (synthetic, seeded).
 *
 *   npx tsx bench/planner.bench.ts            (add --expose-gc through NODE_OPTIONS for steadier heap figures)
 *   npx tsx bench/planner.bench.ts --users 20000 --groups 1000
 *
 * Prints wall time and heap for: a first sync (empty PBX), a no-change re-sync, and a
 * re-sync after 1,000 changed users; for users and for groups; plus a 1,000-record delta merge.
 * The figures go to bench/results/planner.json (bench/support/results.ts).
 */

import type { DirectoryGroup, DirectoryUser } from '../src/domain/directory.types.js';
import {
  applyDirectoryDelta,
  createDirectorySnapshot,
  type UserDeltaRecord,
} from '../src/domain/directory-delta.js';
import { planGroupSync } from '../src/domain/group-sync.planner.js';
import type { PbxExtension, PbxExtensionGroup } from '../src/domain/pbx.types.js';
import { summarizePlan } from '../src/domain/sync-plan.js';
import type { GroupSyncPlan, PlanSummary, UserSyncPlan } from '../src/domain/sync-plan.types.js';
import type { GroupSyncRule, UserSyncRule } from '../src/domain/sync-rule.types.js';
import { planUserSync } from '../src/domain/user-sync.planner.js';
import { benchCommand, writeResults } from './support/results.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const USERS = arg('users', 100_000);
const GROUPS = arg('groups', 5_000);
const MEMBERS_PER_GROUP = arg('members', 40);
const CHANGES = arg('changes', 1_000);
const RUNS = arg('runs', 3);
const NOW = new Date('2026-11-26T12:00:00.000Z');

let seed = 42;
function random(): number {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (n: number) => Math.floor(random() * n);
/** Entra object ids are random UUIDs; so are the synthetic ones (seeded, stable per kind and index). */
const uuidCache = new Map<string, string>();
const hex = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
const uuid = (kind: number, i: number) => {
  const key = `${kind}:${i}`;
  let id = uuidCache.get(key);
  if (!id) {
    id = `${hex(8)}-${hex(4)}-4${hex(3)}-8${hex(3)}-${hex(12)}`;
    uuidCache.set(key, id);
  }
  return id;
};

function makeUser(i: number): DirectoryUser {
  return {
    id: uuid(1, i),
    displayName: `User ${i}`,
    givenName: `Given${i}`,
    surname: `Surname${i % 997}`,
    mail: `user${i}@contoso.com`,
    userPrincipalName: `user${i}@contoso.com`,
    mobilePhone: i % 3 === 0 ? `+1 425 555 ${String(i % 10_000).padStart(4, '0')}` : null,
    businessPhones: [],
    jobTitle: `Title ${i % 50}`,
    department: `Dept ${i % 20}`,
    accountEnabled: i % 50 !== 7,
    userType: i % 20 === 3 ? 'Guest' : 'Member',
    deletionState: 'PRESENT',
  };
}

function makeGroups(users: readonly DirectoryUser[]): DirectoryGroup[] {
  const groups: DirectoryGroup[] = [];
  for (let g = 0; g < GROUPS; g++) {
    const members = new Set<string>();
    for (let k = 0; k < MEMBERS_PER_GROUP; k++) members.add(users[pick(users.length)].id);
    const children = g % 10 === 0 ? [uuid(2, pick(GROUPS)), uuid(2, pick(GROUPS))] : [];
    groups.push({
      id: uuid(2, g),
      displayName: `Group ${g}`,
      kind: g % 3 === 0 ? 'MICROSOFT_365' : 'SECURITY',
      memberUserIds: [...members],
      memberGroupIds: children,
    });
  }
  return groups;
}

function applyUsers(extensions: readonly PbxExtension[], plan: UserSyncPlan): PbxExtension[] {
  const byId = new Map(extensions.map((e) => [e.id, e]));
  for (const item of plan.items) {
    if (item.action === 'DELETE') byId.delete(item.extensionId);
    else if (item.action === 'CREATE') {
      const id = `ext-${item.userId}`;
      byId.set(id, { id, ...item.extension, source: 'SYNCED', externalId: item.userId });
    } else if (item.action === 'UPDATE') {
      const e = byId.get(item.extensionId);
      if (!e) continue;
      const patch: Record<string, string | null> = {};
      for (const change of item.changes) patch[change.field] = change.to;
      byId.set(e.id, { ...e, ...patch });
    }
  }
  return [...byId.values()];
}

function applyGroups(groups: readonly PbxExtensionGroup[], plan: GroupSyncPlan): PbxExtensionGroup[] {
  const byId = new Map(groups.map((g) => [g.id, g]));
  for (const item of plan.items) {
    if (item.action === 'CREATE') {
      const id = `xg-${item.groupId}`;
      byId.set(id, {
        id,
        name: item.name,
        source: 'SYNCED',
        externalId: item.groupId,
        memberExtensionIds: item.memberExtensionIds,
      });
    }
  }
  return [...byId.values()];
}

const gc = (globalThis as { gc?: () => void }).gc;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

export interface PlannerMeasurement {
  label: string;
  /** wall time of each run (ms) */
  runsMs: number[];
  medianMs: number;
  /** largest heap growth over a run (bytes; rough without --expose-gc) */
  heapDeltaBytes: number;
  outcome: string;
}
const measurements: Record<string, PlannerMeasurement> = {};

function measure<T>(key: string, label: string, run: () => T, describe: (result: T) => string): T {
  const times: number[] = [];
  let result: T | undefined;
  let heapDelta = 0;
  for (let r = 0; r < RUNS; r++) {
    result = undefined;
    gc?.();
    const before = process.memoryUsage().heapUsed;
    const start = performance.now();
    result = run();
    times.push(performance.now() - start);
    heapDelta = Math.max(heapDelta, process.memoryUsage().heapUsed - before);
  }
  const m = process.memoryUsage();
  const runs = times.map((t) => `${t.toFixed(0)}`).join(' / ');
  const outcome = describe(result as T);
  console.log(
    `${label.padEnd(34)} ${runs.padEnd(18)} ms   heap +${mb(heapDelta).padEnd(9)} heapUsed ${mb(m.heapUsed).padEnd(9)} rss ${mb(m.rss).padEnd(9)} ${outcome}`,
  );
  const sorted = [...times].sort((a, b) => a - b);
  measurements[key] = {
    label,
    runsMs: times.map((t) => Math.round(t * 10) / 10),
    medianMs: Math.round(sorted[Math.floor(sorted.length / 2)] * 10) / 10,
    heapDeltaBytes: heapDelta,
    outcome,
  };
  return result as T;
}

const counts = (s: PlanSummary) =>
  Object.entries(s)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ') || 'nothing';

// ---------------------------------------------------------------- input
console.log(
  `planner bench: ${USERS} users, ${GROUPS} groups x ${MEMBERS_PER_GROUP} members, ${CHANGES} changes, ${RUNS} runs each (times: run 1 / 2 / ...); gc ${gc ? 'on' : 'off (heap figures are rough)'}`,
);
/**
 * Inputs come from JSON (Graph) or a database driver, i.e. as flat strings. Ids glued
 * together with template literals are V8 cons strings, and every Map lookup on them
 * compares piece by piece: several times slower than the real thing. Round-trip through
 * JSON, as the real pipeline does.
 */
const asRead = <T>(value: T): T => JSON.parse(JSON.stringify(value));
const users = asRead(Array.from({ length: USERS }, (_, i) => makeUser(i)));
const groups = asRead(makeGroups(users));
const manual: PbxExtension[] = Array.from({ length: 500 }, (_, i) => ({
  id: `manual-${i}`,
  number: String(1000 + i * 7),
  firstName: `Manual ${i}`,
  lastName: '',
  email: i % 2 === 0 ? `desk${i}@contoso.com` : null,
  mobileNumber: null,
  jobTitle: null,
  source: 'MANUAL',
  externalId: null,
}));
const userRule: UserSyncRule = {
  range: { type: 'ALL' },
  autoDelete: true,
  numbering: { mode: 'AUTO', startNumber: '1000' },
  deleteWhen: { disabled: true, deleted: true },
  autoAssociate: true,
  welcomeEmail: true,
  includeNestedMembers: false,
};
const groupRule: GroupSyncRule = { range: { type: 'ALL' }, autoDelete: true, includeNestedMembers: true };
// The group limit is raised to the group count so that every group is planned (G3 would stop at 63).
const capacity = { maxExtensions: 1_000_000, maxExtensionGroups: GROUPS };
const planUsers = (directoryUsers: readonly DirectoryUser[], extensions: readonly PbxExtension[]) =>
  planUserSync({
    directory: { users: directoryUsers, groups },
    current: { extensions },
    rule: userRule,
    capacity,
    now: NOW,
  });
const planGroups = (extensions: readonly PbxExtension[], current: readonly PbxExtensionGroup[]) =>
  planGroupSync({
    directory: { groups },
    current: { groups: current, extensions },
    rule: groupRule,
    capacity,
    now: NOW,
  });

// ---------------------------------------------------------------- users
const first = measure(
  'users.first',
  'users: first sync',
  () => planUsers(users, manual),
  (p) => counts(summarizePlan(p)),
);
const synced = asRead(applyUsers(manual, first));
measure(
  'users.nochange',
  'users: no-change re-sync',
  () => planUsers(users, synced),
  (p) => counts(summarizePlan(p)),
);

// 1,000 changes: 600 renamed / retitled, 150 disabled, 100 deleted, 150 new.
const changed = [...users];
for (let k = 0; k < CHANGES * 0.6; k++) {
  const i = pick(USERS);
  changed[i] = { ...changed[i], jobTitle: `Promoted ${k}`, surname: `Changed${k}` };
}
for (let k = 0; k < CHANGES * 0.15; k++) {
  const i = pick(USERS);
  changed[i] = { ...changed[i], accountEnabled: false };
}
const deleted = new Set<string>();
for (let k = 0; k < CHANGES * 0.1; k++) deleted.add(changed[pick(USERS)].id);
const changedUsers = changed.filter((u) => !deleted.has(u.id));
for (let k = 0; k < CHANGES * 0.15; k++) changedUsers.push(asRead(makeUser(USERS + k)));
measure(
  'users.changes',
  `users: re-sync after ${CHANGES} changes`,
  () => planUsers(changedUsers, synced),
  (p) => counts(summarizePlan(p)),
);

// ---------------------------------------------------------------- groups
const groupsFirst = measure(
  'groups.first',
  'groups: first sync',
  () => planGroups(synced, []),
  (p) => counts(summarizePlan(p)),
);
const groupsSynced = asRead(applyGroups([], groupsFirst));
measure(
  'groups.firstG3',
  'groups: first sync, G3 limit 63',
  () =>
    planGroupSync({
      directory: { groups },
      current: { groups: [], extensions: synced },
      rule: groupRule,
      capacity: { maxExtensionGroups: 63 },
      now: NOW,
    }),
  (p) => counts(summarizePlan(p)),
);
measure(
  'groups.nochange',
  'groups: no-change re-sync',
  () => planGroups(synced, groupsSynced),
  (p) => counts(summarizePlan(p)),
);
const afterChanges = asRead(applyUsers(synced, planUsers(changedUsers, synced)));
measure(
  'groups.changes',
  `groups: re-sync after ${CHANGES} changes`,
  () => planGroups(afterChanges, groupsSynced),
  (p) => counts(summarizePlan(p)),
);

// ---------------------------------------------------------------- delta merge
const snapshot = createDirectorySnapshot(users, groups);
const delta: UserDeltaRecord[] = Array.from({ length: CHANGES }, (_, k) =>
  k % 10 === 0
    ? { id: users[pick(USERS)].id, removed: 'changed' }
    : { id: users[pick(USERS)].id, jobTitle: `Delta ${k}` },
);
measure(
  'delta.merge',
  `delta merge: ${CHANGES} user records`,
  () => applyDirectoryDelta(snapshot, { users: delta }, NOW),
  (s) => `${s.users.size} users`,
);

writeResults('planner', {
  // Run through bench/index.ts (`npm run bench -- planner …`) or on its own (`npx tsx bench/planner.bench.ts …`).
  command: benchCommand('planner', process.argv.slice(process.argv[2] === 'planner' ? 3 : 2)),
  args: {
    users: USERS,
    groups: GROUPS,
    members: MEMBERS_PER_GROUP,
    changes: CHANGES,
    runs: RUNS,
    gc: gc !== undefined,
  },
  figures: { measurements },
});
