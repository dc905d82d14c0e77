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
import { comparePaths, digestOfText, FileFolderCheck, FolderCursor, mergeJoin, mergeState, parentOf, scanStateFile, sortedPaths, sortEntries, stateEntries, stateText, StateWriter } from './state';

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
