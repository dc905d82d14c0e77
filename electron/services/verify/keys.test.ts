import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isOpsError } from '../../../shared/errors';
import { tempDir } from '../testing/fixtures';
import { loadPublicKey, verifyDetached } from './keys';

const tmp = tempDir('okc-keys-');
afterAll(() => tmp.cleanup());

function openssl(args: string[]): Buffer {
  return execFileSync('openssl', args, { cwd: tmp.dir, stdio: ['ignore', 'pipe', 'ignore'] });
}

interface Pair {
  name: string;
  priv: string;
  pub: string;
}

function makeKey(name: string, genArgs: string[]): Pair {
  const priv = join(tmp.dir, `${name}.key`);
  const pub = join(tmp.dir, `${name}.pub`);
  openssl([...genArgs, '-out', priv]);
  openssl(['pkey', '-in', priv, '-pubout', '-out', pub]);
  return { name, priv, pub };
}

const blob = Buffer.from('{"schemaVersion":1,"exportId":"exp-test"}\n');
const blobFile = join(tmp.dir, 'blob.json');
writeFileSync(blobFile, blob);

function signWithOpenssl(p: Pair, extra: string[] = [], digest = '-sha256'): string {
  const sig = openssl(['dgst', digest, '-sign', p.priv, ...extra, blobFile]);
  return sig.toString('base64') + '\n';
}

const ecP256 = makeKey('p256', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']);
const ecP384 = makeKey('p384', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384']);
const rsa = makeKey('rsa', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']);
const ed = makeKey('ed', ['genpkey', '-algorithm', 'ED25519']);

describe('loadPublicKey', () => {
  it('computes the fingerprint over the DER SPKI and names the algorithm', () => {
    const k = loadPublicKey(readFileSync(ecP256.pub, 'utf8'), 'keyring');
    const der = openssl(['pkey', '-pubin', '-in', ecP256.pub, '-outform', 'DER']);
    expect(k.fingerprint).toBe('sha256:' + createHash('sha256').update(der).digest('hex'));
    expect(k.algorithm).toBe('ecdsa-p256');
    expect(k.source).toBe('keyring');
    expect(loadPublicKey(readFileSync(ecP384.pub, 'utf8')).algorithm).toBe('ecdsa-p384');
    expect(loadPublicKey(readFileSync(ed.pub, 'utf8')).algorithm).toBe('ed25519');
    expect(loadPublicKey(readFileSync(rsa.pub, 'utf8')).algorithm).toBe('rsa-2048');
  });

  it('refuses a private key, garbage and unsupported curves with ERR_KEY_INVALID', () => {
    const bad = [
      readFileSync(ecP256.priv, 'utf8'),
      'hello',
      '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n',
    ];
    const k1 = makeKey('k1', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp256k1']);
    bad.push(readFileSync(k1.pub, 'utf8'));
    for (const pem of bad) {
      let err: unknown;
      try {
        loadPublicKey(pem);
      } catch (e) {
        err = e;
      }
      expect(isOpsError(err) && err.code).toBe('ERR_KEY_INVALID');
    }
  });
});

describe('verifyDetached with signatures from `openssl dgst -sign`', () => {
  const cases: [string, Pair, string[], string][] = [
    ['ECDSA P-256 / SHA-256', ecP256, [], '-sha256'],
    ['ECDSA P-384 / SHA-384', ecP384, [], '-sha384'],
    ['ECDSA P-384 / SHA-256', ecP384, [], '-sha256'],
    ['RSA PKCS#1 v1.5 / SHA-256', rsa, [], '-sha256'],
    ['RSA PSS / SHA-256', rsa, ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32'], '-sha256'],
    ['RSA PSS / SHA-256 (max salt)', rsa, ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:max'], '-sha256'],
  ];
  for (const [label, pair, extra, digest] of cases) {
    it(`${label} verifies, and is refused for the wrong key or altered bytes`, () => {
      const sig = signWithOpenssl(pair, extra, digest);
      const good = loadPublicKey(readFileSync(pair.pub, 'utf8'));
      const other = loadPublicKey(readFileSync(ed.pub, 'utf8'));
      const r = verifyDetached(blob, sig, [other, good]);
      expect(r.ok).toBe(true);
      expect(r.signedBy).toEqual([good.fingerprint]);
      expect(r.tried).toEqual([other.fingerprint, good.fingerprint]);
      const wrong = verifyDetached(blob, sig, [other]);
      expect(wrong).toEqual({ ok: false, signedBy: [], tried: [other.fingerprint] });
      const altered = Buffer.from(blob);
      altered[3] ^= 1;
      expect(verifyDetached(altered, sig, [good]).ok).toBe(false);
    });
  }

  it('ECDSA P-256 with SHA-384 is refused (not a pair cosign accepts), with a note saying why', () => {
    const sig = signWithOpenssl(ecP256, [], '-sha384');
    const k = loadPublicKey(readFileSync(ecP256.pub, 'utf8'));
    const r = verifyDetached(blob, sig, [k]);
    expect(r.ok).toBe(false);
    expect(r.signedBy).toEqual([]);
    expect(r.note).toMatch(/P-256 key .* over a SHA-384 digest: a P-256 key must sign SHA-256/);
    // A signature by another key gets no such note.
    expect(verifyDetached(blob, signWithOpenssl(ecP384, [], '-sha384'), [k]).note).toBeUndefined();
  });

  it('Ed25519 (pure, raw 64 bytes) from openssl pkeyutl verifies', () => {
    const sig = openssl(['pkeyutl', '-sign', '-inkey', ed.priv, '-rawin', '-in', blobFile]);
    expect(sig.length).toBe(64);
    const k = loadPublicKey(readFileSync(ed.pub, 'utf8'));
    expect(verifyDetached(blob, sig.toString('base64'), [k]).ok).toBe(true);
    expect(verifyDetached(Buffer.concat([blob, Buffer.from('x')]), sig.toString('base64'), [k]).ok).toBe(false);
  });

  it('refuses an empty or non-base64 signature and an empty key list', () => {
    const k = loadPublicKey(readFileSync(ecP256.pub, 'utf8'));
    expect(verifyDetached(blob, '', [k]).ok).toBe(false);
    expect(verifyDetached(blob, 'not base64 !!', [k]).ok).toBe(false);
    const sig = signWithOpenssl(ecP256);
    expect(verifyDetached(blob, sig, [])).toEqual({ ok: false, signedBy: [], tried: [] });
    // White space around the base64 text is ignored (cosign writes a trailing newline or none).
    expect(verifyDetached(blob, `  ${sig.trim()}\n\n`, [k]).ok).toBe(true);
  });

  it('the fingerprint equals the one from node:crypto for the same SPKI', () => {
    const pem = readFileSync(rsa.pub, 'utf8');
    const der = createPublicKey(pem).export({ type: 'spki', format: 'der' });
    expect(loadPublicKey(pem).fingerprint).toBe('sha256:' + createHash('sha256').update(der).digest('hex'));
  });
});
