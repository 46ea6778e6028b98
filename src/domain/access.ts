/**
 * Who may call the gateway. A PBX's key (ADMIN, VIEWER, LINKUS) belongs to exactly one PBX
 * and sees only it; an OPERATOR key belongs to no PBX: it runs the fleet (PBXs and their
 * keys) and acts on one PBX only by naming it.
 */
export enum ApiRole {
  /** The PBX portal: everything for its PBX. */
  ADMIN = 'ADMIN',
  /** Read-only: dashboards. */
  VIEWER = 'VIEWER',
  /** A Linkus user session. */
  LINKUS = 'LINKUS',
  /** A hosting provider's fleet key: no PBX of its own. */
  OPERATOR = 'OPERATOR',
}

/** The roles a PBX's own keys may have. */
export const PBX_ROLES: readonly ApiRole[] = [ApiRole.ADMIN, ApiRole.VIEWER, ApiRole.LINKUS];

/** The key behind a request: a PBX's key (`pbxId`), or an operator's (`pbxId` null). */
export interface KeyHolder {
  keyId: string;
  role: ApiRole;
  pbxId: string | null;
  /** A LINKUS key's extension: the one Linkus user it speaks for. */
  extensionId?: string | null;
  /** A Linkus session's id (S4), when the caller is one (its `keyId` is the same id). */
  sessionId?: string;
  /** When a Linkus access token stops being valid: a socket opened with it is closed then. */
  expiresAt?: Date;
}

/**
 * Who acts on one PBX: a key of that PBX, or an OPERATOR key that named it. Every
 * PBX-scoped use case takes one.
 */
export interface Caller {
  pbxId: string;
  role: ApiRole;
  keyId: string;
  /** A LINKUS key's extension (see KeyHolder). */
  extensionId?: string | null;
  /** A Linkus session's id (see KeyHolder). */
  sessionId?: string;
}

/** Any role, OPERATOR included (case-insensitive). */
export function parseRole(value: string): ApiRole | undefined {
  const upper = value.toUpperCase();
  return (Object.values(ApiRole) as string[]).includes(upper) ? (upper as ApiRole) : undefined;
}

/** A role a PBX's key may have (admin, viewer, linkus), case-insensitive. */
export function parsePbxRole(value: string): ApiRole | undefined {
  const role = parseRole(value);
  return role && PBX_ROLES.includes(role) ? role : undefined;
}

/** Whether the caller may do what its PBX's ADMIN may: an ADMIN key, or an operator acting on the PBX. */
export function administers(caller: Pick<Caller, 'role'>): boolean {
  return caller.role === ApiRole.ADMIN || caller.role === ApiRole.OPERATOR;
}
