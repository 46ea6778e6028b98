/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
/** Where the Microsoft 365 integration stands. */
export type IntegrationStatus =
  | 'AWAITING_CONSENT'
  | 'CONNECTED'
  | 'DISABLED'
  | 'NOT_CONNECTED';

export type UpdatePbxInput = {
  defaultCountry?: string | null | undefined;
  extensionCapacity?: number | null | undefined;
  name?: string | null | undefined;
  publicBaseUrl?: string | null | undefined;
  timeZone?: string | null | undefined;
};

export type IntegrationQueryVariables = Exact<{ [key: string]: never; }>;


export type IntegrationQuery = { integration: { status: IntegrationStatus } };

export type IntegrationChangedSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type IntegrationChangedSubscription = { integrationChanged: { status: IntegrationStatus } };

export type PbxQueryVariables = Exact<{ [key: string]: never; }>;


export type PbxQuery = { pbx: { id: string, name: string, timeZone: string } };

export type UpdatePbxMutationVariables = Exact<{
  input: UpdatePbxInput;
}>;


export type UpdatePbxMutation = { updatePbx: { id: string, name: string, timeZone: string, publicBaseUrl: string | null, extensionCapacity: number, defaultCountry: string } };


export const IntegrationDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Integration"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"integration"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}}]}}]}}]} as unknown as DocumentNode<IntegrationQuery, IntegrationQueryVariables>;
export const IntegrationChangedDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"IntegrationChanged"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"integrationChanged"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}}]}}]}}]} as unknown as DocumentNode<IntegrationChangedSubscription, IntegrationChangedSubscriptionVariables>;
export const PbxDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Pbx"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"pbx"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"timeZone"}}]}}]}}]} as unknown as DocumentNode<PbxQuery, PbxQueryVariables>;
export const UpdatePbxDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"UpdatePbx"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"UpdatePbxInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"updatePbx"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"timeZone"}},{"kind":"Field","name":{"kind":"Name","value":"publicBaseUrl"}},{"kind":"Field","name":{"kind":"Name","value":"extensionCapacity"}},{"kind":"Field","name":{"kind":"Name","value":"defaultCountry"}}]}}]}}]} as unknown as DocumentNode<UpdatePbxMutation, UpdatePbxMutationVariables>;