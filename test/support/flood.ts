import { randomBytes, randomUUID } from 'node:crypto';
import { Pool } from 'undici';
import { createApiKey } from '../../src/app/access.js';
import { hashClientState } from '../../src/app/change-notifications.js';
import { createPbx } from '../../src/app/pbx.js';
import { SecretBox } from '../../src/app/secret-box.js';
import { parseSecretKey } from '../../src/config.js';
import { IntegrationStatus } from '../../src/domain/integration.js';
import type { DatabaseConfig } from '../../src/store/orm.js';
import { openDatabase } from '../../src/store/orm.js';
import { openStore } from '../../src/store/store.js';

/**
 * A flood of notifications at the gateway's public webhook, as issue 12 found it used: many
 * bodies of many forged items from concurrent clients (loopback only, bounded in count and
 * time), and a probe that measures /healthz and a trivial GraphQL query meanwhile. Shared by
 * test/integration/webhook-flood.e2e.spec.ts and `npm run bench -- flood`.
 */

export interface FloodPbx {
  id: string;
  adminKey: string;
  /** Graph subscriptions the gateway knows, with the clientState Graph would send */
  subscriptions: Array<{ id: string; clientState: string }>;
}

/**
 * PBXs with an admin key, an integration that looks connected (no rule saved, so a run reads
 * nothing from Microsoft) and two known subscriptions each (users, groups, far from expiry, so
 * `maintain-subscriptions` keeps them without calling Graph), written straight to the
 * database as `connect` and `ensureSubscriptions` would (only the clientState's hash is
 * stored); debounce and threshold as given. `secretKey`: the gateway's SECRET_KEY.
 */
export async function seedFloodWorld(
  db: DatabaseConfig,
  opts: { pbxs: number; debounceSeconds: number; threshold: number; secretKey: string },
): Promise<FloodPbx[]> {
  const box = new SecretBox(parseSecretKey(opts.secretKey));
  const orm = await openDatabase(db);
  try {
    const store = openStore(orm, () => new Date());
    const out: FloodPbx[] = [];
    for (let i = 0; i < opts.pbxs; i++) {
      const pbx = await createPbx(store, { name: `Flood ${i} ${randomBytes(3).toString('hex')}` });
      const adminKey = (await createApiKey(store, { pbxId: pbx.id, role: 'admin' })).key;
      await store.tenants.updatePbx(pbx.id, { publicBaseUrl: 'https://pbx.invalid' });
      await store.integrations.update(pbx.id, {
        status: IntegrationStatus.CONNECTED,
        clientId: randomUUID(),
        tenantId: randomUUID(),
        secretSealed: box.seal('not-a-real-secret', `client-secret:${pbx.id}`),
        connectedAt: new Date(),
      });
      const subscriptions = [];
      for (const resource of ['users', 'groups']) {
        const id = randomUUID();
        const clientState = randomBytes(32).toString('base64url');
        await store.subscriptions.save({
          id,
          pbxId: pbx.id,
          resource,
          expiresAt: new Date(Date.now() + 28 * 24 * 3600_000),
          clientStateHash: hashClientState(clientState).toString('hex'),
        });
        subscriptions.push({ id, clientState });
      }
      await store.sync.updateSettings(pbx.id, {
        changeDebounceSeconds: opts.debounceSeconds,
        changeThreshold: opts.threshold,
      });
      out.push({ id: pbx.id, adminKey, subscriptions });
    }
    return out;
  } finally {
    await orm.close(true);
  }
}

/** A notification item as Graph posts it for a user change. */
function item(subscriptionId: string, clientState: string, lifecycleEvent?: string) {
  return {
    subscriptionId,
    clientState,
    changeType: 'updated',
    resource: `Users/${randomUUID()}`,
    subscriptionExpirationDateTime: new Date(Date.now() + 86_400_000).toISOString(),
    tenantId: '00000000-0000-0000-0000-000000000000',
    resourceData: { '@odata.type': '#Microsoft.Graph.User', '@odata.id': 'Users/x', id: randomUUID() },
    ...(lifecycleEvent ? { lifecycleEvent } : {}),
  };
}

/**
 * A body of `items` forged items: half name a subscription the gateway knows (with a wrong
 * clientState), half an unknown one.
 */
export function forgedBody(items: number, knownIds: string[], lifecycleEvent?: string): string {
  const value = Array.from({ length: items }, (_, i) =>
    item(
      i % 2 && knownIds.length ? knownIds[i % knownIds.length] : randomUUID(),
      randomBytes(32).toString('base64url'),
      lifecycleEvent,
    ),
  );
  return JSON.stringify({ value });
}

/** A body of `items` valid items of one subscription (a replay of what Graph sent). */
export function validBody(items: number, sub: { id: string; clientState: string }, lifecycleEvent?: string) {
  return JSON.stringify({
    value: Array.from({ length: items }, () => item(sub.id, sub.clientState, lifecycleEvent)),
  });
}

export interface FloodReport {
  bodies: number;
  clients: number;
  ms: number;
  bytes: number;
  /** answers by status code ("error" for a request that failed) */
  statuses: Record<string, number>;
}

/** `n` loopback addresses from 127.0.0.`first`: distinct sources for the gateway's per-address limits. */
export const loopbackSources = (n: number, first = 2) =>
  Array.from({ length: n }, (_, i) => `127.0.${Math.floor((first + i) / 250)}.${((first + i) % 250) + 1}`);

/**
 * Posts `bodies` bodies to `path` from `clients` concurrent connections; stops early at
 * `maxMs`, or once `until(sent)` holds (asked before each body, with the count of bodies sent). `sources`: the loopback
 * addresses the bodies come from, one body after the other (body i from source i mod n; default:
 * the system's choice, 127.0.0.1). Loopback only: the URL must be 127.0.0.1 or localhost, and
 * every source in 127.0.0.0/8.
 */
export async function floodWebhook(
  baseUrl: string,
  opts: {
    path: string;
    bodies: number;
    clients: number;
    body: (i: number) => string;
    maxMs?: number;
    until?: (sent: number) => boolean;
    sources?: string[];
  },
): Promise<FloodReport> {
  const url = new URL(baseUrl);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname))
    throw new Error(`a flood goes to loopback only, not ${url.hostname}`);
  if (opts.sources?.some((a) => !a.startsWith('127.')))
    throw new Error('flood sources are loopback addresses (127.0.0.0/8) only');
  const pools = (opts.sources?.length ? opts.sources : [undefined]).map(
    (localAddress) =>
      new Pool(url.origin, {
        connections: Math.ceil(opts.clients / (opts.sources?.length || 1)),
        pipelining: 1,
        ...(localAddress ? { localAddress } : {}),
      }),
  );
  const statuses: Record<string, number> = {};
  const started = performance.now();
  const deadline = started + (opts.maxMs ?? 120_000);
  let next = 0;
  let bytes = 0;
  const client = async () => {
    for (;;) {
      if (next >= opts.bodies || performance.now() > deadline || opts.until?.(next)) return;
      const i = next++;
      const pool = pools[i % pools.length];
      const body = opts.body(i);
      bytes += body.length;
      try {
        const res = await pool.request({
          path: opts.path,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        await res.body.dump();
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
      } catch {
        statuses.error = (statuses.error ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.clients }, () => client()));
  const ms = performance.now() - started;
  await Promise.all(pools.map((p) => p.close()));
  return { bodies: next, clients: opts.clients, ms, bytes, statuses };
}

export interface ProbeReport {
  healthzMs: number[];
  graphqlMs: number[];
  failures: number;
}

/**
 * Asks `/healthz` and a trivial GraphQL query (`{ __typename }` with a key, so the key is
 * looked up) one after the other, every `intervalMs`, until stopped; each answer's time.
 */
export function probeLatency(baseUrl: string, key: string, intervalMs = 20) {
  const pool = new Pool(new URL(baseUrl).origin, { connections: 2 });
  const report: ProbeReport = { healthzMs: [], graphqlMs: [], failures: 0 };
  let running = true;
  const timed = async (fn: () => Promise<number>, into: number[]) => {
    const t = performance.now();
    try {
      const status = await fn();
      if (status !== 200) report.failures++;
      into.push(performance.now() - t);
    } catch {
      report.failures++;
    }
  };
  const loop = (async () => {
    while (running) {
      const t = performance.now();
      await timed(async () => {
        const res = await pool.request({ path: '/healthz', method: 'GET' });
        await res.body.dump();
        return res.statusCode;
      }, report.healthzMs);
      await timed(async () => {
        const res = await pool.request({
          path: '/graphql',
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify({ query: '{ __typename }' }),
        });
        await res.body.dump();
        return res.statusCode;
      }, report.graphqlMs);
      const wait = intervalMs - (performance.now() - t);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  return {
    /** Probes answered so far, of each kind. */
    answered: () => ({ healthz: report.healthzMs.length, graphql: report.graphqlMs.length }),
    async stop(): Promise<ProbeReport> {
      running = false;
      await loop;
      await pool.close();
      return report;
    },
  };
}

export function percentile(values: number[], p: number): number {
  if (!values.length) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function summary(values: number[]) {
  const r = (n: number) => Math.round(n * 10) / 10;
  return {
    count: values.length,
    p50: r(percentile(values, 50)),
    p99: r(percentile(values, 99)),
    max: r(values.length ? Math.max(...values) : Number.NaN),
  };
}

/** The value of one Prometheus sample from /metrics (a counter or gauge line), 0 when absent. */
export async function metricValue(metricsUrl: string, line: RegExp, token?: string): Promise<number> {
  const res = await fetch(`${metricsUrl}/metrics`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  const text = await res.text();
  let total = 0;
  for (const l of text.split('\n')) {
    if (line.test(l)) total += Number(l.split(' ').pop());
  }
  return total;
}

/**
 * The gateway's event loop and GC as its /metrics tell them (prom-client's default metrics):
 * `start()` reads them once (which also resets the event-loop delay histogram, read with a 10 ms
 * timer), `stop()` gives what happened since: the event loop's delay (p50, p99, max, ms) and
 * the GC's pauses (count and total ms, by kind).
 */
export async function eventLoopWatch(metricsUrl: string, token?: string) {
  const read = async () => {
    const res = await fetch(`${metricsUrl}/metrics`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    const text = await res.text();
    const value = (name: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${name} `));
      return line ? Number(line.split(' ').pop()) : Number.NaN;
    };
    const gc: Record<string, { count: number; seconds: number }> = {};
    for (const l of text.split('\n')) {
      const m = /^nodejs_gc_duration_seconds_(sum|count)\{kind="([^"]+)"\} (\S+)$/.exec(l);
      if (!m) continue;
      gc[m[2]] ??= { count: 0, seconds: 0 };
      if (m[1] === 'sum') gc[m[2]].seconds = Number(m[3]);
      else gc[m[2]].count = Number(m[3]);
    }
    return {
      p50: value('nodejs_eventloop_lag_p50_seconds'),
      p99: value('nodejs_eventloop_lag_p99_seconds'),
      max: value('nodejs_eventloop_lag_max_seconds'),
      gc,
    };
  };
  const before = await read();
  const ms = (s: number) => Math.round(s * 10_000) / 10;
  return {
    async stop() {
      const after = await read();
      const gc: Record<string, { count: number; ms: number }> = {};
      for (const [kind, v] of Object.entries(after.gc)) {
        const b = before.gc[kind] ?? { count: 0, seconds: 0 };
        if (v.count - b.count) gc[kind] = { count: v.count - b.count, ms: ms(v.seconds - b.seconds) };
      }
      return { eventLoopDelayMs: { p50: ms(after.p50), p99: ms(after.p99), max: ms(after.max) }, gc };
    },
  };
}
