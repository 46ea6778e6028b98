import { createHash } from 'node:crypto';
import { type Client, GraphError } from '@microsoft/microsoft-graph-client';
import { type MicrosoftAppCredentials, MicrosoftError } from '../app/ports/microsoft.port.js';
import type {
  PresenceReader,
  PresenceReadThrottled,
  TeamsPresenceReading,
} from '../app/ports/presence.port.js';
import { PRESENCE_IDS_PER_REQUEST } from '../domain/presence.mapping.js';
import type { AppTokenSource } from './directory.reader.js';
import { graphError, identityError } from './errors.js';
import { createCountingGraphClient, type GraphTraffic } from './graph-transport.js';
import type { MicrosoftEndpoints } from './microsoft-clients.js';

/**
 * Teams presence over Graph, app-only: `POST /communications/getPresencesByUserId` with at most
 * 650 ids (https://learn.microsoft.com/graph/api/cloudcommunications-getpresencesbyuserid,
 * application permission Presence.Read.All). The client is built with no retries: a 429 comes
 * back to the poller with its Retry-After (seconds or an HTTP date), which the poller honours for
 * the whole PBX instead of holding a worker while the retry handler sleeps.
 */
function retryAfterMs(err: GraphError, now = Date.now()): number {
  const h = err.headers?.get?.('Retry-After') ?? err.headers?.get?.('retry-after') ?? null;
  if (h) {
    const secs = Number(h);
    if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
    const at = Date.parse(h);
    if (Number.isFinite(at)) return Math.max(0, at - now);
  }
  // "If no Retry-After header is provided … use an exponential backoff": start at 3 s, as graph-client does.
  return 3000;
}

export class GraphPresenceReader implements PresenceReader {
  private readonly clients = new Map<string, { client: Client; tokenError?: MicrosoftError }>();
  private readonly traffic: GraphTraffic = { requests: 0, throttled: 0 };

  constructor(
    private readonly endpoints: MicrosoftEndpoints,
    private readonly tokens: AppTokenSource,
  ) {}

  stats() {
    return { requests: this.traffic.requests, throttled: this.traffic.throttled };
  }

  private clientFor(app: MicrosoftAppCredentials) {
    const key = createHash('sha256')
      .update(`${app.tenantId}\n${app.clientId}\n${app.clientSecret}`)
      .digest('hex');
    let c = this.clients.get(key);
    if (c) return c;
    if (this.clients.size >= 1000) this.clients.clear();
    const created: { client: Client; tokenError?: MicrosoftError } = {
      client: undefined as unknown as Client,
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
      { maxRetries: 0 },
    );
    c = created;
    this.clients.set(key, c);
    return c;
  }

  async readPresences(
    app: MicrosoftAppCredentials,
    userIds: readonly string[],
  ): Promise<TeamsPresenceReading[] | PresenceReadThrottled> {
    if (userIds.length > PRESENCE_IDS_PER_REQUEST)
      throw new MicrosoftError('UNKNOWN', `at most ${PRESENCE_IDS_PER_REQUEST} ids a request`);
    if (userIds.length === 0) return [];
    const c = this.clientFor(app);
    let body: { value?: Array<Record<string, unknown>> };
    try {
      body = (await c.client
        .api('/communications/getPresencesByUserId')
        .post({ ids: userIds })) as typeof body;
    } catch (err) {
      // (counted as throttled by the transport's counting step)
      if (err instanceof GraphError && err.statusCode === 429)
        return { throttled: true, retryAfterMs: retryAfterMs(err) };
      if (err instanceof GraphError && err.statusCode === -1 && err.code === 'MicrosoftError' && c.tokenError)
        throw c.tokenError;
      throw graphError(err);
    }
    return (body.value ?? []).map((p) => ({
      userId: String(p.id),
      availability: String(p.availability ?? 'PresenceUnknown'),
      activity: String(p.activity ?? 'PresenceUnknown'),
    }));
  }
}
