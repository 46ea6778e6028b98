import type { ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createSqliteDatabase, type TestDatabase } from '../support/db.js';
import {
  type FloodPbx,
  floodWebhook,
  forgedBody,
  loopbackSources,
  metricValue,
  seedFloodWorld,
  validBody,
} from '../support/flood.js';
import { TEST_SECRET_KEY, uniquePrefix } from '../support/gateway.js';
import { databaseUrl, startScript } from '../support/process.js';

/**
 * Issue 12 item 1, the webhook's gate, against a real gateway process (`src/main.ts --role
 * all`, SQLite, Redis): one notification body is read and checked at a time, the others wait
 * unread (at most WEBHOOK_MAX_WAITING, 503 past it), a body must arrive within
 * WEBHOOK_BODY_TIMEOUT_MS of its turn, and a client gone while it waited gives its turn on.
 * Bodies are sent over raw sockets, so that a test holds one half-sent while it looks at the
 * others; what the gateway does meanwhile is read from its `graph_webhook_bodies` gauge. The
 * durations asserted are the body timeout's lower bound (a timer cannot fire early), and the
 * turn of a client gone while it waited given on well before that timeout would free it (the
 * 5 s timeout is a hundred times what the turn takes on a quiet machine).
 */

const BODY_TIMEOUT_MS = 5_000;
const MAX_WAITING = 4;

interface RawPost {
  /** sends the rest of the body */
  finish(): void;
  /** the client gives up: closes its socket */
  abandon(): void;
  /** the status code, or 'closed' when the gateway closed the connection without answering */
  answer: Promise<number | 'closed'>;
  /** when the answer (or the close) came */
  answeredAt: Promise<number>;
}

/**
 * A POST over its own socket, from loopback address `source`: the headers and `sentBytes` of
 * the body at once, the rest when `finish()` is called.
 */
function rawPost(base: string, path: string, body: string, sentBytes: number, source: string): RawPost {
  const url = new URL(base);
  const bytes = Buffer.from(body);
  const socket: Socket = connect({ host: url.hostname, port: Number(url.port), localAddress: source });
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${bytes.length}\r\nConnection: close\r\n\r\n`,
  );
  socket.write(bytes.subarray(0, sentBytes));
  let received = '';
  let resolveAt: (t: number) => void = () => {};
  const answeredAt = new Promise<number>((r) => {
    resolveAt = r;
  });
  const answer = new Promise<number | 'closed'>((resolve) => {
    socket.on('data', (d) => {
      received += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(received);
      if (m) {
        resolveAt(performance.now());
        resolve(Number(m[1]));
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      resolveAt(performance.now());
      resolve('closed');
    });
  });
  return {
    finish: () => socket.write(bytes.subarray(sentBytes)),
    abandon: () => socket.destroy(),
    answer,
    answeredAt,
  };
}

describe('the webhook reads one body at a time, and the line is bounded (issue 12 item 1)', () => {
  let db: TestDatabase;
  let world: FloodPbx[];
  let gateway: { child: ChildProcess; exited: Promise<unknown> };
  let url: string;
  const prefix = uniquePrefix('gate');
  // A source of its own for each test's bodies: none passes its forged limit here.
  let nextSource = 20;
  const source = () => loopbackSources(1, nextSource++)[0];
  let body: string;

  const gauge = (state: 'reading' | 'waiting') =>
    metricValue(url, new RegExp(`^graph_webhook_bodies\\{state="${state}"\\}`));
  /** Polls the gauge until `ok` holds (the gateway's own account of its line). */
  const gaugeUntil = async (state: 'reading' | 'waiting', ok: (n: number) => boolean) => {
    for (let i = 0; i < 600; i++) {
      const n = await gauge(state);
      if (ok(n)) return n;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`graph_webhook_bodies{state="${state}"} stayed at ${await gauge(state)}`);
  };

  beforeAll(async () => {
    db = await createSqliteDatabase();
    world = await seedFloodWorld(db.config, {
      pbxs: 1,
      debounceSeconds: 600,
      threshold: 1000,
      secretKey: TEST_SECRET_KEY,
    });
    body = forgedBody(
      1000,
      world[0].subscriptions.map((s) => s.id),
    );
    const proc = startScript(
      'src/main.ts',
      ['--role', 'all'],
      {
        DATABASE_URL: databaseUrl(db.config),
        REDIS_URL: inject('redisUrl'),
        QUEUE_PREFIX: prefix,
        SECRET_KEY: TEST_SECRET_KEY,
        HOST: '127.0.0.1',
        PORT: '0',
        LOG_LEVEL: 'info',
        WEBHOOK_BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS),
        WEBHOOK_MAX_WAITING: String(MAX_WAITING),
      },
      /"url":"(http:\/\/[^"]+)","role":"all"[^\n]*"msg":"gateway started"/,
    );
    url = (await proc.match)[1];
    gateway = proc as typeof gateway;
  }, 60_000);

  afterAll(async () => {
    gateway?.child.kill('SIGTERM');
    await gateway?.exited;
    await db?.drop();
  });

  it('a second body waits, unread, until the first one is in and answered', async () => {
    const first = rawPost(url, '/graph/notifications', body, 1000, source());
    await gaugeUntil('reading', (n) => n === 1);
    const second = rawPost(
      url,
      '/graph/notifications',
      validBody(1, world[0].subscriptions[0]),
      10,
      source(),
    );
    // The second one's headers are in, its body not read: it waits for its turn.
    await gaugeUntil('waiting', (n) => n === 1);
    second.finish();
    // Its whole body is in the socket now, and still it waits: the first holds the turn.
    expect(await gauge('waiting')).toBe(1);
    expect(await gauge('reading')).toBe(1);
    first.finish();
    expect(await first.answer).toBe(202);
    expect(await second.answer).toBe(202);
    // Answered in turn: without the gate the second (complete first) would be answered first.
    expect(await first.answeredAt).toBeLessThanOrEqual(await second.answeredAt);
    await gaugeUntil('reading', (n) => n === 0);
    expect(await gauge('waiting')).toBe(0);
  }, 60_000);

  it(`past ${MAX_WAITING} waiting bodies the next ones are answered 503 at once, unread; the waiting ones are read in turn`, async () => {
    const first = rawPost(url, '/graph/notifications', body, 1000, source());
    await gaugeUntil('reading', (n) => n === 1);
    const waiting = Array.from({ length: MAX_WAITING }, () =>
      rawPost(url, '/graph/notifications', body, 10, source()),
    );
    await gaugeUntil('waiting', (n) => n === MAX_WAITING);
    // The line is full: more bodies, complete or not, are refused before they are read.
    const refused = Array.from({ length: 3 }, () => rawPost(url, '/graph/notifications', body, 10, source()));
    expect(await Promise.all(refused.map((r) => r.answer))).toEqual([503, 503, 503]);
    expect(await gauge('waiting')).toBe(MAX_WAITING);
    first.finish();
    for (const w of waiting) w.finish();
    expect(await first.answer).toBe(202);
    expect(await Promise.all(waiting.map((w) => w.answer))).toEqual(Array(MAX_WAITING).fill(202));
    await gaugeUntil('waiting', (n) => n === 0);
  }, 60_000);

  it('a body that does not arrive within WEBHOOK_BODY_TIMEOUT_MS loses its turn: its connection is closed and the next body is read', async () => {
    const started = performance.now();
    const slow = rawPost(url, '/graph/notifications', body, 1000, source());
    await gaugeUntil('reading', (n) => n === 1);
    const next = rawPost(url, '/graph/notifications', validBody(1, world[0].subscriptions[0]), 10, source());
    await gaugeUntil('waiting', (n) => n === 1);
    next.finish();
    // The slow one never sends the rest; the gateway closes it (no timer fires early).
    expect(await slow.answer).toBe('closed');
    expect((await slow.answeredAt) - started).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS - 50);
    expect(await next.answer).toBe(202);
    await gaugeUntil('reading', (n) => n === 0);
  }, 60_000);

  it('a client that gives up while it waits gives its turn on (no turn is lost)', async () => {
    const first = rawPost(url, '/graph/notifications', body, 1000, source());
    await gaugeUntil('reading', (n) => n === 1);
    const quitter = rawPost(url, '/graph/notifications', body, 10, source());
    await gaugeUntil('waiting', (n) => n === 1);
    quitter.abandon();
    const last = rawPost(url, '/graph/notifications', validBody(1, world[0].subscriptions[0]), 10, source());
    await gaugeUntil('waiting', (n) => n === 2);
    last.finish();
    const finished = performance.now();
    first.finish();
    expect(await first.answer).toBe(202);
    expect(await last.answer).toBe(202);
    // Given on at once, not by the body timeout (without it, on the code before, never: the
    // turn was lost and every later body waited for good).
    expect((await last.answeredAt) - finished).toBeLessThan(BODY_TIMEOUT_MS);
    expect(await quitter.answer).toBe('closed');
    await gaugeUntil('reading', (n) => n === 0);
    expect(await gauge('waiting')).toBe(0);
    // And the webhook keeps working afterwards.
    const after = await floodWebhook(url, {
      path: '/graph/notifications',
      bodies: 3,
      clients: 3,
      body: () => validBody(1, world[0].subscriptions[0]),
      sources: [source()],
    });
    expect(after.statuses).toEqual({ 202: 3 });
  }, 60_000);
});
