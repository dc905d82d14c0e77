/**
 * A small job runner: executes a named engine job in a worker thread (so long
 * work never blocks the Electron main process), with progress messages,
 * cancellation through an AbortSignal (cooperative first, then terminate),
 * and the result or the OpsError shape. `runJobInline` runs the very same job
 * code in the calling thread (the CLI's way).
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { OpsError, type OpsErrorShape } from '../../../shared/errors';
import type { JobProgress } from '../../../shared/types';
import { runJob, type JobName, type JobParams, type JobResult } from './contract';

export { JOBS, jobNames, isJobName, runJob, type JobName, type JobParams, type JobResult, type JobRunContext, type JobDef } from './contract';

export interface RunJobOptions {
  signal?: AbortSignal;
  onProgress?: (p: JobProgress) => void;
  jobId?: string;
  /** How long a cancelled worker may take to stop by itself before it is terminated. */
  cancelGraceMs?: number;
  /** Worker entry override (a built .mjs or the .ts source). */
  workerEntry?: string;
}

function fromShape(s: OpsErrorShape): OpsError {
  return new OpsError(s.code, s.message, { action: s.action, path: s.path, details: s.details });
}

/**
 * Where the worker entry is: beside this module when running from source
 * (worker-dev.mjs, which loads worker.ts through tsx), or `jobs/worker.mjs` next to the bundle's
 * folder in a build (dist/cli/mirror.cjs or a chunk in dist/cli/chunks/ → dist/jobs/worker.mjs).
 */
export function workerEntry(): { file: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) return { file: join(dirname(here), 'worker-dev.mjs'), execArgv: [] };
  const candidates = [join(dirname(here), '..', 'jobs', 'worker.mjs'), join(dirname(here), '..', '..', 'jobs', 'worker.mjs') /* from dist/cli/chunks */, join(dirname(here), 'jobs', 'worker.mjs'), join(dirname(here), 'worker.mjs')];
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new OpsError('ERR_INTERNAL', `The job worker (jobs/worker.mjs) is missing from this build. Rebuild with node build/build.mjs cli.`);
  return { file: found, execArgv: [] };
}

/** Runs a named job in a worker thread. Rejects with an OpsError (ERR_CANCELLED when aborted). */
export function runJobInWorker<N extends JobName>(name: N, params: JobParams<N>, opts: RunJobOptions = {}): Promise<JobResult<N>> {
  type T = JobResult<N>;
  const jobId = opts.jobId ?? randomUUID();
  const entry = opts.workerEntry ? { file: opts.workerEntry, execArgv: [] } : workerEntry();
  return new Promise<T>((resolvePromise, reject) => {
    if (opts.signal?.aborted) {
      reject(new OpsError('ERR_CANCELLED', 'Cancelled by the operator before the job started.'));
      return;
    }
    const worker = new Worker(pathToFileURL(entry.file), { workerData: { jobId, name, params }, execArgv: entry.execArgv });
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const finish = (err: OpsError | null, value?: T): void => {
      if (settled) return;
      settled = true;
      if (killTimer) clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolvePromise(value as T);
    };
    const onAbort = (): void => {
      worker.postMessage({ type: 'cancel' });
      killTimer = setTimeout(() => {
        void worker.terminate();
        finish(new OpsError('ERR_CANCELLED', 'Cancelled by the operator: the job was stopped.'));
      }, opts.cancelGraceMs ?? 2000);
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (m: { type: string; progress?: JobProgress; value?: T; error?: OpsErrorShape }) => {
      if (m.type === 'progress' && m.progress) opts.onProgress?.(m.progress);
      else if (m.type === 'result') finish(null, m.value);
      else if (m.type === 'error' && m.error) finish(fromShape(m.error));
    });
    worker.on('error', (e) => finish(new OpsError('ERR_INTERNAL', `The job worker crashed: ${e.message}`)));
    worker.on('exit', (code) => {
      if (!settled) finish(opts.signal?.aborted ? new OpsError('ERR_CANCELLED', 'Cancelled by the operator: the job was stopped.') : new OpsError('ERR_INTERNAL', `The job worker exited (code ${code}) without a result.`));
    });
  });
}

/** Runs the same named job in the calling thread (tests, the browser bridge). */
export async function runJobInline<N extends JobName>(name: N, params: JobParams<N>, opts: RunJobOptions = {}): Promise<JobResult<N>> {
  return runJob(name, params, { jobId: opts.jobId ?? randomUUID(), signal: opts.signal ?? new AbortController().signal, onProgress: opts.onProgress ?? (() => {}) });
}
