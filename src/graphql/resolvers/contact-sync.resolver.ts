import { Arg, Authorized, Ctx, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { SyncSettingsData } from '../../app/ports/sync.port.js';
import { syncRulesDeps } from '../../app/services.js';
import { getSyncSettings, saveContactSyncRule, searchSharedMailboxes } from '../../app/sync-rules.js';
import { ApiRole } from '../../domain/access.js';
import type { ContactSyncRule } from '../../domain/sync-rule.types.js';
import type { GraphQLContext } from '../context.js';
import { toRunView } from '../sync.mapping.js';
import {
  ContactSyncRuleInput,
  ContactSyncRuleType,
  PersonalContactsRangeKind,
  SaveContactSyncRulePayload,
  SharedMailboxRangeKind,
  SharedMailboxType,
} from '../types/contact-sync.type.js';

function toRule(i: ContactSyncRuleInput): ContactSyncRule {
  return {
    personal: {
      enabled: i.personalEnabled,
      range:
        i.personalRange === PersonalContactsRangeKind.BY_GROUPS
          ? { type: 'BY_GROUPS', groupIds: [...new Set(i.personalGroupIds ?? [])] }
          : { type: 'ALL' },
    },
    shared: {
      enabled: i.sharedEnabled,
      range:
        i.sharedRange === SharedMailboxRangeKind.SPECIFIC
          ? { type: 'SPECIFIC', mailboxIds: [...new Set(i.sharedMailboxIds ?? [])] }
          : { type: 'ALL' },
      phonebookName: i.phonebookName,
    },
  };
}

function fromRule(s: SyncSettingsData): ContactSyncRuleType | null {
  const r = s.contactRule;
  if (!r) return null;
  return {
    personalEnabled: r.personal.enabled,
    personalRange: r.personal.range.type as PersonalContactsRangeKind,
    personalGroupIds: r.personal.range.type === 'BY_GROUPS' ? [...r.personal.range.groupIds] : [],
    sharedEnabled: r.shared.enabled,
    sharedRange: r.shared.range.type as SharedMailboxRangeKind,
    sharedMailboxIds: r.shared.range.type === 'SPECIFIC' ? [...r.shared.range.mailboxIds] : [],
    phonebookName: r.shared.phonebookName,
    savedAt: s.contactRuleSavedAt,
  };
}

/** C1–C4: the contact sync rule and the shared mailbox picker. */
@Resolver()
export class ContactSyncResolver {
  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER)
  @Query(() => ContactSyncRuleType, {
    nullable: true,
    description: 'C1, C3: the contact sync rule (null until saved).',
  })
  async contactSyncRule(@Ctx() ctx: GraphQLContext) {
    return fromRule(await getSyncSettings(ctx, ctx.caller));
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => SaveContactSyncRulePayload, {
    description:
      'C1, C3: saves the contact sync rule (INVALID_INPUT names each bad field; INVALID_STATE while contact sync is paused or the integration is not connected). The first save starts a contact sync at once.',
  })
  async saveContactSyncRule(
    @Arg('input', () => ContactSyncRuleInput) input: ContactSyncRuleInput,
    @Ctx() ctx: GraphQLContext,
  ) {
    const { settings, initialRun } = await saveContactSyncRule(
      syncRulesDeps(ctx.services, ctx.store),
      ctx.caller,
      toRule(input),
    );
    return { rule: fromRule(settings), initialRun: initialRun && toRunView(initialRun) };
  }

  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER)
  @Query(() => [SharedMailboxType], {
    description: 'C3: the shared mailbox picker, searchable by name or address.',
  })
  async sharedMailboxes(
    @Arg('search', () => String, { defaultValue: '' }) search: string,
    @Arg('first', () => Int, { defaultValue: 200 }) first: number,
    @Ctx() ctx: GraphQLContext,
  ) {
    return searchSharedMailboxes(syncRulesDeps(ctx.services, ctx.store), ctx.caller, search, first);
  }
}
