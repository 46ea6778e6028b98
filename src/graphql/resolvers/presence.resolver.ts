import DataLoader from 'dataloader';
import {
  Arg,
  Authorized,
  Ctx,
  FieldResolver,
  ID,
  Mutation,
  Query,
  Resolver,
  Root,
  Subscription,
} from 'type-graphql';
import type { ExtensionPresenceData } from '../../app/ports/presence.port.js';
import type { Store } from '../../app/ports/store.port.js';
import {
  type ExtensionPresenceEvent,
  extensionPresences,
  presenceSync,
  savePresenceMapping,
  savePresenceSync,
  setExtensionPresence,
  watchExtensionPresence,
} from '../../app/presence-sync.js';
import { presenceDeps } from '../../app/services.js';
import { ApiRole } from '../../domain/access.js';
import type { ExtensionRecord } from '../../domain/extension-rules.js';
import {
  type ExtensionPresenceStatus,
  effectiveMapping,
  type PresenceMapping,
  type TeamsPresenceState,
} from '../../domain/presence.mapping.js';
import type { GraphQLContext } from '../context.js';
import { ExtensionType } from '../types/extension.type.js';
import {
  ExtensionPresenceChangeType,
  ExtensionPresenceStatusEnum,
  ExtensionPresenceType,
  PresenceMappingInput,
  type PresenceMappingType,
  PresenceSyncType,
} from '../types/presence.type.js';

const FIELDS: Array<[keyof PresenceMappingType, TeamsPresenceState]> = [
  ['available', 'AVAILABLE'],
  ['busy', 'BUSY'],
  ['doNotDisturb', 'DO_NOT_DISTURB'],
  ['beRightBack', 'BE_RIGHT_BACK'],
  ['appearAway', 'APPEAR_AWAY'],
  ['appearOffline', 'APPEAR_OFFLINE'],
];

function fromInput(i: PresenceMappingInput): Partial<PresenceMapping> {
  const out: Partial<Record<TeamsPresenceState, ExtensionPresenceStatus>> = {};
  for (const [field, state] of FIELDS) {
    const v = i[field];
    if (v) out[state] = v;
  }
  return out;
}

function toView(d: ExtensionPresenceData): ExtensionPresenceType {
  const m = effectiveMapping(d.customMapping);
  const mapping = Object.fromEntries(
    FIELDS.map(([field, state]) => [field, m[state]]),
  ) as unknown as PresenceMappingType;
  return {
    extensionId: d.extensionId,
    status: d.status,
    source: d.source,
    teamsAvailability: d.teamsAvailability,
    teamsActivity: d.teamsActivity,
    changedAt: d.changedAt,
    enabled: d.enabled,
    mapping,
  };
}

/**
 * The presence of the extensions of one request, read in one statement: a page of 500
 * extensions asks for 500 presences at once, and DataLoader gathers them into one batch.
 */
const loaders = new WeakMap<Store, DataLoader<string, ExtensionPresenceData | undefined>>();
function loaderFor(ctx: GraphQLContext) {
  let loader = loaders.get(ctx.store);
  if (!loader) {
    loader = new DataLoader(
      async (ids: readonly string[]) => {
        const found = await extensionPresences(ctx.store, ctx.caller, ids);
        return ids.map((id) => found.get(id));
      },
      { cache: false },
    );
    loaders.set(ctx.store, loader);
  }
  return loader;
}

/** P1–P3: presence sync, each extension's presence and mapping, and their changes. */
@Resolver(() => ExtensionType)
export class PresenceResolver {
  @FieldResolver(() => ExtensionPresenceType, {
    nullable: true,
    description:
      "P1–P3: the extension's presence (from Teams through its mapping, or set by hand) with its switch and mapping; null for an extension that is not synced and has none.",
  })
  async presence(
    @Root() ext: ExtensionRecord,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ExtensionPresenceType | null> {
    const row = await loaderFor(ctx).load(ext.id);
    if (row) return toView(row);
    if (ext.source !== 'SYNCED' || !ext.externalId) return null;
    return toView({
      extensionId: ext.id,
      pbxId: ext.pbxId,
      enabled: true,
      customMapping: {},
      status: null,
      source: null,
      teamsAvailability: null,
      teamsActivity: null,
      changedAt: null,
    });
  }

  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER)
  @Query(() => PresenceSyncType, { description: 'P1: presence sync of the integration (off until saved).' })
  presenceSync(@Ctx() ctx: GraphQLContext) {
    return presenceSync(presenceDeps(ctx.services, ctx.store), ctx.caller);
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => PresenceSyncType, {
    description:
      "P1: switches presence sync on or off. On: every synced user's Teams presence is read (getPresencesByUserId, 650 users a request) and drives their extension's presence; off: nobody is read. Nothing is ever written to Teams (P3).",
  })
  savePresenceSync(@Arg('enabled', () => Boolean) enabled: boolean, @Ctx() ctx: GraphQLContext) {
    return savePresenceSync(presenceDeps(ctx.services, ctx.store), ctx.caller, enabled);
  }

  @Authorized(ApiRole.ADMIN, ApiRole.LINKUS)
  @Mutation(() => [ExtensionPresenceType], {
    description:
      'P2: presence on or off and/or the mapping of one or many synced extensions (ADMIN), or of its own extension (a Linkus session). A mapping replaces the one before (states left out follow the default) and applies at once to what Teams last said; a status set by hand stays.',
  })
  async savePresenceMapping(
    @Arg('extensionIds', () => [ID]) extensionIds: string[],
    @Arg('enabled', () => Boolean, { nullable: true }) enabled: boolean | null,
    @Arg('mapping', () => PresenceMappingInput, { nullable: true }) mapping: PresenceMappingInput | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    const rows = await savePresenceMapping(presenceDeps(ctx.services, ctx.store), ctx.caller, extensionIds, {
      enabled: enabled ?? undefined,
      mapping: mapping ? fromInput(mapping) : undefined,
    });
    return rows.map(toView);
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => ExtensionPresenceType, {
    description:
      "P3: the PBX sets an extension's presence by hand (source MANUAL). It stays until the user's Teams presence changes again, and is never sent to Teams.",
  })
  async setExtensionPresence(
    @Arg('extensionId', () => ID) extensionId: string,
    @Arg('status', () => ExtensionPresenceStatusEnum) status: ExtensionPresenceStatus,
    @Ctx() ctx: GraphQLContext,
  ) {
    return toView(
      await setExtensionPresence(presenceDeps(ctx.services, ctx.store), ctx.caller, extensionId, status),
    );
  }

  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER, ApiRole.LINKUS)
  @Subscription(() => ExtensionPresenceChangeType, {
    description:
      "P1–P3: every change of an extension presence in the caller's PBX from now on (or of the extensions named): Teams through the mapping, a new mapping, or a status set by hand.",
    subscribe: ({ args, context }) => {
      const ctx = context as GraphQLContext;
      return watchExtensionPresence(
        ctx.services.events,
        ctx.caller.pbxId,
        (args.extensionIds as string[]) ?? null,
      );
    },
  })
  extensionPresenceChanged(
    @Root() e: ExtensionPresenceEvent,
    @Arg('extensionIds', () => [ID], { nullable: true }) _extensionIds?: string[] | null,
  ): ExtensionPresenceChangeType {
    const p = e.presence;
    return {
      extensionId: e.extensionId,
      status: p.status,
      source: p.source,
      teamsAvailability: p.teamsAvailability,
      teamsActivity: p.teamsActivity,
      // Events cross Redis as JSON: the time comes back as a string.
      changedAt: p.changedAt ? new Date(p.changedAt) : null,
    };
  }
}
