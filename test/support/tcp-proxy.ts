import net from 'node:net';
import { freePort } from '../../src/net.js';

/**
 * A TCP proxy the test controls, in front of a real server (PostgreSQL, Redis): it can be not
 * there yet (nothing listens on its port: connections are refused), go away (every connection
 * cut, nothing listens), come back, or stall (connections stay open, and nothing gets through
 * until it resumes: a server that does not answer).
 */
export interface TcpProxy {
  port: number;
  /** Starts listening on `port` (again). */
  listen(): Promise<void>;
  /** Stops listening and cuts every open connection. */
  cut(): Promise<void>;
  /** Holds every byte, both ways, on every connection (new ones too) until `resume`. */
  stall(): void;
  resume(): void;
  /** Connections currently open through the proxy. */
  readonly open: number;
}

export async function createTcpProxy(
  target: { host: string; port: number },
  opts: { listening?: boolean } = {},
): Promise<TcpProxy> {
  const port = await freePort();
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  const held: Array<() => void> = [];
  let stalled = false;
  let server: net.Server | null = null;

  const forward = (from: net.Socket, to: net.Socket) => {
    from.on('data', (chunk) => {
      if (stalled) held.push(() => to.write(chunk));
      else to.write(chunk);
    });
  };

  const onConnection = (client: net.Socket) => {
    const upstream = net.connect(target.port, target.host);
    const pair = { client, upstream };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
    forward(client, upstream);
    forward(upstream, client);
  };

  const proxy: TcpProxy = {
    port,
    get open() {
      return pairs.size;
    },
    async listen() {
      if (server) return;
      const s = net.createServer(onConnection);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, '127.0.0.1', () => resolve());
      });
      server = s;
    },
    async cut() {
      const s = server;
      server = null;
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    stall() {
      stalled = true;
    },
    resume() {
      stalled = false;
      for (const write of held.splice(0)) write();
    },
  };
  if (opts.listening !== false) await proxy.listen();
  return proxy;
}
