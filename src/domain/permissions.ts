/**
 * The Microsoft Graph permissions the gateway uses: exactly these are requested, listed in the
 * README's table, checked at connect (L2) and reported by `testConnection` and the health.
 *
 * Application permissions appear in an app-only token's `roles` claim only once an admin has
 * granted admin consent (https://learn.microsoft.com/entra/identity-platform/v2-admin-consent);
 * delegated ones in a delegated token's `scp`. Microsoft also accepts the higher-privileged
 * permissions each endpoint's page lists, so those count as present too.
 */
export type PermissionType = 'APPLICATION' | 'DELEGATED';

export interface RequiredPermission {
  name: string;
  type: PermissionType;
  /** What the gateway does with it. */
  usedFor: string;
  /** Which feature stops without it. */
  stopsWithout: string;
  /** Permissions Microsoft accepts in its place (higher privileged). */
  alsoSatisfiedBy: readonly string[];
  /**
   * Set when one optional feature alone needs it (the feature named): connect and sync runs go on
   * without it, and the health names it missing. An organisation that connected before the
   * feature existed keeps syncing until an admin grants it.
   */
  onlyFor?: string;
}

export const REQUIRED_PERMISSIONS: readonly RequiredPermission[] = [
  {
    name: 'User.Read.All',
    type: 'APPLICATION',
    usedFor:
      'Reads every user (full reads, delta rounds, deleted users) and subscribes to user changes (GET /users, /users/delta, /directory/deletedItems/microsoft.graph.user, POST /subscriptions on users).',
    stopsWithout: 'User sync (U1–U10) and change notifications on users (T2).',
    alsoSatisfiedBy: ['User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  },
  {
    name: 'Group.Read.All',
    type: 'APPLICATION',
    usedFor:
      'Reads groups and their members, counts them at connect, and subscribes to group changes (GET /groups, /groups/delta, /groups/{id}/members, /groups/$count, POST /subscriptions on groups).',
    stopsWithout: 'Group sync (G1–G5), the group count at connect (L2), change notifications on groups (T2).',
    alsoSatisfiedBy: ['Group.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  },
  {
    name: 'Presence.Read.All',
    type: 'APPLICATION',
    usedFor:
      "Reads synced users' Teams presence, 650 users a request (POST /communications/getPresencesByUserId: https://learn.microsoft.com/graph/api/cloudcommunications-getpresencesbyuserid). Read only: the gateway never asks for Presence.ReadWrite(.All), so nothing the PBX does reaches Teams (P3).",
    stopsWithout: 'Teams presence sync (P1–P3).',
    alsoSatisfiedBy: ['Presence.ReadWrite.All'],
    onlyFor: 'Teams presence sync',
  },
  {
    name: 'User.Read',
    type: 'DELEGATED',
    usedFor:
      "Signs in the authorization account and reads the organisation's name at connect (GET /organization: User.Read is the least privileged delegated permission), and who the account is in testConnection (GET /me).",
    stopsWithout: 'Connect (L2) and the delegated half of testConnection and the health check.',
    alsoSatisfiedBy: [
      'User.ReadWrite',
      'User.ReadBasic.All',
      'User.Read.All',
      'User.ReadWrite.All',
      'Directory.Read.All',
      'Directory.ReadWrite.All',
    ],
  },
  {
    name: 'Contacts.Read.Shared',
    type: 'DELEGATED',
    usedFor:
      'Reads, as the authorization account, the contacts folders users shared with it and the contacts of the shared mailboxes it is a member of (GET /users/{id}/contactFolders, …/contacts/delta; https://learn.microsoft.com/graph/outlook-get-shared-contacts-folders).',
    stopsWithout: 'Outlook contact sync (C1–C4).',
    alsoSatisfiedBy: ['Contacts.ReadWrite.Shared'],
  },
  {
    name: 'offline_access',
    type: 'DELEGATED',
    usedFor: "Keeps the authorization account's access between sign-ins (a refresh token).",
    stopsWithout: 'The delegated health check after the first hour; a sign-in would be needed each time.',
    alsoSatisfiedBy: [],
  },
];

/** The delegated scopes of the connect sign-in (Graph permissions with Graph's resource, and offline_access). */
export function delegatedScopes(graphResource = 'https://graph.microsoft.com'): string[] {
  return REQUIRED_PERMISSIONS.filter((p) => p.type === 'DELEGATED').map((p) =>
    p.name === 'offline_access' ? p.name : `${graphResource}/${p.name}`,
  );
}

/** Whether `granted` (a token's roles or scp) holds `p` or a permission Microsoft accepts for it. */
export function holds(granted: ReadonlySet<string>, p: RequiredPermission): boolean {
  return granted.has(p.name) || p.alsoSatisfiedBy.some((x) => granted.has(x));
}

/** The required permissions of `type` that `granted` lacks, in the table's order. */
export function missingPermissions(type: PermissionType, granted: Iterable<string>): RequiredPermission[] {
  const set = new Set(granted);
  return REQUIRED_PERMISSIONS.filter((p) => p.type === type && !holds(set, p));
}

/** Of `missing`, those connect and sync runs cannot go without (not one optional feature's). */
export function blockingPermissions(missing: readonly RequiredPermission[]): RequiredPermission[] {
  return missing.filter((p) => !p.onlyFor);
}
