/**
 * The `files` list of a verified export.json in compact storage (issue 13,
 * "memory flat in file count"): paths front-coded in one UTF-8 arena (each
 * path stored as the length it shares with the previous one and the rest; a
 * whole path every 16 entries, where reads and the binary search start),
 * digests as 32 raw bytes each, sizes in a Float64Array, media types
 * interned. Built by the verifier's stream, an entry whose member already
 * matched shares that member's digest and size (4 bytes, not 40). About 80 bytes per file for the paths bundles use, instead of
 * ~1 KB for an array of objects holding hex strings.
 *
 * Array-compatible where consumers need it: `length`, `at(i)` (a fresh
 * object each call) and iteration. Entries are in the order of export.json,
 * which the parser has checked is sorted bytewise without repeats, so
 * `indexOfPath` is a binary search.
 */

import { PagedArena, PagedArray, PagedRecords } from './paged';

export interface FileEntry {
  path: string;
  /** hex */
  sha256: string;
  size: number;
  mediaType?: string;
  /** For a file encrypted per file (spec 5.2): the stored bytes' digest (hex) and size. */
  storedSha256?: string;
  storedSize?: number;
}

/** Digests the list may share instead of holding its own copy (the member table of the same read). */
export interface DigestSource {
  /** 32 raw bytes of entry `id` (a view). */
  digestOf(id: number): Buffer;
  /** The same as lowercase hex. */
  digestHexOf(id: number): string;
  sizeOf(id: number): number;
}

/** What consumers of a file list may rely on (an array of entries satisfies it too). */
export interface FileListLike<T = FileEntry> extends Iterable<T> {
  readonly length: number;
  at(i: number): T | undefined;
}

const HEX = /^[0-9a-f]{64}$/;
/**
 * A list of up to this many entries keeps them decoded after its first
 * iteration (frozen, ~250 bytes each: 4 MB at most): an apply iterates a
 * delta's list several times (path checks, the plan, the chain's paths),
 * and decoding every path and digest again each time was ~10 ms of a 1 %
 * delta of 100,000 files. Longer lists decode as they go (memory flat in
 * file count).
 */
const KEEP_DECODED_MAX = 16_384;
const BLOCK_BITS = 4;
const BLOCK_MASK = (1 << BLOCK_BITS) - 1;
const NO_MEDIA = 0xffff;

export class FileList implements FileListLike {
  private n = 0;
  // Paged columns (./paged.ts): never copied as the list grows.
  private readonly arena = new PagedArena();
  /** blocks[b]: where entry 16·b starts in the arena (a whole path). Entry: u16 shared, u16 rest length, rest bytes. */
  private readonly blocks = new PagedArray((n) => new Float64Array(n));
  private prevPath: Buffer = Buffer.alloc(0) as Buffer;
  /** The last path decoded (sequential reads decode one entry each). */
  private cursor: { i: number; end: number; path: Buffer } = { i: -1, end: 0, path: Buffer.alloc(0) };
  private readonly digests = new PagedRecords(32);
  /** Own digests (and sizes) stored. */
  private own = 0;
  /**
   * With a DigestSource: per entry, >= 0 the id of the same digest in the
   * source (a member whose bytes matched: 4 bytes instead of 32), < 0 the
   * own digest number -(k + 1). Without: entry i's digest is own digest i.
   */
  private refs: PagedArray<Int32Array<ArrayBuffer>> | null = null;
  private source: DigestSource | null = null;
  private readonly sizes = new PagedArray((n) => new Float64Array(n));
  private readonly media = new PagedArray((n) => new Uint16Array(n));
  private readonly mediaTypes: string[] = [];
  private readonly mediaIndex = new Map<string, number>();
  /** Only for lists with per-file encrypted entries (allocated on first use). */
  private storedDigests: PagedRecords | null = null;
  private storedSizes: PagedArray<Float64Array<ArrayBuffer>> | null = null;
  /** Per entry: 1 = storedSha256 given, 2 = storedSize given. */
  private storedFlags: PagedArray<Uint8Array<ArrayBuffer>> | null = null;
  private totalBytes = 0;
  /** The state digest of the list ("sha256:<hex>", spec section 3), when the parser computed it as the entries came in. */
  stateDigest: string | undefined;
  /**
   * Set by the export.json parser once the whole document passed: every path
   * here and in its "removed" list met the bundle path rules (with the
   * workspace's limits) and names a payload file, both lists strictly sorted.
   * The apply then does not check them again. Cleared by push.
   */
  pathsChecked = false;
  /** The entries decoded by the first iteration of a short list (KEEP_DECODED_MAX); dropped by push. */
  private decoded: readonly FileEntry[] | null = null;

  static from(entries: Iterable<FileEntry>): FileList {
    const l = new FileList();
    for (const e of entries) l.push(e);
    return l.done();
  }

  get length(): number {
    return this.n;
  }

  /** Sum of the sizes. */
  get bytes(): number {
    return this.totalBytes;
  }

  /** Share digests with `source` from now on (pass `sharedId` to push). Call before the first push. */
  shareDigestsWith(source: DigestSource): void {
    if (this.n > 0) throw new Error('shareDigestsWith after push');
    this.source = source;
    this.refs = new PagedArray((n) => new Int32Array(n));
  }

  /**
   * Appends one entry. `sharedId`: the source holds this very digest under
   * that id. The sha256 values must be 64 lowercase hex digits: checked here
   * unless `hexChecked` (the caller has checked them, as the verifier's
   * stream does for every entry it accepts).
   */
  push(e: FileEntry, pathBytes: Buffer = Buffer.from(e.path, 'utf8'), sharedId = -1, hexChecked = false): number {
    const i = this.n;
    if (pathBytes.length > 0xffff) throw new Error('a path longer than 65,535 bytes');
    this.decoded = null;
    this.pathsChecked = false;
    let shared = 0;
    if ((i & BLOCK_MASK) !== 0) {
      const prev = this.prevPath;
      const max = Math.min(prev.length, pathBytes.length);
      while (shared < max && prev[shared] === pathBytes[shared]) shared++;
    }
    const rest = pathBytes.length - shared;
    const pos = this.arena.reserve(4 + rest);
    if ((i & BLOCK_MASK) === 0) this.blocks.set(i >> BLOCK_BITS, pos);
    const a = this.arena.pageOf(pos);
    const o = this.arena.offsetOf(pos);
    a.writeUInt16LE(shared, o);
    a.writeUInt16LE(rest, o + 2);
    pathBytes.copy(a, o + 4, shared);
    this.arena.commit(4 + rest);
    this.prevPath = pathBytes;
    const own = this.own;
    if (this.refs) this.refs.set(i, sharedId >= 0 ? sharedId : -(own + 1));
    if (sharedId < 0 || !this.refs) {
      if (!hexChecked && !HEX.test(e.sha256)) throw new Error(`not a hex SHA-256: ${e.sha256.slice(0, 80)}`);
      this.digests.writeHex(own, e.sha256);
      // A shared entry's size is the source's too (it matched): only own entries keep theirs.
      this.sizes.set(own, e.size);
      this.own++;
    }
    this.totalBytes += e.size;
    this.media.set(i, e.mediaType === undefined ? NO_MEDIA : this.intern(e.mediaType));
    if (e.storedSha256 !== undefined || e.storedSize !== undefined || this.storedFlags) this.pushStored(i, e, hexChecked);
    this.n++;
    return i;
  }

  private intern(t: string): number {
    let k = this.mediaIndex.get(t);
    if (k === undefined) {
      // More distinct media types than a Uint16 can index is not a real list; refuse rather than guess.
      if (this.mediaTypes.length >= NO_MEDIA) throw new Error('more than 65,535 distinct media types');
      k = this.mediaTypes.length;
      this.mediaTypes.push(t);
      this.mediaIndex.set(t, k);
    }
    return k;
  }

  private pushStored(i: number, e: FileEntry, hexChecked: boolean): void {
    this.storedDigests ??= new PagedRecords(32);
    this.storedSizes ??= new PagedArray((n) => new Float64Array(n));
    this.storedFlags ??= new PagedArray((n) => new Uint8Array(n));
    let flags = 0;
    if (e.storedSha256 !== undefined) {
      if (!hexChecked && !HEX.test(e.storedSha256)) throw new Error(`not a hex SHA-256: ${e.storedSha256.slice(0, 80)}`);
      this.storedDigests.writeHex(i, e.storedSha256);
      flags |= 1;
    }
    if (e.storedSize !== undefined) {
      this.storedSizes.set(i, e.storedSize);
      flags |= 2;
    }
    this.storedFlags.set(i, flags);
  }

  /** Ends appending. Returns this. (Spare capacity is kept: trimming would copy the columns at the read's peak.) */
  done(): this {
    return this;
  }

  /** Whether entry i's digest is shared with the source (its member matched it as the list was read). */
  isShared(i: number): boolean {
    return this.refs !== null && this.refs.get(i) >= 0;
  }

  /** Path i's UTF-8 bytes (a fresh buffer). */
  pathBytesAt(i: number): Buffer {
    const c = this.cursor;
    if (c.i !== i) {
      let j: number;
      let off: number;
      let path: Buffer;
      if (c.i >= 0 && i > c.i && i >> BLOCK_BITS === c.i >> BLOCK_BITS) {
        j = c.i + 1;
        off = c.end;
        path = c.path;
      } else {
        j = i & ~BLOCK_MASK;
        off = this.blocks.get(i >> BLOCK_BITS);
        path = Buffer.alloc(0);
      }
      for (; j <= i; j++) {
        off = this.arena.resolve(off);
        const a = this.arena.pageOf(off);
        const o = this.arena.offsetOf(off);
        const shared = a.readUInt16LE(o);
        const rest = a.readUInt16LE(o + 2);
        const next = Buffer.allocUnsafe(shared + rest);
        path.copy(next, 0, 0, shared);
        a.copy(next, shared, o + 4, o + 4 + rest);
        off += 4 + rest;
        path = next;
      }
      this.cursor = { i, end: off, path };
    }
    return this.cursor.path;
  }

  pathAt(i: number): string {
    return this.pathBytesAt(i).toString('utf8');
  }

  /** Digest i as 32 raw bytes (a view). */
  digestAt(i: number): Buffer {
    let k = i;
    if (this.refs) {
      const r = this.refs.get(i);
      if (r >= 0) return this.source!.digestOf(r);
      k = -r - 1;
    }
    return this.digests.view(k);
  }

  /** Digest i as lowercase hex. */
  digestHexAt(i: number): string {
    if (this.refs) {
      const r = this.refs.get(i);
      if (r >= 0) return this.source!.digestHexOf(r);
      return this.digests.hexAt(-r - 1);
    }
    return this.digests.hexAt(i);
  }

  sizeAt(i: number): number {
    if (this.refs) {
      const r = this.refs.get(i);
      return r >= 0 ? this.source!.sizeOf(r) : this.sizes.get(-r - 1);
    }
    return this.sizes.get(i);
  }

  /** The stored (encrypted) digest and size of entry i, when export.json gives them. */
  storedAt(i: number): { sha256?: Buffer; size?: number } {
    const f = this.storedFlags ? this.storedFlags.get(i) : 0;
    if (!f) return {};
    return { ...(f & 1 ? { sha256: this.storedDigests!.view(i) } : {}), ...(f & 2 ? { size: this.storedSizes!.get(i) } : {}) };
  }

  at(i: number): FileEntry | undefined {
    if (i < 0) i += this.n;
    if (!(i >= 0 && i < this.n)) return undefined;
    const e: FileEntry = { path: this.pathAt(i), sha256: this.digestHexAt(i), size: this.sizeAt(i) };
    const m = this.media.get(i);
    if (m !== NO_MEDIA) e.mediaType = this.mediaTypes[m];
    if (this.storedFlags) {
      const st = this.storedAt(i);
      if (st.sha256) e.storedSha256 = st.sha256.toString('hex');
      if (st.size !== undefined) e.storedSize = st.size;
    }
    return e;
  }

  /** The entries in order; a short list's are decoded once and shared (frozen) by later iterations. */
  [Symbol.iterator](): Iterator<FileEntry> {
    if (this.n > KEEP_DECODED_MAX) return this.decodeEach();
    if (this.decoded === null) {
      const all: FileEntry[] = [];
      for (let i = 0; i < this.n; i++) all.push(Object.freeze(this.at(i)!));
      this.decoded = all;
    }
    return this.decoded[Symbol.iterator]();
  }

  /** The paths in order: from the shared decoded entries for a short list (decoding them once), else one at a time (no digest decoded). */
  *paths(): Generator<string> {
    if (this.n > KEEP_DECODED_MAX) {
      for (let i = 0; i < this.n; i++) yield this.pathAt(i);
    } else for (const e of this) yield e.path;
  }

  private *decodeEach(): Iterator<FileEntry> {
    for (let i = 0; i < this.n; i++) yield this.at(i)!;
  }

  /** Index of the entry with these path bytes, or -1 (the list is sorted bytewise): a binary search over the blocks' whole paths, then a walk in one block. */
  indexOfPath(path: Buffer | string): number {
    if (this.n === 0) return -1;
    const want = typeof path === 'string' ? Buffer.from(path, 'utf8') : path;
    // The last block whose first path is <= want.
    let lo = 0;
    let hi = ((this.n - 1) >> BLOCK_BITS) + 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      const pos = this.arena.resolve(this.blocks.get(mid));
      const a = this.arena.pageOf(pos);
      const o = this.arena.offsetOf(pos);
      if (a.compare(want, 0, want.length, o + 4, o + 4 + a.readUInt16LE(o + 2)) <= 0) lo = mid;
      else hi = mid;
    }
    const first = lo << BLOCK_BITS;
    const last = Math.min(this.n, first + BLOCK_MASK + 1);
    for (let i = first; i < last; i++) {
      const c = Buffer.compare(this.pathBytesAt(i), want);
      if (c === 0) return i;
      if (c > 0) return -1;
    }
    return -1;
  }

  /** Bytes held (for tests and benchmarks: it grows linearly and slowly with the file count). */
  get heldBytes(): number {
    return this.arena.byteLength + this.blocks.byteLength + this.digests.byteLength + (this.refs?.byteLength ?? 0) + this.sizes.byteLength + this.media.byteLength + (this.storedDigests?.byteLength ?? 0) + (this.storedSizes?.byteLength ?? 0) + (this.storedFlags?.byteLength ?? 0);
  }
}
