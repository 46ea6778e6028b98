import type { DirectoryStream } from '../../src/app/ports/directory.port.js';
import type { MicrosoftAppCredentials } from '../../src/app/ports/microsoft.port.js';
import { type DirectoryGroup, type DirectoryUser, groupKindOf } from '../../src/domain/directory.types.js';
import { GraphDirectoryReader, type GraphDirectoryReaderOptions } from '../../src/m365/directory.reader.js';
import { MsalIdentity } from '../../src/m365/identity.adapter.js';
import type { AdminGroup, AdminUser, Sandbox } from '../../src/sandbox/index.js';
import type { TestSandbox } from '../sandbox/sandbox-test.helpers.js';

export function appOf(sandbox: Sandbox): MicrosoftAppCredentials {
  return {
    clientId: sandbox.info.clientId,
    tenantId: sandbox.info.tenantId,
    clientSecret: sandbox.info.clientSecret,
  };
}

/** The reader as the gateway builds it: the sandbox's endpoints, app tokens from MsalIdentity. */
export function readerFor(t: TestSandbox, options: GraphDirectoryReaderOptions = {}) {
  const identity = new MsalIdentity(t.endpoints);
  return new GraphDirectoryReader(t.endpoints, identity, options);
}

export async function drain<T>(stream: DirectoryStream<T>): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let pages = 0;
  for await (const page of stream.pages) {
    pages++;
    items.push(...page);
  }
  return { items, pages };
}

export async function allAdminUsers(sandbox: Sandbox): Promise<AdminUser[]> {
  return (await sandbox.admin.listUsers({ top: 10_000, includeDeleted: true })).value;
}

export async function allAdminGroups(sandbox: Sandbox): Promise<AdminGroup[]> {
  return (await sandbox.admin.listGroups({ top: 10_000 })).value;
}

function s(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** What the reader must make of a user, worked out from the admin API's view of the tenant. */
export function expectedUser(u: AdminUser, extras: readonly string[] = []): DirectoryUser {
  const properties: Record<string, unknown> = {};
  for (const name of extras) if (u[name] !== undefined && u[name] !== null) properties[name] = u[name];
  return {
    id: u.id,
    displayName: s(u.displayName),
    givenName: s(u.givenName),
    surname: s(u.surname),
    mail: s(u.mail),
    userPrincipalName: u.userPrincipalName,
    mobilePhone: s(u.mobilePhone),
    businessPhones: u.businessPhones ?? [],
    jobTitle: s(u.jobTitle),
    department: s(u.department),
    accountEnabled: u.accountEnabled,
    userType: u.userType,
    deletionState: u.deleted ? 'SOFT_DELETED' : 'PRESENT',
    deletedDateTime: u.deleted ? s(u.deletedDateTime) : null,
    ...(Object.keys(properties).length > 0 ? { properties } : {}),
  };
}

/** What the reader must make of a group (direct members split into users and groups). */
export function expectedGroup(g: AdminGroup, groupIds: ReadonlySet<string>): DirectoryGroup {
  return {
    id: g.id,
    displayName: g.displayName,
    kind: groupKindOf(g),
    memberUserIds: g.members.filter((m) => !groupIds.has(m)).sort(),
    memberGroupIds: g.members.filter((m) => groupIds.has(m)).sort(),
  };
}

export function byId<T extends { id: string }>(list: readonly T[]): Map<string, T> {
  return new Map(list.map((x) => [x.id, x]));
}
