import { randomUUID } from 'node:crypto';
import { Entity, OneToOne, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { IntegrationStatus } from '../../domain/integration.js';
import { updatedNow } from '../clock.js';
import { Pbx } from './pbx.entity.js';

/**
 * The PBX's Microsoft 365 integration (one per PBX). The client secret and msal-node's
 * token cache are stored sealed (AES-256-GCM, src/app/secret-box.ts), never in clear.
 */
@Entity({ tableName: 'integration' })
export class Integration {
  [OptionalProps]?:
    | 'status'
    | 'createdAt'
    | 'updatedAt'
    | 'userSyncPaused'
    | 'groupSyncPaused'
    | 'contactSyncPaused'
    | 'clientId'
    | 'tenantId'
    | 'secretSealed'
    | 'secretLast4'
    | 'secretExpiresAt'
    | 'tokenCacheSealed'
    | 'accountUsername'
    | 'accountName'
    | 'accountOid'
    | 'accountHomeId'
    | 'organizationId'
    | 'organizationName'
    | 'directoryGroupCount'
    | 'connectedAt'
    | 'lastErrorCode'
    | 'lastErrorMessage'
    | 'lastErrorAt'
    | 'warnings'
    | 'warningsCheckedAt'
    | 'connectAttempt'
    | 'linkusSsoEnabled'
    | 'linkusSsoRedirectUris';

  @PrimaryKey({ type: 'string', length: 36 })
  id: string = randomUUID();

  @OneToOne(() => Pbx, { owner: true, unique: true, deleteRule: 'cascade' })
  pbx!: Pbx;

  // Kept as text (no CHECK): MikroORM cannot read SQLite CHECK constraints back, and the
  // domain validates the value anyway.
  @Property({ type: 'string', length: 32 })
  status: IntegrationStatus = IntegrationStatus.NOT_CONNECTED;

  @Property({ type: 'boolean' })
  userSyncPaused: boolean = false;

  @Property({ type: 'boolean' })
  groupSyncPaused: boolean = false;

  /** C1–C4: contact sync paused (its rule is kept, not editable). */
  @Property({ type: 'boolean', default: false })
  contactSyncPaused: boolean = false;

  /** Application (client) ID of the app registration. */
  @Property({ type: 'string', length: 36, nullable: true })
  clientId: string | null = null;

  /** Directory (tenant) ID. */
  @Property({ type: 'string', length: 36, nullable: true })
  tenantId: string | null = null;

  @Property({ type: 'text', nullable: true, lazy: true })
  secretSealed: string | null = null;

  @Property({ type: 'string', length: 4, nullable: true })
  secretLast4: string | null = null;

  @Property({ type: Date, nullable: true })
  secretExpiresAt: Date | null = null;

  /** msal-node's serialized token cache (refresh tokens), sealed. */
  @Property({ type: 'text', nullable: true, lazy: true })
  tokenCacheSealed: string | null = null;

  /** The authorization account: who signed in and consented for the organisation (L2). */
  @Property({ type: 'string', length: 320, nullable: true })
  accountUsername: string | null = null;

  @Property({ type: 'string', length: 256, nullable: true })
  accountName: string | null = null;

  @Property({ type: 'string', length: 36, nullable: true })
  accountOid: string | null = null;

  @Property({ type: 'string', length: 128, nullable: true })
  accountHomeId: string | null = null;

  @Property({ type: 'string', length: 36, nullable: true })
  organizationId: string | null = null;

  @Property({ type: 'string', length: 256, nullable: true })
  organizationName: string | null = null;

  @Property({ type: 'integer', nullable: true })
  directoryGroupCount: number | null = null;

  @Property({ type: Date, nullable: true })
  connectedAt: Date | null = null;

  /** The last connect failure, for the portal to show (e.g. CONSENT_DENIED after the browser came back). */
  @Property({ type: 'string', length: 64, nullable: true })
  lastErrorCode: string | null = null;

  @Property({ type: 'string', length: 1000, nullable: true })
  lastErrorMessage: string | null = null;

  @Property({ type: Date, nullable: true })
  lastErrorAt: Date | null = null;

  /** Warnings recorded by the daily check (comma-separated codes). */
  @Property({ type: 'string', length: 200, nullable: true })
  warnings: string | null = null;

  @Property({ type: Date, nullable: true })
  warningsCheckedAt: Date | null = null;

  /** The connect attempt waiting for consent; a callback of an older attempt is refused. */
  @Property({ type: 'string', length: 32, nullable: true })
  connectAttempt: string | null = null;

  /** S1: Linkus users may sign in with their Microsoft account. */
  @Property({ type: 'boolean', default: false })
  linkusSsoEnabled: boolean = false;

  /** S1: the redirect URIs of the Linkus clients (web, mobile apps), a JSON array of strings. */
  @Property({ type: 'json', nullable: true })
  linkusSsoRedirectUris: string[] | null = null;

  @Property({ type: Date })
  createdAt: Date = new Date();

  @Property({ type: Date, onUpdate: updatedNow })
  updatedAt: Date = new Date();
}
