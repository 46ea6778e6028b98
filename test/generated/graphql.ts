/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
/** What a key may do. */
export type ApiRole =
  /** The PBX portal: everything for its PBX. */
  | 'ADMIN'
  /** A Linkus user session of its PBX. */
  | 'LINKUS'
  /** The fleet: PBXs and their keys; acts on one PBX only by naming it (x-pbx-id). */
  | 'OPERATOR'
  /** Read-only, for its PBX. */
  | 'VIEWER';

export type ConnectInput = {
  /** true (default): when the app's application permissions have no admin consent yet, the sign-in journey goes on to Microsoft's admin consent. false: they were granted in Entra ID beforehand; missing ones fail at once with MISSING_PERMISSIONS (extensions.missing names them). */
  adminConsent?: boolean | null | undefined;
  /** Application (client) ID (a GUID). */
  clientId: string;
  /** The client secret value. */
  clientSecret: string;
  /** When the client secret expires (for warnings). */
  secretExpiresAt?: string | null | undefined;
  /** Directory (tenant) ID (a GUID). */
  tenantId: string;
};

/** Where a lookup found a match; also the precedence of lookupCaller, first to last. */
export type ContactMatchSource =
  /** An extension of the PBX. */
  | 'EXTENSION'
  /** One of the caller's own (Linkus) contacts. */
  | 'PERSONAL_CONTACT'
  /** A contact of a phonebook the caller sees. */
  | 'PHONEBOOK';

/** C1, C3. */
export type ContactSyncRuleInput = {
  personalEnabled: boolean;
  personalGroupIds?: Array<string | number> | null | undefined;
  personalRange?: PersonalContactsRange;
  phonebookName?: string;
  sharedEnabled: boolean;
  sharedMailboxIds?: Array<string | number> | null | undefined;
  sharedRange?: SharedMailboxRange;
};

export type CreateApiKeyInput = {
  /** LINKUS keys only, and required for them: the number of the extension whose Linkus session the key is. */
  extensionNumber?: string | null | undefined;
  /** A note to tell keys apart (at most 200 characters). */
  label?: string | null | undefined;
  pbxId: string | number;
  role: PbxKeyRole;
};

export type CreateExtensionInput = {
  callerIdName?: string | null | undefined;
  email?: string | null | undefined;
  firstName: string;
  jobTitle?: string | null | undefined;
  lastName?: string | null | undefined;
  mobileNumber?: string | null | undefined;
  notes?: string | null | undefined;
  /** 1 to 7 digits, not starting with 0; unique in the PBX. */
  number: string;
  /** Default true. */
  voicemailEnabled?: boolean | null | undefined;
};

export type CreatePbxInput = {
  /** ISO 3166-1 alpha-2; default US. */
  defaultCountry?: string | null | undefined;
  /** Default 500. */
  extensionCapacity?: number | null | undefined;
  /** 1 to 200 characters. */
  name: string;
  publicBaseUrl?: string | null | undefined;
  /** IANA time zone; default UTC. */
  timeZone?: string | null | undefined;
};

export type DirectoryGroupKind =
  | 'MICROSOFT_365'
  | 'OTHER'
  | 'SECURITY';

export type DirectoryUserType =
  | 'GUEST'
  | 'MEMBER';

/** All given conditions must hold. */
export type ExtensionFilter = {
  /** Part of the email, any case. */
  email?: string | null | undefined;
  /** Part of "first last" name, any case. */
  name?: string | null | undefined;
  /** Numbers starting with these digits. */
  number?: string | null | undefined;
  source?: SyncSource | null | undefined;
};

/** An extension's presence on the PBX (P2). */
export type ExtensionPresenceStatus =
  | 'AVAILABLE'
  | 'AWAY'
  | 'BUSINESS_TRIP'
  | 'DO_NOT_DISTURB'
  | 'LUNCH_BREAK'
  | 'OFF_WORK';

/** G1: which groups become extension groups. */
export type GroupRangeKind =
  | 'ALL'
  | 'BY_TYPE'
  | 'SPECIFIC';

/** G1–G2. */
export type GroupSyncRuleInput = {
  /** G2: delete extension groups no longer in sync. */
  autoDelete: boolean;
  /** For SPECIFIC: Entra group ids (from directoryGroups). */
  groupIds?: Array<string | number> | null | undefined;
  /** G5: members of nested groups count too. */
  includeNestedMembers?: boolean | null | undefined;
  /** For BY_TYPE: SECURITY and/or MICROSOFT_365. */
  kinds?: Array<DirectoryGroupKind> | null | undefined;
  range: GroupRangeKind;
};

/** OK: the last check of the access to Microsoft found nothing wrong. FAILING: it found something (codes). UNKNOWN: not connected, or no check yet. */
export type HealthStatus =
  | 'FAILING'
  | 'OK'
  | 'UNKNOWN';

/** Where the Microsoft 365 integration stands. */
export type IntegrationStatus =
  | 'AWAITING_CONSENT'
  | 'CONNECTED'
  | 'DISABLED'
  | 'NOT_CONNECTED';

export type LinkusSsoInput = {
  enabled: boolean;
  /** Every redirect URI of the Linkus clients (replaces the list): https on any host; a mobile app scheme in reverse domain notation (com.example.linkus:/callback); http only on localhost, 127.0.0.1 or [::1]. At most 20, each at most 256 characters, no fragment, no user name or password. */
  redirectUris: Array<string>;
};

/** U3: how a synced extension gets its number. */
export type NumberingMode =
  | 'AUTO'
  | 'FROM_PROPERTY';

/** The role of a new PBX key. */
export type PbxKeyRole =
  | 'ADMIN'
  | 'LINKUS'
  | 'VIEWER';

/** APPLICATION: app-only, granted by admin consent (roles). DELEGATED: for the signed-in account (scp). */
export type PermissionType =
  | 'APPLICATION'
  | 'DELEGATED';

/** C1: every synced user, or the synced users in chosen groups. */
export type PersonalContactsRange =
  | 'ALL'
  | 'BY_GROUPS';

export type PhonebookVisibilityInput = {
  allExtensions: boolean;
  /** Extension groups of this PBX (INVALID_INPUT names unknown ones). */
  extensionGroupIds: Array<string | number>;
  /** Extensions of this PBX (INVALID_INPUT names unknown ones). */
  extensionIds: Array<string | number>;
  phonebookId: string | number;
};

/** P2: the states to map otherwise than the default; a state left out follows the default. */
export type PresenceMappingInput = {
  appearAway?: ExtensionPresenceStatus | null | undefined;
  appearOffline?: ExtensionPresenceStatus | null | undefined;
  available?: ExtensionPresenceStatus | null | undefined;
  beRightBack?: ExtensionPresenceStatus | null | undefined;
  busy?: ExtensionPresenceStatus | null | undefined;
  doNotDisturb?: ExtensionPresenceStatus | null | undefined;
};

/** Who set the presence */
export type PresenceSource =
  /** Set by hand on the PBX; it stays until the Teams presence changes again (P3). */
  | 'MANUAL'
  /** The user's Teams presence, through the mapping (P2). */
  | 'TEAMS';

/** T1: DAILY, or WEEKLY on chosen days. */
export type ScheduleFrequency =
  | 'DAILY'
  | 'WEEKLY';

/** T1: when the PBX syncs on its own, in the PBX's time zone. */
export type ScheduleInput = {
  /** WEEKLY: the days it runs on (at least one). Ignored for DAILY. */
  days?: Array<Weekday> | null | undefined;
  frequency: ScheduleFrequency;
  /** Local time of day in the PBX time zone, HH:MM (24-hour), e.g. 00:30. */
  time: string;
};

/** Why a search result matched, best first. */
export type SearchRank =
  /** The whole name is the query. */
  | 'EXACT_NAME'
  /** The name starts with the query. */
  | 'NAME_PREFIX'
  /** A number starts with the query. */
  | 'NUMBER_PREFIX'
  /** A later word of the name, or the company (or a word of it), starts with the query. */
  | 'WORD_PREFIX';

/** C3: every shared mailbox, or chosen ones. */
export type SharedMailboxRange =
  | 'ALL'
  | 'SPECIFIC';

export type SyncItemAction =
  | 'ASSOCIATE'
  | 'CREATE'
  | 'DELETE'
  | 'FAIL'
  | 'RELEASE'
  | 'SKIP'
  | 'UPDATE';

/** FULL: the directory was read in full; DELTA: changes only. */
export type SyncMode =
  | 'DELTA'
  | 'FULL';

export type SyncPhase =
  | 'APPLYING'
  | 'FAILED'
  | 'HELD'
  | 'PLANNING'
  | 'QUEUED'
  | 'READING_DIRECTORY'
  | 'SUCCEEDED';

export type SyncRunStatus =
  | 'FAILED'
  | 'HELD'
  | 'QUEUED'
  | 'RUNNING'
  | 'SUCCEEDED';

export type SyncScope =
  | 'CONTACTS'
  | 'GROUPS'
  | 'USERS';

/** Who manages an extension or extension group. */
export type SyncSource =
  /** Managed on the PBX by hand. */
  | 'MANUAL'
  /** Created or associated by the Microsoft 365 integration, which still manages it (locked). */
  | 'SYNCED';

/** User sync (extensions), group sync (extension groups) or contact sync (C1–C4). */
export type SyncTarget =
  | 'CONTACTS'
  | 'GROUPS'
  | 'USERS';

export type SyncTrigger =
  | 'CHANGE'
  | 'MANUAL'
  | 'POLL'
  | 'RULES_SAVED'
  | 'SCHEDULE';

/** Only the fields given change; null clears a field that may be empty. On a synced extension, firstName, lastName, email, mobileNumber and jobTitle are locked (LOCKED_BY_SYNC). */
export type UpdateExtensionInput = {
  callerIdName?: string | null | undefined;
  email?: string | null | undefined;
  firstName?: string | null | undefined;
  jobTitle?: string | null | undefined;
  lastName?: string | null | undefined;
  mobileNumber?: string | null | undefined;
  notes?: string | null | undefined;
  number?: string | null | undefined;
  voicemailEnabled?: boolean | null | undefined;
};

export type UpdatePbxInput = {
  defaultCountry?: string | null | undefined;
  extensionCapacity?: number | null | undefined;
  name?: string | null | undefined;
  publicBaseUrl?: string | null | undefined;
  timeZone?: string | null | undefined;
};

/** U1: which users become extensions. */
export type UserRangeKind =
  | 'ALL'
  | 'BY_GROUPS'
  | 'BY_TYPE';

/** U1–U6. */
export type UserSyncRuleInput = {
  /** U5: take over an unsynced extension with the same email. */
  autoAssociate: boolean;
  /** U2: delete extensions no longer in sync (off: retain them, unlocked). */
  autoDelete: boolean;
  /** U4: delete the extension when its user is deleted. */
  deleteWhenDeleted: boolean;
  /** U4: delete the extension when its user is disabled. */
  deleteWhenDisabled: boolean;
  /** For BY_GROUPS: Entra group ids. */
  groupIds?: Array<string | number> | null | undefined;
  /** BY_GROUPS: members of nested groups count too. */
  includeNestedMembers?: boolean | null | undefined;
  /** FROM_PROPERTY: the Graph user property, e.g. businessPhones. */
  numberProperty?: string | null | undefined;
  numbering: NumberingMode;
  range: UserRangeKind;
  /** AUTO: the first number (default 1000). */
  startNumber?: string | null | undefined;
  /** For BY_TYPE. */
  userTypes?: Array<DirectoryUserType> | null | undefined;
  /** U6: send the Linkus welcome email to new extensions. */
  welcomeEmail: boolean;
};

export type Weekday =
  | 'FRI'
  | 'MON'
  | 'SAT'
  | 'SUN'
  | 'THU'
  | 'TUE'
  | 'WED';

/** QUEUED: waiting to be sent, or for a retry (lastError says why); SENT; FAILED: given up (lastError says why). */
export type WelcomeEmailStatus =
  | 'FAILED'
  | 'QUEUED'
  | 'SENT';

export type AuditLogQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type AuditLogQuery = { auditLog: { totalCount: number, pageInfo: { endCursor: string | null, hasNextPage: boolean }, nodes: Array<{ id: string, keyId: string | null, role: string, operation: string, arguments: unknown, outcome: string, message: string | null, requestId: string | null, at: string }> } };

export type ChangeTriggersQueryVariables = Exact<{ [key: string]: never; }>;


export type ChangeTriggersQuery = { changeTriggers: { mode: string, debounceSeconds: number, threshold: number, pollMinutes: number, subscriptions: Array<{ resource: string, expiresAt: string }> } };

export type SaveChangeTriggersMutationVariables = Exact<{
  debounceSeconds: number;
  threshold: number;
  pollMinutes?: number | null | undefined;
}>;


export type SaveChangeTriggersMutation = { saveChangeTriggers: { mode: string, debounceSeconds: number, threshold: number } };

export type LookupCallerQueryVariables = Exact<{
  number: string;
}>;


export type LookupCallerQuery = { lookupCaller: { source: ContactMatchSource, id: string, displayName: string, company: string | null, number: string | null, extensionNumber: string | null, phonebookId: string | null, phonebookName: string | null, rank: SearchRank } | null };

export type SearchContactsQueryVariables = Exact<{
  query: string;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type SearchContactsQuery = { searchContacts: { edges: Array<{ cursor: string, node: { source: ContactMatchSource, id: string, displayName: string, company: string | null, number: string | null, extensionNumber: string | null, phonebookName: string | null, rank: SearchRank } }>, pageInfo: { endCursor: string | null, hasNextPage: boolean } } };

export type PhonebooksQueryVariables = Exact<{ [key: string]: never; }>;


export type PhonebooksQuery = { phonebooks: Array<{ id: string, name: string, mailboxId: string | null, synced: boolean, visibility: { allExtensions: boolean, extensionIds: Array<string>, extensionGroupIds: Array<string> } }> };

export type SavePhonebookVisibilityMutationVariables = Exact<{
  input: PhonebookVisibilityInput;
}>;


export type SavePhonebookVisibilityMutation = { savePhonebookVisibility: { id: string, name: string, visibility: { allExtensions: boolean, extensionIds: Array<string>, extensionGroupIds: Array<string> } } };

export type DeleteContactMutationVariables = Exact<{
  id: string | number;
}>;


export type DeleteContactMutation = { deleteContact: string };

export type MeQueryVariables = Exact<{ [key: string]: never; }>;


export type MeQuery = { me: { role: string, pbxId: string, extension: { id: string, number: string } | null } };

export type ContactSyncRuleQueryVariables = Exact<{ [key: string]: never; }>;


export type ContactSyncRuleQuery = { contactSyncRule: { personalEnabled: boolean, personalRange: PersonalContactsRange, personalGroupIds: Array<string>, sharedEnabled: boolean, sharedRange: SharedMailboxRange, sharedMailboxIds: Array<string>, phonebookName: string, savedAt: string | null } | null };

export type SaveContactSyncRuleMutationVariables = Exact<{
  input: ContactSyncRuleInput;
}>;


export type SaveContactSyncRuleMutation = { saveContactSyncRule: { initialRun: { id: string, status: SyncRunStatus, phase: SyncPhase, mode: SyncMode | null, trigger: SyncTrigger, scopes: Array<SyncScope>, queuedAt: string, startedAt: string | null, finishedAt: string | null, done: number, total: number, message: string | null, error: string | null, graphRequests: number | null, users: { created: number, updated: number, associated: number, deleted: number, released: number, skipped: number, failed: number, held: number }, groups: { created: number, updated: number, associated: number, deleted: number, released: number, skipped: number, failed: number, held: number }, contacts: { created: number, updated: number, associated: number, deleted: number, released: number, skipped: number, failed: number, held: number } | null } | null, rule: { personalEnabled: boolean, sharedEnabled: boolean, phonebookName: string, savedAt: string | null } } };

export type SharedMailboxesQueryVariables = Exact<{
  search?: string | null | undefined;
  first?: number | null | undefined;
}>;


export type SharedMailboxesQuery = { sharedMailboxes: Array<{ id: string, displayName: string, mail: string }> };

export type ExtensionFieldsFragment = { id: string, number: string, firstName: string, lastName: string, email: string | null, mobileNumber: string | null, jobTitle: string | null, source: SyncSource, externalId: string | null, lockedFields: Array<string>, callerIdName: string | null, voicemailEnabled: boolean, notes: string | null, createdAt: string, updatedAt: string };

export type ExtensionGroupFieldsFragment = { id: string, name: string, source: SyncSource, externalId: string | null, memberIds: Array<string>, memberCount: number, lockedFields: Array<string> };

export type ExtensionsQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
  filter?: ExtensionFilter | null | undefined;
}>;


export type ExtensionsQuery = { extensions: { totalCount: number, pageInfo: { endCursor: string | null, hasNextPage: boolean }, edges: Array<{ cursor: string, node: { id: string, number: string, firstName: string, lastName: string, email: string | null, mobileNumber: string | null, jobTitle: string | null, source: SyncSource, externalId: string | null, lockedFields: Array<string>, callerIdName: string | null, voicemailEnabled: boolean, notes: string | null, createdAt: string, updatedAt: string } }>, nodes: Array<{ id: string, number: string }> } };

export type ExtensionQueryVariables = Exact<{
  id: string | number;
}>;


export type ExtensionQuery = { extension: { id: string, number: string, firstName: string, lastName: string, email: string | null, mobileNumber: string | null, jobTitle: string | null, source: SyncSource, externalId: string | null, lockedFields: Array<string>, callerIdName: string | null, voicemailEnabled: boolean, notes: string | null, createdAt: string, updatedAt: string } | null };

export type CreateExtensionMutationVariables = Exact<{
  input: CreateExtensionInput;
}>;


export type CreateExtensionMutation = { createExtension: { id: string, number: string, firstName: string, lastName: string, email: string | null, mobileNumber: string | null, jobTitle: string | null, source: SyncSource, externalId: string | null, lockedFields: Array<string>, callerIdName: string | null, voicemailEnabled: boolean, notes: string | null, createdAt: string, updatedAt: string } };

export type UpdateExtensionMutationVariables = Exact<{
  id: string | number;
  input: UpdateExtensionInput;
}>;


export type UpdateExtensionMutation = { updateExtension: { id: string, number: string, firstName: string, lastName: string, email: string | null, mobileNumber: string | null, jobTitle: string | null, source: SyncSource, externalId: string | null, lockedFields: Array<string>, callerIdName: string | null, voicemailEnabled: boolean, notes: string | null, createdAt: string, updatedAt: string } };

export type DeleteExtensionMutationVariables = Exact<{
  id: string | number;
}>;


export type DeleteExtensionMutation = { deleteExtension: string };

export type ExtensionGroupsQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type ExtensionGroupsQuery = { extensionGroups: { totalCount: number, pageInfo: { endCursor: string | null, hasNextPage: boolean }, nodes: Array<{ id: string, name: string, source: SyncSource, externalId: string | null, memberIds: Array<string>, memberCount: number, lockedFields: Array<string> }> } };

export type ExtensionGroupQueryVariables = Exact<{
  id: string | number;
}>;


export type ExtensionGroupQuery = { extensionGroup: { id: string, name: string, source: SyncSource, externalId: string | null, memberIds: Array<string>, memberCount: number, lockedFields: Array<string> } | null };

export type CreateExtensionGroupMutationVariables = Exact<{
  name: string;
  memberIds?: Array<string | number> | string | number | null | undefined;
}>;


export type CreateExtensionGroupMutation = { createExtensionGroup: { id: string, name: string, source: SyncSource, externalId: string | null, memberIds: Array<string>, memberCount: number, lockedFields: Array<string> } };

export type UpdateExtensionGroupMutationVariables = Exact<{
  id: string | number;
  name?: string | null | undefined;
  memberIds?: Array<string | number> | string | number | null | undefined;
}>;


export type UpdateExtensionGroupMutation = { updateExtensionGroup: { id: string, name: string, source: SyncSource, externalId: string | null, memberIds: Array<string>, memberCount: number, lockedFields: Array<string> } };

export type DeleteExtensionGroupMutationVariables = Exact<{
  id: string | number;
}>;


export type DeleteExtensionGroupMutation = { deleteExtensionGroup: string };

export type PbxsQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
  search?: string | null | undefined;
}>;


export type PbxsQuery = { pbxs: { totalCount: number, pageInfo: { endCursor: string | null, hasNextPage: boolean }, nodes: Array<{ id: string, name: string, timeZone: string, extensionCapacity: number, defaultCountry: string, publicBaseUrl: string | null, createdAt: string }> } };

export type CreatePbxMutationVariables = Exact<{
  input: CreatePbxInput;
}>;


export type CreatePbxMutation = { createPbx: { id: string, name: string, timeZone: string, extensionCapacity: number, defaultCountry: string, publicBaseUrl: string | null } };

export type DeletePbxMutationVariables = Exact<{
  id: string | number;
}>;


export type DeletePbxMutation = { deletePbx: { id: string, name: string, keysRevoked: number, rowsDeleted: number } };

export type ApiKeyFieldsFragment = { id: string, pbxId: string | null, role: ApiRole, prefix: string, label: string | null, createdAt: string, revokedAt: string | null };

export type ApiKeysQueryVariables = Exact<{
  pbxId: string | number;
  includeRevoked?: boolean | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type ApiKeysQuery = { apiKeys: { totalCount: number, pageInfo: { endCursor: string | null, hasNextPage: boolean }, nodes: Array<{ id: string, pbxId: string | null, role: ApiRole, prefix: string, label: string | null, createdAt: string, revokedAt: string | null }> } };

export type OperatorKeysQueryVariables = Exact<{
  includeRevoked?: boolean | null | undefined;
}>;


export type OperatorKeysQuery = { operatorKeys: { totalCount: number, nodes: Array<{ id: string, pbxId: string | null, role: ApiRole, prefix: string, label: string | null, createdAt: string, revokedAt: string | null }> } };

export type CreateApiKeyMutationVariables = Exact<{
  input: CreateApiKeyInput;
}>;


export type CreateApiKeyMutation = { createApiKey: { key: string, apiKey: { id: string, pbxId: string | null, role: ApiRole, prefix: string, label: string | null, createdAt: string, revokedAt: string | null } } };

export type RevokeApiKeyMutationVariables = Exact<{
  id: string | number;
}>;


export type RevokeApiKeyMutation = { revokeApiKey: { id: string, pbxId: string | null, role: ApiRole, prefix: string, label: string | null, createdAt: string, revokedAt: string | null } };

export type FleetAuditLogQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type FleetAuditLogQuery = { fleetAuditLog: { totalCount: number, nodes: Array<{ id: string, keyId: string | null, role: string, operation: string, arguments: unknown, outcome: string, message: string | null, at: string }> } };

export type IntegrationQueryVariables = Exact<{ [key: string]: never; }>;


export type IntegrationQuery = { integration: { status: IntegrationStatus } };

export type IntegrationChangedSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type IntegrationChangedSubscription = { integrationChanged: { status: IntegrationStatus } };

export type IntegrationDetailsQueryVariables = Exact<{ [key: string]: never; }>;


export type IntegrationDetailsQuery = { integration: { id: string, status: IntegrationStatus, clientId: string | null, tenantId: string | null, secretLast4: string | null, secretExpiresAt: string | null, redirectUri: string | null, linkusSsoRedirectUris: Array<string>, organizationName: string | null, directoryGroupCount: number | null, connectedAt: string | null, userSyncPaused: boolean, groupSyncPaused: boolean, warnings: Array<string>, authorizationAccount: { username: string, name: string | null } | null, lastError: { code: string, message: string } | null, health: { status: HealthStatus, codes: Array<string>, missingPermissions: Array<string>, message: string | null, checkedAt: string | null, lastHealthyAt: string | null } } };

export type HealthFragment = { status: HealthStatus, codes: Array<string>, missingPermissions: Array<string>, message: string | null, checkedAt: string | null, lastHealthyAt: string | null };

export type IntegrationHealthQueryVariables = Exact<{ [key: string]: never; }>;


export type IntegrationHealthQuery = { integration: { status: IntegrationStatus, health: { status: HealthStatus, codes: Array<string>, missingPermissions: Array<string>, message: string | null, checkedAt: string | null, lastHealthyAt: string | null } } };

export type ReconsentMutationVariables = Exact<{ [key: string]: never; }>;


export type ReconsentMutation = { reconsent: { authorizationUrl: string, integration: { status: IntegrationStatus, clientId: string | null, authorizationAccount: { username: string } | null } } };

export type ConnectMutationVariables = Exact<{
  input: ConnectInput;
}>;


export type ConnectMutation = { connect: { authorizationUrl: string, integration: { status: IntegrationStatus, clientId: string | null, tenantId: string | null, secretLast4: string | null } } };

export type UpdateSecretMutationVariables = Exact<{
  secret: string;
  expiresAt?: string | null | undefined;
}>;


export type UpdateSecretMutation = { updateSecret: { status: IntegrationStatus, secretLast4: string | null, secretExpiresAt: string | null, warnings: Array<string> } };

export type TestConnectionMutationVariables = Exact<{ [key: string]: never; }>;


export type TestConnectionMutation = { testConnection: { appAccess: boolean, delegatedAccess: boolean, delegatedAs: string | null, problems: Array<string> } };

export type TestConnectionPermissionsMutationVariables = Exact<{ [key: string]: never; }>;


export type TestConnectionPermissionsMutation = { testConnection: { appAccess: boolean, delegatedAccess: boolean, delegatedAs: string | null, problems: Array<string>, permissions: Array<{ name: string, type: PermissionType, present: boolean, usedFor: string, stopsWithout: string }>, health: { status: HealthStatus, codes: Array<string>, missingPermissions: Array<string>, message: string | null, checkedAt: string | null, lastHealthyAt: string | null } } };

export type ChangeFragment = { extensionsDeleted: number, groupsDeleted: number, extensionsReleased: number, groupsReleased: number, integration: { status: IntegrationStatus, userSyncPaused: boolean, groupSyncPaused: boolean, clientId: string | null, authorizationAccount: { username: string } | null } };

export type PauseMutationVariables = Exact<{
  target: SyncTarget;
  deleteSynced: boolean;
}>;


export type PauseMutation = { pause: { extensionsDeleted: number, groupsDeleted: number, extensionsReleased: number, groupsReleased: number, integration: { status: IntegrationStatus, userSyncPaused: boolean, groupSyncPaused: boolean, clientId: string | null, authorizationAccount: { username: string } | null } } };

export type ResumeMutationVariables = Exact<{
  target: SyncTarget;
}>;


export type ResumeMutation = { resume: { extensionsDeleted: number, groupsDeleted: number, extensionsReleased: number, groupsReleased: number, integration: { status: IntegrationStatus, userSyncPaused: boolean, groupSyncPaused: boolean, clientId: string | null, authorizationAccount: { username: string } | null } } };

export type DisableMutationVariables = Exact<{
  deleteExtensions: boolean;
  deleteGroups: boolean;
}>;


export type DisableMutation = { disable: { extensionsDeleted: number, groupsDeleted: number, extensionsReleased: number, groupsReleased: number, integration: { status: IntegrationStatus, userSyncPaused: boolean, groupSyncPaused: boolean, clientId: string | null, authorizationAccount: { username: string } | null } } };

export type EnableMutationVariables = Exact<{ [key: string]: never; }>;


export type EnableMutation = { enable: { extensionsDeleted: number, groupsDeleted: number, extensionsReleased: number, groupsReleased: number, integration: { status: IntegrationStatus, userSyncPaused: boolean, groupSyncPaused: boolean, clientId: string | null, authorizationAccount: { username: string } | null } } };

export type DisconnectMutationVariables = Exact<{
  deleteExtensions: boolean;
  deleteGroups: boolean;
}>;


export type DisconnectMutation = { disconnect: { extensionsDeleted: number, groupsDeleted: number, extensionsReleased: number, groupsReleased: number, integration: { status: IntegrationStatus, userSyncPaused: boolean, groupSyncPaused: boolean, clientId: string | null, authorizationAccount: { username: string } | null } } };

export type LinkusSessionsQueryVariables = Exact<{
  extensionId: string | number;
}>;


export type LinkusSessionsQuery = { linkusSessions: Array<{ id: string, extensionId: string, createdAt: string, lastUsedAt: string, expiresAt: string, revokedAt: string | null, revokedReason: string | null }> };

export type RevokeLinkusSessionsMutationVariables = Exact<{
  extensionId: string | number;
}>;


export type RevokeLinkusSessionsMutation = { revokeLinkusSessions: { revoked: number, sessions: Array<{ id: string, revokedAt: string | null, revokedReason: string | null }> } };

export type LinkusMeQueryVariables = Exact<{ [key: string]: never; }>;


export type LinkusMeQuery = { me: { role: string, pbxId: string, keyId: string, extension: { id: string, number: string, name: string, email: string | null } | null } };

export type LinkusSsoFieldsFragment = { enabled: boolean, microsoftRedirectUri: string | null, startUrl: string | null, redirectUris: Array<string>, integrationStatus: IntegrationStatus };

export type LinkusSsoQueryVariables = Exact<{ [key: string]: never; }>;


export type LinkusSsoQuery = { linkusSso: { enabled: boolean, microsoftRedirectUri: string | null, startUrl: string | null, redirectUris: Array<string>, integrationStatus: IntegrationStatus } };

export type SaveLinkusSsoMutationVariables = Exact<{
  input: LinkusSsoInput;
}>;


export type SaveLinkusSsoMutation = { saveLinkusSso: { enabled: boolean, microsoftRedirectUri: string | null, startUrl: string | null, redirectUris: Array<string>, integrationStatus: IntegrationStatus } };

export type PbxQueryVariables = Exact<{ [key: string]: never; }>;


export type PbxQuery = { pbx: { id: string, name: string, timeZone: string } };

export type UpdatePbxMutationVariables = Exact<{
  input: UpdatePbxInput;
}>;


export type UpdatePbxMutation = { updatePbx: { id: string, name: string, timeZone: string, publicBaseUrl: string | null, extensionCapacity: number, defaultCountry: string } };

export type PresenceFragment = { extensionId: string, status: ExtensionPresenceStatus | null, source: PresenceSource | null, teamsAvailability: string | null, teamsActivity: string | null, changedAt: string | null, enabled: boolean, mapping: { available: ExtensionPresenceStatus, busy: ExtensionPresenceStatus, doNotDisturb: ExtensionPresenceStatus, beRightBack: ExtensionPresenceStatus, appearAway: ExtensionPresenceStatus, appearOffline: ExtensionPresenceStatus } };

export type PresenceSyncQueryVariables = Exact<{ [key: string]: never; }>;


export type PresenceSyncQuery = { presenceSync: { enabled: boolean, users: number, intervalMs: number, updatedAt: string | null, mode: string, subscribedUsers: number, polledUsers: number, fallbackReason: string | null, subscriptionExpiresAt: string | null } };

export type SavePresenceSyncMutationVariables = Exact<{
  enabled: boolean;
}>;


export type SavePresenceSyncMutation = { savePresenceSync: { enabled: boolean, users: number, intervalMs: number } };

export type SavePresenceMappingMutationVariables = Exact<{
  extensionIds: Array<string | number> | string | number;
  enabled?: boolean | null | undefined;
  mapping?: PresenceMappingInput | null | undefined;
}>;


export type SavePresenceMappingMutation = { savePresenceMapping: Array<{ extensionId: string, status: ExtensionPresenceStatus | null, source: PresenceSource | null, teamsAvailability: string | null, teamsActivity: string | null, changedAt: string | null, enabled: boolean, mapping: { available: ExtensionPresenceStatus, busy: ExtensionPresenceStatus, doNotDisturb: ExtensionPresenceStatus, beRightBack: ExtensionPresenceStatus, appearAway: ExtensionPresenceStatus, appearOffline: ExtensionPresenceStatus } }> };

export type SetExtensionPresenceMutationVariables = Exact<{
  extensionId: string | number;
  status: ExtensionPresenceStatus;
}>;


export type SetExtensionPresenceMutation = { setExtensionPresence: { extensionId: string, status: ExtensionPresenceStatus | null, source: PresenceSource | null, teamsAvailability: string | null, teamsActivity: string | null, changedAt: string | null, enabled: boolean, mapping: { available: ExtensionPresenceStatus, busy: ExtensionPresenceStatus, doNotDisturb: ExtensionPresenceStatus, beRightBack: ExtensionPresenceStatus, appearAway: ExtensionPresenceStatus, appearOffline: ExtensionPresenceStatus } } };

export type ExtensionPresencesQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type ExtensionPresencesQuery = { extensions: { edges: Array<{ node: { id: string, externalId: string | null, source: SyncSource, presence: { extensionId: string, status: ExtensionPresenceStatus | null, source: PresenceSource | null, teamsAvailability: string | null, teamsActivity: string | null, changedAt: string | null, enabled: boolean, mapping: { available: ExtensionPresenceStatus, busy: ExtensionPresenceStatus, doNotDisturb: ExtensionPresenceStatus, beRightBack: ExtensionPresenceStatus, appearAway: ExtensionPresenceStatus, appearOffline: ExtensionPresenceStatus } } | null } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type ExtensionPresenceChangedSubscriptionVariables = Exact<{
  extensionIds?: Array<string | number> | string | number | null | undefined;
}>;


export type ExtensionPresenceChangedSubscription = { extensionPresenceChanged: { extensionId: string, status: ExtensionPresenceStatus | null, source: PresenceSource | null, teamsAvailability: string | null, teamsActivity: string | null, changedAt: string | null } };

export type QueuesQueryVariables = Exact<{ [key: string]: never; }>;


export type QueuesQuery = { queues: Array<{ name: string, counts: { waiting: number, active: number, delayed: number, completed: number, failed: number } }> };

export type FailedJobsQueryVariables = Exact<{
  queue: string;
  first?: number | null | undefined;
}>;


export type FailedJobsQuery = { failedJobs: Array<{ id: string, queue: string, name: string, state: string, failedReason: string | null, attemptsMade: number, createdAt: string, processedAt: string | null, finishedAt: string | null }> };

export type RetryJobMutationVariables = Exact<{
  queue: string;
  id: string | number;
}>;


export type RetryJobMutation = { retryJob: { id: string, queue: string, name: string, state: string, attemptsMade: number } };

export type ScheduleQueryVariables = Exact<{ [key: string]: never; }>;


export type ScheduleQuery = { schedule: { frequency: ScheduleFrequency, days: Array<Weekday>, time: string, timeZone: string, nextRunAt: string } };

export type SaveScheduleMutationVariables = Exact<{
  input: ScheduleInput;
}>;


export type SaveScheduleMutation = { saveSchedule: { frequency: ScheduleFrequency, days: Array<Weekday>, time: string, timeZone: string, nextRunAt: string } };

export type CountsFragment = { created: number, updated: number, associated: number, deleted: number, released: number, skipped: number, failed: number, held: number };

export type RunFragment = { id: string, status: SyncRunStatus, phase: SyncPhase, mode: SyncMode | null, trigger: SyncTrigger, scopes: Array<SyncScope>, queuedAt: string, startedAt: string | null, finishedAt: string | null, done: number, total: number, message: string | null, error: string | null, graphRequests: number | null, users: { created: number, updated: number, associated: number, deleted: number, released: number, skipped: number, failed: number, held: number }, groups: { created: number, updated: number, associated: number, deleted: number, released: number, skipped: number, failed: number, held: number }, contacts: { created: number, updated: number, associated: number, deleted: number, released: number, skipped: number, failed: number, held: number } | null };

export type SyncSettingsQueryVariables = Exact<{ [key: string]: never; }>;


export type SyncSettingsQuery = { syncSettings: { userRuleSavedAt: string | null, groupRuleSavedAt: string | null, lastFullReadAt: string | null, userRule: { range: UserRangeKind, numbering: NumberingMode, startNumber: string | null, numberProperty: string | null, autoDelete: boolean, autoAssociate: boolean, deleteWhenDisabled: boolean, deleteWhenDeleted: boolean, welcomeEmail: boolean, groupIds: Array<string>, userTypes: Array<DirectoryUserType> } | null, groupRule: { range: GroupRangeKind, kinds: Array<DirectoryGroupKind>, groupIds: Array<string>, autoDelete: boolean } | null, deletionGuard: { maxDeletes: number, maxRatio: number } } };

export type SaveUserSyncRuleMutationVariables = Exact<{
  input: UserSyncRuleInput;
}>;


export type SaveUserSyncRuleMutation = { saveUserSyncRule: { initialRun: { id: string, status: SyncRunStatus, phase: SyncPhase, mode: SyncMode | null, trigger: SyncTrigger, scopes: Array<SyncScope>, queuedAt: string, startedAt: string | null, finishedAt: string | null, done: number, total: number, message: string | null, error: string | null, graphRequests: number | null, users: { created: number, updated: number, associated: number, deleted: number, released: number, skipped: number, failed: number, held: number }, groups: { created: number, updated: number, associated: number, deleted: number, released: number, skipped: number, failed: number, held: number }, contacts: { created: number, updated: number, associated: number, deleted: number, released: number, skipped: number, failed: number, held: number } | null } | null, settings: { userRuleSavedAt: string | null } } };

export type SaveGroupSyncRuleMutationVariables = Exact<{
  input: GroupSyncRuleInput;
}>;


export type SaveGroupSyncRuleMutation = { saveGroupSyncRule: { initialRun: { id: string, status: SyncRunStatus, phase: SyncPhase, mode: SyncMode | null, trigger: SyncTrigger, scopes: Array<SyncScope>, queuedAt: string, startedAt: string | null, finishedAt: string | null, done: number, total: number, message: string | null, error: string | null, graphRequests: number | null, users: { created: number, updated: number, associated: number, deleted: number, released: number, skipped: number, failed: number, held: number }, groups: { created: number, updated: number, associated: number, deleted: number, released: number, skipped: number, failed: number, held: number }, contacts: { created: number, updated: number, associated: number, deleted: number, released: number, skipped: number, failed: number, held: number } | null } | null, settings: { groupRuleSavedAt: string | null } } };

export type SaveDeletionGuardMutationVariables = Exact<{
  maxDeletes: number;
  maxRatio: number;
  windowHours?: number | null | undefined;
}>;


export type SaveDeletionGuardMutation = { saveDeletionGuard: { deletionGuard: { maxDeletes: number, maxRatio: number, windowHours: number, approvedAt: string | null } } };

export type SyncNowMutationVariables = Exact<{
  scopes?: Array<SyncScope> | SyncScope | null | undefined;
}>;


export type SyncNowMutation = { syncNow: { id: string, status: SyncRunStatus, phase: SyncPhase, mode: SyncMode | null, trigger: SyncTrigger, scopes: Array<SyncScope>, queuedAt: string, startedAt: string | null, finishedAt: string | null, done: number, total: number, message: string | null, error: string | null, graphRequests: number | null, users: { created: number, updated: number, associated: number, deleted: number, released: number, skipped: number, failed: number, held: number }, groups: { created: number, updated: number, associated: number, deleted: number, released: number, skipped: number, failed: number, held: number }, contacts: { created: number, updated: number, associated: number, deleted: number, released: number, skipped: number, failed: number, held: number } | null } };

export type ApproveHeldDeletesMutationVariables = Exact<{
  runId: string | number;
}>;


export type ApproveHeldDeletesMutation = { approveHeldDeletes: { id: string, status: SyncRunStatus, phase: SyncPhase, mode: SyncMode | null, trigger: SyncTrigger, scopes: Array<SyncScope>, queuedAt: string, startedAt: string | null, finishedAt: string | null, done: number, total: number, message: string | null, error: string | null, graphRequests: number | null, users: { created: number, updated: number, associated: number, deleted: number, released: number, skipped: number, failed: number, held: number }, groups: { created: number, updated: number, associated: number, deleted: number, released: number, skipped: number, failed: number, held: number }, contacts: { created: number, updated: number, associated: number, deleted: number, released: number, skipped: number, failed: number, held: number } | null } };

export type SyncRunQueryVariables = Exact<{
  id: string | number;
  action?: SyncItemAction | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type SyncRunQuery = { syncRun: { id: string, status: SyncRunStatus, phase: SyncPhase, mode: SyncMode | null, trigger: SyncTrigger, scopes: Array<SyncScope>, queuedAt: string, startedAt: string | null, finishedAt: string | null, done: number, total: number, message: string | null, error: string | null, graphRequests: number | null, items: { totalCount: number, pageInfo: { endCursor: string | null, hasNextPage: boolean }, nodes: Array<{ id: string, scope: string, action: SyncItemAction, reason: string, objectId: string, objectName: string, userPrincipalName: string | null, number: string | null, targetId: string | null, detail: string | null, changes: string | null, state: string }> }, users: { created: number, updated: number, associated: number, deleted: number, released: number, skipped: number, failed: number, held: number }, groups: { created: number, updated: number, associated: number, deleted: number, released: number, skipped: number, failed: number, held: number }, contacts: { created: number, updated: number, associated: number, deleted: number, released: number, skipped: number, failed: number, held: number } | null } | null };

export type SyncRunsQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type SyncRunsQuery = { syncRuns: { totalCount: number, pageInfo: { endCursor: string | null, hasNextPage: boolean }, nodes: Array<{ id: string, status: SyncRunStatus, phase: SyncPhase, mode: SyncMode | null, trigger: SyncTrigger, scopes: Array<SyncScope>, queuedAt: string, startedAt: string | null, finishedAt: string | null, done: number, total: number, message: string | null, error: string | null, graphRequests: number | null, users: { created: number, updated: number, associated: number, deleted: number, released: number, skipped: number, failed: number, held: number }, groups: { created: number, updated: number, associated: number, deleted: number, released: number, skipped: number, failed: number, held: number }, contacts: { created: number, updated: number, associated: number, deleted: number, released: number, skipped: number, failed: number, held: number } | null }> } };

export type DirectoryGroupsQueryVariables = Exact<{
  search?: string | null | undefined;
  first?: number | null | undefined;
}>;


export type DirectoryGroupsQuery = { directoryGroups: Array<{ id: string, displayName: string, kind: DirectoryGroupKind }> };

export type PreviewSyncQueryVariables = Exact<{
  scopes?: Array<SyncScope> | SyncScope | null | undefined;
  first?: number | null | undefined;
  userRule?: UserSyncRuleInput | null | undefined;
  groupRule?: GroupSyncRuleInput | null | undefined;
}>;


export type PreviewSyncQuery = { previewSync: { mode: SyncMode | null, notes: Array<string>, users: { held: boolean, counts: { created: number, updated: number, associated: number, deleted: number, released: number, skipped: number, failed: number, held: number }, items: Array<{ action: SyncItemAction, reason: string, objectName: string, number: string | null }> } | null, groups: { held: boolean, counts: { created: number, updated: number, associated: number, deleted: number, released: number, skipped: number, failed: number, held: number }, items: Array<{ action: SyncItemAction, reason: string, objectName: string }> } | null } };

export type SyncProgressSubscriptionVariables = Exact<{
  runId?: string | number | null | undefined;
}>;


export type SyncProgressSubscription = { syncProgress: { id: string, phase: SyncPhase, status: SyncRunStatus, done: number, total: number, users: { created: number, updated: number, associated: number, deleted: number, released: number, skipped: number, failed: number, held: number } } };

export type SyncRunWelcomeEmailsQueryVariables = Exact<{
  id: string | number;
  status?: WelcomeEmailStatus | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type SyncRunWelcomeEmailsQuery = { syncRun: { id: string, status: SyncRunStatus, welcomeEmails: { totalCount: number, counts: { queued: number, sent: number, failed: number }, pageInfo: { endCursor: string | null, hasNextPage: boolean }, nodes: Array<{ id: string, extensionId: string, number: string, name: string, recipient: string | null, status: WelcomeEmailStatus, attempts: number, lastError: string | null, queuedAt: string, sentAt: string | null }> } } | null };

export const ExtensionFieldsFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ExtensionFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Extension"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"number"}},{"kind":"Field","name":{"kind":"Name","value":"firstName"}},{"kind":"Field","name":{"kind":"Name","value":"lastName"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"mobileNumber"}},{"kind":"Field","name":{"kind":"Name","value":"jobTitle"}},{"kind":"Field","name":{"kind":"Name","value":"source"}},{"kind":"Field","name":{"kind":"Name","value":"externalId"}},{"kind":"Field","name":{"kind":"Name","value":"lockedFields"}},{"kind":"Field","name":{"kind":"Name","value":"callerIdName"}},{"kind":"Field","name":{"kind":"Name","value":"voicemailEnabled"}},{"kind":"Field","name":{"kind":"Name","value":"notes"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}}]}}]} as unknown as DocumentNode<ExtensionFieldsFragment, unknown>;
export const ExtensionGroupFieldsFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ExtensionGroupFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ExtensionGroup"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"source"}},{"kind":"Field","name":{"kind":"Name","value":"externalId"}},{"kind":"Field","name":{"kind":"Name","value":"memberIds"}},{"kind":"Field","name":{"kind":"Name","value":"memberCount"}},{"kind":"Field","name":{"kind":"Name","value":"lockedFields"}}]}}]} as unknown as DocumentNode<ExtensionGroupFieldsFragment, unknown>;
export const ApiKeyFieldsFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ApiKeyFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ApiKey"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"pbxId"}},{"kind":"Field","name":{"kind":"Name","value":"role"}},{"kind":"Field","name":{"kind":"Name","value":"prefix"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"revokedAt"}}]}}]} as unknown as DocumentNode<ApiKeyFieldsFragment, unknown>;
export const HealthFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Health"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"IntegrationHealth"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"codes"}},{"kind":"Field","name":{"kind":"Name","value":"missingPermissions"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"checkedAt"}},{"kind":"Field","name":{"kind":"Name","value":"lastHealthyAt"}}]}}]} as unknown as DocumentNode<HealthFragment, unknown>;
export const ChangeFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Change"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"IntegrationChange"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"integration"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"userSyncPaused"}},{"kind":"Field","name":{"kind":"Name","value":"groupSyncPaused"}},{"kind":"Field","name":{"kind":"Name","value":"clientId"}},{"kind":"Field","name":{"kind":"Name","value":"authorizationAccount"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"username"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"extensionsDeleted"}},{"kind":"Field","name":{"kind":"Name","value":"groupsDeleted"}},{"kind":"Field","name":{"kind":"Name","value":"extensionsReleased"}},{"kind":"Field","name":{"kind":"Name","value":"groupsReleased"}}]}}]} as unknown as DocumentNode<ChangeFragment, unknown>;
export const LinkusSsoFieldsFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"LinkusSsoFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"LinkusSso"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"enabled"}},{"kind":"Field","name":{"kind":"Name","value":"microsoftRedirectUri"}},{"kind":"Field","name":{"kind":"Name","value":"startUrl"}},{"kind":"Field","name":{"kind":"Name","value":"redirectUris"}},{"kind":"Field","name":{"kind":"Name","value":"integrationStatus"}}]}}]} as unknown as DocumentNode<LinkusSsoFieldsFragment, unknown>;
export const PresenceFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Presence"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ExtensionPresence"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"extensionId"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"source"}},{"kind":"Field","name":{"kind":"Name","value":"teamsAvailability"}},{"kind":"Field","name":{"kind":"Name","value":"teamsActivity"}},{"kind":"Field","name":{"kind":"Name","value":"changedAt"}},{"kind":"Field","name":{"kind":"Name","value":"enabled"}},{"kind":"Field","name":{"kind":"Name","value":"mapping"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"available"}},{"kind":"Field","name":{"kind":"Name","value":"busy"}},{"kind":"Field","name":{"kind":"Name","value":"doNotDisturb"}},{"kind":"Field","name":{"kind":"Name","value":"beRightBack"}},{"kind":"Field","name":{"kind":"Name","value":"appearAway"}},{"kind":"Field","name":{"kind":"Name","value":"appearOffline"}}]}}]}}]} as unknown as DocumentNode<PresenceFragment, unknown>;
export const CountsFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Counts"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"SyncCounts"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"created"}},{"kind":"Field","name":{"kind":"Name","value":"updated"}},{"kind":"Field","name":{"kind":"Name","value":"associated"}},{"kind":"Field","name":{"kind":"Name","value":"deleted"}},{"kind":"Field","name":{"kind":"Name","value":"released"}},{"kind":"Field","name":{"kind":"Name","value":"skipped"}},{"kind":"Field","name":{"kind":"Name","value":"failed"}},{"kind":"Field","name":{"kind":"Name","value":"held"}}]}}]} as unknown as DocumentNode<CountsFragment, unknown>;
export const RunFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Run"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"SyncRun"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"phase"}},{"kind":"Field","name":{"kind":"Name","value":"mode"}},{"kind":"Field","name":{"kind":"Name","value":"trigger"}},{"kind":"Field","name":{"kind":"Name","value":"scopes"}},{"kind":"Field","name":{"kind":"Name","value":"queuedAt"}},{"kind":"Field","name":{"kind":"Name","value":"startedAt"}},{"kind":"Field","name":{"kind":"Name","value":"finishedAt"}},{"kind":"Field","name":{"kind":"Name","value":"done"}},{"kind":"Field","name":{"kind":"Name","value":"total"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"error"}},{"kind":"Field","name":{"kind":"Name","value":"graphRequests"}},{"kind":"Field","name":{"kind":"Name","value":"users"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Counts"}}]}},{"kind":"Field","name":{"kind":"Name","value":"groups"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Counts"}}]}},{"kind":"Field","name":{"kind":"Name","value":"contacts"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Counts"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Counts"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"SyncCounts"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"created"}},{"kind":"Field","name":{"kind":"Name","value":"updated"}},{"kind":"Field","name":{"kind":"Name","value":"associated"}},{"kind":"Field","name":{"kind":"Name","value":"deleted"}},{"kind":"Field","name":{"kind":"Name","value":"released"}},{"kind":"Field","name":{"kind":"Name","value":"skipped"}},{"kind":"Field","name":{"kind":"Name","value":"failed"}},{"kind":"Field","name":{"kind":"Name","value":"held"}}]}}]} as unknown as DocumentNode<RunFragment, unknown>;
export const AuditLogDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"AuditLog"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"auditLog"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"endCursor"}},{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}}]}},{"kind":"Field","name":{"kind":"Name","value":"nodes"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"keyId"}},{"kind":"Field","name":{"kind":"Name","value":"role"}},{"kind":"Field","name":{"kind":"Name","value":"operation"}},{"kind":"Field","name":{"kind":"Name","value":"arguments"}},{"kind":"Field","name":{"kind":"Name","value":"outcome"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"requestId"}},{"kind":"Field","name":{"kind":"Name","value":"at"}}]}}]}}]}}]} as unknown as DocumentNode<AuditLogQuery, AuditLogQueryVariables>;
export const ChangeTriggersDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"ChangeTriggers"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"changeTriggers"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"mode"}},{"kind":"Field","name":{"kind":"Name","value":"debounceSeconds"}},{"kind":"Field","name":{"kind":"Name","value":"threshold"}},{"kind":"Field","name":{"kind":"Name","value":"pollMinutes"}},{"kind":"Field","name":{"kind":"Name","value":"subscriptions"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"resource"}},{"kind":"Field","name":{"kind":"Name","value":"expiresAt"}}]}}]}}]}}]} as unknown as DocumentNode<ChangeTriggersQuery, ChangeTriggersQueryVariables>;
export const SaveChangeTriggersDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"SaveChangeTriggers"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"debounceSeconds"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"threshold"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"pollMinutes"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"saveChangeTriggers"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"debounceSeconds"},"value":{"kind":"Variable","name":{"kind":"Name","value":"debounceSeconds"}}},{"kind":"Argument","name":{"kind":"Name","value":"threshold"},"value":{"kind":"Variable","name":{"kind":"Name","value":"threshold"}}},{"kind":"Argument","name":{"kind":"Name","value":"pollMinutes"},"value":{"kind":"Variable","name":{"kind":"Name","value":"pollMinutes"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"mode"}},{"kind":"Field","name":{"kind":"Name","value":"debounceSeconds"}},{"kind":"Field","name":{"kind":"Name","value":"threshold"}}]}}]}}]} as unknown as DocumentNode<SaveChangeTriggersMutation, SaveChangeTriggersMutationVariables>;
export const LookupCallerDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"LookupCaller"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"number"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"lookupCaller"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"number"},"value":{"kind":"Variable","name":{"kind":"Name","value":"number"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"source"}},{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"displayName"}},{"kind":"Field","name":{"kind":"Name","value":"company"}},{"kind":"Field","name":{"kind":"Name","value":"number"}},{"kind":"Field","name":{"kind":"Name","value":"extensionNumber"}},{"kind":"Field","name":{"kind":"Name","value":"phonebookId"}},{"kind":"Field","name":{"kind":"Name","value":"phonebookName"}},{"kind":"Field","name":{"kind":"Name","value":"rank"}}]}}]}}]} as unknown as DocumentNode<LookupCallerQuery, LookupCallerQueryVariables>;
export const SearchContactsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"SearchContacts"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"query"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"searchContacts"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"query"},"value":{"kind":"Variable","name":{"kind":"Name","value":"query"}}},{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"cursor"}},{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"source"}},{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"displayName"}},{"kind":"Field","name":{"kind":"Name","value":"company"}},{"kind":"Field","name":{"kind":"Name","value":"number"}},{"kind":"Field","name":{"kind":"Name","value":"extensionNumber"}},{"kind":"Field","name":{"kind":"Name","value":"phonebookName"}},{"kind":"Field","name":{"kind":"Name","value":"rank"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"endCursor"}},{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}}]}}]}}]}}]} as unknown as DocumentNode<SearchContactsQuery, SearchContactsQueryVariables>;
export const PhonebooksDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Phonebooks"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"phonebooks"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"mailboxId"}},{"kind":"Field","name":{"kind":"Name","value":"synced"}},{"kind":"Field","name":{"kind":"Name","value":"visibility"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"allExtensions"}},{"kind":"Field","name":{"kind":"Name","value":"extensionIds"}},{"kind":"Field","name":{"kind":"Name","value":"extensionGroupIds"}}]}}]}}]}}]} as unknown as DocumentNode<PhonebooksQuery, PhonebooksQueryVariables>;
export const SavePhonebookVisibilityDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"SavePhonebookVisibility"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"PhonebookVisibilityInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"savePhonebookVisibility"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"visibility"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"allExtensions"}},{"kind":"Field","name":{"kind":"Name","value":"extensionIds"}},{"kind":"Field","name":{"kind":"Name","value":"extensionGroupIds"}}]}}]}}]}}]} as unknown as DocumentNode<SavePhonebookVisibilityMutation, SavePhonebookVisibilityMutationVariables>;
export const DeleteContactDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"DeleteContact"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"deleteContact"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}]}]}}]} as unknown as DocumentNode<DeleteContactMutation, DeleteContactMutationVariables>;
export const MeDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Me"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"me"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"role"}},{"kind":"Field","name":{"kind":"Name","value":"pbxId"}},{"kind":"Field","name":{"kind":"Name","value":"extension"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"number"}}]}}]}}]}}]} as unknown as DocumentNode<MeQuery, MeQueryVariables>;
export const ContactSyncRuleDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"ContactSyncRule"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"contactSyncRule"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"personalEnabled"}},{"kind":"Field","name":{"kind":"Name","value":"personalRange"}},{"kind":"Field","name":{"kind":"Name","value":"personalGroupIds"}},{"kind":"Field","name":{"kind":"Name","value":"sharedEnabled"}},{"kind":"Field","name":{"kind":"Name","value":"sharedRange"}},{"kind":"Field","name":{"kind":"Name","value":"sharedMailboxIds"}},{"kind":"Field","name":{"kind":"Name","value":"phonebookName"}},{"kind":"Field","name":{"kind":"Name","value":"savedAt"}}]}}]}}]} as unknown as DocumentNode<ContactSyncRuleQuery, ContactSyncRuleQueryVariables>;
export const SaveContactSyncRuleDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"SaveContactSyncRule"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ContactSyncRuleInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"saveContactSyncRule"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"initialRun"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Run"}}]}},{"kind":"Field","name":{"kind":"Name","value":"rule"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"personalEnabled"}},{"kind":"Field","name":{"kind":"Name","value":"sharedEnabled"}},{"kind":"Field","name":{"kind":"Name","value":"phonebookName"}},{"kind":"Field","name":{"kind":"Name","value":"savedAt"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Counts"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"SyncCounts"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"created"}},{"kind":"Field","name":{"kind":"Name","value":"updated"}},{"kind":"Field","name":{"kind":"Name","value":"associated"}},{"kind":"Field","name":{"kind":"Name","value":"deleted"}},{"kind":"Field","name":{"kind":"Name","value":"released"}},{"kind":"Field","name":{"kind":"Name","value":"skipped"}},{"kind":"Field","name":{"kind":"Name","value":"failed"}},{"kind":"Field","name":{"kind":"Name","value":"held"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Run"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"SyncRun"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"phase"}},{"kind":"Field","name":{"kind":"Name","value":"mode"}},{"kind":"Field","name":{"kind":"Name","value":"trigger"}},{"kind":"Field","name":{"kind":"Name","value":"scopes"}},{"kind":"Field","name":{"kind":"Name","value":"queuedAt"}},{"kind":"Field","name":{"kind":"Name","value":"startedAt"}},{"kind":"Field","name":{"kind":"Name","value":"finishedAt"}},{"kind":"Field","name":{"kind":"Name","value":"done"}},{"kind":"Field","name":{"kind":"Name","value":"total"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"error"}},{"kind":"Field","name":{"kind":"Name","value":"graphRequests"}},{"kind":"Field","name":{"kind":"Name","value":"users"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Counts"}}]}},{"kind":"Field","name":{"kind":"Name","value":"groups"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Counts"}}]}},{"kind":"Field","name":{"kind":"Name","value":"contacts"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Counts"}}]}}]}}]} as unknown as DocumentNode<SaveContactSyncRuleMutation, SaveContactSyncRuleMutationVariables>;
export const SharedMailboxesDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"SharedMailboxes"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"search"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"sharedMailboxes"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"search"},"value":{"kind":"Variable","name":{"kind":"Name","value":"search"}}},{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"displayName"}},{"kind":"Field","name":{"kind":"Name","value":"mail"}}]}}]}}]} as unknown as DocumentNode<SharedMailboxesQuery, SharedMailboxesQueryVariables>;
export const ExtensionsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Extensions"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"filter"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"ExtensionFilter"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"extensions"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}},{"kind":"Argument","name":{"kind":"Name","value":"filter"},"value":{"kind":"Variable","name":{"kind":"Name","value":"filter"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"endCursor"}},{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}}]}},{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"cursor"}},{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ExtensionFields"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"nodes"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"number"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ExtensionFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Extension"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"number"}},{"kind":"Field","name":{"kind":"Name","value":"firstName"}},{"kind":"Field","name":{"kind":"Name","value":"lastName"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"mobileNumber"}},{"kind":"Field","name":{"kind":"Name","value":"jobTitle"}},{"kind":"Field","name":{"kind":"Name","value":"source"}},{"kind":"Field","name":{"kind":"Name","value":"externalId"}},{"kind":"Field","name":{"kind":"Name","value":"lockedFields"}},{"kind":"Field","name":{"kind":"Name","value":"callerIdName"}},{"kind":"Field","name":{"kind":"Name","value":"voicemailEnabled"}},{"kind":"Field","name":{"kind":"Name","value":"notes"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}}]}}]} as unknown as DocumentNode<ExtensionsQuery, ExtensionsQueryVariables>;
export const ExtensionDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Extension"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"extension"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ExtensionFields"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ExtensionFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Extension"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"number"}},{"kind":"Field","name":{"kind":"Name","value":"firstName"}},{"kind":"Field","name":{"kind":"Name","value":"lastName"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"mobileNumber"}},{"kind":"Field","name":{"kind":"Name","value":"jobTitle"}},{"kind":"Field","name":{"kind":"Name","value":"source"}},{"kind":"Field","name":{"kind":"Name","value":"externalId"}},{"kind":"Field","name":{"kind":"Name","value":"lockedFields"}},{"kind":"Field","name":{"kind":"Name","value":"callerIdName"}},{"kind":"Field","name":{"kind":"Name","value":"voicemailEnabled"}},{"kind":"Field","name":{"kind":"Name","value":"notes"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}}]}}]} as unknown as DocumentNode<ExtensionQuery, ExtensionQueryVariables>;
export const CreateExtensionDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CreateExtension"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"CreateExtensionInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"createExtension"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ExtensionFields"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ExtensionFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Extension"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"number"}},{"kind":"Field","name":{"kind":"Name","value":"firstName"}},{"kind":"Field","name":{"kind":"Name","value":"lastName"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"mobileNumber"}},{"kind":"Field","name":{"kind":"Name","value":"jobTitle"}},{"kind":"Field","name":{"kind":"Name","value":"source"}},{"kind":"Field","name":{"kind":"Name","value":"externalId"}},{"kind":"Field","name":{"kind":"Name","value":"lockedFields"}},{"kind":"Field","name":{"kind":"Name","value":"callerIdName"}},{"kind":"Field","name":{"kind":"Name","value":"voicemailEnabled"}},{"kind":"Field","name":{"kind":"Name","value":"notes"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}}]}}]} as unknown as DocumentNode<CreateExtensionMutation, CreateExtensionMutationVariables>;
export const UpdateExtensionDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"UpdateExtension"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"UpdateExtensionInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"updateExtension"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}},{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ExtensionFields"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ExtensionFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Extension"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"number"}},{"kind":"Field","name":{"kind":"Name","value":"firstName"}},{"kind":"Field","name":{"kind":"Name","value":"lastName"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"mobileNumber"}},{"kind":"Field","name":{"kind":"Name","value":"jobTitle"}},{"kind":"Field","name":{"kind":"Name","value":"source"}},{"kind":"Field","name":{"kind":"Name","value":"externalId"}},{"kind":"Field","name":{"kind":"Name","value":"lockedFields"}},{"kind":"Field","name":{"kind":"Name","value":"callerIdName"}},{"kind":"Field","name":{"kind":"Name","value":"voicemailEnabled"}},{"kind":"Field","name":{"kind":"Name","value":"notes"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}}]}}]} as unknown as DocumentNode<UpdateExtensionMutation, UpdateExtensionMutationVariables>;
export const DeleteExtensionDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"DeleteExtension"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"deleteExtension"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}]}]}}]} as unknown as DocumentNode<DeleteExtensionMutation, DeleteExtensionMutationVariables>;
export const ExtensionGroupsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"ExtensionGroups"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"extensionGroups"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"endCursor"}},{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}}]}},{"kind":"Field","name":{"kind":"Name","value":"nodes"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ExtensionGroupFields"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ExtensionGroupFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ExtensionGroup"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"source"}},{"kind":"Field","name":{"kind":"Name","value":"externalId"}},{"kind":"Field","name":{"kind":"Name","value":"memberIds"}},{"kind":"Field","name":{"kind":"Name","value":"memberCount"}},{"kind":"Field","name":{"kind":"Name","value":"lockedFields"}}]}}]} as unknown as DocumentNode<ExtensionGroupsQuery, ExtensionGroupsQueryVariables>;
export const ExtensionGroupDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"ExtensionGroup"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"extensionGroup"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ExtensionGroupFields"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ExtensionGroupFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ExtensionGroup"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"source"}},{"kind":"Field","name":{"kind":"Name","value":"externalId"}},{"kind":"Field","name":{"kind":"Name","value":"memberIds"}},{"kind":"Field","name":{"kind":"Name","value":"memberCount"}},{"kind":"Field","name":{"kind":"Name","value":"lockedFields"}}]}}]} as unknown as DocumentNode<ExtensionGroupQuery, ExtensionGroupQueryVariables>;
export const CreateExtensionGroupDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CreateExtensionGroup"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"name"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"memberIds"}},"type":{"kind":"ListType","type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"createExtensionGroup"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"name"},"value":{"kind":"Variable","name":{"kind":"Name","value":"name"}}},{"kind":"Argument","name":{"kind":"Name","value":"memberIds"},"value":{"kind":"Variable","name":{"kind":"Name","value":"memberIds"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ExtensionGroupFields"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ExtensionGroupFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ExtensionGroup"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"source"}},{"kind":"Field","name":{"kind":"Name","value":"externalId"}},{"kind":"Field","name":{"kind":"Name","value":"memberIds"}},{"kind":"Field","name":{"kind":"Name","value":"memberCount"}},{"kind":"Field","name":{"kind":"Name","value":"lockedFields"}}]}}]} as unknown as DocumentNode<CreateExtensionGroupMutation, CreateExtensionGroupMutationVariables>;
export const UpdateExtensionGroupDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"UpdateExtensionGroup"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"name"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"memberIds"}},"type":{"kind":"ListType","type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"updateExtensionGroup"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}},{"kind":"Argument","name":{"kind":"Name","value":"name"},"value":{"kind":"Variable","name":{"kind":"Name","value":"name"}}},{"kind":"Argument","name":{"kind":"Name","value":"memberIds"},"value":{"kind":"Variable","name":{"kind":"Name","value":"memberIds"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ExtensionGroupFields"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ExtensionGroupFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ExtensionGroup"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"source"}},{"kind":"Field","name":{"kind":"Name","value":"externalId"}},{"kind":"Field","name":{"kind":"Name","value":"memberIds"}},{"kind":"Field","name":{"kind":"Name","value":"memberCount"}},{"kind":"Field","name":{"kind":"Name","value":"lockedFields"}}]}}]} as unknown as DocumentNode<UpdateExtensionGroupMutation, UpdateExtensionGroupMutationVariables>;
export const DeleteExtensionGroupDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"DeleteExtensionGroup"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"deleteExtensionGroup"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}]}]}}]} as unknown as DocumentNode<DeleteExtensionGroupMutation, DeleteExtensionGroupMutationVariables>;
export const PbxsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Pbxs"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"search"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"pbxs"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}},{"kind":"Argument","name":{"kind":"Name","value":"search"},"value":{"kind":"Variable","name":{"kind":"Name","value":"search"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"endCursor"}},{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}}]}},{"kind":"Field","name":{"kind":"Name","value":"nodes"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"timeZone"}},{"kind":"Field","name":{"kind":"Name","value":"extensionCapacity"}},{"kind":"Field","name":{"kind":"Name","value":"defaultCountry"}},{"kind":"Field","name":{"kind":"Name","value":"publicBaseUrl"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}}]}}]}}]}}]} as unknown as DocumentNode<PbxsQuery, PbxsQueryVariables>;
export const CreatePbxDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CreatePbx"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"CreatePbxInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"createPbx"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"timeZone"}},{"kind":"Field","name":{"kind":"Name","value":"extensionCapacity"}},{"kind":"Field","name":{"kind":"Name","value":"defaultCountry"}},{"kind":"Field","name":{"kind":"Name","value":"publicBaseUrl"}}]}}]}}]} as unknown as DocumentNode<CreatePbxMutation, CreatePbxMutationVariables>;
export const DeletePbxDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"DeletePbx"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"deletePbx"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"keysRevoked"}},{"kind":"Field","name":{"kind":"Name","value":"rowsDeleted"}}]}}]}}]} as unknown as DocumentNode<DeletePbxMutation, DeletePbxMutationVariables>;
export const ApiKeysDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"ApiKeys"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"pbxId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"includeRevoked"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Boolean"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"apiKeys"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"pbxId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"pbxId"}}},{"kind":"Argument","name":{"kind":"Name","value":"includeRevoked"},"value":{"kind":"Variable","name":{"kind":"Name","value":"includeRevoked"}}},{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"endCursor"}},{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}}]}},{"kind":"Field","name":{"kind":"Name","value":"nodes"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ApiKeyFields"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ApiKeyFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ApiKey"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"pbxId"}},{"kind":"Field","name":{"kind":"Name","value":"role"}},{"kind":"Field","name":{"kind":"Name","value":"prefix"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"revokedAt"}}]}}]} as unknown as DocumentNode<ApiKeysQuery, ApiKeysQueryVariables>;
export const OperatorKeysDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"OperatorKeys"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"includeRevoked"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Boolean"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"operatorKeys"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"includeRevoked"},"value":{"kind":"Variable","name":{"kind":"Name","value":"includeRevoked"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"nodes"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ApiKeyFields"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ApiKeyFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ApiKey"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"pbxId"}},{"kind":"Field","name":{"kind":"Name","value":"role"}},{"kind":"Field","name":{"kind":"Name","value":"prefix"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"revokedAt"}}]}}]} as unknown as DocumentNode<OperatorKeysQuery, OperatorKeysQueryVariables>;
export const CreateApiKeyDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CreateApiKey"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"CreateApiKeyInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"createApiKey"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"key"}},{"kind":"Field","name":{"kind":"Name","value":"apiKey"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ApiKeyFields"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ApiKeyFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ApiKey"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"pbxId"}},{"kind":"Field","name":{"kind":"Name","value":"role"}},{"kind":"Field","name":{"kind":"Name","value":"prefix"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"revokedAt"}}]}}]} as unknown as DocumentNode<CreateApiKeyMutation, CreateApiKeyMutationVariables>;
export const RevokeApiKeyDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"RevokeApiKey"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"revokeApiKey"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ApiKeyFields"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ApiKeyFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ApiKey"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"pbxId"}},{"kind":"Field","name":{"kind":"Name","value":"role"}},{"kind":"Field","name":{"kind":"Name","value":"prefix"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"revokedAt"}}]}}]} as unknown as DocumentNode<RevokeApiKeyMutation, RevokeApiKeyMutationVariables>;
export const FleetAuditLogDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"FleetAuditLog"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"fleetAuditLog"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"nodes"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"keyId"}},{"kind":"Field","name":{"kind":"Name","value":"role"}},{"kind":"Field","name":{"kind":"Name","value":"operation"}},{"kind":"Field","name":{"kind":"Name","value":"arguments"}},{"kind":"Field","name":{"kind":"Name","value":"outcome"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"at"}}]}}]}}]}}]} as unknown as DocumentNode<FleetAuditLogQuery, FleetAuditLogQueryVariables>;
export const IntegrationDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Integration"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"integration"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}}]}}]}}]} as unknown as DocumentNode<IntegrationQuery, IntegrationQueryVariables>;
export const IntegrationChangedDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"IntegrationChanged"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"integrationChanged"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}}]}}]}}]} as unknown as DocumentNode<IntegrationChangedSubscription, IntegrationChangedSubscriptionVariables>;
export const IntegrationDetailsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"IntegrationDetails"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"integration"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"clientId"}},{"kind":"Field","name":{"kind":"Name","value":"tenantId"}},{"kind":"Field","name":{"kind":"Name","value":"secretLast4"}},{"kind":"Field","name":{"kind":"Name","value":"secretExpiresAt"}},{"kind":"Field","name":{"kind":"Name","value":"redirectUri"}},{"kind":"Field","name":{"kind":"Name","value":"linkusSsoRedirectUris"}},{"kind":"Field","name":{"kind":"Name","value":"authorizationAccount"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"username"}},{"kind":"Field","name":{"kind":"Name","value":"name"}}]}},{"kind":"Field","name":{"kind":"Name","value":"organizationName"}},{"kind":"Field","name":{"kind":"Name","value":"directoryGroupCount"}},{"kind":"Field","name":{"kind":"Name","value":"connectedAt"}},{"kind":"Field","name":{"kind":"Name","value":"userSyncPaused"}},{"kind":"Field","name":{"kind":"Name","value":"groupSyncPaused"}},{"kind":"Field","name":{"kind":"Name","value":"warnings"}},{"kind":"Field","name":{"kind":"Name","value":"lastError"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}},{"kind":"Field","name":{"kind":"Name","value":"health"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Health"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Health"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"IntegrationHealth"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"codes"}},{"kind":"Field","name":{"kind":"Name","value":"missingPermissions"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"checkedAt"}},{"kind":"Field","name":{"kind":"Name","value":"lastHealthyAt"}}]}}]} as unknown as DocumentNode<IntegrationDetailsQuery, IntegrationDetailsQueryVariables>;
export const IntegrationHealthDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"IntegrationHealth"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"integration"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"health"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Health"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Health"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"IntegrationHealth"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"codes"}},{"kind":"Field","name":{"kind":"Name","value":"missingPermissions"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"checkedAt"}},{"kind":"Field","name":{"kind":"Name","value":"lastHealthyAt"}}]}}]} as unknown as DocumentNode<IntegrationHealthQuery, IntegrationHealthQueryVariables>;
export const ReconsentDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"Reconsent"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"reconsent"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"authorizationUrl"}},{"kind":"Field","name":{"kind":"Name","value":"integration"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"clientId"}},{"kind":"Field","name":{"kind":"Name","value":"authorizationAccount"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"username"}}]}}]}}]}}]}}]} as unknown as DocumentNode<ReconsentMutation, ReconsentMutationVariables>;
export const ConnectDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"Connect"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ConnectInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"connect"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"authorizationUrl"}},{"kind":"Field","name":{"kind":"Name","value":"integration"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"clientId"}},{"kind":"Field","name":{"kind":"Name","value":"tenantId"}},{"kind":"Field","name":{"kind":"Name","value":"secretLast4"}}]}}]}}]}}]} as unknown as DocumentNode<ConnectMutation, ConnectMutationVariables>;
export const UpdateSecretDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"UpdateSecret"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"secret"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"expiresAt"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"DateTimeISO"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"updateSecret"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"secret"},"value":{"kind":"Variable","name":{"kind":"Name","value":"secret"}}},{"kind":"Argument","name":{"kind":"Name","value":"expiresAt"},"value":{"kind":"Variable","name":{"kind":"Name","value":"expiresAt"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"secretLast4"}},{"kind":"Field","name":{"kind":"Name","value":"secretExpiresAt"}},{"kind":"Field","name":{"kind":"Name","value":"warnings"}}]}}]}}]} as unknown as DocumentNode<UpdateSecretMutation, UpdateSecretMutationVariables>;
export const TestConnectionDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"TestConnection"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"testConnection"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"appAccess"}},{"kind":"Field","name":{"kind":"Name","value":"delegatedAccess"}},{"kind":"Field","name":{"kind":"Name","value":"delegatedAs"}},{"kind":"Field","name":{"kind":"Name","value":"problems"}}]}}]}}]} as unknown as DocumentNode<TestConnectionMutation, TestConnectionMutationVariables>;
export const TestConnectionPermissionsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"TestConnectionPermissions"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"testConnection"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"appAccess"}},{"kind":"Field","name":{"kind":"Name","value":"delegatedAccess"}},{"kind":"Field","name":{"kind":"Name","value":"delegatedAs"}},{"kind":"Field","name":{"kind":"Name","value":"problems"}},{"kind":"Field","name":{"kind":"Name","value":"permissions"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"type"}},{"kind":"Field","name":{"kind":"Name","value":"present"}},{"kind":"Field","name":{"kind":"Name","value":"usedFor"}},{"kind":"Field","name":{"kind":"Name","value":"stopsWithout"}}]}},{"kind":"Field","name":{"kind":"Name","value":"health"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Health"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Health"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"IntegrationHealth"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"codes"}},{"kind":"Field","name":{"kind":"Name","value":"missingPermissions"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"checkedAt"}},{"kind":"Field","name":{"kind":"Name","value":"lastHealthyAt"}}]}}]} as unknown as DocumentNode<TestConnectionPermissionsMutation, TestConnectionPermissionsMutationVariables>;
export const PauseDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"Pause"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"target"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"SyncTarget"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"deleteSynced"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Boolean"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"pause"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"target"},"value":{"kind":"Variable","name":{"kind":"Name","value":"target"}}},{"kind":"Argument","name":{"kind":"Name","value":"deleteSynced"},"value":{"kind":"Variable","name":{"kind":"Name","value":"deleteSynced"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Change"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Change"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"IntegrationChange"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"integration"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"userSyncPaused"}},{"kind":"Field","name":{"kind":"Name","value":"groupSyncPaused"}},{"kind":"Field","name":{"kind":"Name","value":"clientId"}},{"kind":"Field","name":{"kind":"Name","value":"authorizationAccount"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"username"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"extensionsDeleted"}},{"kind":"Field","name":{"kind":"Name","value":"groupsDeleted"}},{"kind":"Field","name":{"kind":"Name","value":"extensionsReleased"}},{"kind":"Field","name":{"kind":"Name","value":"groupsReleased"}}]}}]} as unknown as DocumentNode<PauseMutation, PauseMutationVariables>;
export const ResumeDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"Resume"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"target"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"SyncTarget"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"resume"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"target"},"value":{"kind":"Variable","name":{"kind":"Name","value":"target"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Change"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Change"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"IntegrationChange"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"integration"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"userSyncPaused"}},{"kind":"Field","name":{"kind":"Name","value":"groupSyncPaused"}},{"kind":"Field","name":{"kind":"Name","value":"clientId"}},{"kind":"Field","name":{"kind":"Name","value":"authorizationAccount"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"username"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"extensionsDeleted"}},{"kind":"Field","name":{"kind":"Name","value":"groupsDeleted"}},{"kind":"Field","name":{"kind":"Name","value":"extensionsReleased"}},{"kind":"Field","name":{"kind":"Name","value":"groupsReleased"}}]}}]} as unknown as DocumentNode<ResumeMutation, ResumeMutationVariables>;
export const DisableDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"Disable"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"deleteExtensions"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Boolean"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"deleteGroups"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Boolean"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"disable"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"deleteExtensions"},"value":{"kind":"Variable","name":{"kind":"Name","value":"deleteExtensions"}}},{"kind":"Argument","name":{"kind":"Name","value":"deleteGroups"},"value":{"kind":"Variable","name":{"kind":"Name","value":"deleteGroups"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Change"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Change"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"IntegrationChange"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"integration"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"userSyncPaused"}},{"kind":"Field","name":{"kind":"Name","value":"groupSyncPaused"}},{"kind":"Field","name":{"kind":"Name","value":"clientId"}},{"kind":"Field","name":{"kind":"Name","value":"authorizationAccount"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"username"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"extensionsDeleted"}},{"kind":"Field","name":{"kind":"Name","value":"groupsDeleted"}},{"kind":"Field","name":{"kind":"Name","value":"extensionsReleased"}},{"kind":"Field","name":{"kind":"Name","value":"groupsReleased"}}]}}]} as unknown as DocumentNode<DisableMutation, DisableMutationVariables>;
export const EnableDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"Enable"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"enable"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Change"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Change"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"IntegrationChange"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"integration"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"userSyncPaused"}},{"kind":"Field","name":{"kind":"Name","value":"groupSyncPaused"}},{"kind":"Field","name":{"kind":"Name","value":"clientId"}},{"kind":"Field","name":{"kind":"Name","value":"authorizationAccount"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"username"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"extensionsDeleted"}},{"kind":"Field","name":{"kind":"Name","value":"groupsDeleted"}},{"kind":"Field","name":{"kind":"Name","value":"extensionsReleased"}},{"kind":"Field","name":{"kind":"Name","value":"groupsReleased"}}]}}]} as unknown as DocumentNode<EnableMutation, EnableMutationVariables>;
export const DisconnectDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"Disconnect"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"deleteExtensions"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Boolean"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"deleteGroups"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Boolean"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"disconnect"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"deleteExtensions"},"value":{"kind":"Variable","name":{"kind":"Name","value":"deleteExtensions"}}},{"kind":"Argument","name":{"kind":"Name","value":"deleteGroups"},"value":{"kind":"Variable","name":{"kind":"Name","value":"deleteGroups"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Change"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Change"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"IntegrationChange"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"integration"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"userSyncPaused"}},{"kind":"Field","name":{"kind":"Name","value":"groupSyncPaused"}},{"kind":"Field","name":{"kind":"Name","value":"clientId"}},{"kind":"Field","name":{"kind":"Name","value":"authorizationAccount"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"username"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"extensionsDeleted"}},{"kind":"Field","name":{"kind":"Name","value":"groupsDeleted"}},{"kind":"Field","name":{"kind":"Name","value":"extensionsReleased"}},{"kind":"Field","name":{"kind":"Name","value":"groupsReleased"}}]}}]} as unknown as DocumentNode<DisconnectMutation, DisconnectMutationVariables>;
export const LinkusSessionsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"LinkusSessions"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"extensionId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"linkusSessions"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"extensionId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"extensionId"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"extensionId"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"lastUsedAt"}},{"kind":"Field","name":{"kind":"Name","value":"expiresAt"}},{"kind":"Field","name":{"kind":"Name","value":"revokedAt"}},{"kind":"Field","name":{"kind":"Name","value":"revokedReason"}}]}}]}}]} as unknown as DocumentNode<LinkusSessionsQuery, LinkusSessionsQueryVariables>;
export const RevokeLinkusSessionsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"RevokeLinkusSessions"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"extensionId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"revokeLinkusSessions"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"extensionId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"extensionId"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"revoked"}},{"kind":"Field","name":{"kind":"Name","value":"sessions"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"revokedAt"}},{"kind":"Field","name":{"kind":"Name","value":"revokedReason"}}]}}]}}]}}]} as unknown as DocumentNode<RevokeLinkusSessionsMutation, RevokeLinkusSessionsMutationVariables>;
export const LinkusMeDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"LinkusMe"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"me"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"role"}},{"kind":"Field","name":{"kind":"Name","value":"pbxId"}},{"kind":"Field","name":{"kind":"Name","value":"keyId"}},{"kind":"Field","name":{"kind":"Name","value":"extension"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"number"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"email"}}]}}]}}]}}]} as unknown as DocumentNode<LinkusMeQuery, LinkusMeQueryVariables>;
export const LinkusSsoDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"LinkusSso"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"linkusSso"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"LinkusSsoFields"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"LinkusSsoFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"LinkusSso"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"enabled"}},{"kind":"Field","name":{"kind":"Name","value":"microsoftRedirectUri"}},{"kind":"Field","name":{"kind":"Name","value":"startUrl"}},{"kind":"Field","name":{"kind":"Name","value":"redirectUris"}},{"kind":"Field","name":{"kind":"Name","value":"integrationStatus"}}]}}]} as unknown as DocumentNode<LinkusSsoQuery, LinkusSsoQueryVariables>;
export const SaveLinkusSsoDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"SaveLinkusSso"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"LinkusSsoInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"saveLinkusSso"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"LinkusSsoFields"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"LinkusSsoFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"LinkusSso"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"enabled"}},{"kind":"Field","name":{"kind":"Name","value":"microsoftRedirectUri"}},{"kind":"Field","name":{"kind":"Name","value":"startUrl"}},{"kind":"Field","name":{"kind":"Name","value":"redirectUris"}},{"kind":"Field","name":{"kind":"Name","value":"integrationStatus"}}]}}]} as unknown as DocumentNode<SaveLinkusSsoMutation, SaveLinkusSsoMutationVariables>;
export const PbxDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Pbx"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"pbx"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"timeZone"}}]}}]}}]} as unknown as DocumentNode<PbxQuery, PbxQueryVariables>;
export const UpdatePbxDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"UpdatePbx"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"UpdatePbxInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"updatePbx"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"timeZone"}},{"kind":"Field","name":{"kind":"Name","value":"publicBaseUrl"}},{"kind":"Field","name":{"kind":"Name","value":"extensionCapacity"}},{"kind":"Field","name":{"kind":"Name","value":"defaultCountry"}}]}}]}}]} as unknown as DocumentNode<UpdatePbxMutation, UpdatePbxMutationVariables>;
export const PresenceSyncDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"PresenceSync"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"presenceSync"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"enabled"}},{"kind":"Field","name":{"kind":"Name","value":"users"}},{"kind":"Field","name":{"kind":"Name","value":"intervalMs"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"mode"}},{"kind":"Field","name":{"kind":"Name","value":"subscribedUsers"}},{"kind":"Field","name":{"kind":"Name","value":"polledUsers"}},{"kind":"Field","name":{"kind":"Name","value":"fallbackReason"}},{"kind":"Field","name":{"kind":"Name","value":"subscriptionExpiresAt"}}]}}]}}]} as unknown as DocumentNode<PresenceSyncQuery, PresenceSyncQueryVariables>;
export const SavePresenceSyncDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"SavePresenceSync"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"enabled"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Boolean"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"savePresenceSync"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"enabled"},"value":{"kind":"Variable","name":{"kind":"Name","value":"enabled"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"enabled"}},{"kind":"Field","name":{"kind":"Name","value":"users"}},{"kind":"Field","name":{"kind":"Name","value":"intervalMs"}}]}}]}}]} as unknown as DocumentNode<SavePresenceSyncMutation, SavePresenceSyncMutationVariables>;
export const SavePresenceMappingDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"SavePresenceMapping"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"extensionIds"}},"type":{"kind":"NonNullType","type":{"kind":"ListType","type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"enabled"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Boolean"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"mapping"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"PresenceMappingInput"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"savePresenceMapping"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"extensionIds"},"value":{"kind":"Variable","name":{"kind":"Name","value":"extensionIds"}}},{"kind":"Argument","name":{"kind":"Name","value":"enabled"},"value":{"kind":"Variable","name":{"kind":"Name","value":"enabled"}}},{"kind":"Argument","name":{"kind":"Name","value":"mapping"},"value":{"kind":"Variable","name":{"kind":"Name","value":"mapping"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Presence"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Presence"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ExtensionPresence"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"extensionId"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"source"}},{"kind":"Field","name":{"kind":"Name","value":"teamsAvailability"}},{"kind":"Field","name":{"kind":"Name","value":"teamsActivity"}},{"kind":"Field","name":{"kind":"Name","value":"changedAt"}},{"kind":"Field","name":{"kind":"Name","value":"enabled"}},{"kind":"Field","name":{"kind":"Name","value":"mapping"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"available"}},{"kind":"Field","name":{"kind":"Name","value":"busy"}},{"kind":"Field","name":{"kind":"Name","value":"doNotDisturb"}},{"kind":"Field","name":{"kind":"Name","value":"beRightBack"}},{"kind":"Field","name":{"kind":"Name","value":"appearAway"}},{"kind":"Field","name":{"kind":"Name","value":"appearOffline"}}]}}]}}]} as unknown as DocumentNode<SavePresenceMappingMutation, SavePresenceMappingMutationVariables>;
export const SetExtensionPresenceDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"SetExtensionPresence"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"extensionId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"status"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ExtensionPresenceStatus"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"setExtensionPresence"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"extensionId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"extensionId"}}},{"kind":"Argument","name":{"kind":"Name","value":"status"},"value":{"kind":"Variable","name":{"kind":"Name","value":"status"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Presence"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Presence"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ExtensionPresence"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"extensionId"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"source"}},{"kind":"Field","name":{"kind":"Name","value":"teamsAvailability"}},{"kind":"Field","name":{"kind":"Name","value":"teamsActivity"}},{"kind":"Field","name":{"kind":"Name","value":"changedAt"}},{"kind":"Field","name":{"kind":"Name","value":"enabled"}},{"kind":"Field","name":{"kind":"Name","value":"mapping"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"available"}},{"kind":"Field","name":{"kind":"Name","value":"busy"}},{"kind":"Field","name":{"kind":"Name","value":"doNotDisturb"}},{"kind":"Field","name":{"kind":"Name","value":"beRightBack"}},{"kind":"Field","name":{"kind":"Name","value":"appearAway"}},{"kind":"Field","name":{"kind":"Name","value":"appearOffline"}}]}}]}}]} as unknown as DocumentNode<SetExtensionPresenceMutation, SetExtensionPresenceMutationVariables>;
export const ExtensionPresencesDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"ExtensionPresences"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"extensions"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"externalId"}},{"kind":"Field","name":{"kind":"Name","value":"source"}},{"kind":"Field","name":{"kind":"Name","value":"presence"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Presence"}}]}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Presence"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ExtensionPresence"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"extensionId"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"source"}},{"kind":"Field","name":{"kind":"Name","value":"teamsAvailability"}},{"kind":"Field","name":{"kind":"Name","value":"teamsActivity"}},{"kind":"Field","name":{"kind":"Name","value":"changedAt"}},{"kind":"Field","name":{"kind":"Name","value":"enabled"}},{"kind":"Field","name":{"kind":"Name","value":"mapping"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"available"}},{"kind":"Field","name":{"kind":"Name","value":"busy"}},{"kind":"Field","name":{"kind":"Name","value":"doNotDisturb"}},{"kind":"Field","name":{"kind":"Name","value":"beRightBack"}},{"kind":"Field","name":{"kind":"Name","value":"appearAway"}},{"kind":"Field","name":{"kind":"Name","value":"appearOffline"}}]}}]}}]} as unknown as DocumentNode<ExtensionPresencesQuery, ExtensionPresencesQueryVariables>;
export const ExtensionPresenceChangedDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"ExtensionPresenceChanged"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"extensionIds"}},"type":{"kind":"ListType","type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"extensionPresenceChanged"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"extensionIds"},"value":{"kind":"Variable","name":{"kind":"Name","value":"extensionIds"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"extensionId"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"source"}},{"kind":"Field","name":{"kind":"Name","value":"teamsAvailability"}},{"kind":"Field","name":{"kind":"Name","value":"teamsActivity"}},{"kind":"Field","name":{"kind":"Name","value":"changedAt"}}]}}]}}]} as unknown as DocumentNode<ExtensionPresenceChangedSubscription, ExtensionPresenceChangedSubscriptionVariables>;
export const QueuesDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Queues"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"queues"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"counts"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"waiting"}},{"kind":"Field","name":{"kind":"Name","value":"active"}},{"kind":"Field","name":{"kind":"Name","value":"delayed"}},{"kind":"Field","name":{"kind":"Name","value":"completed"}},{"kind":"Field","name":{"kind":"Name","value":"failed"}}]}}]}}]}}]} as unknown as DocumentNode<QueuesQuery, QueuesQueryVariables>;
export const FailedJobsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"FailedJobs"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"queue"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}},"defaultValue":{"kind":"IntValue","value":"20"}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"failedJobs"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"queue"},"value":{"kind":"Variable","name":{"kind":"Name","value":"queue"}}},{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"queue"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"state"}},{"kind":"Field","name":{"kind":"Name","value":"failedReason"}},{"kind":"Field","name":{"kind":"Name","value":"attemptsMade"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"processedAt"}},{"kind":"Field","name":{"kind":"Name","value":"finishedAt"}}]}}]}}]} as unknown as DocumentNode<FailedJobsQuery, FailedJobsQueryVariables>;
export const RetryJobDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"RetryJob"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"queue"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"retryJob"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"queue"},"value":{"kind":"Variable","name":{"kind":"Name","value":"queue"}}},{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"queue"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"state"}},{"kind":"Field","name":{"kind":"Name","value":"attemptsMade"}}]}}]}}]} as unknown as DocumentNode<RetryJobMutation, RetryJobMutationVariables>;
export const ScheduleDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Schedule"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"schedule"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"frequency"}},{"kind":"Field","name":{"kind":"Name","value":"days"}},{"kind":"Field","name":{"kind":"Name","value":"time"}},{"kind":"Field","name":{"kind":"Name","value":"timeZone"}},{"kind":"Field","name":{"kind":"Name","value":"nextRunAt"}}]}}]}}]} as unknown as DocumentNode<ScheduleQuery, ScheduleQueryVariables>;
export const SaveScheduleDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"SaveSchedule"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ScheduleInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"saveSchedule"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"frequency"}},{"kind":"Field","name":{"kind":"Name","value":"days"}},{"kind":"Field","name":{"kind":"Name","value":"time"}},{"kind":"Field","name":{"kind":"Name","value":"timeZone"}},{"kind":"Field","name":{"kind":"Name","value":"nextRunAt"}}]}}]}}]} as unknown as DocumentNode<SaveScheduleMutation, SaveScheduleMutationVariables>;
export const SyncSettingsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"SyncSettings"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"syncSettings"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"userRule"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"range"}},{"kind":"Field","name":{"kind":"Name","value":"numbering"}},{"kind":"Field","name":{"kind":"Name","value":"startNumber"}},{"kind":"Field","name":{"kind":"Name","value":"numberProperty"}},{"kind":"Field","name":{"kind":"Name","value":"autoDelete"}},{"kind":"Field","name":{"kind":"Name","value":"autoAssociate"}},{"kind":"Field","name":{"kind":"Name","value":"deleteWhenDisabled"}},{"kind":"Field","name":{"kind":"Name","value":"deleteWhenDeleted"}},{"kind":"Field","name":{"kind":"Name","value":"welcomeEmail"}},{"kind":"Field","name":{"kind":"Name","value":"groupIds"}},{"kind":"Field","name":{"kind":"Name","value":"userTypes"}}]}},{"kind":"Field","name":{"kind":"Name","value":"groupRule"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"range"}},{"kind":"Field","name":{"kind":"Name","value":"kinds"}},{"kind":"Field","name":{"kind":"Name","value":"groupIds"}},{"kind":"Field","name":{"kind":"Name","value":"autoDelete"}}]}},{"kind":"Field","name":{"kind":"Name","value":"userRuleSavedAt"}},{"kind":"Field","name":{"kind":"Name","value":"groupRuleSavedAt"}},{"kind":"Field","name":{"kind":"Name","value":"lastFullReadAt"}},{"kind":"Field","name":{"kind":"Name","value":"deletionGuard"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"maxDeletes"}},{"kind":"Field","name":{"kind":"Name","value":"maxRatio"}}]}}]}}]}}]} as unknown as DocumentNode<SyncSettingsQuery, SyncSettingsQueryVariables>;
export const SaveUserSyncRuleDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"SaveUserSyncRule"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"UserSyncRuleInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"saveUserSyncRule"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"initialRun"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Run"}}]}},{"kind":"Field","name":{"kind":"Name","value":"settings"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"userRuleSavedAt"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Counts"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"SyncCounts"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"created"}},{"kind":"Field","name":{"kind":"Name","value":"updated"}},{"kind":"Field","name":{"kind":"Name","value":"associated"}},{"kind":"Field","name":{"kind":"Name","value":"deleted"}},{"kind":"Field","name":{"kind":"Name","value":"released"}},{"kind":"Field","name":{"kind":"Name","value":"skipped"}},{"kind":"Field","name":{"kind":"Name","value":"failed"}},{"kind":"Field","name":{"kind":"Name","value":"held"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Run"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"SyncRun"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"phase"}},{"kind":"Field","name":{"kind":"Name","value":"mode"}},{"kind":"Field","name":{"kind":"Name","value":"trigger"}},{"kind":"Field","name":{"kind":"Name","value":"scopes"}},{"kind":"Field","name":{"kind":"Name","value":"queuedAt"}},{"kind":"Field","name":{"kind":"Name","value":"startedAt"}},{"kind":"Field","name":{"kind":"Name","value":"finishedAt"}},{"kind":"Field","name":{"kind":"Name","value":"done"}},{"kind":"Field","name":{"kind":"Name","value":"total"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"error"}},{"kind":"Field","name":{"kind":"Name","value":"graphRequests"}},{"kind":"Field","name":{"kind":"Name","value":"users"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Counts"}}]}},{"kind":"Field","name":{"kind":"Name","value":"groups"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Counts"}}]}},{"kind":"Field","name":{"kind":"Name","value":"contacts"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Counts"}}]}}]}}]} as unknown as DocumentNode<SaveUserSyncRuleMutation, SaveUserSyncRuleMutationVariables>;
export const SaveGroupSyncRuleDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"SaveGroupSyncRule"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"GroupSyncRuleInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"saveGroupSyncRule"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"initialRun"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Run"}}]}},{"kind":"Field","name":{"kind":"Name","value":"settings"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"groupRuleSavedAt"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Counts"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"SyncCounts"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"created"}},{"kind":"Field","name":{"kind":"Name","value":"updated"}},{"kind":"Field","name":{"kind":"Name","value":"associated"}},{"kind":"Field","name":{"kind":"Name","value":"deleted"}},{"kind":"Field","name":{"kind":"Name","value":"released"}},{"kind":"Field","name":{"kind":"Name","value":"skipped"}},{"kind":"Field","name":{"kind":"Name","value":"failed"}},{"kind":"Field","name":{"kind":"Name","value":"held"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Run"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"SyncRun"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"phase"}},{"kind":"Field","name":{"kind":"Name","value":"mode"}},{"kind":"Field","name":{"kind":"Name","value":"trigger"}},{"kind":"Field","name":{"kind":"Name","value":"scopes"}},{"kind":"Field","name":{"kind":"Name","value":"queuedAt"}},{"kind":"Field","name":{"kind":"Name","value":"startedAt"}},{"kind":"Field","name":{"kind":"Name","value":"finishedAt"}},{"kind":"Field","name":{"kind":"Name","value":"done"}},{"kind":"Field","name":{"kind":"Name","value":"total"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"error"}},{"kind":"Field","name":{"kind":"Name","value":"graphRequests"}},{"kind":"Field","name":{"kind":"Name","value":"users"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Counts"}}]}},{"kind":"Field","name":{"kind":"Name","value":"groups"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Counts"}}]}},{"kind":"Field","name":{"kind":"Name","value":"contacts"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Counts"}}]}}]}}]} as unknown as DocumentNode<SaveGroupSyncRuleMutation, SaveGroupSyncRuleMutationVariables>;
export const SaveDeletionGuardDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"SaveDeletionGuard"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"maxDeletes"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"maxRatio"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Float"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"windowHours"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"saveDeletionGuard"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"maxDeletes"},"value":{"kind":"Variable","name":{"kind":"Name","value":"maxDeletes"}}},{"kind":"Argument","name":{"kind":"Name","value":"maxRatio"},"value":{"kind":"Variable","name":{"kind":"Name","value":"maxRatio"}}},{"kind":"Argument","name":{"kind":"Name","value":"windowHours"},"value":{"kind":"Variable","name":{"kind":"Name","value":"windowHours"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"deletionGuard"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"maxDeletes"}},{"kind":"Field","name":{"kind":"Name","value":"maxRatio"}},{"kind":"Field","name":{"kind":"Name","value":"windowHours"}},{"kind":"Field","name":{"kind":"Name","value":"approvedAt"}}]}}]}}]}}]} as unknown as DocumentNode<SaveDeletionGuardMutation, SaveDeletionGuardMutationVariables>;
export const SyncNowDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"SyncNow"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"scopes"}},"type":{"kind":"ListType","type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"SyncScope"}}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"syncNow"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"scopes"},"value":{"kind":"Variable","name":{"kind":"Name","value":"scopes"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Run"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Counts"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"SyncCounts"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"created"}},{"kind":"Field","name":{"kind":"Name","value":"updated"}},{"kind":"Field","name":{"kind":"Name","value":"associated"}},{"kind":"Field","name":{"kind":"Name","value":"deleted"}},{"kind":"Field","name":{"kind":"Name","value":"released"}},{"kind":"Field","name":{"kind":"Name","value":"skipped"}},{"kind":"Field","name":{"kind":"Name","value":"failed"}},{"kind":"Field","name":{"kind":"Name","value":"held"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Run"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"SyncRun"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"phase"}},{"kind":"Field","name":{"kind":"Name","value":"mode"}},{"kind":"Field","name":{"kind":"Name","value":"trigger"}},{"kind":"Field","name":{"kind":"Name","value":"scopes"}},{"kind":"Field","name":{"kind":"Name","value":"queuedAt"}},{"kind":"Field","name":{"kind":"Name","value":"startedAt"}},{"kind":"Field","name":{"kind":"Name","value":"finishedAt"}},{"kind":"Field","name":{"kind":"Name","value":"done"}},{"kind":"Field","name":{"kind":"Name","value":"total"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"error"}},{"kind":"Field","name":{"kind":"Name","value":"graphRequests"}},{"kind":"Field","name":{"kind":"Name","value":"users"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Counts"}}]}},{"kind":"Field","name":{"kind":"Name","value":"groups"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Counts"}}]}},{"kind":"Field","name":{"kind":"Name","value":"contacts"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Counts"}}]}}]}}]} as unknown as DocumentNode<SyncNowMutation, SyncNowMutationVariables>;
export const ApproveHeldDeletesDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"ApproveHeldDeletes"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"runId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"approveHeldDeletes"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"runId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"runId"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Run"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Counts"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"SyncCounts"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"created"}},{"kind":"Field","name":{"kind":"Name","value":"updated"}},{"kind":"Field","name":{"kind":"Name","value":"associated"}},{"kind":"Field","name":{"kind":"Name","value":"deleted"}},{"kind":"Field","name":{"kind":"Name","value":"released"}},{"kind":"Field","name":{"kind":"Name","value":"skipped"}},{"kind":"Field","name":{"kind":"Name","value":"failed"}},{"kind":"Field","name":{"kind":"Name","value":"held"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Run"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"SyncRun"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"phase"}},{"kind":"Field","name":{"kind":"Name","value":"mode"}},{"kind":"Field","name":{"kind":"Name","value":"trigger"}},{"kind":"Field","name":{"kind":"Name","value":"scopes"}},{"kind":"Field","name":{"kind":"Name","value":"queuedAt"}},{"kind":"Field","name":{"kind":"Name","value":"startedAt"}},{"kind":"Field","name":{"kind":"Name","value":"finishedAt"}},{"kind":"Field","name":{"kind":"Name","value":"done"}},{"kind":"Field","name":{"kind":"Name","value":"total"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"error"}},{"kind":"Field","name":{"kind":"Name","value":"graphRequests"}},{"kind":"Field","name":{"kind":"Name","value":"users"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Counts"}}]}},{"kind":"Field","name":{"kind":"Name","value":"groups"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Counts"}}]}},{"kind":"Field","name":{"kind":"Name","value":"contacts"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Counts"}}]}}]}}]} as unknown as DocumentNode<ApproveHeldDeletesMutation, ApproveHeldDeletesMutationVariables>;
export const SyncRunDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"SyncRun"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"action"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"SyncItemAction"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"syncRun"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Run"}},{"kind":"Field","name":{"kind":"Name","value":"items"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"action"},"value":{"kind":"Variable","name":{"kind":"Name","value":"action"}}},{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"endCursor"}},{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}}]}},{"kind":"Field","name":{"kind":"Name","value":"nodes"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"scope"}},{"kind":"Field","name":{"kind":"Name","value":"action"}},{"kind":"Field","name":{"kind":"Name","value":"reason"}},{"kind":"Field","name":{"kind":"Name","value":"objectId"}},{"kind":"Field","name":{"kind":"Name","value":"objectName"}},{"kind":"Field","name":{"kind":"Name","value":"userPrincipalName"}},{"kind":"Field","name":{"kind":"Name","value":"number"}},{"kind":"Field","name":{"kind":"Name","value":"targetId"}},{"kind":"Field","name":{"kind":"Name","value":"detail"}},{"kind":"Field","name":{"kind":"Name","value":"changes"}},{"kind":"Field","name":{"kind":"Name","value":"state"}}]}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Counts"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"SyncCounts"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"created"}},{"kind":"Field","name":{"kind":"Name","value":"updated"}},{"kind":"Field","name":{"kind":"Name","value":"associated"}},{"kind":"Field","name":{"kind":"Name","value":"deleted"}},{"kind":"Field","name":{"kind":"Name","value":"released"}},{"kind":"Field","name":{"kind":"Name","value":"skipped"}},{"kind":"Field","name":{"kind":"Name","value":"failed"}},{"kind":"Field","name":{"kind":"Name","value":"held"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Run"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"SyncRun"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"phase"}},{"kind":"Field","name":{"kind":"Name","value":"mode"}},{"kind":"Field","name":{"kind":"Name","value":"trigger"}},{"kind":"Field","name":{"kind":"Name","value":"scopes"}},{"kind":"Field","name":{"kind":"Name","value":"queuedAt"}},{"kind":"Field","name":{"kind":"Name","value":"startedAt"}},{"kind":"Field","name":{"kind":"Name","value":"finishedAt"}},{"kind":"Field","name":{"kind":"Name","value":"done"}},{"kind":"Field","name":{"kind":"Name","value":"total"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"error"}},{"kind":"Field","name":{"kind":"Name","value":"graphRequests"}},{"kind":"Field","name":{"kind":"Name","value":"users"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Counts"}}]}},{"kind":"Field","name":{"kind":"Name","value":"groups"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Counts"}}]}},{"kind":"Field","name":{"kind":"Name","value":"contacts"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Counts"}}]}}]}}]} as unknown as DocumentNode<SyncRunQuery, SyncRunQueryVariables>;
export const SyncRunsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"SyncRuns"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"syncRuns"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"endCursor"}},{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}}]}},{"kind":"Field","name":{"kind":"Name","value":"nodes"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Run"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Counts"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"SyncCounts"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"created"}},{"kind":"Field","name":{"kind":"Name","value":"updated"}},{"kind":"Field","name":{"kind":"Name","value":"associated"}},{"kind":"Field","name":{"kind":"Name","value":"deleted"}},{"kind":"Field","name":{"kind":"Name","value":"released"}},{"kind":"Field","name":{"kind":"Name","value":"skipped"}},{"kind":"Field","name":{"kind":"Name","value":"failed"}},{"kind":"Field","name":{"kind":"Name","value":"held"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Run"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"SyncRun"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"phase"}},{"kind":"Field","name":{"kind":"Name","value":"mode"}},{"kind":"Field","name":{"kind":"Name","value":"trigger"}},{"kind":"Field","name":{"kind":"Name","value":"scopes"}},{"kind":"Field","name":{"kind":"Name","value":"queuedAt"}},{"kind":"Field","name":{"kind":"Name","value":"startedAt"}},{"kind":"Field","name":{"kind":"Name","value":"finishedAt"}},{"kind":"Field","name":{"kind":"Name","value":"done"}},{"kind":"Field","name":{"kind":"Name","value":"total"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"error"}},{"kind":"Field","name":{"kind":"Name","value":"graphRequests"}},{"kind":"Field","name":{"kind":"Name","value":"users"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Counts"}}]}},{"kind":"Field","name":{"kind":"Name","value":"groups"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Counts"}}]}},{"kind":"Field","name":{"kind":"Name","value":"contacts"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Counts"}}]}}]}}]} as unknown as DocumentNode<SyncRunsQuery, SyncRunsQueryVariables>;
export const DirectoryGroupsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"DirectoryGroups"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"search"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"directoryGroups"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"search"},"value":{"kind":"Variable","name":{"kind":"Name","value":"search"}}},{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"displayName"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}}]}}]}}]} as unknown as DocumentNode<DirectoryGroupsQuery, DirectoryGroupsQueryVariables>;
export const PreviewSyncDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"PreviewSync"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"scopes"}},"type":{"kind":"ListType","type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"SyncScope"}}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"userRule"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"UserSyncRuleInput"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"groupRule"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"GroupSyncRuleInput"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"previewSync"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"scopes"},"value":{"kind":"Variable","name":{"kind":"Name","value":"scopes"}}},{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"userRule"},"value":{"kind":"Variable","name":{"kind":"Name","value":"userRule"}}},{"kind":"Argument","name":{"kind":"Name","value":"groupRule"},"value":{"kind":"Variable","name":{"kind":"Name","value":"groupRule"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"mode"}},{"kind":"Field","name":{"kind":"Name","value":"notes"}},{"kind":"Field","name":{"kind":"Name","value":"users"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"held"}},{"kind":"Field","name":{"kind":"Name","value":"counts"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Counts"}}]}},{"kind":"Field","name":{"kind":"Name","value":"items"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"action"}},{"kind":"Field","name":{"kind":"Name","value":"reason"}},{"kind":"Field","name":{"kind":"Name","value":"objectName"}},{"kind":"Field","name":{"kind":"Name","value":"number"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"groups"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"held"}},{"kind":"Field","name":{"kind":"Name","value":"counts"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Counts"}}]}},{"kind":"Field","name":{"kind":"Name","value":"items"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"action"}},{"kind":"Field","name":{"kind":"Name","value":"reason"}},{"kind":"Field","name":{"kind":"Name","value":"objectName"}}]}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Counts"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"SyncCounts"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"created"}},{"kind":"Field","name":{"kind":"Name","value":"updated"}},{"kind":"Field","name":{"kind":"Name","value":"associated"}},{"kind":"Field","name":{"kind":"Name","value":"deleted"}},{"kind":"Field","name":{"kind":"Name","value":"released"}},{"kind":"Field","name":{"kind":"Name","value":"skipped"}},{"kind":"Field","name":{"kind":"Name","value":"failed"}},{"kind":"Field","name":{"kind":"Name","value":"held"}}]}}]} as unknown as DocumentNode<PreviewSyncQuery, PreviewSyncQueryVariables>;
export const SyncProgressDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"SyncProgress"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"runId"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"syncProgress"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"runId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"runId"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"phase"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"done"}},{"kind":"Field","name":{"kind":"Name","value":"total"}},{"kind":"Field","name":{"kind":"Name","value":"users"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Counts"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Counts"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"SyncCounts"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"created"}},{"kind":"Field","name":{"kind":"Name","value":"updated"}},{"kind":"Field","name":{"kind":"Name","value":"associated"}},{"kind":"Field","name":{"kind":"Name","value":"deleted"}},{"kind":"Field","name":{"kind":"Name","value":"released"}},{"kind":"Field","name":{"kind":"Name","value":"skipped"}},{"kind":"Field","name":{"kind":"Name","value":"failed"}},{"kind":"Field","name":{"kind":"Name","value":"held"}}]}}]} as unknown as DocumentNode<SyncProgressSubscription, SyncProgressSubscriptionVariables>;
export const SyncRunWelcomeEmailsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"SyncRunWelcomeEmails"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"status"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"WelcomeEmailStatus"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"syncRun"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"welcomeEmails"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"status"},"value":{"kind":"Variable","name":{"kind":"Name","value":"status"}}},{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"counts"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"queued"}},{"kind":"Field","name":{"kind":"Name","value":"sent"}},{"kind":"Field","name":{"kind":"Name","value":"failed"}}]}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"endCursor"}},{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}}]}},{"kind":"Field","name":{"kind":"Name","value":"nodes"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"extensionId"}},{"kind":"Field","name":{"kind":"Name","value":"number"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"recipient"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"attempts"}},{"kind":"Field","name":{"kind":"Name","value":"lastError"}},{"kind":"Field","name":{"kind":"Name","value":"queuedAt"}},{"kind":"Field","name":{"kind":"Name","value":"sentAt"}}]}}]}}]}}]}}]} as unknown as DocumentNode<SyncRunWelcomeEmailsQuery, SyncRunWelcomeEmailsQueryVariables>;