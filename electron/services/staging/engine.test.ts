import { spawn } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync, appendFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isOpsError, type OpsError } from '../../../shared/errors';
import { openDatabase } from '../db/index';
import { tempDir } from '../testing/fixtures';
import { treeDigest } from '../testing/tree';
import { openWorkspace, saveSettings, type Workspace } from '../workspace/index';
import { applyJournalFile, generationDir, generationName } from '../workspace/layout';
import { applyPrepared } from './apply';
import { nodeStagingFs, type StagingFs } from './fsops';
import type { PendingDurable } from '../durability';
import { createEngine } from '../engine';
import { openForWrite, rollback, verifyStagingTree, workspaceStatus, recoverInterruptedApply } from './index';
import { listGenerations, readState } from './store';
import { fakeVerifiedBundle, syntheticFiles, type FakeBundle, type FakeBundleSpec } from './testing';

let tmp: { dir: string; cleanup: () => void };
let ws: Workspace;

beforeEach(() => {
  tmp = tempDir('okc-staging-');
  ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
});
afterEach(() => tmp.cleanup());

function snapshot(w: Workspace): { link: string | null; digest: string; gens: string; staging: string[] } {
  const db = openDatabase(w.layout.db);
  try {
    return {
      link: existsSync(w.layout.current) ? readlinkSync(w.layout.current) : null,
      digest: existsSync(w.layout.current) ? treeDigest(w.layout.current) : '',
      gens: JSON.stringify({ g: listGenerations(db, { includePruned: true }), s: { ...readState(db), last_apply: null } }),
      staging: readdirSync(w.layout.staging).sort(),
    };
  } finally {
    db.close();
  }
}

function apply(b: FakeBundle, opts: Parameters<typeof applyPrepared>[3] = {}) {
  const s = openForWrite(ws, 'test');
  try {
    b.materialize();
    return applyPrepared(s.ws, s.db, b.prepared, opts);
  } finally {
    s.close();
  }
}

function expectOpsError(fn: () => unknown, code: string): OpsError {
  try {
    fn();
  } catch (e) {
    expect(isOpsError(e) ? e.code : e).toBe(code);
    return e as OpsError;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

/** A chain: full (gen 1) then deltas 2 and 3. */
function chain(w: Workspace) {
  const full = fakeVerifiedBundle(w, { exportId: 'exp-1', generation: 1, variant: 'full', files: syntheticFiles(40, 'g1') });
  const d2spec = (f: FakeBundle): FakeBundleSpec => ({
    exportId: 'exp-2',
    generation: 2,
    variant: 'delta',
    base: { exportId: 'exp-1', generation: 1, exportJsonBytes: f.prepared.exportJsonBytes, state: f.state },
    files: { 'data/raw/part-00/0/f-000000.jsonl.zst': 'changed in 2', 'data/new/added-2.json': 'added in 2' },
    removed: ['data/raw/part-01/1/f-000001.jsonl.zst'],
  });
  return { full, d2spec };
}

describe('generations', () => {
  it('applies a full bundle then deltas; each tree hashes to its signed state; unchanged files are hard links', async () => {
    const { full, d2spec } = chain(ws);
    const r1 = apply(full);
    expect(r1.generation).toBe(1);
    expect(treeDigest(ws.layout.current)).toBe(full.exp.state.digest);
    expect(readlinkSync(ws.layout.current)).toBe(generationName(r1.seq));
    const d2 = fakeVerifiedBundle(ws, d2spec(full));
    const r2 = apply(d2);
    expect(treeDigest(ws.layout.current)).toBe(d2.exp.state.digest);
    expect(r2.stats.linkedFiles).toBe(38);
    expect(r2.stats.writtenFiles).toBe(2);
    // Unchanged file shares the inode with generation 1; a changed one does not.
    const same = 'data/raw/part-02/2/f-000002.jsonl.zst';
    expect(statSync(join(generationDir(ws.layout, r2.seq), same)).ino).toBe(statSync(join(generationDir(ws.layout, r1.seq), same)).ino);
    expect(existsSync(join(generationDir(ws.layout, r2.seq), 'data/raw/part-01/1/f-000001.jsonl.zst'))).toBe(false);
    expect(existsSync(join(generationDir(ws.layout, r1.seq), 'data/raw/part-01/1/f-000001.jsonl.zst'))).toBe(true);
    // Payload files only in the tree; export.json kept beside it.
    expect(existsSync(join(ws.layout.staging, `${generationName(r2.seq)}.meta`, 'export.json'))).toBe(true);
    expect(existsSync(join(generationDir(ws.layout, r2.seq), 'export.json'))).toBe(false);
    const v = await verifyStagingTree(ws);
    expect(v.ok).toBe(true);
    expect(v.kind).toBe('workspace');
    expect(v.generation).toBe(2);
    // The incoming quarantine is gone, the journal too.
    expect(readdirSync(ws.layout.incoming)).toEqual([]);
    expect(existsSync(applyJournalFile(ws.layout))).toBe(false);
    const st = await workspaceStatus(ws);
    expect(st.exportId).toBe('exp-2');
    expect(st.generation).toBe(2);
    expect(st.stateDigest).toBe(d2.exp.state.digest);
    expect(st.generations.map((g) => g.generation)).toEqual([1, 2]);
  });

  it('refuses replay, gap, mix-and-match, another chain and a wrong state digest, changing nothing', () => {
    const { full, d2spec } = chain(ws);
    apply(full);
    const d2 = fakeVerifiedBundle(ws, d2spec(full));
    apply(d2);
    const before = snapshot(ws);

    // Replay of the same delta: non-monotonic.
    const replay = fakeVerifiedBundle(ws, d2spec(full));
    expectOpsError(() => apply(replay), 'ERR_IMPORT_NON_MONOTONIC');
    // Replay of the full bundle without a reason: non-monotonic.
    const full2 = fakeVerifiedBundle(ws, { exportId: 'exp-1', generation: 1, variant: 'full', files: syntheticFiles(40, 'g1') });
    expectOpsError(() => apply(full2), 'ERR_IMPORT_NON_MONOTONIC');
    // Force does not lift it for an ordinary delta.
    const replay2 = fakeVerifiedBundle(ws, d2spec(full));
    expectOpsError(() => apply(replay2, { forceReason: 'testing' }), 'ERR_IMPORT_NON_MONOTONIC');
    // Gap: generation 4 on top of 2.
    const gap = fakeVerifiedBundle(ws, { exportId: 'exp-4', generation: 4, variant: 'delta', base: { exportId: 'exp-3', generation: 3, exportJsonBytes: Buffer.from('{}'), state: d2.state }, files: { 'x.json': 'x' } });
    const e = expectOpsError(() => apply(gap), 'ERR_EXPORT_BASE_MISSING');
    expect(e.message).toMatch(/3\.\.3 are missing|missing/);
    // Mix-and-match: right base id and generation, wrong base export.json digest.
    const mix = fakeVerifiedBundle(ws, { exportId: 'exp-3', generation: 3, variant: 'delta', base: { exportId: 'exp-2', generation: 2, exportJsonBytes: Buffer.from('{"other":"export"}'), state: d2.state }, files: { 'y.json': 'y' } });
    expect(expectOpsError(() => apply(mix), 'ERR_EXPORT_BASE_MISSING').message).toMatch(/mix-and-match/);
    // Another chain.
    const other = fakeVerifiedBundle(ws, { exportId: 'exp-b-9', generation: 9, variant: 'full', tenant: 'globex', files: { 'z.json': 'z' } });
    expect(expectOpsError(() => apply(other), 'ERR_EXPORT_BASE_MISSING').message).toMatch(/globex.*|acme/);
    // A delta whose signed state digest is not what base + changes give.
    const bad = fakeVerifiedBundle(ws, { exportId: 'exp-3', generation: 3, variant: 'delta', base: { exportId: 'exp-2', generation: 2, exportJsonBytes: d2.prepared.exportJsonBytes, state: d2.state }, files: { 'y.json': 'y' }, stateDigest: 'sha256:' + '0'.repeat(64) });
    expectOpsError(() => apply(bad), 'ERR_VERIFY_DIGEST');

    // A path that would leave the tree (the verifier refuses it first; the engine checks again).
    const evil = fakeVerifiedBundle(ws, { exportId: 'exp-3', generation: 3, variant: 'delta', base: { exportId: 'exp-2', generation: 2, exportJsonBytes: d2.prepared.exportJsonBytes, state: d2.state }, files: { 'data/../../escape.json': 'x' } });
    expectOpsError(() => apply(evil), 'ERR_BUNDLE_UNSAFE_ENTRY');

    const after = snapshot(ws);
    expect(after).toEqual(before);
    // The refused bundles' quarantine is not used: generation folders are unchanged.
    expect(after.staging).toEqual(before.staging);
  });

  it('forces a full bundle over non-monotonic only with a reason, and prunes beyond keepGenerations', () => {
    ws = saveSettings(ws, { ...ws.settings, keepGenerations: 1 });
    const { full, d2spec } = chain(ws);
    apply(full);
    const d2 = fakeVerifiedBundle(ws, d2spec(full));
    const r2 = apply(d2);
    const again = fakeVerifiedBundle(ws, { exportId: 'exp-1b', generation: 2, variant: 'full', files: { 'only.json': 'one file' } });
    const r = apply(again, { forceReason: 'restore after disk incident INC-42' });
    expect(r.forced).toBe(true);
    expect(treeDigest(ws.layout.current)).toBe(again.exp.state.digest);
    // keep 1 besides current: generation seq 1 is pruned (folder removed, row kept as pruned).
    expect(r.prunedSeqs).toEqual([1]);
    expect(existsSync(generationDir(ws.layout, 1))).toBe(false);
    expect(existsSync(generationDir(ws.layout, r2.seq))).toBe(true);
    // Its tree and metadata went to trash/ in one rename each, as did each apply's extraction folder.
    expect(readdirSync(ws.layout.trash).filter((n) => !n.includes('-')).sort()).toEqual([generationName(1), `${generationName(1)}.meta`]);
    expect(readdirSync(ws.layout.trash).filter((n) => n.includes('-'))).toHaveLength(3);
    expect(readdirSync(ws.layout.incoming)).toEqual([]);
    expect(readdirSync(join(ws.layout.trash, generationName(1)), { recursive: true }).length).toBeGreaterThan(0);
    const db = openDatabase(ws.layout.db);
    expect(listGenerations(db).map((g) => g.seq)).toEqual([r2.seq, r.seq]);
    db.close();
  });

  it('rolls back after deep verification, and a later delta applies on top of what is current', async () => {
    const { full, d2spec } = chain(ws);
    const r1 = apply(full);
    const d2 = fakeVerifiedBundle(ws, d2spec(full));
    apply(d2);
    const rb = await rollback(ws, {});
    expect(rb.to.generation).toBe(1);
    expect(readlinkSync(ws.layout.current)).toBe(generationName(r1.seq));
    expect(treeDigest(ws.layout.current)).toBe(full.exp.state.digest);
    expect((await verifyStagingTree(ws)).ok).toBe(true);
    // Re-apply generation 2 (not a replay now: current is 1) into a new local folder.
    const d2again = fakeVerifiedBundle(ws, d2spec(full));
    const r = apply(d2again);
    expect(r.seq).toBe(3);
    expect(treeDigest(ws.layout.current)).toBe(d2.exp.state.digest);
    // Roll forward/back to an explicit generation.
    await rollback(ws, { to: 1 });
    expect((await workspaceStatus(ws)).generation).toBe(1);
  });

  it('refuses a rollback to a damaged generation and stays where it is', async () => {
    const { full, d2spec } = chain(ws);
    const r1 = apply(full);
    apply(fakeVerifiedBundle(ws, d2spec(full)));
    // Damage a file only generation 1 holds (removed by delta 2).
    appendFileSync(join(generationDir(ws.layout, r1.seq), 'data/raw/part-01/1/f-000001.jsonl.zst'), 'tamper');
    const before = snapshot(ws);
    await expect(rollback(ws, {})).rejects.toMatchObject({ code: 'ERR_VERIFY_DIGEST' });
    expect(snapshot(ws)).toEqual(before);
  });

  it('verifyStagingTree reports each changed, missing and extra file by path', async () => {
    const { full } = chain(ws);
    apply(full);
    const cur = ws.layout.current;
    appendFileSync(join(cur, 'data/raw/part-03/3/f-000003.jsonl.zst'), '!');
    unlinkSync(join(cur, 'data/raw/part-04/4/f-000004.jsonl.zst'));
    writeFileSync(join(cur, 'data/extra.txt'), 'extra');
    const v = await verifyStagingTree(ws);
    expect(v.ok).toBe(false);
    expect(v.code).toBe('ERR_VERIFY_DIGEST');
    const byPath = Object.fromEntries((v.failures ?? []).map((f) => [f.path, f.code]));
    expect(byPath).toEqual({
      'data/raw/part-03/3/f-000003.jsonl.zst': 'ERR_VERIFY_DIGEST',
      'data/raw/part-04/4/f-000004.jsonl.zst': 'ERR_VERIFY_MISSING_FILE',
      'data/extra.txt': 'ERR_VERIFY_EXTRA_FILE',
    });
    const st = await workspaceStatus(ws, { deep: true });
    expect(st.stateDigest).not.toBe(full.exp.state.digest);
  });
});

describe('the extraction flush (started by the verify, waited for by the build)', () => {
  it('is waited for before the journal is written, every time; a failed flush changes nothing', () => {
    const { full, d2spec } = chain(ws);
    const steps: string[] = [];
    const flushed = (): PendingDurable => ({ wait: () => (steps.push('flush'), 'syncfs') });
    apply({ ...full, prepared: { ...full.prepared, durable: flushed() } }, { hooks: { checkpoint: (x) => steps.push(x) } });
    expect(steps.indexOf('flush')).toBeGreaterThanOrEqual(0);
    expect(steps.indexOf('flush')).toBeLessThan(steps.indexOf('journal:begin'));
    const before = snapshot(ws);
    const d2 = fakeVerifiedBundle(ws, d2spec(full));
    const failing: PendingDurable = {
      wait: () => {
        throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
      },
    };
    expect(() => apply({ ...d2, prepared: { ...d2.prepared, durable: failing } })).toThrow(/EIO/);
    recoverInterruptedApply(ws);
    expect(snapshot(ws)).toEqual(before);
    steps.length = 0;
    apply({ ...d2, prepared: { ...d2.prepared, durable: flushed() } }, { hooks: { checkpoint: (x) => steps.push(x) } });
    expect(steps.filter((x) => x === 'flush')).toHaveLength(1);
    expect(steps.indexOf('flush')).toBeLessThan(steps.indexOf('journal:begin'));
    expect(treeDigest(ws.layout.current)).toBe(d2.exp.state.digest);
  });
});

describe('disk full', () => {
  it('an ENOSPC during the apply leaves the current generation byte-for-byte and reports the space needed', () => {
    const { full, d2spec } = chain(ws);
    apply(full);
    const before = snapshot(ws);
    for (const failAt of [1, 5, 20, 41]) {
      let n = 0;
      const enospc = (): never => {
        const e = new Error('ENOSPC: no space left on device') as NodeJS.ErrnoException;
        e.code = 'ENOSPC';
        throw e;
      };
      const fs: StagingFs = {
        ...nodeStagingFs,
        mkdir: (p) => (++n >= failAt ? enospc() : nodeStagingFs.mkdir(p)),
        link: (a, b) => (++n >= failAt ? enospc() : nodeStagingFs.link(a, b)),
        writeFile: (p, d) => (++n >= failAt ? enospc() : nodeStagingFs.writeFile(p, d)),
        rename: (a, b) => (++n >= failAt ? enospc() : nodeStagingFs.rename(a, b)),
      };
      const d2 = fakeVerifiedBundle(ws, d2spec(full));
      const e = expectOpsError(() => apply(d2, { hooks: { fs } }), 'ERR_NO_SPACE');
      expect(e.message).toMatch(/needs about \d+ bytes/);
      expect((e.details as { neededBytes: number }).neededBytes).toBeGreaterThan(0);
      // A failure even before the journal exists is also clean.
      recoverInterruptedApply(ws);
      expect(snapshot(ws)).toEqual(before);
      expect(treeDigest(ws.layout.current)).toBe(full.exp.state.digest);
    }
    // And the apply succeeds once space is back.
    const d2 = fakeVerifiedBundle(ws, d2spec(full));
    apply(d2);
    expect(treeDigest(ws.layout.current)).toBe(d2.exp.state.digest);
  });
});

describe('journal recovery', () => {
  it('rolls back an apply interrupted before its commit and finishes one interrupted after it', async () => {
    const { full, d2spec } = chain(ws);
    apply(full);
    const before = snapshot(ws);
    // Stop at a step by throwing from the checkpoint (simulates the process dying there; the journal stays).
    const stopAt = (step: string) => (s: string) => {
      if (s === step) throw new Error(`crash at ${s}`);
    };
    const cleanupless: StagingFs = { ...nodeStagingFs, rm: () => {} , fsyncDir: () => {} };
    const d2 = fakeVerifiedBundle(ws, d2spec(full));
    const s = openForWrite(ws, 'test');
    d2.materialize();
    expect(() => applyPrepared(s.ws, s.db, d2.prepared, { hooks: { checkpoint: stopAt('build:fsync'), fs: { ...nodeStagingFs, rm: cleanupless.rm } } })).toThrow(/crash/);
    s.close();
    expect(existsSync(applyJournalFile(ws.layout))).toBe(true);
    const rep = recoverInterruptedApply(ws);
    expect(rep.recovered?.outcome).toBe('rolled-back');
    expect(snapshot(ws)).toEqual(before);

    const d2b = fakeVerifiedBundle(ws, d2spec(full));
    const s2 = openForWrite(ws, 'test');
    d2b.materialize();
    expect(() => applyPrepared(s2.ws, s2.db, d2b.prepared, { hooks: { checkpoint: stopAt('switch:rename'), fs: { ...nodeStagingFs, rm: cleanupless.rm } } })).toThrow(/crash/);
    s2.close();
    // Merely opening the workspace through the composition root (as the app, every CLI command and every job does) finishes it.
    expect(existsSync(applyJournalFile(ws.layout))).toBe(true);
    const engine = createEngine(ws.dir);
    engine.close();
    expect(engine.recovery.recovered?.outcome).toBe('completed');
    expect(existsSync(applyJournalFile(ws.layout))).toBe(false);
    expect(readlinkSync(engine.ws.layout.current)).toBe(generationName(2));
    const db = openDatabase(ws.layout.db);
    const recovered = db.prepare("SELECT details FROM audit_log WHERE action = 'mirror.apply.recovered' ORDER BY id").all() as { details: string }[];
    db.close();
    expect(recovered.map((r) => (JSON.parse(r.details) as { outcome: string }).outcome)).toEqual(['rolled-back', 'completed']);
    expect(treeDigest(ws.layout.current)).toBe(d2b.exp.state.digest);
    expect((await workspaceStatus(ws)).generation).toBe(2);
    expect((await verifyStagingTree(ws)).ok).toBe(true);
  });
});

describe('unreadable journal', () => {
  it('returns staging to the generation the database records', () => {
    const { full, d2spec } = chain(ws);
    apply(full);
    const before = snapshot(ws);
    const d2 = fakeVerifiedBundle(ws, d2spec(full));
    const s = openForWrite(ws, 'test');
    d2.materialize();
    // Crash right after the switch, before the database: the link points at the new folder.
    expect(() => applyPrepared(s.ws, s.db, d2.prepared, { hooks: { checkpoint: (x) => { if (x === 'db:commit') throw new Error('crash'); } } })).toThrow(/crash/);
    s.close();
    writeFileSync(applyJournalFile(ws.layout), '{"op": "apply", "phase": "comm');
    const rep = recoverInterruptedApply(ws);
    expect(rep.recovered?.outcome).toBe('rolled-back');
    expect(snapshot(ws)).toEqual(before);
    expect(existsSync(applyJournalFile(ws.layout))).toBe(false);
  });
});

describe('single writer', () => {
  it('a second writer gets ERR_WORKSPACE_BUSY naming the holder pid', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    try {
      writeFileSync(ws.layout.lock, JSON.stringify({ pid: child.pid, host: (await import('node:os')).hostname(), since: '2026-01-01T00:00:00Z', purpose: 'mirror import' }));
      const e = expectOpsError(() => openForWrite(ws, 'test'), 'ERR_WORKSPACE_BUSY');
      expect(e.message).toContain(`pid ${child.pid}`);
      expect(e.message).toContain('since 2026-01-01T00:00:00Z');
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((r) => child.once('exit', r));
    // A dead holder's lock is taken over.
    const s = openForWrite(ws, 'test');
    s.close();
    expect(lstatSync(ws.layout.dir).isDirectory()).toBe(true);
  });
});

describe('Trivy install journal', () => {
  it('rolls back an install interrupted before its commit and finishes one interrupted after it', async () => {
    const { installTrivy } = await import('./trivy-install');
    const { mkdirSync } = await import('node:fs');
    const extracted = (tag: string): { job: string; dir: string } => {
      const job = `job-${tag}`;
      const dir = join(ws.layout.incoming, job, 'trivy');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'metadata.json'), JSON.stringify({ Version: 2, UpdatedAt: `2025-11-0${tag}T00:00:00Z`, NextUpdate: '2025-12-01T00:00:00Z' }));
      writeFileSync(join(dir, 'trivy.db'), `db ${tag}`);
      return { job, dir };
    };
    const keepJournal: StagingFs = { ...nodeStagingFs, rm: () => {} };
    const crashAt = (step: string) => (s: string) => {
      if (s === step) throw new Error(`crash at ${s}`);
    };
    let s = openForWrite(ws, 'test');
    const a = extracted('1');
    installTrivy(s.ws, s.db, { path: 'db.bundle', kind: 'trivy-db', job: a.job, extractedDir: a.dir });
    s.close();
    const link = join(ws.layout.trivy, 'db');
    const first = readlinkSync(link);
    expect(readFileSync(join(link, 'trivy.db'), 'utf8')).toBe('db 1');

    s = openForWrite(ws, 'test');
    const b = extracted('2');
    expect(() => installTrivy(s.ws, s.db, { path: 'db.bundle', kind: 'trivy-db', job: b.job, extractedDir: b.dir }, { hooks: { checkpoint: crashAt('trivy:commit'), fs: keepJournal } })).toThrow(/crash/);
    s.close();
    expect(recoverInterruptedApply(ws).recovered?.outcome).toBe('rolled-back');
    expect(readlinkSync(link)).toBe(first);
    expect(readFileSync(join(link, 'trivy.db'), 'utf8')).toBe('db 1');
    expect(readdirSync(ws.layout.trivy).sort()).toEqual([first, 'db'].sort());

    s = openForWrite(ws, 'test');
    const c = extracted('3');
    expect(() => installTrivy(s.ws, s.db, { path: 'db.bundle', kind: 'trivy-db', job: c.job, extractedDir: c.dir }, { hooks: { checkpoint: crashAt('switch:rename'), fs: keepJournal } })).toThrow(/crash/);
    s.close();
    expect(recoverInterruptedApply(ws).recovered?.outcome).toBe('completed');
    expect(readFileSync(join(link, 'trivy.db'), 'utf8')).toBe('db 3');
    expect(readdirSync(ws.layout.trivy)).toHaveLength(2); // the link and the one folder it points at
  });

  it('a Trivy install killed while its library copy is placed (library:place, the shared placement step) rolls back without a stray library folder; a clean one places it content-addressed', async () => {
    const { installTrivy } = await import('./trivy-install');
    const { createHash } = await import('node:crypto');
    const { mkdirSync } = await import('node:fs');
    const { getLibrary } = await import('./store');
    const { libraryTmpFile } = await import('./library-place');
    const raw = Buffer.from('the raw db.bundle bytes');
    const sha = createHash('sha256').update(raw).digest('hex');
    const prepare = (tag: string) => {
      const job = `job-lib-${tag}`;
      const dir = join(ws.layout.incoming, job, 'trivy');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'metadata.json'), JSON.stringify({ Version: 2, UpdatedAt: '2025-11-01T00:00:00Z', NextUpdate: '2025-12-01T00:00:00Z' }));
      writeFileSync(join(dir, 'trivy.db'), `db ${tag}`);
      const tmpFile = libraryTmpFile(ws, job);
      writeFileSync(tmpFile, raw);
      return { path: 'db.bundle', kind: 'trivy-db' as const, job, extractedDir: dir, library: { tmpFile, sha256: sha, size: raw.length, name: 'db.bundle' } };
    };
    const keepJournal: StagingFs = { ...nodeStagingFs, rm: () => {} };
    let placed = false;
    const crashAfterPlace = (step: string) => {
      if (step === 'library:place') placed = true;
      if (step === 'trivy:commit') throw new Error('crash at trivy:commit');
    };
    let s = openForWrite(ws, 'test');
    expect(() => installTrivy(s.ws, s.db, prepare('1'), { hooks: { checkpoint: (st) => { if (st === 'library:place') throw new Error('crash at library:place'); }, fs: keepJournal } })).toThrow(/library:place/);
    s.close();
    expect(recoverInterruptedApply(ws).recovered?.outcome).toBe('rolled-back');
    expect(existsSync(join(ws.layout.library, sha))).toBe(false);

    s = openForWrite(ws, 'test');
    expect(() => installTrivy(s.ws, s.db, prepare('2'), { hooks: { checkpoint: crashAfterPlace, fs: keepJournal } })).toThrow(/trivy:commit/);
    s.close();
    expect(placed).toBe(true);
    expect(recoverInterruptedApply(ws).recovered?.outcome).toBe('rolled-back');
    expect(existsSync(join(ws.layout.library, sha))).toBe(false);

    s = openForWrite(ws, 'test');
    installTrivy(s.ws, s.db, prepare('3'));
    expect(getLibrary(s.db, sha)).toMatchObject({ file: `library/${sha}/db.bundle`, kind: 'trivy-db', size: raw.length });
    s.close();
    expect(readFileSync(join(ws.layout.library, sha, 'db.bundle')).equals(raw)).toBe(true);
    expect(readdirSync(ws.layout.library).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
  });
});
