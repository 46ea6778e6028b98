import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MicrosoftAppCredentials } from '../../src/app/ports/microsoft.port.js';
import { APP_CLIENTS_MAX, MsalIdentity } from '../../src/m365/identity.adapter.js';
import { removeTestDataDir, startTestSandbox, type TestSandbox } from '../sandbox/sandbox-test.helpers.js';

/**
 * Issue 16 item 4: a gateway serves a fleet, one app-only client per PBX's directory. Each
 * client keeps its app token (msal-node's in-memory cache), so a PBX's runs within the token's
 * hour ask Microsoft for none; past the bound, only the client used least recently goes, not
 * every PBX's at once (the former bound of 1,000 emptied the whole cache when passed).
 * The sandbox counts the token requests it answers.
 */
describe('app-only clients of a fleet (issue 16 item 4)', () => {
  let t: TestSandbox;
  const directories: MicrosoftAppCredentials[] = [];

  beforeAll(async () => {
    t = await startTestSandbox({ users: 5 });
    const { clientId, clientSecret, tenantId } = t.sandbox.info;
    directories.push({ clientId, clientSecret, tenantId });
    for (let i = 0; i < 3; i++) {
      const other = await t.sandbox.admin.addTenant({ users: 3, provisionApps: [clientId] });
      directories.push({ clientId, clientSecret, tenantId: other.tenantId });
    }
  });
  afterAll(async () => {
    await t?.close();
    removeTestDataDir();
  });

  const tokenRequests = async () => (await t.sandbox.admin.stats()).tokenRequests;
  /** How many token requests getting an app token for each of `apps` (in order) costs. */
  const cost = async (identity: MsalIdentity, ...apps: MicrosoftAppCredentials[]) => {
    const before = await tokenRequests();
    for (const app of apps) expect(await identity.appToken(app)).toBeTruthy();
    return (await tokenRequests()) - before;
  };

  it('past its bound, forgets the directory used least recently, and only that one', async () => {
    const [a, b, c, d] = directories as [
      MicrosoftAppCredentials,
      MicrosoftAppCredentials,
      MicrosoftAppCredentials,
      MicrosoftAppCredentials,
    ];
    const identity = new MsalIdentity(t.endpoints, 3);
    expect(await cost(identity, a, b, c)).toBe(3);
    // Cached: no request.
    expect(await cost(identity, a, b, c)).toBe(0);
    // a is used again, so b is now the least recently used.
    expect(await cost(identity, a)).toBe(0);
    // A fourth directory: b's client goes; a's and c's stay.
    expect(await cost(identity, d)).toBe(1);
    expect(await cost(identity, a, c, d)).toBe(0);
    expect(await cost(identity, b)).toBe(1);
  });

  it('keeps a client per PBX of a fleet of thousands', () => {
    expect(APP_CLIENTS_MAX).toBeGreaterThanOrEqual(10_000);
  });
});
