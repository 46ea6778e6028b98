/** Shapes of the sandbox admin API (`/_sandbox/...`), shared by the routes and the client. */

import type { DispatcherTotals } from './notifications.dispatcher.js';
import type { NotificationSettings, SubscriptionStats } from './subscriptions.store.js';

export interface AdminUser {
  id: string;
  isAdmin: boolean;
  /** soft-deleted (in the recycle bin) */
  deleted: boolean;
  accountEnabled: boolean;
  displayName: string;
  userPrincipalName: string;
  userType: 'Member' | 'Guest';
  mail?: string | null;
  givenName?: string | null;
  surname?: string | null;
  jobTitle?: string | null;
  department?: string | null;
  businessPhones?: string[];
  mobilePhone?: string | null;
  officeLocation?: string | null;
  [property: string]: unknown;
}

export interface AdminGroup {
  id: string;
  deleted: boolean;
  displayName: string;
  groupTypes: string[];
  securityEnabled: boolean;
  mailEnabled: boolean;
  mail?: string | null;
  description?: string | null;
  /** direct members (users and groups), without soft-deleted ones */
  members: string[];
  [property: string]: unknown;
}

export interface CreateUserInput {
  userPrincipalName: string;
  displayName: string;
  givenName?: string;
  surname?: string;
  mail?: string | null;
  accountEnabled?: boolean;
  userType?: 'Member' | 'Guest';
  jobTitle?: string;
  department?: string;
  businessPhones?: string[];
  mobilePhone?: string;
  officeLocation?: string;
  companyName?: string;
  city?: string;
  country?: string;
  usageLocation?: string;
  preferredLanguage?: string;
  employeeId?: string;
  isAdmin?: boolean;
  [property: string]: unknown;
}

export type UpdateUserInput = Partial<Omit<CreateUserInput, 'isAdmin'>>;

export interface CreateGroupInput {
  displayName: string;
  description?: string;
  /** ['Unified'] for a Microsoft 365 group, [] (default) for a security group */
  groupTypes?: string[];
  securityEnabled?: boolean;
  mailEnabled?: boolean;
  mailNickname?: string;
  visibility?: 'Public' | 'Private';
  members?: string[];
}

export interface AdminAppSecret {
  keyId: string;
  displayName: string;
  hint: string;
  startDateTime: string;
  endDateTime: string;
  expired: boolean;
}

export interface AdminApp {
  appId: string;
  displayName: string;
  redirectUris: string[];
  secrets: AdminAppSecret[];
  requiredAppRoles: string[];
  requiredScopes: string[];
  grantedAppRoles: string[];
  adminConsentedScopes: string[];
  userConsents: Record<string, string[]>;
}

export interface NewSecret {
  keyId: string;
  secretText: string;
  endDateTime: string;
}

export interface FaultSettings {
  latencyMs: number;
  errorRate: number;
  throttling: boolean;
  resourceUnitLimit: number | null;
  forced429: Array<{ remaining: number; retryAfterSeconds: number; pathContains?: string }>;
}

export interface SandboxStats {
  graphRequests: number;
  graphByPath: Record<string, number>;
  batchItemsByPath: Record<string, number>;
  identityRequests: number;
  tokenRequests: number;
  throttled: number;
  faults: number;
}

export interface Page<T> {
  value: T[];
  total: number;
}

// ---------------------------------------------------------------- change notifications

export type { DispatcherTotals, LifecycleEvent } from './notifications.dispatcher.js';
export type { NotificationSettings, SubscriptionStats } from './subscriptions.store.js';

/** A Graph subscription as the admin API shows it: Graph's fields plus state and delivery counts. */
export interface AdminSubscription {
  id: string;
  resource: string;
  changeType: string;
  notificationUrl: string;
  lifecycleNotificationUrl: string | null;
  clientState: string | null;
  expirationDateTime: string;
  applicationId: string;
  creatorId: string;
  createdDateTime: string;
  /** active, or how it ended: expired (time up), deleted (DELETE by the app), removed (by the admin API) */
  state: 'active' | 'expired' | 'deleted' | 'removed';
  endedDateTime: string | null;
  /** a reauthorizationRequired challenge is pending */
  reauthorizationRequired: boolean;
  /** the challenge is older than reauthorizationGraceMs: change notifications are dropped */
  paused: boolean;
  stats: SubscriptionStats;
}

export interface NotificationStatus {
  settings: NotificationSettings;
  /** notifications waiting for their batch window */
  batched: number;
  /** notifications waiting for a retry */
  retrying: number;
  /** POSTs under way */
  inFlight: number;
  totals: DispatcherTotals;
}

/** `POST /_sandbox/tenants`: another directory beside the seeded one. */
export interface NewTenantInput {
  /** Makes the directory (ids, names, users); default: one not used yet. */
  seed?: number;
  /** default 10 */
  users?: number;
  groups?: number;
  /**
   * App registrations of the other directories to provision here as multi-tenant apps: same
   * client id, secrets, redirect URIs and requested permissions; nothing is consented in this
   * directory until its admin consents (sign-in with admin consent, or `/adminconsent`).
   */
  provisionApps?: string[];
}

export interface AdminTenant {
  tenantId: string;
  tenantName: string;
  initialDomain: string;
  defaultDomain: string;
  /** Its Global Administrator (password SANDBOX_PASSWORD). */
  adminUpn: string;
  /** The directory's own app registration, and its secret. */
  clientId: string;
  clientSecret: string;
  /** Every app registration or provisioned app the directory has. */
  apps: string[];
}

// ---------------------------------------------------------------- mailboxes (contacts)

export type { ContactData, ContactView as AdminContact, EmailAddress } from './mailbox.store.js';
export type { MailboxThrottleSettings } from './mailbox.throttle.js';

/** A contact's writable properties, for create (missing ones unset) and update (missing ones unchanged; null clears). */
export type ContactInput = Partial<import('./mailbox.store.js').ContactData>;

export interface AdminContactFolder {
  /** Graph's folder id (also `contacts` works for the default folder in every route) */
  id: string;
  displayName: string;
  parentFolderId: string;
  /** the default Contacts folder (`/users/{id}/contacts`) */
  isDefault: boolean;
  /** live contacts in it */
  contacts: number;
  /** user ids the folder is shared with (read) */
  sharedWith: string[];
}

export interface AdminMailbox {
  userId: string;
  userPrincipalName: string;
  displayName: string;
  mail: string;
  /** a shared mailbox (its user cannot sign in) */
  shared: boolean;
  /** FullAccess members (user ids): they read every folder with Contacts.Read.Shared */
  members: string[];
  folders: AdminContactFolder[];
}

export interface NewSharedMailboxInput {
  displayName: string;
  /** default: from the display name, + ".shared" */
  mailNickname?: string;
  /** FullAccess members (user ids or UPNs) */
  members?: string[];
}
