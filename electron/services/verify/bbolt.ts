/**
 * bbolt (Go's bolt key/value store, the format of Trivy's `trivy.db`) meta
 * page check, the offline counterpart of Trivy opening the database
 * (spec section 7), and a writer of a minimal valid empty database.
 *
 * On-disk layout (little-endian), as bbolt writes it:
 *   page header, 16 bytes:  id u64 @0, flags u16 @8, count u16 @10, overflow u32 @12
 *   meta (pages 0 and 1), starting at page offset 16:
 *     magic u32 @0 (0xED0CDAED), version u32 @4 (2), pageSize u32 @8, flags u32 @12,
 *     root bucket { root pgid u64 @16, sequence u64 @24 }, freelist pgid u64 @32,
 *     pgid (high-water mark) u64 @40, txid u64 @48,
 *     checksum u64 @56 = FNV-1a 64 of the 56 meta bytes before it.
 *   page flags: branch 0x01, leaf 0x02, meta 0x04, freelist 0x10.
 * Checked against ../shared/fixtures/trivy-upstream/trivy.db (Trivy's tooling).
 */
import { open } from 'node:fs/promises';

export const BBOLT_MAGIC = 0xed0cdaed;
export const BBOLT_VERSION = 2;
export const PAGE_HEADER_SIZE = 16;
export const META_SIZE = 64;
export const PAGE_FLAG_BRANCH = 0x01;
export const PAGE_FLAG_LEAF = 0x02;
export const PAGE_FLAG_META = 0x04;
export const PAGE_FLAG_FREELIST = 0x10;
/** bbolt's marker for "no freelist page" (NoFreelistSync). */
const PGID_NO_FREELIST = 0xffffffffffffffffn;
export const MIN_PAGE_SIZE = 512;
export const MAX_PAGE_SIZE = 1024 * 1024;
/** Page sizes tried for meta page 1 when meta page 0 is damaged (OS page sizes bbolt meets). */
const PROBE_PAGE_SIZES = [4096, 16384, 65536, 8192, 32768, 2048, 1024, 512];

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;

/** FNV-1a 64-bit hash (what bbolt's meta checksum uses). */
export function fnv1a64(data: Uint8Array): bigint {
  // Work on two 32-bit halves to avoid a BigInt multiply per byte.
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  for (let i = 0; i < data.length; i++) {
    lo = (lo ^ data[i]) >>> 0;
    // (hi:lo) * 0x100000001b3 = (hi:lo) * 0x1b3 + (lo << 40)
    const loMul = lo * 0x1b3;
    const carry = Math.floor(loMul / 0x100000000);
    const newLo = loMul >>> 0;
    const newHi = (hi * 0x1b3 + carry + ((lo << 8) >>> 0)) >>> 0;
    hi = newHi;
    lo = newLo;
  }
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** Straightforward BigInt FNV-1a 64, used to cross-check {@link fnv1a64} in tests. */
export function fnv1a64Reference(data: Uint8Array): bigint {
  let h = FNV_OFFSET;
  for (const b of data) h = ((h ^ BigInt(b)) * FNV_PRIME) & MASK64;
  return h;
}

export interface BboltMeta {
  /** 0 or 1. */
  page: number;
  pageId: bigint;
  pageFlags: number;
  magic: number;
  version: number;
  pageSize: number;
  flags: number;
  root: bigint;
  sequence: bigint;
  freelist: bigint;
  pgid: bigint;
  txid: bigint;
  checksum: bigint;
  checksumOk: boolean;
  /** Magic, version, checksum and field sanity all good. */
  valid: boolean;
  problems: string[];
}

export interface BboltCheck {
  ok: boolean;
  /** Plain-language problems (empty when ok). */
  problems: string[];
  /** Non-fatal findings (for example one damaged meta page). */
  notes: string[];
  pageSize: number | null;
  metas: BboltMeta[];
  /** Transaction id of the meta bbolt would use (the valid one with the highest txid). */
  txid: bigint | null;
}

/** Reads the meta struct of the page starting at `pageOffset` of `buf`. */
export function readMeta(buf: Buffer, pageOffset: number, page: number): BboltMeta {
  const m = pageOffset + PAGE_HEADER_SIZE;
  const meta: BboltMeta = {
    page,
    pageId: buf.readBigUInt64LE(pageOffset),
    pageFlags: buf.readUInt16LE(pageOffset + 8),
    magic: buf.readUInt32LE(m),
    version: buf.readUInt32LE(m + 4),
    pageSize: buf.readUInt32LE(m + 8),
    flags: buf.readUInt32LE(m + 12),
    root: buf.readBigUInt64LE(m + 16),
    sequence: buf.readBigUInt64LE(m + 24),
    freelist: buf.readBigUInt64LE(m + 32),
    pgid: buf.readBigUInt64LE(m + 40),
    txid: buf.readBigUInt64LE(m + 48),
    checksum: buf.readBigUInt64LE(m + 56),
    checksumOk: false,
    valid: false,
    problems: [],
  };
  meta.checksumOk = fnv1a64(buf.subarray(m, m + 56)) === meta.checksum;
  const p = meta.problems;
  if (meta.magic !== BBOLT_MAGIC) p.push(`meta page ${page}: magic is 0x${meta.magic.toString(16).padStart(8, '0')}, not 0xed0cdaed`);
  if (meta.version !== BBOLT_VERSION) p.push(`meta page ${page}: format version is ${meta.version}, not ${BBOLT_VERSION}`);
  if (!meta.checksumOk) p.push(`meta page ${page}: checksum does not match`);
  meta.valid = p.length === 0;
  return meta;
}

function sanePageSize(n: number): boolean {
  return Number.isInteger(n) && n >= MIN_PAGE_SIZE && n <= MAX_PAGE_SIZE;
}

/**
 * Checks a bbolt file's meta pages. `head` holds at least the file's first two
 * pages (the whole file is fine); `fileSize` is the file's total size.
 */
export function checkBbolt(head: Buffer, fileSize: number = head.length): BboltCheck {
  const result: BboltCheck = { ok: false, problems: [], notes: [], pageSize: null, metas: [], txid: null };
  const need = PAGE_HEADER_SIZE + META_SIZE;
  if (fileSize < need || head.length < need) {
    result.problems.push(`the file is too small to be a bbolt database (${fileSize} bytes)`);
    return result;
  }
  const meta0 = readMeta(head, 0, 0);
  // The page size comes from meta page 0 (bbolt does the same). When meta 0 is
  // damaged, its page size field cannot be trusted: probe the usual sizes for
  // an intact meta page 1, as bbolt falls back to it.
  let pageSize = meta0.pageSize;
  if (meta0.magic !== BBOLT_MAGIC) {
    result.metas.push(meta0);
    result.problems.push(...meta0.problems.filter((x) => x.includes('magic')), 'this is not a bbolt database');
    return result;
  }
  if (!meta0.checksumOk) {
    const probes = [...new Set([pageSize, ...PROBE_PAGE_SIZES])].filter(sanePageSize);
    for (const ps of probes) {
      if (head.length < ps + need || fileSize < 2 * ps) continue;
      const m1 = readMeta(head, ps, 1);
      if (m1.valid && m1.pageSize === ps) {
        pageSize = ps;
        break;
      }
    }
  }
  if (!sanePageSize(pageSize)) {
    result.metas.push(meta0);
    result.problems.push(`meta page 0 gives an impossible page size (${pageSize})`);
    return result;
  }
  result.pageSize = pageSize;
  if (fileSize < 2 * pageSize || head.length < pageSize + need) {
    result.metas.push(meta0);
    result.problems.push(`the file is ${fileSize} bytes, too short for the two meta pages of ${pageSize} bytes (truncated?)`);
    return result;
  }
  const meta1 = readMeta(head, pageSize, 1);
  result.metas.push(meta0, meta1);

  for (const m of [meta0, meta1]) {
    if (m.magic !== BBOLT_MAGIC || m.version !== BBOLT_VERSION) result.problems.push(...m.problems.filter((x) => !x.includes('checksum')));
  }
  for (const m of [meta0, meta1]) {
    if (!m.checksumOk) continue;
    // Field sanity for a meta that claims to be intact.
    const extra: string[] = [];
    if (m.pageSize !== pageSize) extra.push(`meta page ${m.page}: page size ${m.pageSize} differs from meta page 0 (${pageSize})`);
    if (m.pageId !== BigInt(m.page)) extra.push(`meta page ${m.page}: page header says it is page ${m.pageId}`);
    if ((m.pageFlags & PAGE_FLAG_META) === 0) extra.push(`meta page ${m.page}: page is not flagged as a meta page`);
    if (m.pgid < 2n) extra.push(`meta page ${m.page}: high-water mark ${m.pgid} leaves no room for the meta pages`);
    if (m.root < 2n || m.root >= m.pgid) extra.push(`meta page ${m.page}: root page ${m.root} lies outside the database`);
    if (m.freelist !== PGID_NO_FREELIST && (m.freelist < 2n || m.freelist >= m.pgid)) extra.push(`meta page ${m.page}: freelist page ${m.freelist} lies outside the database`);
    if (m.pgid * BigInt(pageSize) > BigInt(fileSize)) extra.push(`meta page ${m.page}: the database claims ${m.pgid} pages but the file holds only ${Math.floor(fileSize / pageSize)} (truncated?)`);
    if (extra.length > 0) {
      m.problems.push(...extra);
      m.valid = false;
    }
  }
  const structurallyOk = result.problems.length === 0;
  const good = [meta0, meta1].filter((m) => m.valid);
  if (structurallyOk && good.length === 0) {
    const details = [meta0, meta1].flatMap((m) => m.problems);
    result.problems.push(`neither meta page is intact (${details.join('; ')})`);
  }
  if (result.problems.length === 0) {
    result.ok = true;
    for (const m of [meta0, meta1]) if (!m.valid) result.notes.push(`${m.problems.join('; ')}; bbolt falls back to the other meta page`);
    result.txid = good.reduce((a, m) => (m.txid > a ? m.txid : a), good[0].txid);
  }
  return result;
}

/** Bytes of a bbolt file's head that {@link checkBbolt} needs, once the first bytes are known. */
export function bboltHeadBytesNeeded(firstBytes: Buffer): number {
  const need = PAGE_HEADER_SIZE + META_SIZE;
  if (firstBytes.length < need) return need;
  const pageSize = firstBytes.readUInt32LE(PAGE_HEADER_SIZE + 8);
  const meta0Intact = fnv1a64(firstBytes.subarray(PAGE_HEADER_SIZE, PAGE_HEADER_SIZE + 56)) === firstBytes.readBigUInt64LE(PAGE_HEADER_SIZE + 56);
  // A damaged meta 0 means probing for meta 1 at the usual page sizes.
  const largest = meta0Intact ? pageSize : Math.max(...PROBE_PAGE_SIZES, sanePageSize(pageSize) ? pageSize : 0);
  return sanePageSize(largest) ? largest + need : need;
}

/**
 * Collects just enough of a streamed bbolt file (never more than one page plus
 * one meta) to run {@link checkBbolt} at the end.
 */
export class BboltHeadCollector {
  private head: Buffer = Buffer.alloc(0);
  private total = 0;

  push(chunk: Buffer): void {
    this.total += chunk.length;
    let offset = 0;
    while (offset < chunk.length) {
      const want = bboltHeadBytesNeeded(this.head);
      if (this.head.length >= want) return;
      const take = chunk.subarray(offset, offset + (want - this.head.length));
      this.head = Buffer.concat([this.head, take]);
      offset += take.length;
    }
  }

  /** Bytes seen so far. */
  get size(): number {
    return this.total;
  }

  result(): BboltCheck {
    return checkBbolt(this.head, this.total);
  }
}

/** Checks a bbolt file on disk, reading only its first two pages. */
export async function checkBboltFile(file: string): Promise<BboltCheck> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const first = Buffer.alloc(Math.min(size, PAGE_HEADER_SIZE + META_SIZE));
    await fh.read(first, 0, first.length, 0);
    const need = Math.min(size, bboltHeadBytesNeeded(first));
    const head = Buffer.alloc(need);
    await fh.read(head, 0, need, 0);
    return checkBbolt(head, size);
  } finally {
    await fh.close();
  }
}

function writeMeta(buf: Buffer, page: number, pageSize: number, txid: number): void {
  const off = page * pageSize;
  buf.writeBigUInt64LE(BigInt(page), off);
  buf.writeUInt16LE(PAGE_FLAG_META, off + 8);
  const m = off + PAGE_HEADER_SIZE;
  buf.writeUInt32LE(BBOLT_MAGIC, m);
  buf.writeUInt32LE(BBOLT_VERSION, m + 4);
  buf.writeUInt32LE(pageSize, m + 8);
  buf.writeUInt32LE(0, m + 12);
  buf.writeBigUInt64LE(3n, m + 16); // root bucket page
  buf.writeBigUInt64LE(0n, m + 24); // bucket sequence
  buf.writeBigUInt64LE(2n, m + 32); // freelist page
  buf.writeBigUInt64LE(4n, m + 40); // high-water mark
  buf.writeBigUInt64LE(BigInt(txid), m + 48);
  buf.writeBigUInt64LE(fnv1a64(buf.subarray(m, m + 56)), m + 56);
}

/**
 * A minimal valid empty bbolt database, as bbolt's own initialisation writes
 * it: meta pages 0 and 1 (txid 0 and 1), an empty freelist page 2 and an
 * empty leaf page 3 as the root bucket.
 */
export function writeMinimalBbolt(pageSize = 4096): Buffer {
  if (!sanePageSize(pageSize)) throw new RangeError(`page size ${pageSize} out of range`);
  const buf = Buffer.alloc(4 * pageSize);
  writeMeta(buf, 0, pageSize, 0);
  writeMeta(buf, 1, pageSize, 1);
  buf.writeBigUInt64LE(2n, 2 * pageSize);
  buf.writeUInt16LE(PAGE_FLAG_FREELIST, 2 * pageSize + 8);
  buf.writeBigUInt64LE(3n, 3 * pageSize);
  buf.writeUInt16LE(PAGE_FLAG_LEAF, 3 * pageSize + 8);
  return buf;
}
