import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyPrepared } from '../staging/apply';
import { openForWrite, type WriteSession } from '../staging/index';
import { fakeExport, fakeVerifiedBundle, type FakeBundleSpec } from '../staging/testing';
import { setTrivy, upsertLibrary } from '../staging/store';
import { tempDir } from '../testing/fixtures';
import { saveSettings } from '../workspace/index';
import { planRetention, runRetention } from './index';

let tmp: { dir: string; cleanup: () => void };
let s: WriteSession;

beforeEach(() => {
  tmp = tempDir('okc-retention-');
  s = openForWrite(join(tmp.dir, 'ws'), 'test', { create: true });
});
afterEach(() => {
  s.close();
  tmp.cleanup();
});

/** Applies a chain: full at generation 1, deltas 2..n, each with a fake library file; createdAt day by day from 2025-01-01. */
function applyChain(n: number, opts: { fullAt?: number[] } = {}): void {
  let prev: { spec: FakeBundleSpec; bytes: Buffer; state: ReturnType<typeof fakeExport>['state'] } | null = null;
  for (let g = 1; g <= n; g++) {
    const full = g === 1 || (opts.fullAt ?? []).includes(g);
    const createdAt = new Date(Date.UTC(2025, 0, g)).toISOString().replace('.000', '');
    const spec: FakeBundleSpec = full
      ? { exportId: `e${g}`, generation: g, variant: 'full', createdAt, files: { [`f${g}.json`]: `full ${g}` } }
      : { exportId: `e${g}`, generation: g, variant: 'delta', createdAt, base: { exportId: prev!.spec.exportId, generation: g - 1, exportJsonBytes: prev!.bytes, state: prev!.state }, files: { [`f${g}.json`]: `delta ${g}` } };
    const b = fakeVerifiedBundle(s.ws, spec);
    const libTmp = join(s.ws.layout.library, `.tmp-${g}`);
    writeFileSync(libTmp, `bundle ${g}`);
    const sha = `${String(g).padStart(2, '0')}`.padEnd(64, 'a');
    b.prepared.library = { tmpFile: libTmp, sha256: sha, size: 100, name: `mirror-${g}.tar.zst` };
    applyPrepared(s.ws, s.db, b.prepared);
    const e = fakeExport(spec);
    prev = { spec, bytes: e.bytes, state: e.state };
  }
}

const gens = (list: { generation: number | null }[]) => list.map((d) => d.generation).sort((a, b) => a! - b!);

describe('retention (runbook 5.2)', () => {
  it('keeps the chain the current generation needs even when old; prunes the rest by age', () => {
    applyChain(10, { fullAt: [4] });
    // Far in the future: everything is older than 30 days. keepDeltas 2 after the latest full (4): 5..10 → 9, 10 by count,
    // but the current generation (10) needs 4..10 anyway: that rule wins.
    s.ws = saveSettings(s.ws, { ...s.ws.settings, retention: { mirrorDays: 30, trivyCount: 10, keepDeltas: 2 } });
    const plan = planRetention(s.ws, s.db, new Date('2026-06-01T00:00:00Z'));
    expect(gens(plan.keep)).toEqual([4, 5, 6, 7, 8, 9, 10]);
    expect(gens(plan.prune)).toEqual([1, 2, 3]);
    expect(plan.keep.find((k) => k.generation === 5)!.reason).toMatch(/rebuild the current generation/);
  });

  it('within the age limit nothing is pruned; the latest full and the last N deltas survive age', async () => {
    s.ws = saveSettings(s.ws, { ...s.ws.settings, keepGenerations: 10, retention: { mirrorDays: 3, trivyCount: 10, keepDeltas: 2 } });
    applyChain(6);
    expect(planRetention(s.ws, s.db, new Date('2025-01-07T00:00:00Z')).prune).toEqual([]);
    // Roll back to generation 3: only 1..3 are needed now. 4 is old and not one of the last 2 deltas (5, 6): pruned.
    const { rollbackLocked } = await import('../staging/index');
    await rollbackLocked(s.ws, s.db, { to: 3 });
    const plan = planRetention(s.ws, s.db, new Date('2025-03-01T00:00:00Z'));
    expect(gens(plan.keep)).toEqual([1, 2, 3, 5, 6]);
    expect(gens(plan.prune)).toEqual([4]);
    const r = runRetention(s.ws, s.db, { now: new Date('2025-03-01T00:00:00Z') });
    expect(gens(r.pruned)).toEqual([4]);
    expect(existsSync(join(s.ws.dir, r.pruned[0].file))).toBe(false);
    expect(existsSync(join(s.ws.dir, r.kept[0].file))).toBe(true);
    const audit = s.db.prepare("SELECT action FROM audit_log WHERE action LIKE 'retention.%' ORDER BY id").all() as { action: string }[];
    expect(audit.map((a) => a.action)).toEqual(['retention.pruned', 'retention.run']);
    // Dry run: nothing recorded, nothing removed.
    const dry = runRetention(s.ws, s.db, { dryRun: true, now: new Date('2025-03-01T00:00:00Z') });
    expect(dry.pruned).toEqual([]);
    expect((s.db.prepare("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'retention.run'").get() as { n: number }).n).toBe(1);
  });

  it('keeps the newest Trivy bundles by count and always the one in use', () => {
    for (let i = 1; i <= 5; i++) {
      const sha = `${i}`.padEnd(64, 'b');
      mkdirSync(join(s.ws.layout.library, sha));
      writeFileSync(join(s.ws.layout.library, sha, 'db.bundle'), `trivy ${i}`);
      upsertLibrary(s.db, { sha256: sha, file: `library/${sha}/db.bundle`, name: 'db.bundle', kind: 'trivy-db', size: 10, export_id: null, generation: null, reset_baseline: 0, export_json_sha256: null, created_at: null, imported_at: `2025-01-0${i}T00:00:00Z` });
    }
    setTrivy(s.db, { kind: 'trivy-db', dir: '.db-000001', library_sha256: '1'.padEnd(64, 'b'), metadata: '{}', installed_at: '2025-01-01T00:00:00Z' });
    s.ws = saveSettings(s.ws, { ...s.ws.settings, retention: { mirrorDays: 30, trivyCount: 2, keepDeltas: 5 } });
    const r = runRetention(s.ws, s.db);
    expect(r.pruned.map((p) => p.sha256[0]).sort()).toEqual(['2', '3']);
    expect(r.kept.map((p) => p.sha256[0]).sort()).toEqual(['1', '4', '5']);
    expect(existsSync(join(s.ws.layout.library, '2'.padEnd(64, 'b')))).toBe(false);
  });
});
