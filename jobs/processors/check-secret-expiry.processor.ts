import { checkSecretExpiry } from '../../src/app/integration.js';
import type { JobName } from '../contracts.js';
import type { Processor } from '../worker.js';
import type { ProcessorDeps } from './index.js';

/** L3: the daily look at every PBX's client secret expiry; warnings are recorded on the integration. */
export const checkSecretExpiryProcessor =
  (deps: ProcessorDeps): Processor<typeof JobName.CheckSecretExpiry> =>
  async () => {
    const warned = await checkSecretExpiry({ store: deps.openStore(), now: deps.now });
    return { checkedAt: deps.now().toISOString(), warned };
  };
