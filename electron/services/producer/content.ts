/**
 * Payload content for generated bundles: a Buffer/string held in memory, or a
 * deterministic pseudo-random stream `{ size, seed }` that is never held whole
 * (AES-128-CTR keystream keyed by the seed: incompressible, fast, repeatable),
 * so multi-GiB bundles can be made at run time.
 */
import { createCipheriv, createHash, type Hash } from 'node:crypto';

export interface GeneratedContent {
  /** Plaintext size in bytes. */
  size: number;
  /** Any string or number: the same seed gives the same bytes. */
  seed: string | number;
  /**
   * `random` (default): incompressible; `text`: very compressible JSON lines;
   * `ndjson`: advisory-like JSON lines (random ids and digests, words from a
   * vocabulary) that zstd compresses about 2-3×, like real advisory feeds.
   */
  kind?: 'random' | 'text' | 'ndjson';
}

export type Content = Buffer | Uint8Array | string | GeneratedContent;

const CHUNK = 1 << 20;

export function isGenerated(c: Content): c is GeneratedContent {
  return typeof c === 'object' && c !== null && !(c instanceof Uint8Array) && 'size' in c && 'seed' in c;
}

export function contentSize(c: Content): number {
  if (typeof c === 'string') return Buffer.byteLength(c, 'utf8');
  if (isGenerated(c)) return c.size;
  return c.length;
}

function seedKey(seed: string | number): Buffer {
  return createHash('sha256').update(`okc-producer:${String(seed)}`).digest().subarray(0, 16);
}

const WORDS = 'allows remote attackers to execute arbitrary code via crafted request heap buffer overflow in the parser when handling malformed input denial of service use after free improper validation of certificate chain leads to information disclosure path traversal in archive extraction'.split(' ');
const SOURCES = ['nvd', 'ghsa', 'osv', 'redhat', 'debian', 'ubuntu', 'alpine', 'suse'];
const ECOS = ['npm', 'pypi', 'maven', 'go', 'cargo', 'nuget', 'deb', 'rpm', 'apk'];
const SEVERITIES = ['low', 'medium', 'high', 'critical'];

/** Advisory-like NDJSON lines, deterministic from the seed (a keystream supplies the random fields). */
function* ndjsonChunks(c: GeneratedContent, chunkSize: number): Generator<Buffer> {
  const cipher = createCipheriv('aes-128-ctr', seedKey(c.seed), Buffer.alloc(16));
  let left = c.size;
  let n = 0;
  let carry = Buffer.alloc(0);
  while (left > 0) {
    const want = Math.min(chunkSize, left);
    const rnd = cipher.update(Buffer.alloc(Math.ceil(want / 3) + 64));
    let r = 0;
    const next = (): number => rnd[r++ % rnd.length];
    const lines: string[] = [];
    let len = carry.length;
    while (len < want) {
      const hex = rnd.toString('hex', r % (rnd.length - 32), (r % (rnd.length - 32)) + 32);
      r += 32;
      const words: string[] = [];
      for (let k = 4 + (next() % 14); k > 0; k--) words.push(WORDS[next() % WORDS.length]);
      const line = `{"id":"CVE-20${10 + (next() % 15)}-${(next() << 8) | next()}","source":"${SOURCES[next() % SOURCES.length]}","severity":"${SEVERITIES[next() % 4]}","cvss":${(next() % 100) / 10},"package":{"ecosystem":"${ECOS[next() % ECOS.length]}","name":"pkg-${next().toString(36)}${next().toString(36)}","fixed":"${next() % 10}.${next() % 30}.${next() % 50}"},"digest":"sha256:${hex}","summary":"${words.join(' ')}","seq":${n}}\n`;
      lines.push(line);
      len += line.length;
      n++;
    }
    const buf = Buffer.concat([carry, Buffer.from(lines.join(''), 'utf8')]);
    const take = Math.min(left, want, buf.length);
    yield buf.subarray(0, take);
    carry = buf.subarray(take);
    left -= take;
  }
}

/** Deterministic bytes of a generated content, chunk by chunk. */
function* generatedChunks(c: GeneratedContent, chunkSize = CHUNK): Generator<Buffer> {
  if (c.kind === 'ndjson') {
    yield* ndjsonChunks(c, chunkSize);
    return;
  }
  if (c.kind === 'text') {
    let left = c.size;
    let n = 0;
    const tag = String(c.seed);
    let carry = Buffer.alloc(0);
    while (left > 0) {
      const lines: string[] = [];
      let len = carry.length;
      while (len < Math.min(chunkSize, left)) {
        const line = `{"id":"${tag}-${n}","severity":"${['low', 'medium', 'high', 'critical'][n % 4]}","seq":${n}}\n`;
        lines.push(line);
        len += line.length;
        n++;
      }
      const buf = Buffer.concat([carry, Buffer.from(lines.join(''), 'utf8')]);
      const take = Math.min(left, chunkSize, buf.length);
      yield buf.subarray(0, take);
      carry = buf.subarray(take);
      left -= take;
    }
    return;
  }
  const cipher = createCipheriv('aes-128-ctr', seedKey(c.seed), Buffer.alloc(16));
  const zeros = Buffer.alloc(Math.min(chunkSize, Math.max(c.size, 1)));
  let left = c.size;
  while (left > 0) {
    const n = Math.min(left, zeros.length);
    yield cipher.update(n === zeros.length ? zeros : zeros.subarray(0, n));
    left -= n;
  }
}

/** The plaintext bytes of a content, chunk by chunk (never the whole of a generated content). */
export function* plaintextChunks(c: Content): Generator<Buffer> {
  if (typeof c === 'string') {
    yield Buffer.from(c, 'utf8');
    return;
  }
  if (isGenerated(c)) {
    yield* generatedChunks(c);
    return;
  }
  yield Buffer.isBuffer(c) ? c : Buffer.from(c);
}

/** Materialises a content (only for small ones: tests, control files). */
export function contentBytes(c: Content): Buffer {
  return Buffer.concat([...plaintextChunks(c)]);
}

export interface PerFileCipher {
  dek: Buffer;
  nonce: Buffer;
  aad: string;
}

/** Per-file AES-256-GCM (spec 5.2): `nonce(12) || ciphertext || tag(16)`. */
export function* storedChunks(c: Content, enc: PerFileCipher | null, onPlain?: (b: Buffer) => void): Generator<Buffer> {
  if (!enc) {
    for (const b of plaintextChunks(c)) {
      onPlain?.(b);
      yield b;
    }
    return;
  }
  const cipher = createCipheriv('aes-256-gcm', enc.dek, enc.nonce);
  cipher.setAAD(Buffer.from(enc.aad, 'utf8'));
  yield enc.nonce;
  for (const b of plaintextChunks(c)) {
    onPlain?.(b);
    const out = cipher.update(b);
    if (out.length > 0) yield out;
  }
  const fin = cipher.final();
  if (fin.length > 0) yield fin;
  yield cipher.getAuthTag();
}

export const GCM_OVERHEAD = 12 + 16;

export interface Digests {
  sha256: string;
  size: number;
  storedSha256?: string;
  storedSize?: number;
}

/** Plaintext (and stored, when encrypted) digests of a content, streaming. */
export function digestContent(c: Content, enc: PerFileCipher | null): Digests {
  const plain: Hash = createHash('sha256');
  const stored: Hash = createHash('sha256');
  let size = 0;
  let storedSize = 0;
  for (const b of storedChunks(c, enc, (p) => {
    plain.update(p);
    size += p.length;
  })) {
    if (enc) {
      stored.update(b);
      storedSize += b.length;
    }
  }
  const d: Digests = { sha256: plain.digest('hex'), size };
  if (enc) {
    d.storedSha256 = stored.digest('hex');
    d.storedSize = storedSize;
  }
  return d;
}
