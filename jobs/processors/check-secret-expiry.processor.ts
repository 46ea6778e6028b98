import { checkSecretExpiry } from '../../src/app/integration.js';
import { checkAllHealth } from '../../src/app/integration-health.js';
import { integrationDeps } from '../../src/app/services.js';
import type { JobName } from '../contracts.js';
import type { Processor } from '../worker.js';
import type { ProcessorDeps } from './index.js';

/**
 * The daily check of every integration: L3's client secret expiry (warnings recorded on the
 * integration), and the live health of its access to Microsoft (issue 11 item 3: the secret,
 * the application permissions, the authorization account's refresh token), recorded as `health`.
 */
export const checkSecretExpiryProcessor =
  (deps: ProcessorDeps): Processor<typeof JobName.CheckSecretExpiry> =>
  async () => {
    const warned = await checkSecretExpiry({ store: deps.openStore(), now: deps.now });
    const unhealthy = await checkAllHealth(integrationDeps(deps.services, deps.openStore()));
    return { checkedAt: deps.now().toISOString(), warned, unhealthy };
  };
