import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Secrets at rest (client secrets, msal-node's token cache): AES-256-GCM under the
 * gateway's SECRET_KEY. A sealed value reads `v1.<key id>.<iv>.<tag>.<ciphertext>` (base64url),
 * where the key id (first 8 hex digits of the key's SHA-256) tells which key sealed it, so a
 * rotation can be checked and resumed. The PBX id is bound in as additional data: a value
 * copied to another PBX's row does not open.
 */
export class SecretBox {
  readonly keyId: string;
  private readonly key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32)
      throw new Error('SECRET_KEY must be 32 bytes (64 hex digits or 44 base64 characters)');
    this.key = key;
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 8);
  }

  static generateKey(): string {
    return randomBytes(32).toString('base64');
  }

  seal(plain: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [
      'v1',
      this.keyId,
      iv.toString('base64url'),
      tag.toString('base64url'),
      ct.toString('base64url'),
    ].join('.');
  }

  open(sealed: string, context: string): string {
    const [version, keyId, iv, tag, ct] = sealed.split('.');
    if (version !== 'v1' || !iv || !tag || ct === undefined) throw new Error('Not a sealed secret');
    if (keyId !== this.keyId) {
      throw new Error(`This secret was sealed under key ${keyId}, not the configured key ${this.keyId}`);
    }
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
  }

  sealedBy(sealed: string): string | null {
    const parts = sealed.split('.');
    return parts[0] === 'v1' ? parts[1] : null;
  }
}
