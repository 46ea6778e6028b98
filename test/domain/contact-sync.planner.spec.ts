import { describe, expect, it } from 'vitest';
import {
  type ContactDeltaRecord,
  contactProblem,
  type KnownContacts,
  mailboxChangeSteps,
  type OutlookContact,
  planContactPage,
  type SyncedMailbox,
  unseenContacts,
} from '../../src/domain/contact-sync.planner.js';
import type { DirectoryUser } from '../../src/domain/directory.types.js';
import { createDirectorySnapshot } from '../../src/domain/directory-delta.js';
import { runSteps } from '../../src/domain/steps.js';
import type { ContactSyncRule } from '../../src/domain/sync-rule.types.js';
import { validateContactSyncRule } from '../../src/domain/sync-rule.validator.js';
import { group, NOW, syncedExt, user } from './domain.fixtures.js';

const folder = { mailboxId: 'u1', folderId: 'f1' };
/** A stand-in normaliser: digits with a +1 for numbers without a country code. */
const normalise = (d: string) => {
  const digits = d.replace(/[^\d+]/g, '');
  if (!/\d{4,}/.test(digits)) return null;
  return digits.startsWith('+') ? digits : `+1${digits}`;
};

function contact(id: string, over: Partial<OutlookContact> = {}): OutlookContact {
  return {
    id,
    changeKey: `ck-${id}`,
    givenName: `Given ${id}`,
    surname: `Sur ${id}`,
    displayName: `Given ${id} Sur ${id}`,
    companyName: null,
    jobTitle: null,
    mobilePhone: '(415) 555-0100',
    homePhones: [],
    businessPhones: [],
    emailAddresses: [],
    ...over,
  };
}
const changed = (c: OutlookContact): ContactDeltaRecord => ({ kind: 'CHANGED', contact: c });
const page = (records: ContactDeltaRecord[], known: KnownContacts = new Map()) =>
  planContactPage({ folder, records, known, normalise });

describe('C4: which contacts are complete', () => {
  it('a contact with a first or a last name and a mobile, home or business number is complete', () => {
    expect(contactProblem(contact('a', { givenName: null }))).toBeNull();
    expect(contactProblem(contact('a', { surname: '  ' }))).toBeNull();
    expect(contactProblem(contact('a', { mobilePhone: null, homePhones: ['020 7946 0000'] }))).toBeNull();
    expect(
      contactProblem(contact('a', { mobilePhone: null, businessPhones: ['+44 20 7946 0001'] })),
    ).toBeNull();
  });
  it('without first and last name: NO_NAME; without any number: NO_PHONE', () => {
    expect(contactProblem(contact('a', { givenName: ' ', surname: null }))?.reason).toBe('NO_NAME');
    expect(
      contactProblem(contact('a', { mobilePhone: null, homePhones: [''], businessPhones: [] }))?.reason,
    ).toBe('NO_PHONE');
  });
});

describe('planContactPage: one page of a folder against the PBX', () => {
  it('new complete contacts are created with numbers as dialled and in E.164', () => {
    const p = page([changed(contact('b', { businessPhones: ['212 555 0199'] })), changed(contact('a'))]);
    expect(p.creates.map((c) => c.source.contactId)).toEqual(['a', 'b']);
    expect(p.creates[1]?.numbers).toEqual([
      { kind: 'MOBILE', dialled: '(415) 555-0100', e164: '+14155550100' },
      { kind: 'BUSINESS', dialled: '212 555 0199', e164: '+12125550199' },
    ]);
    expect(p.creates[0]?.source).toEqual({
      mailboxId: 'u1',
      folderId: 'f1',
      contactId: 'a',
      changeKey: 'ck-a',
    });
  });
  it('a replayed page with the same changeKeys plans nothing', () => {
    const known = new Map([['a', { id: 'pa', changeKey: 'ck-a' }]]);
    const p = page([changed(contact('a'))], known);
    expect(p).toMatchObject({ creates: [], updates: [], deletes: [], skipped: [], unchanged: 1 });
  });
  it('a changed contact (new changeKey) is updated', () => {
    const known = new Map([['a', { id: 'pa', changeKey: 'old' }]]);
    expect(page([changed(contact('a'))], known).updates.map((c) => c.source.contactId)).toEqual(['a']);
  });
  it('a removed contact the PBX holds is deleted; one it never held is ignored', () => {
    const known = new Map([['a', { id: 'pa', changeKey: 'ck-a' }]]);
    const p = page(
      [
        { kind: 'REMOVED', id: 'a' },
        { kind: 'REMOVED', id: 'zz' },
      ],
      known,
    );
    expect(p.deletes).toEqual(['a']);
  });
  it('an incomplete contact is skipped with its reason; one made incomplete is deleted from the PBX too', () => {
    const known = new Map([['a', { id: 'pa', changeKey: 'ck-a' }]]);
    const p = page(
      [
        changed(contact('a', { changeKey: 'ck2', mobilePhone: null })),
        changed(contact('b', { givenName: null, surname: null, displayName: 'Acme desk' })),
      ],
      known,
    );
    expect(p.deletes).toEqual(['a']);
    expect(p.skipped).toEqual([
      expect.objectContaining({ contactId: 'a', reason: 'NO_PHONE', removed: true }),
      expect.objectContaining({ contactId: 'b', reason: 'NO_NAME', name: 'Acme desk', removed: false }),
    ]);
    expect(p.creates).toEqual([]);
  });
  it('the last record of a contact within a page wins', () => {
    const p = page([changed(contact('a')), { kind: 'REMOVED', id: 'a' }]);
    expect(p.creates).toEqual([]);
  });
  it('after a full round, what the PBX holds and the round did not see goes', () => {
    const known = new Map([
      ['a', { id: 'pa', changeKey: null }],
      ['b', { id: 'pb', changeKey: null }],
    ]);
    expect(unseenContacts(known, new Set(['b']))).toEqual(['a']);
  });
});

const rule = (over: Partial<ContactSyncRule> = {}): ContactSyncRule => ({
  personal: { enabled: true, range: { type: 'ALL' } },
  shared: { enabled: false, range: { type: 'ALL' }, phonebookName: 'Shared' },
  ...over,
});
const shared = (id: string, over: Partial<DirectoryUser> = {}) =>
  user(id, { accountEnabled: false, mail: `${id}@contoso.test`, displayName: `Box ${id}`, ...over });

function planMailboxes(
  users: DirectoryUser[],
  r: ContactSyncRule,
  synced: SyncedMailbox[] = [],
  groups = [group('g1', { memberUserIds: ['u1'] })],
) {
  const u1 = users.find((u) => u.id === 'u1');
  const u2 = users.find((u) => u.id === 'u2');
  const extensions = [u1 && syncedExt(u1, '1001'), u2 && syncedExt(u2, '1002')].filter(
    (e) => e !== undefined,
  );
  return runSteps(
    mailboxChangeSteps({
      directory: createDirectorySnapshot(users, groups),
      extensions,
      synced,
      rule: r,
      now: NOW,
    }),
  ).items.map(
    (i) =>
      `${i.action} ${i.kind} ${i.mailboxId} ${i.reason}${i.phonebookName ? ` "${i.phonebookName}"` : ''}`,
  );
}

describe('mailboxChangeSteps: the mailboxes of a run (C1, C3)', () => {
  const users = [user('u1'), user('u2'), user('u3'), shared('s1'), shared('s2')];

  it('C1 all synced users: each synced user is one mailbox, read in full the first time; an unsynced user is none', () => {
    expect(planMailboxes(users, rule())).toEqual([
      'CREATE PERSONAL u1 FIRST_SYNC',
      'CREATE PERSONAL u2 FIRST_SYNC',
    ]);
  });
  it('re-sync with no change plans a delta round per mailbox and no delete', () => {
    const synced: SyncedMailbox[] = ['u1', 'u2'].map((id) => ({
      mailboxId: id,
      kind: 'PERSONAL',
      owner: { kind: 'EXTENSION', extensionId: `ext-${id}` },
    }));
    expect(planMailboxes(users, rule(), synced)).toEqual([
      'UPDATE PERSONAL u1 DELTA',
      'UPDATE PERSONAL u2 DELTA',
    ]);
  });
  it('C1 by groups: only synced users in the groups; one leaving the range loses its contacts', () => {
    const synced: SyncedMailbox[] = [
      { mailboxId: 'u2', kind: 'PERSONAL', owner: { kind: 'EXTENSION', extensionId: 'ext-u2' } },
    ];
    expect(
      planMailboxes(
        users,
        rule({ personal: { enabled: true, range: { type: 'BY_GROUPS', groupIds: ['g1'] } } }),
        synced,
      ),
    ).toEqual(['DELETE PERSONAL u2 NOT_IN_RANGE', 'CREATE PERSONAL u1 FIRST_SYNC']);
  });
  it('a user no longer synced (no extension) takes their contacts along; personal off drops every one', () => {
    const synced: SyncedMailbox[] = [
      { mailboxId: 'u3', kind: 'PERSONAL', owner: { kind: 'EXTENSION', extensionId: 'ext-u3' } },
    ];
    expect(planMailboxes(users, rule(), synced)).toContain('DELETE PERSONAL u3 USER_NOT_SYNCED');
    const off = rule({ personal: { enabled: false, range: { type: 'ALL' } } });
    expect(planMailboxes(users, off, synced)).toEqual(['DELETE PERSONAL u3 PERSONAL_OFF']);
  });
  it('a user whose extension was made again moves to the new extension (old owner dropped)', () => {
    const synced: SyncedMailbox[] = [
      { mailboxId: 'u1', kind: 'PERSONAL', owner: { kind: 'EXTENSION', extensionId: 'old' } },
    ];
    expect(planMailboxes(users, rule(), synced)).toEqual([
      'DELETE PERSONAL u1 OWNER_CHANGED',
      'CREATE PERSONAL u1 FIRST_SYNC',
      'CREATE PERSONAL u2 FIRST_SYNC',
    ]);
  });
  it('C3 all shared mailboxes (sign-in blocked, with a mailbox): one phonebook each, named after the admin name and the mailbox', () => {
    const r = rule({
      personal: { enabled: false, range: { type: 'ALL' } },
      shared: { enabled: true, range: { type: 'ALL' }, phonebookName: 'Company' },
    });
    expect(planMailboxes(users, r)).toEqual([
      'CREATE SHARED s1 FIRST_SYNC "Company - Box s1"',
      'CREATE SHARED s2 FIRST_SYNC "Company - Box s2"',
    ]);
  });
  it('C3 specific shared mailboxes: one mailbox takes the name as given; one left out loses its phonebook; an unknown id is reported', () => {
    const r = rule({
      personal: { enabled: false, range: { type: 'ALL' } },
      shared: {
        enabled: true,
        range: { type: 'SPECIFIC', mailboxIds: ['s1', 'gone'] },
        phonebookName: 'Company',
      },
    });
    const synced: SyncedMailbox[] = [
      { mailboxId: 's2', kind: 'SHARED', owner: { kind: 'PHONEBOOK', phonebookId: 'pb2' } },
    ];
    expect(planMailboxes(users, r, synced)).toEqual([
      'DELETE SHARED s2 NOT_IN_RANGE',
      'CREATE SHARED s1 FIRST_SYNC "Company"',
      'SKIP SHARED gone MAILBOX_NOT_FOUND',
    ]);
  });
  it('the plan is the same whatever the input order', () => {
    const a = planMailboxes(users, rule());
    const b = planMailboxes([...users].reverse(), rule());
    expect(a).toEqual(b);
  });
});

describe('validateContactSyncRule', () => {
  it('names each problem by its field', () => {
    const problems = validateContactSyncRule(
      {
        personal: { enabled: true, range: { type: 'BY_GROUPS', groupIds: [] } },
        shared: { enabled: true, range: { type: 'SPECIFIC', mailboxIds: ['x'] }, phonebookName: ' ' },
      },
      { knownSharedMailboxIds: new Set(['s1']) },
    );
    expect(problems.map((p) => p.field)).toEqual([
      'personal.range.groupIds',
      'shared.phonebookName',
      'shared.range.mailboxIds',
    ]);
  });
  it('a rule with both halves off is valid (nothing is synced)', () => {
    expect(
      validateContactSyncRule({
        personal: { enabled: false, range: { type: 'ALL' } },
        shared: { enabled: false, range: { type: 'ALL' }, phonebookName: '' },
      }),
    ).toEqual([]);
  });
});
