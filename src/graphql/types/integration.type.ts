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

  @Field(() => [String], { description: 'SECRET_EXPIRES_SOON (30 days ahead) or SECRET_EXPIRED.' })
  warnings!: string[];

  @Field(() => IntegrationErrorType, { nullable: true })
  lastError!: IntegrationErrorType | null;
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
}

@ObjectType('ConnectPayload')
export class ConnectPayload {
  @Field(() => String, { description: 'Send the admin here to sign in and consent for the organisation.' })
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
}

export enum SyncTargetEnum {
  USERS = 'USERS',
  GROUPS = 'GROUPS',
}
registerEnumType(SyncTargetEnum, {
  name: 'SyncTarget',
  description: 'User sync (extensions) or group sync (extension groups).',
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
