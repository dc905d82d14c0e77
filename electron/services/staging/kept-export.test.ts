/**
 * The kept export.json is read as a stream (issue 13): its signed
 * state.digest is picked out by a scanner that must agree with JSON.parse on
 * any well-formed document, however the bytes are split; an apply can keep
 * export.json from the verifier's spool file without holding it, and the deep
 * verification reads it back.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../testing/fixtures';
import { openWorkspace, type Workspace } from '../workspace/index';
import { generationMetaDir } from '../workspace/layout';
import { applyPrepared } from './apply';
import { openForWrite, verifyStagingTree } from './index';
import { readKeptExport, StateDigestScanner } from './kept-export';
import { fakeVerifiedBundle, syntheticFiles } from './testing';

let tmp: { dir: string; cleanup: () => void };
let ws: Workspace;
beforeEach(() => {
  tmp = tempDir('okc-kept-export-');
  ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
});
afterEach(() => tmp.cleanup());

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

const TRICKY = ['state', 'digest', 'a"b', '{', '}', '[', ']', ':', ',', '\\', 'é中😀', 'x'.repeat(700), 'state"', ' digest'];

function randomValue(r: () => number, depth: number): unknown {
  const k = r();
  if (depth > 3 || k < 0.3) return TRICKY[Math.floor(r() * TRICKY.length)];
  if (k < 0.4) return Math.floor(r() * 1e6);
  if (k < 0.45) return null;
  if (k < 0.7) return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(r() * 4); i > 0; i--) o[TRICKY[Math.floor(r() * TRICKY.length)]] = randomValue(r, depth + 1);
  return o;
}

describe('kept export.json read as a stream', () => {
  it('the scanner finds state.digest exactly as JSON.parse does, split anywhere', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const r = rng(seed);
      const doc: Record<string, unknown> = {};
      const keys = ['files', 'state', 'x'.repeat(600), 'removed', 'meta'];
      for (const k of keys) if (r() < 0.8) doc[k] = randomValue(r, 1);
      if (r() < 0.7) doc.state = { fileCount: 3, [TRICKY[Math.floor(r() * TRICKY.length)]]: randomValue(r, 2), digest: r() < 0.9 ? `sha256:${'ab'.repeat(32)}` : 7, totalBytes: 1 };
      const text = JSON.stringify(doc, null, r() < 0.5 ? 2 : undefined);
      const parsed = JSON.parse(text) as { state?: { digest?: unknown } };
      const want = parsed.state && typeof parsed.state === 'object' && !Array.isArray(parsed.state) && typeof parsed.state.digest === 'string' ? parsed.state.digest : null;
      const bytes = Buffer.from(text);
      const s = new StateDigestScanner();
      for (let at = 0; at < bytes.length; ) {
        const n = 1 + Math.floor(r() * 40);
        s.update(bytes.subarray(at, at + n));
        at += n;
      }
      expect(s.digest, `seed ${seed}: ${text.slice(0, 200)}`).toBe(want);
    }
  });

  it('an apply keeps export.json copied from a spool file (not held), and the deep verification reads its signed state from it', async () => {
    const full = fakeVerifiedBundle(ws, { exportId: 'exp-1', generation: 1, variant: 'full', files: syntheticFiles(30, 'spool') });
    const spool = join(tmp.dir, 'export.json.spool');
    writeFileSync(spool, full.prepared.exportJsonBytes);
    const { exportJsonBytes, ...rest } = full.prepared;
    const s = openForWrite(ws, 'test');
    try {
      full.materialize(); // opening for writing tidies incoming/
      const r = applyPrepared(s.ws, s.db, { ...rest, exportJsonFile: spool });
      const kept = join(generationMetaDir(ws.layout, r.seq), 'export.json');
      expect(readFileSync(kept).equals(exportJsonBytes)).toBe(true);
      expect(readKeptExport(kept)).toEqual({ sha256: full.prepared.exportJsonSha256, stateDigest: full.exp.state.digest });
    } finally {
      s.close();
    }
    const v = await verifyStagingTree(ws);
    expect(v.ok, v.message).toBe(true);
    expect(v.checks.find((c) => c.name === 'export.json')?.detail).toContain(full.exp.state.digest);
  });
});
