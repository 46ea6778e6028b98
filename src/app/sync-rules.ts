import type { Caller } from '../domain/access.js';
import { IntegrationStatus } from '../domain/integration.js';
import { summarizePlan } from '../domain/sync-plan.js';
import type { PlanItemLike, SyncPlan } from '../domain/sync-plan.types.js';
import type { ContactSyncRule, GroupSyncRule, UserSyncRule } from '../domain/sync-rule.types.js';
import {
  validateContactSyncRule,
  validateGroupSyncRule,
  validateUserSyncRule,
} from '../domain/sync-rule.validator.js';
import { AppError } from './errors.js';
import { appCredentials, assertAllowed } from './integration.js';
import type { LinkusSessions } from './linkus-sessions.js';
import type { DirectoryReader } from './ports/directory.port.js';
import type { PageRequest } from './ports/store.port.js';
import type { ItemAction, SyncScope, SyncTrigger } from './ports/sync.port.js';
import type { SecretBox } from './secret-box.js';
import { approveHeldDeletes } from './sync/held-deletes.js';
import type { SyncDeps } from './sync/sync-kind.js';
import { previewSync as planPreview } from './sync/sync-run.js';
import { requestSync, type SyncTriggerDeps } from './sync-trigger.js';

export interface SyncRulesDeps extends SyncTriggerDeps {
  reader: DirectoryReader;
  secrets: SecretBox;
}

const ALL_SCOPES: SyncScope[] = ['USERS', 'GROUPS', 'CONTACTS'];

async function connectedApp(deps: Pick<SyncRulesDeps, 'store' | 'secrets'>, pbxId: string) {
  const integration = await deps.store.integrations.get(pbxId);
  if (integration.status !== IntegrationStatus.CONNECTED) {
    throw new AppError('INVALID_STATE', 'Connect the integration first.', { status: integration.status });
  }
  return { integration, app: appCredentials(integration, deps.secrets) };
}

export async function getSyncSettings(deps: Pick<SyncRulesDeps, 'store'>, caller: Caller) {
  return deps.store.sync.getSettings(caller.pbxId);
}

/** Queues a run, or joins the PBX's pending one (see requestSync). */
export async function startSync(
  deps: SyncTriggerDeps,
  pbxId: string,
  trigger: SyncTrigger,
  scopes: SyncScope[],
) {
  return (await requestSync(deps, pbxId, trigger, scopes)).run;
}

async function knownGroupIds(
  deps: Pick<SyncRulesDeps, 'store' | 'reader' | 'secrets'>,
  pbxId: string,
  ids: readonly string[],
) {
  if (!ids.length) return new Set<string>();
  const { app } = await connectedApp(deps, pbxId);
  return new Set((await deps.reader.findGroups(app, ids)).map((g) => g.id));
}

/**
 * U1–U6 (+U7): checks and saves the user sync rule. The first save runs the initial sync at
 * once; later saves take effect at the next sync.
 */
export async function saveUserSyncRule(deps: SyncRulesDeps, caller: Caller, rule: UserSyncRule) {
  const integration = await deps.store.integrations.get(caller.pbxId);
  assertAllowed(integration, 'EDIT_RULES', 'USERS');
  const groupIds = rule.range.type === 'BY_GROUPS' ? rule.range.groupIds : [];
  const problems = validateUserSyncRule(rule, {
    knownGroupIds: await knownGroupIds(deps, caller.pbxId, groupIds),
  });
  if (problems.length) throw AppError.invalidInput(problems);
  const before = await deps.store.sync.getSettings(caller.pbxId);
  const settings = await deps.store.sync.updateSettings(caller.pbxId, {
    userRule: rule,
    userRuleSavedAt: deps.now(),
  });
  const run = before.userRuleSavedAt ? null : await startSync(deps, caller.pbxId, 'RULES_SAVED', ['USERS']);
  return { settings, initialRun: run };
}

/** G1–G2 (+U7 for groups): checks and saves the group sync rule. */
export async function saveGroupSyncRule(deps: SyncRulesDeps, caller: Caller, rule: GroupSyncRule) {
  const integration = await deps.store.integrations.get(caller.pbxId);
  assertAllowed(integration, 'EDIT_RULES', 'GROUPS');
  const groupIds = rule.range.type === 'SPECIFIC' ? rule.range.groupIds : [];
  const problems = validateGroupSyncRule(rule, {
    knownGroupIds: await knownGroupIds(deps, caller.pbxId, groupIds),
  });
  if (problems.length) throw AppError.invalidInput(problems);
  const before = await deps.store.sync.getSettings(caller.pbxId);
  const settings = await deps.store.sync.updateSettings(caller.pbxId, {
    groupRule: rule,
    groupRuleSavedAt: deps.now(),
  });
  const run = before.groupRuleSavedAt ? null : await startSync(deps, caller.pbxId, 'RULES_SAVED', ['GROUPS']);
  return { settings, initialRun: run };
}

/**
 * C1, C3 (+U7 for contacts): checks and saves the contact sync rule: group ids must be groups,
 * shared mailbox ids must be shared mailboxes (users whose sign-in is blocked, with a mailbox).
 */
export async function saveContactSyncRule(deps: SyncRulesDeps, caller: Caller, rule: ContactSyncRule) {
  const integration = await deps.store.integrations.get(caller.pbxId);
  assertAllowed(integration, 'EDIT_RULES', 'CONTACTS');
  const groupIds =
    rule.personal.enabled && rule.personal.range.type === 'BY_GROUPS' ? rule.personal.range.groupIds : [];
  const mailboxIds =
    rule.shared.enabled && rule.shared.range.type === 'SPECIFIC' ? rule.shared.range.mailboxIds : [];
  const knownSharedMailboxIds = mailboxIds.length
    ? new Set(
        (await deps.reader.searchSharedMailboxes((await connectedApp(deps, caller.pbxId)).app, '', 999)).map(
          (m) => m.id,
        ),
      )
    : undefined;
  const problems = validateContactSyncRule(rule, {
    knownGroupIds: await knownGroupIds(deps, caller.pbxId, groupIds),
    knownSharedMailboxIds,
  });
  if (problems.length) throw AppError.invalidInput(problems);
  const normalised: ContactSyncRule = {
    ...rule,
    shared: { ...rule.shared, phonebookName: rule.shared.phonebookName.trim() },
  };
  const before = await deps.store.sync.getSettings(caller.pbxId);
  const settings = await deps.store.sync.updateSettings(caller.pbxId, {
    contactRule: normalised,
    contactRuleSavedAt: deps.now(),
  });
  const run = before.contactRuleSavedAt
    ? null
    : await startSync(deps, caller.pbxId, 'RULES_SAVED', ['CONTACTS']);
  return { settings, initialRun: run };
}

/** C3: the shared mailbox picker. */
export async function searchSharedMailboxes(
  deps: SyncRulesDeps,
  caller: Caller,
  search: string,
  first: number,
) {
  if (!Number.isInteger(first) || first < 1 || first > 999) {
    throw AppError.invalidInput([{ field: 'first', message: 'must be 1 to 999' }]);
  }
  const { app } = await connectedApp(deps, caller.pbxId);
  return deps.reader.searchSharedMailboxes(app, search, first);
}

/** Deletion guard thresholds (held when deletes > maxDeletes AND > maxRatio of the synced ones). */
export async function saveDeletionGuard(
  deps: SyncRulesDeps,
  caller: Caller,
  maxDeletes: number,
  maxRatio: number,
  windowHours: number | null = null,
) {
  const problems = [];
  if (windowHours !== null && (!Number.isInteger(windowHours) || windowHours < 0 || windowHours > 720))
    problems.push({ field: 'windowHours', message: 'must be a whole number of hours from 0 to 720' });
  if (!Number.isInteger(maxDeletes) || maxDeletes < 0)
    problems.push({ field: 'maxDeletes', message: 'must be a whole number ≥ 0' });
  if (!(maxRatio >= 0 && maxRatio <= 1))
    problems.push({ field: 'maxRatio', message: 'must be between 0 and 1' });
  if (problems.length) throw AppError.invalidInput(problems);
  return deps.store.sync.updateSettings(caller.pbxId, {
    guardMaxDeletes: maxDeletes,
    guardMaxRatio: maxRatio,
    ...(windowHours !== null ? { guardWindowHours: windowHours } : {}),
  });
}

/** G1: the group picker. */
export async function searchDirectoryGroups(
  deps: SyncRulesDeps,
  caller: Caller,
  search: string,
  first: number,
) {
  if (!Number.isInteger(first) || first < 1 || first > 999) {
    throw AppError.invalidInput([{ field: 'first', message: 'must be 1 to 999' }]);
  }
  const { app } = await connectedApp(deps, caller.pbxId);
  return deps.reader.searchGroups(app, search.trim(), first);
}

/** T3 "Update Now": a run with the current rules, at once. */
export async function syncNow(deps: SyncRulesDeps, caller: Caller, scopes: SyncScope[] | null) {
  const integration = await deps.store.integrations.get(caller.pbxId);
  assertAllowed(integration, 'SYNC');
  return startSync(deps, caller.pbxId, 'MANUAL', scopes?.length ? [...new Set(scopes)] : ALL_SCOPES);
}

export async function getSyncRun(deps: Pick<SyncRulesDeps, 'store'>, caller: Caller, id: string) {
  return deps.store.sync.getRun(caller.pbxId, id);
}

export async function listSyncRuns(deps: Pick<SyncRulesDeps, 'store'>, caller: Caller, page: PageRequest) {
  return deps.store.sync.pageRuns(caller.pbxId, page);
}

/** What a sync would do now, without doing it. */
/**
 * What a sync would do now, nothing applied. With a draft rule (issue 17: the portal's preview
 * before saving), that kind is planned with the draft in place of its saved rule; the draft is
 * checked as saving it would check it.
 */
export async function previewSync(
  deps: SyncDeps,
  caller: Caller,
  scopes: SyncScope[] | null,
  draft: { userRule?: UserSyncRule; groupRule?: GroupSyncRule } = {},
) {
  const problems = [
    ...(draft.userRule
      ? validateUserSyncRule(draft.userRule, {
          knownGroupIds: await knownGroupIds(
            deps,
            caller.pbxId,
            draft.userRule.range.type === 'BY_GROUPS' ? draft.userRule.range.groupIds : [],
          ),
        })
      : []),
    ...(draft.groupRule
      ? validateGroupSyncRule(draft.groupRule, {
          knownGroupIds: await knownGroupIds(
            deps,
            caller.pbxId,
            draft.groupRule.range.type === 'SPECIFIC' ? draft.groupRule.range.groupIds : [],
          ),
        })
      : []),
  ];
  if (problems.length) throw AppError.invalidInput(problems);
  const preview = await planPreview(deps, caller.pbxId, scopes?.length ? scopes : ALL_SCOPES, draft);
  const shown = <I extends PlanItemLike>(plan: SyncPlan<I> | null) =>
    plan && { summary: summarizePlan(plan), items: [...plan.items, ...plan.heldDeletes], held: plan.held };
  return {
    notes: preview.notes,
    mode: preview.read?.mode ?? null,
    userPlan: shown(preview.users),
    groupPlan: shown(preview.groups),
    contactPlan: shown(preview.contacts),
  };
}

export async function approveHeld(
  deps: Pick<SyncRulesDeps, 'store' | 'now'> & {
    linkusSessions: Pick<LinkusSessions, 'afterDirectoryChange'>;
  },
  caller: Caller,
  runId: string,
) {
  const run = await deps.store.sync.getRun(caller.pbxId, runId);
  if (!run) throw new AppError('NOT_FOUND', `No sync run ${runId}`, { field: 'runId' });
  if (run.status !== 'HELD')
    throw new AppError('INVALID_STATE', `Run ${runId} holds no deletions (it is ${run.status}).`);
  const approved = await approveHeldDeletes(deps, caller.pbxId, runId);
  // S4: the Linkus sessions of the extensions deleted end.
  await deps.linkusSessions.afterDirectoryChange(deps.store, caller.pbxId);
  return approved;
}

/** U8: the objects of a run, in plan order, optionally of one action. */
export async function listSyncRunItems(
  deps: Pick<SyncRulesDeps, 'store'>,
  runId: string,
  action: ItemAction | null,
  page: PageRequest,
) {
  return deps.store.sync.pageItems(runId, { action }, page);
}
