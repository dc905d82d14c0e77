/**
 * Spare files (spares.ts, verify/stream/spare.ts): what a recycled delta
 * moved out that no generation holds is rewritten by the next delta's
 * extraction instead of new files being created; nothing a generation holds
 * is ever written.
 */
import { linkSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateSigningKey, writeMirrorBundle, type PayloadFile } from '../producer/index';
import { nodeStagingFs } from './fsops';
import { tempDir } from '../testing/fixtures';
import { loadPublicKey } from '../verify/keys';
import { openSpare, SPARE_MAX_BYTES, SpareSink } from '../verify/stream/spare';
import { openWorkspace, type Workspace } from '../workspace/index';
import { generationDir } from '../workspace/layout';
import { importBundles, verifyStagingTree, workspaceStatus } from './index';
import { keepAsSpares, KEEP_SPARE_SETS, SparePool, spareSets, trimSpares } from './spares';
import { trashEntries } from './trash';

let tmp: { dir: string; cleanup: () => void };
let ws: Workspace;
const key = generateSigningKey('ecdsa-p256');
const keys = [loadPublicKey(key.publicPem, 'cli')];

beforeEach(() => {
  tmp = tempDir('okc-spares-');
  ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
});
afterEach(() => tmp.cleanup());

const FILES = 400;
const files: PayloadFile[] = Array.from({ length: FILES }, (_, i) => ({
  path: `data/adv/d${Math.floor(i / 40)}/a-${String(i).padStart(4, '0')}.ndjson`,
  content: { size: 500 + ((i * 37) % 700), seed: `full:${i}`, kind: 'ndjson' as const },
}));
/** Delta d changes a tenth of the files (another tenth each time) and, from the fourth, removes one and adds one. */
function deltaFiles(d: number): { files: PayloadFile[]; removed: string[] } {
  const changed = files.filter((_, i) => (i + d) % 10 === 0).map((f) => ({ path: f.path, content: { size: 300 + ((d * 97) % 900), seed: `d${d}:${f.path}`, kind: 'ndjson' as const } }));
  return { files: [...changed, ...(d >= 4 ? [{ path: `data/new/n-${d}.ndjson`, content: { size: 200, seed: `new${d}`, kind: 'ndjson' as const } }] : [])], removed: [] };
}

/** A full bundle then `n` deltas, each imported as its own `mirror import` would. */
async function importChain(n: number, onDelta?: (d: number) => void): Promise<void> {
  let base = await writeMirrorBundle(join(tmp.dir, 'full.tar.zst'), { key, files });
  expect((await importBundles(ws, [base.file], { keys })).ok).toBe(true);
  for (let d = 1; d <= n; d++) {
    onDelta?.(d);
    base = await writeMirrorBundle(join(tmp.dir, `d${d}.tar.zst`), { key, base, ...deltaFiles(d) });
    const r = await importBundles(ws, [base.file], { keys });
    expect(r.ok, r.message).toBe(true);
  }
}

const inodesIn = (dir: string): Set<number> => new Set(readdirSync(dir).map((f) => statSync(join(dir, f)).ino));

describe('spare files', () => {
  it("a recycled delta keeps the files no generation holds as spares; the next delta's extraction rewrites them, and every kept generation stays exactly its signed state", async () => {
    let before = new Set<number>();
    let reused = 0;
    await importChain(8, () => {
      // The spare inodes available to this delta (the oldest set is used first).
      before = new Set(spareSets(ws.layout).flatMap((s) => [...inodesIn(join(ws.layout.spare, s))]));
    });
    const st = await workspaceStatus(ws);
    expect(st.generation).toBe(9);
    // The last delta's changed files are in inodes that were spares before it ran.
    const last = deltaFiles(8).files;
    for (const f of last) if (before.has(statSync(join(generationDir(ws.layout, st.current!.seq), f.path)).ino)) reused++;
    expect(reused).toBeGreaterThan(last.length / 2);
    for (const g of [st.current!.seq - 2, st.current!.seq - 1, st.current!.seq]) expect((await verifyStagingTree(ws, { seq: g })).ok, `generation ${g}`).toBe(true);
    // Every spare has one link: no generation holds it.
    const sets = spareSets(ws.layout);
    expect(sets.length).toBeLessThanOrEqual(KEEP_SPARE_SETS);
    for (const s of sets) for (const f of readdirSync(join(ws.layout.spare, s))) expect(statSync(join(ws.layout.spare, s, f)).nlink).toBe(1);
  }, 120_000);

  it('never writes a file another name holds, a large file, a symbolic link or anything in a linked set folder', () => {
    const set = join(ws.layout.spare, '7.spare');
    mkdirSync(set, { recursive: true });
    const outside = join(tmp.dir, 'kept-file');
    writeFileSync(outside, 'a generation holds me');
    linkSync(outside, join(set, '0')); // two links: a kept generation's file
    writeFileSync(join(set, '1'), Buffer.alloc(SPARE_MAX_BYTES + 1, 1));
    const target = join(tmp.dir, 'target');
    writeFileSync(target, 'not mine');
    symlinkSync(target, join(set, '2'));
    mkdirSync(join(set, '3'));
    const elsewhere = join(tmp.dir, 'elsewhere');
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, 'x'), 'outside the workspace');
    symlinkSync(elsewhere, join(ws.layout.spare, '9.spare')); // a set that is a link (newer: tried last)
    writeFileSync(join(set, '4'), 'an old version only the recycled tree held');
    const pool = new SparePool(ws.layout);
    const got = pool.take();
    expect(got?.path).toBe(join(set, '4'));
    const sink = new SpareSink(got!);
    sink.write(Buffer.from('new'));
    sink.close();
    expect(pool.take()).toBeNull();
    expect(readFileSync(join(set, '4'), 'utf8')).toBe('new'); // the old, longer content cut off
    expect(statSync(join(set, '4')).mode & 0o777).toBe(0o600);
    expect(readFileSync(outside, 'utf8')).toBe('a generation holds me');
    expect(readFileSync(target, 'utf8')).toBe('not mine');
    expect(readFileSync(join(elsewhere, 'x'), 'utf8')).toBe('outside the workspace');
    expect(openSpare(join(set, '0'))).toEqual({ why: 'linked' });
    expect(openSpare(join(set, '1'))).toEqual({ why: 'large' });
    expect(openSpare(join(set, '2'))).toEqual({ why: 'gone' });
  });

  it('a spare grows and shrinks to exactly what is written', () => {
    const f = join(tmp.dir, 'spare');
    for (const [old, next] of [['short', 'a longer content than before'], ['a longer content than before', 'tiny'], ['same', 'SAME']]) {
      writeFileSync(f, old);
      const r = openSpare(f);
      if (!('spare' in r)) throw new Error(r.why);
      const sink = new SpareSink(r.spare);
      sink.write(Buffer.from(next.slice(0, 2)));
      sink.write(Buffer.from(next.slice(2)));
      sink.close();
      expect(readFileSync(f, 'utf8')).toBe(next);
    }
  });

  it('writes whole pages and cuts to size: every length around page boundaries, in any chunking, over a longer or shorter old file', () => {
    const f = join(tmp.dir, 'paged');
    const sizes = [0, 1, 1000, 4095, 4096, 4097, 8191, 8192, 8195, 12_000, SPARE_MAX_BYTES - 1, SPARE_MAX_BYTES];
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    for (const size of sizes) {
      for (const old of [0, 5, size + 1, size + 5000, SPARE_MAX_BYTES]) {
        const content = Buffer.alloc(size);
        for (let i = 0; i < size; i++) content[i] = 1 + ((i * 31 + size) % 250);
        writeFileSync(f, Buffer.alloc(Math.min(old, SPARE_MAX_BYTES), 0xee));
        const r = openSpare(f);
        if (!('spare' in r)) throw new Error(r.why);
        const sink = new SpareSink(r.spare);
        for (let off = 0; off < size; ) {
          const n = Math.min(size - off, 1 + rand(6000));
          sink.write(content.subarray(off, off + n));
          off += n;
        }
        sink.close();
        expect(readFileSync(f).equals(content), `size ${size} over ${old}`).toBe(true);
      }
    }
  });

  it('writes nothing until it has a whole page or is closed (no partial page reaches the file before the end)', () => {
    const f = join(tmp.dir, 'pages');
    const old = Buffer.alloc(9000, 0xee);
    writeFileSync(f, old);
    const r = openSpare(f);
    if (!('spare' in r)) throw new Error(r.why);
    const sink = new SpareSink(r.spare);
    const content = Buffer.alloc(6000, 0x61);
    sink.write(content.subarray(0, 1000));
    expect(readFileSync(f).equals(old), 'after 1,000 bytes: the old file untouched').toBe(true);
    sink.write(content.subarray(1000, 5000));
    const mid = readFileSync(f);
    expect(mid.subarray(0, 4096).equals(content.subarray(0, 4096)), 'the first page written whole').toBe(true);
    expect(mid.subarray(4096).equals(old.subarray(4096)), 'the rest not yet').toBe(true);
    sink.write(content.subarray(5000));
    sink.close();
    expect(readFileSync(f).equals(content)).toBe(true);
  });

  it('two spare sinks open at once each write their own bytes', () => {
    const [a, b] = [join(tmp.dir, 'a'), join(tmp.dir, 'b')];
    writeFileSync(a, 'old a');
    writeFileSync(b, 'old b, longer');
    const open = (p: string) => {
      const r = openSpare(p);
      if (!('spare' in r)) throw new Error(r.why);
      return new SpareSink(r.spare);
    };
    const [sa, sb] = [open(a), open(b)];
    const [ca, cb] = [Buffer.alloc(5000, 0x61), Buffer.alloc(3000, 0x62)];
    sa.write(ca.subarray(0, 100));
    sb.write(cb.subarray(0, 2000));
    sa.write(ca.subarray(100));
    sb.write(cb.subarray(2000));
    sb.close();
    sa.close();
    expect(readFileSync(a).equals(ca)).toBe(true);
    expect(readFileSync(b).equals(cb)).toBe(true);
  });

  it(`keeps the newest ${KEEP_SPARE_SETS} sets; older sets go to trash/, anything else in spare/ is removed`, () => {
    for (const seq of [3, 5, 8]) {
      const undoKeep = join(tmp.dir, `undo-${seq}`);
      mkdirSync(undoKeep);
      writeFileSync(join(undoKeep, '0'), `from ${seq}`);
      if (seq === 5) writeFileSync(join(ws.layout.spare, 'stray-file'), 'x');
      keepAsSpares(ws.layout, nodeStagingFs, undoKeep, seq);
      trimSpares(ws.layout, nodeStagingFs); // as at the end of each import
    }
    expect(spareSets(ws.layout)).toEqual(['8.spare', '5.spare']);
    expect(readdirSync(ws.layout.spare).sort()).toEqual(['5.spare', '8.spare']);
    expect(trashEntries(ws.layout)).toEqual(['3.spare']);
    expect(readFileSync(join(ws.layout.spare, '8.spare', '0'), 'utf8')).toBe('from 8');
    // Run again (recovery finishing a committed apply): nothing left to move, nothing changes.
    keepAsSpares(ws.layout, nodeStagingFs, join(tmp.dir, 'undo-8'), 8);
    trimSpares(ws.layout, nodeStagingFs);
    expect(spareSets(ws.layout)).toEqual(['8.spare', '5.spare']);
  });

  it('a full bundle read while spares exist (its export.json comes after the payload) gets its files back into its tree', async () => {
    await importChain(5);
    expect(spareSets(ws.layout).length).toBeGreaterThan(0);
    const next = files.map((f) => ({ path: f.path, content: { size: 400, seed: `full2:${f.path}`, kind: 'ndjson' as const } }));
    const full = await writeMirrorBundle(join(tmp.dir, 'full2.tar.zst'), { key, files: next, generation: 7, exportId: 'exp-other' });
    const before = new Set(spareSets(ws.layout).flatMap((s) => [...inodesIn(join(ws.layout.spare, s))]));
    const r = await importBundles(ws, [full.file], { keys, forceReason: 'a new baseline from another export' });
    expect(r.ok, r.message).toBe(true);
    const st = await workspaceStatus(ws);
    expect(st.stateDigest).toBe(full.exportJson.state.digest);
    expect((await verifyStagingTree(ws, { seq: st.current!.seq })).ok).toBe(true);
    const used = next.filter((f) => before.has(statSync(join(generationDir(ws.layout, st.current!.seq), f.path)).ino)).length;
    expect(used).toBeGreaterThan(0);
  }, 120_000);
});

describe('spare files in an import of several bundles', () => {
  it('every bundle of the import is extracted before the first applies: no spare one of them holds is dropped with its set before its own build', async () => {
    let base = await writeMirrorBundle(join(tmp.dir, 'full.tar.zst'), { key, files });
    expect((await importBundles(ws, [base.file], { keys })).ok).toBe(true);
    for (let d = 1; d <= 5; d++) {
      base = await writeMirrorBundle(join(tmp.dir, `d${d}.tar.zst`), { key, base, ...deltaFiles(d) });
      expect((await importBundles(ws, [base.file], { keys })).ok).toBe(true);
    }
    expect(spareSets(ws.layout).length).toBe(KEEP_SPARE_SETS);
    const three: string[] = [];
    // Smaller deltas than a spare set: the first bundle leaves the oldest set partly unused, the next
    // one takes the rest of it (the sets are only trimmed when the whole import is done).
    for (let d = 6; d <= 8; d++) {
      const small = files.filter((_, i) => (i + d) % 40 === 0).map((f) => ({ path: f.path, content: { size: 350, seed: `small${d}:${f.path}`, kind: 'ndjson' as const } }));
      base = await writeMirrorBundle(join(tmp.dir, `d${d}.tar.zst`), { key, base, files: small });
      three.push(base.file);
    }
    const r = await importBundles(ws, three, { keys });
    expect(r.ok, r.message).toBe(true);
    expect(r.items.map((i) => i.outcome)).toEqual(['applied', 'applied', 'applied']);
    const st = await workspaceStatus(ws);
    expect(st.stateDigest).toBe(base.exportJson.state.digest);
    for (const g of [st.current!.seq - 2, st.current!.seq - 1, st.current!.seq]) expect((await verifyStagingTree(ws, { seq: g })).ok).toBe(true);
    expect(spareSets(ws.layout).length).toBeLessThanOrEqual(KEEP_SPARE_SETS);
  }, 120_000);
});
