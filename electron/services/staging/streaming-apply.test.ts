/**
 * The apply and the deep verification walk a tree in the state's bytewise
 * order (issue 13: merge-joins over state.txt, a folder cursor instead of a
 * set of paths). Names chosen so that UTF-16 order, "folder then its
 * siblings" order and bytewise order all differ: the tree must still be
 * built, hashed and deep-verified exactly.
 */
import { readFileSync, statSync, writeFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compareBytewise } from '../../../shared/paths';
import { tempDir } from '../testing/fixtures';
import { treeDigest } from '../testing/tree';
import { openWorkspace, type Workspace } from '../workspace/index';
import { generationDir, generationMetaDir } from '../workspace/layout';
import { applyPrepared } from './apply';
import { openForWrite, verifyStagingTree } from './index';
import { stateText } from './state';
import { fakeVerifiedBundle, type FakeBundle } from './testing';

let tmp: { dir: string; cleanup: () => void };
let ws: Workspace;

beforeEach(() => {
  tmp = tempDir('okc-stream-apply-');
  ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
});
afterEach(() => tmp.cleanup());

function apply(b: FakeBundle) {
  const s = openForWrite(ws, 'test');
  try {
    b.materialize();
    return applyPrepared(s.ws, s.db, b.prepared);
  } finally {
    s.close();
  }
}

const NAMES = ['a/b.txt', 'a/b/c.json', 'a/b/d/e.json', 'a/b0', 'a/b-x/y', 'a/c', 'a/\uE000/p', 'a/😀/q', 'a/中/r', 'a/é', 'z', 'a!/k', 'a/ß/s/t/u'];

describe('streaming apply and deep verify in bytewise order', () => {
  it('a full bundle and a delta over tricky names: state.txt in bytewise order, trees hash to their signed state, deep verify finds each damage', async () => {
    const files: Record<string, string> = {};
    for (const n of NAMES) files[n] = `content of ${n}`;
    const full = fakeVerifiedBundle(ws, { exportId: 'exp-1', generation: 1, variant: 'full', files });
    const r1 = apply(full);
    expect(r1.stats.writtenFiles).toBe(NAMES.length);
    const sorted = [...NAMES].sort(compareBytewise);
    expect(readFileSync(join(generationMetaDir(ws.layout, r1.seq), 'state.txt'), 'utf8')).toBe(stateText(full.state));
    expect(full.state.map((e) => e.path)).toEqual(sorted);
    expect((await verifyStagingTree(ws)).ok).toBe(true);

    const d2 = fakeVerifiedBundle(ws, {
      exportId: 'exp-2',
      generation: 2,
      variant: 'delta',
      base: { exportId: 'exp-1', generation: 1, exportJsonBytes: full.prepared.exportJsonBytes, state: full.state },
      files: { 'a/b/c.json': 'changed', 'a/b/new/deep/n.json': 'added', 'a/😀/q': 'changed too', 'a/b.u': 'added beside' },
      removed: ['a/\uE000/p', 'a/b0'],
    });
    const r2 = apply(d2);
    expect(r2.stats.writtenFiles).toBe(4);
    expect(r2.stats.linkedFiles).toBe(NAMES.length - 2 - 2);
    expect(readFileSync(join(generationMetaDir(ws.layout, r2.seq), 'state.txt'), 'utf8')).toBe(stateText(d2.state));
    expect(treeDigest(ws.layout.current)).toBe(d2.exp.state.digest);
    // Unchanged files are the base's inodes.
    expect(statSync(join(generationDir(ws.layout, r2.seq), 'a/中/r')).ino).toBe(statSync(join(generationDir(ws.layout, r1.seq), 'a/中/r')).ino);
    expect((await verifyStagingTree(ws)).ok).toBe(true);

    // Damage: changed, missing, extra, each reported by path; the tree digest differs.
    const cur = generationDir(ws.layout, r2.seq);
    unlinkSync(join(cur, 'a/é'));
    writeFileSync(join(cur, 'a/é'), 'tampered');
    unlinkSync(join(cur, 'a/b/d/e.json'));
    writeFileSync(join(cur, 'a/b.v'), 'extra');
    const v = await verifyStagingTree(ws);
    expect(v.ok).toBe(false);
    const byPath = Object.fromEntries((v.failures ?? []).map((f) => [f.path, f.code]));
    expect(byPath).toEqual({ 'a/é': 'ERR_VERIFY_DIGEST', 'a/b/d/e.json': 'ERR_VERIFY_MISSING_FILE', 'a/b.v': 'ERR_VERIFY_EXTRA_FILE' });
    expect(v.checks.find((c) => c.name === 'state digest')?.ok).toBe(false);
    // The older generation still verifies (its own inode of a/é and its own link to a/b/d/e.json were not touched).
    expect((await verifyStagingTree(ws, { seq: r1.seq })).ok).toBe(true);
  });
});
