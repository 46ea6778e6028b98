import { isValidExtensionNumber } from './extension-number.js';
import {
  type ContactSyncRule,
  type GroupSyncRule,
  MAX_PHONEBOOK_NAME,
  type UserSyncRule,
} from './sync-rule.types.js';
import type { FieldProblem } from './tenant.js';

/**
 * Graph user properties that can carry an extension number for U3 FROM_PROPERTY. Directory
 * schema extensions (`extension_<appId without dashes>_<name>`) are accepted as well.
 */
export const NUMBER_SOURCE_PROPERTIES: readonly string[] = [
  'businessPhones',
  'mobilePhone',
  'faxNumber',
  'employeeId',
  'officeLocation',
  'jobTitle',
  'department',
  'companyName',
  'postalCode',
  'mailNickname',
  'displayName',
  'givenName',
  'surname',
  'mail',
  'userPrincipalName',
  ...Array.from({ length: 15 }, (_, i) => `onPremisesExtensionAttributes.extensionAttribute${i + 1}`),
];

const SCHEMA_EXTENSION = /^extension_[0-9a-f]{32}_[A-Za-z0-9_]+$/;

export function isNumberSourceProperty(property: string): boolean {
  return NUMBER_SOURCE_PROPERTIES.includes(property) || SCHEMA_EXTENSION.test(property);
}

export interface RuleContext {
  /** When given, group ids outside this set are reported. */
  readonly knownGroupIds?: ReadonlySet<string>;
}

function checkGroupIds(
  problems: FieldProblem[],
  field: string,
  groupIds: readonly string[],
  context: RuleContext,
): void {
  if (groupIds.length === 0) problems.push({ field, message: 'choose at least one group' });
  const unknown = context.knownGroupIds ? groupIds.filter((id) => !context.knownGroupIds?.has(id)) : [];
  if (unknown.length > 0) problems.push({ field, message: `unknown group id(s): ${unknown.join(', ')}` });
}

/** Every problem of a user sync rule (U1, U3), each naming its field. */
export function validateUserSyncRule(rule: UserSyncRule, context: RuleContext = {}): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (rule.range.type === 'BY_TYPE') {
    if (rule.range.userTypes.length === 0) {
      problems.push({ field: 'range.userTypes', message: 'choose Member, Guest or both' });
    }
  } else if (rule.range.type === 'BY_GROUPS') {
    checkGroupIds(problems, 'range.groupIds', rule.range.groupIds, context);
  }
  if (rule.numbering.mode === 'AUTO') {
    const start = rule.numbering.startNumber;
    if (start !== undefined && !isValidExtensionNumber(start)) {
      problems.push({
        field: 'numbering.startNumber',
        message: `"${start}" is not a valid extension number (1-7 digits, no leading 0)`,
      });
    }
  } else if (!isNumberSourceProperty(rule.numbering.property)) {
    problems.push({
      field: 'numbering.property',
      message: `"${rule.numbering.property}" is not a user property that can hold an extension number`,
    });
  }
  return problems;
}

/** Every problem of a group sync rule (G1), each naming its field. */
export function validateGroupSyncRule(rule: GroupSyncRule, context: RuleContext = {}): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (rule.range.type === 'BY_TYPE' && rule.range.kinds.length === 0) {
    problems.push({ field: 'range.kinds', message: 'choose SECURITY, MICROSOFT_365 or both' });
  } else if (rule.range.type === 'SPECIFIC') {
    checkGroupIds(problems, 'range.groupIds', rule.range.groupIds, context);
  }
  return problems;
}

export interface ContactRuleContext extends RuleContext {
  /** When given, shared mailbox ids outside this set are reported. */
  readonly knownSharedMailboxIds?: ReadonlySet<string>;
}

/** Every problem of a contact sync rule (C1, C3), each naming its field. */
export function validateContactSyncRule(
  rule: ContactSyncRule,
  context: ContactRuleContext = {},
): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (rule.personal.enabled && rule.personal.range.type === 'BY_GROUPS') {
    checkGroupIds(problems, 'personal.range.groupIds', rule.personal.range.groupIds, context);
  }
  if (rule.shared.enabled) {
    const name = rule.shared.phonebookName.trim();
    if (!name) problems.push({ field: 'shared.phonebookName', message: 'name the phonebook' });
    else if (name.length > MAX_PHONEBOOK_NAME)
      problems.push({ field: 'shared.phonebookName', message: `at most ${MAX_PHONEBOOK_NAME} characters` });
    if (rule.shared.range.type === 'SPECIFIC') {
      const ids = rule.shared.range.mailboxIds;
      if (ids.length === 0)
        problems.push({ field: 'shared.range.mailboxIds', message: 'choose at least one shared mailbox' });
      const known = context.knownSharedMailboxIds;
      const unknown = known ? ids.filter((id) => !known.has(id)) : [];
      if (unknown.length)
        problems.push({
          field: 'shared.range.mailboxIds',
          message: `not a shared mailbox: ${unknown.join(', ')}`,
        });
    }
  }
  return problems;
}
