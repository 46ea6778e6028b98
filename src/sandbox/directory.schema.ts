/**
 * The properties the sandbox keeps for users and groups, as Microsoft Graph v1.0 names
 * them, with the set Graph returns by default and the bit each one has in a change mask.
 *
 * Users: https://learn.microsoft.com/graph/api/resources/user (GET /users returns
 * businessPhones, displayName, givenName, jobTitle, mail, mobilePhone, officeLocation,
 * preferredLanguage, surname, userPrincipalName and id unless $select says otherwise;
 * accountEnabled only when selected).
 * Groups: https://learn.microsoft.com/graph/api/resources/group (GET /groups returns the
 * full default set below).
 */
export const USER_PROPERTIES = [
  'accountEnabled',
  'businessPhones',
  'city',
  'companyName',
  'country',
  'createdDateTime',
  'creationType',
  'deletedDateTime',
  'department',
  'displayName',
  'employeeId',
  'employeeType',
  'externalUserState',
  'givenName',
  'jobTitle',
  'mail',
  'mailNickname',
  'mobilePhone',
  'officeLocation',
  'onPremisesExtensionAttributes',
  'otherMails',
  'preferredLanguage',
  'proxyAddresses',
  'surname',
  'usageLocation',
  'userPrincipalName',
  'userType',
] as const;
export type UserProperty = (typeof USER_PROPERTIES)[number];

export const USER_DEFAULT_SELECT: readonly string[] = [
  'businessPhones',
  'displayName',
  'givenName',
  'jobTitle',
  'mail',
  'mobilePhone',
  'officeLocation',
  'preferredLanguage',
  'surname',
  'userPrincipalName',
  'id',
];

/** Properties an admin may set on a user (the read-only ones are kept by the sandbox). */
export const USER_WRITABLE = new Set<string>([
  'accountEnabled',
  'businessPhones',
  'city',
  'companyName',
  'country',
  'department',
  'displayName',
  'employeeId',
  'employeeType',
  'externalUserState',
  'givenName',
  'jobTitle',
  'mail',
  'mailNickname',
  'mobilePhone',
  'officeLocation',
  'onPremisesExtensionAttributes',
  'otherMails',
  'preferredLanguage',
  'surname',
  'usageLocation',
  'userPrincipalName',
  'userType',
]);

export const GROUP_PROPERTIES = [
  'classification',
  'createdDateTime',
  'deletedDateTime',
  'description',
  'displayName',
  'expirationDateTime',
  'groupTypes',
  'isAssignableToRole',
  'mail',
  'mailEnabled',
  'mailNickname',
  'membershipRule',
  'membershipRuleProcessingState',
  'onPremisesSyncEnabled',
  'preferredDataLocation',
  'preferredLanguage',
  'proxyAddresses',
  'renewedDateTime',
  'securityEnabled',
  'securityIdentifier',
  'theme',
  'visibility',
] as const;
export type GroupProperty = (typeof GROUP_PROPERTIES)[number];

export const GROUP_DEFAULT_SELECT: readonly string[] = ['id', ...GROUP_PROPERTIES];

export const GROUP_WRITABLE = new Set<string>([
  'classification',
  'description',
  'displayName',
  'groupTypes',
  'mail',
  'mailEnabled',
  'mailNickname',
  'preferredLanguage',
  'securityEnabled',
  'theme',
  'visibility',
]);

/**
 * `onPremisesExtensionAttributes` (Exchange custom attributes 1-15): a complex property that
 * Graph always returns whole, each attribute a string or null; settable for cloud-only users,
 * and a PATCH changes only the attributes it names
 * (https://learn.microsoft.com/graph/api/resources/onpremisesextensionattributes).
 */
export const EXTENSION_ATTRIBUTES = Array.from({ length: 15 }, (_, i) => `extensionAttribute${i + 1}`);

export function emptyExtensionAttributes(): Record<string, string | null> {
  return Object.fromEntries(EXTENSION_ATTRIBUTES.map((a) => [a, null]));
}

/** The stored value after setting `patch` on `current` (attributes not named are kept); throws on a bad shape. */
export function mergeExtensionAttributes(current: unknown, patch: unknown): Record<string, string | null> {
  if (patch === null) return emptyExtensionAttributes();
  if (typeof patch !== 'object' || Array.isArray(patch)) {
    throw new TypeError('onPremisesExtensionAttributes must be an object');
  }
  const out = { ...emptyExtensionAttributes(), ...(current as Record<string, string | null> | undefined) };
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (!EXTENSION_ATTRIBUTES.includes(k))
      throw new TypeError(`'${k}' is not a property of onPremisesExtensionAttributes`);
    if (v !== null && typeof v !== 'string') throw new TypeError(`${k} must be a string or null`);
    if (typeof v === 'string' && v.length > 1024) throw new TypeError(`${k} is longer than 1024 characters`);
    out[k] = v;
  }
  return out;
}

export const COLLECTION_VALUED = new Set<string>([
  'businessPhones',
  'otherMails',
  'proxyAddresses',
  'groupTypes',
]);

function bits(names: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  names.forEach((n, i) => {
    m.set(n, 1 << i);
  });
  return m;
}

export const USER_BITS = bits(USER_PROPERTIES);
export const GROUP_BITS = bits(GROUP_PROPERTIES);

export function maskOf(bitsOf: Map<string, number>, names: Iterable<string>): number {
  let m = 0;
  for (const n of names) m |= bitsOf.get(n) ?? 0;
  return m;
}

/** Graph permissions the sandbox knows, with whether delegated use needs an admin's consent. */
export const DELEGATED_PERMISSIONS: Record<string, { adminConsent: boolean; description: string }> = {
  openid: { adminConsent: false, description: 'Sign you in' },
  profile: { adminConsent: false, description: 'View your basic profile' },
  email: { adminConsent: false, description: 'View your email address' },
  offline_access: { adminConsent: false, description: 'Maintain access to data you have given it access to' },
  'User.Read': { adminConsent: false, description: 'Sign in and read your profile' },
  'User.ReadBasic.All': { adminConsent: false, description: "Read all users' basic profiles" },
  'User.Read.All': { adminConsent: true, description: "Read all users' full profiles" },
  'User.ReadWrite.All': { adminConsent: true, description: "Read and write all users' full profiles" },
  'Group.Read.All': { adminConsent: true, description: 'Read all groups' },
  'Group.ReadWrite.All': { adminConsent: true, description: 'Read and write all groups' },
  'GroupMember.Read.All': { adminConsent: true, description: 'Read group memberships' },
  'Directory.Read.All': { adminConsent: true, description: 'Read directory data' },
  'Directory.ReadWrite.All': { adminConsent: true, description: 'Read and write directory data' },
  'Organization.Read.All': { adminConsent: true, description: 'Read organization information' },
  'Organization.ReadWrite.All': {
    adminConsent: true,
    description: 'Read and write organization information',
  },
  'Contacts.Read': { adminConsent: false, description: 'Read your contacts' },
  'Contacts.Read.Shared': { adminConsent: false, description: 'Read user and shared contacts' },
  'Presence.Read': { adminConsent: false, description: 'Read your presence information' },
  'Presence.Read.All': {
    adminConsent: false,
    description: 'Read presence information of all users in your organization',
  },
};

export const APPLICATION_PERMISSIONS: Record<string, string> = {
  'User.Read.All': "Read all users' full profiles",
  'User.ReadWrite.All': "Read and write all users' full profiles",
  'Group.Read.All': 'Read all groups',
  'Group.ReadWrite.All': 'Read and write all groups',
  'GroupMember.Read.All': 'Read all group memberships',
  'Directory.Read.All': 'Read directory data',
  'Directory.ReadWrite.All': 'Read and write directory data',
  'Organization.Read.All': 'Read organization information',
  'Organization.ReadWrite.All': 'Read and write organization information',
  'Contacts.Read': 'Read contacts in all mailboxes',
  'Presence.Read.All': 'Read presence information for all users',
};

export const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access']);
