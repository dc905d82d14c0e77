/**
 * Signing keys for the producer: generate a key of each algorithm the contract
 * allows (spec section 6) and make cosign-style detached signatures (base64
 * text of the signature over the exact blob bytes).
 */
import { createHash, generateKeyPairSync, sign, constants, type KeyObject, createPublicKey } from 'node:crypto';

export type SigningAlgorithm = 'ecdsa-p256' | 'ecdsa-p384' | 'ed25519' | 'rsa-pkcs1' | 'rsa-pss';

export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['ecdsa-p256', 'ecdsa-p384', 'ed25519', 'rsa-pkcs1', 'rsa-pss'];

export interface SigningKey {
  alg: SigningAlgorithm;
  privateKey: KeyObject;
  /** PEM `PUBLIC KEY` (SubjectPublicKeyInfo). */
  publicPem: string;
  /** `sha256:` + hex SHA-256 of the DER SPKI bytes. */
  fingerprint: string;
}

/** `sha256:<hex>` of the DER SubjectPublicKeyInfo of a public key (PEM or KeyObject). */
export function keyFingerprint(pub: string | KeyObject): string {
  const key = typeof pub === 'string' ? createPublicKey(pub) : pub.type === 'private' ? createPublicKey(pub) : pub;
  const der = key.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(der).digest('hex')}`;
}

export function generateSigningKey(alg: SigningAlgorithm = 'ed25519'): SigningKey {
  let privateKey: KeyObject;
  let publicKey: KeyObject;
  switch (alg) {
    case 'ecdsa-p256':
      ({ privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }));
      break;
    case 'ecdsa-p384':
      ({ privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }));
      break;
    case 'ed25519':
      ({ privateKey, publicKey } = generateKeyPairSync('ed25519'));
      break;
    case 'rsa-pkcs1':
    case 'rsa-pss':
      // Plain RSA keys (rsaEncryption SPKI) for both paddings, as cosign writes them.
      ({ privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 }));
      break;
    default:
      throw new Error(`unknown signing algorithm ${String(alg)}`);
  }
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return { alg, privateKey, publicPem, fingerprint: keyFingerprint(publicKey) };
}

/** Raw signature bytes over `data` (ECDSA DER; Ed25519 raw 64 bytes; RSA PKCS#1 v1.5 or PSS, SHA-256). */
export function signRaw(key: SigningKey, data: Buffer | Uint8Array): Buffer {
  switch (key.alg) {
    case 'ecdsa-p256':
      return sign('sha256', data, { key: key.privateKey, dsaEncoding: 'der' });
    case 'ecdsa-p384':
      return sign('sha384', data, { key: key.privateKey, dsaEncoding: 'der' });
    case 'ed25519':
      return sign(null, data, key.privateKey);
    case 'rsa-pkcs1':
      return sign('sha256', data, { key: key.privateKey, padding: constants.RSA_PKCS1_PADDING });
    case 'rsa-pss':
      return sign('sha256', data, {
        key: key.privateKey,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      });
  }
}

/** A cosign-style detached signature: the base64 text of the signature (no trailing newline). */
export function signBlob(key: SigningKey, bytes: Buffer | Uint8Array): string {
  return signRaw(key, bytes).toString('base64');
}

/** The content of a `*.sig` file as cosign writes it (base64 + newline). */
export function signatureFile(key: SigningKey, bytes: Buffer | Uint8Array): Buffer {
  return Buffer.from(`${signBlob(key, bytes)}\n`, 'utf8');
}

/** A DSSE envelope whose payload is `payload`, signed over the pre-authentication encoding. */
export function dsseEnvelope(key: SigningKey, payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  const pae = Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, 'utf8'),
    type,
    Buffer.from(` ${payload.length} `, 'utf8'),
    payload,
  ]);
  const envelope = {
    payloadType,
    payload: payload.toString('base64'),
    signatures: [{ keyid: key.fingerprint, sig: signRaw(key, pae).toString('base64') }],
  };
  return Buffer.from(`${JSON.stringify(envelope, null, 2)}\n`, 'utf8');
}
