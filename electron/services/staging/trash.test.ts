/**
 * trash/ (trash.ts): emptied on a helper thread, whatever it holds, and an
 * import empties it while leaving the workspace's state alone; what an
 * import leaves there goes in a detached process after it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KITS, REPO_ROOT, tempDir, trashDrained } from '../testing/fixtures';
import { loadPublicKey } from '../verify/keys';
import { openWorkspace } from '../workspace/index';
import { importBundles, workspaceStatus } from './index';
import { nodeStagingFs } from './fsops';
import { disposeTrash, emptyTrash, moveToTrash, REMOVE_HERE_MAX_NAMES, removeTrashDetached, trashEntries } from './trash';

let tmp: { dir: string; cleanup: () => void };
beforeEach(() => {
  tmp = tempDir('okc-trash-');
});
afterEach(() => tmp.cleanup());

describe('trash/', () => {
  it('is created with the workspace and emptied of nested folders, files and links (never what a link points at)', async () => {
    const ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
    expect(readdirSync(ws.layout.trash)).toEqual([]);
    const outside = join(tmp.dir, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'keep.txt'), 'kept');
    const undo = join(ws.layout.trash, '000007.undo');
    mkdirSync(join(undo, 'tree', 'deep', 'er'), { recursive: true });
    for (let k = 0; k < 300; k++) writeFileSync(join(undo, 'tree', String(k)), `old ${k}`);
    writeFileSync(join(undo, 'tree', 'deep', 'er', 'x'), 'x');
    writeFileSync(join(undo, 'paths.txt'), '-a\n');
    symlinkSync(outside, join(undo, 'tree', 'link'));
    writeFileSync(join(ws.layout.trash, 'loose-file'), 'x');
    expect(trashEntries(ws.layout).sort()).toEqual(['000007.undo', 'loose-file']);
    expect(await emptyTrash(ws.layout)).toBeNull();
    expect(readdirSync(ws.layout.trash)).toEqual([]);
    expect(readdirSync(outside)).toEqual(['keep.txt']);
  });

  it('takes a folder in one rename, or removes it on the spot when its name is taken there; a missing one is no error', () => {
    const ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
    const make = (name: string) => {
      const d = join(ws.layout.staging, name);
      mkdirSync(join(d, 'tree'), { recursive: true });
      writeFileSync(join(d, 'tree', '0'), 'old');
      return d;
    };
    const a = make('000003.undo');
    moveToTrash(ws.layout, nodeStagingFs, a);
    expect(existsSync(a)).toBe(false);
    expect(readFileSync(join(ws.layout.trash, '000003.undo', 'tree', '0'), 'utf8')).toBe('old');
    // Same name again, while the first still waits: removed here, the waiting one untouched.
    const b = make('000003.undo');
    writeFileSync(join(b, 'tree', '0'), 'newer');
    moveToTrash(ws.layout, nodeStagingFs, b);
    expect(existsSync(b)).toBe(false);
    expect(readFileSync(join(ws.layout.trash, '000003.undo', 'tree', '0'), 'utf8')).toBe('old');
    moveToTrash(ws.layout, nodeStagingFs, join(ws.layout.staging, 'no-such.undo'));
    expect(trashEntries(ws.layout)).toEqual(['000003.undo']);
  });

  it('resolves at once with nothing to do, and when the folder is missing', async () => {
    const ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
    expect(await emptyTrash(ws.layout)).toBeNull();
    const gone = { ...ws.layout, trash: join(tmp.dir, 'no-such') };
    expect(await emptyTrash(gone)).toBeNull();
    expect(existsSync(gone.trash)).toBe(false);
  });

  it('is emptied by an import (applied or refused), which changes nothing else', async () => {
    const ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
    const keys = [loadPublicKey(readFileSync(join(KITS, 'ecdsa-p256.trusted.pub'), 'utf8'), 'cli')];
    const m = JSON.parse(readFileSync(join(KITS, 'ecdsa-p256', 'offline-manifest.json'), 'utf8')) as { entries: { path: string; kind: string; generation?: number }[] };
    const [full, delta] = m.entries.filter((e) => e.kind.startsWith('mirror-')).sort((a, b) => a.generation! - b.generation!);
    const junk = (name: string) => {
      mkdirSync(join(ws.layout.trash, name, 'tree'), { recursive: true });
      for (let k = 0; k < 50; k++) writeFileSync(join(ws.layout.trash, name, 'tree', String(k)), 'old');
    };
    junk('000001.undo');
    const r = await importBundles(ws, [join(KITS, 'ecdsa-p256', full.path)], { keys });
    expect(r.code, r.message).toBeNull();
    // What was there before is gone when the call returns; what the import itself put
    // there (its extraction folder) goes in the detached rm just after it.
    expect(trashEntries(ws.layout)).not.toContain('000001.undo');
    expect(await trashDrained(ws.layout.trash)).toEqual([]);
    // A refused import (no trusted key) empties it too, and the generation stays.
    junk('000002.undo');
    const refused = await importBundles(ws, [join(KITS, 'ecdsa-p256', delta.path)], { keys: [] });
    expect(refused.code).not.toBeNull();
    expect(trashEntries(ws.layout)).not.toContain('000002.undo');
    expect(await trashDrained(ws.layout.trash)).toEqual([]);
    expect((await workspaceStatus(ws)).generation).toBe(full.generation);
  });

  it('reports what it could not remove (never throws), and an import logs it and still succeeds', async (ctx) => {
    const ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
    const stuck = join(ws.layout.trash, '000004.undo', 'tree');
    mkdirSync(stuck, { recursive: true });
    writeFileSync(join(stuck, '0'), 'old');
    writeFileSync(join(stuck, '1'), 'old');
    // An immutable file cannot be unlinked, even by root (ext4 and most Linux file systems).
    if (spawnSync('chattr', ['+i', join(stuck, '0')]).status !== 0) return ctx.skip('chattr +i is not available on this file system');
    try {
      const r = await emptyTrash(ws.layout);
      expect(r?.message).toMatch(/could not remove 000004\.undo: .*(EPERM|not permitted)/);
      const keys = [loadPublicKey(readFileSync(join(KITS, 'ecdsa-p256.trusted.pub'), 'utf8'), 'cli')];
      const m = JSON.parse(readFileSync(join(KITS, 'ecdsa-p256', 'offline-manifest.json'), 'utf8')) as { entries: { path: string; kind: string; generation?: number }[] };
      const full = m.entries.filter((e) => e.kind === 'mirror-full')[0];
      const imp = await importBundles(ws, [join(KITS, 'ecdsa-p256', full.path)], { keys });
      expect(imp.code, imp.message).toBeNull();
      const log = readdirSync(ws.layout.logs).map((n) => readFileSync(join(ws.layout.logs, n), 'utf8')).join('');
      expect(log).toMatch(/"event":"workspace\.trash\.failed".*could not remove 000004\.undo/);
    } finally {
      spawnSync('chattr', ['-i', join(stuck, '0')]);
    }
    expect(await emptyTrash(ws.layout)).toBeNull();
    expect(readdirSync(ws.layout.trash)).toEqual([]);
  });

  it('a process killed (SIGKILL) while emptying it leaves a trash the next import empties', async () => {
    const ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
    const undo = join(ws.layout.trash, '000009.undo', 'tree');
    mkdirSync(undo, { recursive: true });
    const total = 20_000;
    for (let k = 0; k < total; k++) writeFileSync(join(undo, String(k)), 'old');
    // A driver that empties the trash and reports once files start to go; it is killed right then.
    const driver = join(tmp.dir, 'trash-driver.mjs');
    const src = join(tmp.dir, 'trash-driver.ts');
    writeFileSync(src, `import { readdirSync } from 'node:fs';
import { emptyTrash } from ${JSON.stringify(join(REPO_ROOT, 'electron/services/staging/trash.ts'))};
const dir = process.argv[2];
void emptyTrash({ trash: process.argv[3] } as never);
const iv = setInterval(() => { try { if (readdirSync(dir).length < ${total}) { clearInterval(iv); process.stdout.write('going\\n'); } } catch { clearInterval(iv); process.stdout.write('going\\n'); } }, 1);
`);
    await build({ entryPoints: [src], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile: driver, logLevel: 'error' });
    const child = spawn(process.execPath, [driver, undo, ws.layout.trash], { stdio: ['ignore', 'pipe', 'inherit'] });
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => {
      child.stdout.on('data', () => child.kill('SIGKILL'));
      child.on('exit', (_code, sig) => resolve(sig));
    });
    expect(signal).toBe('SIGKILL');
    const left = existsSync(undo) ? readdirSync(undo).length : 0;
    expect(left).toBeLessThan(total);
    console.log(`trash kill: ${left} of ${total} files left when the process was killed`);
    // The workspace opens as ever, and the next import's emptying finishes the job.
    openWorkspace(ws.dir);
    expect(await emptyTrash(ws.layout)).toBeNull();
    expect(readdirSync(ws.layout.trash)).toEqual([]);
  }, 60_000);

  it('what is there after an import goes in a detached rm that outlives the call (links removed, never their targets)', async () => {
    const ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
    const keys = [loadPublicKey(readFileSync(join(KITS, 'ecdsa-p256.trusted.pub'), 'utf8'), 'cli')];
    const m = JSON.parse(readFileSync(join(KITS, 'ecdsa-p256', 'offline-manifest.json'), 'utf8')) as { entries: { path: string; kind: string; generation?: number }[] };
    const full = m.entries.filter((e) => e.kind === 'mirror-full')[0];
    const outside = join(tmp.dir, 'keep-me');
    writeFileSync(outside, 'precious');
    let planted = false;
    // Planted while the import runs (after its own emptying began): an undo folder this import made.
    const r = await importBundles(ws, [join(KITS, 'ecdsa-p256', full.path)], {
      keys,
      onProgress: () => {
        if (planted) return;
        planted = true;
        mkdirSync(join(ws.layout.trash, '000007.undo', 'tree', 'deep'), { recursive: true });
        for (let k = 0; k < 200; k++) writeFileSync(join(ws.layout.trash, '000007.undo', 'tree', String(k)), 'old');
        writeFileSync(join(ws.layout.trash, '000007.undo', 'tree', 'deep', 'x'), 'old');
        symlinkSync(outside, join(ws.layout.trash, '000007.undo', 'tree', 'link'));
      },
    });
    expect(r.code, r.message).toBeNull();
    expect(planted).toBe(true);
    expect(await trashDrained(ws.layout.trash)).toEqual([]);
    expect(readFileSync(outside, 'utf8')).toBe('precious');
    expect((await workspaceStatus(ws)).generation).toBe(full.generation);
  });

  it('a small trash (a daily delta\'s) is removed by the import before it returns; a large one goes to the detached rm', async () => {
    const ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
    expect(disposeTrash(ws.layout)).toBe('empty');
    const outside = join(tmp.dir, 'keep-me');
    writeFileSync(outside, 'precious');
    const small = (name: string, files: number): void => {
      mkdirSync(join(ws.layout.trash, name, 'tree'), { recursive: true });
      for (let k = 0; k < files; k++) writeFileSync(join(ws.layout.trash, name, 'tree', String(k)), 'old');
      symlinkSync(outside, join(ws.layout.trash, name, 'link'));
    };
    small('000009.undo', 10);
    expect(disposeTrash(ws.layout)).toBe('here');
    expect(trashEntries(ws.layout)).toEqual([]);
    expect(readFileSync(outside, 'utf8')).toBe('precious');
    small('000010.undo', REMOVE_HERE_MAX_NAMES + 5);
    expect(disposeTrash(ws.layout)).toBe('detached');
    expect(await trashDrained(ws.layout.trash)).toEqual([]);
    expect(readFileSync(outside, 'utf8')).toBe('precious');
  });

  it('hands over nothing when the trash is empty; where `nice`/`rm` cannot start, the next emptying removes it', async () => {
    const ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
    expect(removeTrashDetached(ws.layout)).toBe(0);
    mkdirSync(join(ws.layout.trash, '000008.undo', 'tree'), { recursive: true });
    writeFileSync(join(ws.layout.trash, '000008.undo', 'tree', '0'), 'old');
    const path = process.env.PATH;
    process.env.PATH = join(tmp.dir, 'no-bin');
    try {
      removeTrashDetached(ws.layout);
    } finally {
      process.env.PATH = path;
    }
    await new Promise((res) => setTimeout(res, 300));
    expect(trashEntries(ws.layout)).toEqual(['000008.undo']);
    expect(await emptyTrash(ws.layout)).toBeNull();
    expect(trashEntries(ws.layout)).toEqual([]);
  });
});
