/**
 * Paged storage for the verifier's per-entry tables (issue 13, "memory flat
 * in file count"). A table grows by whole pages that are never reallocated:
 * no growth copy (for a moment both the old and the doubled column), no
 * spare capacity beyond one page, and no freed multi-megabyte blocks left
 * in the allocator (measured: a 1,000,000-file verify held ~30 MB more RSS
 * with growable columns than glibc with a fixed mmap threshold). A page is
 * allocated when the first entry in it is written; unwritten parts of a
 * page are never touched, so they do not become resident.
 */

import { closeSync, constants as fsc, openSync, readSync, writeSync } from 'node:fs';

/** Entries per page of a column: 32,768 (256 KiB of Float64, 1 MiB of 32-byte digests). */
export const PAGE_SHIFT = 15;
const PAGE = 1 << PAGE_SHIFT;
const MASK = PAGE - 1;
const EMPTY_PAGE = Buffer.alloc(0);

type Typed = Float64Array<ArrayBuffer> | Int32Array<ArrayBuffer> | Uint32Array<ArrayBuffer> | Uint16Array<ArrayBuffer> | Uint8Array<ArrayBuffer>;

/** A numeric column by entry index; entries never written read as 0. */
export class PagedArray<T extends Typed> {
  private readonly pages: T[] = [];
  /** One past the highest entry written. */
  private hi = 0;

  constructor(private readonly make: (n: number) => T) {}

  get(i: number): number {
    const p = this.pages[i >>> PAGE_SHIFT];
    return p === undefined ? 0 : p[i & MASK];
  }

  set(i: number, v: number): void {
    const k = i >>> PAGE_SHIFT;
    while (this.pages.length <= k) this.pages.push(this.make(PAGE));
    this.pages[k][i & MASK] = v;
    if (i >= this.hi) this.hi = i + 1;
  }

  /** Entries the allocated pages hold. */
  get capacity(): number {
    return this.pages.length << PAGE_SHIFT;
  }

  /** Bytes up to the highest entry written (the rest of its page is never touched, so never resident). */
  get byteLength(): number {
    return this.pages.length === 0 ? 0 : this.hi * this.pages[0].BYTES_PER_ELEMENT;
  }
}

/**
 * Buffer's own latin1 writer (what `write(s, o, n, 'latin1')` ends in, without
 * its argument handling: 100,000 digests of 32 bytes, 27 -> 6 ms before the
 * code warms up, about even after).
 */
type Latin1Writable = Buffer & { latin1Write(s: string, offset: number, length: number): number };

/** Fixed-width byte records by entry index (digests, path keys). */
export class PagedRecords {
  private readonly pages: Buffer[] = [];
  /** One past the highest record written. */
  private hi = 0;

  constructor(readonly width: number) {}

  private page(k: number): Buffer {
    while (this.pages.length <= k) this.pages.push(Buffer.allocUnsafe(this.width * PAGE));
    return this.pages[k];
  }

  /** The page that holds the record locate() found. */
  located: Buffer = EMPTY_PAGE;

  /** Record i's offset in `located` (no view made). */
  locate(i: number): number {
    this.located = this.page(i >>> PAGE_SHIFT);
    return (i & MASK) * this.width;
  }

  /** Record i as a view (valid until the table is dropped). */
  view(i: number): Buffer {
    const o = (i & MASK) * this.width;
    return this.page(i >>> PAGE_SHIFT).subarray(o, o + this.width);
  }

  /** Record i as lowercase hex (no view made: a subarray per record cost ~5 µs in a cold loop). */
  hexAt(i: number): string {
    const o = (i & MASK) * this.width;
    return this.page(i >>> PAGE_SHIFT).toString('hex', o, o + this.width);
  }

  /** Copies `width` bytes of `src` from `start` into record i. */
  write(i: number, src: Uint8Array, start = 0): void {
    this.page(i >>> PAGE_SHIFT).set(src.subarray(start, start + this.width), (i & MASK) * this.width);
    if (i >= this.hi) this.hi = i + 1;
  }

  /** Writes record i from hex digits (2 per byte); returns the bytes written. */
  writeHex(i: number, hex: string): number {
    if (i >= this.hi) this.hi = i + 1;
    return this.page(i >>> PAGE_SHIFT).write(hex, (i & MASK) * this.width, this.width, 'hex');
  }

  /** The unsigned 32-bit little-endian word at byte `at` of record i. */
  u32(i: number, at: number): number {
    return this.page(i >>> PAGE_SHIFT).readUInt32LE((i & MASK) * this.width + at);
  }

  /**
   * Copies the first `width` characters of a byte string (each char code one
   * byte, as node:crypto's 'latin1' digests are) into record i.
   */
  writeLatin1(i: number, bytes: string): void {
    (this.page(i >>> PAGE_SHIFT) as Latin1Writable).latin1Write(bytes, (i & MASK) * this.width, this.width);
    if (i >= this.hi) this.hi = i + 1;
  }

  /** Whether record i holds the first `width` characters of a byte string. */
  equalsLatin1(i: number, bytes: string): boolean {
    const p = this.page(i >>> PAGE_SHIFT);
    const o = (i & MASK) * this.width;
    for (let b = 0; b < this.width; b++) if (p[o + b] !== bytes.charCodeAt(b)) return false;
    return true;
  }

  /** Bytes up to the highest record written. */
  get byteLength(): number {
    return this.hi * this.width;
  }
}

/** Arena pages: 1 MiB; a position is page · 2^20 + offset. */
const ARENA_SHIFT = 20;
const ARENA_PAGE = 1 << ARENA_SHIFT;

/**
 * Variable-length entries appended one after the other (front-coded path
 * names); an entry never spans two pages. A position is a plain number, so
 * callers keep positions in numeric columns.
 */
export class PagedArena {
  private readonly pages: Buffer[] = [];
  /** Bytes used in each page. */
  private readonly used: number[] = [];

  /** The position where an entry of `n` bytes (at most 1 MiB) can be written; call `commit(n)` after writing it. */
  reserve(n: number): number {
    if (n > ARENA_PAGE) throw new Error(`an arena entry of ${n} bytes`);
    const k = this.pages.length - 1;
    if (k < 0 || this.used[k] + n > ARENA_PAGE) {
      this.pages.push(Buffer.allocUnsafe(ARENA_PAGE));
      this.used.push(0);
      return (k + 1) * ARENA_PAGE;
    }
    return k * ARENA_PAGE + this.used[k];
  }

  commit(n: number): void {
    this.used[this.used.length - 1] += n;
  }

  /** The position after the last entry (where the next one starts, unless it needs a new page). */
  get end(): number {
    const k = this.pages.length - 1;
    return k < 0 ? 0 : k * ARENA_PAGE + this.used[k];
  }

  /** The page holding position `pos`. */
  pageOf(pos: number): Buffer {
    return this.pages[Math.floor(pos / ARENA_PAGE)];
  }

  /** The offset of `pos` in its page. */
  offsetOf(pos: number): number {
    return pos % ARENA_PAGE;
  }

  /**
   * Where an entry read at `pos` really is: `pos` itself, or the next page's
   * start when `pos` is at the end of its page's bytes and a later page
   * exists (an entry that did not fit went there). Readers step by
   * `pos + length` and resolve before each read.
   */
  resolve(pos: number): number {
    const k = Math.floor(pos / ARENA_PAGE);
    return k + 1 < this.pages.length && pos - k * ARENA_PAGE >= this.used[k] ? (k + 1) * ARENA_PAGE : pos;
  }

  /** Bytes written (the unused tail of each page is never touched). */
  get byteLength(): number {
    let n = 0;
    for (const u of this.used) n += u;
    return n;
  }
}

/** The in-memory tail of a spilled log, and its read-back window. */
const LOG_BUFFER = 1 << 20;
const LOG_READ = 1 << 18;

/**
 * An append-only log of entries (each at most 256 KiB) kept on disk but for
 * its last MiB, read back in order: the member names of a bundle, needed
 * only by the walk that matches export.json's entries to members in arrival
 * order and to name members export.json does not list (issue 13: ~15 MB at
 * 1,000,000 members that no longer stay resident). The file is created on
 * the first spill (`openFile` gives its path: a private spool file); close()
 * closes it, its owner removes it.
 */
export class SpillLog {
  private readonly buf = Buffer.allocUnsafe(LOG_BUFFER);
  private len = 0;
  /** Bytes in the file; the buffer holds the bytes from here on. */
  private flushed = 0;
  private fd = -1;
  /** The read-back window (allocated on the first read from the file). */
  private rbuf: Buffer | null = null;
  private rstart = 0;
  private rlen = 0;

  constructor(private readonly openFile: () => string) {}

  /** Position after the last entry. */
  get end(): number {
    return this.flushed + this.len;
  }

  /**
   * Room for an entry of `n` bytes: its offset in `buffer`, where the caller
   * writes it now (before the next call). No closure or object per entry.
   */
  reserve(n: number): number {
    if (n > LOG_READ) throw new Error(`a log entry of ${n} bytes`);
    if (this.len + n > LOG_BUFFER) this.spill();
    const o = this.len;
    this.len += n;
    return o;
  }

  /** The write buffer (see reserve). */
  get buffer(): Buffer {
    return this.buf;
  }

  private spill(): void {
    if (this.fd < 0) this.fd = openSync(this.openFile(), fsc.O_RDWR | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
    for (let o = 0; o < this.len; ) o += writeSync(this.fd, this.buf, o, this.len - o, this.flushed + o);
    this.flushed += this.len;
    this.len = 0;
  }

  /** The buffer the last at() read from. */
  atBuffer: Buffer = this.buf;

  /**
   * The `n` bytes at `pos` (inside one entry): their offset in `atBuffer`,
   * valid until the next call. Reads in order are served from a 256 KiB
   * window over the file.
   */
  at(pos: number, n: number): number {
    if (pos >= this.flushed) {
      this.atBuffer = this.buf;
      return pos - this.flushed;
    }
    const rbuf = (this.rbuf ??= Buffer.allocUnsafe(LOG_READ));
    if (pos < this.rstart || pos + n > this.rstart + this.rlen) {
      const want = Math.min(LOG_READ, this.flushed - pos);
      let got = 0;
      while (got < want) {
        const r = readSync(this.fd, rbuf, got, want - got, pos + got);
        if (r === 0) break;
        got += r;
      }
      this.rstart = pos;
      this.rlen = got;
      if (n > got) throw new Error('the spilled log is shorter than written');
    }
    this.atBuffer = rbuf;
    return pos - this.rstart;
  }

  /** Bytes resident (the buffers; the rest is in the file). */
  get byteLength(): number {
    return this.buf.length + (this.rbuf?.length ?? 0);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
