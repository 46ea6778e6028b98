import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { IntegrationStatus } from '../../domain/integration.js';

registerEnumType(IntegrationStatus, {
  name: 'IntegrationStatus',
  description: 'Where the Microsoft 365 integration stands.',
});

@ObjectType('Integration', { description: "The PBX's Microsoft 365 integration." })
export class IntegrationType {
  @Field(() => ID)
  id!: string;

  @Field(() => IntegrationStatus)
  status!: IntegrationStatus;
}
