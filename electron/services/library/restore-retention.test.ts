/**
 * A restore that is part-way done, against pruning (issue #10): neither the
 * generation pruning of each apply nor library retention (runbook 5.2) may
 * remove what a running or resumable runbook 7.2 restore still needs.
 * Real workspaces, the fixture kit, the real staging engine and procedures.
 */
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findAudit } from '../audit/index';
import { openDatabase, type Db } from '../db/index';
import { addTrustedKey, inspectPublicKey, listTrustedKeys } from '../keys/index';
import { advanceRun, createRun, findProcedure, loadProcedures } from '../runbooks/index';
import { engineRunbookServices } from '../engine';
import { RESTORE_CHECKLIST_ID } from '../runbooks/restore';
import { currentGeneration, importBundles, listGenerations, listLibrary, rollback, verifyStagingTree } from '../staging/index';
import { KITS, tempDir } from '../testing/fixtures';
import type { TrustedKey } from '../verify/keys';
import { openWorkspace, saveSettings, type Workspace } from '../workspace/index';
import { planRetention, runRetention } from './index';

const KIT = join(KITS, 'ecdsa-p256');
const PUB = join(KITS, 'ecdsa-p256.trusted.pub');

let tmp: { dir: string; cleanup: () => void };
let ws: Workspace;
let keys: TrustedKey[];

beforeEach(() => {
  tmp = tempDir('okc-restore-retention-');
  ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
  const pem = readFileSync(PUB, 'utf8');
  const tenant = (JSON.parse(readFileSync(join(KIT, 'offline-manifest.json'), 'utf8')) as { tenant: string }).tenant;
  withDb((db) => {
    addTrustedKey(db, { pem, tenant, confirmFingerprint: inspectPublicKey(pem).fingerprint, reason: 'CHG-1 trust the fixture key' });
    keys = listTrustedKeys(db);
  });
});
afterEach(() => tmp.cleanup());

function withDb<T>(fn: (db: Db) => T): T {
  const db = openDatabase(ws.layout.db);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const mirrorLibrary = (db: Db) => listLibrary(db).filter((l) => l.kind === 'mirror-full' || l.kind === 'mirror-delta').sort((a, b) => a.generation! - b.generation!);

describe('generation pruning during a restore', () => {
  it('keeps the generation a restore started from until the restore completes, so a failure part-way returns there (keepGenerations 1)', async () => {
    ws = saveSettings(ws, { ...ws.settings, keepGenerations: 1 });
    expect((await importBundles(ws, [KIT], { keys })).current!.generation).toBe(3);
    const before = withDb((db) => currentGeneration(db)!);
    const files = withDb((db) => mirrorLibrary(db).map((l) => join(ws.dir, l.file)));
    expect(files).toHaveLength(3);
    let builds = 0;
    // The third bundle of the chain (generation 3) runs out of space after full and delta 2 switched.
    const res = await importBundles(ws, files, {
      keys,
      forceReason: 'INC-40 restore drill',
      allOrNothing: true,
      hooks: {
        checkpoint: (step) => {
          if (step === 'build:mkdir' && ++builds === 3) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
        },
      },
    });
    expect(res.ok).toBe(false);
    expect(res.code).toBe('ERR_NO_SPACE');
    expect(res.items.filter((i) => i.outcome === 'applied').map((i) => i.generation)).toEqual([1, 2]);
    // With one kept generation, applying delta 2 would have pruned the starting generation; it was protected.
    expect(res.warnings.join(' ')).toMatch(/back at generation 3/);
    const after = withDb((db) => currentGeneration(db)!);
    expect(after.generation).toBe(3);
    expect(after.state_digest).toBe(before.state_digest);
    expect((await verifyStagingTree(ws)).ok).toBe(true);
  });

  it('after a completed restore the starting generation is no longer protected: the next apply prunes to the setting', async () => {
    ws = saveSettings(ws, { ...ws.settings, keepGenerations: 1 });
    await importBundles(ws, [KIT], { keys });
    const files = withDb((db) => mirrorLibrary(db).map((l) => join(ws.dir, l.file)));
    const res = await importBundles(ws, files, { keys, forceReason: 'INC-41 restore', allOrNothing: true });
    expect(res.ok, res.message).toBe(true);
    expect(res.current!.generation).toBe(3);
    // The restore kept its starting point while it ran; one more apply (a rollback switch counts as none) prunes back to one kept generation.
    const kept = withDb((db) => listGenerations(db).length);
    expect(kept).toBeGreaterThanOrEqual(2);
    const again = await importBundles(ws, [files[0]], { keys, forceReason: 'INC-42 re-apply the full bundle' });
    expect(again.ok, again.message).toBe(true);
    expect(withDb((db) => listGenerations(db).length)).toBe(2); // current + keepGenerations (1)
  });
});

describe('library retention during a resumable restore', () => {
  it('never prunes a bundle an unfinished 7.2 run needs; once the bad copy is replaced the run resumes and restores', async () => {
    expect((await importBundles(ws, [KIT], { keys })).current!.generation).toBe(3);
    // Back to generation 2: delta 3 is no longer needed to rebuild the current generation.
    await rollback(ws, { to: 2, reason: 'INC-50 test rollback' });
    ws = saveSettings(ws, { ...ws.settings, retention: { mirrorDays: 1, trivyCount: 1, keepDeltas: 0 } });
    const d3 = withDb((db) => mirrorLibrary(db).find((l) => l.generation === 3)!);
    // Without a restore in progress, the policy prunes delta 3 (old, not needed, not among the last 0 deltas).
    expect(withDb((db) => planRetention(ws, db).prune.map((p) => p.sha256))).toEqual([d3.sha256]);

    // The library copy of delta 3 is damaged: the 7.2 run stops at verify-chain, resumable once the bundle is copied again.
    const d3File = join(ws.dir, d3.file);
    const good = readFileSync(d3File);
    const bad = Buffer.from(good);
    bad[Math.floor(bad.length / 2)] ^= 0xff;
    writeFileSync(d3File, bad);
    const procs = loadProcedures();
    expect(findProcedure(procs, RESTORE_CHECKLIST_ID).section).toBe('7.2');
    const runId = withDb((db) => {
      const run = createRun(db, findProcedure(procs, RESTORE_CHECKLIST_ID), { operator: 'alice', inputs: { reason: 'INC-51 staging damaged' } });
      return run.id;
    });
    const blocked = await withDbAsync((db) => advanceRun({ ws, db, settings: ws.settings, procedures: procs, services: engineRunbookServices() }, runId));
    expect(blocked.state).toBe('blocked');
    expect(blocked.blockedReason).toContain(d3.name);

    // Retention now keeps every bundle of the chain, delta 3 included, and says why.
    const plan = withDb((db) => planRetention(ws, db));
    expect(plan.prune).toEqual([]);
    expect(plan.keep.find((k) => k.sha256 === d3.sha256)?.reason).toBe(`needed by the unfinished restore (checklist run ${runId}); finish that run to let retention prune it`);
    const r = withDb((db) => runRetention(ws, db, { operator: 'bob' }));
    expect(r.pruned).toEqual([]);
    expect(existsSync(d3File)).toBe(true);
    expect(withDb((db) => findAudit(db, { actions: ['retention.pruned'] }))).toEqual([]);

    // The operator copies the bundle again from the media; the same run resumes and restores generation 3.
    copyFileSync(findInKit(d3.name), d3File);
    const done = await withDbAsync((db) => advanceRun({ ws, db, settings: ws.settings, procedures: procs, services: engineRunbookServices() }, runId));
    expect(done.state, done.blockedReason ?? '').toBe('done');
    expect(withDb((db) => currentGeneration(db)!.generation)).toBe(3);
  });
});

async function withDbAsync<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const db = openDatabase(ws.layout.db);
  try {
    return await fn(db);
  } finally {
    db.close();
  }
}

/** The kit file with that name (the library keeps the original file name). */
function findInKit(name: string): string {
  const m = JSON.parse(readFileSync(join(KIT, 'offline-manifest.json'), 'utf8')) as { entries: { path: string }[] };
  const e = m.entries.find((x) => x.path.split('/').pop() === name);
  if (!e) throw new Error(`${name} is not in the kit`);
  return join(KIT, e.path);
}
