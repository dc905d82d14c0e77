/**
 * Disk full for real: a tiny tmpfs (needs root and mount rights; skipped
 * where the sandbox forbids mounting; engine.test.ts covers ENOSPC with an
 * injected writer everywhere).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, statfsSync, writeSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KITS, tempDir, unmountTestFs } from '../testing/fixtures';
import { treeHash } from '../testing/tree';
import { loadPublicKey } from '../verify/keys';
import { openWorkspace } from '../workspace/index';
import { importBundles, importLocked, openForWrite, verifyStagingTree, workspaceStatus } from './index';

let tmp: { dir: string; cleanup: () => void };
let mnt = '';
let mounted = false;

beforeAll(() => {
  tmp = tempDir('okc-enospc-');
  mnt = join(tmp.dir, 'tiny');
  mkdirSync(mnt);
  mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt]).status === 0;
});
afterAll(() => {
  if (mounted) unmountTestFs(mnt);
  tmp.cleanup();
});

describe('disk full on a real tiny filesystem', () => {
  it('an import that runs out of space mid-extraction leaves the current generation untouched and says how much it needs', async (ctx) => {
    if (!mounted) ctx.skip();
    const keys = [loadPublicKey(readFileSync(join(KITS, 'ecdsa-p256.trusted.pub'), 'utf8'), 'cli')];
    const m = JSON.parse(readFileSync(join(KITS, 'ecdsa-p256', 'offline-manifest.json'), 'utf8')) as { entries: { path: string; generation?: number }[] };
    const [full, d2] = m.entries.filter((e) => e.generation !== undefined).sort((a, b) => a.generation! - b.generation!);
    const ws = openWorkspace(join(mnt, 'ws'), { create: true });
    expect((await importBundles(ws, [join(KITS, 'ecdsa-p256', full.path)], { keys })).ok).toBe(true);
    const before = { link: readlinkSync(ws.layout.current), tree: treeHash(ws.layout.current), staging: readdirSync(ws.layout.staging).sort(), library: readdirSync(ws.layout.library).sort() };
    // Leave about 20 KiB free: more than the bundle file twice (the quick check), less than the delta needs.
    const free = () => Number(statfsSync(mnt).bavail) * Number(statfsSync(mnt).bsize);
    const fd = openSync(join(mnt, 'filler'), 'w');
    const chunk = Buffer.alloc(4096, 1);
    while (free() > 20 * 1024) writeSync(fd, chunk);
    closeSync(fd);
    let err: unknown = null;
    try {
      await importBundles(ws, [join(KITS, 'ecdsa-p256', d2.path)], { keys });
    } catch (e) {
      err = e;
    }
    // So full that even the database cannot open: a plain ERR_NO_SPACE, nothing changed.
    expect(err).toMatchObject({ code: 'ERR_NO_SPACE' });
    // With the database already open (the app keeps it open), the import runs out of space mid-extraction.
    rmSync(join(mnt, 'filler'));
    const s = openForWrite(ws, 'test');
    const fd2 = openSync(join(mnt, 'filler'), 'w');
    while (free() > 20 * 1024) writeSync(fd2, chunk);
    closeSync(fd2);
    err = null;
    try {
      await importLocked(s.ws, s.db, [join(KITS, 'ecdsa-p256', d2.path)], { keys });
    } catch (e) {
      err = e;
    } finally {
      s.close();
    }
    expect(err).toMatchObject({ code: 'ERR_NO_SPACE' });
    expect((err as Error).message).toMatch(/while verifying and extracting .* needs about \d+ bytes/);
    expect(readlinkSync(ws.layout.current)).toBe(before.link);
    expect(treeHash(ws.layout.current)).toBe(before.tree);
    expect(readdirSync(ws.layout.staging).sort()).toEqual(before.staging);
    expect(readdirSync(ws.layout.library).sort()).toEqual(before.library);
    expect(readdirSync(ws.layout.incoming)).toEqual([]);
    // Space back: the same delta applies.
    rmSync(join(mnt, 'filler'));
    const r = await importBundles(ws, [join(KITS, 'ecdsa-p256', d2.path)], { keys });
    expect(r.ok, r.message).toBe(true);
    expect((await workspaceStatus(ws)).generation).toBe(2);
    expect((await verifyStagingTree(ws)).ok).toBe(true);
  });
});
