import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { PageInfo } from './page-info.type.js';

export enum UserRangeKind {
  ALL = 'ALL',
  BY_TYPE = 'BY_TYPE',
  BY_GROUPS = 'BY_GROUPS',
}
export enum DirectoryUserType {
  MEMBER = 'Member',
  GUEST = 'Guest',
}
export enum NumberingMode {
  AUTO = 'AUTO',
  FROM_PROPERTY = 'FROM_PROPERTY',
}
export enum GroupRangeKind {
  ALL = 'ALL',
  BY_TYPE = 'BY_TYPE',
  SPECIFIC = 'SPECIFIC',
}
export enum DirectoryGroupKind {
  SECURITY = 'SECURITY',
  MICROSOFT_365 = 'MICROSOFT_365',
  OTHER = 'OTHER',
}
export enum SyncScopeEnum {
  USERS = 'USERS',
  GROUPS = 'GROUPS',
  CONTACTS = 'CONTACTS',
}
export enum SyncRunStatusEnum {
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
  HELD = 'HELD',
}
export enum SyncPhaseEnum {
  QUEUED = 'QUEUED',
  READING_DIRECTORY = 'READING_DIRECTORY',
  PLANNING = 'PLANNING',
  APPLYING = 'APPLYING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
  HELD = 'HELD',
}
export enum SyncModeEnum {
  FULL = 'FULL',
  DELTA = 'DELTA',
}
export enum SyncTriggerEnum {
  MANUAL = 'MANUAL',
  SCHEDULE = 'SCHEDULE',
  CHANGE = 'CHANGE',
  RULES_SAVED = 'RULES_SAVED',
  POLL = 'POLL',
}
export enum SyncItemAction {
  CREATE = 'CREATE',
  UPDATE = 'UPDATE',
  ASSOCIATE = 'ASSOCIATE',
  DELETE = 'DELETE',
  RELEASE = 'RELEASE',
  SKIP = 'SKIP',
  FAIL = 'FAIL',
}

registerEnumType(UserRangeKind, { name: 'UserRangeKind', description: 'U1: which users become extensions.' });
registerEnumType(DirectoryUserType, { name: 'DirectoryUserType' });
registerEnumType(NumberingMode, {
  name: 'NumberingMode',
  description: 'U3: how a synced extension gets its number.',
});
registerEnumType(GroupRangeKind, {
  name: 'GroupRangeKind',
  description: 'G1: which groups become extension groups.',
});
registerEnumType(DirectoryGroupKind, { name: 'DirectoryGroupKind' });
registerEnumType(SyncScopeEnum, { name: 'SyncScope' });
registerEnumType(SyncRunStatusEnum, { name: 'SyncRunStatus' });
registerEnumType(SyncPhaseEnum, { name: 'SyncPhase' });
registerEnumType(SyncModeEnum, {
  name: 'SyncMode',
  description: 'FULL: the directory was read in full; DELTA: changes only.',
});
registerEnumType(SyncTriggerEnum, { name: 'SyncTrigger' });
registerEnumType(SyncItemAction, { name: 'SyncItemAction' });

@InputType('UserSyncRuleInput', { description: 'U1–U6.' })
export class UserSyncRuleInput {
  @Field(() => UserRangeKind)
  range!: UserRangeKind;

  @Field(() => [DirectoryUserType], { nullable: true, description: 'For BY_TYPE.' })
  userTypes?: DirectoryUserType[] | null;

  @Field(() => [ID], { nullable: true, description: 'For BY_GROUPS: Entra group ids.' })
  groupIds?: string[] | null;

  @Field(() => Boolean, {
    description: 'U2: delete extensions no longer in sync (off: retain them, unlocked).',
  })
  autoDelete!: boolean;

  @Field(() => NumberingMode)
  numbering!: NumberingMode;

  @Field(() => String, { nullable: true, description: 'AUTO: the first number (default 1000).' })
  startNumber?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'FROM_PROPERTY: the Graph user property, e.g. businessPhones.',
  })
  numberProperty?: string | null;

  @Field(() => Boolean, { description: 'U4: delete the extension when its user is disabled.' })
  deleteWhenDisabled!: boolean;

  @Field(() => Boolean, { description: 'U4: delete the extension when its user is deleted.' })
  deleteWhenDeleted!: boolean;

  @Field(() => Boolean, { description: 'U5: take over an unsynced extension with the same email.' })
  autoAssociate!: boolean;

  @Field(() => Boolean, { description: 'U6: send the Linkus welcome email to new extensions.' })
  welcomeEmail!: boolean;

  @Field(() => Boolean, { nullable: true, description: 'BY_GROUPS: members of nested groups count too.' })
  includeNestedMembers?: boolean | null;
}

@ObjectType('UserSyncRule')
export class UserSyncRuleType {
  @Field(() => UserRangeKind)
  range!: UserRangeKind;
  @Field(() => [DirectoryUserType])
  userTypes!: DirectoryUserType[];
  @Field(() => [ID])
  groupIds!: string[];
  @Field(() => Boolean)
  autoDelete!: boolean;
  @Field(() => NumberingMode)
  numbering!: NumberingMode;
  @Field(() => String, { nullable: true })
  startNumber!: string | null;
  @Field(() => String, { nullable: true })
  numberProperty!: string | null;
  @Field(() => Boolean)
  deleteWhenDisabled!: boolean;
  @Field(() => Boolean)
  deleteWhenDeleted!: boolean;
  @Field(() => Boolean)
  autoAssociate!: boolean;
  @Field(() => Boolean)
  welcomeEmail!: boolean;
  @Field(() => Boolean)
  includeNestedMembers!: boolean;
}

@InputType('GroupSyncRuleInput', { description: 'G1–G2.' })
export class GroupSyncRuleInput {
  @Field(() => GroupRangeKind)
  range!: GroupRangeKind;

  @Field(() => [DirectoryGroupKind], {
    nullable: true,
    description: 'For BY_TYPE: SECURITY and/or MICROSOFT_365.',
  })
  kinds?: DirectoryGroupKind[] | null;

  @Field(() => [ID], { nullable: true, description: 'For SPECIFIC: Entra group ids (from directoryGroups).' })
  groupIds?: string[] | null;

  @Field(() => Boolean, { description: 'G2: delete extension groups no longer in sync.' })
  autoDelete!: boolean;

  @Field(() => Boolean, { nullable: true, description: 'G5: members of nested groups count too.' })
  includeNestedMembers?: boolean | null;
}

@ObjectType('GroupSyncRule')
export class GroupSyncRuleType {
  @Field(() => GroupRangeKind)
  range!: GroupRangeKind;
  @Field(() => [DirectoryGroupKind])
  kinds!: DirectoryGroupKind[];
  @Field(() => [ID])
  groupIds!: string[];
  @Field(() => Boolean)
  autoDelete!: boolean;
  @Field(() => Boolean)
  includeNestedMembers!: boolean;
}

@ObjectType('DeletionGuard', {
  description:
    "A run's deletes are held when they, plus those earlier syncs applied within the window (since the last approval), are more than maxDeletes AND more than maxRatio of the synced ones.",
})
export class DeletionGuardType {
  @Field(() => Int)
  maxDeletes!: number;
  @Field(() => Float)
  maxRatio!: number;
  @Field(() => Int, {
    description: 'Hours over which the deletes of every sync are counted (0: one run alone).',
  })
  windowHours!: number;
  @Field(() => Date, {
    nullable: true,
    description: 'The last approval of held deletes: the count starts again there.',
  })
  approvedAt!: Date | null;
}

@ObjectType('SyncSettings')
export class SyncSettingsType {
  @Field(() => UserSyncRuleType, { nullable: true })
  userRule!: UserSyncRuleType | null;
  @Field(() => GroupSyncRuleType, { nullable: true })
  groupRule!: GroupSyncRuleType | null;
  @Field(() => Date, { nullable: true })
  userRuleSavedAt!: Date | null;
  @Field(() => Date, { nullable: true })
  groupRuleSavedAt!: Date | null;
  @Field(() => Date, { nullable: true, description: 'When the directory was last read in full.' })
  lastFullReadAt!: Date | null;
  @Field(() => DeletionGuardType)
  deletionGuard!: DeletionGuardType;
}

@ObjectType('SyncCounts', { description: 'U8: what one run did, per action.' })
export class SyncCountsType {
  @Field(() => Int)
  created!: number;
  @Field(() => Int)
  updated!: number;
  @Field(() => Int)
  associated!: number;
  @Field(() => Int)
  deleted!: number;
  @Field(() => Int, { description: 'Retained and unlocked (auto-delete off).' })
  released!: number;
  @Field(() => Int)
  skipped!: number;
  @Field(() => Int)
  failed!: number;
  @Field(() => Int, { description: 'Deletes held by the deletion guard.' })
  held!: number;
}

@ObjectType('SyncRunItem', { description: 'One object of a run: what was done to it and why.' })
export class SyncRunItemType {
  @Field(() => ID)
  id!: string;
  @Field(() => String, { description: 'USER, GROUP or CONTACT (a contact, or a mailbox)' })
  scope!: string;
  @Field(() => SyncItemAction)
  action!: SyncItemAction;
  @Field(() => String, {
    description: 'A reason code, e.g. NEW_USER, OUT_OF_RANGE, DUPLICATE_EMAIL, NUMBER_IN_USE.',
  })
  reason!: string;
  @Field(() => ID, { description: 'The Entra object id.' })
  objectId!: string;
  @Field(() => String)
  objectName!: string;
  @Field(() => String, { nullable: true })
  userPrincipalName!: string | null;
  @Field(() => String, { nullable: true })
  number!: string | null;
  @Field(() => ID, { nullable: true, description: 'The extension or extension group acted on.' })
  targetId!: string | null;
  @Field(() => String, { nullable: true })
  detail!: string | null;
  @Field(() => String, { nullable: true, description: 'JSON of the field changes.' })
  changes!: string | null;
  @Field(() => String, { description: 'APPLIED, HELD, APPROVED or REPORTED (SKIP, FAIL).' })
  state!: string;
}

@ObjectType('SyncRunItemEdge')
export class SyncRunItemEdge {
  @Field(() => String)
  cursor!: string;
  @Field(() => SyncRunItemType)
  node!: SyncRunItemType;
}

@ObjectType('SyncRunItemConnection')
export class SyncRunItemConnection {
  @Field(() => [SyncRunItemEdge])
  edges!: SyncRunItemEdge[];
  @Field(() => [SyncRunItemType])
  nodes!: SyncRunItemType[];
  @Field(() => PageInfo)
  pageInfo!: PageInfo;
  @Field(() => Int)
  totalCount!: number;
}

@ObjectType('SyncRun', { description: 'One sync run and its result (U8).' })
export class SyncRunType {
  @Field(() => ID)
  id!: string;
  @Field(() => SyncRunStatusEnum)
  status!: SyncRunStatusEnum;
  @Field(() => SyncPhaseEnum)
  phase!: SyncPhaseEnum;
  @Field(() => SyncModeEnum, { nullable: true })
  mode!: SyncModeEnum | null;
  @Field(() => SyncTriggerEnum)
  trigger!: SyncTriggerEnum;
  @Field(() => [SyncScopeEnum])
  scopes!: SyncScopeEnum[];
  @Field(() => Date)
  queuedAt!: Date;
  @Field(() => Date, { nullable: true })
  startedAt!: Date | null;
  @Field(() => Date, { nullable: true })
  finishedAt!: Date | null;
  @Field(() => Int, { description: 'Changes applied so far (while APPLYING).' })
  done!: number;
  @Field(() => Int)
  total!: number;
  @Field(() => String, { nullable: true })
  message!: string | null;
  @Field(() => String, { nullable: true })
  error!: string | null;
  @Field(() => Int, { nullable: true, description: 'Requests made to Microsoft Graph.' })
  graphRequests!: number | null;
  @Field(() => SyncCountsType)
  users!: SyncCountsType;
  @Field(() => SyncCountsType)
  groups!: SyncCountsType;
  @Field(() => SyncCountsType, {
    nullable: true,
    description:
      'C1–C4: contacts created, updated, deleted; skipped: contacts not synced (C4, items with reason NO_NAME / NO_PHONE); failed: mailboxes not synced (items ACCESS_DENIED / MAILBOX_JOB_FAILED). Null when the run did not sync contacts.',
  })
  contacts!: SyncCountsType | null;
}

@ObjectType('SyncRunEdge')
export class SyncRunEdge {
  @Field(() => String)
  cursor!: string;
  @Field(() => SyncRunType)
  node!: SyncRunType;
}

@ObjectType('SyncRunConnection')
export class SyncRunConnection {
  @Field(() => [SyncRunEdge])
  edges!: SyncRunEdge[];
  @Field(() => [SyncRunType])
  nodes!: SyncRunType[];
  @Field(() => PageInfo)
  pageInfo!: PageInfo;
  @Field(() => Int)
  totalCount!: number;
}

@ObjectType('SaveSyncRulePayload')
export class SaveSyncRulePayload {
  @Field(() => SyncSettingsType)
  settings!: SyncSettingsType;
  @Field(() => SyncRunType, { nullable: true, description: 'U7: the initial sync the first save started.' })
  initialRun!: SyncRunType | null;
}

@ObjectType('DirectoryGroup', { description: 'A Microsoft 365 / Entra group, for the group picker (G1).' })
export class DirectoryGroupType {
  @Field(() => ID)
  id!: string;
  @Field(() => String)
  displayName!: string;
  @Field(() => DirectoryGroupKind)
  kind!: DirectoryGroupKind;
  @Field(() => String, { nullable: true })
  description!: string | null;
}

@ObjectType('SyncPreviewPart')
export class SyncPreviewPart {
  @Field(() => SyncCountsType)
  counts!: SyncCountsType;
  @Field(() => Boolean, { description: 'The deletion guard would hold the deletes.' })
  held!: boolean;
  @Field(() => [SyncRunItemType], { description: 'At most `first` items, in apply order.' })
  items!: SyncRunItemType[];
}

@ObjectType('SyncPreview', { description: 'What a sync would do now; nothing is applied.' })
export class SyncPreviewType {
  @Field(() => SyncModeEnum, { nullable: true })
  mode!: SyncModeEnum | null;
  @Field(() => [String])
  notes!: string[];
  @Field(() => SyncPreviewPart, { nullable: true })
  users!: SyncPreviewPart | null;
  @Field(() => SyncPreviewPart, { nullable: true })
  groups!: SyncPreviewPart | null;
  @Field(() => SyncPreviewPart, {
    nullable: true,
    description:
      'C1–C4: the mailboxes a run would sync (CREATE: first time, UPDATE: delta) and those whose contacts would go (DELETE).',
  })
  contacts!: SyncPreviewPart | null;
}
