import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { SyncRunType } from './sync.type.js';

export enum PersonalContactsRangeKind {
  ALL = 'ALL',
  BY_GROUPS = 'BY_GROUPS',
}
export enum SharedMailboxRangeKind {
  ALL = 'ALL',
  SPECIFIC = 'SPECIFIC',
}
registerEnumType(PersonalContactsRangeKind, {
  name: 'PersonalContactsRange',
  description: 'C1: every synced user, or the synced users in chosen groups.',
});
registerEnumType(SharedMailboxRangeKind, {
  name: 'SharedMailboxRange',
  description: 'C3: every shared mailbox, or chosen ones.',
});

@ObjectType('ContactSyncRule', {
  description: 'C1–C4: Outlook contacts to Linkus contacts and PBX phonebooks.',
})
export class ContactSyncRuleType {
  @Field(() => Boolean, {
    description: "C1: each synced user's shared contacts folder → that user's Linkus contacts.",
  })
  personalEnabled!: boolean;
  @Field(() => PersonalContactsRangeKind)
  personalRange!: PersonalContactsRangeKind;
  @Field(() => [ID], { description: 'BY_GROUPS: the groups.' })
  personalGroupIds!: string[];
  @Field(() => Boolean, { description: "C3: shared mailboxes' contacts → PBX phonebooks." })
  sharedEnabled!: boolean;
  @Field(() => SharedMailboxRangeKind)
  sharedRange!: SharedMailboxRangeKind;
  @Field(() => [ID], { description: 'SPECIFIC: the shared mailboxes (their user object ids).' })
  sharedMailboxIds!: string[];
  @Field(() => String, { description: 'The phonebook name (several mailboxes: "<name> - <mailbox>").' })
  phonebookName!: string;
  @Field(() => Date, { nullable: true })
  savedAt!: Date | null;
}

@InputType('ContactSyncRuleInput', { description: 'C1, C3.' })
export class ContactSyncRuleInput {
  @Field(() => Boolean)
  personalEnabled!: boolean;
  @Field(() => PersonalContactsRangeKind, { defaultValue: PersonalContactsRangeKind.ALL })
  personalRange!: PersonalContactsRangeKind;
  @Field(() => [ID], { nullable: true })
  personalGroupIds?: string[] | null;
  @Field(() => Boolean)
  sharedEnabled!: boolean;
  @Field(() => SharedMailboxRangeKind, { defaultValue: SharedMailboxRangeKind.ALL })
  sharedRange!: SharedMailboxRangeKind;
  @Field(() => [ID], { nullable: true })
  sharedMailboxIds?: string[] | null;
  @Field(() => String, { defaultValue: '' })
  phonebookName!: string;
}

@ObjectType('SaveContactSyncRulePayload')
export class SaveContactSyncRulePayload {
  @Field(() => ContactSyncRuleType)
  rule!: ContactSyncRuleType;
  @Field(() => SyncRunType, { nullable: true, description: 'The first save starts a contact sync at once.' })
  initialRun!: SyncRunType | null;
}

@ObjectType('SharedMailbox', {
  description:
    'C3 picker: a user whose sign-in is blocked and that has a mailbox (Graph has no shared-mailbox flag; a disabled employee looks the same, and its run then reports ACCESS_DENIED).',
})
export class SharedMailboxType {
  @Field(() => ID)
  id!: string;
  @Field(() => String)
  displayName!: string;
  @Field(() => String)
  mail!: string;
}
