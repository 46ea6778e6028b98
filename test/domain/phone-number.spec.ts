import { describe, expect, it } from 'vitest';
import { contactTerms, searchText } from '../../src/domain/contact-search.js';
import {
  callerNumberKey,
  numberKey,
  numberPrefix,
  readCallerNumber,
  toE164,
} from '../../src/domain/phone-number.js';

describe('phone numbers in E.164 under the PBX country', () => {
  it.each([
    ['+44 20 7946 0018', 'GB', '+442079460018'],
    ['020 7946 0018', 'GB', '+442079460018'],
    ['00442079460018', 'GB', '+442079460018'],
    ['00 44 20 7946 0018', 'GB', '+442079460018'],
    ['(020) 7946-0018', 'GB', '+442079460018'],
    ['020.7946.0018', 'GB', '+442079460018'],
    ['07911 123456', 'GB', '+447911123456'],
    ['(212) 555-0100', 'US', '+12125550100'],
    ['212-555-0100', 'US', '+12125550100'],
    ['1 212 555 0100', 'US', '+12125550100'],
    ['011 44 20 7946 0018', 'US', '+442079460018'],
    ['+1 212 555 0100', 'GB', '+12125550100'],
    ['212-555-0100 x12', 'US', '+12125550100'],
    ['030 123456', 'DE', '+4930123456'],
    ['0049 30 123456', 'DE', '+4930123456'],
  ])('%s under %s is %s', (dialled, country, e164) => {
    expect(toE164(dialled, country)).toBe(e164);
  });

  it.each([
    ['1001', 'GB'],
    ['', 'GB'],
    ['call me', 'GB'],
    ['+', 'GB'],
    ['12', 'US'],
    ['020 7946', 'GB'],
    ['+44 20 7946 0018 0018 0018 0018', 'GB'],
    ['x'.repeat(100), 'GB'],
    ['020 7946 0018', 'not a country'],
  ])('%j under %s is no phone number (null)', (dialled, country) => {
    expect(toE164(dialled, country)).toBeNull();
  });

  it('reads a caller ID as an extension number, an E.164 number, or bare digits; null for letters', () => {
    expect(readCallerNumber('1001', 'GB')).toEqual({ kind: 'EXTENSION', number: '1001' });
    expect(readCallerNumber(' 1001 ', 'GB')).toEqual({ kind: 'EXTENSION', number: '1001' });
    expect(readCallerNumber('9999999', 'GB')).toEqual({ kind: 'EXTENSION', number: '9999999' });
    for (const spelling of ['+44 20 7946 0018', '020 7946 0018', '00442079460018']) {
      expect(readCallerNumber(spelling, 'GB')).toEqual({ kind: 'E164', e164: '+442079460018' });
    }
    // A leading 0 is never an extension number; 8 digits is too long for one.
    expect(readCallerNumber('0123', 'GB')).toEqual({ kind: 'DIGITS', digits: '0123' });
    expect(readCallerNumber('12345678', 'GB')).toEqual({ kind: 'DIGITS', digits: '12345678' });
    expect(readCallerNumber('anonymous', 'GB')).toBeNull();
    expect(readCallerNumber('', 'GB')).toBeNull();
  });

  it('stores and looks up a number under one key: its E.164, else # and its digits', () => {
    expect(numberKey({ dialled: '020 7946 0018', e164: '+442079460018' })).toBe('+442079460018');
    expect(numberKey({ dialled: '0123', e164: null })).toBe('#0123');
    expect(numberKey({ dialled: 'see notes', e164: null })).toBeNull();
    expect(callerNumberKey({ kind: 'DIGITS', digits: '0123' })).toBe('#0123');
    expect(callerNumberKey({ kind: 'E164', e164: '+442079460018' })).toBe('+442079460018');
  });

  it('turns the start of a typed number into an E.164 prefix', () => {
    expect(numberPrefix('020 79', 'GB')).toEqual({ e164: '+442079', digits: '02079' });
    expect(numberPrefix('0044 20', 'GB')).toEqual({ e164: '+4420', digits: '004420' });
    expect(numberPrefix('+1 212', 'GB')).toEqual({ e164: '+1212', digits: '1212' });
    expect(numberPrefix('212', 'US')).toEqual({ e164: '+1212', digits: '212' });
    expect(numberPrefix('00', 'GB')).toEqual({ e164: null, digits: '00' });
    expect(numberPrefix('anna', 'GB')).toBeNull();
    expect(numberPrefix('', 'GB')).toBeNull();
  });
});

describe('search terms', () => {
  it('compares text without case, accents or punctuation', () => {
    expect(searchText("Zoë O'Brien-Smith")).toBe('zoe o brien smith');
    expect(searchText('  ÅNGSTRÖM  ')).toBe('angstrom');
    expect(searchText(null)).toBe('');
  });

  it('finds a contact by its whole name, later words, company and numbers', () => {
    const terms = contactTerms({
      displayName: 'Ada Lovelace',
      firstName: 'Augusta',
      lastName: 'Lovelace',
      company: 'Analytical Engines Ltd',
      numbers: [
        { kind: 'BUSINESS', dialled: '020 7946 0018', e164: '+442079460018' },
        { kind: 'HOME', dialled: '0123', e164: null },
      ],
    });
    expect(terms).toEqual([
      { kind: 0, term: 'ada lovelace' },
      { kind: 1, term: 'lovelace' },
      { kind: 1, term: 'augusta' },
      { kind: 1, term: 'analytical engines ltd' },
      { kind: 1, term: 'engines' },
      { kind: 1, term: 'ltd' },
      { kind: 2, term: '+442079460018' },
      { kind: 2, term: '#0123' },
    ]);
  });
});
