/**
 * A generation's state as text: exactly the lines the spec's state.digest is
 * computed over (`<sha256-hex> <size> <path>\n`, sorted by path bytewise).
 * Kept beside each generation as state.txt, so a delta's new state and digest
 * are computed from known per-file digests without re-reading any file.
 *
 * Memory flat in file count (issue 13): state.txt is read as a stream of
 * lines through a fixed buffer (stateEntries), a delta's new state is a
 * merge-join of the old state with the bundle's sorted files and removals
 * (mergeJoin), and the new text is hashed and written as it is produced
 * (StateWriter). The in-memory forms (parseStateText, stateText, mergeState)
 * stay for tests and small inputs.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { compareBytewise, sortBytewise } from '../../../shared/paths';
import type { StateEntry } from '../../../shared/state-digest';

/** A state entry read from a state.txt, with its line as read (written back unchanged when the entry is kept). */
export interface StateLineEntry extends StateEntry {
  line?: string;
}

function parseStateLine(line: string): StateLineEntry {
  const a = line.indexOf(' ');
  const b = line.indexOf(' ', a + 1);
  if (a !== 64 || b === -1) throw new Error(`malformed state line: ${line.slice(0, 80)}`);
  return { sha256: line.slice(0, a), size: Number(line.slice(a + 1, b)), path: line.slice(b + 1), line };
}

export function parseStateText(text: string): StateEntry[] {
  const out: StateEntry[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    if (line.length === 0) continue;
    out.push(parseStateLine(line));
  }
  return out;
}

export function stateText(entries: readonly StateEntry[]): string {
  const parts: string[] = new Array(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    parts[i] = `${e.sha256} ${e.size} ${e.path}\n`;
  }
  return parts.join('');
}

export function digestOfText(text: string): string {
  return 'sha256:' + createHash('sha256').update(text, 'utf8').digest('hex');
}

export function sortEntries<T extends { path: string }>(list: T[]): T[] {
  return list.sort((a, b) => compareBytewise(a.path, b.path));
}

/**
 * Bytewise (UTF-8) order of two paths, as compareBytewise, without walking
 * code points: UTF-16 code-unit order equals code-point order unless the
 * first differing units are a surrogate and a unit of U+E000..U+FFFF (then
 * the exact comparison decides).
 */
export function comparePaths(a: string, b: string): number {
  if (a === b) return 0;
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) return compareBytewise(a, b);
    return x < y ? -1 : 1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

/**
 * The state after a delta: base (sorted) minus removed, with `changed`
 * replacing or adding entries. Linear merge; `changed` and `removed` need not
 * be sorted. In memory: the reference for mergeJoin (tests, test bundles).
 */
export function mergeState(base: readonly StateEntry[], changed: readonly StateEntry[], removed: readonly string[]): StateEntry[] {
  const ch = sortEntries([...changed]);
  const gone = new Set(removed);
  const out: StateEntry[] = [];
  let j = 0;
  for (const e of base) {
    while (j < ch.length && compareBytewise(ch[j].path, e.path) < 0) out.push(ch[j++]);
    if (j < ch.length && ch[j].path === e.path) {
      out.push(ch[j++]);
      continue;
    }
    if (gone.has(e.path)) continue;
    out.push(e);
  }
  while (j < ch.length) out.push(ch[j++]);
  return out;
}

/** One entry of a new state, and whether it comes from the bundle (changed or added) or from the base (unchanged). */
export interface MergedEntry extends StateLineEntry {
  changed: boolean;
}

/**
 * The new state as a stream, the same result as mergeState: a merge-join of
 * the base state (sorted), the bundle's files (sorted, as the verifier
 * checked) and the removed paths (sorted). Memory: one entry of each.
 * With `base` null (a full bundle) the new state is the files.
 */
export function* mergeJoin(base: Iterable<StateLineEntry> | null, files: Iterable<StateEntry>, removedSorted: readonly string[]): Generator<MergedEntry> {
  const it = files[Symbol.iterator]();
  let n = it.next();
  if (base) {
    let r = 0;
    for (const e of base) {
      while (!n.done && comparePaths(n.value.path, e.path) < 0) {
        yield fromBundle(n.value);
        n = it.next();
      }
      if (!n.done && n.value.path === e.path) {
        yield fromBundle(n.value);
        n = it.next();
        continue;
      }
      while (r < removedSorted.length && comparePaths(removedSorted[r], e.path) < 0) r++;
      if (r < removedSorted.length && removedSorted[r] === e.path) continue;
      yield { path: e.path, sha256: e.sha256, size: e.size, changed: false, line: e.line };
    }
  }
  while (!n.done) {
    yield fromBundle(n.value);
    n = it.next();
  }
}

function fromBundle(f: StateEntry): MergedEntry {
  return { path: f.path, sha256: f.sha256, size: f.size, changed: true };
}

/** A copy of `paths` sorted bytewise (a delta's removed list: its size is the delta's). */
export function sortedPaths(paths: Iterable<string> | null | undefined): string[] {
  const out: string[] = [];
  for (const p of paths ?? []) out.push(p);
  return sortBytewise(out);
}

/**
 * The entries of a state.txt file, read through one fixed buffer (a line
 * longer than it grows it). `onBytes` sees every byte read, in order (to
 * hash the file as it is read). Throws on a malformed line.
 */
export function* stateEntries(file: string, opts: { onBytes?: (chunk: Buffer) => void; bufferSize?: number } = {}): Generator<StateLineEntry> {
  const fd = openSync(file, 'r');
  try {
    let buf = Buffer.allocUnsafe(opts.bufferSize ?? 1 << 16);
    let len = 0;
    let pos = 0;
    let eof = false;
    for (;;) {
      const nl = buf.indexOf(10, pos);
      if (nl !== -1 && nl < len) {
        if (nl > pos) yield parseStateLine(buf.toString('utf8', pos, nl));
        pos = nl + 1;
        continue;
      }
      if (eof) {
        if (pos < len) yield parseStateLine(buf.toString('utf8', pos, len));
        return;
      }
      if (pos > 0) {
        buf.copy(buf, 0, pos, len);
        len -= pos;
        pos = 0;
      }
      if (len === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, len);
        buf = bigger;
      }
      const got = readSync(fd, buf, len, buf.length - len, null);
      if (got === 0) eof = true;
      else {
        opts.onBytes?.(buf.subarray(len, len + got));
        len += got;
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** A state.txt as a re-iterable source of entries (each iteration reads the file again, through a fixed buffer). */
export function stateFile(file: string): Iterable<StateEntry> {
  return { [Symbol.iterator]: () => stateEntries(file) };
}

/** Reads a whole state.txt once: its digest (of the bytes as stored) and its number of entries. Throws on a malformed line. */
export function scanStateFile(file: string): { digest: string; count: number } {
  const h = createHash('sha256');
  let count = 0;
  for (const _ of stateEntries(file, { onBytes: (b) => h.update(b) })) count++;
  return { digest: 'sha256:' + h.digest('hex'), count };
}

/**
 * Produces state text line by line: hashes it as it goes (the state digest),
 * counts files and bytes, and hands the UTF-8 bytes to `sink` in chunks (the
 * chunk is reused after sink returns: sink must write it synchronously).
 */
export class StateWriter {
  private buf: Buffer;
  private len = 0;
  private readonly hash: Hash = createHash('sha256');
  count = 0;
  totalBytes = 0;
  /** UTF-8 bytes of the text so far. */
  textBytes = 0;

  constructor(private readonly sink: ((chunk: Buffer) => void) | null = null, bufferSize = 1 << 18) {
    this.buf = Buffer.allocUnsafe(bufferSize);
  }

  add(e: StateLineEntry): void {
    this.count++;
    this.totalBytes += e.size;
    // A line read from a state.txt (its own line: only mergeJoin's unchanged entries carry one) is
    // written back as read, without formatting it again. The digest check catches any slip.
    const line = e.line ?? `${e.sha256} ${e.size} ${e.path}`;
    if (this.len + line.length * 3 + 1 > this.buf.length) this.flush();
    if (line.length * 3 + 1 > this.buf.length) {
      this.emit(Buffer.from(`${line}\n`, 'utf8'));
      return;
    }
    this.len += this.buf.write(line, this.len, 'utf8');
    this.buf[this.len++] = 0x0a;
  }

  /**
   * Appends whole lines as they are, bytes [start, end) of `src` (the sparse
   * pass's runs of unchanged base lines). `count` and `totalBytes` are not
   * updated: the caller accounts for these lines.
   */
  addLines(src: Buffer, start: number, end: number): void {
    const n = end - start;
    if (n <= 0) return;
    if (this.len + n > this.buf.length) this.flush();
    if (n > this.buf.length) {
      this.emit(src.subarray(start, end));
      return;
    }
    src.copy(this.buf, this.len, start, end);
    this.len += n;
  }

  private emit(chunk: Buffer): void {
    this.textBytes += chunk.length;
    this.hash.update(chunk);
    this.sink?.(chunk);
  }

  flush(): void {
    if (this.len === 0) return;
    this.emit(this.buf.subarray(0, this.len));
    this.len = 0;
  }

  /** Flushes and returns `sha256:<hex>` of the whole text (call once). */
  digest(): string {
    this.flush();
    return 'sha256:' + this.hash.digest('hex');
  }
}

/**
 * Refuses a tree where a path is both a file and a folder, on a stream of
 * sorted paths: only the files that are a prefix of the current path are
 * kept (at most one per level of it), since every path starting with a
 * given prefix sorts into one contiguous run.
 */
export class FileFolderCheck {
  private readonly stack: string[] = [];

  /** The clash [file, path under it] that `path` makes, or null. Feed paths in sorted order. */
  add(path: string): [string, string] | null {
    const s = this.stack;
    while (s.length > 0 && !path.startsWith(s[s.length - 1])) s.pop();
    for (const f of s) if (path.length > f.length && path.charCodeAt(f.length) === 0x2f) return [f, path];
    s.push(path);
    return null;
  }
}

/**
 * Folders of a tree visited in sorted path order: `enter(parent)` calls
 * `onCreate` for each folder not met yet (parents first) and `onLeave` for
 * each folder whose subtree is finished (every path under a folder sorts
 * into one contiguous run, so a folder once left never comes back). Memory:
 * the folders of one path. The root is '' and is left by finish().
 */
export class FolderCursor {
  private readonly chain: string[] = [''];
  /** Folders met, the root included. */
  count = 1;

  constructor(
    private readonly onCreate: (rel: string) => void = () => {},
    private readonly onLeave: (rel: string) => void = () => {},
  ) {}

  enter(dir: string): void {
    const c = this.chain;
    while (c.length > 1) {
      const top = c[c.length - 1];
      if (dir === top || (dir.startsWith(top) && dir.charCodeAt(top.length) === 0x2f)) break;
      c.pop();
      this.onLeave(top);
    }
    const top = c[c.length - 1];
    if (dir === top) return;
    let at = top === '' ? 0 : top.length + 1;
    for (;;) {
      const slash = dir.indexOf('/', at);
      const sub = slash === -1 ? dir : dir.slice(0, slash);
      this.onCreate(sub);
      c.push(sub);
      this.count++;
      if (slash === -1) return;
      at = slash + 1;
    }
  }

  /** Leaves every folder still open, deepest first, the root last. */
  finish(): void {
    const c = this.chain;
    while (c.length > 0) this.onLeave(c.pop()!);
  }
}

export function parentOf(path: string): string {
  return path.slice(0, Math.max(0, path.lastIndexOf('/')));
}
