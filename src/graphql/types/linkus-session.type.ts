import { Field, ID, Int, ObjectType } from 'type-graphql';

@ObjectType('LinkusSession', {
  description:
    'S4: one Linkus session of an extension (one sign-in and its refresh tokens). Never a token: only when it was made, last used, when it expires, and whether and why it ended.',
})
export class LinkusSessionType {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  extensionId!: string;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { description: 'The sign-in, or the last refresh.' })
  lastUsedAt!: Date;

  @Field(() => Date, { description: 'When its refresh tokens stop working, refreshed or not.' })
  expiresAt!: Date;

  @Field(() => Date, { nullable: true })
  revokedAt!: Date | null;

  @Field(() => String, {
    nullable: true,
    description:
      'Why it ended: SIGNED_OUT, ADMIN_REVOKED, CODE_REPLAYED, REFRESH_TOKEN_REUSED, EXTENSION_GONE, INTEGRATION_DISABLED, INTEGRATION_DISCONNECTED.',
  })
  revokedReason!: string | null;
}

@ObjectType('RevokedLinkusSessions')
export class RevokedLinkusSessionsType {
  @Field(() => Int, { description: 'How many live sessions ended.' })
  revoked!: number;

  @Field(() => [LinkusSessionType], { description: "The extension's sessions now, newest first." })
  sessions!: LinkusSessionType[];
}
