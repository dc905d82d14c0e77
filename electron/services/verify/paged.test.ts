import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PAGE_SHIFT, PagedArena, PagedArray, PagedRecords, SpillLog } from './paged';

describe('paged tables', () => {
  it('a column reads back across pages, unwritten entries read 0, and byteLength counts up to the highest entry', () => {
    const a = new PagedArray((n) => new Float64Array(n));
    const n = 3 << PAGE_SHIFT;
    for (let i = 0; i < n; i += 7) a.set(i, i * 1.5 + 2 ** 40);
    for (let i = 0; i < n; i++) expect(a.get(i)).toBe(i % 7 === 0 ? i * 1.5 + 2 ** 40 : 0);
    expect(a.get(10 * n)).toBe(0);
    expect(a.byteLength).toBe((Math.floor((n - 1) / 7) * 7 + 1) * 8);
  });

  it('records: views, hex writes, word reads and key comparison by index', () => {
    const r = new PagedRecords(16);
    const key = (i: number): Buffer => Buffer.from(String(i).padStart(32, '0').slice(0, 32), 'hex');
    const n = (1 << PAGE_SHIFT) + 5;
    for (let i = 0; i < n; i++) if (i % 2) r.write(i, key(i));
    else r.writeHex(i, key(i).toString('hex'));
    for (const i of [0, 1, (1 << PAGE_SHIFT) - 1, 1 << PAGE_SHIFT, n - 1]) {
      expect(r.view(i).equals(key(i))).toBe(true);
      expect(r.hexAt(i)).toBe(key(i).toString('hex'));
      expect(r.equalsLatin1(i, key(i).toString('latin1'))).toBe(true);
      expect(r.equalsLatin1(i, key(i + 1).toString('latin1'))).toBe(false);
      expect(r.u32(i, 12)).toBe(key(i).readUInt32LE(12));
    }
    expect(r.byteLength).toBe(n * 16);
  });

  it('an arena reader that caught up with the writer follows it onto the next page (entries never span pages)', () => {
    const arena = new PagedArena();
    const written: string[] = [];
    const read: string[] = [];
    let pos = 0;
    const readAll = (): void => {
      for (pos = arena.resolve(pos); pos < arena.end; pos = arena.resolve(pos)) {
        const page = arena.pageOf(pos);
        const o = arena.offsetOf(pos);
        const len = page.readUInt32LE(o);
        read.push(page.toString('utf8', o + 4, o + 4 + len));
        pos += 4 + len;
      }
    };
    let seed = 7;
    for (let i = 0; i < 400; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const s = `${i}:` + 'x'.repeat(seed % 40_000);
      const at = arena.reserve(4 + s.length);
      arena.pageOf(at).writeUInt32LE(s.length, arena.offsetOf(at));
      arena.pageOf(at).write(s, arena.offsetOf(at) + 4);
      arena.commit(4 + s.length);
      written.push(s);
      if (i % 3 === 0) readAll(); // the reader catches up now and then, often at a page's end
    }
    readAll();
    expect(read).toEqual(written);
    expect(arena.byteLength).toBe(written.reduce((t, s) => t + 4 + s.length, 0));
    expect(() => arena.reserve((1 << 20) + 1)).toThrow(/arena entry/);
  });

  it('a spilled log reads back every entry in order, while being written (reader at the tail) and again from the start; only ~1.25 MiB stays in memory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'okc-spill-'));
    try {
      const file = join(dir, 'names');
      const log = new SpillLog(() => file);
      const written: string[] = [];
      let pos = 0;
      const read: string[] = [];
      const readTo = (out: string[], from: number, until: number): number => {
        let p = from;
        while (p < until) {
          const h = log.at(p, 4);
          const len = log.atBuffer.readUInt32LE(h);
          const o = log.at(p + 4, len);
          out.push(log.atBuffer.toString('utf8', o, o + len));
          p += 4 + len;
        }
        return p;
      };
      let seed = 3;
      for (let i = 0; i < 20_000; i++) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        const s = `${i}/` + 'n'.repeat(seed % (i % 500 === 0 ? 60_000 : 300));
        const o = log.reserve(4 + s.length);
        log.buffer.writeUInt32LE(s.length, o);
        log.buffer.write(s, o + 4);
        written.push(s);
        if (i % 7 === 0) pos = readTo(read, pos, log.end);
      }
      readTo(read, pos, log.end);
      expect(read).toEqual(written);
      const again: string[] = [];
      readTo(again, 0, log.end);
      expect(again).toEqual(written);
      expect(log.end).toBeGreaterThan(3 * 1024 * 1024); // several spills
      expect(statSync(file).size).toBeGreaterThan(log.end - 1024 * 1024 - 1);
      expect(log.byteLength).toBe(1.25 * 1024 * 1024);
      log.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
