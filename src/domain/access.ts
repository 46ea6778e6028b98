/** Who may call the gateway. Every key or session belongs to exactly one PBX. */
export enum ApiRole {
  /** The PBX portal: everything for its PBX. */
  ADMIN = 'ADMIN',
  /** Read-only: dashboards. */
  VIEWER = 'VIEWER',
  /** A Linkus user session. */
  LINKUS = 'LINKUS',
}

export interface Caller {
  pbxId: string;
  role: ApiRole;
  keyId: string;
}

export function parseRole(value: string): ApiRole | undefined {
  const upper = value.toUpperCase();
  return (Object.values(ApiRole) as string[]).includes(upper) ? (upper as ApiRole) : undefined;
}
