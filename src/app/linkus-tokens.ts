import { randomBytes } from 'node:crypto';
import { type JWTPayload, jwtVerify, SignJWT } from 'jose';
import type { Store } from './ports/store.port.js';
import { type SecretBox, signingKeySealContext } from './secret-box.js';

/** How long an access token works (seconds): short, since it is checked without a database read. */
export const ACCESS_TOKEN_TTL_S = 600;
/** Keys that verify: the current one and the previous one (a rotation leaves tokens of the last key valid). */
export const VERIFYING_KEYS = 2;
/** At most one reload of the keys per this many ms for tokens naming an unknown `kid`. */
const UNKNOWN_KID_RELOAD_MS = 1000;
/** A process picks up a rotation made elsewhere for signing within this long. */
const SIGNING_KEY_RELOAD_MS = 60_000;

const ISSUER = 'entra-pbx-gateway';
const AUDIENCE = 'linkus';

/** What an access token says: the session (`sub`), its PBX and its extension. */
export interface AccessClaims {
  sessionId: string;
  pbxId: string;
  extensionId: string;
  /** When the token expires (`exp`); set by `verify`, ignored by `sign`. */
  expiresAt?: Date;
}

/**
 * The signing keys of Linkus access tokens (HS256 JWTs, jose): stored in the database sealed with
 * SECRET_KEY (SecretBox), held in memory once opened. The newest key signs; the newest two
 * verify, so `rotate` leaves the tokens already out working until they expire. A token naming a
 * key this process has not seen (rotated by another process) reloads the keys, at most once a
 * second; otherwise verifying reads no database.
 */
export class AccessTokenKeys {
  private keys = new Map<string, Uint8Array>();
  private current: { kid: string; key: Uint8Array } | null = null;
  private loadedAt = 0;
  private loading: Promise<void> | undefined;
  private unknownKeyReload: Promise<void> | undefined;

  constructor(private readonly deps: { openStore: () => Store; secrets: SecretBox; now: () => Date }) {}

  private load(): Promise<void> {
    this.loading ??= (async () => {
      const store = this.deps.openStore();
      // Twice at most: no key yet, or the newest sealed under a SECRET_KEY no longer configured
      // (replaced outright): a fresh key is added and signs.
      for (let attempt = 0; attempt < 2; attempt++) {
        const rows = await store.linkusSessions.signingKeys(VERIFYING_KEYS);
        const keys = new Map<string, Uint8Array>();
        for (const row of rows) {
          try {
            keys.set(
              row.id,
              Buffer.from(this.deps.secrets.open(row.sealed, signingKeySealContext(row.id)), 'base64url'),
            );
          } catch {
            // Sealed under a key no longer configured: it verifies nothing any more.
          }
        }
        const newest = rows[0];
        const key = newest && keys.get(newest.id);
        this.keys = keys;
        this.loadedAt = Date.now();
        if (newest && key) {
          this.current = { kid: newest.id, key };
          return;
        }
        await this.addKey(store);
      }
      throw new Error('no signing key for Linkus access tokens could be made');
    })().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  /**
   * A token names a key this process does not hold (rotated by another process, or forged): the
   * keys are loaded again, at most once per UNKNOWN_KID_RELOAD_MS; tokens that come meanwhile
   * wait for that one load (so a flood of made-up `kid`s costs one read a second, and a fresh
   * rotation is never refused for coming too soon after the last load).
   */
  private reloadForUnknownKey(): Promise<void> {
    this.unknownKeyReload ??= (async () => {
      const wait = this.loadedAt + UNKNOWN_KID_RELOAD_MS - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      await this.load();
    })().finally(() => {
      this.unknownKeyReload = undefined;
    });
    return this.unknownKeyReload;
  }

  private async addKey(store: Store) {
    const kid = randomBytes(12).toString('base64url');
    const key = randomBytes(32).toString('base64url');
    await store.linkusSessions.addSigningKey({
      id: kid,
      sealed: this.deps.secrets.seal(key, signingKeySealContext(kid)),
      createdAt: this.deps.now(),
    });
  }

  /** A new signing key; the one before it still verifies. */
  async rotate(): Promise<string> {
    await this.addKey(this.deps.openStore());
    await this.load();
    return this.current?.kid as string;
  }

  async sign(claims: AccessClaims, ttlSeconds = ACCESS_TOKEN_TTL_S): Promise<string> {
    if (!this.current || Date.now() - this.loadedAt > SIGNING_KEY_RELOAD_MS) await this.load();
    const { kid, key } = this.current as { kid: string; key: Uint8Array };
    const iat = Math.floor(this.deps.now().getTime() / 1000);
    return new SignJWT({ pbx: claims.pbxId, ext: claims.extensionId })
      .setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' })
      .setSubject(claims.sessionId)
      .setJti(randomBytes(12).toString('base64url'))
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttlSeconds)
      .sign(key);
  }

  /** The claims of a valid, unexpired token signed by a current key; null otherwise. */
  async verify(token: string): Promise<AccessClaims | null> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(
        token,
        async (header) => {
          const kid = header.kid ?? '';
          let key = this.keys.get(kid);
          if (!key) {
            await this.reloadForUnknownKey();
            key = this.keys.get(kid);
          }
          if (!key) throw new Error('unknown key');
          return key;
        },
        {
          algorithms: ['HS256'],
          issuer: ISSUER,
          audience: AUDIENCE,
          currentDate: this.deps.now(),
          requiredClaims: ['sub', 'exp'],
        },
      ));
    } catch {
      return null;
    }
    const { sub, pbx, ext, exp } = payload;
    if (typeof sub !== 'string' || typeof pbx !== 'string' || typeof ext !== 'string') return null;
    return { sessionId: sub, pbxId: pbx, extensionId: ext, expiresAt: new Date((exp ?? 0) * 1000) };
  }
}
