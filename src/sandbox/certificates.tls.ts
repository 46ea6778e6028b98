// @peculiar/x509 resolves its ASN.1 services through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  webcrypto,
} from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import * as x509 from '@peculiar/x509';

/**
 * The sandbox's own trust material, kept under `dataDir` and made on first start:
 * a CA (ca.pem, the file a client is told to trust), a server certificate signed by it
 * for localhost / 127.0.0.1 (plus any extra host asked for), and the RSA key that signs
 * the tokens the sandbox issues (published through its JWKS).
 */
export interface SandboxKeyMaterial {
  caFile: string;
  caPem: string;
  certPem: string;
  keyPem: string;
  signingKey: KeyObject;
  signingKid: string;
}

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const crypto = webcrypto;
x509.cryptoProvider.set(crypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC_ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 24 * 60 * 60 * 1000;

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function writeAtomic(file: string, data: string, mode = 0o600): void {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, data, { mode });
  renameSync(tmp, file);
}

/** The process that holds `lock` no longer runs (a lock without a pid yet is being taken: not gone). */
function lockHolderGone(lock: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(lock, 'pid'), 'utf8'));
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function lockOlderThan(lock: string, ms: number): boolean {
  try {
    return Date.now() - statSync(lock).mtimeMs > ms;
  } catch {
    return false; // the other holder released it meanwhile
  }
}

async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const lock = path.join(dir, '.lock');
  const deadline = Date.now() + 45_000;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // A holder that died (killed while it held the lock) leaves it behind: broken at once when
      // its process is gone, else after 30 s (well within the wait below).
      if (lockHolderGone(lock) || lockOlderThan(lock, 30_000)) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`sandbox: timed out waiting for ${lock}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

async function importEcPrivateKey(pkcs8Pem: string): Promise<CryptoKey> {
  const b64 = pkcs8Pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  return crypto.subtle.importKey('pkcs8', Buffer.from(b64, 'base64'), EC_ALG, true, ['sign']);
}

async function createCa(): Promise<{ certPem: string; keyPem: string }> {
  const keys = (await crypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(crypto.getRandomValues(new Uint8Array(16)))
      .toString('hex')
      .replace(/^[89a-f]/, '1'),
    name: 'CN=entra-pbx-gateway sandbox CA, O=entra-pbx-gateway sandbox',
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 3650 * DAY),
    keys,
    signingAlgorithm: EC_ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certPem: cert.toString('pem'), keyPem: pem('PRIVATE KEY', pkcs8) };
}

async function createLeaf(
  ca: { certPem: string; keyPem: string },
  hosts: string[],
): Promise<{ certPem: string; keyPem: string }> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await importEcPrivateKey(ca.keyPem);
  const keys = (await crypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const names: x509.JsonGeneralName[] = hosts.map((h) => ({ type: isIP(h) ? 'ip' : 'dns', value: h }));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: Buffer.from(crypto.getRandomValues(new Uint8Array(16)))
      .toString('hex')
      .replace(/^[89a-f]/, '1'),
    subject: 'CN=localhost, O=entra-pbx-gateway sandbox',
    issuer: caCert.subject,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 397 * DAY),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: EC_ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certPem: cert.toString('pem'), keyPem: pem('PRIVATE KEY', pkcs8) };
}

function leafCovers(certPem: string, caPem: string, hosts: string[]): boolean {
  try {
    const cert = new x509.X509Certificate(certPem);
    const ca = new x509.X509Certificate(caPem);
    if (cert.issuer !== ca.subject) return false;
    if (cert.notAfter.getTime() < Date.now() + 7 * DAY) return false;
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    const have = new Set((san?.names.toJSON() ?? []).map((n) => n.value.toLowerCase()));
    return hosts.every((h) => have.has(h.toLowerCase()));
  } catch {
    return false;
  }
}

export async function loadOrCreateKeyMaterial(
  dataDir: string,
  extraHosts: string[] = [],
): Promise<SandboxKeyMaterial> {
  const dir = path.resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const files = {
    ca: path.join(dir, 'ca.pem'),
    caKey: path.join(dir, 'ca-key.pem'),
    cert: path.join(dir, 'server.pem'),
    key: path.join(dir, 'server-key.pem'),
    signing: path.join(dir, 'token-signing-key.pem'),
  };
  const hosts = [
    ...new Set([
      'localhost',
      '127.0.0.1',
      '::1',
      ...extraHosts.filter((h) => h && h !== '0.0.0.0' && h !== '::'),
    ]),
  ];

  return withLock(dir, async () => {
    let ca: { certPem: string; keyPem: string };
    if (existsSync(files.ca) && existsSync(files.caKey)) {
      ca = { certPem: readFileSync(files.ca, 'utf8'), keyPem: readFileSync(files.caKey, 'utf8') };
    } else {
      ca = await createCa();
      writeAtomic(files.caKey, ca.keyPem);
      writeAtomic(files.ca, ca.certPem, 0o644);
    }

    let leaf: { certPem: string; keyPem: string } | undefined;
    if (existsSync(files.cert) && existsSync(files.key)) {
      const certPem = readFileSync(files.cert, 'utf8');
      if (leafCovers(certPem, ca.certPem, hosts)) leaf = { certPem, keyPem: readFileSync(files.key, 'utf8') };
    }
    if (!leaf) {
      leaf = await createLeaf(ca, hosts);
      writeAtomic(files.key, leaf.keyPem);
      writeAtomic(files.cert, leaf.certPem, 0o644);
    }

    let signingPem: string;
    if (existsSync(files.signing)) {
      signingPem = readFileSync(files.signing, 'utf8');
    } else {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      signingPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      writeAtomic(files.signing, signingPem);
    }
    const signingKey = createPrivateKey(signingPem);
    const spki = createPublicKey(signingKey).export({ type: 'spki', format: 'der' });
    const signingKid = createHash('sha1').update(spki).digest('base64url');

    return {
      caFile: files.ca,
      caPem: ca.certPem,
      certPem: `${leaf.certPem}`,
      keyPem: leaf.keyPem,
      signingKey,
      signingKid,
    };
  });
}
