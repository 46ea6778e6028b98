/**
 * THE lower bound of Graph requests for a full read of a directory: the yardstick of "a full
 * read takes ≤ 1.1 × the lower bound" (issue 5 item 7). The sync bench, the reader's measurement
 * (test/m365/measure-reader.ts), the reader's request-count test and the README all use this one
 * definition:
 *
 *   ⌈users / 999⌉ + ⌈groups / 999⌉ + ⌈memberships / 999⌉
 *
 * - users: the directory's users, enabled or not (those in the recycle bin are not counted);
 * - groups: every group;
 * - memberships: the direct members of every group (users, nested groups and other objects, as
 *   Graph lists them), summed over the groups: a user in 3 groups is 3 memberships;
 * - 999: the most items Graph puts on one page (`$top` / `odata.maxpagesize`).
 *
 * It counts pages of data and nothing else: not the `$deltatoken=latest` request that opens a
 * delta link, not the recycle bin's page, not retries after 429. It is the fewest pages when
 * users, groups and memberships each travel on pages of their own. The gateway's groups delta
 * round carries groups and their members on the same pages, so a read can come in a few requests
 * under it (100,000 users / 5,000 groups: 428 requests against 432). Reading each group's
 * `/members` apart would take at least one request per group (5,000 and more there): that is the
 * cost of that strategy, not a bound, and is not reported as one.
 */
export const GRAPH_PAGE = 999;

export interface DirectoryCounts {
  users: number;
  groups: number;
  /** direct memberships summed over the groups */
  memberships: number;
}

export interface FullReadLowerBound extends DirectoryCounts {
  userPages: number;
  groupPages: number;
  memberPages: number;
  /** userPages + groupPages + memberPages */
  requests: number;
}

export function fullReadLowerBound(counts: DirectoryCounts): FullReadLowerBound {
  const userPages = Math.ceil(counts.users / GRAPH_PAGE);
  const groupPages = Math.ceil(counts.groups / GRAPH_PAGE);
  const memberPages = Math.ceil(counts.memberships / GRAPH_PAGE);
  return { ...counts, userPages, groupPages, memberPages, requests: userPages + groupPages + memberPages };
}

/** "10 (3 user + 1 group + 6 member pages)": how the bound is written in reports. */
export function describeLowerBound(b: FullReadLowerBound): string {
  const n = (x: number) => x.toLocaleString('en-US');
  return `${n(b.requests)} (${n(b.userPages)} user + ${n(b.groupPages)} group + ${n(b.memberPages)} member pages)`;
}

/** The parts of the sandbox admin API (SandboxAdminClient) the counts need. */
export interface DirectoryAdmin {
  listUsers(opts: { top?: number; skip?: number }): Promise<{ total: number }>;
  listGroups(opts: {
    top?: number;
    skip?: number;
  }): Promise<{ value: ReadonlyArray<{ members: readonly unknown[] }> }>;
}

/** Counts a sandbox tenant as the bound needs it, through its admin API. */
export async function countDirectory(admin: DirectoryAdmin): Promise<DirectoryCounts> {
  const users = (await admin.listUsers({ top: 1 })).total;
  let groups = 0;
  let memberships = 0;
  for (let skip = 0; ; skip += 1000) {
    const page = await admin.listGroups({ top: 1000, skip });
    for (const g of page.value) {
      groups++;
      memberships += g.members.length;
    }
    if (page.value.length < 1000) break;
  }
  return { users, groups, memberships };
}
