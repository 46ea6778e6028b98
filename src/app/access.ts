import { createHash, randomBytes } from 'node:crypto';
import { type ApiRole, type Caller, parseRole } from '../domain/access.js';
import { AppError } from './errors.js';
import type { Store } from './ports/store.port.js';

const KEY_PREFIX = 'epg_';

/** Keys are 256 random bits, so a plain SHA-256 is a safe one-way lookup hash. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Reads a bearer token from an `Authorization` header value. */
export function bearerToken(header: unknown): string | null {
  if (typeof header !== 'string') return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : null;
}

/** Creates a key for one PBX and returns it in clear, once; only its hash is stored. */
export async function createApiKey(
  store: Store,
  input: { pbxId: string; role: string; label?: string | null },
): Promise<{ key: string; id: string; role: ApiRole }> {
  const role = parseRole(input.role);
  if (!role) throw AppError.invalidInput([{ field: 'role', message: 'must be admin, viewer or linkus' }]);
  const pbx = await store.tenants.findPbx(input.pbxId);
  if (!pbx) throw new AppError('NOT_FOUND', `No PBX with id ${input.pbxId}`, { field: 'pbx' });
  const key = KEY_PREFIX + randomBytes(32).toString('base64url');
  const record = await store.tenants.createKey({
    pbxId: pbx.id,
    role,
    hash: hashApiKey(key),
    prefix: key.slice(0, 10),
    label: input.label ?? null,
  });
  return { key, id: record.id, role };
}

/** The caller behind a key, or null when the key is unknown, malformed or revoked. */
export async function authenticate(store: Store, key: string | null): Promise<Caller | null> {
  if (!key?.startsWith(KEY_PREFIX) || key.length > 200) return null;
  const record = await store.tenants.findActiveKeyByHash(hashApiKey(key));
  return record ? { pbxId: record.pbxId, role: record.role, keyId: record.id } : null;
}
