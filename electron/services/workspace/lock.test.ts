/**
 * The single-writer lock with real processes: starters that find the same
 * stale lock (its holder died) race to take it over; exactly one may win.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from '../testing/fixtures';
import { acquireWriteLock, openWorkspace, readLockHolder } from './index';

let tmp: { dir: string; cleanup: () => void };
let driver: string;

beforeAll(async () => {
  tmp = tempDir('okc-lock-');
  const outDir = join(REPO_ROOT, 'node_modules', '.cache', 'okc-lock');
  mkdirSync(outDir, { recursive: true });
  driver = join(outDir, `driver-${process.pid}.mjs`);
  await build({ entryPoints: [join(REPO_ROOT, 'electron/services/workspace/lock-driver.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile: driver, logLevel: 'error' });
});
afterAll(() => {
  tmp.cleanup();
  rmSync(driver, { force: true });
});

/** The pid of a process that has exited (a holder that died). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

/** A starter in its own process: `reported` settles with its first line (`took` or the refusal), `exited` when it ends. */
function starter(env: Record<string, string>): { reported: Promise<string>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [driver], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const reported = new Promise<string>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]);
    });
    child.once('exit', () => resolve(out.trim()));
  });
  return { reported, exited: new Promise((resolve) => child.once('exit', resolve)) };
}

describe('stale lock takeover', () => {
  it('starters that all found the same stale lock: exactly one takes it, the others get ERR_WORKSPACE_BUSY naming the winner', async () => {
    for (let round = 0; round < 3; round++) {
      const wsDir = join(tmp.dir, `ws-${round}`);
      const ws = openWorkspace(wsDir, { create: true });
      const dead = deadPid();
      writeFileSync(ws.layout.lock, JSON.stringify({ pid: dead, host: hostname(), since: '2026-01-01T00:00:00.000Z', purpose: 'mirror import' }));
      expect(readLockHolder(ws)).toMatchObject({ pid: dead, stale: true });
      const barrier = join(tmp.dir, `barrier-${round}`);
      mkdirSync(barrier);
      const releaseFile = join(tmp.dir, `release-${round}`);
      const n = 4;
      const runs = Array.from({ length: n }, () => starter({ OKC_WS: wsDir, OKC_BARRIER: barrier, OKC_N: String(n), OKC_RELEASE: releaseFile }));
      // Everyone has read the stale lock before anyone takes it over.
      while (readdirSync(barrier).length < n) await new Promise((r) => setTimeout(r, 10));
      // Each says whether it took the lock; a winner holds it until released.
      const outs = await Promise.all(runs.map((r) => r.reported));
      const holder = readLockHolder(ws);
      writeFileSync(releaseFile, '');
      await Promise.all(runs.map((r) => r.exited));
      expect(outs.filter((o) => o === 'took'), `round ${round}: ${outs.join(' | ')}`).toHaveLength(1);
      expect(holder).toMatchObject({ alive: true, command: 'lock race' });
      for (const o of outs.filter((x) => x !== 'took')) expect(o).toMatch(new RegExp(`^ERR_WORKSPACE_BUSY The workspace is busy: held by pid ${holder!.pid} `));
      // Released cleanly: no lock, no takeover mutex, no private files left.
      expect(readdirSync(wsDir).filter((f) => f.startsWith('lock'))).toEqual([]);
      const lock = acquireWriteLock(ws, 'after the race');
      lock.release();
      expect(existsSync(ws.layout.lock)).toBe(false);
    }
  }, 60_000);

  it('a takeover mutex left by a dead process does not block the next starter', () => {
    const ws = openWorkspace(join(tmp.dir, 'ws-mutex'), { create: true });
    writeFileSync(ws.layout.lock, JSON.stringify({ pid: deadPid(), host: hostname(), since: '2026-01-01T00:00:00.000Z', purpose: 'mirror import' }));
    writeFileSync(`${ws.layout.lock}.takeover`, String(deadPid()));
    const lock = acquireWriteLock(ws, 'next start');
    expect(JSON.parse(readFileSync(ws.layout.lock, 'utf8'))).toMatchObject({ pid: process.pid, purpose: 'next start' });
    lock.release();
    expect(readdirSync(ws.dir).filter((f) => f.startsWith('lock'))).toEqual([]);
  });

  it('an unreadable (empty) lock is taken over; a live holder is not', () => {
    const ws = openWorkspace(join(tmp.dir, 'ws-empty'), { create: true });
    writeFileSync(ws.layout.lock, '');
    acquireWriteLock(ws, 'after a crash').release();
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    try {
      writeFileSync(ws.layout.lock, JSON.stringify({ pid: live.pid, host: hostname(), since: '2026-01-01T00:00:00.000Z', purpose: 'mirror import' }));
      expect(() => acquireWriteLock(ws, 'second')).toThrow(/busy: held by pid/);
      expect(JSON.parse(readFileSync(ws.layout.lock, 'utf8')).pid).toBe(live.pid);
    } finally {
      live.kill('SIGKILL');
    }
  });
});
