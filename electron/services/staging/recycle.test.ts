/**
 * Recycling (recycle.ts): a delta past keepGenerations is built in the tree
 * of the generation retention drops, touching only the paths that differ.
 * Crash safety at every step is in fault.test.ts; here: the result, a
 * failure mid-way (disk full) putting the dropped generation back exactly,
 * and the cases that must not recycle.
 */
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isOpsError } from '../../../shared/errors';
import { openDatabase } from '../db/index';
import { tempDir } from '../testing/fixtures';
import { treeDigest } from '../testing/tree';
import { openWorkspace, type Workspace } from '../workspace/index';
import { generationDir, generationMetaDir, generationName } from '../workspace/layout';
import { applyPrepared, filesInOrder, generationState, newStateOf, type ApplyOptions } from './apply';
import { ChainDiffer, chainChangedPaths, RecycleDiffer, type RecyclePlan } from './recycle';
import { sortedPaths } from './state';
import { faultChain, faultDelta, faultFull, FAULT_FILES } from './fault-scenario';
import { nodeStagingFs, type StagingFs } from './fsops';
import { recoverInterruptedApply, verifyStagingTree } from './index';
import { getGeneration, listGenerations, readState } from './store';
import { emptyTrash } from './trash';
import { spareSets, trimSpares } from './spares';
import { SPARE_MAX_BYTES } from '../verify/stream/spare';
import type { GenerationRow } from './types';
import { fakeExport, fakeVerifiedBundle, type FakeBundleSpec } from './testing';

let tmp: { dir: string; cleanup: () => void };
beforeEach(() => {
  tmp = tempDir('okc-recycle-');
});
afterEach(() => tmp.cleanup());

const spec = (n: number): FakeBundleSpec => (n === 1 ? faultFull() : n === 2 ? faultDelta() : faultChain(n));

function apply(ws: Workspace, n: number, opts: ApplyOptions = {}) {
  const db = openDatabase(ws.layout.db);
  try {
    return applyPrepared(ws, db, fakeVerifiedBundle(ws, spec(n)).prepared, opts);
  } finally {
    db.close();
  }
}

function kept(ws: Workspace): number[] {
  const db = openDatabase(ws.layout.db);
  try {
    return listGenerations(db).map((g) => g.seq);
  } finally {
    db.close();
  }
}

describe('a delta built in the tree retention drops', () => {
  it('touches only the differing paths, gives every generation exactly its signed state, and matches a build by links', async () => {
    const ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
    const ref = openWorkspace(join(tmp.dir, 'ref'), { create: true });
    for (const n of [1, 2, 3]) {
      expect(apply(ws, n).stats.recycled).toBeUndefined(); // nothing dropped yet: a fresh tree of links
      apply(ref, n, { recycle: false });
    }
    for (const n of [4, 5, 6]) {
      const r = apply(ws, n);
      const byLinks = apply(ref, n, { recycle: false });
      expect(byLinks.stats.recycled).toBeUndefined();
      expect(byLinks.stats.linkedFiles).toBeGreaterThan(FAULT_FILES / 2);
      // Generation n-3 is dropped, and its tree became generation n.
      expect(r.stats.recycled?.fromSeq).toBe(n - 3);
      expect(r.prunedSeqs).toEqual([n - 3]);
      expect(byLinks.prunedSeqs).toEqual([n - 3]);
      const { movedOut, placed } = r.stats.recycled!;
      expect(movedOut + placed).toBeGreaterThan(0);
      // Three deltas' worth of paths (generation n-3 to n), fewer than the links of a fresh tree.
      expect(movedOut + placed).toBeLessThan(byLinks.stats.linkedFiles);
      expect(r.stats.linkedFiles).toBeLessThan(byLinks.stats.linkedFiles / 2);
      expect(kept(ws)).toEqual([n - 2, n - 1, n]);
      expect(readdirSync(ws.layout.staging).sort()).toEqual([...[n - 2, n - 1, n].flatMap((g) => [generationName(g), `${generationName(g)}.meta`]), 'current']);
      // What was moved out: the files no generation holds went to the undo folder, and then the small ones
      // became spare set n (spares.ts), the others trash; each has one link (a spare is rewritten by a later
      // extraction). The rest are generation n-2's own files (the chain's oldest delta did not change
      // them): only their names in the recycled tree were removed.
      const spares = readdirSync(join(ws.layout.spare, `${n}.spare`));
      const trashed = readdirSync(join(ws.layout.trash, `${generationName(n)}.undo`, 'tree'));
      expect(spares.length).toBeGreaterThan(0);
      expect(spares.length + trashed.length).toBeLessThan(movedOut);
      for (const f of spares) expect(statSync(join(ws.layout.spare, `${n}.spare`, f)).nlink, `spare ${f}`).toBe(1);
      for (const f of spares) expect(statSync(join(ws.layout.spare, `${n}.spare`, f)).size, `spare ${f}`).toBeLessThanOrEqual(SPARE_MAX_BYTES);
      for (const f of trashed) expect(statSync(join(ws.layout.trash, `${generationName(n)}.undo`, 'tree', f)).nlink, `trashed ${f}`).toBe(1);
      // The import trims spare sets once it is done (import.ts); applyPrepared alone leaves them.
      trimSpares(ws.layout, nodeStagingFs);
      expect(spareSets(ws.layout)).toEqual([n, n - 1].filter((g) => g >= 4).map((g) => `${g}.spare`));
      expect(await emptyTrash(ws.layout)).toBeNull();
      expect(readdirSync(ws.layout.trash)).toEqual([]);
      for (const g of [n - 2, n - 1, n]) {
        expect(treeDigest(generationDir(ws.layout, g)), `generation ${g} after applying ${n}`).toBe(treeDigest(generationDir(ref.layout, g)));
        expect((await verifyStagingTree(ws, { seq: g })).ok).toBe(true);
      }
      // A file the delta did not change is the base's file (one inode), not a copy.
      const unchanged = 'data/raw/part-16/1/f-000016.jsonl.zst';
      expect(statSync(join(generationDir(ws.layout, n), unchanged)).ino).toBe(statSync(join(generationDir(ws.layout, n - 1), unchanged)).ino);
    }
    // The file/folder swap went both ways through recycled trees (data/swap/x is a folder in even generations).
    expect(statSync(join(generationDir(ws.layout, 6), 'data/swap/x')).isDirectory()).toBe(true);
    expect(statSync(join(generationDir(ws.layout, 5), 'data/swap/x')).isFile()).toBe(true);
  });

  it('the difference from the deltas since the recycled generation (their kept export.json) is the difference of the states', () => {
    const ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
    for (const n of [1, 2, 3]) apply(ws, n);
    let viaChain = 0;
    for (const n of [4, 5, 6, 7]) {
      const db = openDatabase(ws.layout.db);
      let plans: [RecyclePlan | null, RecyclePlan | null];
      let baseSeq = 0;
      try {
        const base = getGeneration(db, readState(db).current_seq!)!;
        baseSeq = base.seq;
        const from = getGeneration(db, n - 3)!;
        const { exp } = fakeExport(spec(n));
        const own = [...[...exp.files].map((f) => f.path), ...(exp.removed ?? [])];
        const chain = chainChangedPaths(ws.layout, (q) => getGeneration(db, q), base, from.seq, 1e6);
        expect(chain, `generation ${n}`).not.toBeNull();
        const a = new RecycleDiffer(from, generationState(ws, from.seq));
        const b = new ChainDiffer(from, chain!, own);
        for (const e of newStateOf({ baseEntries: generationState(ws, base.seq), files: filesInOrder(exp, false), removed: sortedPaths(exp.removed) })) {
          a.add(e);
          b.add(e);
        }
        plans = [a.finish(), b.finish()];
      } finally {
        db.close();
      }
      expect(plans[0]).not.toBeNull();
      expect(plans[1]).not.toBeNull();
      const [exact, chained] = [plans[0]!, plans[1]!];
      // The same placements; the chain's "out" is every changed path (the move skips those the
      // recycled tree does not hold) but those placed over the base's own file: the exact
      // difference's, and only paths not in its state.
      expect(chained.into.map(({ path, fromBundle, size }) => ({ path, fromBundle, size }))).toEqual(exact.into);
      const overBase = chained.into.filter((x) => x.overBase).map((x) => x.path);
      expect(overBase.length, `generation ${n}`).toBeGreaterThan(0);
      expect(sortedPaths([...chained.out, ...overBase].filter((p) => exact.out.includes(p)))).toEqual(exact.out);
      const fromState = new Map([...generationState(ws, chained.from.seq)].map((e) => [e.path, e]));
      const baseState = new Map([...generationState(ws, baseSeq)].map((e) => [e.path, e]));
      for (const p of chained.out) if (!exact.out.includes(p)) expect(fromState.has(p), `${p} is in generation ${chained.from.seq}`).toBe(false);
      // A path placed over the base's own file: the recycled generation and the base agree on it.
      for (const p of overBase) expect(fromState.get(p), p).toEqual(baseState.get(p));
      viaChain += chained.out.length + chained.into.length;
      apply(ws, n);
    }
    expect(viaChain).toBeGreaterThan(0);
  });

  it('a kept export.json that is missing or altered is not trusted for the chain: the states are diffed instead, with the same result', async () => {
    const ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
    const ref = openWorkspace(join(tmp.dir, 'ref'), { create: true });
    for (const n of [1, 2, 3]) {
      apply(ws, n);
      apply(ref, n, { recycle: false });
    }
    const kept3 = join(generationMetaDir(ws.layout, 3), 'export.json');
    const db = openDatabase(ws.layout.db);
    try {
      const base = getGeneration(db, 3)!;
      expect(chainChangedPaths(ws.layout, (q) => getGeneration(db, q), base, 1, 1e6)).not.toBeNull();
      // One byte changed (still JSON): its digest no longer matches the database's.
      const text = readFileSync(kept3, 'utf8');
      writeFileSync(kept3, text.replace('"files"', ' "files"'));
      expect(chainChangedPaths(ws.layout, (q) => getGeneration(db, q), base, 1, 1e6)).toBeNull();
      writeFileSync(kept3, text);
      expect(chainChangedPaths(ws.layout, (q) => getGeneration(db, q), base, 1, 1e6)).not.toBeNull();
      // A limit below the chain's paths: not used either.
      expect(chainChangedPaths(ws.layout, (q) => getGeneration(db, q), base, 1, 1)).toBeNull();
      rmSync(kept3);
      expect(chainChangedPaths(ws.layout, (q) => getGeneration(db, q), base, 1, 1e6)).toBeNull();
    } finally {
      db.close();
    }
    const r = apply(ws, 4);
    apply(ref, 4, { recycle: false });
    expect(r.stats.recycled?.fromSeq).toBe(1);
    expect(treeDigest(generationDir(ws.layout, 4))).toBe(treeDigest(generationDir(ref.layout, 4)));
    expect((await verifyStagingTree(ws, { seq: 4 })).ok).toBe(true);
  });

  it('a disk that fills up mid-way puts the dropped generation back exactly, then the apply succeeds', async () => {
    const ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
    for (const n of [1, 2, 3]) apply(ws, n);
    const gen1 = treeDigest(generationDir(ws.layout, 1));
    const db0 = openDatabase(ws.layout.db);
    const state0 = JSON.stringify({ g: listGenerations(db0, { includePruned: true }), s: { ...readState(db0), last_apply: null } });
    db0.close();
    const enospc = (): never => {
      const e = new Error('ENOSPC: no space left on device') as NodeJS.ErrnoException;
      e.code = 'ENOSPC';
      throw e;
    };
    let tried = 0;
    for (const failAt of [1, 3, 6, 10, 15, 25, 40]) {
      let n = 0;
      let recycled = false;
      const fs: StagingFs = {
        ...nodeStagingFs,
        mkdir: (p) => (++n >= failAt && recycled ? enospc() : nodeStagingFs.mkdir(p)),
        unlink: (p) => (++n >= failAt && recycled ? enospc() : nodeStagingFs.unlink(p)),
        link: (a, b) => (++n >= failAt && recycled ? enospc() : nodeStagingFs.link(a, b)),
        rename: (a, b) => {
          if (b === generationDir(ws.layout, 4)) recycled = true; // the claim: from here the dropped tree is being changed
          return ++n >= failAt && recycled ? enospc() : nodeStagingFs.rename(a, b);
        },
      };
      let err: unknown = null;
      try {
        apply(ws, 4, { hooks: { fs } });
      } catch (e) {
        err = e;
      }
      if (err === null) break; // failAt beyond the apply's operations
      tried++;
      expect(isOpsError(err) && err.code, String(err)).toBe('ERR_NO_SPACE');
      recoverInterruptedApply(ws);
      expect(treeDigest(generationDir(ws.layout, 1)), `failing at operation ${failAt}`).toBe(gen1);
      expect((await verifyStagingTree(ws, { seq: 1 })).ok).toBe(true);
      const db = openDatabase(ws.layout.db);
      expect(JSON.stringify({ g: listGenerations(db, { includePruned: true }), s: { ...readState(db), last_apply: null } })).toBe(state0);
      db.close();
      expect(readdirSync(ws.layout.staging).sort()).toEqual(['000001', '000001.meta', '000002', '000002.meta', '000003', '000003.meta', 'current']);
    }
    expect(tried).toBeGreaterThan(3);
    const r = apply(ws, 4);
    expect(r.stats.recycled?.fromSeq).toBe(1);
    for (const g of [2, 3, 4]) expect((await verifyStagingTree(ws, { seq: g })).ok).toBe(true);
  });

  it('a revert that is itself interrupted (the disk still full) and run again on the next start puts the dropped generation back exactly', async () => {
    const ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
    for (const n of [1, 2, 3]) apply(ws, n);
    const gen1 = treeDigest(generationDir(ws.layout, 1));
    const enospc = (): never => {
      const e = new Error('ENOSPC: no space left on device') as NodeJS.ErrnoException;
      e.code = 'ENOSPC';
      throw e;
    };
    let tried = 0;
    // The build fails at its operation `failAt`; the revert that follows at its own `again`-th one.
    for (const [failAt, again] of [[8, 2], [12, 5], [20, 3], [30, 9], [45, 4], [60, 12]]) {
      let n = 0;
      let recycled = false;
      const fail = (): boolean => recycled && (++n === failAt || n === failAt + again);
      const fs: StagingFs = {
        ...nodeStagingFs,
        mkdir: (p) => (fail() ? enospc() : nodeStagingFs.mkdir(p)),
        unlink: (p) => (fail() ? enospc() : nodeStagingFs.unlink(p)),
        link: (a, b) => (fail() ? enospc() : nodeStagingFs.link(a, b)),
        rename: (a, b) => {
          if (b === generationDir(ws.layout, 4)) recycled = true;
          return fail() ? enospc() : nodeStagingFs.rename(a, b);
        },
      };
      let err: unknown = null;
      try {
        apply(ws, 4, { hooks: { fs } });
      } catch (e) {
        err = e;
      }
      if (err === null) break;
      // Interrupted revert: the journal stays for the next start.
      if (n < failAt + again) continue;
      tried++;
      expect(readdirSync(ws.layout.journal), `failing at ${failAt}, then ${again} into the revert`).toContain('apply.json');
      recoverInterruptedApply(ws);
      expect(treeDigest(generationDir(ws.layout, 1)), `failing at ${failAt}, then ${again} into the revert`).toBe(gen1);
      expect((await verifyStagingTree(ws, { seq: 1 })).ok).toBe(true);
      expect(readdirSync(ws.layout.staging).sort()).toEqual(['000001', '000001.meta', '000002', '000002.meta', '000003', '000003.meta', 'current']);
    }
    expect(tried).toBeGreaterThan(2);
    expect(apply(ws, 4).stats.recycled?.fromSeq).toBe(1);
    for (const g of [2, 3, 4]) expect((await verifyStagingTree(ws, { seq: g })).ok).toBe(true);
  });

  it("the plan's new state.txt is made durable by a syncfs run at the build, else fsynced itself (a flush file by file, or one started before the plan wrote it), before the journal commits", () => {
    const ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
    for (const n of [1, 2, 3]) apply(ws, n);
    // atWait: the flush runs when waited for (deferTreeDurable); without it, it ran earlier (startTreeDurable,
    // startNativeTreeDurable). `started`: a StagingFs with fsyncStart (the native module's thread) fsyncs the
    // state text once it is in place while the recycled build goes on, and waits for it before the build ends.
    for (const [n, method, atWait, started] of [[4, 'syncfs', true, true], [5, 'fsync-each', true, true], [6, 'syncfs', false, true], [7, 'syncfs', false, false], [8, 'fsync-each', false, false]] as const) {
      const steps: string[] = [];
      const fs: StagingFs = {
        ...nodeStagingFs,
        fsyncFile: (p) => {
          steps.push(`fsyncFile ${p.slice(ws.layout.incoming.length + 1)}`);
          nodeStagingFs.fsyncFile(p);
        },
        fsyncStart: started
          ? (p) => {
              steps.push(`fsyncStart ${p.slice(ws.layout.staging.length + 1)}`);
              const job = nodeStagingFs.fsyncStart!(p);
              return { wait: () => (steps.push('fsyncStart:wait'), job.wait()) };
            }
          : undefined,
      };
      const db = openDatabase(ws.layout.db);
      try {
        const fb = fakeVerifiedBundle(ws, spec(n));
        const b = fb.prepared;
        const r = applyPrepared(ws, db, { ...b, durable: { atWait, wait: () => (steps.push('flush'), method) } }, { hooks: { fs, checkpoint: (x) => steps.push(x) } });
        expect(r.stats.recycled?.fromSeq).toBe(n - 3);
        const own = steps.filter((x) => x.startsWith('fsyncFile') || x.startsWith('fsyncStart'));
        if (method === 'syncfs' && atWait) expect(own).toEqual([]);
        else if (started) {
          // Started on the file in its place, after the flush and once the tree is claimed (the undo
          // list's fsyncs do not queue behind it), before the names move; waited for before the journal commits.
          expect(own).toEqual([`fsyncStart ${generationName(n)}.meta/state.txt`, 'fsyncStart:wait']);
          expect(steps.indexOf(own[0])).toBeGreaterThan(steps.indexOf('flush'));
          expect(steps.indexOf(own[0])).toBeGreaterThan(steps.indexOf('recycle:claim'));
          expect(steps.indexOf(own[0])).toBeLessThan(steps.indexOf('recycle:undo'));
          expect(steps.indexOf('fsyncStart:wait')).toBeLessThan(steps.indexOf('journal:commit'));
        } else {
          expect(own).toEqual([`fsyncFile ${b.job}/state.txt`]);
          expect(steps.indexOf(own[0])).toBeGreaterThan(steps.indexOf('flush'));
          expect(steps.indexOf(own[0])).toBeLessThan(steps.indexOf('journal:begin'));
        }
        expect(steps.indexOf('flush')).toBeLessThan(steps.indexOf('journal:begin'));
        expect(treeDigest(ws.layout.current)).toBe(fb.exp.state.digest);
        expect(readState(db).current_seq).toBe(r.seq);
      } finally {
        db.close();
      }
    }
  });

  it('never recycles a protected generation (a restore in progress needs it) and keeps it', async () => {
    const ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
    for (const n of [1, 2, 3]) apply(ws, n);
    const r = apply(ws, 4, { keepSeqs: [1] });
    expect(r.stats.recycled).toBeUndefined();
    expect(r.prunedSeqs).toEqual([]);
    expect(kept(ws)).toEqual([1, 2, 3, 4]);
    expect((await verifyStagingTree(ws, { seq: 1 })).ok).toBe(true);
  });
  it('never reuses a tree from before a full import: a damaged old generation cannot leak into the new one', async () => {
    const ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
    for (const n of [1, 2, 3]) apply(ws, n);
    // Damage in the old lineage (hard links: generations 1 to 3 share the file), then a new full bundle.
    const path = 'data/raw/part-16/1/f-000016.jsonl.zst';
    writeFileSync(join(generationDir(ws.layout, 1), path), 'damaged');
    const full4: FakeBundleSpec = { ...faultFull(), exportId: 'exp-fault-full-4', generation: 4, createdAt: '2025-11-04T02:00:00Z' };
    const db = openDatabase(ws.layout.db);
    try {
      applyPrepared(ws, db, fakeVerifiedBundle(ws, full4).prepared);
      const f4 = fakeExport(full4);
      const d5: FakeBundleSpec = { exportId: 'exp-fault-5', generation: 5, variant: 'delta', createdAt: '2025-11-05T02:00:00Z', base: { exportId: full4.exportId, generation: 4, exportJsonBytes: f4.bytes, state: f4.state }, files: { 'data/after/new.json': Buffer.from('new in 5') } };
      const r = applyPrepared(ws, db, fakeVerifiedBundle(ws, d5).prepared);
      // Generation 2 (damaged, like 3) is dropped, but it is no ancestor of generation 4 through deltas.
      expect(r.prunedSeqs).toEqual([2]);
      expect(r.stats.recycled).toBeUndefined();
    } finally {
      db.close();
    }
    const v = await verifyStagingTree(ws);
    expect(v.ok, v.message).toBe(true);
  });
});

describe('what a recycled build does with the files it moves out', () => {
  it('removes only names the chain\'s oldest delta left alone (its tree holds them), moves every file of a path that delta changed to the undo folder, and keeps small ones as spares', () => {
    const from = { seq: 1, file_count: 1000 } as GenerationRow;
    const firstHop = ['a/changed-small', 'a/changed-large', 'a/changed-then-removed'] as string[] & { seq?: number };
    firstHop.seq = 2;
    const chain = [...firstHop, 'b/changed-later', 'b/removed-later'];
    const d = new ChainDiffer(from, chain, ['c/own'], 1000, firstHop);
    const entry = (path: string, size: number, changed = false) => ({ path, sha256: 'ab'.repeat(32), size, changed });
    for (const e of [entry('a/changed-large', SPARE_MAX_BYTES + 1), entry('a/changed-small', 100), entry('b/changed-later', 100), entry('c/own', 100, true)]) d.add(e);
    const plan = d.finish()!;
    expect(plan.heldBy).toBe(2);
    const byPath = Object.fromEntries(plan.out.map((p, k) => [p, { keep: plan.keep![k], held: plan.held![k] }]));
    expect(byPath).toEqual({
      'a/changed-large': { keep: false, held: false }, // its old file only the recycled tree holds: to the undo folder (then trash)
      'a/changed-small': { keep: true, held: false }, // the same, and small: a spare after the commit
      'a/changed-then-removed': { keep: false, held: false },
      'b/changed-later': { keep: false, held: true }, // generation 2 holds the same file: the name is removed
      'b/removed-later': { keep: false, held: true },
    });
  });
});
