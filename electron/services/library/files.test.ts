/**
 * A library bundle's file list (issue 11): built from the re-verified library
 * copy of a real bundle (made by the producer, imported by the real engine),
 * paged from disk, filtered; refused when the copy no longer verifies.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../engine';
import { generatedPayload, generateSigningKey, writeMirrorBundle, type MirrorBundleResult } from '../producer/index';
import { tempDir } from '../testing/fixtures';
import { fileIndexDir, readFileIndexMeta } from './files';

const FILES = 3000;
let tmp: { dir: string; cleanup: () => void };
let engine: Engine;
let bundle: MirrorBundleResult;
let sha: string;
let keyFile: string;
/** The signed list as the producer wrote it (path order). */
let signed: { path: string; size: number; sha256: string }[];

beforeAll(async () => {
  tmp = tempDir('okc-library-files-');
  const key = generateSigningKey('ecdsa-p256');
  keyFile = join(tmp.dir, 'key.pub');
  writeFileSync(keyFile, key.publicPem);
  // Sizes vary so a row's size is its own; one path with capitals for the case-insensitive filter.
  const files = generatedPayload(FILES, 1, { kind: 'text', perDir: 500 }).map((f, i) => ({ ...f, content: { size: 1 + (i % 97), seed: `gen:${i}`, kind: 'text' as const } }));
  files.push({ path: 'data/Special/UPPER-case.JSON', content: { size: 5, seed: 'upper', kind: 'text' } });
  bundle = await writeMirrorBundle(join(tmp.dir, 'mirror-20251029-full.tar.zst'), { key, files });
  signed = (bundle.exportJson as unknown as { files: { path: string; size: number; sha256: string }[] }).files.map((f) => ({ path: f.path, size: f.size, sha256: f.sha256 }));
  engine = createEngine(join(tmp.dir, 'ws'), { create: true });
  const r = await engine.importBundles([bundle.file], { trust: { keyFiles: [keyFile] } });
  expect(r.current?.generation).toBe(bundle.generation);
  sha = engine.library().find((l) => l.kind === 'mirror-full')!.sha256;
}, 120_000);
afterAll(() => {
  engine?.close();
  tmp?.cleanup();
});

describe('library file index', () => {
  it('has no list before it is built; building re-verifies the library copy and pages the signed list from disk', async () => {
    expect(engine.libraryFiles.page(sha, { offset: 0, limit: 10 })).toBeNull();
    // Index builds verify with the workspace's trust: the key used for the import is pinned for this test's build.
    const meta = await buildWithKey();
    expect(meta).toMatchObject({ bundleSha256: sha, count: signed.length, exportId: bundle.exportId, generation: bundle.generation, kind: 'mirror-full' });
    expect(meta.signedBy.length).toBeGreaterThan(0);
    expect(meta.totalBytes).toBe(signed.reduce((n, f) => n + f.size, 0));

    const first = engine.libraryFiles.page(sha, { offset: 0, limit: 100 })!;
    expect(first.total).toBe(signed.length);
    expect(first.rows).toEqual(signed.slice(0, 100));
    // Any offset, the last page short.
    const mid = engine.libraryFiles.page(sha, { offset: 1234, limit: 7 })!;
    expect(mid.rows).toEqual(signed.slice(1234, 1241));
    const end = engine.libraryFiles.page(sha, { offset: signed.length - 3, limit: 100 })!;
    expect(end.rows).toEqual(signed.slice(-3));
    expect(engine.libraryFiles.page(sha, { offset: signed.length + 10, limit: 100 })!.rows).toEqual([]);
  });

  it('filters by a path substring in any case, with the matching total, paged', () => {
    const want = signed.filter((f) => f.path.toLowerCase().includes('part-00012'));
    const p = engine.libraryFiles.page(sha, { offset: 0, limit: 5, filter: 'PART-00012' })!;
    expect(p.total).toBe(want.length);
    expect(p.rows).toEqual(want.slice(0, 5));
    expect(engine.libraryFiles.page(sha, { offset: 5, limit: 100, filter: 'part-00012' })!.rows).toEqual(want.slice(5));
    const upper = engine.libraryFiles.page(sha, { offset: 0, limit: 10, filter: 'upper-CASE.json' })!;
    expect(upper.rows.map((r) => r.path)).toEqual(['data/Special/UPPER-case.JSON']);
    expect(engine.libraryFiles.page(sha, { offset: 0, limit: 10, filter: 'no such file' })!).toMatchObject({ total: 0, rows: [] });
    // Files spread over directories: a directory filter matches runs of rows.
    const dir = engine.libraryFiles.page(sha, { offset: 0, limit: 1000, filter: '/d0001/' })!;
    expect(dir.total).toBe(500);
    expect(dir.rows).toEqual(signed.filter((f) => f.path.includes('/d0001/')));
  });

  it('refuses a library copy that no longer verifies, and writes no list for it', async () => {
    const row = engine.library().find((l) => l.sha256 === sha)!;
    const file = join(engine.dir, row.file);
    const good = readFileSync(file);
    const bad = Buffer.from(good);
    bad[Math.floor(bad.length / 2)] ^= 0xff;
    writeFileSync(file, bad);
    try {
      const other = createEngine(engine.dir);
      try {
        // A fresh index folder: the one built above is removed so the build runs again.
        const { rmSync } = await import('node:fs');
        rmSync(fileIndexDir(other.ws, sha), { recursive: true });
        const err = await other.libraryFiles.buildIndex(sha).then(
          () => null,
          (e: unknown) => e as { code: string; message: string },
        );
        expect(err?.code).toMatch(/^ERR_(BUNDLE_CORRUPT|VERIFY_DIGEST|VERIFY_SIGNATURE)$/);
        expect(err?.message).toContain('does not verify');
        expect(readFileIndexMeta(other.ws, sha)).toBeNull();
        expect(other.libraryFiles.page(sha, { offset: 0, limit: 1 })).toBeNull();
      } finally {
        other.close();
      }
    } finally {
      writeFileSync(file, good);
    }
  });

  it('names what is wrong for an unknown bundle and a malformed digest', async () => {
    await expect(engine.libraryFiles.buildIndex('0'.repeat(64))).rejects.toMatchObject({ code: 'ERR_INPUT_NOT_FOUND' });
    await expect(engine.libraryFiles.buildIndex('../../etc')).rejects.toMatchObject({ code: 'ERR_USAGE' });
    expect(() => engine.libraryFiles.page('../x', { offset: 0, limit: 1 })).toThrow(/not a bundle's SHA-256/);
    // A bundle retention pruned: its list is not shown any more. (The copy was restored above: the list builds again.)
    await engine.libraryFiles.buildIndex(sha);
    expect(engine.libraryFiles.page(sha, { offset: 0, limit: 1 })).not.toBeNull();
    engine.db().prepare('UPDATE staging_library SET pruned_at = ? WHERE sha256 = ?').run('2026-01-01T00:00:00.000Z', sha);
    try {
      expect(() => engine.libraryFiles.page(sha, { offset: 0, limit: 1 })).toThrow(expect.objectContaining({ code: 'ERR_INPUT_NOT_FOUND' }));
    } finally {
      engine.db().prepare('UPDATE staging_library SET pruned_at = NULL WHERE sha256 = ?').run(sha);
    }
  });
});

/** Pins the import's key in the workspace (audited, as an operator would) so the engine's own trust verifies the library copy. */
async function buildWithKey() {
  const pem = readFileSync(keyFile, 'utf8');
  const { inspectPublicKey } = await import('../keys/index');
  if (!engine.keys.list({}).some((k) => k.status === 'active')) {
    engine.keys.add({ pem, tenant: bundle.tenant, confirmFingerprint: inspectPublicKey(pem).fingerprint, reason: 'CHG-1 test key' });
  }
  return engine.libraryFiles.buildIndex(sha);
}
