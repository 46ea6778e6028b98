import {
  Arg,
  Authorized,
  Ctx,
  FieldResolver,
  Float,
  ID,
  Int,
  Mutation,
  Query,
  Resolver,
  Root,
} from 'type-graphql';
import { pageRequest } from '../../app/extensions.js';
import type { SyncScope } from '../../app/ports/sync.port.js';
import { syncDeps, syncRulesDeps } from '../../app/services.js';
import { mailboxItemRow } from '../../app/sync/contact-sync.kind.js';
import {
  approveHeld,
  getSyncRun,
  getSyncSettings,
  listSyncRunItems,
  listSyncRuns,
  previewSync,
  saveDeletionGuard,
  saveGroupSyncRule,
  saveUserSyncRule,
  searchDirectoryGroups,
  syncNow,
} from '../../app/sync-rules.js';
import { ApiRole } from '../../domain/access.js';
import type { GraphQLContext } from '../context.js';
import {
  previewGroupItem,
  previewUserItem,
  toCounts,
  toGroupRule,
  toItemView,
  toRunView,
  toSettingsView,
  toUserRule,
} from '../sync.mapping.js';
import { toConnection } from '../types/page-info.type.js';
import {
  DirectoryGroupType,
  GroupSyncRuleInput,
  SaveSyncRulePayload,
  SyncItemAction,
  SyncPreviewType,
  SyncRunConnection,
  SyncRunItemConnection,
  SyncRunType,
  SyncScopeEnum,
  SyncSettingsType,
  UserSyncRuleInput,
} from '../types/sync.type.js';

const rules = (ctx: GraphQLContext) => syncRulesDeps(ctx.services, ctx.store);

@Resolver(() => SyncRunType)
export class SyncResolver {
  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER)
  @Query(() => SyncSettingsType, { description: 'The sync rules and the deletion guard.' })
  async syncSettings(@Ctx() ctx: GraphQLContext) {
    return toSettingsView(await getSyncSettings(ctx, ctx.caller));
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => SaveSyncRulePayload, {
    description: 'U1–U6: saves the user sync rule. The first save runs the initial sync at once (U7).',
  })
  async saveUserSyncRule(
    @Arg('input', () => UserSyncRuleInput) input: UserSyncRuleInput,
    @Ctx() ctx: GraphQLContext,
  ) {
    const { settings, initialRun } = await saveUserSyncRule(rules(ctx), ctx.caller, toUserRule(input));
    return { settings: toSettingsView(settings), initialRun: initialRun && toRunView(initialRun) };
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => SaveSyncRulePayload, {
    description: 'G1–G2: saves the group sync rule. The first save runs the initial group sync at once.',
  })
  async saveGroupSyncRule(
    @Arg('input', () => GroupSyncRuleInput) input: GroupSyncRuleInput,
    @Ctx() ctx: GraphQLContext,
  ) {
    const { settings, initialRun } = await saveGroupSyncRule(rules(ctx), ctx.caller, toGroupRule(input));
    return { settings: toSettingsView(settings), initialRun: initialRun && toRunView(initialRun) };
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => SyncSettingsType, { description: 'Sets the deletion guard thresholds.' })
  async saveDeletionGuard(
    @Arg('maxDeletes', () => Int) maxDeletes: number,
    @Arg('maxRatio', () => Float) maxRatio: number,
    @Arg('windowHours', () => Int, {
      nullable: true,
      description:
        'Count the deletes of every sync over this many hours (default 24; 0: one run alone); unset: unchanged.',
    })
    windowHours: number | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return toSettingsView(
      await saveDeletionGuard(rules(ctx), ctx.caller, maxDeletes, maxRatio, windowHours ?? null),
    );
  }

  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER)
  @Query(() => [DirectoryGroupType], { description: 'G1: the group picker, searchable.' })
  directoryGroups(
    @Arg('search', () => String, { defaultValue: '' }) search: string,
    @Arg('first', () => Int, { defaultValue: 200 }) first: number,
    @Ctx() ctx: GraphQLContext,
  ) {
    return searchDirectoryGroups(rules(ctx), ctx.caller, search, first);
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => SyncRunType, {
    description: 'T3 "Update Now": a sync with the current rules, queued at once.',
  })
  async syncNow(
    @Arg('scopes', () => [SyncScopeEnum], { nullable: true }) scopes: SyncScopeEnum[] | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return toRunView(await syncNow(rules(ctx), ctx.caller, scopes as SyncScope[] | null));
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => SyncRunType, { description: 'Applies the deletions the deletion guard held in a run.' })
  async approveHeldDeletes(@Arg('runId', () => ID) runId: string, @Ctx() ctx: GraphQLContext) {
    const run = await approveHeld(
      { ...rules(ctx), linkusSessions: ctx.services.linkusSessions },
      ctx.caller,
      runId,
    );
    return run && toRunView(run);
  }

  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER)
  @Query(() => SyncRunType, { nullable: true })
  async syncRun(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    const run = await getSyncRun(ctx, ctx.caller, id);
    return run && toRunView(run);
  }

  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER)
  @Query(() => SyncRunConnection, { description: 'Sync runs, newest first.' })
  async syncRuns(
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    const page = await listSyncRuns(ctx, ctx.caller, pageRequest({ first, after }));
    return toConnection({
      ...page,
      edges: page.edges.map((e) => ({ cursor: e.cursor, node: toRunView(e.node) })),
    });
  }

  @FieldResolver(() => SyncRunItemConnection, {
    description: 'Every object of the run, in plan order; filter by action.',
  })
  async items(
    @Root() run: SyncRunType,
    @Arg('action', () => SyncItemAction, { nullable: true }) action: SyncItemAction | null,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    const page = await listSyncRunItems(ctx, run.id, action, pageRequest({ first, after }));
    return toConnection({
      ...page,
      edges: page.edges.map((e) => ({ cursor: e.cursor, node: toItemView(e.node) })),
    });
  }

  @Authorized(ApiRole.ADMIN)
  @Query(() => SyncPreviewType, { description: 'What a sync would do now, without applying anything.' })
  async previewSync(
    @Arg('scopes', () => [SyncScopeEnum], { nullable: true }) scopes: SyncScopeEnum[] | null,
    @Arg('first', () => Int, { defaultValue: 100 }) first: number,
    @Arg('userRule', () => UserSyncRuleInput, {
      nullable: true,
      description: 'A user rule to preview in place of the saved one (checked as saving checks it).',
    })
    userRule: UserSyncRuleInput | null,
    @Arg('groupRule', () => GroupSyncRuleInput, {
      nullable: true,
      description: 'A group rule to preview in place of the saved one (checked as saving checks it).',
    })
    groupRule: GroupSyncRuleInput | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    const p = await previewSync(syncDeps(ctx.services, ctx.store), ctx.caller, scopes as SyncScope[] | null, {
      ...(userRule ? { userRule: toUserRule(userRule) } : {}),
      ...(groupRule ? { groupRule: toGroupRule(groupRule) } : {}),
    });
    return {
      mode: p.mode,
      notes: p.notes,
      users: p.userPlan && {
        counts: toCounts(p.userPlan.summary),
        held: p.userPlan.held,
        items: p.userPlan.items.slice(0, first).map(previewUserItem),
      },
      groups: p.groupPlan && {
        counts: toCounts(p.groupPlan.summary),
        held: p.groupPlan.held,
        items: p.groupPlan.items.slice(0, first).map(previewGroupItem),
      },
      contacts: p.contactPlan && {
        counts: toCounts(p.contactPlan.summary),
        held: false,
        items: p.contactPlan.items.slice(0, first).map((item, seq) => ({
          id: `preview-${seq}`,
          ...mailboxItemRow(item, seq, 'REPORTED'),
          userPrincipalName: item.address,
        })),
      },
    };
  }
}
