import { describe, expect, it } from 'vitest';
import {
  createNumberAllocator,
  extensionNumberFromValue,
  isValidExtensionNumber,
  readUserProperty,
} from '../../src/domain/extension-number.js';
import { user } from './domain.fixtures.js';

describe('U3 isValidExtensionNumber: 1-7 digits, no leading zero', () => {
  it.each([
    ['1', true],
    ['1000', true],
    ['9999999', true],
    ['10000000', false],
    ['0', false],
    ['0123', false],
    ['', false],
    ['12a', false],
    [' 123', false],
    ['+123', false],
    ['１２３', false],
  ])('%j → %s', (value, valid) => {
    expect(isValidExtensionNumber(value)).toBe(valid);
  });
});

describe('U3 extensionNumberFromValue: the documented reduction rule', () => {
  it.each<[string | null, string | null, string]>([
    ['1234', '1234', 'a bare number'],
    ['  1234  ', '1234', 'blanks around it'],
    ['+1 425 555 0100 x1234', '1234', 'x marker'],
    ['+1 425 555 0100 X 1234', '1234', 'upper-case X with a blank'],
    ['+1 (425) 555-0100 ext. 567', '567', 'ext. marker'],
    ['+1 425 555 0100 Ext: 89', '89', 'Ext: marker'],
    ['+1 425 555 0100 extn 4455', '4455', 'extn marker'],
    ['+1 425 555 0100 extension 4455', '4455', 'extension marker'],
    ['tel:+1-425-555-0100;ext=1234', '1234', 'RFC 3966 ;ext='],
    ['0100x1234', '1234', 'x right after digits'],
    ['x12 x34', '34', 'the last marker counts'],
    ['+1 425 555 0100', null, 'a phone number without marker is not cut down (no guessing)'],
    ['555-1234', null, 'punctuation without marker'],
    ['Fax 1234', null, 'x inside a word is no marker'],
    ['ext 1234 (desk)', null, 'digits must end the value'],
    ['x0123', null, 'leading zero after the marker'],
    ['0123', null, 'leading zero'],
    ['12345678', null, 'eight digits'],
    ['x', null, 'a marker without digits'],
    ['', null, 'empty'],
    ['   ', null, 'blank'],
    [null, null, 'null'],
  ])('%j → %j (%s)', (value, expected) => {
    expect(extensionNumberFromValue(value)).toBe(expected);
  });
});

describe('U3 readUserProperty', () => {
  const u = user('u1', {
    businessPhones: ['  ', '+1 425 555 0100 x1234', '2000'],
    mobilePhone: '+1 425 555 0199',
    properties: {
      employeeId: '4321',
      badge: 77,
      onPremisesExtensionAttributes: { extensionAttribute1: '1500', extensionAttribute2: null },
      'onPremisesExtensionAttributes.extensionAttribute3': '1600',
    },
  });
  it.each<[string, string | null]>([
    ['businessPhones', '+1 425 555 0100 x1234'],
    ['mobilePhone', '+1 425 555 0199'],
    ['jobTitle', null],
    ['employeeId', '4321'],
    ['badge', '77'],
    ['onPremisesExtensionAttributes.extensionAttribute1', '1500'],
    ['onPremisesExtensionAttributes.extensionAttribute2', null],
    ['onPremisesExtensionAttributes.extensionAttribute3', '1600'],
    ['missing', null],
    ['onPremisesExtensionAttributes.missing.deeper', null],
  ])('%s → %j', (property, expected) => {
    expect(readUserProperty(u, property)).toBe(expected);
  });
});

describe('U3 AUTO createNumberAllocator', () => {
  it('gives the lowest free numbers from the start, skipping taken ones', () => {
    const next = createNumberAllocator('1000', new Set(['1000', '1002', '999']));
    expect([next(), next(), next()]).toEqual(['1001', '1003', '1004']);
  });
  it('stops at 9999999', () => {
    const next = createNumberAllocator('9999998', new Set(['9999999']));
    expect([next(), next()]).toEqual(['9999998', null]);
  });
  it('refuses a start number that is not an extension number', () => {
    expect(() => createNumberAllocator('0100', new Set())).toThrow(RangeError);
  });
});
