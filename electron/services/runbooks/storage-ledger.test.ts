/**
 * storage.capacity measures staging from what each build recorded
 * (ledgerBytes, migration 3) instead of looking at every file of
 * every kept generation; checked here against that walk on real workspaces
 * built by the engine: full imports, deltas by links, recycled trees,
 * pruning, a protected old generation, files left by hand, and generations
 * from before the figures.
 */
import { linkSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../db/index';
import { engineRunbookServices } from '../engine';
import { storageTrend } from '../health/index';
import { applyPrepared, type ApplyOptions } from '../staging/apply';
import { faultChain, faultDelta, faultFull } from '../staging/fault-scenario';
import { getGeneration, insertGeneration, listGenerations } from '../staging/store';
import { fakeVerifiedBundle, type FakeBundleSpec } from '../staging/testing';
import { tempDir } from '../testing/fixtures';
import { openWorkspace, type Workspace } from '../workspace/index';
import { generationDir } from '../workspace/layout';
import { CHECKS, stagingBytes } from './checks';

let tmp: { dir: string; cleanup: () => void };
let ws: Workspace;
let db: Db;
beforeEach(() => {
  tmp = tempDir('okc-ledger-');
  ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
  db = openDatabase(ws.layout.db);
});
afterEach(() => {
  db.close();
  tmp.cleanup();
});

const spec = (n: number): FakeBundleSpec => (n === 1 ? faultFull() : n === 2 ? faultDelta() : faultChain(n));
const apply = (s: FakeBundleSpec, opts: ApplyOptions = {}) => applyPrepared(ws, db, fakeVerifiedBundle(ws, s).prepared, opts);

/** Both measures of staging/: from the figures, and by looking at every file. */
async function measures(): Promise<{ ledger: number; walk: number; measure: string }> {
  const fromLedger = await stagingBytes(ws, db, new Set());
  const walked = await stagingBytes(ws, db, new Set(), true);
  expect(walked.measure).toBe('walk');
  return { ledger: fromLedger.bytes, walk: walked.bytes, measure: fromLedger.measure };
}

describe('staging bytes from what each build recorded', () => {
  it('equal the walk of every file through full imports, deltas by links, recycled trees and pruning', async () => {
    const seen: string[] = [];
    for (const n of [1, 2, 3, 4, 5, 6, 7]) {
      const r = apply(spec(n));
      seen.push(r.stats.recycled ? 'recycled' : n === 1 ? 'full' : 'links');
      const m = await measures();
      expect(m.measure, `after generation ${n}`).toBe('ledger');
      expect(m.ledger, `after generation ${n}`).toBe(m.walk);
      // The dashboard's storage trend ends at the same figure.
      expect(storageTrend(db).at(-1)?.stagingBytes, `after generation ${n}`).toBe(m.walk);
    }
    // Both delta builds and the full import were exercised, and retention dropped generations.
    expect(seen).toEqual(['full', 'links', 'links', 'recycled', 'recycled', 'recycled', 'recycled']);
    // A delta built by links whose build prunes the oldest generation file by file.
    const before8 = (await measures()).walk;
    expect(apply(spec(8), { recycle: false }).prunedSeqs).toEqual([5]);
    let m = await measures();
    expect(m.ledger).toBe(m.walk);
    // The trend has the new tree of links beside generation 5, then the drop when 5 was pruned.
    const trend = storageTrend(db);
    expect(trend.at(-1)?.stagingBytes).toBe(m.walk);
    const g8 = listGenerations(db).find((g) => g.seq === 8)!;
    const at8 = trend.find((p) => p.at === g8.applied_at)!;
    expect(at8.stagingBytes).toBeGreaterThan(before8);
    expect(at8.stagingBytes).toBeGreaterThan(m.walk);
    // A full import on top: a tree of its own beside the kept deltas.
    const full9 = { ...faultFull(), exportId: 'exp-fault-9', generation: 9, createdAt: '2025-11-09T02:00:00Z' };
    apply(full9);
    m = await measures();
    expect(m.ledger).toBe(m.walk);
    expect(listGenerations(db).map((g) => g.seq)).toEqual([7, 8, 9]);
    // And the check reports it, with how it measured (params.walk asks for the walk).
    const ctx = { ws, db, settings: ws.settings, services: engineRunbookServices(), now: new Date(), params: {}, previous: {} };
    const quick = (await CHECKS['storage.capacity'].run(ctx)) as unknown as { evidence: { stagingBytes: number; stagingMeasure: string } };
    const deep = (await CHECKS['storage.capacity'].run({ ...ctx, params: { walk: true } })) as unknown as { evidence: { stagingBytes: number; stagingMeasure: string } };
    expect(quick.evidence).toMatchObject({ stagingBytes: m.walk, stagingMeasure: 'ledger' });
    expect(deep.evidence).toMatchObject({ stagingBytes: m.walk, stagingMeasure: 'walk' });
  });

  it('look at what else is in staging/ (a leftover, a file put there by hand), counting a hard link into a tree once', async () => {
    for (const n of [1, 2, 3, 4]) apply(spec(n));
    const stray = join(ws.layout.staging, 'left-by-hand');
    mkdirSync(join(stray, 'sub'), { recursive: true });
    writeFileSync(join(stray, 'sub', 'own.bin'), Buffer.alloc(12_345));
    const before = await measures();
    expect(before.ledger).toBe(before.walk);
    expect(before.ledger).toBeGreaterThan(12_345);
    // The same inode in a leftover and in a kept tree: the walk counts it once, the ledger twice at most.
    const tree = generationDir(ws.layout, 4);
    const some = readdirSync(join(tree, 'data'), { recursive: true, withFileTypes: true }).find((d) => d.isFile())!;
    linkSync(join(some.parentPath, some.name), join(stray, 'linked.json'));
    const after = await measures();
    expect(after.walk).toBe(before.walk);
    expect(after.ledger).toBeGreaterThanOrEqual(after.walk);
  });

  it('count a kept generation whose base was pruned in full: more than the disk holds when a protected old one shares files with it, never less', async () => {
    for (const n of [1, 2, 3]) apply(spec(n));
    // Generation 1 protected (a restore in progress): applying 4 and 5 drops 2 from between 1 and 3.
    apply(spec(4), { keepSeqs: [1] });
    const r5 = apply(spec(5), { keepSeqs: [1] });
    expect(r5.prunedSeqs).toEqual([2]);
    const kept = listGenerations(db);
    expect(kept.map((g) => g.seq)).toEqual([1, 3, 4, 5]);
    const m = await measures();
    expect(m.measure).toBe('ledger');
    expect(m.ledger).toBeGreaterThanOrEqual(m.walk);
    // At most generation 3's whole tree more (its base is gone: counted in full).
    expect(m.ledger - m.walk).toBeLessThanOrEqual(kept.find((g) => g.seq === 3)!.total_bytes);
    expect(m.ledger).toBeGreaterThan(m.walk); // 1 and 3 share files: they are counted twice
  });

  it('a generation recorded from a journal written before the figures (recovery after an upgrade) has none', () => {
    apply(spec(1));
    const { new_bytes: _n, meta_bytes: _m, status: _s, pruned_at: _p, ...old } = getGeneration(db, 1)!;
    insertGeneration(db, { ...old, seq: 99 });
    expect(getGeneration(db, 99)).toMatchObject({ new_bytes: null, meta_bytes: null, total_bytes: old.total_bytes });
  });

  it('walk every file while a kept generation predates the figures (applied before migration 3)', async () => {
    for (const n of [1, 2]) apply(spec(n));
    db.prepare('UPDATE staging_generations SET new_bytes = NULL, meta_bytes = NULL WHERE seq = 1').run();
    const r = await stagingBytes(ws, db, new Set());
    expect(r.measure).toBe('walk');
    expect(r.bytes).toBe((await stagingBytes(ws, db, new Set(), true)).bytes);
    // Once retention has dropped it, the figures are used again.
    for (const n of [3, 4]) apply(spec(n));
    expect(listGenerations(db).map((g) => g.seq)).toEqual([2, 3, 4]);
    expect((await measures()).measure).toBe('ledger');
  });
});
