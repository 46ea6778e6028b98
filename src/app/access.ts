import crypto, { randomBytes } from 'node:crypto';
import { ApiRole, type KeyHolder, parsePbxRole } from '../domain/access.js';
import { AppError } from './errors.js';
import type { KnownKeys } from './known-keys.js';
import type { Store } from './ports/store.port.js';

const KEY_PREFIX = 'epg_';
/** How many characters of a key are kept in clear, to tell keys apart in a list (`epg_` and 6 more). */
export const SHOWN_PREFIX_LENGTH = 10;

/**
 * SHA-256 in hex. A key is hashed on every request: `crypto.hash` (Node 20.12+) makes no Hash
 * object, a microsecond less a request (issue 13); `createHash` on an older Node.
 */
const sha256Hex: (text: string) => string =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'hex')
    : (text) => crypto.createHash('sha256').update(text, 'utf8').digest('hex');

/** Keys are 256 random bits, so a plain SHA-256 is a safe one-way lookup hash. */
export function hashApiKey(key: string): string {
  return sha256Hex(key);
}

/** Reads a bearer token from an `Authorization` header value. */
export function bearerToken(header: unknown): string | null {
  if (typeof header !== 'string') return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : null;
}

async function issueKey(
  store: Store,
  input: { pbxId: string | null; role: ApiRole; label: string | null; extensionId?: string | null },
): Promise<{ key: string; id: string; role: ApiRole; prefix: string }> {
  if (input.label !== null && input.label.length > 200) {
    throw AppError.invalidInput([{ field: 'label', message: 'must be at most 200 characters' }]);
  }
  const key = KEY_PREFIX + randomBytes(32).toString('base64url');
  const record = await store.tenants.createKey({
    pbxId: input.pbxId,
    role: input.role,
    hash: hashApiKey(key),
    prefix: key.slice(0, SHOWN_PREFIX_LENGTH),
    label: input.label,
    extensionId: input.extensionId ?? null,
  });
  return { key, id: record.id, role: input.role, prefix: record.prefix };
}

/**
 * Creates a key for one PBX and returns it in clear, once; only its hash is stored. A LINKUS
 * key is one extension's Linkus session: it needs that extension's number, and only it may
 * have one.
 */
export async function createApiKey(
  store: Store,
  input: { pbxId: string; role: string; label?: string | null; extensionNumber?: string | null },
): Promise<{ key: string; id: string; role: ApiRole; prefix: string }> {
  const role = parsePbxRole(input.role);
  if (!role) throw AppError.invalidInput([{ field: 'role', message: 'must be admin, viewer or linkus' }]);
  const pbx = await store.tenants.findPbx(input.pbxId);
  if (!pbx) throw new AppError('NOT_FOUND', `No PBX with id ${input.pbxId}`, { field: 'pbx' });
  const number = input.extensionNumber?.trim() || null;
  if (role !== ApiRole.LINKUS && number !== null) {
    throw AppError.invalidInput([
      { field: 'extension', message: 'only a LINKUS key belongs to an extension' },
    ]);
  }
  let extensionId: string | null = null;
  if (role === ApiRole.LINKUS) {
    if (number === null) {
      throw AppError.invalidInput([
        { field: 'extension', message: 'a LINKUS key belongs to one extension: give its number' },
      ]);
    }
    const extension = await store.directory.findExtensionByNumber(pbx.id, number);
    if (!extension) {
      throw new AppError('NOT_FOUND', `No extension with number ${number} in PBX ${pbx.id}`, {
        field: 'extension',
      });
    }
    extensionId = extension.id;
  }
  return issueKey(store, { pbxId: pbx.id, role, label: input.label ?? null, extensionId });
}

/** Creates an OPERATOR key (of no PBX) and returns it in clear, once. */
export function createOperatorKey(
  store: Store,
  input: { label?: string | null } = {},
): Promise<{ key: string; id: string; role: ApiRole; prefix: string }> {
  return issueKey(store, { pbxId: null, role: ApiRole.OPERATOR, label: input.label ?? null });
}

/** Checks Linkus access tokens (S4): LinkusSessions, without a database read. */
export interface LinkusTokenAuthenticator {
  authenticate(token: string): Promise<KeyHolder | null>;
}

/**
 * The key holder behind a bearer token, or null when it is unknown, malformed or revoked: an
 * API key (`epg_…`, looked up by hash; with `known`, remembered a few seconds, see KnownKeys),
 * or a Linkus session's access token (a JWT, S4: role LINKUS, its PBX, extension and session
 * id; checked in memory by `sessions`).
 */
export async function authenticate(
  store: Store,
  key: string | null,
  sessions?: LinkusTokenAuthenticator,
  known?: KnownKeys,
): Promise<KeyHolder | null> {
  // A Linkus access token: the session path (no API key starts otherwise than `epg_`).
  if (key && sessions && !key.startsWith(KEY_PREFIX)) return sessions.authenticate(key);
  // An API key: the key path.
  if (!key?.startsWith(KEY_PREFIX) || key.length > 200) return null;
  const hash = hashApiKey(key);
  return known ? known.resolve(hash, () => readKey(store, hash)) : readKey(store, hash);
}

async function readKey(store: Store, hash: string): Promise<KeyHolder | null> {
  const record = await store.tenants.findActiveKeyByHash(hash);
  if (!record) return null;
  // An OPERATOR key has no PBX and every other key has one; a row that says otherwise opens nothing.
  if ((record.role === ApiRole.OPERATOR) !== (record.pbxId === null)) return null;
  // A LINKUS key speaks for one extension (a key of a deleted extension is deleted with it). One
  // made before keys had an extension still authenticates, and can call nothing (readerScope).
  if (record.role === ApiRole.LINKUS) {
    return { pbxId: record.pbxId, role: record.role, keyId: record.id, extensionId: record.extensionId };
  }
  return { pbxId: record.pbxId, role: record.role, keyId: record.id };
}
