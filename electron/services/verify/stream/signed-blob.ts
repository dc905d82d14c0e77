/**
 * A signed control file (export.json, manifest.yaml) read as a stream: its
 * SHA-256 and every trusted key's signature verifiers are fed chunk by chunk,
 * and its bytes go to a private spool file instead of memory (issue 13). The
 * detached signature may arrive before or after it; it is checked at the end.
 *
 * Ed25519 signs the whole message (no streaming form), and the DSSE and
 * Sigstore checks need the bytes: those read the spool back, up to
 * READ_BACK_CAP (the old in-memory cap of export.json).
 */
import { createHash, createPublicKey, createVerify, verify as cryptoVerify, type Hash, type KeyObject, type Verify } from 'node:crypto';
import { closeSync, constants as fsc, openSync, readFileSync, statSync } from 'node:fs';
import { OpsError } from '../../../../shared/errors';
import { decodeSignature, refusedPairNote, signatureSchemes, type DetachedResult, type SignatureScheme, type TrustedKey } from '../keys';
import { writeAll } from './sink';

/** The most a streamed control file is read back into memory (Ed25519 keys, DSSE, Sigstore, callers asking for the bytes). */
export const READ_BACK_CAP = 256 * 1024 * 1024;

interface KeyVerifiers {
  key: TrustedKey;
  object: KeyObject | null;
  streams: { scheme: SignatureScheme; v: Verify }[];
  /** A scheme that needs the whole message (Ed25519). */
  whole: SignatureScheme[];
}

export class SignedBlob {
  private readonly hash: Hash = createHash('sha256');
  private readonly verifiers: KeyVerifiers[];
  private fd: number;
  size = 0;
  sha256 = '';

  constructor(readonly spoolPath: string, keys: TrustedKey[]) {
    this.fd = openSync(spoolPath, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
    this.verifiers = keys.map((key) => {
      let object: KeyObject | null = null;
      try {
        object = createPublicKey(key.pem);
      } catch {
        object = null;
      }
      const schemes = object ? signatureSchemes(object) : [];
      return {
        key,
        object,
        streams: schemes.filter((s) => s.hash !== null).map((scheme) => ({ scheme, v: createVerify(scheme.hash!.toUpperCase()) })),
        whole: schemes.filter((s) => s.hash === null),
      };
    });
  }

  /** One chunk (used synchronously: it may be a view of a reused buffer). */
  update(c: Buffer): void {
    this.hash.update(c);
    for (const k of this.verifiers) for (const s of k.streams) s.v.update(c);
    writeAll(this.fd, c);
    this.size += c.length;
  }

  end(): void {
    this.sha256 = this.hash.digest('hex');
    this.close();
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  /** The bytes, read back from the spool; an OpsError above READ_BACK_CAP. */
  bytes(what: string): Buffer {
    const size = statSync(this.spoolPath).size;
    if (size > READ_BACK_CAP) {
      throw new OpsError('ERR_BUNDLE_LIMIT', `${what} is ${size} bytes; reading it whole (for this check) is limited to ${READ_BACK_CAP} bytes.`, { path: `mirror/${what}` });
    }
    return readFileSync(this.spoolPath);
  }

  /** The detached signature check (as keys.verifyDetached, over the streamed bytes). Call once, after end(). */
  verifyDetached(signature: Buffer | string, what: string): DetachedResult {
    const tried = [...new Set(this.verifiers.map((k) => k.key.fingerprint))];
    const sig = decodeSignature(signature);
    if (!sig) return { ok: false, signedBy: [], tried };
    let whole: Buffer | null = null;
    const signedBy = new Set<string>();
    for (const k of this.verifiers) {
      let ok = false;
      for (const s of k.streams) {
        try {
          if (!ok && s.v.verify(s.scheme.key, sig)) ok = true;
        } catch {
          /* not such a signature */
        }
      }
      for (const s of k.whole) {
        if (ok || sig.length !== 64) continue; // Ed25519 signatures are 64 bytes
        whole ??= this.bytes(what);
        try {
          if (cryptoVerify(null, whole, s.key, sig)) ok = true;
        } catch {
          /* not such a signature */
        }
      }
      if (ok) signedBy.add(k.key.fingerprint);
    }
    if (signedBy.size > 0) return { ok: true, signedBy: [...signedBy], tried };
    let note: string | undefined;
    if (this.size <= READ_BACK_CAP && this.verifiers.some((k) => k.object?.asymmetricKeyType === 'ec')) note = refusedPairNote(this.bytes(what), sig, this.verifiers.map((k) => k.key));
    return note ? { ok: false, signedBy: [], tried, note } : { ok: false, signedBy: [], tried };
  }
}
