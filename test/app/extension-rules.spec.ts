import { describe, expect, it } from 'vitest';
import {
  isValidEmail,
  isValidMobileNumber,
  lockedExtensionChanges,
  lockedGroupChanges,
  normaliseExtensionFields,
  normaliseGroupName,
} from '../../src/domain/extension-rules.js';

const synced = {
  source: 'SYNCED' as const,
  firstName: 'Ann',
  lastName: 'Archer',
  email: 'Ann@Example.com',
  mobileNumber: '+1 555 0100',
  jobTitle: null,
};

describe('extension rules (U9)', () => {
  it('normalises a new extension and applies the defaults', () => {
    const { value, problems } = normaliseExtensionFields(
      { number: ' 1001 ', firstName: ' Ann ', email: '  ' },
      'create',
    );
    expect(problems).toEqual([]);
    expect(value).toEqual({
      number: '1001',
      firstName: 'Ann',
      lastName: '',
      email: null,
      mobileNumber: null,
      jobTitle: null,
      callerIdName: null,
      notes: null,
      voicemailEnabled: true,
    });
  });

  it('reports every problem of a create at once', () => {
    const { problems } = normaliseExtensionFields(
      { number: '0800', firstName: '', email: 'a@b', mobileNumber: 'abc', notes: 'x'.repeat(2001) },
      'create',
    );
    expect(problems.map((p) => p.field)).toEqual(['number', 'firstName', 'email', 'mobileNumber', 'notes']);
  });

  it('checks only the fields an update carries; null clears, but not a required field', () => {
    expect(normaliseExtensionFields({ jobTitle: null }, 'update')).toEqual({
      value: { jobTitle: null },
      problems: [],
    });
    expect(normaliseExtensionFields({ firstName: null }, 'update').problems[0].field).toBe('firstName');
    expect(normaliseExtensionFields({ voicemailEnabled: null }, 'update').problems[0].field).toBe(
      'voicemailEnabled',
    );
    expect(normaliseExtensionFields({ lastName: null }, 'update').value).toEqual({ lastName: '' });
  });

  it.each([
    ['1', true],
    ['9999999', true],
    ['10000000', false],
    ['0', false],
    ['012', false],
    ['12 3', false],
  ])('number %s valid: %s', (number, ok) => {
    expect(normaliseExtensionFields({ number }, 'update').problems.length === 0).toBe(ok);
  });

  it('knows an email and a phone number when it sees one', () => {
    expect(isValidEmail('a.b+c@example.co.uk')).toBe(true);
    for (const bad of ['a@b', 'a b@example.com', '@example.com', 'a@@example.com', 'a@example.']) {
      expect(isValidEmail(bad)).toBe(false);
    }
    expect(isValidMobileNumber('+49 (30) 1234-5678')).toBe(true);
    expect(isValidMobileNumber('+')).toBe(false);
    expect(isValidMobileNumber('7')).toBe(false);
    expect(isValidMobileNumber('call me')).toBe(false);
  });

  it('names the locked fields a patch changes on a synced extension, in a fixed order', () => {
    expect(
      lockedExtensionChanges(synced, { jobTitle: 'X', firstName: 'Y', notes: 'n', number: '2' }),
    ).toEqual(['firstName', 'jobTitle']);
    // The same values (email in any case) are no change.
    expect(
      lockedExtensionChanges(synced, {
        firstName: 'Ann',
        email: 'ann@example.COM',
        jobTitle: null,
        lastName: 'Archer',
      }),
    ).toEqual([]);
    expect(lockedExtensionChanges(synced, { email: null, mobileNumber: null })).toEqual([
      'email',
      'mobileNumber',
    ]);
    expect(lockedExtensionChanges({ ...synced, source: 'MANUAL' }, { firstName: 'Z' })).toEqual([]);
  });
});

describe('extension group rules (G4)', () => {
  const group = { source: 'SYNCED' as const, name: 'Sales', memberExtensionIds: ['a', 'b'] };

  it('locks name and members of a synced group, ignoring member order and unchanged values', () => {
    expect(lockedGroupChanges(group, { name: 'Sales', memberIds: ['b', 'a'] })).toEqual([]);
    expect(lockedGroupChanges(group, { name: 'Other' })).toEqual(['name']);
    expect(lockedGroupChanges(group, { memberIds: ['a'] })).toEqual(['memberIds']);
    expect(lockedGroupChanges(group, { memberIds: ['a', 'c'] })).toEqual(['memberIds']);
    expect(lockedGroupChanges({ ...group, source: 'MANUAL' }, { name: 'Other', memberIds: [] })).toEqual([]);
  });

  it('requires a name of at most 128 characters', () => {
    expect(normaliseGroupName('  Sales ')).toEqual({ value: 'Sales' });
    expect(normaliseGroupName(null).problem?.field).toBe('name');
    expect(normaliseGroupName('x'.repeat(129)).problem?.field).toBe('name');
  });
});
