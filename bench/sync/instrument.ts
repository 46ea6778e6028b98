import type { DirectoryReader, DirectoryStream } from '../../src/app/ports/directory.port.js';
import type { SyncRunData } from '../../src/app/ports/sync.port.js';
import type { Gateway } from '../../src/gateway.js';

/**
 * Timing logs taken from outside the sync, without touching src/: the gateway's own objects
 * are wrapped in place once it has started (the sync job reads them at run time through
 * `syncDeps(services, …)`):
 * - `services.syncProgress`: called synchronously at every phase change of a run (READING_DIRECTORY,
 *   PLANNING, each APPLYING batch, SUCCEEDED…), before the gateway's own rate limit;
 * - `services.reader`: when each Graph read starts and when its last page has been consumed;
 * - the ORM connection's `execute`: every SQL statement (formatting included), by kind and table.
 */
export type TimelineEvent =
  | {
      type: 'progress';
      t: number;
      runId: string;
      phase: string;
      done: number;
      total: number;
      graphRequests: number;
      heapUsed: number;
      rss: number;
    }
  | {
      type: 'read';
      t: number;
      end: number;
      method: string;
      pages: number;
      items: number;
      /** Graph requests the reader made while this read ran (reads may overlap: see reqAt) */
      requests: number;
      /** the reader's request counter when the read started and ended */
      reqAt: [number, number];
      heapUsed: number;
      rss: number;
    }
  | { type: 'sql'; t: number; end: number; kind: string; chars: number };

export class Timeline {
  readonly events: TimelineEvent[] = [];
  private readonly finals = new Map<string, { t: number; resolve?: () => void }>();
  private readonly waiters = new Map<string, Array<(t: number) => void>>();
  readonly runIds = new Set<string>();
  /** Called synchronously at each progress event (e.g. to take a heap sample at that moment). */
  onProgress: ((run: SyncRunData) => void) | null = null;

  progress(run: SyncRunData): void {
    const t = performance.now();
    this.runIds.add(run.id);
    const mem = process.memoryUsage();
    this.events.push({
      type: 'progress',
      t,
      runId: run.id,
      phase: run.phase,
      done: run.done,
      total: run.total,
      graphRequests: run.graphRequests ?? 0,
      heapUsed: mem.heapUsed,
      rss: mem.rss,
    });
    this.onProgress?.(run);
    if (['SUCCEEDED', 'FAILED', 'HELD'].includes(run.phase)) {
      this.finals.set(run.id, { t });
      for (const w of this.waiters.get(run.id) ?? []) w(t);
      this.waiters.delete(run.id);
    }
  }

  /** When the run's final phase was reached (performance.now()), waiting for it if need be. */
  finished(runId: string, timeoutMs: number): Promise<number> {
    const done = this.finals.get(runId);
    if (done) return Promise.resolve(done.t);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`run ${runId} did not finish in ${timeoutMs} ms`)),
        timeoutMs,
      );
      const list = this.waiters.get(runId) ?? [];
      list.push((t) => {
        clearTimeout(timer);
        resolve(t);
      });
      this.waiters.set(runId, list);
    });
  }

  between(from: number, to: number): TimelineEvent[] {
    return this.events.filter((e) => e.t >= from && e.t <= to);
  }
}

function sqlKind(sql: string): string {
  // The head is enough (a 500-row INSERT is hundreds of kB: do not scan it all).
  const s = sql.slice(0, 300).replace(/\s+/g, ' ').trim().toLowerCase();
  const m =
    /^(insert into|delete from|update) [`"]?(\w+)/.exec(s) ??
    /^(select) .*? from [`"]?(\w+)/.exec(s) ??
    /^(\w+)(?: [`"]?(\w+))?/.exec(s);
  if (!m) return s.slice(0, 40);
  const verb = m[1].split(' ')[0];
  return m[2] ? `${verb} ${m[2]}` : verb;
}

function wrapStream<T>(
  timeline: Timeline,
  reader: DirectoryReader,
  method: string,
  t: number,
  requestsAtStart: number,
  stream: DirectoryStream<T>,
) {
  const inner = stream.pages;
  async function* pages(): AsyncGenerator<readonly T[]> {
    let n = 0;
    let items = 0;
    try {
      for await (const page of inner) {
        n++;
        items += page.length;
        yield page;
      }
    } finally {
      const mem = process.memoryUsage();
      timeline.events.push({
        type: 'read',
        heapUsed: mem.heapUsed,
        rss: mem.rss,
        t,
        end: performance.now(),
        method,
        pages: n,
        items,
        requests: reader.stats().requests - requestsAtStart,
        reqAt: [requestsAtStart, reader.stats().requests],
      });
    }
  }
  return { ...stream, pages: pages() };
}

export function instrumentGateway(gateway: Gateway, timeline: Timeline): void {
  const services = gateway.services;
  const publish = services.syncProgress;
  services.syncProgress = (run) => {
    timeline.progress(run);
    publish(run);
  };

  const reader = services.reader;
  const readUsers = reader.readUsers.bind(reader);
  const readGroups = reader.readGroups.bind(reader);
  const readUserChanges = reader.readUserChanges.bind(reader);
  const readGroupChanges = reader.readGroupChanges.bind(reader);
  const at = () => [performance.now(), reader.stats().requests] as const;
  reader.readUsers = async (app, options) => {
    const [t, n] = at();
    return wrapStream(timeline, reader, 'readUsers (full)', t, n, await readUsers(app, options));
  };
  reader.readGroups = async (app) => {
    const [t, n] = at();
    return wrapStream(timeline, reader, 'readGroups (full)', t, n, await readGroups(app));
  };
  // The delta streams make their first request when iterated: count from here too.
  reader.readUserChanges = (app, link) =>
    wrapStream(timeline, reader, 'readUserChanges (delta)', ...at(), readUserChanges(app, link));
  reader.readGroupChanges = (app, link) =>
    wrapStream(timeline, reader, 'readGroupChanges (delta)', ...at(), readGroupChanges(app, link));

  type Execute = (query: unknown, ...rest: unknown[]) => Promise<unknown>;
  const connection = gateway.orm.em.getConnection() as unknown as { execute: Execute };
  const execute = connection.execute.bind(connection) as Execute;
  connection.execute = async (query: unknown, ...rest: unknown[]) => {
    const t = performance.now();
    try {
      return await execute(query, ...rest);
    } finally {
      const sql =
        typeof query === 'string'
          ? query
          : ((query as { toSQL?: () => { sql: string } }).toSQL?.().sql ?? '(builder)');
      // Characters of SQL text plus string parameters: MikroORM inlines the parameters into the
      // text it sends (Platform.formatQuery), so this is about the size of that statement.
      let chars = sql.length;
      const params = rest[0];
      if (Array.isArray(params)) for (const p of params) chars += typeof p === 'string' ? p.length : 8;
      timeline.events.push({ type: 'sql', t, end: performance.now(), kind: sqlKind(sql), chars });
    }
  };

  // Statements with bound values (src/store/bound-insert.ts) go to knex's `raw` directly, not
  // through `execute` (whose own `raw` calls carry no bindings: they are not counted twice).
  type Raw = (sql: string, bindings?: unknown) => PromiseLike<unknown> & object;
  const conn = gateway.orm.em.getConnection() as unknown as { getKnex(): object };
  const knex = conn.getKnex() as { raw: Raw };
  const raw = knex.raw.bind(knex) as Raw;
  const timedRaw: Raw = (sql, bindings) => {
    const query = raw(sql, bindings);
    if (!Array.isArray(bindings) || bindings.length === 0) return query;
    const then = query.then.bind(query);
    const t = performance.now();
    let chars = sql.length;
    for (const p of bindings) chars += typeof p === 'string' ? p.length : 8;
    return Object.assign(query, {
      // biome-ignore lint/suspicious/noThenProperty: timing a knex query, which is a thenable
      then: (ok?: (v: unknown) => unknown, fail?: (e: unknown) => unknown) =>
        then((v: unknown) => {
          timeline.events.push({ type: 'sql', t, end: performance.now(), kind: sqlKind(sql), chars });
          return ok ? ok(v) : v;
        }, fail),
    });
  };
  // knex's `raw` is read-only: hand out a proxy of knex whose `raw` is timed.
  const proxied = new Proxy(knex, {
    get: (target, key, receiver) => (key === 'raw' ? timedRaw : Reflect.get(target, key, receiver)),
  });
  conn.getKnex = () => proxied;
}
