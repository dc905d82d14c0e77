/**
 * Job bookkeeping for the handler table: every long operation (verify, import)
 * is a job with an id, progress events, an AbortController for `jobs.cancel`,
 * and a result kept for `jobs.result`. How the work runs (in process, or in a
 * worker thread in the app) is the `JobRunner`'s business.
 */
import { randomUUID } from 'node:crypto';
import { OpsError, toErrorShape, type OpsErrorShape } from '../../shared/errors';
import type { ImportSummary, JobInfo, JobKind, Topic, Topics } from '../../shared/contract';
import type { JobProgress, Verdict, WorkspaceStatus } from '../../shared/types';

export interface VerifyJobParams {
  kind: 'verify';
  workspaceDir: string;
  path: string;
  keyFiles: string[];
  identityFiles: string[];
}

export interface ImportJobParams {
  kind: 'import';
  workspaceDir: string;
  paths: string[];
  keyFiles: string[];
  identityFiles: string[];
  forceReason?: string;
  dryRun?: boolean;
}

export type JobParams = VerifyJobParams | ImportJobParams;

export interface JobOutcome {
  verdict: Verdict | null;
  status: WorkspaceStatus | null;
  import: ImportSummary | null;
  /** A refusal that is not expressed as a verdict (environment problem, busy workspace). */
  error?: OpsErrorShape | null;
}

export interface JobContext {
  jobId: string;
  signal: AbortSignal;
  onProgress: (p: JobProgress) => void;
}

/** Runs one job to completion. Throws OpsError on failure (ERR_CANCELLED when aborted). */
export type JobRunner = (params: JobParams, ctx: JobContext) => Promise<JobOutcome>;

export type Emit = <T extends Topic>(topic: T, payload: Topics[T]) => void;

interface Entry {
  info: JobInfo;
  controller: AbortController;
  done: Promise<JobInfo>;
}

/** Minimum spacing of job.progress events of one job within one phase. */
const PROGRESS_INTERVAL_MS = 100;

/** How many finished jobs are remembered for `jobs.result`. */
const KEEP_FINISHED = 50;

export class JobManager {
  private readonly jobs = new Map<string, Entry>();

  constructor(
    /** Runs `params` when a job is started without its work (tests); the handler table passes null. */
    private readonly runner: JobRunner | null,
    private readonly emit: Emit,
  ) {}

  /**
   * Starts a job. `work` is what runs (the handler table passes the engine
   * job it means, so the path from a channel to the job is explicit); without
   * it the manager's runner runs `params`.
   */
  start(params: JobParams, work?: (ctx: JobContext) => Promise<JobOutcome>): string {
    const jobId = randomUUID();
    const kind: JobKind = params.kind;
    const paths = params.kind === 'verify' ? [params.path] : params.paths;
    const controller = new AbortController();
    const info: JobInfo = {
      jobId,
      kind,
      state: 'running',
      paths,
      startedAt: new Date().toISOString(),
      finishedAt: null,
      progress: null,
      verdict: null,
      error: null,
      import: null,
      status: null,
    };
    const started = Date.now();
    let lastEmit = 0;
    let lastPhase = '';
    const onProgress = (p: JobProgress) => {
      if (info.state !== 'running') return;
      const now = Date.now();
      const secs = (now - started) / 1000;
      const progress: JobProgress = { ...p, jobId, bytesPerSecond: p.bytesPerSecond ?? (secs > 0 ? Math.round(p.bytesDone / secs) : 0) };
      info.progress = progress;
      // At most ~10 events a second per job (a phase change always goes out): the window's IPC is not flooded.
      if (p.phase === lastPhase && now - lastEmit < PROGRESS_INTERVAL_MS) return;
      lastEmit = now;
      lastPhase = p.phase;
      this.emit('job.progress', progress);
    };
    const done = (async (): Promise<JobInfo> => {
      // Let `start` return the id before any progress is emitted.
      await Promise.resolve();
      try {
        const ctx: JobContext = { jobId, signal: controller.signal, onProgress };
        if (!work && !this.runner) throw new OpsError('ERR_INTERNAL', `The ${params.kind} job was started without its work.`);
        const outcome = await (work ? work(ctx) : this.runner!(params, ctx));
        if (controller.signal.aborted) throw new OpsError('ERR_CANCELLED', 'Cancelled by the operator. Nothing was changed.');
        info.verdict = outcome.verdict;
        info.status = outcome.status;
        info.import = outcome.import;
        info.error = outcome.error ?? null;
        const failed = info.error !== null || (outcome.verdict !== null && !outcome.verdict.ok) || (outcome.import !== null && !outcome.import.ok);
        info.state = failed ? 'failed' : 'succeeded';
      } catch (e) {
        const shape = controller.signal.aborted
          ? { code: 'ERR_CANCELLED' as const, message: 'Cancelled by the operator. Nothing was changed.' }
          : toErrorShape(e);
        info.error = shape;
        info.state = shape.code === 'ERR_CANCELLED' ? 'cancelled' : 'failed';
      }
      info.finishedAt = new Date().toISOString();
      this.emit('job.done', { ...info });
      this.emit('data.changed', { scopes: kind === 'import' ? ['workspace', 'library', 'audit', 'jobs'] : ['audit', 'jobs'] });
      this.prune();
      return { ...info };
    })();
    this.jobs.set(jobId, { info, controller, done });
    this.emit('data.changed', { scopes: ['jobs'] });
    return jobId;
  }

  get(jobId: string): JobInfo {
    const e = this.jobs.get(jobId);
    if (!e) throw new OpsError('ERR_INPUT_NOT_FOUND', `No job with id ${jobId}. It may have finished long ago, or the console was restarted.`);
    return { ...e.info };
  }

  list(): JobInfo[] {
    return [...this.jobs.values()].map((e) => ({ ...e.info })).sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  }

  cancel(jobId: string): boolean {
    const e = this.jobs.get(jobId);
    if (!e) throw new OpsError('ERR_INPUT_NOT_FOUND', `No job with id ${jobId}.`);
    if (e.info.state !== 'running') return false;
    e.controller.abort(new OpsError('ERR_CANCELLED', 'Cancelled by the operator.'));
    return true;
  }

  /** Resolves when the job ends (tests, shutdown). */
  wait(jobId: string): Promise<JobInfo> {
    const e = this.jobs.get(jobId);
    if (!e) return Promise.reject(new OpsError('ERR_INPUT_NOT_FOUND', `No job with id ${jobId}.`));
    return e.done;
  }

  /** Aborts every running job and waits for them to end. */
  async shutdown(): Promise<void> {
    const running = [...this.jobs.values()].filter((e) => e.info.state === 'running');
    for (const e of running) e.controller.abort(new OpsError('ERR_CANCELLED', 'The console is closing.'));
    await Promise.allSettled(running.map((e) => e.done));
  }

  private prune(): void {
    const finished = [...this.jobs.entries()].filter(([, e]) => e.info.state !== 'running');
    finished.sort((a, b) => (a[1].info.finishedAt ?? '').localeCompare(b[1].info.finishedAt ?? ''));
    while (finished.length > KEEP_FINISHED) {
      const [id] = finished.shift()!;
      this.jobs.delete(id);
    }
  }
}
