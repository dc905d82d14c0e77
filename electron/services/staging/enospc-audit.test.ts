/**
 * An import refused because the disk is full (ERR_NO_SPACE) is still a fact
 * for the auditor (issue #10): it leaves its audit row (code, file, sha256,
 * size, signer where known) and changes nothing stored — current generation,
 * its tree, the kept generations, the library, the incoming folder.
 * Real workspaces and the fixture kit; the full disk is injected at the apply
 * (everywhere) and real on a tiny tmpfs (where mounting is allowed).
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, statfsSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findAudit, verifyAuditChain } from '../audit/index';
import { openDatabase } from '../db/index';
import { KITS, tempDir, unmountTestFs } from '../testing/fixtures';
import { treeHash } from '../testing/tree';
import { loadPublicKey } from '../verify/keys';
import { openWorkspace, type Workspace } from '../workspace/index';
import { importBundles, importLocked, listGenerations, listLibrary, openForWrite, workspaceStatus } from './index';

const KIT = join(KITS, 'ecdsa-p256');
const keys = [loadPublicKey(readFileSync(join(KITS, 'ecdsa-p256.trusted.pub'), 'utf8'), 'cli')];
const manifest = JSON.parse(readFileSync(join(KIT, 'offline-manifest.json'), 'utf8')) as { entries: { path: string; generation?: number }[] };
const [FULL, D2] = manifest.entries
  .filter((e) => e.generation !== undefined)
  .sort((a, b) => a.generation! - b.generation!)
  .map((e) => join(KIT, e.path));

const sha256 = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

/** Everything stored that a refused import must leave alone. */
function stored(ws: Workspace) {
  const db = openDatabase(ws.layout.db);
  try {
    return {
      link: readlinkSync(ws.layout.current),
      tree: treeHash(ws.layout.current),
      generations: JSON.stringify(listGenerations(db, { includePruned: true })),
      library: JSON.stringify(listLibrary(db, { includePruned: true })),
      libraryFiles: readdirSync(ws.layout.library).sort(),
      staging: readdirSync(ws.layout.staging).sort(),
      incoming: readdirSync(ws.layout.incoming),
    };
  } finally {
    db.close();
  }
}

function auditAfter(ws: Workspace, afterId: number) {
  const db = openDatabase(ws.layout.db);
  try {
    return { rows: findAudit(db, { afterId }), chain: verifyAuditChain(db) };
  } finally {
    db.close();
  }
}

function lastAuditId(ws: Workspace): number {
  const db = openDatabase(ws.layout.db);
  try {
    return findAudit(db, { newestFirst: true, limit: 1 })[0]?.id ?? 0;
  } finally {
    db.close();
  }
}

describe('an apply refused for lack of space (injected at the apply)', () => {
  let tmp: { dir: string; cleanup: () => void };
  let ws: Workspace;
  beforeEach(() => {
    tmp = tempDir('okc-enospc-audit-');
    ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
  });
  afterEach(() => tmp.cleanup());

  it('records the refusal (code, file, sha256, size, signer) in the audit log and changes nothing stored', async () => {
    expect((await importBundles(ws, [FULL], { keys })).ok).toBe(true);
    const before = stored(ws);
    const mark = lastAuditId(ws);
    const r = await importBundles(ws, [D2], {
      keys,
      operator: 'alice',
      hooks: {
        checkpoint: (step) => {
          if (step === 'build:link') throw Object.assign(new Error('ENOSPC: no space left on device, link'), { code: 'ENOSPC' });
        },
      },
    });
    expect(r.ok).toBe(false);
    expect(r.items.map((i) => [i.outcome, i.code])).toEqual([['refused', 'ERR_NO_SPACE']]);
    expect(r.items[0].message).toMatch(/needs about \d+ bytes/);

    // Nothing stored changed.
    expect(stored(ws)).toEqual(before);

    // The refusal is in the audit log, with what an auditor needs, and the chain still verifies.
    const { rows, chain } = auditAfter(ws, mark);
    expect(chain.ok).toBe(true);
    const refusals = rows.filter((row) => row.details.errorCode === 'ERR_NO_SPACE');
    expect(refusals).toHaveLength(1);
    const row = refusals[0];
    expect(row.action).toBe('mirror.delta.apply_failed');
    expect(row.actor).toContain('alice');
    expect(row.details).toMatchObject({ path: D2, generation: 2, sha256: sha256(D2), size: statSync(D2).size, errorCode: 'ERR_NO_SPACE' });
    expect((row.details.signedBy as string[]).length).toBeGreaterThan(0);
    expect(rows.filter((x) => x.action.endsWith('.applied'))).toEqual([]);
    // The workspace says so too, until the next good apply.
    expect((await workspaceStatus(ws)).lastApply).toMatchObject({ ok: false, code: 'ERR_NO_SPACE' });

    // Space back: the same delta applies.
    const again = await importBundles(ws, [D2], { keys });
    expect(again.ok, again.message).toBe(true);
    expect(again.current!.generation).toBe(2);
  });
});

describe('an import refused on a really full disk (tiny tmpfs)', () => {
  let tmp: { dir: string; cleanup: () => void };
  let mnt = '';
  let mounted = false;
  beforeEach(() => {
    tmp = tempDir('okc-enospc-audit-fs-');
    mnt = join(tmp.dir, 'tiny');
    mkdirSync(mnt);
    mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt]).status === 0;
  });
  afterEach(() => {
    if (mounted) unmountTestFs(mnt);
    tmp.cleanup();
  });

  it('mid-extraction: the refusal row is written once the partial files are gone, and nothing stored changed', async (ctx) => {
    if (!mounted) ctx.skip();
    const ws = openWorkspace(join(mnt, 'ws'), { create: true });
    expect((await importBundles(ws, [FULL], { keys })).ok).toBe(true);
    const before = stored(ws);
    const mark = lastAuditId(ws);
    // The app keeps the database open; fill the volume to about 20 KiB free (less than the delta needs).
    const s = openForWrite(ws, 'test');
    const free = () => Number(statfsSync(mnt).bavail) * Number(statfsSync(mnt).bsize);
    const fd = openSync(join(mnt, 'filler'), 'w');
    const chunk = Buffer.alloc(4096, 1);
    while (free() > 20 * 1024) writeSync(fd, chunk);
    closeSync(fd);
    let err: unknown = null;
    try {
      await importLocked(s.ws, s.db, [D2], { keys, operator: 'bob' });
    } catch (e) {
      err = e;
    } finally {
      s.close();
    }
    rmSync(join(mnt, 'filler'));
    expect(err).toMatchObject({ code: 'ERR_NO_SPACE' });
    expect(stored(ws)).toEqual(before);
    const { rows, chain } = auditAfter(ws, mark);
    expect(chain.ok).toBe(true);
    const refused = rows.filter((r) => r.action === 'mirror.import.refused');
    expect(refused).toHaveLength(1);
    expect(refused[0].details).toMatchObject({ paths: [D2], sizes: [statSync(D2).size], errorCode: 'ERR_NO_SPACE' });
    expect(refused[0].actor).toContain('bob');
  });

  it('space the trash still holds is freed before the space check refuses: the import waits for its emptying', async (ctx) => {
    if (!mounted) ctx.skip();
    const ws = openWorkspace(join(mnt, 'ws'), { create: true });
    expect((await importBundles(ws, [FULL], { keys })).ok).toBe(true);
    // The app keeps the database open. What the last import left in trash/ (a pruned tree, say)
    // fills the volume to one page free.
    const s = openForWrite(ws, 'test');
    const free = () => Number(statfsSync(mnt).bavail) * Number(statfsSync(mnt).bsize);
    mkdirSync(join(ws.layout.trash, '000001', 'data'), { recursive: true });
    const fd = openSync(join(ws.layout.trash, '000001', 'data', 'filler'), 'w');
    const chunk = Buffer.alloc(4096, 1);
    while (free() > 4096) writeSync(fd, chunk);
    closeSync(fd);
    expect(free()).toBeLessThan(2 * statSync(D2).size);
    let r;
    try {
      r = await importLocked(s.ws, s.db, [D2], { keys });
    } finally {
      s.close();
    }
    expect(r.items.map((i) => [i.outcome, i.code])).toEqual([['applied', null]]);
    expect(readdirSync(ws.layout.trash)).not.toContain('000001');
  });
});
