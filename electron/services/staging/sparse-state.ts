/**
 * The plan's pass for a small delta over a large base without visiting every
 * line (issue 13: a delta that costs the delta). The base state.txt is held
 * as bytes; the runs of lines between the delta's paths are copied into the
 * new state as they are (hashed and written in bulk), and only the lines at
 * the delta's paths (its files, its removals, and the paths a recycling
 * build asks about) are found, by a galloping search from the previous one,
 * and parsed. The result is byte for byte the text mergeJoin + StateWriter
 * give (state.test.ts compares the two on random states).
 *
 * Counts and total bytes are the base generation's (from its database row)
 * adjusted by the lines replaced, removed and added; the digest of the new
 * text is checked against the signed one by the caller as before, so a base
 * state.txt that differs from what was recorded still refuses the delta.
 *
 * The file/folder check only needs the added paths: the base was a tree,
 * and replacing or removing a file cannot make a path both. For an added
 * path, its parent folders must not be files of the new state, and no path
 * of the new state may lie under it.
 */
import { readSync } from 'node:fs';
import type { StateEntry } from '../../../shared/state-digest';
import { comparePaths, StateWriter, type MergedEntry } from './state';

/** Where the base state.txt's bytes come from: a file read a window at a time, or bytes in memory. */
export interface StateSource {
  readonly size: number;
  /** Reads up to `length` bytes at file offset `position` into `into` at `offset`; the count read. */
  read(into: Buffer, offset: number, length: number, position: number): number;
}

export function bufferSource(b: Buffer): StateSource {
  return { size: b.length, read: (into, offset, length, position) => b.copy(into, offset, position, Math.min(b.length, position + length)) };
}

export function fileSource(fd: number, size: number): StateSource {
  return { size, read: (into, offset, length, position) => readSync(fd, into, offset, length, position) };
}

export interface SparseMergeInput {
  /**
   * The base state.txt (it ends with a newline unless empty): read in order through one window
   * (1 MiB unless `windowBytes`), not held whole: 11 MB read into fresh memory cost ~33 ms per
   * 100,000-file delta here, against ~4 ms through one reused buffer; and a 1,000,000-file base
   * (~110 MB) is merged the same way, in the same memory. A delta that adds paths reads it
   * through the window a second time (findClash), as far as its last lookup.
   */
  base: Buffer | StateSource;
  windowBytes?: number;
  /** The base generation's recorded file count and total bytes. */
  baseCount: number;
  baseTotal: number;
  /** The bundle's files in strict path order (no duplicates). */
  files: readonly StateEntry[];
  /** Removed paths, sorted. */
  removed: readonly string[];
  /** More paths to visit (sorted): each one's entry in the new state, if any, is passed to onEntry. */
  keys: readonly string[];
  /** Each new-state entry at a visited path (the bundle's files, kept base lines at `keys`), in path order. */
  onEntry?: (e: MergedEntry) => void;
  /** Receives the new text in chunks (reused after it returns). */
  sink?: ((chunk: Buffer) => void) | null;
}

export interface SparseMergeResult {
  digest: string;
  fileCount: number;
  totalBytes: number;
  /** UTF-8 bytes of the new text. */
  textBytes: number;
  /** Bytes of the bundle's files. */
  writtenBytes: number;
  /** Folders above the added paths (an upper bound of the folders the build may create). */
  newDirs: number;
  /** [file, path under it] when the new state would hold a path that is both a file and a folder. */
  clash: [string, string] | null;
}

const NL = 0x0a;
const SP = 0x20;

function malformed(buf: Buffer, s: number): Error {
  const end = buf.indexOf(NL, s);
  return new Error(`malformed state line: ${buf.toString('utf8', s, Math.min(end === -1 ? buf.length : end, s + 80))}`);
}

/**
 * Lines of a state text held as bytes: `<64 hex> <size> <path>\n`, sorted by
 * path bytewise: buf[0, len), whole lines (a window of the file, or all of it).
 */
class StateBytes {
  constructor(
    public buf: Buffer,
    public len: number = buf.length,
  ) {}

  /** Start of the line holding byte `p` (p <= len). */
  lineStartAt(p: number): number {
    // A loop, not Buffer#lastIndexOf: a line is ~100 bytes, and the native call's own cost was
    // 10x the scan (31 ms of a 1 % delta's plan on 100,000 files).
    const b = this.buf;
    let i = p - 1;
    while (i >= 0 && b[i] !== NL) i--;
    return i + 1;
  }

  /** The byte after the line starting at `s` (past its newline). */
  nextLine(s: number): number {
    const b = this.buf;
    const n = this.len;
    let i = s;
    while (i < n && b[i] !== NL) i++;
    return i < n ? i + 1 : n;
  }

  /** Where the path of the line at `s` starts. */
  pathStart(s: number): number {
    const b = this.buf;
    if (s + 66 > this.len || b[s + 64] !== SP) throw malformed(b, s);
    let i = s + 65;
    while (i < this.len && b[i] !== SP) {
      if (b[i] === NL || b[i] < 0x30 || b[i] > 0x39) throw malformed(b, s);
      i++;
    }
    if (i === s + 65 || i >= this.len) throw malformed(b, s);
    return i + 1;
  }

  /** Order of the path of the line at `s` against `key` (UTF-8 bytes): <0, 0, >0. */
  cmp(s: number, key: Buffer): number {
    const b = this.buf;
    let i = this.pathStart(s);
    for (let j = 0; ; i++, j++) {
      const c = i < this.len ? b[i] : NL;
      if (c === NL) return j === key.length ? 0 : -1;
      if (j === key.length) return 1;
      const k = key[j];
      if (c !== k) return c < k ? -1 : 1;
    }
  }

  /** Whether the path of the line at `s` starts with `prefix` (UTF-8 bytes). */
  startsWith(s: number, prefix: Buffer): boolean {
    const b = this.buf;
    const p = this.pathStart(s);
    if (p + prefix.length > this.len) return false;
    return b.compare(prefix, 0, prefix.length, p, p + prefix.length) === 0;
  }

  /** The first line at or after `from` (a line start) whose path is >= key; len when none. */
  lowerBound(key: Buffer, from: number): number {
    if (from >= this.len || this.cmp(from, key) >= 0) return from;
    // Gallop: lo is a line whose path is < key; double the step until a line is not.
    let lo = from;
    let hi = this.len;
    for (let step = 512; ; step *= 2) {
      if (lo + step >= this.len) break;
      const s = this.lineStartAt(lo + step);
      if (s <= lo) continue;
      if (this.cmp(s, key) < 0) lo = s;
      else {
        hi = s;
        break;
      }
    }
    // Binary search between: lo < key, hi >= key (or the end).
    for (;;) {
      const after = this.nextLine(lo);
      if (after >= hi) return hi;
      const s = this.lineStartAt((after + hi) >>> 1);
      if (this.cmp(s, key) < 0) lo = s;
      else hi = s;
    }
  }

  /** The digest, size and extent of the line at `s`. */
  entry(s: number): { sha256: string; size: number; next: number; path: string } {
    const p = this.pathStart(s);
    const next = this.nextLine(s);
    const end = next > 0 && this.buf[next - 1] === NL ? next - 1 : next;
    return { sha256: this.buf.toString('latin1', s, s + 64), size: Number(this.buf.toString('latin1', s + 65, p - 1)), next, path: this.buf.toString('utf8', p, end) };
  }
}

/**
 * A window over a state source: buf[0, cut) holds whole lines from file
 * offset `pos`, buf[cut, have) the start of the next line (unless at the end).
 */
class Window {
  buf: Buffer;
  pos = 0;
  have = 0;
  cut = 0;

  /** `bytes`: the window's size, or a buffer to use (one a finished pass no longer needs). */
  constructor(
    private readonly src: StateSource,
    bytes: number | Buffer,
  ) {
    this.buf = Buffer.isBuffer(bytes) ? bytes : Buffer.allocUnsafe(Math.max(64, Math.min(bytes, src.size)));
  }

  get atEnd(): boolean {
    return this.pos + this.have >= this.src.size;
  }

  /** Drops buf[0, from) and reads on, up to the last whole line (a line longer than the window grows it). */
  slide(from: number): void {
    this.buf.copy(this.buf, 0, from, this.have);
    this.pos += from;
    this.have -= from;
    for (;;) {
      while (this.have < this.buf.length && !this.atEnd) {
        const n = this.src.read(this.buf, this.have, this.buf.length - this.have, this.pos + this.have);
        if (n <= 0) throw new Error(`state text ended at byte ${this.pos + this.have} of ${this.src.size}`);
        this.have += n;
      }
      if (this.atEnd) {
        this.cut = this.have;
        return;
      }
      const nl = this.buf.lastIndexOf(NL, this.have - 1);
      if (nl !== -1) {
        this.cut = nl + 1;
        return;
      }
      const bigger = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(bigger, 0, 0, this.have);
      this.buf = bigger;
    }
  }
}

/**
 * The lines of a state source read forward through a window (the merge's
 * pass and the lookups' pass): `cur` is a line start in `base`; `onLeave`
 * runs before the window's lines are left behind (the merge writes out its
 * run then).
 */
class LineCursor {
  private readonly win: Window;
  readonly base: StateBytes;
  cur = 0;

  constructor(
    src: StateSource,
    bytes: number | Buffer,
    private readonly onLeave: () => void = () => {},
  ) {
    this.win = new Window(src, bytes);
    this.win.slide(0);
    this.base = new StateBytes(this.win.buf, this.win.cut);
  }

  /** The window's buffer (for a later pass to reuse). */
  get buf(): Buffer {
    return this.win.buf;
  }

  /** File offset of base.buf[0]. */
  get pos(): number {
    return this.win.pos;
  }

  /** Moves the window on, keeping the lines from `from` (cur becomes 0); false at the end of the file. */
  slide(from: number): boolean {
    if (this.win.atEnd) return false;
    this.win.slide(from);
    this.base.buf = this.win.buf;
    this.base.len = this.win.cut;
    this.cur = 0;
    return true;
  }

  /** Leaves every line of the window behind: false at the end of the file (cur then at its end). */
  private leave(): boolean {
    this.onLeave();
    if (this.slide(this.base.len)) return true;
    this.cur = this.base.len;
    return false;
  }

  /** The first line at or after `cur` whose path is >= key (base.len: none in the file). */
  seek(key: Buffer): number {
    for (;;) {
      if (this.cur < this.base.len && this.base.cmp(this.base.lineStartAt(this.base.len - 1), key) >= 0) return this.base.lowerBound(key, this.cur);
      if (!this.leave()) return this.base.len;
    }
  }

  /** Leaves the rest of the file behind (onLeave for each window). */
  finish(): void {
    while (this.leave());
  }
}

/** Index of the first element of sorted `list` (by `pathOf`) that is >= key. */
function lowerIndex<T>(list: readonly T[], key: string, pathOf: (x: T) => string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (comparePaths(pathOf(list[mid]), key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const pathOfEntry = (e: StateEntry): string => e.path;

/** The new state from the base bytes and the delta (see the module comment). Throws on a malformed base line it reads. */
export function sparseMerge(input: SparseMergeInput): SparseMergeResult {
  const { files: F, removed: R, keys: X } = input;
  const src = Buffer.isBuffer(input.base) ? bufferSource(input.base) : input.base;
  // Counts and bytes are the base's adjusted below; the writer only hashes and hands on the text.
  const out = new StateWriter(input.sink ?? null);
  // The run of base lines not written out yet starts at file offset `run`; it goes out whole when
  // the window moves on.
  let run = 0;
  const c: LineCursor = new LineCursor(src, input.windowBytes ?? 1 << 20, () => {
    out.addLines(c.base.buf, run - c.pos, c.base.len);
    run = c.pos + c.base.len;
  });
  const base = c.base;
  let count = input.baseCount;
  let total = input.baseTotal;
  let written = 0;
  const added: string[] = [];
  let fi = 0;
  let ri = 0;
  let xi = 0;
  for (;;) {
    let k: string | null = fi < F.length ? F[fi].path : null;
    if (ri < R.length && (k === null || comparePaths(R[ri], k) < 0)) k = R[ri];
    if (xi < X.length && (k === null || comparePaths(X[xi], k) < 0)) k = X[xi];
    if (k === null) break;
    const f = fi < F.length && F[fi].path === k ? F[fi++] : null;
    let gone = false;
    while (ri < R.length && R[ri] === k) {
      ri++;
      gone = true;
    }
    while (xi < X.length && X[xi] === k) xi++;
    const key = Buffer.from(k, 'utf8');
    const s = c.seek(key);
    const old = s < base.len && base.cmp(s, key) === 0 ? base.entry(s) : null;
    c.cur = old ? old.next : s;
    let e: MergedEntry | null = null;
    if (f) {
      // The bundle's file replaces the base line or is added.
      out.addLines(base.buf, run - c.pos, s);
      out.add(f);
      run = c.pos + c.cur;
      if (old) {
        count--;
        total -= old.size;
      } else added.push(k);
      count++;
      total += f.size;
      written += f.size;
      e = { path: k, sha256: f.sha256, size: f.size, changed: true };
    } else if (old && gone) {
      out.addLines(base.buf, run - c.pos, s);
      run = c.pos + c.cur;
      count--;
      total -= old.size;
    } else if (old) e = { path: k, sha256: old.sha256, size: old.size, changed: false };
    if (e) input.onEntry?.(e);
  }
  c.finish();
  const digest = out.digest();
  // An added path needs lookups elsewhere in the base (its folders, what lies under it): a second pass.
  const clash = findClash(src, c.buf, F, R, added);
  return { digest, fileCount: count, totalBytes: total, textBytes: out.textBytes, writtenBytes: written, newDirs: foldersAbove(added), clash };
}

function foldersAbove(paths: readonly string[]): number {
  const dirs = new Set<string>();
  for (const p of paths) for (let i = p.indexOf('/'); i !== -1; i = p.indexOf('/', i + 1)) dirs.add(p.slice(0, i));
  return dirs.size;
}

/**
 * The first clash (by the path under the file, in path order: what the
 * line-by-line FileFolderCheck reports) that the added paths make. The base
 * is looked up in one more forward pass through a window (memory flat in
 * its size, like the merge): the lookups an added path needs (its folders,
 * exactly; what lies under it, by prefix) are sorted and answered in order.
 */
function findClash(src: StateSource, window: Buffer, F: readonly StateEntry[], R: readonly string[], added: readonly string[]): [string, string] | null {
  if (added.length === 0) return null;
  const removed = new Set(R);
  const inFiles = (p: string): boolean => {
    const i = lowerIndex(F, p, pathOfEntry);
    return i < F.length && F[i].path === p;
  };
  // Lookups in the base: a folder of an added path that the bundle neither lists nor removes (is
  // it a file there?), and "q/" for each added q (the first path under q that stays). A path never
  // ends with "/", so the two kinds never share a key.
  const lookups = new Set<string>();
  for (const q of added) {
    for (let i = q.indexOf('/'); i !== -1; i = q.indexOf('/', i + 1)) {
      const a = q.slice(0, i);
      if (!inFiles(a) && !removed.has(a)) lookups.add(a);
    }
    lookups.add(`${q}/`);
  }
  const found = lookupInOrder(src, window, [...lookups].sort(comparePaths), (e) => !removed.has(e) || inFiles(e));
  const isFile = (p: string): boolean => inFiles(p) || (!removed.has(p) && found.has(p));
  // The first path of the new state under `dir` ("dir/..."), or null.
  const firstUnder = (dir: string): string | null => {
    const prefix = `${dir}/`;
    const i = lowerIndex(F, prefix, pathOfEntry);
    const fromFiles = i < F.length && F[i].path.startsWith(prefix) ? F[i].path : null;
    const fromBase = found.get(prefix) ?? null;
    if (fromFiles === null || fromBase === null) return fromFiles ?? fromBase;
    return comparePaths(fromFiles, fromBase) < 0 ? fromFiles : fromBase;
  };
  let clash: [string, string] | null = null;
  const consider = (c: [string, string]): void => {
    if (clash === null || comparePaths(c[1], clash[1]) < 0) clash = c;
  };
  for (const q of added) {
    for (let i = q.indexOf('/'); i !== -1; i = q.indexOf('/', i + 1)) {
      const a = q.slice(0, i);
      if (isFile(a)) {
        consider([a, q]);
        break;
      }
    }
    const under = firstUnder(q);
    if (under !== null) consider([q, under]);
  }
  return clash;
}

/**
 * Answers sorted lookups in one forward pass over the base through a window:
 * for a path, whether a line has it (the map holds it, mapped to itself);
 * for a key ending in "/", the first path under it that `stays` (the map
 * holds the key, mapped to that path). The lines a prefix lookup passes over
 * (paths that do not stay: removed ones) can answer no later lookup
 * (exact lookups are asked only for paths that are not removed; a later
 * prefix finds what stays), so the cursor never goes back.
 */
function lookupInOrder(src: StateSource, window: Buffer, keys: readonly string[], stays: (path: string) => boolean): Map<string, string> {
  const found = new Map<string, string>();
  const c = new LineCursor(src, window);
  const base = c.base;
  for (const k of keys) {
    const key = Buffer.from(k, 'utf8');
    c.cur = c.seek(key);
    if (!k.endsWith('/')) {
      if (c.cur < base.len && base.cmp(c.cur, key) === 0) found.set(k, k);
      continue;
    }
    for (;;) {
      if (c.cur >= base.len) {
        if (c.slide(c.cur)) continue;
        break;
      }
      if (!base.startsWith(c.cur, key)) break;
      const e = base.entry(c.cur);
      if (stays(e.path)) {
        found.set(k, e.path);
        break;
      }
      c.cur = e.next;
    }
  }
  return found;
}
