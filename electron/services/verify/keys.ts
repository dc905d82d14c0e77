/**
 * Trusted public keys and cosign-style detached signatures (spec section 6).
 *
 * A detached signature is the base64 text of the signature over the exact blob
 * bytes (surrounding white space ignored). Supported: ECDSA P-256 with
 * SHA-256, ECDSA P-384 with SHA-384 (or SHA-256, what cosign before 2.6 wrote
 * for every key), all ASN.1 DER; Ed25519 (raw 64 bytes, pure); RSA PKCS#1 v1.5
 * and PSS with SHA-256. These are the pairs `cosign verify-blob --key`
 * accepts; P-256 with SHA-384 is not one of them and is refused. Keys are PEM `PUBLIC KEY` (SPKI); a key's
 * fingerprint is `sha256:` + hex SHA-256 of its DER SPKI bytes.
 */
import { constants, createHash, createPublicKey, verify as cryptoVerify, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto';
import { OpsError } from '../../../shared/errors';

export interface TrustedKey {
  pem: string;
  /** "sha256:<hex of DER SPKI>" */
  fingerprint: string;
  algorithm: string;
  source: 'cli' | 'keyring' | 'workspace';
  tenant?: string;
  label?: string;
}

export interface DetachedResult {
  ok: boolean;
  /** Fingerprints of the keys whose signature verified. */
  signedBy: string[];
  /** Fingerprints of every key that was tried. */
  tried: string[];
  /** When nothing verified: why a signature that is mathematically valid was still refused (a key/hash pair outside the contract). */
  note?: string;
}

const keyCache = new Map<string, KeyObject>();

function keyObject(pem: string): KeyObject {
  let k = keyCache.get(pem);
  if (!k) {
    k = createPublicKey({ key: pem, format: 'pem' });
    if (keyCache.size > 256) keyCache.clear();
    keyCache.set(pem, k);
  }
  return k;
}

/** `sha256:<hex>` of the DER SubjectPublicKeyInfo of a key. */
export function fingerprintOf(key: KeyObject): string {
  const der = key.export({ type: 'spki', format: 'der' });
  return 'sha256:' + createHash('sha256').update(der).digest('hex');
}

function describeAlgorithm(key: KeyObject): string {
  const type = key.asymmetricKeyType;
  const d = key.asymmetricKeyDetails ?? {};
  switch (type) {
    case 'ec': {
      const curve = d.namedCurve;
      if (curve === 'prime256v1' || curve === 'P-256') return 'ecdsa-p256';
      if (curve === 'secp384r1' || curve === 'P-384') return 'ecdsa-p384';
      throw new OpsError('ERR_KEY_INVALID', `The public key uses the elliptic curve ${curve ?? 'unknown'}, which is not supported. Use an ECDSA P-256 or P-384, Ed25519 or RSA key.`);
    }
    case 'ed25519':
      return 'ed25519';
    case 'rsa':
    case 'rsa-pss': {
      const bits = d.modulusLength ?? 0;
      if (bits < 2048) throw new OpsError('ERR_KEY_INVALID', `The RSA public key has only ${bits} bits; at least 2048 are required.`);
      return `rsa-${bits}`;
    }
    default:
      throw new OpsError('ERR_KEY_INVALID', `The public key type "${type ?? 'unknown'}" is not supported. Use an ECDSA P-256 or P-384, Ed25519 or RSA key.`);
  }
}

/**
 * Parses one PEM `PUBLIC KEY` (SPKI). Throws ERR_KEY_INVALID with a plain
 * message when the text is not such a key or its algorithm is unsupported.
 */
export function loadPublicKey(pem: string, source: TrustedKey['source'] = 'cli'): TrustedKey {
  const text = pem.trim();
  const blocks = text.match(/-----BEGIN ([A-Z0-9 ]+)-----/g) ?? [];
  if (blocks.length === 0) {
    throw new OpsError('ERR_KEY_INVALID', 'The key file is not a PEM public key (no "-----BEGIN PUBLIC KEY-----" line). Give the public key file the Export Center published.');
  }
  if (blocks.some((b) => /PRIVATE/.test(b))) {
    throw new OpsError('ERR_KEY_INVALID', 'This is a PRIVATE key. Give the console only the public key (PEM "PUBLIC KEY"), and keep the private key off this host.');
  }
  if (blocks.length !== 1 || blocks[0] !== '-----BEGIN PUBLIC KEY-----') {
    throw new OpsError('ERR_KEY_INVALID', `Expected exactly one PEM "PUBLIC KEY" block (SubjectPublicKeyInfo), found ${blocks.map((b) => b.slice(11, -5)).join(', ')}.`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: text, format: 'pem' });
  } catch (e) {
    throw new OpsError('ERR_KEY_INVALID', `The PEM public key cannot be read (${(e as Error).message}). Check that the file was copied completely.`, { cause: e });
  }
  const algorithm = describeAlgorithm(key);
  const canonical = key.export({ type: 'spki', format: 'pem' }).toString();
  keyCache.set(canonical, key);
  return { pem: canonical, fingerprint: fingerprintOf(key), algorithm, source };
}

/** Decodes a cosign-style signature: base64 text (white space ignored) or raw bytes. */
export function decodeSignature(signature: Buffer | string): Buffer | null {
  const text = (typeof signature === 'string' ? signature : signature.toString('latin1')).replace(/\s+/g, '');
  if (text.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  return Buffer.from(text, 'base64');
}

/**
 * The signature schemes a key's type allows (the one table of them): for each,
 * the digest to stream (null: Ed25519, which signs the whole message) and the
 * key with its verification options. ECDSA P-256 signs with SHA-256 only;
 * P-384 with SHA-384 or SHA-256 (cosign's forced default before 2.6); RSA
 * accepts PKCS#1 v1.5 and PSS.
 */
export interface SignatureScheme {
  hash: 'sha256' | 'sha384' | null;
  key: VerifyKeyObjectInput | KeyObject;
}

export function signatureSchemes(k: KeyObject): SignatureScheme[] {
  const pss = { key: k, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO };
  switch (k.asymmetricKeyType) {
    case 'ec': {
      const hashes: ('sha256' | 'sha384')[] = k.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? ['sha384', 'sha256'] : ['sha256'];
      return hashes.map((hash) => ({ hash, key: { key: k, dsaEncoding: 'der' } }));
    }
    case 'ed25519':
      return [{ hash: null, key: k }];
    case 'rsa':
      return [
        { hash: 'sha256', key: { key: k, padding: constants.RSA_PKCS1_PADDING } },
        { hash: 'sha256', key: pss },
      ];
    case 'rsa-pss':
      return [{ hash: 'sha256', key: pss }];
    default:
      return [];
  }
}

/** Verifies raw signature bytes over `data` with one key; tries every scheme that key's type allows. */
export function verifyRaw(data: Buffer, sig: Buffer, key: TrustedKey): boolean {
  let k: KeyObject;
  try {
    k = keyObject(key.pem);
  } catch {
    return false;
  }
  return signatureSchemes(k).some((s) => {
    if (s.hash === null && sig.length !== 64) return false; // Ed25519 signatures are 64 bytes
    try {
      return cryptoVerify(s.hash, data, s.key, sig);
    } catch {
      return false;
    }
  });
}

/**
 * Verifies a detached (cosign `sign-blob`) signature over `blob` with every
 * key; `ok` when at least one trusted key verifies it.
 */
export function verifyDetached(blob: Buffer, signature: Buffer | string, keys: TrustedKey[]): DetachedResult {
  const tried = unique(keys.map((k) => k.fingerprint));
  const sig = decodeSignature(signature);
  if (!sig) return { ok: false, signedBy: [], tried };
  const signedBy = unique(keys.filter((k) => verifyRaw(blob, sig, k)).map((k) => k.fingerprint));
  if (signedBy.length > 0) return { ok: true, signedBy, tried };
  const note = refusedPairNote(blob, sig, keys);
  return note ? { ok: false, signedBy, tried, note } : { ok: false, signedBy, tried };
}

/**
 * For a message only, never for trust: whether the signature would verify as
 * ECDSA P-256 with SHA-384, the pair the contract refuses (cosign signs P-256
 * with SHA-256), so the operator learns why instead of "wrong key".
 */
export function refusedPairNote(data: Buffer, sig: Buffer, keys: TrustedKey[]): string | undefined {
  for (const key of keys) {
    let k: KeyObject;
    try {
      k = keyObject(key.pem);
    } catch {
      continue;
    }
    if (k.asymmetricKeyType !== 'ec' || k.asymmetricKeyDetails?.namedCurve !== 'prime256v1') continue;
    try {
      if (cryptoVerify('sha384', data, { key: k, dsaEncoding: 'der' }, sig)) {
        return `The signature was made with the ECDSA P-256 key ${key.fingerprint} over a SHA-384 digest: a P-256 key must sign SHA-256 (the pairs cosign accepts), so it is not accepted. Re-sign with SHA-256 (cosign sign-blob does by default).`;
      }
    } catch {
      /* not such a signature */
    }
  }
  return undefined;
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}

/** Short form of a fingerprint for messages: "sha256:abcd1234…". */
export function shortFingerprint(fp: string): string {
  return fp.length > 23 ? fp.slice(0, 23) + '…' : fp;
}
