import { Agent, request } from 'undici';
import type {
  AdminApp,
  AdminContact,
  AdminContactFolder,
  AdminGroup,
  AdminMailbox,
  AdminSubscription,
  AdminTenant,
  AdminUser,
  ContactInput,
  CreateGroupInput,
  CreateUserInput,
  FaultSettings,
  LifecycleEvent,
  MailboxThrottleSettings,
  NewSecret,
  NewSharedMailboxInput,
  NewTenantInput,
  NotificationSettings,
  NotificationStatus,
  Page,
  SandboxStats,
  UpdateUserInput,
} from './admin.types.js';
import type { AdminPresence } from './presence.admin.js';

export type * from './admin.types.js';

export class SandboxAdminError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`sandbox admin API ${status} ${code}: ${message}`);
  }
}

/**
 * Typed client of the sandbox admin API (`adminUrl`, bearer `adminToken`), over HTTPS
 * trusting the sandbox CA. For tests and the demo: change the tenant live, read request
 * statistics, set fault knobs.
 */
export class SandboxAdminClient {
  private readonly agent: Agent;

  constructor(
    private readonly adminUrl: string,
    private readonly adminToken: string,
    caPem: string,
  ) {
    this.agent = new Agent({ connect: { ca: caPem }, keepAliveTimeout: 1000 });
  }

  private async call<T>(
    method: string,
    path: string,
    body?: unknown,
    query?: Record<string, string | number | boolean | undefined>,
  ): Promise<T> {
    const url = new URL(`${this.adminUrl}${path}`);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { authorization: `Bearer ${this.adminToken}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await request(url, {
      method: method as 'GET',
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      dispatcher: this.agent,
    });
    const text = await res.body.text();
    const data = text ? (JSON.parse(text) as unknown) : undefined;
    if (res.statusCode >= 400) {
      const e = (data as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new SandboxAdminError(res.statusCode, e?.code ?? 'Error', e?.message ?? text);
    }
    return data as T;
  }

  // ---------------------------------------------------------------- tenant and statistics
  info(): Promise<Record<string, unknown>> {
    return this.call('GET', '/info');
  }
  /** Hosts another directory (sign-in, tokens and Graph reads answer for it by its id). */
  addTenant(input: NewTenantInput = {}): Promise<AdminTenant> {
    return this.call('POST', '/tenants', input);
  }
  /** Changes a user of another hosted directory (`addTenant`); the calls below change the seeded one. */
  updateUserIn(
    tenantId: string,
    id: string,
    patch: UpdateUserInput,
  ): Promise<AdminUser & { changed: string[] }> {
    return this.call(
      'PATCH',
      `/tenants/${encodeURIComponent(tenantId)}/users/${encodeURIComponent(id)}`,
      patch,
    );
  }
  stats(): Promise<SandboxStats> {
    return this.call('GET', '/stats');
  }
  resetStats(): Promise<SandboxStats> {
    return this.call('POST', '/stats/reset');
  }

  // ---------------------------------------------------------------- users
  listUsers(
    opts: {
      skip?: number;
      top?: number;
      includeDeleted?: boolean;
      userType?: 'Member' | 'Guest';
      accountEnabled?: boolean;
    } = {},
  ): Promise<Page<AdminUser>> {
    return this.call('GET', '/users', undefined, opts);
  }
  getUser(idOrUpn: string): Promise<AdminUser> {
    return this.call('GET', `/users/${encodeURIComponent(idOrUpn)}`);
  }
  createUser(input: CreateUserInput): Promise<AdminUser> {
    return this.call('POST', '/users', input);
  }
  updateUser(id: string, patch: UpdateUserInput): Promise<AdminUser & { changed: string[] }> {
    return this.call('PATCH', `/users/${encodeURIComponent(id)}`, patch);
  }
  disableUser(id: string): Promise<AdminUser> {
    return this.call('POST', `/users/${encodeURIComponent(id)}/disable`);
  }
  enableUser(id: string): Promise<AdminUser> {
    return this.call('POST', `/users/${encodeURIComponent(id)}/enable`);
  }
  /** Moves the user to the recycle bin (delta: `@removed: { reason: 'changed' }`). */
  softDeleteUser(id: string): Promise<void> {
    return this.call('DELETE', `/users/${encodeURIComponent(id)}`);
  }
  restoreUser(id: string): Promise<AdminUser> {
    return this.call('POST', `/users/${encodeURIComponent(id)}/restore`);
  }
  /**
   * Graph's revokeSignInSessions: every refresh token of the user stops working (refreshing
   * answers invalid_grant AADSTS50173) and the user's browser sessions end.
   */
  revokeSignInSessions(id: string): Promise<{ value: boolean; revokedRefreshTokens: number }> {
    return this.call('POST', `/users/${encodeURIComponent(id)}/revoke-sign-in-sessions`);
  }
  /** Deletes the user for good (delta: `@removed: { reason: 'deleted' }`). */
  hardDeleteUser(id: string): Promise<void> {
    return this.call('DELETE', `/users/${encodeURIComponent(id)}`, undefined, { permanent: true });
  }

  // ---------------------------------------------------------------- groups
  listGroups(
    opts: { skip?: number; top?: number; includeDeleted?: boolean } = {},
  ): Promise<Page<AdminGroup>> {
    return this.call('GET', '/groups', undefined, opts);
  }
  getGroup(id: string): Promise<AdminGroup> {
    return this.call('GET', `/groups/${encodeURIComponent(id)}`);
  }
  createGroup(input: CreateGroupInput): Promise<AdminGroup> {
    return this.call('POST', '/groups', input);
  }
  updateGroup(
    id: string,
    patch: Partial<Omit<CreateGroupInput, 'members'>>,
  ): Promise<AdminGroup & { changed: string[] }> {
    return this.call('PATCH', `/groups/${encodeURIComponent(id)}`, patch);
  }
  renameGroup(id: string, displayName: string): Promise<AdminGroup & { changed: string[] }> {
    return this.updateGroup(id, { displayName });
  }
  /** Microsoft 365 groups go to the recycle bin unless `permanent`; other groups are deleted for good. */
  deleteGroup(id: string, opts: { permanent?: boolean } = {}): Promise<{ deleted: 'soft' | 'hard' }> {
    return this.call('DELETE', `/groups/${encodeURIComponent(id)}`, undefined, { permanent: opts.permanent });
  }
  restoreGroup(id: string): Promise<AdminGroup> {
    return this.call('POST', `/groups/${encodeURIComponent(id)}/restore`);
  }
  addMember(groupId: string, memberId: string): Promise<void> {
    return this.call('POST', `/groups/${encodeURIComponent(groupId)}/members`, { id: memberId });
  }
  removeMember(groupId: string, memberId: string): Promise<void> {
    return this.call(
      'DELETE',
      `/groups/${encodeURIComponent(groupId)}/members/${encodeURIComponent(memberId)}`,
    );
  }

  // ---------------------------------------------------------------- app registrations
  listApps(): Promise<AdminApp[]> {
    return this.call('GET', '/apps');
  }
  getApp(appId: string): Promise<AdminApp> {
    return this.call('GET', `/apps/${encodeURIComponent(appId)}`);
  }
  /** Adds a client secret; give `endDateTime`, `expiresInSeconds` or `expiresInDays` (default 180). */
  addSecret(
    appId: string,
    opts: {
      displayName?: string;
      endDateTime?: string;
      expiresInSeconds?: number;
      expiresInDays?: number;
    } = {},
  ): Promise<NewSecret> {
    return this.call('POST', `/apps/${encodeURIComponent(appId)}/secrets`, opts);
  }
  expireSecret(appId: string, keyId: string): Promise<AdminApp> {
    return this.call(
      'POST',
      `/apps/${encodeURIComponent(appId)}/secrets/${encodeURIComponent(keyId)}/expire`,
    );
  }
  removeSecret(appId: string, keyId: string): Promise<void> {
    return this.call('DELETE', `/apps/${encodeURIComponent(appId)}/secrets/${encodeURIComponent(keyId)}`);
  }
  /**
   * Revokes consent. `userId`: that user's own consent. `appRoles`: those application
   * permissions (app tokens lose the roles). `scopes`: those delegated permissions granted for
   * the organisation (refreshing a token that needs them answers AADSTS65001). With none of
   * these: every consent of the app (admin and users', application and delegated).
   */
  revokeConsent(
    appId: string,
    opts: { userId?: string; appRoles?: string[]; scopes?: string[] } = {},
  ): Promise<AdminApp> {
    return this.call('POST', `/apps/${encodeURIComponent(appId)}/consent/revoke`, opts);
  }
  /**
   * Grants admin consent as the portal's "Grant admin consent" button does: the given
   * application (`appRoles`) and delegated (`scopes`) permissions, by default every one the
   * registration asks for. Tests of the gateway go through the sign-in journey instead.
   */
  grantConsent(appId: string, opts: { appRoles?: string[]; scopes?: string[] } = {}): Promise<AdminApp> {
    return this.call('POST', `/apps/${encodeURIComponent(appId)}/consent/grant`, opts);
  }
  /** Sets the API permissions the registration asks for (what admin consent with `/.default` grants). */
  setRequiredPermissions(appId: string, opts: { appRoles?: string[]; scopes?: string[] }): Promise<AdminApp> {
    return this.call('PUT', `/apps/${encodeURIComponent(appId)}/required-permissions`, opts);
  }
  addRedirectUri(appId: string, uri: string): Promise<AdminApp> {
    return this.call('POST', `/apps/${encodeURIComponent(appId)}/redirect-uris`, { uri });
  }

  // ---------------------------------------------------------------- change notifications
  /** Live subscriptions (with `includeEnded`, also expired, deleted and removed ones), with delivery counts. */
  listSubscriptions(opts: { includeEnded?: boolean } = {}): Promise<AdminSubscription[]> {
    return this.call('GET', '/subscriptions', undefined, opts);
  }
  /** One subscription, live or ended, with its state and delivery counts. */
  getSubscription(id: string): Promise<AdminSubscription> {
    return this.call('GET', `/subscriptions/${encodeURIComponent(id)}`);
  }
  /**
   * Raises a lifecycle event as Graph would: sent to the lifecycleNotificationUrl (`sent: false`
   * when the subscription has none). `reauthorizationRequired` (default) starts the grace period
   * after which change notifications pause; `subscriptionRemoved` also removes the subscription.
   */
  forceLifecycleEvent(
    id: string,
    event: LifecycleEvent = 'reauthorizationRequired',
  ): Promise<{ sent: boolean; subscription: AdminSubscription }> {
    return this.call('POST', `/subscriptions/${encodeURIComponent(id)}/lifecycle`, { event });
  }
  /** Its time is up now: Graph deletes it silently and delivers nothing more. */
  expireSubscription(id: string): Promise<AdminSubscription> {
    return this.call('POST', `/subscriptions/${encodeURIComponent(id)}/expire`);
  }
  /** Graph removes the subscription; with `notify`, a subscriptionRemoved lifecycle notification goes out. */
  removeSubscription(
    id: string,
    opts: { notify?: boolean } = {},
  ): Promise<{ sent: boolean; subscription: AdminSubscription }> {
    return this.call('DELETE', `/subscriptions/${encodeURIComponent(id)}`, undefined, {
      notify: opts.notify,
    });
  }
  /** Forgets every subscription and every queued notification. */
  resetSubscriptions(): Promise<{ removed: number }> {
    return this.call('DELETE', '/subscriptions');
  }
  /** Settings, queue sizes and totals of the notification machinery. */
  notificationStatus(): Promise<NotificationStatus> {
    return this.call('GET', '/notifications');
  }
  /** Retry timing, deadlines, batching, quotas (see NotificationSettings). */
  setNotificationSettings(patch: Partial<NotificationSettings>): Promise<NotificationSettings> {
    return this.call('PATCH', '/notifications/settings', patch);
  }
  resetNotificationSettings(): Promise<NotificationSettings> {
    return this.call('POST', '/notifications/settings/reset');
  }

  // ---------------------------------------------------------------- mailboxes and contacts
  // `user` is a user id or UPN; `folderId` a folder id or `contacts` (the default folder).

  /** A user's mailbox: shared or not, FullAccess members, folders with counts and sharing. */
  getMailbox(user: string): Promise<AdminMailbox> {
    return this.call('GET', `/mailboxes/${encodeURIComponent(user)}`);
  }
  /** The mailbox's contact folders (the default Contacts folder first). */
  listContactFolders(user: string): Promise<AdminContactFolder[]> {
    return this.call('GET', `/mailboxes/${encodeURIComponent(user)}/folders`);
  }
  /** A child folder of the default Contacts folder. */
  createContactFolder(user: string, displayName: string): Promise<AdminContactFolder> {
    return this.call('POST', `/mailboxes/${encodeURIComponent(user)}/folders`, { displayName });
  }
  /** Creates a contact (in the default folder unless `folderId`); it shows in that folder's delta. */
  createContact(user: string, input: ContactInput, folderId = 'contacts'): Promise<AdminContact> {
    return this.call(
      'POST',
      `/mailboxes/${encodeURIComponent(user)}/folders/${encodeURIComponent(folderId)}/contacts`,
      input,
    );
  }
  getContact(user: string, contactId: string): Promise<AdminContact> {
    return this.call(
      'GET',
      `/mailboxes/${encodeURIComponent(user)}/contacts/${encodeURIComponent(contactId)}`,
    );
  }
  /** Updates a contact (null clears a property); its changeKey and lastModifiedDateTime change. */
  updateContact(user: string, contactId: string, patch: ContactInput): Promise<AdminContact> {
    return this.call(
      'PATCH',
      `/mailboxes/${encodeURIComponent(user)}/contacts/${encodeURIComponent(contactId)}`,
      patch,
    );
  }
  /** Deletes a contact (delta: `@removed: { reason: 'deleted' }`). */
  deleteContact(user: string, contactId: string): Promise<void> {
    return this.call(
      'DELETE',
      `/mailboxes/${encodeURIComponent(user)}/contacts/${encodeURIComponent(contactId)}`,
    );
  }
  /** The owner shares a contact folder with another user (read): that user's delegated token with Contacts.Read.Shared reads it. */
  shareContactFolder(user: string, folderId: string, withUser: string): Promise<AdminContactFolder> {
    return this.call(
      'POST',
      `/mailboxes/${encodeURIComponent(user)}/folders/${encodeURIComponent(folderId)}/share`,
      { userId: withUser },
    );
  }
  unshareContactFolder(user: string, folderId: string, withUserId: string): Promise<AdminContactFolder> {
    return this.call(
      'DELETE',
      `/mailboxes/${encodeURIComponent(user)}/folders/${encodeURIComponent(folderId)}/share/${encodeURIComponent(withUserId)}`,
    );
  }
  /** Shared mailboxes (seeded or created), with their members. */
  listSharedMailboxes(): Promise<AdminMailbox[]> {
    return this.call('GET', '/shared-mailboxes');
  }
  /** A shared mailbox: a user that cannot sign in (accountEnabled false), with FullAccess members. */
  createSharedMailbox(input: NewSharedMailboxInput): Promise<AdminMailbox> {
    return this.call('POST', '/shared-mailboxes', input);
  }
  /** Grants FullAccess on a mailbox (any user's, shared or not) to a user. */
  addMailboxMember(user: string, memberUser: string): Promise<AdminMailbox> {
    return this.call('POST', `/mailboxes/${encodeURIComponent(user)}/members`, { userId: memberUser });
  }
  removeMailboxMember(user: string, memberUserId: string): Promise<AdminMailbox> {
    return this.call(
      'DELETE',
      `/mailboxes/${encodeURIComponent(user)}/members/${encodeURIComponent(memberUserId)}`,
    );
  }
  /**
   * Exchange loses the sync states: every contact delta and skip token issued so far (all
   * mailboxes, or one mailbox, or one folder of it) answers 410 Gone `SyncStateNotFound`.
   */
  expireContactSyncStates(
    opts: { userId?: string; folderId?: string } = {},
  ): Promise<{ syncStatesValidAfter: string }> {
    return this.call('POST', '/mailboxes/expire-sync-states', opts);
  }
  /** Outlook's per-mailbox limits (concurrency 4, 10,000 requests per 600,000 ms); setting them clears the counters. */
  mailboxThrottling(): Promise<MailboxThrottleSettings> {
    return this.call('GET', '/mailbox-throttling');
  }
  setMailboxThrottling(patch: Partial<MailboxThrottleSettings>): Promise<MailboxThrottleSettings> {
    return this.call('PATCH', '/mailbox-throttling', patch);
  }
  resetMailboxThrottling(): Promise<MailboxThrottleSettings> {
    return this.call('POST', '/mailbox-throttling/reset');
  }

  // ---------------------------------------------------------------- fault knobs
  faults(): Promise<FaultSettings> {
    return this.call('GET', '/faults');
  }
  setFaults(
    patch: Partial<Pick<FaultSettings, 'latencyMs' | 'errorRate' | 'throttling' | 'resourceUnitLimit'>>,
  ): Promise<FaultSettings> {
    return this.call('PATCH', '/faults', patch);
  }
  /** Holds Graph requests whose path and query contain `pathContains`, unanswered, until `releaseHeld()`. */
  holdRequests(pathContains: string): Promise<{ pathContains: string; waiting: number }> {
    return this.call('POST', '/faults/hold', { pathContains });
  }
  /** How many Graph requests are held now. */
  heldRequests(): Promise<{ pathContains: string | null; waiting: number }> {
    return this.call('GET', '/faults/hold');
  }
  releaseHeld(): Promise<{ released: number }> {
    return this.call('POST', '/faults/release');
  }
  setLatency(latencyMs: number): Promise<FaultSettings> {
    return this.setFaults({ latencyMs });
  }
  setErrorRate(errorRate: number): Promise<FaultSettings> {
    return this.setFaults({ errorRate });
  }
  /** The next `count` Graph requests (whose path contains `pathContains`, if given) get 429 with this Retry-After. */
  forceThrottle(
    opts: { count?: number; retryAfterSeconds?: number; pathContains?: string } = {},
  ): Promise<FaultSettings> {
    return this.call('POST', '/faults/throttle', opts);
  }
  /**
   * Every delta and skip token issued so far answers 400 syncStateNotFound from now on;
   * `code` sets the spelling of the error code (e.g. `SyncStateNotFound`, as Graph has also answered).
   */
  expireDeltaTokens(opts: { code?: string } = {}): Promise<{ deltaTokensValidAfter: string; code: string }> {
    return this.call('POST', '/faults/expire-delta-tokens', opts);
  }
  /**
   * Graph's synchronization reset: every delta and skip token issued so far answers 410 Gone
   * with a `Location` header (the initial query with an empty `$deltatoken`) from now on.
   */
  forceDeltaResync(): Promise<{ deltaTokensGoneBefore: string }> {
    return this.call('POST', '/faults/delta-resync');
  }
  resetFaults(): Promise<FaultSettings> {
    return this.call('POST', '/faults/reset');
  }

  // ---------------------------------------------------------------- Teams presence
  /** A user's Teams presence (seeded until set: `changedAt` null). */
  presence(userId: string): Promise<AdminPresence> {
    return this.call('GET', `/users/${encodeURIComponent(userId)}/presence`);
  }
  /** Sets a user's Teams presence, as the user (or Teams itself) would. */
  setPresence(userId: string, availability: string, activity: string): Promise<AdminPresence> {
    return this.call('PUT', `/users/${encodeURIComponent(userId)}/presence`, { availability, activity });
  }
  /** Sets the presence of many users at once (one change time). */
  setPresences(
    changes: Array<{ userId: string; availability: string; activity: string }>,
  ): Promise<AdminPresence[]> {
    return this.call('POST', '/presence/changes', { changes });
  }
  presenceLoad(): Promise<{ changesPerMinute: number; changesMade: number }> {
    return this.call('GET', '/presence/load');
  }
  /** The load mode: `changesPerMinute` (or a `share` of the live users) change presence each minute; 0 stops it. */
  setPresenceLoad(opts: {
    changesPerMinute?: number;
    share?: number;
  }): Promise<{ changesPerMinute: number; changesMade: number }> {
    return this.call('PUT', '/presence/load', opts);
  }
  /** The presence API's request limit (default 1,500 per 30 s per app per tenant) and the requests in the window. */
  setPresenceThrottling(opts: {
    enabled?: boolean;
    requests?: number;
    windowSeconds?: number;
  }): Promise<{ enabled: boolean; requests: number; windowSeconds: number; inWindow: number }> {
    return this.call('PUT', '/presence/throttling', opts);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
