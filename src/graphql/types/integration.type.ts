import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { IntegrationStatus } from '../../domain/integration.js';

registerEnumType(IntegrationStatus, {
  name: 'IntegrationStatus',
  description: 'Where the Microsoft 365 integration stands.',
});

@ObjectType('AuthorizationAccount', {
  description: 'The Microsoft account that signed in and consented for the organisation.',
})
export class AuthorizationAccountType {
  @Field(() => String)
  username!: string;

  @Field(() => String, { nullable: true })
  name!: string | null;
}

@ObjectType('IntegrationError', { description: 'The last connect failure, with its code.' })
export class IntegrationErrorType {
  @Field(() => String)
  code!: string;

  @Field(() => String)
  message!: string;

  @Field(() => Date)
  at!: Date;
}

export enum HealthStatusEnum {
  OK = 'OK',
  FAILING = 'FAILING',
  UNKNOWN = 'UNKNOWN',
}
registerEnumType(HealthStatusEnum, {
  name: 'HealthStatus',
  description:
    'OK: the last check of the access to Microsoft found nothing wrong. FAILING: it found something (codes). UNKNOWN: not connected, or no check yet.',
});

export enum PermissionTypeEnum {
  APPLICATION = 'APPLICATION',
  DELEGATED = 'DELEGATED',
}
registerEnumType(PermissionTypeEnum, {
  name: 'PermissionType',
  description:
    'APPLICATION: app-only, granted by admin consent (roles). DELEGATED: for the signed-in account (scp).',
});

@ObjectType('IntegrationHealth', {
  description:
    "What the last live check of the integration's access to Microsoft found: a sync run checks the app's access before it reads, the daily check and testConnection check the authorization account's too. The status stays CONNECTED while health is FAILING.",
})
export class IntegrationHealthType {
  @Field(() => HealthStatusEnum)
  status!: HealthStatusEnum;

  @Field(() => [String], {
    description:
      'SECRET_REFUSED (Microsoft refuses the stored client secret: updateSecret), APP_ACCESS_LOST (the app registration is gone), PERMISSIONS_MISSING (application permissions without admin consent: reconsent), DELEGATED_ACCESS_LOST (the authorization account must sign in again: reconsent).',
  })
  codes!: string[];

  @Field(() => [String], {
    description: 'Required permissions found missing, e.g. "Group.Read.All (application)".',
  })
  missingPermissions!: string[];

  @Field(() => String, { nullable: true, description: 'What is wrong and what to do, one line per code.' })
  message!: string | null;

  @Field(() => Date, { nullable: true, description: 'When the last check ran.' })
  checkedAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'The last time a check found nothing wrong.' })
  lastHealthyAt!: Date | null;
}

@ObjectType('Integration', {
  description: "The PBX's Microsoft 365 integration. The client secret is never shown.",
})
export class IntegrationType {
  @Field(() => ID)
  id!: string;

  @Field(() => IntegrationStatus)
  status!: IntegrationStatus;

  @Field(() => String, { nullable: true, description: 'Application (client) ID.' })
  clientId!: string | null;

  @Field(() => String, { nullable: true, description: 'Directory (tenant) ID.' })
  tenantId!: string | null;

  @Field(() => String, { nullable: true, description: 'The last 4 characters of the client secret.' })
  secretLast4!: string | null;

  @Field(() => Date, { nullable: true })
  secretExpiresAt!: Date | null;

  @Field(() => String, {
    nullable: true,
    description: "The Redirect URI to register in Entra ID (L1), built from the PBX's public base URL.",
  })
  redirectUri!: string | null;

  @Field(() => [String], { description: 'The Linkus Web Client SSO redirect URI(s) to register (L1).' })
  linkusSsoRedirectUris!: string[];

  @Field(() => AuthorizationAccountType, { nullable: true })
  authorizationAccount!: AuthorizationAccountType | null;

  @Field(() => String, { nullable: true })
  organizationName!: string | null;

  @Field(() => Int, { nullable: true, description: 'Groups found by the data initialization.' })
  directoryGroupCount!: number | null;

  @Field(() => Date, { nullable: true })
  connectedAt!: Date | null;

  @Field(() => Boolean)
  userSyncPaused!: boolean;

  @Field(() => Boolean)
  groupSyncPaused!: boolean;

  @Field(() => Boolean, { description: 'C1–C4: contact sync paused.' })
  contactSyncPaused!: boolean;

  @Field(() => [String], { description: 'SECRET_EXPIRES_SOON (30 days ahead) or SECRET_EXPIRED.' })
  warnings!: string[];

  @Field(() => IntegrationErrorType, { nullable: true })
  lastError!: IntegrationErrorType | null;

  @Field(() => IntegrationHealthType)
  health!: IntegrationHealthType;
}

@InputType('ConnectInput')
export class ConnectInput {
  @Field(() => String, { description: 'Application (client) ID (a GUID).' })
  clientId!: string;

  @Field(() => String, { description: 'Directory (tenant) ID (a GUID).' })
  tenantId!: string;

  @Field(() => String, { description: 'The client secret value.' })
  clientSecret!: string;

  @Field(() => Date, { nullable: true, description: 'When the client secret expires (for warnings).' })
  secretExpiresAt?: Date | null;

  @Field(() => Boolean, {
    nullable: true,
    defaultValue: true,
    description:
      "true (default): when the app's application permissions have no admin consent yet, the sign-in journey goes on to Microsoft's admin consent. false: they were granted in Entra ID beforehand; missing ones fail at once with MISSING_PERMISSIONS (extensions.missing names them).",
  })
  adminConsent?: boolean | null;
}

@ObjectType('PermissionCheck', {
  description: 'One Microsoft Graph permission the gateway needs, as found live.',
})
export class PermissionCheckType {
  @Field(() => String)
  name!: string;

  @Field(() => PermissionTypeEnum)
  type!: PermissionTypeEnum;

  @Field(() => Boolean)
  present!: boolean;

  @Field(() => String, { description: 'What the gateway does with it.' })
  usedFor!: string;

  @Field(() => String, { description: 'Which feature stops without it.' })
  stopsWithout!: string;
}

@ObjectType('ConnectPayload')
export class ConnectPayload {
  @Field(() => String, {
    description:
      'Send the admin here to sign in and consent for the organisation (the journey continues at admin consent when needed).',
  })
  authorizationUrl!: string;

  @Field(() => IntegrationType)
  integration!: IntegrationType;
}

@ObjectType('ConnectionCheck', { description: 'A live check of both kinds of access to Microsoft.' })
export class ConnectionCheckType {
  @Field(() => Boolean, { description: 'The app registration gets an app token (client credentials).' })
  appAccess!: boolean;

  @Field(() => Boolean, { description: "The authorization account's sign-in still works (refresh token)." })
  delegatedAccess!: boolean;

  @Field(() => String, { nullable: true })
  delegatedAs!: string | null;

  @Field(() => [String])
  problems!: string[];

  @Field(() => [PermissionCheckType], {
    description: 'Every permission the gateway needs, present or missing.',
  })
  permissions!: PermissionCheckType[];

  @Field(() => IntegrationHealthType, { description: 'The health this check recorded.' })
  health!: IntegrationHealthType;
}

export enum SyncTargetEnum {
  USERS = 'USERS',
  GROUPS = 'GROUPS',
  CONTACTS = 'CONTACTS',
}
registerEnumType(SyncTargetEnum, {
  name: 'SyncTarget',
  description: 'User sync (extensions), group sync (extension groups) or contact sync (C1–C4).',
});

@ObjectType('IntegrationChange', {
  description: 'A lifecycle step and what it did to the synced extensions and groups.',
})
export class IntegrationChangeType {
  @Field(() => IntegrationType)
  integration!: IntegrationType;

  @Field(() => Int)
  extensionsDeleted!: number;

  @Field(() => Int)
  groupsDeleted!: number;

  @Field(() => Int, { description: 'Kept, and now fully PBX-managed (disconnect).' })
  extensionsReleased!: number;

  @Field(() => Int, { description: 'Kept, and now fully PBX-managed (disconnect).' })
  groupsReleased!: number;
}
