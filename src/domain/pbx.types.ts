/**
 * The PBX side of a sync: what the gateway keeps as the system of record (src/store), or
 * what a real P-Series reports over its Open API.
 */

/** SYNCED: created or associated by the integration and still managed by it (locked, labelled, U9/G4). */
export type SyncSource = 'SYNCED' | 'MANUAL';

export interface PbxExtension {
  readonly id: string;
  readonly number: string;
  readonly firstName: string;
  readonly lastName: string;
  readonly email: string | null;
  readonly mobileNumber: string | null;
  readonly jobTitle: string | null;
  readonly source: SyncSource;
  /** The Entra user object id when synced (a released extension may keep its old one; it is ignored). */
  readonly externalId: string | null;
}

export interface PbxExtensionGroup {
  readonly id: string;
  readonly name: string;
  readonly source: SyncSource;
  /** The Entra group object id when synced. */
  readonly externalId: string | null;
  readonly memberExtensionIds: readonly string[];
}

/** A P-Series holds at most this many extension groups (G3). */
export const MAX_EXTENSION_GROUPS = 63;

export interface PbxCapacity {
  /** How many extensions the PBX may hold in all, synced or not (U10). */
  readonly maxExtensions: number;
  /** How many extension groups it may hold in all (G3); default 63. */
  readonly maxExtensionGroups?: number;
}
