import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { REPO_ROOT } from '../testing/fixtures';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isOpsError } from '../../../shared/errors';
import type { JobProgress } from '../../../shared/types';
import { appendAudit } from '../audit/index';
import { openDatabase } from '../db/index';
import { tempDir } from '../testing/fixtures';
import { openWorkspace } from '../workspace/index';
import { JOBS, jobNames, runJobInline, runJobInWorker } from './index';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir('okc-jobs-')));
afterEach(() => cleanup());

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return isOpsError(e) ? e.code : `not-ops: ${(e as Error).message}`;
  }
  return undefined;
}

describe('the JOBS contract', () => {
  it('every job carries its own name, so an adapter hands the job itself to a runner', async () => {
    for (const name of jobNames()) expect(JOBS[name].name).toBe(name);
    // The name is what a runner uses: the job handed over by reference runs as itself.
    const job = JOBS['diagnostics.busy'];
    expect(await runJobInline(job.name, { ms: 0 })).toEqual({ ticks: 0 });
  });
});

describe('job runner (worker_threads)', () => {
  it('runs an engine job in a worker and returns its result; same job inline gives the same result', async () => {
    const ws = openWorkspace(join(dir, 'ws'), { create: true });
    const db = openDatabase(ws.layout.db);
    for (let i = 0; i < 25; i++) appendAudit(db, { action: 'retention.run', subject: `r${i}` });
    db.close();
    const inWorker = await runJobInWorker('audit.verify', { workspaceDir: ws.dir });
    expect(inWorker.ok).toBe(true);
    expect(inWorker.rows).toBe(25);
    const inline = await runJobInline('audit.verify', { workspaceDir: ws.dir });
    expect(inline.head.hash).toBe(inWorker.head.hash);
  });

  it('relays progress messages and the worker thread is not the caller thread', async () => {
    const seen: JobProgress[] = [];
    let ticksOnMain = 0;
    const timer = setInterval(() => ticksOnMain++, 5);
    const r = await runJobInWorker('diagnostics.busy', { ms: 150, block: true }, { onProgress: (p) => seen.push(p) });
    clearInterval(timer);
    // A blocking job did not block this thread: our interval kept firing.
    expect(ticksOnMain).toBeGreaterThan(3);
    expect(r).toHaveProperty('spunMs');
    const r2 = await runJobInWorker('diagnostics.busy', { ms: 100 }, { onProgress: (p) => seen.push(p), jobId: 'job-7' });
    expect(r2.ticks).toBeGreaterThan(0);
    expect(seen.filter((p) => p.jobId === 'job-7').length).toBe(r2.ticks);
    expect(seen.filter((p) => p.jobId === 'job-7').every((p) => p.phase === 'busy')).toBe(true);
  });

  it('returns the OpsError shape of a failing job', async () => {
    try {
      await runJobInWorker('diagnostics.busy', { ms: 20, fail: true });
      expect.unreachable();
    } catch (e) {
      expect(isOpsError(e)).toBe(true);
      expect(e).toMatchObject({ code: 'ERR_BUNDLE_CORRUPT', message: 'diagnostic failure', path: 'diag' });
    }
    expect(await codeOf(runJobInWorker('no.such.job' as 'audit.verify', { workspaceDir: dir }))).toBe('ERR_USAGE');
    expect(await codeOf(runJobInWorker('audit.verify', { workspaceDir: join(dir, 'none') }))).toBe('ERR_WORKSPACE_INVALID');
  });

  it('cancels cooperatively through the AbortSignal', async () => {
    const ac = new AbortController();
    const p = runJobInWorker('diagnostics.busy', { ms: 60_000 }, { signal: ac.signal, onProgress: () => ac.abort() });
    expect(await codeOf(p)).toBe('ERR_CANCELLED');
  });

  it('terminates a job that does not stop by itself', async () => {
    const ac = new AbortController();
    let phase = '';
    // Abort once the job reports it is spinning (it never yields again).
    const p = runJobInWorker('diagnostics.busy', { ms: 60_000, block: true }, { signal: ac.signal, cancelGraceMs: 100, onProgress: (x) => ((phase = x.phase), ac.abort()) });
    expect(await codeOf(p)).toBe('ERR_CANCELLED');
    expect(phase).toBe('blocking');
  });

  it('inline runs honour an already-aborted signal', async () => {
    const ac = new AbortController();
    ac.abort();
    expect(await codeOf(runJobInline('diagnostics.busy', { ms: 10 }, { signal: ac.signal }))).toBe('ERR_CANCELLED');
  });

  it('runs the bundled worker (as dist/jobs/worker.mjs is built) the same way', async () => {
    const outDir = join(REPO_ROOT, 'node_modules', '.cache', `okc-jobs-test-${process.pid}`);
    mkdirSync(outDir, { recursive: true });
    await build({
      entryPoints: { worker: join(REPO_ROOT, 'electron/services/jobs/worker.ts') },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outdir: outDir,
      outExtension: { '.js': '.mjs' },
      external: ['better-sqlite3', 'zstd-napi', '@sigstore/*', 'age-encryption', 'tar', 'yaml', 'zod'],
      define: { __APP_VERSION__: '"test"' },
      logLevel: 'error',
    });
    const seen: string[] = [];
    const r = await runJobInWorker('diagnostics.busy', { ms: 50 }, { workerEntry: join(outDir, 'worker.mjs'), onProgress: (p) => seen.push(p.phase) });
    expect(r.ticks).toBeGreaterThan(0);
    expect(seen.length).toBe(r.ticks);
    try {
      await runJobInWorker('diagnostics.busy', { ms: 10, fail: true }, { workerEntry: join(outDir, 'worker.mjs') });
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ code: 'ERR_BUNDLE_CORRUPT' });
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  });
});
