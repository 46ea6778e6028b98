/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
export type ConnectInput = {
  /** Application (client) ID (a GUID). */
  clientId: string;
  /** The client secret value. */
  clientSecret: string;
  /** When the client secret expires (for warnings). */
  secretExpiresAt?: string | null | undefined;
  /** Directory (tenant) ID (a GUID). */
  tenantId: string;
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

/** Where the Microsoft 365 integration stands. */
export type IntegrationStatus =
  | 'AWAITING_CONSENT'
  | 'CONNECTED'
  | 'DISABLED'
  | 'NOT_CONNECTED';

/** Who manages an extension or extension group. */
export type SyncSource =
  /** Managed on the PBX by hand. */
  | 'MANUAL'
  /** Created or associated by the Microsoft 365 integration, which still manages it (locked). */
  | 'SYNCED';

/** User sync (extensions) or group sync (extension groups). */
export type SyncTarget =
  | 'GROUPS'
  | 'USERS';

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

export type AuditLogQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type AuditLogQuery = { auditLog: { totalCount: number, pageInfo: { endCursor: string | null, hasNextPage: boolean }, nodes: Array<{ id: string, keyId: string | null, role: string, operation: string, arguments: unknown, outcome: string, message: string | null, requestId: string | null, at: string }> } };

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

export type IntegrationQueryVariables = Exact<{ [key: string]: never; }>;


export type IntegrationQuery = { integration: { status: IntegrationStatus } };

export type IntegrationChangedSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type IntegrationChangedSubscription = { integrationChanged: { status: IntegrationStatus } };

export type IntegrationDetailsQueryVariables = Exact<{ [key: string]: never; }>;


export type IntegrationDetailsQuery = { integration: { id: string, status: IntegrationStatus, clientId: string | null, tenantId: string | null, secretLast4: string | null, secretExpiresAt: string | null, redirectUri: string | null, linkusSsoRedirectUris: Array<string>, organizationName: string | null, directoryGroupCount: number | null, connectedAt: string | null, userSyncPaused: boolean, groupSyncPaused: boolean, warnings: Array<string>, authorizationAccount: { username: string, name: string | null } | null, lastError: { code: string, message: string } | null } };

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

export type PbxQueryVariables = Exact<{ [key: string]: never; }>;


export type PbxQuery = { pbx: { id: string, name: string, timeZone: string } };

export type UpdatePbxMutationVariables = Exact<{
  input: UpdatePbxInput;
}>;


export type UpdatePbxMutation = { updatePbx: { id: string, name: string, timeZone: string, publicBaseUrl: string | null, extensionCapacity: number, defaultCountry: string } };

export const ExtensionFieldsFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ExtensionFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Extension"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"number"}},{"kind":"Field","name":{"kind":"Name","value":"firstName"}},{"kind":"Field","name":{"kind":"Name","value":"lastName"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"mobileNumber"}},{"kind":"Field","name":{"kind":"Name","value":"jobTitle"}},{"kind":"Field","name":{"kind":"Name","value":"source"}},{"kind":"Field","name":{"kind":"Name","value":"externalId"}},{"kind":"Field","name":{"kind":"Name","value":"lockedFields"}},{"kind":"Field","name":{"kind":"Name","value":"callerIdName"}},{"kind":"Field","name":{"kind":"Name","value":"voicemailEnabled"}},{"kind":"Field","name":{"kind":"Name","value":"notes"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}}]}}]} as unknown as DocumentNode<ExtensionFieldsFragment, unknown>;
export const ExtensionGroupFieldsFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ExtensionGroupFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ExtensionGroup"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"source"}},{"kind":"Field","name":{"kind":"Name","value":"externalId"}},{"kind":"Field","name":{"kind":"Name","value":"memberIds"}},{"kind":"Field","name":{"kind":"Name","value":"memberCount"}},{"kind":"Field","name":{"kind":"Name","value":"lockedFields"}}]}}]} as unknown as DocumentNode<ExtensionGroupFieldsFragment, unknown>;
export const ChangeFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Change"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"IntegrationChange"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"integration"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"userSyncPaused"}},{"kind":"Field","name":{"kind":"Name","value":"groupSyncPaused"}},{"kind":"Field","name":{"kind":"Name","value":"clientId"}},{"kind":"Field","name":{"kind":"Name","value":"authorizationAccount"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"username"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"extensionsDeleted"}},{"kind":"Field","name":{"kind":"Name","value":"groupsDeleted"}},{"kind":"Field","name":{"kind":"Name","value":"extensionsReleased"}},{"kind":"Field","name":{"kind":"Name","value":"groupsReleased"}}]}}]} as unknown as DocumentNode<ChangeFragment, unknown>;
export const AuditLogDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"AuditLog"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"auditLog"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"endCursor"}},{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}}]}},{"kind":"Field","name":{"kind":"Name","value":"nodes"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"keyId"}},{"kind":"Field","name":{"kind":"Name","value":"role"}},{"kind":"Field","name":{"kind":"Name","value":"operation"}},{"kind":"Field","name":{"kind":"Name","value":"arguments"}},{"kind":"Field","name":{"kind":"Name","value":"outcome"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"requestId"}},{"kind":"Field","name":{"kind":"Name","value":"at"}}]}}]}}]}}]} as unknown as DocumentNode<AuditLogQuery, AuditLogQueryVariables>;
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
export const IntegrationDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Integration"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"integration"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}}]}}]}}]} as unknown as DocumentNode<IntegrationQuery, IntegrationQueryVariables>;
export const IntegrationChangedDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"IntegrationChanged"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"integrationChanged"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}}]}}]}}]} as unknown as DocumentNode<IntegrationChangedSubscription, IntegrationChangedSubscriptionVariables>;
export const IntegrationDetailsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"IntegrationDetails"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"integration"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"clientId"}},{"kind":"Field","name":{"kind":"Name","value":"tenantId"}},{"kind":"Field","name":{"kind":"Name","value":"secretLast4"}},{"kind":"Field","name":{"kind":"Name","value":"secretExpiresAt"}},{"kind":"Field","name":{"kind":"Name","value":"redirectUri"}},{"kind":"Field","name":{"kind":"Name","value":"linkusSsoRedirectUris"}},{"kind":"Field","name":{"kind":"Name","value":"authorizationAccount"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"username"}},{"kind":"Field","name":{"kind":"Name","value":"name"}}]}},{"kind":"Field","name":{"kind":"Name","value":"organizationName"}},{"kind":"Field","name":{"kind":"Name","value":"directoryGroupCount"}},{"kind":"Field","name":{"kind":"Name","value":"connectedAt"}},{"kind":"Field","name":{"kind":"Name","value":"userSyncPaused"}},{"kind":"Field","name":{"kind":"Name","value":"groupSyncPaused"}},{"kind":"Field","name":{"kind":"Name","value":"warnings"}},{"kind":"Field","name":{"kind":"Name","value":"lastError"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]}}]}}]} as unknown as DocumentNode<IntegrationDetailsQuery, IntegrationDetailsQueryVariables>;
export const ConnectDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"Connect"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ConnectInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"connect"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"authorizationUrl"}},{"kind":"Field","name":{"kind":"Name","value":"integration"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"clientId"}},{"kind":"Field","name":{"kind":"Name","value":"tenantId"}},{"kind":"Field","name":{"kind":"Name","value":"secretLast4"}}]}}]}}]}}]} as unknown as DocumentNode<ConnectMutation, ConnectMutationVariables>;
export const UpdateSecretDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"UpdateSecret"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"secret"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"expiresAt"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"DateTimeISO"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"updateSecret"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"secret"},"value":{"kind":"Variable","name":{"kind":"Name","value":"secret"}}},{"kind":"Argument","name":{"kind":"Name","value":"expiresAt"},"value":{"kind":"Variable","name":{"kind":"Name","value":"expiresAt"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"secretLast4"}},{"kind":"Field","name":{"kind":"Name","value":"secretExpiresAt"}},{"kind":"Field","name":{"kind":"Name","value":"warnings"}}]}}]}}]} as unknown as DocumentNode<UpdateSecretMutation, UpdateSecretMutationVariables>;
export const TestConnectionDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"TestConnection"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"testConnection"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"appAccess"}},{"kind":"Field","name":{"kind":"Name","value":"delegatedAccess"}},{"kind":"Field","name":{"kind":"Name","value":"delegatedAs"}},{"kind":"Field","name":{"kind":"Name","value":"problems"}}]}}]}}]} as unknown as DocumentNode<TestConnectionMutation, TestConnectionMutationVariables>;
export const PauseDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"Pause"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"target"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"SyncTarget"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"deleteSynced"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Boolean"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"pause"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"target"},"value":{"kind":"Variable","name":{"kind":"Name","value":"target"}}},{"kind":"Argument","name":{"kind":"Name","value":"deleteSynced"},"value":{"kind":"Variable","name":{"kind":"Name","value":"deleteSynced"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Change"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Change"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"IntegrationChange"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"integration"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"userSyncPaused"}},{"kind":"Field","name":{"kind":"Name","value":"groupSyncPaused"}},{"kind":"Field","name":{"kind":"Name","value":"clientId"}},{"kind":"Field","name":{"kind":"Name","value":"authorizationAccount"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"username"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"extensionsDeleted"}},{"kind":"Field","name":{"kind":"Name","value":"groupsDeleted"}},{"kind":"Field","name":{"kind":"Name","value":"extensionsReleased"}},{"kind":"Field","name":{"kind":"Name","value":"groupsReleased"}}]}}]} as unknown as DocumentNode<PauseMutation, PauseMutationVariables>;
export const ResumeDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"Resume"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"target"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"SyncTarget"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"resume"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"target"},"value":{"kind":"Variable","name":{"kind":"Name","value":"target"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Change"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Change"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"IntegrationChange"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"integration"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"userSyncPaused"}},{"kind":"Field","name":{"kind":"Name","value":"groupSyncPaused"}},{"kind":"Field","name":{"kind":"Name","value":"clientId"}},{"kind":"Field","name":{"kind":"Name","value":"authorizationAccount"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"username"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"extensionsDeleted"}},{"kind":"Field","name":{"kind":"Name","value":"groupsDeleted"}},{"kind":"Field","name":{"kind":"Name","value":"extensionsReleased"}},{"kind":"Field","name":{"kind":"Name","value":"groupsReleased"}}]}}]} as unknown as DocumentNode<ResumeMutation, ResumeMutationVariables>;
export const DisableDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"Disable"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"deleteExtensions"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Boolean"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"deleteGroups"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Boolean"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"disable"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"deleteExtensions"},"value":{"kind":"Variable","name":{"kind":"Name","value":"deleteExtensions"}}},{"kind":"Argument","name":{"kind":"Name","value":"deleteGroups"},"value":{"kind":"Variable","name":{"kind":"Name","value":"deleteGroups"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Change"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Change"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"IntegrationChange"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"integration"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"userSyncPaused"}},{"kind":"Field","name":{"kind":"Name","value":"groupSyncPaused"}},{"kind":"Field","name":{"kind":"Name","value":"clientId"}},{"kind":"Field","name":{"kind":"Name","value":"authorizationAccount"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"username"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"extensionsDeleted"}},{"kind":"Field","name":{"kind":"Name","value":"groupsDeleted"}},{"kind":"Field","name":{"kind":"Name","value":"extensionsReleased"}},{"kind":"Field","name":{"kind":"Name","value":"groupsReleased"}}]}}]} as unknown as DocumentNode<DisableMutation, DisableMutationVariables>;
export const EnableDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"Enable"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"enable"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Change"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Change"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"IntegrationChange"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"integration"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"userSyncPaused"}},{"kind":"Field","name":{"kind":"Name","value":"groupSyncPaused"}},{"kind":"Field","name":{"kind":"Name","value":"clientId"}},{"kind":"Field","name":{"kind":"Name","value":"authorizationAccount"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"username"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"extensionsDeleted"}},{"kind":"Field","name":{"kind":"Name","value":"groupsDeleted"}},{"kind":"Field","name":{"kind":"Name","value":"extensionsReleased"}},{"kind":"Field","name":{"kind":"Name","value":"groupsReleased"}}]}}]} as unknown as DocumentNode<EnableMutation, EnableMutationVariables>;
export const DisconnectDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"Disconnect"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"deleteExtensions"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Boolean"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"deleteGroups"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Boolean"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"disconnect"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"deleteExtensions"},"value":{"kind":"Variable","name":{"kind":"Name","value":"deleteExtensions"}}},{"kind":"Argument","name":{"kind":"Name","value":"deleteGroups"},"value":{"kind":"Variable","name":{"kind":"Name","value":"deleteGroups"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"Change"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"Change"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"IntegrationChange"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"integration"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"userSyncPaused"}},{"kind":"Field","name":{"kind":"Name","value":"groupSyncPaused"}},{"kind":"Field","name":{"kind":"Name","value":"clientId"}},{"kind":"Field","name":{"kind":"Name","value":"authorizationAccount"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"username"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"extensionsDeleted"}},{"kind":"Field","name":{"kind":"Name","value":"groupsDeleted"}},{"kind":"Field","name":{"kind":"Name","value":"extensionsReleased"}},{"kind":"Field","name":{"kind":"Name","value":"groupsReleased"}}]}}]} as unknown as DocumentNode<DisconnectMutation, DisconnectMutationVariables>;
export const PbxDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Pbx"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"pbx"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"timeZone"}}]}}]}}]} as unknown as DocumentNode<PbxQuery, PbxQueryVariables>;
export const UpdatePbxDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"UpdatePbx"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"UpdatePbxInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"updatePbx"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"timeZone"}},{"kind":"Field","name":{"kind":"Name","value":"publicBaseUrl"}},{"kind":"Field","name":{"kind":"Name","value":"extensionCapacity"}},{"kind":"Field","name":{"kind":"Name","value":"defaultCountry"}}]}}]}}]} as unknown as DocumentNode<UpdatePbxMutation, UpdatePbxMutationVariables>;