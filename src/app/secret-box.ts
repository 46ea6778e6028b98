import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const keyIdOf = (key: Buffer) => createHash('sha256').update(key).digest('hex').slice(0, 8);

function checkKey(key: Buffer) {
  if (key.length !== 32)
    throw new Error('SECRET_KEY must be 32 bytes (64 hex digits or 44 base64 characters)');
}

/**
 * Secrets at rest (client secrets, msal-node's token cache): AES-256-GCM under the
 * gateway's SECRET_KEY. A sealed value reads `v1.<key id>.<iv>.<tag>.<ciphertext>` (base64url),
 * where the key id (first 8 hex digits of the key's SHA-256) tells which key sealed it, so a
 * rotation can be checked and resumed. The PBX id is bound in as additional data: a value
 * copied to another PBX's row does not open.
 *
 * Keys: values are always sealed with the current key; they open with the current key or any
 * older one still configured (`SECRET_KEY=current,older,...`), so a key can be rotated while
 * gateways run (see `resealStoredSecrets`). `useKeys` swaps the keys of a running box (a
 * gateway whose SECRET_KEY_FILE changed).
 */
export class SecretBox {
  private current!: { id: string; key: Buffer };
  private readable = new Map<string, Buffer>();

  constructor(key: Buffer, previous: readonly Buffer[] = []) {
    this.useKeys(key, previous);
  }

  /** The id of the key new values are sealed with. */
  get keyId(): string {
    return this.current.id;
  }

  /** Ids of every key that opens values: the current one first. */
  get keyIds(): string[] {
    return [...this.readable.keys()];
  }

  /** Replaces the keys: `key` seals from now on; it and `previous` open. */
  useKeys(key: Buffer, previous: readonly Buffer[] = []) {
    checkKey(key);
    for (const k of previous) checkKey(k);
    const readable = new Map<string, Buffer>();
    for (const k of [key, ...previous]) readable.set(keyIdOf(k), k);
    this.current = { id: keyIdOf(key), key };
    this.readable = readable;
  }

  static generateKey(): string {
    return randomBytes(32).toString('base64');
  }

  seal(plain: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [
      'v1',
      this.current.id,
      iv.toString('base64url'),
      tag.toString('base64url'),
      ct.toString('base64url'),
    ].join('.');
  }

  open(sealed: string, context: string): string {
    const [version, keyId, iv, tag, ct] = sealed.split('.');
    if (version !== 'v1' || !iv || !tag || ct === undefined) throw new Error('Not a sealed secret');
    const key = this.readable.get(keyId);
    if (!key) {
      throw new Error(
        `This secret was sealed under key ${keyId}, not under a configured key (${this.keyIds.join(', ')})`,
      );
    }
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
  }

  sealedBy(sealed: string): string | null {
    const parts = sealed.split('.');
    return parts[0] === 'v1' ? parts[1] : null;
  }

  /** True when the value was sealed with another key than the current one. */
  needsReseal(sealed: string): boolean {
    return this.sealedBy(sealed) !== this.current.id;
  }
}

// ---- re-sealing under the current key ----------------------------------------------------------

/**
 * The additional data each sealed field is bound to (as src/app/integration.ts seals them:
 * `client-secret:<pbx>` and `token-cache:<pbx>`).
 */
const SEALED_FIELDS = [
  { field: 'secretSealed', context: (pbxId: string) => `client-secret:${pbxId}` },
  { field: 'tokenCacheSealed', context: (pbxId: string) => `token-cache:${pbxId}` },
] as const;

/** The additional data a Linkus signing key (S4) is sealed with: its `kid`. */
export const signingKeySealContext = (kid: string) => `linkus-signing-key:${kid}`;

/** How many Linkus signing keys re-sealing looks at, newest first (only the newest two verify). */
const SIGNING_KEYS_RESEALED = 100;

/**
 * The sealed values, as re-sealing needs them (a port subset of the store): the integrations'
 * client secrets and token caches, and the Linkus signing keys.
 */
export interface SealedStore {
  integrations: {
    listAll(): Promise<
      Array<{ pbxId: string; secretSealed: string | null; tokenCacheSealed: string | null }>
    >;
    replaceSealed(
      pbxId: string,
      field: 'secretSealed' | 'tokenCacheSealed',
      expected: string,
      next: string,
    ): Promise<boolean>;
  };
  linkusSessions: {
    signingKeys(limit: number): Promise<Array<{ id: string; sealed: string }>>;
    /** Compare-and-set: false when the stored value is no longer `expected`. */
    replaceSealedSigningKey(id: string, expected: string, next: string): Promise<boolean>;
  };
}

export interface ResealReport {
  /** values now sealed with the current key that were not */
  resealed: number;
  /** values that were already under the current key */
  current: number;
  /** values no configured key opens (left as they are), by the key that sealed them (a signing key has no PBX) */
  unreadable: Array<{ pbxId: string | null; field: string; keyId: string | null }>;
  /** values still under an older key at the end (written meanwhile by a gateway that seals with it) */
  remaining: number;
}

/**
 * Re-seals every stored secret (client secrets, token caches, Linkus signing keys) that an older key sealed, with the current key, one value at a
 * time and compare-and-set: a value a running gateway wrote meanwhile is never overwritten
 * (it is looked at again in the next pass). Safe while gateways run, as long as each of them
 * can open values sealed with the current key (it is in their SECRET_KEY list). Up to
 * `passes` passes, until no value is left under an older key.
 */
export async function resealStoredSecrets(
  store: SealedStore,
  box: SecretBox,
  opts: { passes?: number } = {},
): Promise<ResealReport> {
  const report: ResealReport = { resealed: 0, current: 0, unreadable: [], remaining: 0 };
  const passes = opts.passes ?? 3;
  for (let pass = 0; pass < passes; pass++) {
    let left = 0;
    const unreadable: ResealReport['unreadable'] = [];
    /** One value: re-sealed under the current key unless it already is; false when it changed meanwhile. */
    const reseal = async (
      sealed: string,
      context: string,
      where: { pbxId: string | null; field: string },
      replace: (next: string) => Promise<boolean>,
    ) => {
      if (!box.needsReseal(sealed)) {
        if (pass === 0) report.current++;
        return;
      }
      let plain: string;
      try {
        plain = box.open(sealed, context);
      } catch {
        unreadable.push({ ...where, keyId: box.sealedBy(sealed) });
        return;
      }
      if (await replace(box.seal(plain, context))) report.resealed++;
      else left++;
    };
    for (const row of await store.integrations.listAll()) {
      for (const { field, context } of SEALED_FIELDS) {
        const sealed = row[field];
        if (!sealed) continue;
        await reseal(sealed, context(row.pbxId), { pbxId: row.pbxId, field }, (next) =>
          store.integrations.replaceSealed(row.pbxId, field, sealed, next),
        );
      }
    }
    for (const key of await store.linkusSessions.signingKeys(SIGNING_KEYS_RESEALED)) {
      await reseal(
        key.sealed,
        signingKeySealContext(key.id),
        { pbxId: null, field: `linkusSigningKey:${key.id}` },
        (next) => store.linkusSessions.replaceSealedSigningKey(key.id, key.sealed, next),
      );
    }
    report.unreadable = unreadable;
    report.remaining = left;
    if (!left) break;
  }
  return report;
}
