import {
  DEFAULT_MAILBOX_THROTTLE,
  MailboxThrottle,
  type MailboxThrottleSettings,
} from './mailbox.throttle.js';
import type { NotificationDispatcher } from './notifications.dispatcher.js';
import { PresenceLoad, PresenceThrottle } from './presence.store.js';
import { type NotificationSettings, SubscriptionStore } from './subscriptions.store.js';
import type { Tenant } from './tenant.store.js';
import { ResourceUnitBuckets } from './throttle.bucket.js';
import type { TokenSigner } from './tokens.signer.js';

/** Knobs that make the sandbox misbehave on purpose, settable live through the admin API. */
export interface Faults {
  /** Added to every identity and Graph response (ms). */
  latencyMs: number;
  /** Share (0..1) of Graph requests answered 503 or 504 before any work. */
  errorRate: number;
  /** Identity-and-access resource-unit throttling on/off. */
  throttling: boolean;
  /** Overrides the bucket size (RU per 10 s) that the tenant size gives; null = as documented. */
  resourceUnitLimit: number | null;
  /** Queued forced 429s: the next `remaining` Graph requests (whose path contains `pathContains`) get one. */
  forced429: Array<{ remaining: number; retryAfterSeconds: number; pathContains?: string }>;
}

export interface Stats {
  /** Graph HTTP requests received (a $batch counts once). */
  graphRequests: number;
  /** HTTP requests by method and path without the version and the query, e.g. "GET /users". */
  graphByPath: Record<string, number>;
  /** Requests inside $batch bodies, by method and path. */
  batchItemsByPath: Record<string, number>;
  identityRequests: number;
  tokenRequests: number;
  throttled: number;
  faults: number;
}

export interface AuthCodeGrant {
  /** The directory that issued the code: it is redeemed there only (AADSTS700005 elsewhere). */
  tenantId: string;
  clientId: string;
  redirectUri: string;
  userId: string;
  scopes: string[];
  codeChallenge?: string;
  codeChallengeMethod?: string;
  nonce?: string;
  expiresAt: number;
  redeemed: boolean;
}

export interface RefreshGrant {
  tenantId: string;
  clientId: string;
  userId: string;
  scopes: string[];
  /** When the sign-in that issued it happened (ms). */
  issuedAt: number;
  expiresAt: number;
  /** Revoked (the user's sign-in sessions were revoked): refreshing answers AADSTS50173. */
  revoked: boolean;
  revokedAt?: number;
}

/** One pending authorize request, between the sign-in and consent pages. */
export interface AuthorizeFlow {
  id: string;
  /** The directory the authorize request was sent to; sign-in and consent happen there. */
  tenantId: string;
  kind: 'authorize' | 'adminconsent';
  params: Record<string, string>;
  clientId: string;
  redirectUri: string;
  scopes: string[];
  /** The request asked for `{resource}/.default`: the app registration's configured permissions. */
  dotDefault?: boolean;
  userId?: string;
  createdAt: number;
}

export interface SandboxSettings {
  autoSignIn: boolean;
  accessTokenLifetimeSeconds: number;
  deltaTokenLifetimeMs: number;
}

export function emptyStats(): Stats {
  return {
    graphRequests: 0,
    graphByPath: {},
    batchItemsByPath: {},
    identityRequests: 0,
    tokenRequests: 0,
    throttled: 0,
    faults: 0,
  };
}

export class SandboxContext {
  readonly buckets = new ResourceUnitBuckets();
  /** Outlook's per-app, per-mailbox limits (concurrency, requests per window) and their knobs. */
  readonly mailboxThrottle = new MailboxThrottle();
  /** The presence API's limit (1,500 requests per 30 s per app per tenant) and its knobs. */
  readonly presenceThrottle = new PresenceThrottle();
  /** The presence load mode (a share of users change presence every minute). */
  readonly presenceLoad = new PresenceLoad();
  readonly codes = new Map<string, AuthCodeGrant>();
  readonly refreshTokens = new Map<string, RefreshGrant>();
  readonly sessions = new Map<string, { userId: string; createdAt: number }>();
  readonly flows = new Map<string, AuthorizeFlow>();
  stats: Stats = emptyStats();
  /** Change-notification subscriptions (Graph `/subscriptions`) and their settings. */
  readonly subscriptions = new SubscriptionStore();
  /** Validation requests, change and lifecycle notifications; set by startSandbox. */
  notifications: NotificationDispatcher | null = null;
  /** The notification settings as the sandbox started, for `notifications/settings/reset`. */
  initialNotificationSettings: NotificationSettings | null = null;
  /** The mailbox limits as the sandbox started, for `mailbox-throttling/reset`. */
  initialMailboxThrottle: MailboxThrottleSettings = { ...DEFAULT_MAILBOX_THROTTLE };
  /** The knobs as the sandbox started, for `faults/reset`. */
  initialFaults: Faults = {
    latencyMs: 0,
    errorRate: 0,
    throttling: true,
    resourceUnitLimit: null,
    forced429: [],
  };

  /**
   * Every directory the sandbox hosts, by id: the seeded one (`tenant`) and any added through
   * the admin API (`POST /_sandbox/tenants`). Requests reach one through a view of this context
   * (`forTenant`) whose `tenant` is that directory; everything else is shared.
   */
  readonly tenants = new Map<string, Tenant>();
  /**
   * Graph requests held on purpose (admin `POST /faults/hold`): those whose path and query
   * contain `pathContains` wait, unanswered, until `POST /faults/release`. Tests use it to
   * change the tenant at a known point of a read (while a partitioned read is half done).
   */
  readonly gate: { pathContains: string | null; waiting: Array<() => void> } = {
    pathContains: null,
    waiting: [],
  };
  private readonly views = new Map<string, SandboxContext>();

  constructor(
    /** The directory this context (or view) serves; on the root context, the seeded one. */
    readonly tenant: Tenant,
    readonly signer: TokenSigner,
    /** Set once the server listens (the port may be chosen by the OS). */
    public authorityHost: string,
    public graphBaseUrl: string,
    readonly settings: SandboxSettings,
    readonly faults: Faults,
  ) {
    this.tenants.set(tenant.id, tenant);
  }

  /** The seeded directory: change notifications, `/common` and `/organizations` serve it. */
  get primary(): Tenant {
    return this.root.tenant;
  }

  private get root(): SandboxContext {
    const proto: unknown = Object.getPrototypeOf(this);
    return proto instanceof SandboxContext ? proto : this;
  }

  /**
   * This context as seen from directory `t`: same codes, sessions, faults, statistics and
   * signer, but `tenant` (and with it the issuer) is `t`. Views are kept, so caches keyed by
   * context stay per directory.
   */
  forTenant(t: Tenant): SandboxContext {
    const root = this.root;
    if (t === root.tenant) return root;
    let view = root.views.get(t.id);
    if (!view) {
      view = Object.create(root, { tenant: { value: t, enumerable: true } }) as SandboxContext;
      root.views.set(t.id, view);
    }
    return view;
  }

  /** A hosted directory by id or domain name; `common`/`organizations` mean the seeded one. */
  findTenant(idOrDomain: string): Tenant | undefined {
    const k = idOrDomain.toLowerCase();
    if (k === 'common' || k === 'organizations') return this.primary;
    const byId = this.tenants.get(k);
    if (byId) return byId;
    for (const t of this.tenants.values()) if (t.initialDomain === k || t.defaultDomain === k) return t;
    return undefined;
  }

  /** The directory a user (by object id or userPrincipalName) belongs to, among all hosted. */
  homeTenantOf(idOrUpn: string): Tenant | undefined {
    for (const t of this.tenants.values()) if (t.activeUser(idOrUpn)) return t;
    return undefined;
  }

  /**
   * Graph's `POST /users/{id}/revokeSignInSessions` (https://learn.microsoft.com/graph/api/user-revokesigninsessions):
   * every refresh token of the user in this directory stops working (AADSTS50173 on refresh)
   * and the user's browser sessions end. Returns how many refresh tokens were revoked.
   */
  revokeSignInSessions(userId: string): number {
    const now = Date.now();
    let n = 0;
    for (const grant of this.refreshTokens.values()) {
      if (grant.tenantId !== this.tenant.id || grant.userId !== userId || grant.revoked) continue;
      grant.revoked = true;
      grant.revokedAt = now;
      n++;
    }
    for (const [sid, session] of this.sessions) if (session.userId === userId) this.sessions.delete(sid);
    return n;
  }

  /** The resource identifiers that mean Microsoft Graph, for scopes and the `aud` claim. */
  get graphResources(): string[] {
    return [
      'https://graph.microsoft.com',
      '00000003-0000-0000-c000-000000000000',
      new URL(this.graphBaseUrl).origin,
    ];
  }

  get issuerV2(): string {
    return `${this.authorityHost}/${this.tenant.id}/v2.0`;
  }

  /** Issuer of v1.0 access tokens (Graph's): the sandbox's stand-in for https://sts.windows.net/{tid}/. */
  get issuerV1(): string {
    return `${this.authorityHost}/${this.tenant.id}/`;
  }
}
