/**
 * The streaming state (issue 13, memory flat in file count): the merge-join
 * gives exactly the in-memory merge's result on random inputs (removals,
 * unicode paths sorted bytewise, astral characters), state.txt read through a
 * tiny buffer gives back every line, the streamed digest is the text's, and
 * the streaming file-vs-folder check and folder cursor agree with the
 * whole-list ones.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareBytewise, fileFolderConflict } from '../../../shared/paths';
import type { StateEntry } from '../../../shared/state-digest';
import { tempDir } from '../testing/fixtures';
import { bufferSource, sparseMerge } from './sparse-state';
import { comparePaths, digestOfText, FileFolderCheck, FolderCursor, mergeJoin, mergeState, parentOf, parseStateText, scanStateFile, sortedPaths, sortEntries, stateEntries, stateText, StateWriter } from './state';

let tmp: { dir: string; cleanup: () => void };
beforeAll(() => {
  tmp = tempDir('okc-state-');
});
afterAll(() => tmp.cleanup());

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

// Characters whose UTF-16 order differs from UTF-8 byte order (U+E000..U+FFFF vs astral), and
// the ones that sort around "/" (so a folder's files are not contiguous with its name).
const ALPHABET = ['a', 'b', 'z', '-', '.', '!', '0', 'é', 'ß', '中', '\uE000', '\uFFFD', '😀', '𝔘', 'Ω'];

function randomPath(r: () => number): string {
  const depth = 1 + Math.floor(r() * 3);
  const segs: string[] = [];
  for (let d = 0; d < depth; d++) {
    let s = '';
    const n = 1 + Math.floor(r() * 3);
    for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(r() * ALPHABET.length)];
    segs.push(s);
  }
  return segs.join('/');
}

function entry(path: string, r: () => number): StateEntry {
  const hex = Math.floor(r() * 16).toString(16);
  return { path, sha256: hex.repeat(64), size: Math.floor(r() * 5000) };
}

function strip(e: StateEntry): StateEntry {
  return { path: e.path, sha256: e.sha256, size: e.size };
}

describe('streaming state', () => {
  it('comparePaths orders exactly as compareBytewise (UTF-8 bytes), surrogates included', () => {
    const r = rng(7);
    for (let i = 0; i < 5000; i++) {
      const a = randomPath(r);
      const b = r() < 0.2 ? a + randomPath(r) : randomPath(r);
      expect(Math.sign(comparePaths(a, b)), `${a} vs ${b}`).toBe(Math.sign(compareBytewise(a, b)));
      expect(Math.sign(comparePaths(a, b))).toBe(Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))));
    }
  });

  it('mergeJoin gives the in-memory mergeState result on random bases, changes and removals', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const r = rng(seed);
      const paths = [...new Set(Array.from({ length: Math.floor(r() * 120) }, () => randomPath(r)))];
      const base = sortEntries(paths.filter(() => r() < 0.7).map((p) => entry(p, r)));
      const changed = sortEntries(paths.filter(() => r() < 0.2).map((p) => entry(p, r)));
      // Removals of base paths, of paths also changed (the change wins) and of unknown paths.
      const removed = paths.filter(() => r() < 0.2);
      const want = mergeState(base, changed, removed);
      const got = [...mergeJoin(base, changed, sortedPaths(removed))];
      expect(got.map(strip), `seed ${seed}`).toEqual(want);
      const changedPaths = new Set(changed.map((c) => c.path));
      for (const g of got) expect(g.changed).toBe(changedPaths.has(g.path));
      // A full bundle: the files themselves.
      expect([...mergeJoin(null, changed, [])].map(strip)).toEqual(changed);
      // The streamed digest is the digest of the text.
      const w = new StateWriter(null, 256);
      for (const g of got) w.add(g);
      expect(w.digest()).toBe(digestOfText(stateText(want)));
      expect(w.count).toBe(want.length);
      expect(w.textBytes).toBe(Buffer.byteLength(stateText(want)));
    }
  });

  it('reads state.txt back line by line through a buffer smaller than a line, hashing the bytes as stored', () => {
    const r = rng(99);
    const entries = sortEntries([...new Set(Array.from({ length: 400 }, () => randomPath(r)))].map((p) => entry(p, r)));
    const file = join(tmp.dir, 'state.txt');
    const chunks: Buffer[] = [];
    const w = new StateWriter((c) => chunks.push(Buffer.from(c)), 300);
    for (const e of entries) w.add(e);
    const digest = w.digest();
    writeFileSync(file, Buffer.concat(chunks));
    expect(Buffer.concat(chunks).toString('utf8')).toBe(stateText(entries));
    // Each entry carries its line as read (written back unchanged by StateWriter when kept).
    const withLines = entries.map((e) => ({ ...e, line: `${e.sha256} ${e.size} ${e.path}` }));
    for (const size of [16, 77, 1 << 16]) expect([...stateEntries(file, { bufferSize: size })], `buffer ${size}`).toEqual(withLines);
    expect(scanStateFile(file)).toEqual({ digest, count: entries.length });
    // No trailing newline, and an empty file.
    writeFileSync(file, stateText(entries).slice(0, -1));
    expect([...stateEntries(file, { bufferSize: 64 })]).toEqual(withLines);
    writeFileSync(file, '');
    expect([...stateEntries(file)]).toEqual([]);
    writeFileSync(file, 'not a state line\n');
    expect(() => [...stateEntries(file)]).toThrow(/malformed state line/);
  });

  it('the streaming file-vs-folder check finds a clash exactly when the whole-list check does', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const r = rng(seed);
      const set = new Set(Array.from({ length: 1 + Math.floor(r() * 40) }, () => randomPath(r)));
      // Sometimes a file that is also the folder of another.
      if (r() < 0.5) {
        const some = [...set][0];
        if (some.includes('/')) set.add(parentOf(some));
      }
      const sorted = [...set].sort(compareBytewise);
      const whole = fileFolderConflict(sorted);
      const check = new FileFolderCheck();
      let found: [string, string] | null = null;
      for (const p of sorted) {
        found = check.add(p);
        if (found) break;
      }
      expect(found === null, `seed ${seed}: ${sorted.join(' | ')}`).toBe(whole === null);
      if (found) expect(found[1].startsWith(found[0] + '/')).toBe(true);
    }
  });

  it('the folder cursor makes each folder once, parents first, and leaves each once after its last file', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const r = rng(seed);
      const files = [...new Set(Array.from({ length: 1 + Math.floor(r() * 60) }, () => randomPath(r)))].sort(compareBytewise);
      // No path may be a file and a folder: drop the clashing ones.
      const ok = files.filter((f) => !files.some((g) => g.startsWith(f + '/')));
      const made: string[] = [];
      const left: string[] = [];
      const leftAt = new Map<string, number>();
      let at = 0;
      const c = new FolderCursor(
        (d) => {
          if (d.includes('/')) expect(made, 'parent made first').toContain(parentOf(d));
          made.push(d);
        },
        (d) => {
          left.push(d);
          leftAt.set(d, at);
        },
      );
      const lastFileIndex = new Map<string, number>();
      ok.forEach((f, i) => {
        at = i;
        c.enter(parentOf(f));
        for (let d = parentOf(f); ; d = parentOf(d)) {
          lastFileIndex.set(d, i);
          if (d === '') break;
        }
      });
      at = ok.length;
      c.finish();
      // A folder is left only after its last file (it never comes back).
      for (const [d, i] of leftAt) expect(lastFileIndex.get(d)!, d).toBeLessThan(i);
      const want = new Set<string>();
      for (const f of ok) for (let d = parentOf(f); d !== ''; d = parentOf(d)) want.add(d);
      expect(new Set(made).size, 'each folder once').toBe(made.length);
      expect([...made].sort()).toEqual([...want].sort());
      expect([...left].sort()).toEqual([...want, ''].sort());
      expect(c.count).toBe(want.size + 1);
      expect(left[left.length - 1]).toBe('');
    }
  });
});

/** A sorted state with no path both a file and a folder (a clashing path is dropped). */
function treeState(r: () => number, n: number): StateEntry[] {
  const sorted = sortEntries([...new Set(Array.from({ length: n }, () => randomPath(r)))].map((p) => entry(p, r)));
  const check = new FileFolderCheck();
  return sorted.filter((e) => check.add(e.path) === null);
}

/** What the line-by-line pass gives: text digest, counts, first clash, and the entries at `visit`. */
function lineByLine(base: StateEntry[], files: StateEntry[], removed: string[], visit: Set<string>) {
  const w = new StateWriter();
  const tree = new FileFolderCheck();
  const seen: StateEntry[] = [];
  let written = 0;
  for (const e of mergeJoin(parseStateText(stateText(base)), files, sortedPaths(removed))) {
    const clash = tree.add(e.path);
    if (clash) return { clash };
    w.add(e);
    if (visit.has(e.path)) seen.push({ ...strip(e), changed: e.changed } as StateEntry);
    if (e.changed) written += e.size;
  }
  return { clash: null, digest: w.digest(), fileCount: w.count, totalBytes: w.totalBytes, textBytes: w.textBytes, written, seen };
}

describe('sparse merge (a small delta over a large base, visiting only its paths)', () => {
  it('gives byte for byte the line-by-line text, counts and clash on random bases, changes, additions and removals', () => {
    let clashes = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const r = rng(seed * 7919);
      const base = treeState(r, Math.floor(r() * 300));
      const changed = base.filter(() => r() < 0.05).map((e) => ({ ...entry(e.path, r), size: e.size + 1 }));
      // Additions: new random paths (some clash with the base), and paths next to base ones ("x/..", "x.y").
      const addedPaths = new Set<string>();
      for (let i = Math.floor(r() * 6); i > 0; i--) addedPaths.add(randomPath(r));
      for (const e of base.filter(() => r() < 0.02)) addedPaths.add(r() < 0.5 ? `${e.path}/${randomPath(r)}` : `${e.path}${r() < 0.5 ? '.' : '-'}x`);
      const inBase = new Set(base.map((e) => e.path));
      const added = [...addedPaths].filter((p) => !inBase.has(p)).map((p) => entry(p, r));
      const fileList = sortEntries([...changed, ...added]).filter((e, i, a) => i === 0 || e.path !== a[i - 1].path);
      const removed = [...base.filter(() => r() < 0.04).map((e) => e.path), ...(r() < 0.3 ? [randomPath(r)] : [])];
      const keys = sortedPaths(new Set([...base.filter(() => r() < 0.05).map((e) => e.path), ...(r() < 0.5 ? [randomPath(r)] : [])]));
      const visit = new Set([...fileList.map((e) => e.path), ...removed, ...keys]);
      const want = lineByLine(base, fileList, removed, visit);
      const chunks: Buffer[] = [];
      const seen: StateEntry[] = [];
      // Read through a window of 64 B to 8 KiB from a source (slid many times, lines longer than
      // it grown into), or held whole.
      const text = Buffer.from(stateText(base), 'utf8');
      const windowBytes = seed % 5 === 0 ? undefined : 64 << seed % 8;
      const got = sparseMerge({
        base: seed % 5 === 0 ? text : bufferSource(text),
        windowBytes,
        baseCount: base.length,
        baseTotal: base.reduce((s, e) => s + e.size, 0),
        files: fileList,
        removed: sortedPaths(removed),
        keys,
        onEntry: (e) => seen.push({ ...strip(e), changed: e.changed } as StateEntry),
        sink: (c) => chunks.push(Buffer.from(c)),
      });
      const ctx = `seed ${seed}, window ${windowBytes ?? 'whole'}`;
      expect(got.clash, ctx).toEqual(want.clash);
      if (want.clash) {
        clashes++;
        continue;
      }
      expect(got.digest, ctx).toBe(want.digest);
      expect(got.fileCount, ctx).toBe(want.fileCount);
      expect(got.totalBytes, ctx).toBe(want.totalBytes);
      expect(got.textBytes, ctx).toBe(want.textBytes);
      expect(got.writtenBytes, ctx).toBe(want.written);
      expect(digestOfText(Buffer.concat(chunks).toString('utf8')), ctx).toBe(want.digest);
      expect(seen, ctx).toEqual(want.seen);
    }
    // The inputs reach both outcomes.
    expect(clashes).toBeGreaterThan(10);
    expect(clashes).toBeLessThan(390);
  });

  it('finds lines across long runs (galloping search over a 20,000-line base) and refuses a malformed line it reads', () => {
    const base: StateEntry[] = [];
    for (let i = 0; i < 20_000; i++) base.push({ path: `feeds/${String(i).padStart(6, '0')}.json`, sha256: (i % 16).toString(16).repeat(64), size: i });
    const files = [base[3], base[777], base[19_999]].map((e) => ({ ...e, sha256: 'f'.repeat(64) }));
    const removed = [base[0].path, base[12_345].path];
    const visit = new Set([...files.map((e) => e.path), ...removed, base[5000].path]);
    const want = lineByLine(base, files, removed, visit);
    const got = sparseMerge({ base: Buffer.from(stateText(base)), baseCount: base.length, baseTotal: base.reduce((s, e) => s + e.size, 0), files, removed, keys: [base[5000].path] });
    expect(got.digest).toBe(want.digest);
    expect(got.fileCount).toBe(19_998);
    const broken = Buffer.from(stateText(base).replace(`${base[777].sha256} 777 `, `${base[777].sha256} 7x7 `));
    expect(() => sparseMerge({ base: broken, baseCount: base.length, baseTotal: 0, files, removed, keys: [] })).toThrow(/malformed state line/);
  });

  it('checks added paths against a base read through a small window: a folder replaced by a file (its removed files span many windows), a file under a file far on', () => {
    const base: StateEntry[] = [];
    for (let i = 0; i < 3000; i++) base.push({ path: `a/${String(i).padStart(5, '0')}.json`, sha256: (i % 16).toString(16).repeat(64), size: i });
    for (let i = 0; i < 3000; i++) base.push({ path: `b/${String(i).padStart(5, '0')}.json`, sha256: 'e'.repeat(64), size: 7 });
    const text = Buffer.from(stateText(base));
    const total = base.reduce((n, e) => n + e.size, 0);
    const run = (files: StateEntry[], removed: string[], windowBytes: number) =>
      sparseMerge({ base: bufferSource(text), windowBytes, baseCount: base.length, baseTotal: total, files, removed: sortedPaths(removed), keys: [] });
    const aFile = { path: 'a', sha256: '1'.repeat(64), size: 3 };
    const allOfA = base.filter((e) => e.path.startsWith('a/')).map((e) => e.path);
    for (const windowBytes of [256, 4096, 1 << 20]) {
      // Every file of folder "a" removed (~360 KB of lines, past many windows), "a" added as a file: a tree.
      const ok = run([aFile], allOfA, windowBytes);
      const want = lineByLine(base, [aFile], allOfA, new Set());
      expect(ok.clash, `window ${windowBytes}`).toBeNull();
      expect(ok.digest).toBe(want.digest);
      expect(ok.fileCount).toBe(3001);
      // One file of it kept, the last: "a" is both.
      const keepLast = allOfA.slice(0, -1);
      expect(run([aFile], keepLast, windowBytes).clash).toEqual(['a', 'a/02999.json']);
      expect(lineByLine(base, [aFile], keepLast, new Set()).clash).toEqual(['a', 'a/02999.json']);
      // A file added under a file near the end of the base.
      const under = { path: 'b/02998.json/x', sha256: '2'.repeat(64), size: 1 };
      expect(run([under], [], windowBytes).clash).toEqual(['b/02998.json', 'b/02998.json/x']);
      // ... and none once that file is removed.
      expect(run([under], ['b/02998.json'], windowBytes).clash).toBeNull();
    }
  });
});
