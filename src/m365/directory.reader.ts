import { createHash } from 'node:crypto';
import { type Client, GraphError } from '@microsoft/microsoft-graph-client';
import type {
  DirectoryGroupSummary,
  DirectoryReader,
  DirectoryStream,
  GraphRequestStats,
  SharedMailboxSummary,
  UserReadOptions,
} from '../app/ports/directory.port.js';
import { type MicrosoftAppCredentials, MicrosoftError } from '../app/ports/microsoft.port.js';
import type { DirectoryGroup, DirectoryUser } from '../domain/directory.types.js';
import type { GroupDeltaRecord, UserDeltaRecord } from '../domain/directory-delta.js';
import {
  GROUP_PROPERTIES,
  GroupAssembly,
  MemberIds,
  toDirectoryUser,
  toGroupDeltaRecord,
  toGroupSummary,
  toMembersDelta,
  toUserDeltaRecord,
  userSelect,
} from './directory-records.js';
import { identityError } from './errors.js';
import {
  followPages,
  type GraphPage,
  openPages,
  type PageFetcher,
  pageFetcher,
  readerError,
  runBatched,
} from './graph-paging.js';
import { createCountingGraphClient, type GraphTraffic, scopedTraffic } from './graph-transport.js';
import type { MicrosoftEndpoints } from './microsoft-clients.js';
import { chain, PageQueue, runAll, Slots, slotted, upnRanges } from './partitioned-read.js';

/**
 * The directory reader over Microsoft Graph (graph-client), one client per app
 * registration, reused. See `DirectoryReader` (src/app/directory.port.ts) for the contract.
 *
 * Requests, for U users, G groups and M direct memberships (lower bound of the benchmark:
 * ceil(U/999) user pages + group pages + member pages):
 * - readUsers: 1 (`/users/delta?$deltatoken=latest`) + ceil(U/999) (`/users?$top=999`)
 *   + ceil(soft-deleted/999), at least 1 (`/directory/deletedItems/microsoft.graph.user`).
 * - readGroups (default, `groupRead: 'delta'`): one initial groups delta round with
 *   `$select=…,members`: the pages carry the groups and their `members@delta`, so one round
 *   gives every group, its direct members and the groups delta link, with no request per
 *   group. Graph sends at most `odata.maxpagesize` groups per page and splits a large
 *   group's members over several pages (merged here by id).
 *   `groupRead: 'batch'`: 1 (groups delta `latest`) + ceil(G/999) (`/groups?$top=999`) +
 *   `$batch`es of 20 `/groups/{id}/members?$top=999` (one item per group and per further
 *   page of a large group). Fewer HTTP requests when groups are large, but 20 times the
 *   Graph operations and resource units (members cost 3 units each against 1 per delta
 *   page: https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits),
 *   so it meets throttling far sooner; kept for comparison and for tenants where it wins.
 * - readUserChanges / readGroupChanges: one request per delta page; a round with no change is 1.
 *
 * At real latency (the first request, `$deltatoken=latest`, took ≥ `partitionAboveMs`), a full
 * read is partitioned (issue 16 item 2) and its chains run side by side, at most
 * `partitionConcurrency` requests in flight per app registration (each one's 429 honoured by
 * graph-client's retry handler, Retry-After included):
 * - readUsers: 1 (`latest`) + 1 (the recycle bin's first page, a second sample) + the pages of 7 ranges of userPrincipalName (`upnRanges`: about
 *   ceil(U/999) + 7, each range's last page part full) + the recycle bin, beside them.
 * - readGroups: 1 (the unfiltered round's first page, timed, then dropped) + 1 (`latest`)
 *   + ceil(G/999) id pages (`/groups?$select=id`) + for every 50
 *   groups an initial delta round filtered on their ids (members included, ~1,000 member
 *   references a page: ceil(members of the 50 / 1,000) pages). Against the unfiltered round
 *   this costs about one part-full page per 50 groups more; it is what buys the parallelism,
 *   since delta takes no other filter. A group whose members on those pages reach
 *   `hugeGroupMembers` (default 8 × 999) with more to come is taken out: its part is read
 *   again without it, its users in the 7 ranges of userPrincipalName
 *   (`/groups/{id}/members/microsoft.graph.user?$filter=…&$count=true`, an advanced query) and
 *   its member groups by cast, side by side (their requests before others waiting for a
 *   slot): about 8 + 7 + the part's pages more, against one
 *   chain of ~members/1,000 pages no other part can shorten. `$batch` of `/members` would be fewer HTTP requests but
 *   one Graph request (and 2–3 resource units) per group.
 * Every request here is one HTTP request and one Graph operation: no `$batch`.
 * At a fast Graph the single chains above cost fewer requests and are as quick; deciding costs
 * no request there (the samples are requests the single chains make anyway).
 *
 * Every failure is a `MicrosoftError` (see errors.ts); a delta link Graph no longer honours
 * (400 syncStateNotFound in any letter case, 410 Gone) is `DELTA_EXPIRED`. `@odata.count` is
 * never read: Graph sends it on the first page only (https://learn.microsoft.com/graph/paging).
 */

export interface AppTokenSource {
  /** An app-only access token for Graph (client credentials), e.g. `MsalIdentity.appToken`. */
  appToken(app: MicrosoftAppCredentials): Promise<string>;
}

export interface GraphDirectoryReaderOptions {
  /** How readGroups reads members (see above). Default 'delta'. */
  groupRead?: 'delta' | 'batch';
  /**
   * Ask delta rounds for `Prefer: return=minimal` (only changed properties). Default false:
   * every tracked property of a changed object comes, which heals a missed or replayed change.
   */
  minimalDelta?: boolean;
  /** `Prefer: odata.maxpagesize` for delta rounds (Graph may send fewer). Default 999. */
  deltaPageSize?: number;
  /** `$batch` requests in flight at once. Default 4. */
  batchConcurrency?: number;
  /** Retries of one request on 429/503/504 (graph-client caps at 10). Default 10. */
  maxRetries?: number;
  /** Seconds before a retry when Graph sent no Retry-After. Default 3. */
  retryDelaySeconds?: number;
  /**
   * Full reads in parallel partitions (issue 16 item 2) when Graph's answer to the first
   * request (the `$deltatoken=latest` one) took at least this long, in ms: at real latency a
   * chain of hundreds of pages is slow, and a few more requests buy parallelism; at a fast
   * Graph the single chain is both quick and the fewest requests. 0 = always partition,
   * Infinity = never. Default 80.
   */
  partitionAboveMs?: number;
  /** Requests in flight at once for one app registration during a partitioned read. Default 24. */
  partitionConcurrency?: number;
  /**
   * A partitioned groups read takes a group whose members on its delta pages reach this many,
   * with more to come, out of its delta round and reads its members in ranges side by side
   * (see readGroupsPartitioned). Default 8 × 999: at 300 ms a chain of 8 pages takes 2.4 s,
   * which the other parts and the users' ranges take anyway.
   */
  hugeGroupMembers?: number;
  /** Where the partitioned `/users` read cuts `userPrincipalName` (see `upnRanges`). */
  userPartitionBounds?: readonly string[];
}

/** Cuts of `userPrincipalName` by the first letters of given names: 7 ranges of similar size. */
const DEFAULT_UPN_BOUNDS = ['c', 'e', 'j', 'l', 'n', 'r'];
const DEFAULT_HUGE_GROUP_MEMBERS = 8 * 999;
/** `$filter` on ids with delta tracks at most 50 objects (https://learn.microsoft.com/graph/api/group-delta). */
const IDS_PER_DELTA = 50;

interface Connection {
  client: Client;
  /** the requests in flight of partitioned reads of this app registration */
  slots?: Slots;
  /** The last token failure: graph-client turns it into a GraphError without its code. */
  tokenError?: MicrosoftError;
  fail: (err: unknown) => MicrosoftError;
}

const PAGE = 999;
/** `$filter=id in (…)` takes at most 15 values (https://learn.microsoft.com/graph/filter-query-parameter). */
const IDS_PER_FILTER = 15;
const GROUP_SUMMARY_SELECT = ['id', ...GROUP_PROPERTIES, 'description'].join(',');
const GROUP_DELTA_SELECT = [...GROUP_PROPERTIES, 'members'].join(',');
/** The header of advanced queries (https://learn.microsoft.com/graph/aad-advanced-queries). */
const ADVANCED_QUERY = { ConsistencyLevel: 'eventual' };
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function unique(ids: readonly string[]): string[] {
  return [...new Set(ids)];
}

function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/**
 * `ids` in parts of at most `size`, taking every n-th id (n = the number of parts): groups made
 * together tend to be alike (a tenant's department groups, large, one after another), and one
 * part holding all the large groups would read their members in one long chain of pages while
 * the others are long done.
 */
function strided<T>(ids: readonly T[], size: number): T[][] {
  const n = Math.ceil(ids.length / size);
  const out: T[][] = Array.from({ length: n }, () => []);
  for (let i = 0; i < ids.length; i++) out[i % n]?.push(ids[i] as T);
  return out;
}

/** One page of an initial groups delta round into the groups assembled so far (merged by id). */
function takeGroupPage(groups: Map<string, GroupAssembly>, page: GraphPage, ids: MemberIds): void {
  for (const raw of page.value) {
    const id = String(raw.id);
    if (raw['@removed'] !== undefined && raw['@removed'] !== null) {
      groups.delete(id);
      continue;
    }
    let group = groups.get(id);
    if (!group) {
      group = new GroupAssembly(id, ids);
      groups.set(id, group);
    }
    group.take(raw);
    for (const member of toMembersDelta(raw['members@delta'])) group.member(member);
  }
}

function notYet(): never {
  throw new Error('deltaLink() is known once every page has been read');
}

export class GraphDirectoryReader implements DirectoryReader {
  private readonly connections = new Map<string, Connection>();
  private readonly traffic: GraphTraffic = { requests: 0, throttled: 0 };
  private readonly graphOrigin: string;

  constructor(
    private readonly endpoints: MicrosoftEndpoints,
    private readonly tokens: AppTokenSource,
    private readonly options: GraphDirectoryReaderOptions = {},
  ) {
    this.graphOrigin = new URL(endpoints.graphBaseUrl).origin;
  }

  stats(): GraphRequestStats {
    return { requests: this.traffic.requests, throttled: this.traffic.throttled };
  }

  tracked<T>(work: (stats: () => GraphRequestStats) => Promise<T>): Promise<T> {
    const own: GraphTraffic = { requests: 0, throttled: 0 };
    return scopedTraffic.run(own, () => work(() => ({ requests: own.requests, throttled: own.throttled })));
  }

  // ------------------------------------------------------------------ users

  async readUsers(
    app: MicrosoftAppCredentials,
    options: UserReadOptions,
  ): Promise<DirectoryStream<DirectoryUser>> {
    let selection: ReturnType<typeof userSelect>;
    try {
      selection = userSelect(options.extraProperties);
    } catch (err) {
      throw new MicrosoftError('UNKNOWN', (err as Error).message);
    }
    const { extras } = selection;
    const select = selection.select.join(',');
    const conn = this.connection(app);
    const fetch = pageFetcher(conn.client, {}, conn.fail);

    // The delta link first, with the same $select (so later rounds track exactly these
    // properties; accountEnabled must be among them or a disabled account never shows):
    // what changes while the read runs is replayed by the next round. `$deltatoken=latest`
    // answers at once with an empty page and a deltaLink from now
    // (https://learn.microsoft.com/graph/delta-query-overview#use-delta-query-to-track-changes-in-a-resource-collection,
    // https://learn.microsoft.com/graph/api/user-delta). How long it took says whether to
    // read in partitions (see `partitionAboveMs`).
    const { page: latest, ms } = await this.timedFirst(
      app,
      fetch,
      `/users/delta?$select=${select}&$deltatoken=latest`,
    );
    const deltaLink = this.requireDeltaLink(latest);

    // The recycle bin: soft-deleted users, restorable for 30 days, with deletedDateTime
    // (https://learn.microsoft.com/graph/api/directory-deleteditems-list).
    const binUrl = `/directory/deletedItems/microsoft.graph.user?$select=${select},deletedDateTime&$top=${PAGE}`;
    // GET /users, $select only what is needed, $top=999 (the maximum: https://learn.microsoft.com/graph/paging,
    // https://learn.microsoft.com/graph/api/user-list). accountEnabled comes only when selected.
    const listUrl = `/users?$select=${select}&$top=${PAGE}`;

    // A second sample before deciding (one slow answer may be a stall of this busy process):
    // the recycle bin's first page, needed either way.
    let binFirst: GraphPage | undefined;
    if (this.partitioned(ms)) {
      const second = await this.timed(fetch, binUrl);
      binFirst = second.page;
      if (this.partitioned(second.ms)) {
        // Ranges of userPrincipalName read side by side, the rest of the recycle bin beside them.
        const queue = new PageQueue<readonly DirectoryUser[]>();
        const pf = slotted(fetch, this.slotsOf(conn), queue);
        const ranges = upnRanges(this.options.userPartitionBounds ?? DEFAULT_UPN_BOUNDS);
        const parts = ranges.map((filter) => `${listUrl}&$filter=${encodeURIComponent(filter)}`);
        if (binFirst.value.length > 0)
          queue.push(binFirst.value.map((u) => toDirectoryUser(u, extras, true)));
        const binNext = binFirst.nextLink;
        void runAll(queue, binNext ? [...parts, binNext] : parts, async (url) => {
          const deleted = url === binNext;
          for await (const page of chain(pf, url, queue)) {
            if (page.value.length > 0) queue.push(page.value.map((u) => toDirectoryUser(u, extras, deleted)));
          }
        });
        return { pages: queue.drain(), deltaLink: () => deltaLink };
      }
    }

    const live = await openPages(fetch, listUrl);
    const bin = binFirst;
    async function* pages(): AsyncGenerator<readonly DirectoryUser[]> {
      for await (const page of live) yield page.value.map((u) => toDirectoryUser(u, extras));
      for await (const page of followPages(fetch, bin ? Promise.resolve(bin) : binUrl)) {
        if (page.value.length > 0) yield page.value.map((u) => toDirectoryUser(u, extras, true));
      }
    }
    return { pages: pages(), deltaLink: () => deltaLink };
  }

  readUserChanges(app: MicrosoftAppCredentials, deltaLink: string): DirectoryStream<UserDeltaRecord> {
    return this.deltaRound(app, deltaLink, (page) => page.value.map(toUserDeltaRecord));
  }

  // ------------------------------------------------------------------ groups

  async readGroups(app: MicrosoftAppCredentials): Promise<DirectoryStream<DirectoryGroup>> {
    if (this.options.groupRead === 'batch') return this.readGroupsByBatch(app);
    if (this.options.partitionAboveMs === Number.POSITIVE_INFINITY) return this.readGroupsByDelta(app);
    // The first page of the unfiltered round, timed (see `partitionAboveMs`): at a fast Graph
    // the round just goes on, at no extra request.
    const conn = this.connection(app);
    const fetch = pageFetcher(conn.client, {}, conn.fail);
    const deltaFetch = pageFetcher(conn.client, this.deltaHeaders(false), conn.fail);
    // The token first, so the time is Graph's alone; a token that cannot be had fails in the
    // request below, with its own error.
    await this.tokens.appToken(app).catch(() => undefined);
    const first = await this.timed(deltaFetch, `/groups/delta?$select=${GROUP_DELTA_SELECT}`);
    if (!this.partitioned(first.ms)) return this.readGroupsByDelta(app, first.page);
    // A second sample (one slow answer may be a stall of this busy process), which the
    // partitioned read needs anyway: a groups delta link from now. Partitioned, the first
    // page above is the one request spent for nothing; fast after all, the link is.
    const latest = await this.timed(fetch, `/groups/delta?$select=${GROUP_DELTA_SELECT}&$deltatoken=latest`);
    if (!this.partitioned(latest.ms)) return this.readGroupsByDelta(app, first.page);
    return this.readGroupsPartitioned(conn, fetch, this.requireDeltaLink(latest.page));
  }

  /**
   * The groups in partitions (issue 16 item 2): the ids from `/groups?$select=id&$top=999`,
   * and for every 50 of them an initial groups delta round filtered on those ids
   * (`$filter=id eq '…' or …`, the only filter delta takes, at most 50 objects:
   * https://learn.microsoft.com/graph/api/group-delta#optional-query-parameters), which pages
   * the groups with their `members@delta` as the unfiltered round does; the rounds run side by
   * side. Their own delta links are dropped: the link taken before (`$deltatoken=latest`)
   * covers every group, also one created while the read ran, and the caller catches up from it.
   */
  private async readGroupsPartitioned(
    conn: Connection,
    fetch: PageFetcher,
    deltaLink: string,
  ): Promise<DirectoryStream<DirectoryGroup>> {
    const slots = this.slotsOf(conn);
    const queue = new PageQueue<readonly DirectoryGroup[]>();
    // The id pages go before the parts waiting for a slot: each one starts 20 parts.
    const listFetch = slotted(fetch, slots, queue, true);
    const deltaFetch = slotted(pageFetcher(conn.client, this.deltaHeaders(false), conn.fail), slots, queue);
    // A huge group's ranges are the longest chains of the read: their requests go first.
    const memberFetch = slotted(pageFetcher(conn.client, ADVANCED_QUERY, conn.fail), slots, queue, true);
    const hugeAt = this.options.hugeGroupMembers ?? DEFAULT_HUGE_GROUP_MEMBERS;
    const memberIds = new MemberIds();
    const ranges = upnRanges(this.options.userPartitionBounds ?? DEFAULT_UPN_BOUNDS);
    const readPart = async (ids: readonly string[]): Promise<void> => {
      const filter = ids.map((id) => `id eq '${id}'`).join(' or ');
      const groups = new Map<string, GroupAssembly>();
      const url = `/groups/delta?$select=${GROUP_DELTA_SELECT}&$filter=${encodeURIComponent(filter)}`;
      let huge: GroupAssembly[] = [];
      for await (const page of chain(deltaFetch, url, queue)) {
        takeGroupPage(groups, page, memberIds);
        if (!page.nextLink) break;
        huge = [...groups.values()].filter((g) => g.memberCount >= hugeAt);
        if (huge.length > 0) break;
      }
      if (huge.length === 0) {
        if (groups.size > 0) queue.push([...groups.values()].map((g) => g.toGroup()));
        return;
      }
      // A huge group: its members would come in one long chain of delta pages. The part is
      // read again without it, and its members in ranges, side by side (see readHugeGroup).
      const hugeIds = new Set(huge.map((g) => g.id));
      const rest = ids.filter((id) => !hugeIds.has(id));
      await Promise.all([
        rest.length > 0 ? readPart(rest) : Promise.resolve(),
        ...huge.map((g) => readHugeGroup(g)),
      ]);
    };
    /**
     * The members of one huge group, keeping those its delta pages gave: its users in ranges
     * of userPrincipalName, `GET /groups/{id}/members/microsoft.graph.user?$select=id&$filter=…
     * &$count=true` with `ConsistencyLevel: eventual` (a `$filter` on members is an advanced
     * query: https://learn.microsoft.com/graph/api/group-list-members,
     * https://learn.microsoft.com/graph/aad-advanced-queries), and its member groups by the
     * cast `/members/microsoft.graph.group` (none for a Microsoft 365 group, which cannot have
     * any: the cast would be 400). Read after the groups delta link was taken, so a membership
     * change made meanwhile comes in the catch-up round from it (as `members@delta`).
     * A group deleted meanwhile (404) is left out; the catch-up round says it is gone.
     */
    const readHugeGroup = async (g: GroupAssembly): Promise<void> => {
      const base = `/groups/${encodeURIComponent(g.id)}/members`;
      const parts = ranges.map((f) => ({
        url: `${base}/microsoft.graph.user?$select=id&$top=${PAGE}&$count=true&$filter=${encodeURIComponent(f)}`,
        add: (id: string) => g.addUser(id),
      }));
      if (g.kind !== 'MICROSOFT_365') {
        parts.push({
          url: `${base}/microsoft.graph.group?$select=id&$top=${PAGE}&$count=true`,
          add: (id: string) => g.addGroup(id),
        });
      }
      try {
        await Promise.all(
          parts.map(async ({ url, add }) => {
            for await (const page of chain(memberFetch, url, queue)) {
              for (const m of page.value) if (typeof m.id === 'string') add(m.id);
            }
          }),
        );
      } catch (err) {
        if (err instanceof MicrosoftError && err.code === 'NOT_FOUND') return;
        throw err;
      }
      queue.push([g.toGroup()]);
    };
    const run = async () => {
      const parts: Promise<void>[] = [];
      const take = (page: GraphPage) => {
        const ids = page.value.map((g) => String(g.id));
        for (const part of strided(ids, IDS_PER_DELTA)) {
          parts.push(readPart(part).catch((err: unknown) => queue.fail(err)));
        }
      };
      for await (const page of chain(listFetch, `/groups?$select=id&$top=${PAGE}`, queue)) take(page);
      await Promise.all(parts);
    };
    run().then(
      () => queue.end(),
      (err: unknown) => queue.fail(err),
    );
    return { pages: queue.drain(), deltaLink: () => deltaLink };
  }

  /**
   * One initial groups delta round with `$select=displayName,groupTypes,securityEnabled,mailEnabled,members`
   * (https://learn.microsoft.com/graph/api/group-delta, https://learn.microsoft.com/graph/delta-query-groups):
   * each group with `members@delta` (users, groups and other objects, by `@odata.type`); a
   * group with many members continues on the next page(s), so groups are merged by id and
   * handed out once the round is complete.
   */
  private async readGroupsByDelta(
    app: MicrosoftAppCredentials,
    firstPage?: GraphPage,
  ): Promise<DirectoryStream<DirectoryGroup>> {
    const conn = this.connection(app);
    const fetch = pageFetcher(conn.client, this.deltaHeaders(false), conn.fail);
    const url = `/groups/delta?$select=${GROUP_DELTA_SELECT}`;
    const round = firstPage ? followPages(fetch, Promise.resolve(firstPage)) : await openPages(fetch, url);
    let deltaLink: string | undefined;
    const self = this;

    async function* pages(): AsyncGenerator<readonly DirectoryGroup[]> {
      const groups = new Map<string, GroupAssembly>();
      const ids = new MemberIds();
      for await (const page of round) {
        takeGroupPage(groups, page, ids);
        if (page.deltaLink) deltaLink = self.requireDeltaLink(page);
      }
      let out: DirectoryGroup[] = [];
      for (const [id, group] of groups) {
        out.push(group.toGroup());
        groups.delete(id);
        if (out.length === PAGE) {
          yield out;
          out = [];
        }
      }
      if (out.length > 0) yield out;
    }
    return { pages: pages(), deltaLink: () => deltaLink ?? notYet() };
  }

  /** `/groups?$top=999`, then every group's `/members` through `$batch`, page by page of groups. */
  private async readGroupsByBatch(app: MicrosoftAppCredentials): Promise<DirectoryStream<DirectoryGroup>> {
    const conn = this.connection(app);
    const fetch = pageFetcher(conn.client, {}, conn.fail);
    const latest = await fetch(`/groups/delta?$select=${GROUP_DELTA_SELECT}&$deltatoken=latest`);
    const deltaLink = this.requireDeltaLink(latest);
    const list = await openPages(fetch, `/groups?$select=id,${GROUP_PROPERTIES.join(',')}&$top=${PAGE}`);
    const self = this;
    const ids = new MemberIds();

    async function* pages(): AsyncGenerator<readonly DirectoryGroup[]> {
      for await (const page of list) {
        const groups = new Map<string, GroupAssembly>();
        for (const raw of page.value) {
          const group = new GroupAssembly(String(raw.id), ids);
          group.take(raw);
          groups.set(group.id, group);
        }
        const { notFound } = await runBatched(
          conn.client,
          [...groups.keys()].map((id) => ({
            key: id,
            url: `/groups/${encodeURIComponent(id)}/members?$select=id&$top=${PAGE}`,
          })),
          (id, value) => {
            const group = groups.get(id);
            for (const member of toMembersDelta(value)) group?.member(member);
          },
          self.batchOptions(conn),
        );
        for (const id of notFound) groups.delete(id); // deleted while the read ran
        yield [...groups.values()].map((g) => g.toGroup());
      }
    }
    return { pages: pages(), deltaLink: () => deltaLink };
  }

  readGroupChanges(app: MicrosoftAppCredentials, deltaLink: string): DirectoryStream<GroupDeltaRecord> {
    return this.deltaRound(app, deltaLink, (page) => page.value.map(toGroupDeltaRecord));
  }

  /**
   * `$batch`es of 20 `GET /groups/{id}/transitiveMembers/microsoft.graph.user?$select=id&$top=999&$count=true`
   * with `ConsistencyLevel: eventual` (https://learn.microsoft.com/graph/api/group-list-transitivemembers),
   * following each group's nextLinks; throttled items are sent again after their Retry-After.
   * Groups that do not exist (404) are left out of the map.
   *
   * The OData cast makes it an advanced query: "To filter the results on the OData type, such as
   * microsoft.graph.user or microsoft.graph.group, you must use the advanced query parameters.
   * That is, the ConsistencyLevel header set to eventual and the $count=true query string."
   * (same page; https://learn.microsoft.com/graph/aad-advanced-queries). In `$batch` the header
   * goes in each item's headers, and on every page: Graph does not carry request headers over
   * to nextLinks (https://learn.microsoft.com/graph/paging).
   */
  async readTransitiveMemberUsers(
    app: MicrosoftAppCredentials,
    groupIds: readonly string[],
  ): Promise<Map<string, readonly string[]>> {
    const ids = unique(groupIds);
    if (ids.length === 0) return new Map();
    const conn = this.connection(app);
    const members = new Map<string, Set<string>>(ids.map((id) => [id, new Set<string>()]));
    const { notFound } = await runBatched(
      conn.client,
      ids.map((id) => ({
        key: id,
        url: `/groups/${encodeURIComponent(id)}/transitiveMembers/microsoft.graph.user?$select=id&$top=${PAGE}&$count=true`,
        headers: ADVANCED_QUERY,
      })),
      (id, value) => {
        const set = members.get(id);
        for (const user of value) if (typeof user.id === 'string') set?.add(user.id);
      },
      this.batchOptions(conn),
    );
    for (const id of notFound) members.delete(id);
    return new Map([...members].map(([id, set]) => [id, [...set].sort()]));
  }

  /**
   * The group picker: `$search="displayName:…"` (word-prefix match, so "sal" finds "Sales EMEA"
   * and "EMEA Sales") with `ConsistencyLevel: eventual`, sorted by name
   * (https://learn.microsoft.com/graph/search-query-parameter, https://learn.microsoft.com/graph/aad-advanced-queries).
   * An empty search lists groups by name.
   */
  async searchGroups(
    app: MicrosoftAppCredentials,
    search: string,
    first: number,
  ): Promise<DirectoryGroupSummary[]> {
    const wanted = Math.floor(first);
    if (!(wanted > 0)) return [];
    const conn = this.connection(app);
    const fetch = pageFetcher(conn.client, { ConsistencyLevel: 'eventual' }, conn.fail);
    // Double quotes and backslashes would end or escape the quoted clause: drop them.
    const term = search.replace(/["\\]/g, ' ').replace(/\s+/g, ' ').trim();
    let url = `/groups?$select=${GROUP_SUMMARY_SELECT}&$top=${Math.min(wanted, PAGE)}&$orderby=displayName&$count=true`;
    if (term) url += `&$search=${encodeURIComponent(`"displayName:${term}"`)}`;
    const out: DirectoryGroupSummary[] = [];
    for await (const page of followPages(fetch, url)) {
      for (const raw of page.value) {
        out.push(toGroupSummary(raw));
        if (out.length === wanted) return out;
      }
    }
    return out;
  }

  /**
   * C3, the shared mailbox picker: Graph has no "shared mailbox" property (that is Exchange's
   * recipient type). A shared mailbox is a user whose sign-in is blocked (`accountEnabled eq
   * false`, a filter users support without advanced query) that has a mailbox address (`mail`);
   * a disabled employee looks the same, and the mailbox job then reports that the authorization
   * account has no access. Sorted by name, at most `first`.
   */
  async searchSharedMailboxes(
    app: MicrosoftAppCredentials,
    search: string,
    first: number,
  ): Promise<SharedMailboxSummary[]> {
    const conn = this.connection(app);
    const fetch = pageFetcher(conn.client, {}, conn.fail);
    const term = search.trim().toLowerCase();
    const url = `/users?$filter=${encodeURIComponent('accountEnabled eq false')}&$select=id,displayName,mail,userPrincipalName&$top=${PAGE}`;
    const out: SharedMailboxSummary[] = [];
    for await (const page of followPages(fetch, url)) {
      for (const raw of page.value) {
        const mail = typeof raw.mail === 'string' && raw.mail ? raw.mail : null;
        if (!mail) continue;
        const displayName = typeof raw.displayName === 'string' ? raw.displayName : mail;
        if (term && !displayName.toLowerCase().includes(term) && !mail.toLowerCase().includes(term)) continue;
        out.push({ id: String(raw.id), displayName, mail });
      }
    }
    return out
      .sort((a, b) => a.displayName.localeCompare(b.displayName) || a.id.localeCompare(b.id))
      .slice(0, first);
  }

  /**
   * Which of `ids` are groups: `$filter=id in (…)` 15 ids at a time, those requests 20 to a
   * `$batch`. Ids that are not object ids (GUIDs) are unknown by definition and not sent.
   * The answer keeps the order of `ids`.
   */
  async findGroups(app: MicrosoftAppCredentials, ids: readonly string[]): Promise<DirectoryGroupSummary[]> {
    const wanted = unique(ids).filter((id) => GUID.test(id));
    if (wanted.length === 0) return [];
    const conn = this.connection(app);
    const found = new Map<string, DirectoryGroupSummary>();
    await runBatched(
      conn.client,
      chunks(wanted, IDS_PER_FILTER).map((chunk, i) => ({
        key: i,
        url: `/groups?$filter=${encodeURIComponent(`id in (${chunk.map((id) => `'${id}'`).join(',')})`)}&$select=${GROUP_SUMMARY_SELECT}`,
      })),
      (_key, value) => {
        for (const raw of value) {
          const summary = toGroupSummary(raw);
          found.set(summary.id.toLowerCase(), summary);
        }
      },
      this.batchOptions(conn),
    );
    const out: DirectoryGroupSummary[] = [];
    for (const id of wanted) {
      const summary = found.get(id.toLowerCase());
      if (summary) out.push(summary);
    }
    return out;
  }

  // ------------------------------------------------------------------ plumbing

  /** One delta round from a stored link: nextLinks until the page with the new deltaLink. */
  private deltaRound<T>(
    app: MicrosoftAppCredentials,
    deltaLink: string,
    map: (page: GraphPage) => T[],
  ): DirectoryStream<T> {
    let next: string | undefined;
    const self = this;
    async function* pages(): AsyncGenerator<readonly T[]> {
      self.checkOwnLink(deltaLink);
      const conn = self.connection(app);
      const fetch: PageFetcher = pageFetcher(
        conn.client,
        self.deltaHeaders(self.options.minimalDelta ?? false),
        conn.fail,
      );
      for await (const page of followPages(fetch, deltaLink)) {
        if (page.deltaLink) next = self.requireDeltaLink(page);
        yield map(page);
      }
    }
    return { pages: pages(), deltaLink: () => next ?? notYet() };
  }

  /**
   * `Prefer: odata.maxpagesize=N` asks for bigger delta pages than the default; Graph may
   * answer with fewer (https://learn.microsoft.com/graph/paging). `return=minimal`: see the option.
   */
  private deltaHeaders(minimal: boolean): Record<string, string> {
    const size = Math.max(1, Math.min(PAGE, this.options.deltaPageSize ?? PAGE));
    return { Prefer: minimal ? `return=minimal, odata.maxpagesize=${size}` : `odata.maxpagesize=${size}` };
  }

  /**
   * A stored link that does not point at this cloud's Graph (the settings changed since, or
   * the row is damaged) cannot be followed: the caller reads in full, as for an expired one.
   */
  private checkOwnLink(link: string): void {
    let origin: string | undefined;
    try {
      origin = new URL(link).origin;
    } catch {
      origin = undefined;
    }
    if (origin !== this.graphOrigin) {
      throw new MicrosoftError('DELTA_EXPIRED', `The delta link does not belong to ${this.graphOrigin}`);
    }
  }

  /**
   * The first request of a full read, timed: the app token is fetched before (MSAL caches
   * it), so the time is Graph's answer alone. A token that cannot be had fails in the
   * request itself, with its own error.
   */
  private async timedFirst(
    app: MicrosoftAppCredentials,
    fetch: PageFetcher,
    url: string,
  ): Promise<{ page: GraphPage; ms: number }> {
    // a token that cannot be had fails in the request itself, with its own error
    await this.tokens.appToken(app).catch(() => undefined);
    return this.timed(fetch, url);
  }

  private async timed(fetch: PageFetcher, url: string): Promise<{ page: GraphPage; ms: number }> {
    const started = performance.now();
    const page = await fetch(url);
    return { page, ms: performance.now() - started };
  }

  private partitioned(firstRequestMs: number): boolean {
    return firstRequestMs >= (this.options.partitionAboveMs ?? 80);
  }

  private slotsOf(conn: Connection): Slots {
    conn.slots ??= new Slots(this.options.partitionConcurrency ?? 24);
    return conn.slots;
  }

  private requireDeltaLink(page: GraphPage): string {
    if (!page.deltaLink) throw new MicrosoftError('UNKNOWN', 'Graph returned no @odata.deltaLink');
    return page.deltaLink;
  }

  private batchOptions(conn: Connection) {
    return {
      graphBaseUrl: this.endpoints.graphBaseUrl,
      traffic: this.traffic,
      concurrency: this.options.batchConcurrency,
      mapError: conn.fail,
    };
  }

  /** The Graph client of one app registration (and secret), made once and kept. */
  private connection(app: MicrosoftAppCredentials): Connection {
    const key = createHash('sha256')
      .update(`${app.tenantId}\n${app.clientId}\n${app.clientSecret}`)
      .digest('hex');
    let conn = this.connections.get(key);
    if (conn) return conn;
    if (this.connections.size >= 1000) this.connections.clear();
    const created: Connection = {
      client: undefined as unknown as Client,
      fail: (err) => {
        // graph-client wraps a failure of the token provider in a GraphError with no status
        // and the original's name as code; give back the identity error with its own code.
        if (
          err instanceof GraphError &&
          err.statusCode === -1 &&
          err.code === 'MicrosoftError' &&
          created.tokenError
        ) {
          return created.tokenError;
        }
        return readerError(err);
      },
    };
    created.client = createCountingGraphClient(
      this.endpoints,
      async () => {
        try {
          const token = await this.tokens.appToken(app);
          created.tokenError = undefined;
          return token;
        } catch (err) {
          created.tokenError = identityError(err);
          throw created.tokenError;
        }
      },
      this.traffic,
      { maxRetries: this.options.maxRetries, retryDelaySeconds: this.options.retryDelaySeconds },
    );
    conn = created;
    this.connections.set(key, conn);
    return conn;
  }
}
