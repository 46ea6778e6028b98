import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';

/** The GraphQL face of the domain's extension presence statuses (src/domain/presence.mapping.ts). */
export const ExtensionPresenceStatusEnum = {
  AVAILABLE: 'AVAILABLE',
  AWAY: 'AWAY',
  DO_NOT_DISTURB: 'DO_NOT_DISTURB',
  LUNCH_BREAK: 'LUNCH_BREAK',
  BUSINESS_TRIP: 'BUSINESS_TRIP',
  OFF_WORK: 'OFF_WORK',
} as const;
export type ExtensionPresenceStatusValue = keyof typeof ExtensionPresenceStatusEnum;

registerEnumType(ExtensionPresenceStatusEnum, {
  name: 'ExtensionPresenceStatus',
  description: "An extension's presence on the PBX (P2).",
});

export const PresenceSourceEnum = { TEAMS: 'TEAMS', MANUAL: 'MANUAL' } as const;
registerEnumType(PresenceSourceEnum, {
  name: 'PresenceSource',
  description: 'Who set the presence',
  valuesConfig: {
    TEAMS: { description: "The user's Teams presence, through the mapping (P2)." },
    MANUAL: { description: 'Set by hand on the PBX; it stays until the Teams presence changes again (P3).' },
  },
});

@ObjectType('PresenceMapping', {
  description:
    'P2: Teams presence → extension presence. The default: Available→AVAILABLE, Busy→AWAY, Do not disturb→DO_NOT_DISTURB, Be right back→AWAY, Appear away→OFF_WORK, Appear offline→OFF_WORK.',
})
export class PresenceMappingType {
  @Field(() => ExtensionPresenceStatusEnum, { description: 'Teams Available (and AvailableIdle).' })
  available!: ExtensionPresenceStatusValue;
  @Field(() => ExtensionPresenceStatusEnum, {
    description: 'Teams Busy (in a call, in a meeting, BusyIdle).',
  })
  busy!: ExtensionPresenceStatusValue;
  @Field(() => ExtensionPresenceStatusEnum, { description: 'Teams Do not disturb (presenting too).' })
  doNotDisturb!: ExtensionPresenceStatusValue;
  @Field(() => ExtensionPresenceStatusEnum, { description: 'Teams Be right back.' })
  beRightBack!: ExtensionPresenceStatusValue;
  @Field(() => ExtensionPresenceStatusEnum, {
    description: 'Teams Appear away (and Away when idle: Graph does not tell them apart).',
  })
  appearAway!: ExtensionPresenceStatusValue;
  @Field(() => ExtensionPresenceStatusEnum, { description: 'Teams Appear offline (and signed out).' })
  appearOffline!: ExtensionPresenceStatusValue;
}

@InputType('PresenceMappingInput', {
  description: 'P2: the states to map otherwise than the default; a state left out follows the default.',
})
export class PresenceMappingInput {
  @Field(() => ExtensionPresenceStatusEnum, { nullable: true })
  available?: ExtensionPresenceStatusValue | null;
  @Field(() => ExtensionPresenceStatusEnum, { nullable: true })
  busy?: ExtensionPresenceStatusValue | null;
  @Field(() => ExtensionPresenceStatusEnum, { nullable: true })
  doNotDisturb?: ExtensionPresenceStatusValue | null;
  @Field(() => ExtensionPresenceStatusEnum, { nullable: true })
  beRightBack?: ExtensionPresenceStatusValue | null;
  @Field(() => ExtensionPresenceStatusEnum, { nullable: true })
  appearAway?: ExtensionPresenceStatusValue | null;
  @Field(() => ExtensionPresenceStatusEnum, { nullable: true })
  appearOffline?: ExtensionPresenceStatusValue | null;
}

@ObjectType('ExtensionPresence', {
  description: "P1–P3: an extension's presence, its switch and its mapping.",
})
export class ExtensionPresenceType {
  @Field(() => ID)
  extensionId!: string;
  @Field(() => ExtensionPresenceStatusEnum, {
    nullable: true,
    description: 'Null until Teams (or the PBX) set one.',
  })
  status!: ExtensionPresenceStatusValue | null;
  @Field(() => PresenceSourceEnum, { nullable: true })
  source!: 'TEAMS' | 'MANUAL' | null;
  @Field(() => String, { nullable: true, description: "Graph's availability, as last read." })
  teamsAvailability!: string | null;
  @Field(() => String, { nullable: true, description: "Graph's activity, as last read." })
  teamsActivity!: string | null;
  @Field(() => Date, { nullable: true })
  changedAt!: Date | null;
  @Field(() => Boolean, { description: 'P2: presence sync on for this extension (on unless switched off).' })
  enabled!: boolean;
  @Field(() => PresenceMappingType, { description: 'P2: the mapping in force (the default where not set).' })
  mapping!: PresenceMappingType;
}

@ObjectType('PresenceSync', { description: 'P1: presence sync of the integration.' })
export class PresenceSyncType {
  @Field(() => Boolean)
  enabled!: boolean;
  @Field(() => Int, { description: 'Synced users whose presence is read.' })
  users!: number;
  @Field(() => Int, {
    description:
      'How often they are read (ms): within half of Graph’s 1,500 requests per 30 s, 650 users a request.',
  })
  intervalMs!: number;
  @Field(() => Date, { nullable: true })
  updatedAt!: Date | null;
  @Field(() => String, {
    description:
      'Issue 15: SUBSCRIPTION when a presence subscription (delegated, the authorization account) covers `subscribedUsers` and the others are polled; POLL when everyone is polled.',
  })
  mode!: string;
  @Field(() => Int, {
    description:
      'Users the presence subscription covers (their changes are notified; they are also read every safety-net period).',
  })
  subscribedUsers!: number;
  @Field(() => Int, { description: 'Users read every round with getPresencesByUserId.' })
  polledUsers!: number;
  @Field(() => String, {
    nullable: true,
    description: 'While presence is on and everyone is polled: why there is no presence subscription.',
  })
  fallbackReason!: string | null;
  @Field(() => Date, { nullable: true })
  subscriptionExpiresAt!: Date | null;
}

@ObjectType('ExtensionPresenceChange', { description: "An extension's presence changed." })
export class ExtensionPresenceChangeType {
  @Field(() => ID)
  extensionId!: string;
  @Field(() => ExtensionPresenceStatusEnum, { nullable: true })
  status!: ExtensionPresenceStatusValue | null;
  @Field(() => PresenceSourceEnum, { nullable: true })
  source!: 'TEAMS' | 'MANUAL' | null;
  @Field(() => String, { nullable: true })
  teamsAvailability!: string | null;
  @Field(() => String, { nullable: true })
  teamsActivity!: string | null;
  @Field(() => Date, { nullable: true })
  changedAt!: Date | null;
}
