import { resealStoredSecrets } from '../../src/app/secret-box.js';
import type { JobName } from '../contracts.js';
import type { Processor } from '../worker.js';
import type { ProcessorDeps } from './index.js';

/**
 * Key rotation in the background: every stored secret sealed with an older key of SECRET_KEY
 * is sealed again with the current one (compare-and-set, while gateways run). Queued by each
 * worker at start when SECRET_KEY lists older keys, and when the key file changes.
 */
export const resealSecretsProcessor =
  (deps: ProcessorDeps): Processor<typeof JobName.ResealSecrets> =>
  async () => {
    const report = await resealStoredSecrets(deps.openStore(), deps.services.secrets);
    const level = report.unreadable.length || report.remaining ? 'warn' : 'info';
    deps.logger[level](
      {
        keyId: deps.services.secrets.keyId,
        resealed: report.resealed,
        current: report.current,
        unreadable: report.unreadable,
        remaining: report.remaining,
      },
      report.unreadable.length
        ? 'secrets re-sealed with the current key; some open with no configured key'
        : 'secrets re-sealed with the current key',
    );
    return {
      resealed: report.resealed,
      current: report.current,
      unreadable: report.unreadable.length,
      remaining: report.remaining,
    };
  };
