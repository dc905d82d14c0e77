/**
 * Stream stages for whole-file age (spec 5.1): ASCII armor decoding and the
 * age STREAM decryption, plus the identity handling shared with per-file
 * decryption (../decrypt).
 */
import { createDecipheriv, hkdfSync } from 'node:crypto';
import { OpsError, isOpsError } from '../../../../shared/errors';
import type { VerifyOptions } from '../types';

export const AGE_MAGIC = Buffer.from('age-encryption.org/v1\n');
export const AGE_ARMOR = Buffer.from('-----BEGIN AGE ENCRYPTED FILE-----');
/** age STREAM: 64 KiB plaintext chunks, each followed by a 16-byte Poly1305 tag. */
const AGE_TAG = 16;
const AGE_CHUNK = 64 * 1024 + AGE_TAG;
const AGE_HEADER_CAP = 1024 * 1024;
const EMPTY = Buffer.alloc(0);

/** Whether the caller gave an identity or a passphrase to decrypt with. */
export function wantsDecrypt(opts: VerifyOptions): boolean {
  return (opts.identities?.length ?? 0) > 0 || (opts.passphrase !== undefined && opts.passphrase !== '');
}

/** What the first bytes of a file say: plain, age binary, or age armored. */
export function ageFormat(head: Buffer): 'none' | 'binary' | 'armored' {
  if (head.toString('latin1').trimStart().startsWith(AGE_ARMOR.toString('latin1'))) return 'armored';
  return head.subarray(0, AGE_MAGIC.length).equals(AGE_MAGIC) ? 'binary' : 'none';
}

/** Adds the caller's age identities and passphrase; a malformed identity is a usage error. */
export function addIdentities(d: { addIdentity(s: string): void; addPassphrase(s: string): void }, opts: VerifyOptions): void {
  for (const id of opts.identities ?? []) {
    try {
      d.addIdentity(id);
    } catch (e) {
      throw new OpsError('ERR_USAGE', `An age identity given is not valid (${(e as Error).message}). Identity files hold AGE-SECRET-KEY-1… lines.`);
    }
  }
  if (opts.passphrase) d.addPassphrase(opts.passphrase);
}

function classifyAgeError(e: unknown, phase: 'header' | 'payload'): OpsError {
  if (isOpsError(e)) return e;
  const msg = e instanceof Error ? e.message : String(e);
  if (/no identity matched/i.test(msg)) {
    return new OpsError('ERR_DECRYPT_NO_RECIPIENT', 'None of the age identities given can decrypt this bundle (it was encrypted for other recipients).');
  }
  if (phase === 'header' && !/HMAC/i.test(msg)) {
    return new OpsError('ERR_BUNDLE_CORRUPT', `The age-encrypted bundle has a damaged header (${msg}).`);
  }
  return new OpsError('ERR_DECRYPT_AUTH', `The age-encrypted bundle failed authentication while decrypting (${msg}): it was altered or truncated.`);
}

/** Reads and opens the age header (recipient stanzas and MAC); returns the file key and the bytes after it. */
async function readAgeHeader(it: AsyncIterator<Buffer>, opts: VerifyOptions): Promise<{ fileKey: Uint8Array; rest: Buffer }> {
  // Loaded when needed: it is the slowest module to load and most bundles are not encrypted.
  const { Decrypter } = await import('age-encryption');
  const d = new Decrypter();
  addIdentities(d, opts);
  let buf: Buffer = EMPTY;
  let headerEnd = -1;
  // 1. The text header, up to and including the "--- <MAC>" line.
  while (headerEnd < 0) {
    const r = await it.next();
    if (r.done) throw new OpsError('ERR_BUNDLE_CORRUPT', 'The age-encrypted bundle ends inside its header.');
    buf = buf.length ? Buffer.concat([buf, r.value]) : r.value;
    const mac = buf.indexOf('\n--- ');
    if (mac >= 0) {
      const nl = buf.indexOf('\n', mac + 1);
      if (nl >= 0) headerEnd = nl + 1;
    }
    if (headerEnd < 0 && buf.length > AGE_HEADER_CAP) throw new OpsError('ERR_BUNDLE_CORRUPT', 'The age-encrypted bundle has no header end within 1 MiB.');
  }
  let fileKey: Uint8Array;
  try {
    fileKey = await d.decryptHeader(buf.subarray(0, headerEnd));
  } catch (e) {
    throw classifyAgeError(e, 'header');
  }
  return { fileKey, rest: buf.subarray(headerEnd) };
}

/** age STREAM: ChaCha20-Poly1305 under a key derived from the file key and the payload nonce; a 11-byte counter and a last-chunk flag. */
class PayloadCipher {
  private readonly key: Buffer;
  private counter = 0;
  constructor(fileKey: Uint8Array, nonce: Buffer) {
    this.key = Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32));
  }
  open(ct: Buffer, last: boolean): Buffer {
    if (ct.length < AGE_TAG) throw new OpsError('ERR_DECRYPT_AUTH', 'The age-encrypted bundle is truncated (a payload chunk is shorter than its tag).');
    const iv = Buffer.alloc(12);
    iv.writeUIntBE(this.counter, 5, 6);
    if (last) iv[11] = 1;
    this.counter++;
    const dc = createDecipheriv('chacha20-poly1305', this.key, iv, { authTagLength: AGE_TAG });
    dc.setAuthTag(ct.subarray(ct.length - AGE_TAG));
    try {
      const out = dc.update(ct.subarray(0, ct.length - AGE_TAG));
      dc.final();
      return out;
    } catch {
      throw new OpsError('ERR_DECRYPT_AUTH', 'The age-encrypted bundle failed authentication while decrypting: it was altered or truncated.');
    }
  }
  /** Chunks opened so far. */
  get count(): number {
    return this.counter;
  }
}

/**
 * Whole-file age (spec 5.1). The header (recipient stanzas and MAC) is
 * handled by age-encryption, which unwraps the file key with the
 * identities; the payload (STREAM: 64 KiB ChaCha20-Poly1305 chunks) is
 * decrypted here with node:crypto's native cipher, chunk by chunk.
 */
export async function* ageDecrypt(source: AsyncIterable<Buffer>, opts: VerifyOptions): AsyncGenerator<Buffer> {
  if (!wantsDecrypt(opts)) {
    throw new OpsError('ERR_DECRYPT_NO_RECIPIENT', 'The bundle is age-encrypted as a whole, and no age identity (--identity) or passphrase (--passphrase-file) was given to decrypt it.');
  }
  const it = source[Symbol.asyncIterator]();
  const { fileKey, rest } = await readAgeHeader(it, opts);
  // 2. The 16-byte payload nonce, then STREAM chunks; the last one carries the last-chunk flag.
  let nonce: Buffer | null = null;
  let cipher: PayloadCipher | null = null;
  const decryptChunk = (ct: Buffer, last: boolean): Buffer => cipher!.open(ct, last);
  // Whole chunks are decrypted straight from the input buffers; only a chunk that spans two
  // inputs is copied. A chunk is the last one only when no byte follows it in the file.
  let pend: Buffer = rest;
  for (;;) {
    const r = await it.next();
    const out: Buffer[] = [];
    if (r.done) {
      if (!nonce) {
        if (pend.length < 16) throw new OpsError('ERR_DECRYPT_AUTH', 'The age-encrypted bundle is truncated (no payload nonce).');
        nonce = Buffer.from(pend.subarray(0, 16));
        cipher = new PayloadCipher(fileKey, nonce);
        pend = pend.subarray(16);
      }
      while (pend.length > AGE_CHUNK) {
        out.push(decryptChunk(pend.subarray(0, AGE_CHUNK), false));
        pend = pend.subarray(AGE_CHUNK);
      }
      const last = decryptChunk(pend, true);
      if (last.length === 0 && cipher!.count > 1) throw new OpsError('ERR_DECRYPT_AUTH', 'The age-encrypted bundle ends with an empty final chunk, which age does not allow.');
      out.push(last);
      for (const o of out) if (o.length) yield o;
      return;
    }
    let input: Buffer = r.value;
    if (!input.length) continue;
    if (!nonce) {
      if (pend.length + input.length < 16) {
        pend = Buffer.concat([pend, input]);
        continue;
      }
      if (pend.length < 16) {
        input = Buffer.concat([pend, input]);
        pend = EMPTY;
      }
      const from = pend.length ? pend : input;
      nonce = Buffer.from(from.subarray(0, 16));
      cipher = new PayloadCipher(fileKey, nonce);
      if (pend.length) pend = pend.subarray(16);
      else input = input.subarray(16);
      if (!input.length) continue;
    }
    // `input` follows `pend`, so every whole chunk in `pend` has bytes after it: not the last.
    while (pend.length >= AGE_CHUNK) {
      out.push(decryptChunk(pend.subarray(0, AGE_CHUNK), false));
      pend = pend.subarray(AGE_CHUNK);
    }
    if (pend.length) {
      const k = AGE_CHUNK - pend.length;
      if (input.length > k) {
        out.push(decryptChunk(Buffer.concat([pend, input.subarray(0, k)]), false));
        pend = input.subarray(k);
      } else {
        pend = Buffer.concat([pend, input]);
      }
    } else {
      pend = input;
    }
    // Whole chunks of the new input that still have bytes after them.
    while (pend.length > AGE_CHUNK) {
      out.push(decryptChunk(pend.subarray(0, AGE_CHUNK), false));
      pend = pend.subarray(AGE_CHUNK);
    }
    for (const o of out) if (o.length) yield o;
  }
}

/** Decodes an ASCII-armored age file (PEM-like base64 lines) as it streams. */
export async function* armorDecode(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let text = '';
  let begun = false;
  let ended = false;
  for await (const chunk of source) {
    if (ended) continue;
    text += chunk.toString('latin1');
    let nl: number;
    const out: Buffer[] = [];
    while (!ended && (nl = text.indexOf('\n')) >= 0) {
      const line = text.slice(0, nl).replace(/\r$/, '').trim();
      text = text.slice(nl + 1);
      if (!begun) {
        if (line === '') continue;
        if (line !== '-----BEGIN AGE ENCRYPTED FILE-----') throw new OpsError('ERR_BUNDLE_CORRUPT', 'The armored age file does not start with its BEGIN line.');
        begun = true;
      } else if (line === '-----END AGE ENCRYPTED FILE-----') {
        ended = true;
      } else if (line.length > 64 || !/^[A-Za-z0-9+/]*={0,2}$/.test(line) || line.length % 4 !== 0) {
        throw new OpsError('ERR_BUNDLE_CORRUPT', 'The armored age file has a line that is not valid base64.');
      } else {
        out.push(Buffer.from(line, 'base64'));
      }
    }
    if (text.length > 1024) throw new OpsError('ERR_BUNDLE_CORRUPT', 'The armored age file has an overlong line.');
    if (out.length) yield Buffer.concat(out);
  }
  if (!ended) throw new OpsError('ERR_DECRYPT_AUTH', 'The armored age file is truncated (no END line).');
}
