/**
 * trash/ (trash.ts): emptied on a helper thread, whatever it holds, and an
 * import empties it while leaving the workspace's state alone.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KITS, tempDir } from '../testing/fixtures';
import { loadPublicKey } from '../verify/keys';
import { openWorkspace } from '../workspace/index';
import { importBundles, workspaceStatus } from './index';
import { emptyTrash, trashEntries } from './trash';

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
    expect(readdirSync(ws.layout.trash)).toEqual([]);
    // A refused import (no trusted key) empties it too, and the generation stays.
    junk('000002.undo');
    const refused = await importBundles(ws, [join(KITS, 'ecdsa-p256', delta.path)], { keys: [] });
    expect(refused.code).not.toBeNull();
    expect(readdirSync(ws.layout.trash)).toEqual([]);
    expect((await workspaceStatus(ws)).generation).toBe(full.generation);
  });
});
