import type { AuthChecker } from 'type-graphql';
import type { GraphQLContext } from './context.js';
import { forbidden } from './errors.js';

/**
 * `@Authorized(ApiRole.ADMIN, ...)` on a field lists the roles that may use it.
 * Authentication itself happens before GraphQL runs (HTTP 401 / WS 4401).
 */
export const authChecker: AuthChecker<GraphQLContext> = ({ context }, roles) => {
  if (roles.length === 0 || roles.includes(context.caller.role)) return true;
  throw forbidden(`This needs the ${roles.join(' or ')} role; your key has ${context.caller.role}.`);
};
