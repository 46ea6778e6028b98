import { describe, expect, it } from 'vitest';
import type { GroupSyncRule, UserSyncRule } from '../../src/domain/sync-rule.types.js';
import { validateGroupSyncRule, validateUserSyncRule } from '../../src/domain/sync-rule.validator.js';
import { groupRule, userRule } from './domain.fixtures.js';

const known = { knownGroupIds: new Set(['g1', 'g2']) };

describe('U1/U3 user sync rule validation names the field', () => {
  it.each<[string, UserSyncRule, string[]]>([
    ['the default rule', userRule(), []],
    ['AUTO start 1', userRule({ numbering: { mode: 'AUTO', startNumber: '1' } }), []],
    [
      'AUTO start 0100',
      userRule({ numbering: { mode: 'AUTO', startNumber: '0100' } }),
      ['numbering.startNumber'],
    ],
    [
      'AUTO start 12345678',
      userRule({ numbering: { mode: 'AUTO', startNumber: '12345678' } }),
      ['numbering.startNumber'],
    ],
    [
      'FROM_PROPERTY businessPhones',
      userRule({ numbering: { mode: 'FROM_PROPERTY', property: 'businessPhones' } }),
      [],
    ],
    [
      'FROM_PROPERTY an extension attribute',
      userRule({
        numbering: { mode: 'FROM_PROPERTY', property: 'onPremisesExtensionAttributes.extensionAttribute7' },
      }),
      [],
    ],
    [
      'FROM_PROPERTY a schema extension',
      userRule({
        numbering: {
          mode: 'FROM_PROPERTY',
          property: 'extension_0123456789abcdef0123456789abcdef_deskPhone',
        },
      }),
      [],
    ],
    [
      'FROM_PROPERTY shoeSize',
      userRule({ numbering: { mode: 'FROM_PROPERTY', property: 'shoeSize' } }),
      ['numbering.property'],
    ],
    ['BY_TYPE none', userRule({ range: { type: 'BY_TYPE', userTypes: [] } }), ['range.userTypes']],
    ['BY_GROUPS known', userRule({ range: { type: 'BY_GROUPS', groupIds: ['g1'] } }), []],
    [
      'BY_GROUPS unknown',
      userRule({ range: { type: 'BY_GROUPS', groupIds: ['g1', 'g9'] } }),
      ['range.groupIds'],
    ],
    ['BY_GROUPS none', userRule({ range: { type: 'BY_GROUPS', groupIds: [] } }), ['range.groupIds']],
  ])('%s', (_name, rule, fields) => {
    expect(validateUserSyncRule(rule, known).map((p) => p.field)).toEqual(fields);
  });
});

describe('G1 group sync rule validation names the field', () => {
  it.each<[string, GroupSyncRule, string[]]>([
    ['ALL', groupRule(), []],
    ['BY_TYPE none', groupRule({ range: { type: 'BY_TYPE', kinds: [] } }), ['range.kinds']],
    ['SPECIFIC unknown', groupRule({ range: { type: 'SPECIFIC', groupIds: ['zz'] } }), ['range.groupIds']],
    ['SPECIFIC known', groupRule({ range: { type: 'SPECIFIC', groupIds: ['g2'] } }), []],
  ])('%s', (_name, rule, fields) => {
    expect(validateGroupSyncRule(rule, known).map((p) => p.field)).toEqual(fields);
  });
});
