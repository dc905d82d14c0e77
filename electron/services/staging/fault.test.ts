/**
 * Fault injection: an apply running in a child process is SIGKILLed at
 * chosen points (every disk/database step is a checkpoint, extraction
 * included). After each kill, the next start (recovery on open for writing)
 * must leave staging at exactly the old or the new generation, the deep
 * verification must pass, and the apply must then complete.
 * At least 50 kill points in CI; OKC_FAULT_POINTS=<n> for a longer run
 * (OKC_FAULT_SEED to replay a run).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey, writeMirrorBundle, type PayloadFile } from '../producer/index';
import { KITS, REPO_ROOT, tempDir } from '../testing/fixtures';
import { loadPublicKey } from '../verify/keys';
import { openWorkspace } from '../workspace/index';
import { generationName } from '../workspace/layout';
import { applyPrepared } from './apply';
import { faultChain, faultDelta, faultFull } from './fault-scenario';
import { importBundles, openForWrite, verifyStagingTree, workspaceStatus } from './index';
import { fakeExport, fakeVerifiedBundle } from './testing';
import { spareSets } from './spares';

const POINTS = Math.max(50, Number(process.env.OKC_FAULT_POINTS ?? '50'));
const SEED = Number(process.env.OKC_FAULT_SEED ?? String(Date.now() % 1_000_000));
const OLD = fakeExport(faultFull()).exp.state.digest;
const NEW = fakeExport(faultDelta()).exp.state.digest;

let tmp: { dir: string; cleanup: () => void };
let driver: string;

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

let template = '';
/** A workspace at generation 1 (a copy of one template, hard links and symlink preserved). */
function freshWorkspace(name: string): string {
  if (!template) {
    template = join(tmp.dir, 'template');
    const s = openForWrite(template, 'setup', { create: true });
    try {
      const b = fakeVerifiedBundle(s.ws, faultFull());
      applyPrepared(s.ws, s.db, b.prepared);
    } finally {
      s.close();
    }
  }
  const dir = join(tmp.dir, name);
  const cp = spawnSync('cp', ['-a', template, dir]);
  if (cp.status !== 0) throw new Error(`cp failed: ${cp.stderr}`);
  return dir;
}

/** The generation trees in a staging folder (their sequence numbers). */
const keptSeqs = (staging: string): number[] => readdirSync(staging).filter((n) => /^\d{6}$/.test(n)).map(Number);

function runDriver(ws: string, killAt: number, scenario = 'delta') {
  return spawnSync(process.execPath, [driver], { env: { ...process.env, OKC_WS: ws, OKC_KILL_AT: String(killAt), OKC_SCENARIO: scenario }, encoding: 'utf8', timeout: 60_000 });
}

beforeAll(async () => {
  tmp = tempDir('okc-fault-');
  const outDir = join(REPO_ROOT, 'node_modules', '.cache', 'okc-fault');
  mkdirSync(outDir, { recursive: true });
  driver = join(outDir, `driver-${process.pid}.mjs`);
  await build({ entryPoints: [join(REPO_ROOT, 'electron/services/staging/fault-driver.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile: driver, logLevel: 'error' });
});
afterAll(() => {
  tmp.cleanup();
  rmSync(driver, { force: true });
});

describe('crash safety (SIGKILL at random points)', () => {
  it(`recovers to exactly the old or the new generation after a kill at ${POINTS}+ points (seed ${SEED})`, async () => {
    // Uninterrupted run: how many checkpoints an apply passes.
    const ref = freshWorkspace('ref');
    const clean = runDriver(ref, 0);
    expect(clean.status, clean.stderr).toBe(0);
    const { checkpoints, steps } = JSON.parse(clean.stdout) as { checkpoints: number; steps: string[] };
    expect(checkpoints).toBeGreaterThan(50);
    for (const step of ['extract:file', 'journal:begin', 'build:link', 'build:move', 'build:fsync', 'journal:commit', 'switch:rename', 'db:commit', 'journal:end']) expect(steps).toContain(step);

    // Kill points: every distinct kind of step at least once (its first occurrence), the rest at random.
    const points = new Set<number>();
    steps.forEach((s, i) => {
      if (steps.indexOf(s) === i) points.add(i + 1);
    });
    points.add(checkpoints);
    const rand = rng(SEED);
    while (points.size < Math.min(POINTS, checkpoints)) points.add(1 + Math.floor(rand() * checkpoints));

    const outcomes = { old: 0, new: 0 };
    const timing = { setup: 0, kill: 0, recover: 0, check: 0, complete: 0 };
    let t = performance.now();
    const lap = (phase: keyof typeof timing): void => {
      const now = performance.now();
      timing[phase] += now - t;
      t = now;
    };
    for (const k of [...points].sort((a, b) => a - b)) {
      t = performance.now();
      const wsDir = freshWorkspace(`k${k}`);
      lap('setup');
      const r = runDriver(wsDir, k);
      expect(r.signal, `kill point ${k} (${steps[k - 1]}) should SIGKILL the driver: ${r.stderr}`).toBe('SIGKILL');
      lap('kill');
      // The next start: opening for writing recovers.
      const s = openForWrite(wsDir, 'next start');
      const recovered = s.recovery.recovered;
      s.close();
      lap('recover');
      const ws = openWorkspace(wsDir);
      const v = await verifyStagingTree(ws);
      expect(v.ok, `after kill point ${k} (${steps[k - 1]}): ${v.message}`).toBe(true);
      const st = await workspaceStatus(ws);
      expect([OLD, NEW], `kill point ${k}`).toContain(st.stateDigest);
      expect(st.generation).toBe(st.stateDigest === NEW ? 2 : 1);
      // The link and the database agree; nothing is left behind.
      expect(readlinkSync(ws.layout.current)).toBe(generationName(st.generation === 2 ? 2 : 1));
      expect(readdirSync(ws.layout.incoming)).toEqual([]);
      expect(existsSync(join(ws.layout.journal, 'apply.json'))).toBe(false);
      const names = readdirSync(ws.layout.staging).sort();
      expect(names).toEqual(st.generation === 2 ? ['000001', '000001.meta', '000002', '000002.meta', 'current'] : ['000001', '000001.meta', 'current']);
      if (steps[k - 1] === 'journal:begin' || steps[k - 1] === 'extract:file') expect(recovered?.outcome ?? 'rolled-back').toBe('rolled-back');
      lap('check');
      if (st.generation === 1) {
        outcomes.old++;
        // The apply can complete (the same apply, run by the next process: here, this one).
        const s2 = openForWrite(wsDir, 'complete');
        try {
          applyPrepared(s2.ws, s2.db, fakeVerifiedBundle(s2.ws, faultDelta()).prepared);
        } finally {
          s2.close();
        }
        const after = await workspaceStatus(ws);
        expect(after.stateDigest).toBe(NEW);
        expect((await verifyStagingTree(ws)).ok).toBe(true);
        lap('complete');
      } else outcomes.new++;
    }
    console.log(`fault injection: ${points.size} kill points of ${checkpoints} checkpoints, seed ${SEED}; outcomes ${JSON.stringify(outcomes)}; ms ${JSON.stringify(Object.fromEntries(Object.entries(timing).map(([a, b]) => [a, Math.round(b)])))}`);
    // Both outcomes happen: kills before the commit roll back, after it roll forward.
    expect(outcomes.old).toBeGreaterThan(0);
    expect(outcomes.new).toBeGreaterThan(0);
  }, 600_000);

  it('a full apply into an empty workspace (one rename of the tree) killed at each of its steps leaves nothing staged or the full generation', async () => {
    const first = join(tmp.dir, 'full-probe');
    const clean = runDriver(first, 0, 'full');
    expect(clean.status, clean.stderr).toBe(0);
    const { checkpoints, steps } = JSON.parse(clean.stdout) as { checkpoints: number; steps: string[] };
    for (const step of ['journal:begin', 'build:move-tree', 'build:chmod', 'build:fsync', 'journal:commit', 'switch:rename', 'db:commit']) expect(steps).toContain(step);
    // Every distinct step's first occurrence, and the last checkpoint.
    const points = new Set<number>([checkpoints]);
    steps.forEach((st, i) => {
      if (steps.indexOf(st) === i) points.add(i + 1);
    });
    const fullDigest = fakeExport(faultFull()).exp.state.digest;
    const outcomes = { none: 0, full: 0 };
    for (const k of [...points].sort((a, b) => a - b)) {
      const wsDir = join(tmp.dir, `full-k${k}`);
      const r = runDriver(wsDir, k, 'full');
      expect(r.signal, `kill point ${k} (${steps[k - 1]}): ${r.stderr}`).toBe('SIGKILL');
      openForWrite(wsDir, 'next start').close();
      const ws = openWorkspace(wsDir);
      const st = await workspaceStatus(ws);
      expect(readdirSync(ws.layout.incoming), `kill point ${k} (${steps[k - 1]})`).toEqual([]);
      expect(existsSync(join(ws.layout.journal, 'apply.json'))).toBe(false);
      if (st.generation === null || st.generation === undefined) {
        outcomes.none++;
        expect(readdirSync(ws.layout.staging).filter((n) => n !== 'current'), `kill point ${k} (${steps[k - 1]})`).toEqual([]);
      } else {
        outcomes.full++;
        expect(st.stateDigest).toBe(fullDigest);
        expect((await verifyStagingTree(ws)).ok, `kill point ${k} (${steps[k - 1]})`).toBe(true);
      }
    }
    expect(outcomes.none).toBeGreaterThan(0);
    expect(outcomes.full).toBeGreaterThan(0);
  }, 300_000);

  it('a delta that recycles the tree of the generation retention drops, killed at each of its steps, leaves exactly the old three generations or the new three, each matching its signed state', async () => {
    // Generations 1, 2, 3 kept (keepGenerations 2 besides the current one); applying 4 drops 1 and builds 4 in its tree.
    const chainTemplate = join(tmp.dir, 'chain-template');
    spawnSync('cp', ['-a', freshWorkspace('chain-base'), chainTemplate]);
    const s0 = openForWrite(chainTemplate, 'setup');
    try {
      applyPrepared(s0.ws, s0.db, fakeVerifiedBundle(s0.ws, faultDelta()).prepared);
      applyPrepared(s0.ws, s0.db, fakeVerifiedBundle(s0.ws, faultChain(3)).prepared);
    } finally {
      s0.close();
    }
    const digestOf = (n: number) => fakeExport(n === 1 ? faultFull() : n === 2 ? faultDelta() : faultChain(n)).exp.state.digest;
    const copy = (name: string): string => {
      const d = join(tmp.dir, name);
      expect(spawnSync('cp', ['-a', chainTemplate, d]).status).toBe(0);
      return d;
    };
    const probe = runDriver(copy('chain-probe'), 0, 'chain:4');
    expect(probe.status, probe.stderr).toBe(0);
    const { checkpoints, steps } = JSON.parse(probe.stdout) as { checkpoints: number; steps: string[] };
    for (const step of ['journal:begin', 'recycle:list', 'recycle:claim', 'recycle:undo', 'recycle:dir', 'recycle:move', 'recycle:link', 'recycle:fsync', 'journal:commit', 'switch:rename', 'db:commit', 'recycle:finish']) expect(steps).toContain(step);
    // No hard link per unchanged file: the build touched only the differing paths.
    expect(steps.filter((x) => x === 'build:link')).toEqual([]);
    const points = new Set<number>([checkpoints]);
    steps.forEach((st, i) => {
      if (steps.indexOf(st) === i) points.add(i + 1);
      // Every step of the recycling itself (moves out, placements): the revert must undo any prefix of them.
      if (st.startsWith('recycle:') && st !== 'recycle:finish') points.add(i + 1);
    });
    const outcomes = { old: 0, new: 0 };
    for (const k of [...points].sort((a, b) => a - b)) {
      const wsDir = copy(`chain-k${k}`);
      const r = runDriver(wsDir, k, 'chain:4');
      expect(r.signal, `kill point ${k} (${steps[k - 1]}): ${r.stderr}`).toBe('SIGKILL');
      openForWrite(wsDir, 'next start').close();
      const ws = openWorkspace(wsDir);
      const st = await workspaceStatus(ws);
      const gens = st.generation === 4 ? [2, 3, 4] : [1, 2, 3];
      expect([3, 4], `kill point ${k} (${steps[k - 1]})`).toContain(st.generation);
      expect(st.stateDigest).toBe(digestOf(st.generation!));
      // Every kept generation's tree holds exactly its signed state (the recycled one put back, or rebuilt as 4).
      for (const g of gens) {
        const v = await verifyStagingTree(ws, { seq: g });
        expect(v.ok, `kill point ${k} (${steps[k - 1]}), generation ${g}: ${v.message}`).toBe(true);
      }
      const names = readdirSync(ws.layout.staging).sort();
      expect(names, `kill point ${k} (${steps[k - 1]})`).toEqual([...gens.flatMap((g) => [generationName(g), `${generationName(g)}.meta`]), 'current']);
      expect(readdirSync(ws.layout.incoming)).toEqual([]);
      expect(existsSync(join(ws.layout.journal, 'apply.json'))).toBe(false);
      if (st.generation === 3) {
        outcomes.old++;
        const s2 = openForWrite(wsDir, 'complete');
        try {
          const res = applyPrepared(s2.ws, s2.db, fakeVerifiedBundle(s2.ws, faultChain(4)).prepared);
          expect(res.stats.recycled?.fromSeq).toBe(1);
        } finally {
          s2.close();
        }
        for (const g of [2, 3, 4]) expect((await verifyStagingTree(ws, { seq: g })).ok).toBe(true);
      } else outcomes.new++;
    }
    console.log(`recycling kills: ${points.size} kill points of ${checkpoints} checkpoints; outcomes ${JSON.stringify(outcomes)}`);
    expect(outcomes.old).toBeGreaterThan(0);
    expect(outcomes.new).toBeGreaterThan(0);
  }, 600_000);

  it('a real import (verify + extract + apply of a fixture delta) killed at random times recovers to the old or the new generation', async () => {
    const kit = join(KITS, 'ecdsa-p256');
    const key = join(KITS, 'ecdsa-p256.trusted.pub');
    const m = JSON.parse(readFileSync(join(kit, 'offline-manifest.json'), 'utf8')) as { entries: { path: string; generation?: number }[] };
    const [full, d2] = m.entries.filter((e) => e.generation !== undefined).sort((a, b) => a.generation! - b.generation!);
    const base = join(tmp.dir, 'real-template');
    const ws0 = openWorkspace(base, { create: true });
    const keys = [loadPublicKey(readFileSync(key, 'utf8'), 'cli')];
    expect((await importBundles(ws0, [join(kit, full.path)], { keys })).ok).toBe(true);
    const oldDigest = (await workspaceStatus(ws0)).stateDigest;
    const run = (wsDir: string) =>
      spawn(process.execPath, [driver], { env: { ...process.env, OKC_WS: wsDir, OKC_REAL_BUNDLE: join(kit, d2.path), OKC_KEY: key }, stdio: ['ignore', 'pipe', 'pipe'] });
    // How long an uninterrupted import takes in a child.
    const probeDir = join(tmp.dir, 'real-probe');
    spawnSync('cp', ['-a', base, probeDir]);
    const started = (child: ReturnType<typeof run>) =>
      new Promise<void>((resolve) => {
        let buf = '';
        child.stdout!.on('data', (d: Buffer) => {
          buf += d.toString();
          if (buf.includes('start\n')) resolve();
        });
        child.once('exit', () => resolve());
      });
    const probe = run(probeDir);
    const exitedProbe = new Promise<number | null>((r) => probe.once('exit', r));
    await started(probe);
    const t0 = performance.now();
    const code = await exitedProbe;
    const full_ms = performance.now() - t0;
    expect(code).toBe(0);
    const newDigest = (await workspaceStatus(openWorkspace(probeDir))).stateDigest;
    expect(newDigest).not.toBe(oldDigest);
    const rand = rng(SEED + 1);
    const n = Math.max(10, Math.floor(POINTS / 5));
    const seen = { old: 0, new: 0 };
    for (let i = 0; i < n; i++) {
      const wsDir = join(tmp.dir, `real-${i}`);
      spawnSync('cp', ['-a', base, wsDir]);
      const child = run(wsDir);
      const delay = rand() * full_ms * 1.5;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      await started(child);
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGKILL');
      await exited;
      const s = openForWrite(wsDir, 'next start');
      s.close();
      const ws = openWorkspace(wsDir);
      const v = await verifyStagingTree(ws);
      expect(v.ok, `killed after ${delay.toFixed(0)} ms: ${v.message}`).toBe(true);
      const st = await workspaceStatus(ws);
      expect([oldDigest, newDigest]).toContain(st.stateDigest);
      expect(readdirSync(ws.layout.incoming)).toEqual([]);
      if (st.stateDigest === oldDigest) {
        seen.old++;
        const r = await importBundles(ws, [join(kit, d2.path)], { keys });
        expect(r.ok, r.message).toBe(true);
        expect((await workspaceStatus(ws)).stateDigest).toBe(newDigest);
      } else seen.new++;
    }
    console.log(`real-import kills: ${n} at random times within the ${full_ms.toFixed(0)} ms of the import; outcomes ${JSON.stringify(seen)}`);
  }, 600_000);

  it('a real recycled delta that writes into spare files, killed at random times, recovers to the old or the new generation; every kept generation and every spare stays sound', async () => {
    const key = generateSigningKey('ecdsa-p256');
    const keyFile = join(tmp.dir, 'spares.pub');
    writeFileSync(keyFile, key.publicPem);
    const keys = [loadPublicKey(key.publicPem, 'cli')];
    const files: PayloadFile[] = Array.from({ length: 300 }, (_, i) => ({ path: `data/d${i % 10}/f-${String(i).padStart(4, '0')}.ndjson`, content: { size: 400 + ((i * 31) % 600), seed: `s:${i}`, kind: 'ndjson' as const } }));
    const change = (d: number) => files.filter((_, i) => (i + d) % 10 === 0).map((f) => ({ path: f.path, content: { size: 300 + ((d * 53) % 700), seed: `d${d}:${f.path}`, kind: 'ndjson' as const } }));
    // A workspace at the full bundle and four deltas: the last ones recycled trees and left spare sets.
    const base = join(tmp.dir, 'spares-template');
    const ws0 = openWorkspace(base, { create: true });
    let b = await writeMirrorBundle(join(tmp.dir, 'sp-full.tar.zst'), { key, files });
    expect((await importBundles(ws0, [b.file], { keys })).ok).toBe(true);
    for (let d = 1; d <= 4; d++) {
      b = await writeMirrorBundle(join(tmp.dir, `sp-d${d}.tar.zst`), { key, base: b, files: change(d) });
      expect((await importBundles(ws0, [b.file], { keys })).ok).toBe(true);
    }
    expect(spareSets(ws0.layout).length).toBeGreaterThan(0);
    const oldDigest = (await workspaceStatus(ws0)).stateDigest;
    const next = await writeMirrorBundle(join(tmp.dir, 'sp-d5.tar.zst'), { key, base: b, files: change(5) });
    const run = (wsDir: string) => spawn(process.execPath, [driver], { env: { ...process.env, OKC_WS: wsDir, OKC_REAL_BUNDLE: next.file, OKC_KEY: keyFile }, stdio: ['ignore', 'pipe', 'pipe'] });
    const started = (child: ReturnType<typeof run>) =>
      new Promise<void>((resolve) => {
        let buf = '';
        child.stdout!.on('data', (d: Buffer) => {
          buf += d.toString();
          if (buf.includes('start\n')) resolve();
        });
        child.once('exit', () => resolve());
      });
    const probeDir = join(tmp.dir, 'spares-probe');
    spawnSync('cp', ['-a', base, probeDir]);
    const probe = run(probeDir);
    const probeExit = new Promise<number | null>((r) => probe.once('exit', r));
    await started(probe);
    const t0 = performance.now();
    expect(await probeExit).toBe(0);
    const fullMs = performance.now() - t0;
    const newDigest = next.exportJson.state.digest;
    expect((await workspaceStatus(openWorkspace(probeDir))).stateDigest).toBe(newDigest);
    const rand = rng(SEED + 2);
    const seen = { old: 0, new: 0 };
    for (let i = 0; i < 8; i++) {
      const wsDir = join(tmp.dir, `spares-${i}`);
      spawnSync('cp', ['-a', base, wsDir]);
      const child = run(wsDir);
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      await started(child);
      const delay = rand() * fullMs * 1.2;
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGKILL');
      await exited;
      openForWrite(wsDir, 'next start').close();
      const ws = openWorkspace(wsDir);
      const st = await workspaceStatus(ws);
      expect([oldDigest, newDigest], `killed after ${delay.toFixed(0)} ms`).toContain(st.stateDigest);
      for (const g of keptSeqs(ws.layout.staging)) expect((await verifyStagingTree(ws, { seq: g })).ok, `generation ${g}, killed after ${delay.toFixed(0)} ms`).toBe(true);
      for (const set of spareSets(ws.layout)) for (const f of readdirSync(join(ws.layout.spare, set))) expect(statSync(join(ws.layout.spare, set, f)).nlink).toBe(1);
      if (st.stateDigest === oldDigest) {
        seen.old++;
        const r = await importBundles(ws, [next.file], { keys });
        expect(r.ok, r.message).toBe(true);
        expect((await workspaceStatus(ws)).stateDigest).toBe(newDigest);
        for (const g of keptSeqs(ws.layout.staging)) expect((await verifyStagingTree(ws, { seq: g })).ok).toBe(true);
      } else seen.new++;
    }
    console.log(`spare-file import kills: 8 at random times within the ${fullMs.toFixed(0)} ms of the import; outcomes ${JSON.stringify(seen)}`);
  }, 600_000);
});
