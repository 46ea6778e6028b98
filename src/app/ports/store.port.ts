import type { ApiRole } from '../../domain/access.js';
import type {
  ExtensionFields,
  ExtensionGroupRecord,
  ExtensionKey,
  ExtensionRecord,
} from '../../domain/extension-rules.js';
import type { HealthCode, IntegrationStatus } from '../../domain/integration.js';
import type { SyncSource } from '../../domain/pbx.types.js';
import type { ApiKeyRecord, PbxRecord, PbxSettings } from '../../domain/tenant.js';
import type { SubscriptionRepository } from './change-notifications.port.js';
import type { ContactLookupRepository } from './contact-lookup.port.js';
import type { ContactSyncLedger } from './contact-sync.port.js';
import type { ContactRepository } from './contacts.port.js';
import type { LinkusSessionRepository } from './linkus-sessions.port.js';
import type { PresenceRepository } from './presence.port.js';
import type { DirectoryApplier, SyncRepository } from './sync.port.js';
import type { WelcomeEmailRepository } from './welcome-email.port.js';

/**
 * The ports the use cases read and write through. Adapters (src/store, src/m365,
 * jobs/) implement them; src/app never imports an adapter.
 */

/** Which PBXs a fleet list shows: a case-insensitive substring of the name. */
export interface PbxFilter {
  search?: string | null;
}

/** Whose keys a list shows: one PBX's, or the operators' (keys of no PBX). */
export type KeyOwner = { pbxId: string } | { operators: true };

/** What deleting a PBX removed: the PBX as it was, its keys' ids, and the rows per table. */
export interface DeletedPbxRows {
  pbx: PbxRecord;
  keyIds: string[];
  /** S4: the ids of its Linkus sessions that were live (announced as the keys are). */
  linkusSessionIds: string[];
  rows: Record<string, number>;
}

export interface TenantRepository {
  findPbx(id: string): Promise<PbxRecord | null>;
  /** Every PBX (for the jobs that visit them all). */
  listPbxs(): Promise<PbxRecord[]>;
  /** PBXs in the order they were created; INVALID_INPUT (`after`) for a cursor it did not make. */
  pagePbxs(filter: PbxFilter, page: PageRequest): Promise<Page<PbxRecord>>;
  createPbx(settings: PbxSettings): Promise<PbxRecord>;
  updatePbx(id: string, patch: Partial<PbxSettings>): Promise<PbxRecord>;
  /**
   * Deletes the PBX and every row of it (keys, directory, runs, audit log ...), leaves first,
   * in bounded statements, in the caller's transaction; null when there is no such PBX.
   */
  deletePbx(id: string): Promise<DeletedPbxRows | null>;
  findActiveKeyByHash(hash: string): Promise<ApiKeyRecord | null>;
  /** A key by id, revoked or not. */
  findKey(id: string): Promise<ApiKeyRecord | null>;
  /** Keys whose shown prefix starts with `prefix` (at most 20), revoked or not. */
  findKeysByPrefix(prefix: string): Promise<ApiKeyRecord[]>;
  /** Keys in the order they were made. */
  pageKeys(
    owner: KeyOwner,
    opts: { includeRevoked: boolean },
    page: PageRequest,
  ): Promise<Page<ApiKeyRecord>>;
  /** `pbxId` null: an OPERATOR key. */
  createKey(input: {
    pbxId: string | null;
    role: ApiRole;
    hash: string;
    prefix: string;
    label: string | null;
    /** A LINKUS key's extension (of the same PBX). */
    extensionId?: string | null;
  }): Promise<ApiKeyRecord>;
  /** Revokes one key (a key revoked already keeps its first revocation time); null when unknown. */
  revokeKey(id: string, now: Date): Promise<ApiKeyRecord | null>;
  revokeKeys(pbxId: string, label: string, now: Date): Promise<number>;
  /** Which of `ids` are keys that exist and are not revoked. */
  activeKeyIds(ids: readonly string[]): Promise<Set<string>>;
}

/** The integration row as stored: secrets stay sealed here; src/app opens them when it must. */
export interface IntegrationData {
  id: string;
  pbxId: string;
  status: IntegrationStatus;
  userSyncPaused: boolean;
  groupSyncPaused: boolean;
  contactSyncPaused: boolean;
  clientId: string | null;
  tenantId: string | null;
  secretSealed: string | null;
  secretLast4: string | null;
  secretExpiresAt: Date | null;
  tokenCacheSealed: string | null;
  accountUsername: string | null;
  accountName: string | null;
  accountOid: string | null;
  accountHomeId: string | null;
  organizationId: string | null;
  organizationName: string | null;
  directoryGroupCount: number | null;
  connectedAt: Date | null;
  lastErrorCode: string | null;
  lastErrorMessage: string | null;
  lastErrorAt: Date | null;
  warnings: string | null;
  warningsCheckedAt: Date | null;
  /** The connect (or reconsent) attempt waiting for Microsoft; a callback of an older attempt is refused. */
  connectAttempt: string | null;
  /** S1: Linkus users may sign in with their Microsoft account. */
  linkusSsoEnabled: boolean;
  /** S1: the registered redirect URIs of the Linkus clients (web, mobile apps). */
  linkusSsoRedirectUris: string[];
  updatedAt: Date;
  /** What the last check of Microsoft's access found (kept apart: a check changes no setting). */
  health: IntegrationHealthData;
}

/** The last health check of an integration (issue 11 item 3). */
export interface IntegrationHealthData {
  codes: HealthCode[];
  /** Required permissions the last check found missing, e.g. "Group.Read.All (application)". */
  missingPermissions: string[];
  message: string | null;
  checkedAt: Date | null;
  /** The last time a check found nothing wrong. */
  lastHealthyAt: Date | null;
}

export interface IntegrationRepository {
  /** The PBX's integration (made, NOT_CONNECTED, on first read). */
  get(pbxId: string): Promise<IntegrationData>;
  update(
    pbxId: string,
    patch: Partial<Omit<IntegrationData, 'id' | 'pbxId' | 'health'>>,
  ): Promise<IntegrationData>;
  /** Records a health check; the integration's settings and `updatedAt` do not change. */
  recordHealth(pbxId: string, health: IntegrationHealthData): Promise<IntegrationHealthData>;
  /** Every integration with a sealed secret or token cache (for key rotation and the daily check). */
  listAll(): Promise<IntegrationData[]>;
  /** The Linkus clients' redirect URIs of every integration with Linkus SSO on (S2: web origins). */
  linkusSsoRedirectUris(): Promise<string[]>;
  /**
   * Sets a sealed field to `next` only if it still holds `expected` (compare and set, for
   * re-sealing under a new key while gateways write): false when it changed meanwhile.
   */
  replaceSealed(
    pbxId: string,
    field: 'secretSealed' | 'tokenCacheSealed',
    expected: string,
    next: string,
  ): Promise<boolean>;
}

/** A page of a cursor-paged list: cursors are opaque to callers. */
export interface PageRequest {
  first: number;
  after?: string | null;
}
export interface Page<T> {
  edges: Array<{ cursor: string; node: T }>;
  endCursor: string | null;
  hasNextPage: boolean;
  totalCount: number;
}

/** Filters of the extension list: number prefix; name, email substring (case-insensitive); source. */
export interface ExtensionFilter {
  number?: string | null;
  name?: string | null;
  email?: string | null;
  source?: SyncSource | null;
}

/**
 * What the directory stores for an extension. The PBX-managed fields default (no caller
 * id name, voicemail on, no notes); only the sync (and tests) set source and externalId.
 */
export interface ExtensionWrite
  extends Omit<ExtensionFields, 'callerIdName' | 'voicemailEnabled' | 'notes'>,
    Partial<Pick<ExtensionFields, 'callerIdName' | 'voicemailEnabled' | 'notes'>> {
  source?: SyncSource;
  externalId?: string | null;
}

export interface ExtensionGroupWrite {
  name: string;
  source?: SyncSource;
  externalId?: string | null;
  /** Replaces the whole member set (ids of extensions of the same PBX). */
  memberIds?: readonly string[];
}

/** Which synced rows a lifecycle step deletes or releases (L4–L7). */
export type DirectoryKind = 'EXTENSIONS' | 'GROUPS';

/**
 * The PBX directory (extensions and extension groups), always scoped to one PBX. Unique
 * conflicts surface as AppError NUMBER_IN_USE / EMAIL_IN_USE / NAME_IN_USE / INVALID_INPUT.
 */
export interface PbxDirectoryRepository {
  /** Serialises directory writes of one PBX until the transaction ends (capacity, group limit). */
  lockPbx(pbxId: string): Promise<void>;
  /** Every extension of the PBX, ordered by number, in one query (for the sync engine). */
  listExtensions(pbxId: string): Promise<ExtensionRecord[]>;
  /**
   * Every extension of the PBX as the group sync needs it (id, source, externalId) and no
   * more: at 100,000 extensions the whole records were the largest thing a run held when it
   * planned groups (issue 16 item 3).
   */
  listExtensionKeys(pbxId: string): Promise<ExtensionKey[]>;
  /** Every group of the PBX with its member ids, in one query (for the sync engine). */
  listExtensionGroups(pbxId: string): Promise<ExtensionGroupRecord[]>;
  /** Extensions ordered by number; INVALID_INPUT (`after`) for a cursor it did not make. */
  pageExtensions(pbxId: string, filter: ExtensionFilter, page: PageRequest): Promise<Page<ExtensionRecord>>;
  /** Groups ordered by name. */
  pageExtensionGroups(pbxId: string, page: PageRequest): Promise<Page<ExtensionGroupRecord>>;
  findExtension(pbxId: string, id: string): Promise<ExtensionRecord | null>;
  findExtensionByNumber(pbxId: string, number: string): Promise<ExtensionRecord | null>;
  /** S2: the SYNCED extension of an Entra user (object id), or null (one probe of a unique index). */
  findSyncedExtensionByExternalId(pbxId: string, externalId: string): Promise<ExtensionRecord | null>;
  /** Case-insensitive. */
  findExtensionByEmail(pbxId: string, email: string): Promise<ExtensionRecord | null>;
  /** Which of `ids` are extensions of this PBX. */
  existingExtensionIds(pbxId: string, ids: readonly string[]): Promise<Set<string>>;
  countExtensions(pbxId: string): Promise<number>;
  /** Issue 16: how many extensions the PBX has, and how many are synced (two COUNTs). */
  extensionCounts(pbxId: string): Promise<{ total: number; synced: number }>;
  /**
   * Issue 16: the extensions with any of these Entra ids, email keys (lower-cased, trimmed) or
   * numbers, each once (indexed lookups, chunked IN lists).
   */
  findExtensionsByKeys(
    pbxId: string,
    keys: { externalIds?: readonly string[]; emailKeys?: readonly string[]; numbers?: readonly string[] },
  ): Promise<ExtensionRecord[]>;
  /** Issue 16 (U3 AUTO): the `count` lowest numbers ≥ `start` no extension holds, ascending (fewer past 9999999). */
  freeExtensionNumbers(pbxId: string, start: string, count: number): Promise<string[]>;
  /**
   * Issue 16: every extension group of the PBX, with its members only when `withMembers` says
   * so (the rest have none listed): the groups are few, their member lists are not.
   */
  listExtensionGroupsFor(
    pbxId: string,
    withMembers: (group: ExtensionGroupRecord) => boolean,
  ): Promise<ExtensionGroupRecord[]>;
  createExtension(pbxId: string, data: ExtensionWrite): Promise<ExtensionRecord>;
  updateExtension(pbxId: string, id: string, patch: Partial<ExtensionWrite>): Promise<ExtensionRecord | null>;
  deleteExtension(pbxId: string, id: string): Promise<boolean>;
  findExtensionGroup(pbxId: string, id: string): Promise<ExtensionGroupRecord | null>;
  findExtensionGroupByName(pbxId: string, name: string): Promise<ExtensionGroupRecord | null>;
  countExtensionGroups(pbxId: string): Promise<number>;
  createExtensionGroup(pbxId: string, data: ExtensionGroupWrite): Promise<ExtensionGroupRecord>;
  updateExtensionGroup(
    pbxId: string,
    id: string,
    patch: Partial<ExtensionGroupWrite>,
  ): Promise<ExtensionGroupRecord | null>;
  deleteExtensionGroup(pbxId: string, id: string): Promise<boolean>;
  /** Deletes every SYNCED extension (or group) of the PBX; returns how many. */
  deleteSynced(pbxId: string, kind: DirectoryKind): Promise<number>;
  /** Makes every SYNCED extension (or group) fully PBX-managed: MANUAL, externalId cleared. */
  releaseSynced(pbxId: string, kind: DirectoryKind): Promise<number>;
}

/** One audited mutation (issue 4 item 7). */
export interface AuditEntryRecord {
  id: string;
  /** The PBX acted on; null for the fleet's own operations (operators). */
  pbxId: string | null;
  keyId: string | null;
  role: string;
  operation: string;
  arguments: Record<string, unknown>;
  outcome: string;
  message: string | null;
  requestId: string | null;
  at: Date;
}

export interface AuditRepository {
  /** Writes at once, outside any unit of work, so a failed mutation is recorded too. */
  record(entry: Omit<AuditEntryRecord, 'id'>): Promise<void>;
  /** Newest first: one PBX's entries, or (`null`) the fleet's own. */
  page(pbxId: string | null, page: PageRequest): Promise<Page<AuditEntryRecord>>;
}

/** One unit of work: repositories bound to one database session. */
export interface Store {
  tenants: TenantRepository;
  directory: PbxDirectoryRepository;
  audit: AuditRepository;
  sync: SyncRepository;
  subscriptions: SubscriptionRepository;
  applier: DirectoryApplier;
  integrations: IntegrationRepository;
  /** U6: the welcome emails of sync runs and how each went. */
  welcomeEmails: WelcomeEmailRepository;
  /** C1–C4: contacts and phonebooks (written by the contact sync), and the reads of the Linkus lookups. */
  contacts: ContactRepository & ContactLookupRepository;
  /** C1–C4: the contact sync's folder cursors and run tallies (the contacts themselves: `contacts`). */
  contactSync: ContactSyncLedger;
  /** S2/S4: Linkus sessions, their refresh tokens and the access tokens' signing keys. */
  linkusSessions: LinkusSessionRepository;
  /** P1–P3: presence settings and each extension's presence. */
  presence: PresenceRepository;
  /** Runs `fn` in one transaction; everything it writes commits together or not at all. */
  transactional<T>(fn: (store: Store) => Promise<T>): Promise<T>;
  /** A unit of work of its own on the same database (work done side by side must not share one). */
  fork(): Store;
}
