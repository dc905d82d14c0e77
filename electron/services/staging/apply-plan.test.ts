/**
 * planApply is pure: given the base state and the bundle, it decides the new
 * state, the checks and the journal without touching a disk or a database
 * (no workspace exists in these tests).
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { errorCodeOf, tempDir } from '../testing/fixtures';
import { newStateOf, planApply, type PlanInput } from './apply';
import { ChainDiffer } from './recycle';
import { digestOfText, stateText } from './state';
import type { GenerationRow, PreparedBundle, StagingExport } from './types';

const sha = (c: string): string => c.repeat(64);
const e = (path: string, c: string, size: number) => ({ path, sha256: sha(c), size });

function base(): GenerationRow {
  return { seq: 3, export_id: 'exp-2', generation: 2, variant: 'full', reset_baseline: 0, tenant: 'acme', profile_id: 'nightly', run_id: null, created_at: '2026-01-01T00:00:00Z', export_json_sha256: sha('b'), state_digest: 'sha256:x', file_count: 3, total_bytes: 30, base_seq: null, library_sha256: null, applied_at: '2026-01-01T00:00:00Z', new_bytes: 30, meta_bytes: 400, status: 'kept', pruned_at: null };
}

function input(over: Partial<StagingExport> = {}, wrongDigest = false): PlanInput {
  const baseEntries = [e('data/a.json', 'a', 10), e('data/b.json', 'b', 10), e('data/c.json', 'c', 10)];
  const result = [e('data/a.json', 'a', 10), e('data/b.json', 'd', 12), e('data/e.json', 'e', 5)];
  const exp = {
    exportId: 'exp-3',
    tenant: 'acme',
    profile: { id: 'nightly', variant: 'delta' },
    generation: 3,
    createdAt: '2026-01-02T00:00:00Z',
    files: [e('data/e.json', 'e', 5), e('data/b.json', 'd', 12)],
    removed: ['data/c.json'],
    state: { digest: wrongDigest ? 'sha256:' + '0'.repeat(64) : digestOfText(stateText(result)), fileCount: 3, totalBytes: 27 },
    ...over,
  } as unknown as StagingExport;
  const prepared: PreparedBundle = { path: '/media/exp-3-delta.tar.zst', exp, exportJsonBytes: Buffer.from('{}'), exportJsonSha256: sha('f'), filesDir: '/nonexistent/files', job: 'job-1' };
  return { prepared, base: base(), forced: false, baseEntries, seq: 4, prevSeq: 3, previous: base(), library: null, appliedAt: '2026-01-02T01:00:00Z', operator: 'op' };
}

describe('planApply (pure)', () => {
  it('merges the base state with the changes and removals, and writes the journal it will commit', () => {
    const plan = planApply(input());
    const entries = [...newStateOf(plan)];
    expect(entries.map((x) => x.path)).toEqual(['data/a.json', 'data/b.json', 'data/e.json']);
    expect(entries.filter((x) => x.changed).map((x) => x.path)).toEqual(['data/b.json', 'data/e.json']);
    expect(plan.fileCount).toBe(3);
    expect(plan.totalBytes).toBe(27);
    expect(plan.writtenBytes).toBe(17);
    expect(plan.journal).toMatchObject({ op: 'apply', phase: 'building', seq: 4, prevSeq: 3, job: 'job-1', row: { seq: 4, base_seq: 3, variant: 'delta', state_digest: plan.digest, file_count: 3, total_bytes: 27 } });
    expect(plan.journal.audits.map((a) => a.action)).toEqual(['mirror.delta.applied']);
    // What the build adds to the disk: the bundle's two files (the third is a link to the base's),
    // and the .meta folder: the state text plus the kept export.json ('{}').
    expect(plan.journal.row.new_bytes).toBe(17);
    expect(plan.journal.row.meta_bytes).toBe(Buffer.byteLength(stateText(entries.map(({ path, sha256, size }) => ({ path, sha256, size })))) + 2);
    expect(plan.digest).toBe(digestOfText(stateText(entries.map(({ path, sha256, size }) => ({ path, sha256, size })))));
  });

  it('refuses a result that does not hash to the signed state, and a path that would be a file and a folder', () => {
    expect(errorCodeOf(() => planApply(input({}, true)))).toBe('ERR_VERIFY_DIGEST');
    const clash = input({ files: [e('data/a.json/x', 'e', 5)], removed: [] } as Partial<StagingExport>);
    expect(errorCodeOf(() => planApply(clash))).toBe('ERR_BUNDLE_UNSAFE_ENTRY');
  });

  it('a forced import records its reason and the generation it replaced', () => {
    const i = input();
    const plan = planApply({ ...i, forced: true, forceReason: '  re-seed after restore ' });
    expect(plan.journal.audits[0]).toMatchObject({ action: 'mirror.import.forced', details: { reason: 're-seed after restore', currentGeneration: 2, currentExportId: 'exp-2' } });
  });

  it('a recycling delta plans from the base state.txt as bytes (sparse pass) exactly as line by line; too large a difference plans line by line', () => {
    const tmp = tempDir('okc-plan-');
    try {
      // A base over several folders (a build by links makes each of them; a recycling build only new ones).
      const baseEntries = [e('data/a.json', 'a', 10), e('data/b.json', 'b', 10), e('data/c.json', 'c', 10), e('lib/x/1.json', '1', 1), e('lib/y/2.json', '2', 2), e('lib/z/3.json', '3', 3)];
      const result = [e('data/a.json', 'a', 10), e('data/b.json', 'd', 12), e('data/e.json', 'e', 5), ...baseEntries.slice(3)];
      const baseFile = join(tmp.dir, 'state.txt');
      writeFileSync(baseFile, stateText(baseEntries));
      const i0 = input({ files: [e('data/b.json', 'd', 12), e('data/e.json', 'e', 5)], state: { digest: digestOfText(stateText(result)), fileCount: 6, totalBytes: 33 } } as Partial<StagingExport>);
      // The sparse pass needs the bundle's files in strict path order (as the verifier checks).
      const i: PlanInput = { ...i0, base: { ...base(), file_count: 6, total_bytes: 36 }, baseEntries, filesInOrder: true, baseStateFile: baseFile };
      const lineByLine = planApply({ ...i, baseStateFile: undefined });
      const from = { ...base(), seq: 1 };
      const keys = ['data/b.json', 'data/c.json', 'data/e.json'];
      const chunks: Buffer[] = [];
      const sparse = planApply({ ...i, recycleDiff: new ChainDiffer(from, keys), stateSink: (c) => chunks.push(Buffer.from(c)) });
      expect(sparse.recycle?.into.map((x) => x.path)).toEqual(['data/b.json', 'data/e.json']);
      expect([sparse.digest, sparse.fileCount, sparse.totalBytes, sparse.writtenBytes]).toEqual([lineByLine.digest, 6, 33, 17]);
      expect(Buffer.concat(chunks).toString('utf8')).toBe(stateText(result));
      // It counts only the folders a recycling build may make (data/), not the tree's five.
      expect(sparse.neededBytes).toBeLessThan(lineByLine.neededBytes);
      // Over the differ's limit: no recycling, so the build makes every folder: the plan is the line-by-line one.
      const over = planApply({ ...i, recycleDiff: new ChainDiffer(from, keys, [], 1) });
      expect(over.recycle).toBeUndefined();
      expect(over.neededBytes).toBe(lineByLine.neededBytes);
      expect(over.digest).toBe(lineByLine.digest);
      // A base state.txt whose last line is cut is not held as bytes: the line-by-line pass decides.
      writeFileSync(baseFile, stateText(baseEntries).slice(0, -1));
      expect(planApply({ ...i, recycleDiff: new ChainDiffer(from, keys) }).digest).toBe(lineByLine.digest);
    } finally {
      tmp.cleanup();
    }
  });

  it('plans a recycling delta over a base state.txt of any size through the window: 70 MB, a folder per file, no line-by-line pass', () => {
    const tmp = tempDir('okc-plan-big-');
    try {
      // 72,000 lines of ~1 KB (the 1,000,000-file corpus's state is ~110 MB): above the 64 MiB a
      // base state.txt was once held whole up to (larger ones were merged line by line, every line parsed).
      const N = 72_000;
      const pad = 'p'.repeat(960);
      const at = (k: number) => e(`f${String(k).padStart(6, '0')}/${pad}.json`, 'a', 1);
      const changed = { ...at(4321), sha256: sha('b'), size: 2 };
      const baseFile = join(tmp.dir, 'state.txt');
      const fd = openSync(baseFile, 'w');
      const want = createHash('sha256');
      try {
        for (let k = 0; k < N; k += 1000) {
          const chunk = Array.from({ length: Math.min(1000, N - k) }, (_, j) => at(k + j));
          writeSync(fd, stateText(chunk));
          want.update(stateText(chunk.map((x) => (x.path === changed.path ? changed : x))));
        }
      } finally {
        closeSync(fd);
      }
      const digest = 'sha256:' + want.digest('hex');
      const i0 = input({ files: [changed], removed: [], state: { digest, fileCount: N, totalBytes: N + 1 } } as Partial<StagingExport>);
      // Only the line-by-line pass reads these (lazily); the sparse pass reads state.txt.
      function* baseEntries() {
        for (let k = 0; k < N; k++) yield at(k);
      }
      const i: PlanInput = { ...i0, base: { ...base(), file_count: N, total_bytes: N }, baseEntries: baseEntries(), filesInOrder: true, baseStateFile: baseFile };
      const plan = planApply({ ...i, recycleDiff: new ChainDiffer({ ...base(), seq: 1 }, [changed.path]) });
      expect(plan.digest).toBe(digest);
      expect(plan.recycle?.into).toEqual([{ path: changed.path, fromBundle: true, size: 2 }]);
      // The sparse pass counts only the folders the build may make; the line-by-line one every
      // folder of the tree (N x 4 KiB more).
      const textBytes = N * Buffer.byteLength(stateText([at(0)])) + 1;
      expect(plan.neededBytes).toBeLessThan(textBytes + (1 << 20));
    } finally {
      tmp.cleanup();
    }
  });
});
