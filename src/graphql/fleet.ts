import { Authorized, Extensions } from 'type-graphql';
import { ApiRole } from '../domain/access.js';

/** The field extension that marks a fleet operation (read by the audit hook). */
const FLEET = 'fleet';

/**
 * Marks a field as a fleet operation: for OPERATOR keys only (a PBX's key gets FORBIDDEN), and
 * audited in the fleet's own log rather than a PBX's.
 */
export function FleetOnly(): MethodDecorator {
  const authorized = Authorized(ApiRole.OPERATOR) as MethodDecorator;
  const extension = Extensions({ [FLEET]: true }) as MethodDecorator;
  return (target, key, descriptor) => {
    authorized(target, key, descriptor);
    extension(target, key, descriptor);
  };
}

/** Whether a schema field is a fleet operation. */
export function isFleetField(field: { extensions?: Record<string, unknown> | null }): boolean {
  return field.extensions?.[FLEET] === true;
}
