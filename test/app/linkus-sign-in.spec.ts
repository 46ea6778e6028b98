import { describe, expect, it } from 'vitest';
import { microsoftRefusal } from '../../src/app/linkus-sign-in.js';

describe("Microsoft's refusals as Linkus refusal codes (S3)", () => {
  it('AADSTS50057 (account disabled) is USER_DISABLED, wherever Microsoft says it', () => {
    expect(
      microsoftRefusal('invalid_grant', 'AADSTS50057: The user account is disabled.\r\nTrace ID: x'),
    ).toBe('USER_DISABLED');
    expect(
      microsoftRefusal(
        'redemption',
        'Error(s): 50057 - Description: AADSTS50057: The user account is disabled.',
      ),
    ).toBe('USER_DISABLED');
  });
  it('another directory (AADSTS700005 code of another tenant, AADSTS50020 foreign account) is WRONG_DIRECTORY', () => {
    expect(
      microsoftRefusal(
        'invalid_grant',
        'AADSTS700005: Provided Authorization Code is intended to use against other tenant',
      ),
    ).toBe('WRONG_DIRECTORY');
    expect(
      microsoftRefusal('access_denied', "AADSTS50020: User account '{EUII Hidden}' from identity provider"),
    ).toBe('WRONG_DIRECTORY');
  });
  it('any other error is MICROSOFT_ERROR; a lookalike code is not taken for 50057', () => {
    expect(
      microsoftRefusal('access_denied', 'AADSTS65004: User declined to consent to access the app.'),
    ).toBe('MICROSOFT_ERROR');
    expect(microsoftRefusal('login_required', 'AADSTS500571: something else')).toBe('MICROSOFT_ERROR');
    expect(microsoftRefusal('server_error', undefined)).toBe('MICROSOFT_ERROR');
  });
});
