import { Arg, Authorized, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { getSchedule, type ScheduleView, saveSchedule } from '../../app/schedule.js';
import { scheduleDeps } from '../../app/services.js';
import { ApiRole } from '../../domain/access.js';
import type { GraphQLContext } from '../context.js';
import {
  ScheduleFrequencyEnum,
  ScheduleInput,
  ScheduleType,
  type WeekdayEnum,
} from '../types/schedule.type.js';

const toView = (s: ScheduleView): ScheduleType => ({
  frequency: s.frequency as ScheduleFrequencyEnum,
  days: [...s.days] as WeekdayEnum[],
  time: s.time,
  timeZone: s.timeZone,
  nextRunAt: s.nextRunAt,
});

@Resolver(() => ScheduleType)
export class ScheduleResolver {
  @Authorized(ApiRole.ADMIN, ApiRole.VIEWER)
  @Query(() => ScheduleType, { description: 'T1: when the PBX syncs on its own, and the next run.' })
  async schedule(@Ctx() ctx: GraphQLContext) {
    return toView(await getSchedule(scheduleDeps(ctx.services, ctx.store), ctx.caller));
  }

  @Authorized(ApiRole.ADMIN)
  @Mutation(() => ScheduleType, {
    description:
      "T1: saves the schedule, in the PBX's time zone; the next run moves at once. INVALID_INPUT names the field; " +
      'INVALID_STATE while the integration is disabled (L6).',
  })
  async saveSchedule(@Arg('input', () => ScheduleInput) input: ScheduleInput, @Ctx() ctx: GraphQLContext) {
    const saved = await saveSchedule(scheduleDeps(ctx.services, ctx.store), ctx.caller, {
      frequency: input.frequency,
      days: input.days ?? [],
      time: input.time,
    });
    return toView(saved);
  }
}
