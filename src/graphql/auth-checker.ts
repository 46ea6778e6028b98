import type { AuthChecker } from 'type-graphql';
import { AppError } from '../app/errors.js';
import { ApiRole } from '../domain/access.js';
import { type GraphQLContext, PBX_HEADER, pbxRequired } from './context.js';
import { forbidden } from './errors.js';

/**
 * `@Authorized(...)` on a field lists the roles that may use it. Authentication itself
 * happens before GraphQL runs (HTTP 401 / WS 4401).
 *
 * - A fleet field (`@FleetOnly()`, roles `[OPERATOR]`) is for OPERATOR keys only: a PBX's
 *   key gets FORBIDDEN.
 * - Every other field acts on one PBX. A PBX's key passes when its role is listed. An
 *   OPERATOR key passes every such field once it names an existing PBX (`x-pbx-id`), with
 *   the rights of that PBX's ADMIN; naming none is PBX_REQUIRED, an unknown one NOT_FOUND.
 */
export const authChecker: AuthChecker<GraphQLContext> = async ({ context }, roles) => {
  const { principal } = context;
  if (roles.includes(ApiRole.OPERATOR)) {
    if (principal.role === ApiRole.OPERATOR) return true;
    throw forbidden(`This is a fleet operation for OPERATOR keys; your key has ${principal.role}.`);
  }
  if (principal.role === ApiRole.OPERATOR) {
    if (context.namedPbxId === null) throw pbxRequired();
    if (!(await context.namedPbxExists())) {
      throw new AppError('NOT_FOUND', `No PBX with id ${context.namedPbxId} (${PBX_HEADER})`, {
        field: PBX_HEADER,
      });
    }
    return true;
  }
  if (roles.length === 0 || roles.includes(principal.role)) return true;
  throw forbidden(`This needs the ${roles.join(' or ')} role; your key has ${principal.role}.`);
};
