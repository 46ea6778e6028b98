import { createPublicKey, createSign, createVerify, type KeyObject } from 'node:crypto';

/**
 * RS256 JWTs signed with the sandbox's key, published at `discovery/v2.0/keys`.
 * https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference
 */
export type Claims = Record<string, unknown>;

export class TokenSigner {
  readonly publicKey: KeyObject;
  private readonly verified = new Map<string, Claims>();

  constructor(
    private readonly privateKey: KeyObject,
    readonly kid: string,
  ) {
    this.publicKey = createPublicKey(privateKey);
  }

  sign(claims: Claims): string {
    const header = { typ: 'JWT', alg: 'RS256', x5t: this.kid, kid: this.kid };
    const head = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}`;
    const sig = createSign('RSA-SHA256').update(head).sign(this.privateKey).toString('base64url');
    return `${head}.${sig}`;
  }

  /** The claims when the signature is ours, else undefined. Expiry is the caller's job. */
  verify(token: string): Claims | undefined {
    const hit = this.verified.get(token);
    if (hit) return hit;
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const [h, p, s] = parts as [string, string, string];
    try {
      const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as { alg?: string };
      if (header.alg !== 'RS256') return undefined;
      const ok = createVerify('RSA-SHA256')
        .update(`${h}.${p}`)
        .verify(this.publicKey, Buffer.from(s, 'base64url'));
      if (!ok) return undefined;
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Claims;
      if (this.verified.size > 10_000) this.verified.clear();
      this.verified.set(token, claims);
      return claims;
    } catch {
      return undefined;
    }
  }

  jwks(): { keys: Record<string, unknown>[] } {
    const jwk = this.publicKey.export({ format: 'jwk' }) as { n: string; e: string };
    return {
      keys: [{ kty: 'RSA', use: 'sig', kid: this.kid, x5t: this.kid, n: jwk.n, e: jwk.e }],
    };
  }
}

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64url');
}

/** Decodes a JWT's payload without checking it (for error messages only). */
export function peekClaims(token: string): Claims | undefined {
  try {
    const p = token.split('.')[1];
    return p ? (JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Claims) : undefined;
  } catch {
    return undefined;
  }
}
