import { Arg, Authorized, Ctx, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import {
  connect,
  getIntegrationView,
  type IntegrationView,
  reconsent,
  updateSecret,
} from '../../app/integration.js';
import { checkConnection } from '../../app/integration-health.js';
import {
  disableIntegration,
  disconnectIntegration,
  enableIntegration,
  pauseSync,
  resumeSync,
} from '../../app/integration-lifecycle.js';
import { integrationDeps } from '../../app/services.js';
import { Topic } from '../../app/topics.js';
import { ApiRole } from '../../domain/access.js';
import type { GraphQLContext } from '../context.js';
import {
  ConnectInput,
  ConnectionCheckType,
  ConnectPayload,
  IntegrationChangeType,
  IntegrationType,
  SyncTargetEnum,
} from '../types/integration.type.js';

const deps = (ctx: GraphQLContext) => integrationDeps(ctx.services, ctx.store);

@Resolver(() => IntegrationType)
export class IntegrationResolver {
  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER)
  @Query(() => IntegrationType, { description: "The PBX's Microsoft 365 integration." })
  integration(@Ctx() ctx: GraphQLContext) {
    return getIntegrationView(deps(ctx), ctx.caller);
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => ConnectPayload, {
    description:
      'L2: checks the app registration and its secret, stores them, and returns the URL where the admin signs in and consents for the organisation.',
  })
  connect(@Arg('input', () => ConnectInput) input: ConnectInput, @Ctx() ctx: GraphQLContext) {
    return connect(deps(ctx), ctx.caller, input);
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => IntegrationType, {
    description:
      'L3: replaces the client secret once Microsoft accepts the new one; a refused one changes nothing.',
  })
  updateSecret(
    @Arg('secret', () => String) secret: string,
    @Arg('expiresAt', () => Date, { nullable: true }) expiresAt: Date | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return updateSecret(deps(ctx), ctx.caller, secret, expiresAt ?? null);
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => ConnectPayload, {
    description:
      'Renews the consent without disconnecting: a fresh authorizationUrl where an administrator signs in again (a new authorization account and refresh token) and, when application permissions are missing, grants admin consent in the same journey. Until then the integration works as before.',
  })
  reconsent(@Ctx() ctx: GraphQLContext) {
    return reconsent(deps(ctx), ctx.caller);
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => ConnectionCheckType, {
    description:
      'Checks, live, that the app and the authorization account still have access, reports every required permission as present or missing, and records the health.',
  })
  testConnection(@Ctx() ctx: GraphQLContext) {
    return checkConnection(deps(ctx), ctx.caller);
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => IntegrationChangeType, {
    description:
      'L4/L5: pauses user or group sync; deleteSynced deletes the synced extensions (groups), else they stay, locked.',
  })
  pause(
    @Arg('target', () => SyncTargetEnum) target: SyncTargetEnum,
    @Arg('deleteSynced', () => Boolean) deleteSynced: boolean,
    @Ctx() ctx: GraphQLContext,
  ) {
    return pauseSync(deps(ctx), ctx.caller, target, deleteSynced);
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => IntegrationChangeType, { description: 'L8: resumes a paused user or group sync.' })
  resume(@Arg('target', () => SyncTargetEnum) target: SyncTargetEnum, @Ctx() ctx: GraphQLContext) {
    return resumeSync(deps(ctx), ctx.caller, target);
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => IntegrationChangeType, {
    description: 'L6: disables the integration (settings kept, not editable; SSO refused).',
  })
  disable(
    @Arg('deleteExtensions', () => Boolean) deleteExtensions: boolean,
    @Arg('deleteGroups', () => Boolean) deleteGroups: boolean,
    @Ctx() ctx: GraphQLContext,
  ) {
    return disableIntegration(deps(ctx), ctx.caller, deleteExtensions, deleteGroups);
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => IntegrationChangeType, { description: 'L8: enables a disabled integration.' })
  enable(@Ctx() ctx: GraphQLContext) {
    return enableIntegration(deps(ctx), ctx.caller);
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => IntegrationChangeType, {
    description: 'L7: removes the integration; kept extensions and groups become fully PBX-managed.',
  })
  disconnect(
    @Arg('deleteExtensions', () => Boolean) deleteExtensions: boolean,
    @Arg('deleteGroups', () => Boolean) deleteGroups: boolean,
    @Ctx() ctx: GraphQLContext,
  ) {
    return disconnectIntegration(deps(ctx), ctx.caller, deleteExtensions, deleteGroups);
  }

  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER)
  @Subscription(() => IntegrationType, {
    description: "The integration, each time it changes (the caller's PBX only).",
    topics: ({ context }) => Topic.integrationChanged((context as GraphQLContext).caller.pbxId),
  })
  integrationChanged(@Root() integration: IntegrationView): IntegrationView {
    return integration;
  }
}
