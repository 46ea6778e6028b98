import { describe, expect, it } from 'vitest';
import {
  createConfidentialClient,
  createGraphClient,
  graphDefaultScope,
  graphResource,
  MICROSOFT_CLOUDS,
} from '../../src/m365/microsoft-clients.js';

describe('microsoft clients (pure)', () => {
  it('derives the Graph resource and .default scope from the Graph base URL of any cloud', () => {
    expect(graphDefaultScope(MICROSOFT_CLOUDS.global)).toBe('https://graph.microsoft.com/.default');
    expect(graphDefaultScope(MICROSOFT_CLOUDS.usGovL4)).toBe('https://graph.microsoft.us/.default');
    expect(graphResource(MICROSOFT_CLOUDS.china)).toBe('https://microsoftgraph.chinacloudapi.cn');
    expect(
      graphDefaultScope({
        authorityHost: 'https://localhost:8443',
        graphBaseUrl: 'https://localhost:8443/v1.0',
      }),
    ).toBe('https://localhost:8443/.default');
  });

  it('builds clients without touching the network', () => {
    const cca = createConfidentialClient(
      {
        authorityHost: 'https://localhost:8443/',
        graphBaseUrl: 'https://localhost:8443/v1.0',
        extraCaPem: undefined,
      },
      {
        clientId: '00000000-0000-0000-0000-000000000001',
        tenantId: '00000000-0000-0000-0000-000000000002',
        clientSecret: 's',
      },
    );
    expect(cca).toBeTruthy();
    const graph = createGraphClient(MICROSOFT_CLOUDS.global, async () => 'token');
    expect(graph.api('/users')).toBeTruthy();
  });
});
