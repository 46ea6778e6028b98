import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './app/extensions.js';
import { FAILED_JOBS_MAX } from './app/jobs-admin.js';
import { LIMITS as EXTENSION_LIMITS } from './domain/extension-rules.js';
import { MAX_PUBLIC_BASE_URL } from './domain/tenant.js';

/**
 * Every limit the gateway holds at its edge, in one place (issue 12 item 4): the size of a
 * request, how long a WebSocket may take to say who it is, how long each string argument of
 * the GraphQL API may be, and the page sizes the cost limit counts with. The README's
 * "Limits" section lists the same.
 *
 * The use cases keep their own checks (a name of 1 to 64 characters, `first` from 1 to 500 ...);
 * these run before any resolver, on HTTP and WebSocket alike, so that no input the database
 * could not store or a downstream service would choke on ever reaches one.
 */

/** The largest HTTP request body, and the largest WebSocket message (graphql-ws), in bytes: 1 MiB. */
export const BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * graphql-ws: a socket must send `connection_init` within this time after it opened, and its key
 * must be checked within {@link WS_AUTH_TIMEOUT_MS} after that, or it is closed with 4408.
 */
export const WS_INIT_TIMEOUT_MS = 3_000;
export const WS_AUTH_TIMEOUT_MS = 5_000;

/** Any String argument (or input field) not named in {@link STRING_LIMITS}, in characters. */
export const DEFAULT_STRING_LIMIT = 1_000;
/** Any ID argument not named in {@link STRING_LIMITS}. */
export const ID_LIMIT = 200;
/** An opaque page cursor (`after`). */
const CURSOR_LIMIT = 500;

/**
 * Longest string per argument or input field, by schema coordinate (`Type.field` for input
 * fields, `Type.field(argument:)` for arguments). Values at most the domain's own limits keep
 * the domain's messages for what is merely too long for a PBX field.
 */
export const STRING_LIMITS: Readonly<Record<string, number>> = {
  // Searches: Microsoft Graph refuses long URLs (431), and a display name has at most 256 characters.
  'Query.directoryGroups(search:)': 256,
  'ExtensionFilter.name': 2 * EXTENSION_LIMITS.name + 1,
  'ExtensionFilter.email': EXTENSION_LIMITS.email,
  'ExtensionFilter.number': 16,
  // URLs and names.
  'UpdatePbxInput.publicBaseUrl': MAX_PUBLIC_BASE_URL,
  'UpdatePbxInput.name': 200,
  'UpdatePbxInput.timeZone': 64,
  'UpdatePbxInput.defaultCountry': 8,
  'Mutation.createExtensionGroup(name:)': EXTENSION_LIMITS.groupName,
  'Mutation.updateExtensionGroup(name:)': EXTENSION_LIMITS.groupName,
  'CreateExtensionInput.notes': EXTENSION_LIMITS.notes,
  'UpdateExtensionInput.notes': EXTENSION_LIMITS.notes,
  // Microsoft identifiers and the client secret (a GUID is 36 characters; a secret at most 256).
  'ConnectInput.clientId': 64,
  'ConnectInput.tenantId': 256,
  'ConnectInput.clientSecret': 256,
  'Mutation.updateSecret(secret:)': 256,
  'UserSyncRuleInput.numberProperty': 128,
  'UserSyncRuleInput.startNumber': 16,
  'ScheduleInput.time': 16,
  'Query.failedJobs(queue:)': 64,
  // The Linkus lookups: a phone number, a search query.
  'Query.lookupCaller(number:)': 64,
  'Query.searchContacts(query:)': 100,
  'Query.searchContacts(after:)': CURSOR_LIMIT,
  'Mutation.retryJob(queue:)': 64,
  // Cursors.
  'Query.auditLog(after:)': CURSOR_LIMIT,
  'Query.extensions(after:)': CURSOR_LIMIT,
  'Query.extensionGroups(after:)': CURSOR_LIMIT,
  'Query.syncRuns(after:)': CURSOR_LIMIT,
  'SyncRun.items(after:)': CURSOR_LIMIT,
  'SyncRun.welcomeEmails(after:)': CURSOR_LIMIT,
};

/** The longest string allowed at `coordinate` (of a String or ID argument or input field). */
export function stringLimit(coordinate: string, type: 'ID' | 'String' | string): number {
  return STRING_LIMITS[coordinate] ?? (type === 'ID' ? ID_LIMIT : DEFAULT_STRING_LIMIT);
}

/**
 * Page sizes, as the cost limit counts them: a field with a `first` argument returns at most
 * `first` items, `first` being what the operation passes (literal or variable), else the
 * argument's default, else {@link DEFAULT_PAGE_SIZE}; never more than the field's largest page,
 * which its use case enforces (a larger `first` is refused there, with its own message).
 */
export const PAGE_LIMITS: Readonly<Record<string, number>> = {
  'Query.directoryGroups': 999,
  'Query.failedJobs': FAILED_JOBS_MAX,
  'Query.searchContacts': 100,
};
export const DEFAULT_MAX_PAGE = MAX_PAGE_SIZE;
export { DEFAULT_PAGE_SIZE };

/** The largest page of the field at `coordinate` (`Type.field`), or null when it has none. */
export function pageLimit(coordinate: string): number | null {
  if (coordinate in PAGE_LIMITS) return PAGE_LIMITS[coordinate];
  // previewSync's `first` is not bounded by its use case: the cost limit is what bounds it.
  if (coordinate === 'Query.previewSync') return null;
  return DEFAULT_MAX_PAGE;
}
