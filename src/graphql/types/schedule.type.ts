import { Field, InputType, ObjectType, registerEnumType } from 'type-graphql';

export enum ScheduleFrequencyEnum {
  DAILY = 'DAILY',
  WEEKLY = 'WEEKLY',
}
export enum WeekdayEnum {
  MON = 'MON',
  TUE = 'TUE',
  WED = 'WED',
  THU = 'THU',
  FRI = 'FRI',
  SAT = 'SAT',
  SUN = 'SUN',
}
registerEnumType(ScheduleFrequencyEnum, {
  name: 'ScheduleFrequency',
  description: 'T1: DAILY, or WEEKLY on chosen days.',
});
registerEnumType(WeekdayEnum, { name: 'Weekday' });

@InputType('ScheduleInput', { description: "T1: when the PBX syncs on its own, in the PBX's time zone." })
export class ScheduleInput {
  @Field(() => ScheduleFrequencyEnum)
  frequency!: ScheduleFrequencyEnum;

  @Field(() => [WeekdayEnum], {
    nullable: true,
    description: 'WEEKLY: the days it runs on (at least one). Ignored for DAILY.',
  })
  days?: WeekdayEnum[] | null;

  @Field(() => String, {
    description: 'Local time of day in the PBX time zone, HH:MM (24-hour), e.g. 00:30.',
  })
  time!: string;
}

@ObjectType('Schedule', {
  description:
    'T1: when the PBX syncs on its own (default daily 00:30). Across daylight-saving changes it runs once a day: ' +
    'a time that does not exist that day runs at the first valid minute after it; one that happens twice, at the first.',
})
export class ScheduleType {
  @Field(() => ScheduleFrequencyEnum)
  frequency!: ScheduleFrequencyEnum;

  @Field(() => [WeekdayEnum], { description: 'WEEKLY: the days, Monday first; empty for DAILY.' })
  days!: WeekdayEnum[];

  @Field(() => String, { description: 'Local time of day in timeZone, HH:MM (24-hour).' })
  time!: string;

  @Field(() => String, { description: "The PBX's IANA time zone (change it with updatePbx)." })
  timeZone!: string;

  @Field(() => Date, { description: 'The next scheduled run.' })
  nextRunAt!: Date;
}
