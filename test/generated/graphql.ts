/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
export type Maybe<T> = T | null;
export type InputMaybe<T> = Maybe<T>;
/** All built-in and custom scalars, mapped to their actual values */
export type Scalars = {
  ID: { input: string; output: string; }
  String: { input: string; output: string; }
  Boolean: { input: boolean; output: boolean; }
  Int: { input: number; output: number; }
  Float: { input: number; output: number; }
  /** A date-time string at UTC, such as 2007-12-03T10:15:30Z, compliant with the `date-time` format outlined in section 5.6 of the RFC 3339 profile of the ISO 8601 standard for representation of dates and times using the Gregorian calendar.This scalar is serialized to a string in ISO 8601 format and parsed from a string in ISO 8601 format. */
  DateTimeISO: { input: string; output: string; }
};

/** The PBX's Microsoft 365 integration. */
export type Integration = {
  __typename?: 'Integration';
  id: Scalars['ID']['output'];
  status: IntegrationStatus;
};

/** Where the Microsoft 365 integration stands. */
export type IntegrationStatus =
  | 'AWAITING_CONSENT'
  | 'CONNECTED'
  | 'DISABLED'
  | 'NOT_CONNECTED';

export type Mutation = {
  __typename?: 'Mutation';
  /** Changes the caller's PBX settings. */
  updatePbx: Pbx;
};


export type MutationUpdatePbxArgs = {
  input: UpdatePbxInput;
};

/** The PBX (tenant) the caller belongs to. */
export type Pbx = {
  __typename?: 'Pbx';
  createdAt: Scalars['DateTimeISO']['output'];
  /** ISO 3166-1 alpha-2 country for reading phone numbers. */
  defaultCountry: Scalars['String']['output'];
  /** Extensions the PBX licence allows. */
  extensionCapacity: Scalars['Int']['output'];
  id: Scalars['ID']['output'];
  name: Scalars['String']['output'];
  /** Public base URL of the PBX portal. */
  publicBaseUrl?: Maybe<Scalars['String']['output']>;
  /** IANA time zone; schedules run in it. */
  timeZone: Scalars['String']['output'];
};

export type Query = {
  __typename?: 'Query';
  /** The PBX's Microsoft 365 integration. */
  integration: Integration;
  /** The caller's PBX. */
  pbx: Pbx;
};

export type UpdatePbxInput = {
  defaultCountry?: InputMaybe<Scalars['String']['input']>;
  extensionCapacity?: InputMaybe<Scalars['Int']['input']>;
  name?: InputMaybe<Scalars['String']['input']>;
  publicBaseUrl?: InputMaybe<Scalars['String']['input']>;
  timeZone?: InputMaybe<Scalars['String']['input']>;
};

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

export type PbxQueryVariables = Exact<{ [key: string]: never; }>;


export type PbxQuery = { pbx: { id: string, name: string, timeZone: string } };

export type UpdatePbxMutationVariables = Exact<{
  input: UpdatePbxInput;
}>;


export type UpdatePbxMutation = { updatePbx: { id: string, name: string, timeZone: string, publicBaseUrl: string | null, extensionCapacity: number, defaultCountry: string } };


export const IntegrationDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Integration"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"integration"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}}]}}]}}]} as unknown as DocumentNode<IntegrationQuery, IntegrationQueryVariables>;
export const PbxDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Pbx"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"pbx"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"timeZone"}}]}}]}}]} as unknown as DocumentNode<PbxQuery, PbxQueryVariables>;
export const UpdatePbxDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"UpdatePbx"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"UpdatePbxInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"updatePbx"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"timeZone"}},{"kind":"Field","name":{"kind":"Name","value":"publicBaseUrl"}},{"kind":"Field","name":{"kind":"Name","value":"extensionCapacity"}},{"kind":"Field","name":{"kind":"Name","value":"defaultCountry"}}]}}]}}]} as unknown as DocumentNode<UpdatePbxMutation, UpdatePbxMutationVariables>;