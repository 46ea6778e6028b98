import { Arg, Authorized, Ctx, FieldResolver, Int, Resolver, Root } from 'type-graphql';
import { pageRequest } from '../../app/extensions.js';
import { pageWelcomeEmails, welcomeEmailCounts } from '../../app/welcome-email.js';
import { ApiRole } from '../../domain/access.js';
import type { GraphQLContext } from '../context.js';
import { toConnection } from '../types/page-info.type.js';
import { SyncRunType } from '../types/sync.type.js';
import { WelcomeEmailConnection, WelcomeEmailStatusEnum } from '../types/welcome-email.type.js';

/** U6: `SyncRun.welcomeEmails`, the welcome emails a run queued and how each went. */
@Resolver(() => SyncRunType)
export class WelcomeEmailResolver {
  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER)
  @FieldResolver(() => WelcomeEmailConnection, {
    description:
      'U6: the Linkus welcome emails of the extensions this run created, in the order queued; filter by status.',
  })
  async welcomeEmails(
    @Root() run: SyncRunType,
    @Arg('status', () => WelcomeEmailStatusEnum, { nullable: true }) status: WelcomeEmailStatusEnum | null,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    const pbxId = ctx.caller.pbxId;
    const page = await pageWelcomeEmails(ctx.store, pbxId, run.id, { status }, pageRequest({ first, after }));
    const counts = await welcomeEmailCounts(ctx.store, pbxId, run.id);
    return {
      ...toConnection(page),
      counts: { queued: counts.QUEUED, sent: counts.SENT, failed: counts.FAILED },
    };
  }
}
