import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { listFleetAuditLog } from '../../app/audit.js';
import { createPbxKey, deletePbx, listKeys, listPbxs, revokeKey } from '../../app/fleet.js';
import { createPbx } from '../../app/pbx.js';
import { fleetDeps } from '../../app/services.js';
import type { PbxSettings } from '../../domain/tenant.js';
import type { GraphQLContext } from '../context.js';
import { FleetOnly } from '../fleet.js';
import { AuditEntryConnection } from '../types/audit.type.js';
import {
  ApiKeyConnection,
  ApiKeyType,
  CreateApiKeyInput,
  CreatedApiKeyType,
  CreatePbxInput,
  DeletedPbxType,
  PbxConnection,
} from '../types/fleet.type.js';
import { toConnection } from '../types/page-info.type.js';
import { PbxType } from '../types/pbx.type.js';

const definedOnly = <T extends object>(input: T): Partial<T> =>
  Object.fromEntries(Object.entries({ ...input }).filter(([, v]) => v !== undefined)) as Partial<T>;

/**
 * The fleet (issue 11 item 5), for OPERATOR keys only. A PBX's own API (integration, sync,
 * extensions, updatePbx ...) is not here: an operator calls it naming the PBX (`x-pbx-id`).
 */
@Resolver()
export class FleetResolver {
  @FleetOnly()
  @Query(() => PbxConnection, { description: 'Fleet: every PBX, in the order they were created.' })
  async pbxs(
    @Arg('first', () => Int, { nullable: true, defaultValue: 50, description: '1 to 500.' }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('search', () => String, { nullable: true, description: 'A part of the name (any case).' })
    search: string | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return toConnection(await listPbxs(ctx.store, { first, after, search }));
  }

  @FleetOnly()
  @Query(() => ApiKeyConnection, {
    description: "Fleet: one PBX's keys, oldest first (never the keys themselves).",
  })
  async apiKeys(
    @Arg('pbxId', () => ID) pbxId: string,
    @Arg('includeRevoked', () => Boolean, { nullable: true, defaultValue: false }) includeRevoked: boolean,
    @Arg('first', () => Int, { nullable: true, defaultValue: 50, description: '1 to 500.' }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return toConnection(await listKeys(ctx.store, { pbxId }, { includeRevoked, first, after }));
  }

  @FleetOnly()
  @Query(() => ApiKeyConnection, { description: 'Fleet: the OPERATOR keys, oldest first.' })
  async operatorKeys(
    @Arg('includeRevoked', () => Boolean, { nullable: true, defaultValue: false }) includeRevoked: boolean,
    @Arg('first', () => Int, { nullable: true, defaultValue: 50, description: '1 to 500.' }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return toConnection(await listKeys(ctx.store, { operators: true }, { includeRevoked, first, after }));
  }

  @FleetOnly()
  @Query(() => AuditEntryConnection, {
    description:
      "Fleet: the audit log of fleet operations (createPbx, deletePbx, keys), newest first. What an operator does inside a PBX is in that PBX's auditLog.",
  })
  async fleetAuditLog(
    @Arg('first', () => Int, { nullable: true, defaultValue: 50, description: '1 to 500.' }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return toConnection(await listFleetAuditLog(ctx.store, { first, after }));
  }

  @FleetOnly()
  @Mutation(() => PbxType, {
    description:
      'Fleet: a new PBX. Its settings change with updatePbx, naming it (x-pbx-id); its keys with createApiKey.',
  })
  createPbx(@Arg('input', () => CreatePbxInput) input: CreatePbxInput, @Ctx() ctx: GraphQLContext) {
    return createPbx(ctx.store, definedOnly(input) as Partial<PbxSettings>);
  }

  @FleetOnly()
  @Mutation(() => DeletedPbxType, {
    description:
      'Fleet: deletes a PBX and every row of it (keys, extensions, groups, runs, integration, audit log) in one transaction; its keys stop working and their open sockets close. Refused with SYNC_RUNNING while a sync of the PBX runs.',
  })
  async deletePbx(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    const deleted = await deletePbx(fleetDeps(ctx.services, ctx.store), id);
    return {
      id: deleted.pbx.id,
      name: deleted.pbx.name,
      keysRevoked: deleted.keysRevoked,
      rowsDeleted: deleted.rowsDeleted,
    };
  }

  @FleetOnly()
  @Mutation(() => CreatedApiKeyType, { description: 'Fleet: a new key of one PBX, shown this once.' })
  async createApiKey(
    @Arg('input', () => CreateApiKeyInput) input: CreateApiKeyInput,
    @Ctx() ctx: GraphQLContext,
  ) {
    const created = await createPbxKey(ctx.store, {
      pbxId: input.pbxId,
      role: input.role,
      label: input.label ?? null,
      extensionNumber: input.extensionNumber ?? null,
    });
    return { key: created.key, apiKey: created.record };
  }

  @FleetOnly()
  @Mutation(() => ApiKeyType, {
    description:
      'Fleet: revokes a key (of a PBX, or an operator key). Its next HTTP request answers 401, its dashboard session ends, and its open graphql-ws sockets close with 4403 within 5 s on every gateway process.',
  })
  revokeApiKey(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return revokeKey(fleetDeps(ctx.services, ctx.store), id);
  }
}
