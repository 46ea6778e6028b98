import { ensurePresencePoll, pollPresence } from '../../src/app/presence-sync.js';
import { presenceDeps } from '../../src/app/services.js';
import type { JobName } from '../contracts.js';
import type { Processor } from '../worker.js';
import type { ProcessorDeps } from './index.js';

/** P1–P3: one round of a PBX's presence poll; the interval follows the number of users. */
export const pollPresenceProcessor =
  (deps: ProcessorDeps): Processor<typeof JobName.PollPresence> =>
  async ({ pbxId }) => {
    const d = presenceDeps(deps.services, deps.openStore());
    const r = await pollPresence(d, pbxId);
    if (r.outcome === 'POLLED') await ensurePresencePoll(d, pbxId);
    return {
      outcome: r.outcome,
      read: r.read,
      changed: r.changed,
      requests: r.requests,
      covered: r.covered,
      notified: r.notified,
    };
  };

/** P1–P3: every PBX with presence on gets its repeating poll (at start, hourly: a Redis that lost it). */
export const ensurePresencePollsProcessor =
  (deps: ProcessorDeps): Processor<typeof JobName.EnsurePresencePolls> =>
  async () => {
    const ids = await deps.openStore().presence.enabledPbxIds();
    for (const id of ids) await ensurePresencePoll(presenceDeps(deps.services, deps.openStore()), id);
    return { pbxs: ids.length };
  };
