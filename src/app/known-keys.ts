import type { KeyHolder } from '../domain/access.js';

/** How long a key this process found valid is trusted without reading it again (issue 13). */
export const KNOWN_KEY_TTL_MS = 5_000;
/** At most this many keys are remembered (past it, all are forgotten and read again). */
export const KNOWN_KEYS_MAX = 10_000;

interface Known {
  holder: KeyHolder;
  until: number;
}

/**
 * The API keys this process found valid lately, by hash (issue 13: an HTTP caller lookup costs
 * one database round trip, the lookup's, not two). Safe because every way a key stops working
 * is announced to every process on the revoked-keys channel (src/app/ports/key-revocation.port.ts)
 * after it commits:
 * - a key revoked (`revokeKey`, `npm run keys -- key-revoke`): its id (`forget`);
 * - a PBX deleted (`deletePbx`): the ids of its keys;
 * - a LINKUS key deleted with its extension (an extension deleted by hand, by a sync, by approved
 *   held deletes or by a lifecycle step; `LinkusSessions.afterDirectoryChange`): its PBX
 *   (`forgetPbx`: every remembered key of that PBX is read again).
 * A key has no expiry and never changes role, PBX or extension (a new key is made instead).
 *
 * It answers only while the announcements are heard (`listening`, set by the gateway's
 * listener once it is subscribed; cleared when the connection drops, when announcements may be
 * missed): otherwise every key is read from the database, as without it. A key found valid by
 * a read that overlapped an announcement is not remembered (the read may predate the commit).
 * Unknown keys are never remembered (a key made a moment ago works at once). What the database
 * changes behind the gateway's back (a row edited by hand) is seen within KNOWN_KEY_TTL_MS.
 */
export class KnownKeys {
  private readonly byHash = new Map<string, Known>();
  private listening = false;
  /** Moves on every announcement and every change of `listening`. */
  private epoch = 0;

  constructor(private readonly opts: { ttlMs?: number; max?: number; now?: () => number } = {}) {}

  private now() {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  /** Whether announcements are heard now; either way, everything remembered is forgotten. */
  setListening(on: boolean) {
    this.listening = on;
    this.clear();
  }

  get size() {
    return this.byHash.size;
  }

  /**
   * The key holder of `hash`: remembered, or read with `read` (and remembered when valid and
   * no announcement came meanwhile).
   */
  async resolve(hash: string, read: () => Promise<KeyHolder | null>): Promise<KeyHolder | null> {
    if (!this.listening) return read();
    const known = this.byHash.get(hash);
    if (known) {
      if (known.until > this.now()) return known.holder;
      this.byHash.delete(hash);
    }
    const epoch = this.epoch;
    const holder = await read();
    if (holder && this.listening && epoch === this.epoch) {
      if (this.byHash.size >= (this.opts.max ?? KNOWN_KEYS_MAX)) this.byHash.clear();
      this.byHash.set(hash, { holder, until: this.now() + (this.opts.ttlMs ?? KNOWN_KEY_TTL_MS) });
    }
    return holder;
  }

  /** Announced: these keys (or Linkus sessions) no longer work. */
  forget(keyIds: readonly string[]) {
    this.epoch++;
    if (keyIds.length === 0 || this.byHash.size === 0) return;
    const ids = new Set(keyIds);
    for (const [hash, k] of this.byHash) if (ids.has(k.holder.keyId)) this.byHash.delete(hash);
  }

  /** Announced: keys of these PBXs went without their ids at hand (deleted with their extensions). */
  forgetPbx(pbxIds: readonly string[]) {
    this.epoch++;
    if (pbxIds.length === 0 || this.byHash.size === 0) return;
    const ids = new Set(pbxIds);
    for (const [hash, k] of this.byHash) {
      if (k.holder.pbxId !== null && ids.has(k.holder.pbxId)) this.byHash.delete(hash);
    }
  }

  clear() {
    this.epoch++;
    this.byHash.clear();
  }
}
