import { Arg, Authorized, ID, Resolver, Root, Subscription } from 'type-graphql';
import type { SyncRunData } from '../../app/ports/sync.port.js';
import { watchSyncProgress } from '../../app/sync-progress.js';
import { ApiRole } from '../../domain/access.js';
import type { GraphQLContext } from '../context.js';
import { toRunView } from '../sync.mapping.js';
import { SyncRunType } from '../types/sync.type.js';

@Resolver()
export class SyncProgressResolver {
  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER)
  @Subscription(() => SyncRunType, {
    description:
      "Live snapshots of a sync run (or, without runId, of every run of the caller's PBX): phase, done/total and counts. The current snapshot comes first; a run's stream ends with SUCCEEDED, FAILED or HELD.",
    subscribe: ({ args, context }) => {
      const ctx = context as GraphQLContext;
      return watchSyncProgress(
        ctx.store,
        ctx.services.events,
        ctx.caller.pbxId,
        (args.runId as string) ?? null,
      );
    },
  })
  syncProgress(@Root() run: SyncRunData, @Arg('runId', () => ID, { nullable: true }) _runId?: string | null) {
    return toRunView(run);
  }
}
