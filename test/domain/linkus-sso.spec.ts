import { describe, expect, it } from 'vitest';
import { IntegrationStatus } from '../../src/domain/integration.js';
import {
  classifyLinkusRedirectUri,
  isRegisteredRedirectUri,
  isS256Challenge,
  MAX_LINKUS_REDIRECT_URIS,
  ssoSettingsRefusal,
  ssoUnavailable,
  validateLinkusRedirectUris,
} from '../../src/domain/linkus-sso.js';

describe('Linkus redirect URIs (S1)', () => {
  it.each([
    ['https://linkus.example.com/sso/callback', 'HTTPS'],
    ['https://pbx.example.com:8443/linkus/?tenant=a', 'HTTPS'],
    ['com.yeastar.linkus:/oauth2redirect', 'APP_SCHEME'],
    ['com.yeastar.linkus://callback', 'APP_SCHEME'],
    ['http://localhost/linkus', 'LOOPBACK'],
    ['http://127.0.0.1:5173/callback', 'LOOPBACK'],
    ['http://[::1]:8080/cb', 'LOOPBACK'],
  ])('%s is allowed (%s)', (uri, kind) => {
    expect(classifyLinkusRedirectUri(uri)).toEqual({ kind });
  });

  it.each([
    ['', /empty/],
    ['http://linkus.example.com/cb', /localhost/],
    ['http://10.0.0.5/cb', /localhost/],
    ['https://linkus.example.com/cb#x', /fragment/],
    ['https://user:pw@linkus.example.com/cb', /user name/],
    ['https://linkus.example.com/a b', /blanks/],
    ['javascript:alert(1)', /scheme/],
    ['data:text/html,hi', /scheme/],
    ['file:///etc/passwd', /scheme/],
    ['linkus:/cb', /scheme/],
    ['/relative/path', /absolute/],
    [`https://linkus.example.com/${'a'.repeat(240)}`, /256/],
  ])('%s is refused', (uri, why) => {
    const c = classifyLinkusRedirectUri(uri);
    expect('problem' in c && c.problem).toMatch(why);
  });

  it('a list: each bad entry named, duplicates and too many refused', () => {
    expect(
      validateLinkusRedirectUris(['https://a.example/cb', 'http://b.example/cb', 'https://a.example/cb']),
    ).toEqual([
      { field: 'redirectUris[1]', message: expect.stringMatching(/localhost/) },
      { field: 'redirectUris[2]', message: 'is listed twice' },
    ]);
    const many = Array.from({ length: MAX_LINKUS_REDIRECT_URIS + 1 }, (_, i) => `https://a.example/${i}`);
    expect(validateLinkusRedirectUris(many)).toEqual([
      { field: 'redirectUris', message: 'at most 20 redirect URIs' },
    ]);
    expect(validateLinkusRedirectUris([])).toEqual([]);
  });

  it('a redirect URI matches exactly; a loopback one on any port (RFC 8252)', () => {
    const registered = ['https://linkus.example.com/cb', 'com.yeastar.linkus:/cb', 'http://127.0.0.1/linkus'];
    expect(isRegisteredRedirectUri(registered, 'https://linkus.example.com/cb')).toBe(true);
    expect(isRegisteredRedirectUri(registered, 'https://linkus.example.com/cb/')).toBe(false);
    expect(isRegisteredRedirectUri(registered, 'https://LINKUS.example.com/cb')).toBe(false);
    expect(isRegisteredRedirectUri(registered, 'https://linkus.example.com/cb?x=1')).toBe(false);
    expect(isRegisteredRedirectUri(registered, 'com.yeastar.linkus:/cb')).toBe(true);
    expect(isRegisteredRedirectUri(registered, 'http://127.0.0.1:49152/linkus')).toBe(true);
    expect(isRegisteredRedirectUri(registered, 'http://127.0.0.1:49152/other')).toBe(false);
    expect(isRegisteredRedirectUri(registered, 'http://localhost:49152/linkus')).toBe(false);
    expect(isRegisteredRedirectUri(registered, 'https://linkus.example.com:444/cb')).toBe(false);
  });
});

describe('who may sign in (S3) and who may save (S1)', () => {
  const state = (status: IntegrationStatus, userSyncPaused = false) => ({
    status,
    userSyncPaused,
    groupSyncPaused: false,
  });
  it('a connected integration with SSO on and users not paused; each other case its own code', () => {
    expect(ssoUnavailable(state(IntegrationStatus.CONNECTED), true)).toBeNull();
    expect(ssoUnavailable(state(IntegrationStatus.CONNECTED), false)).toBe('SSO_DISABLED');
    expect(ssoUnavailable(state(IntegrationStatus.CONNECTED, true), true)).toBe('USERS_PAUSED');
    expect(ssoUnavailable(state(IntegrationStatus.DISABLED), true)).toBe('INTEGRATION_DISABLED');
    expect(ssoUnavailable(state(IntegrationStatus.NOT_CONNECTED), true)).toBe('INTEGRATION_NOT_CONNECTED');
    expect(ssoUnavailable(state(IntegrationStatus.AWAITING_CONSENT), true)).toBe('INTEGRATION_NOT_CONNECTED');
  });
  it('settings: connected only', () => {
    expect(ssoSettingsRefusal(IntegrationStatus.CONNECTED)).toBeNull();
    expect(ssoSettingsRefusal(IntegrationStatus.DISABLED)?.code).toBe('INTEGRATION_DISABLED');
    expect(ssoSettingsRefusal(IntegrationStatus.NOT_CONNECTED)?.code).toBe('INTEGRATION_NOT_CONNECTED');
    expect(ssoSettingsRefusal(IntegrationStatus.AWAITING_CONSENT)?.code).toBe('INTEGRATION_NOT_CONNECTED');
  });
  it('a PKCE challenge is 43 base64url characters', () => {
    expect(isS256Challenge('a'.repeat(43))).toBe(true);
    expect(isS256Challenge('a'.repeat(42))).toBe(false);
    expect(isS256Challenge(`${'a'.repeat(42)}=`)).toBe(false);
  });
});
