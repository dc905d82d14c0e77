/**
 * Minimal bbolt (BoltDB) files for Trivy DB bundles: the verification
 * engine's own writer of a valid empty database (two meta pages, an empty
 * freelist page and an empty root leaf), plus deliberately broken variants for
 * the spec section 7 format check (magic 0xED0CDAED, version 2, FNV-1a 64
 * checksum over the 56 meta bytes, in both meta pages).
 */
import { fnv1a64, writeMinimalBbolt } from '../verify/bbolt';

export { fnv1a64 };

export interface BboltOptions {
  pageSize?: number;
  /** Break the file on purpose in both meta pages: bad magic, bad checksum, or version 3 (checksum kept valid). */
  corrupt?: 'magic' | 'checksum' | 'version';
}

export function minimalBbolt(opts: BboltOptions = {}): Buffer {
  const pageSize = opts.pageSize ?? 4096;
  const buf = writeMinimalBbolt(pageSize);
  if (!opts.corrupt) return buf;
  for (const page of [0, 1]) {
    const m = page * pageSize + 16;
    if (opts.corrupt === 'magic') buf.writeUInt32LE(0xdeadbeef, m);
    if (opts.corrupt === 'version') buf.writeUInt32LE(3, m + 4);
    let sum = fnv1a64(buf.subarray(m, m + 56));
    if (opts.corrupt === 'checksum') sum ^= 1n;
    buf.writeBigUInt64LE(sum, m + 56);
  }
  return buf;
}
