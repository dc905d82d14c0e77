/**
 * Job bookkeeping for the handler table: every long operation (verify, import)
 * is a job with an id, progress events, an AbortController for `jobs.cancel`,
 * and a result kept for `jobs.result`. How the work runs (in process, or in a
 * worker thread in the app) is the `JobRunner`'s business.
 */
import { randomUUID } from 'node:crypto';
import { OpsError, toErrorShape, type OpsErrorShape } from '../../shared/errors';
import { WRITER_JOB_KINDS, type ImportSummary, type JobInfo, type JobKind, type Topic, type Topics } from '../../shared/contract';
import { JOB_STEPS, type JobProgress, type JobStep, type Verdict, type WorkspaceStatus } from '../../shared/types';

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

export interface RestoreJobParams {
  kind: 'restore-preview' | 'restore-apply';
  workspaceDir: string;
  identityFiles: string[];
  reason?: string;
}

export type JobParams = VerifyJobParams | ImportJobParams | RestoreJobParams;

export interface JobOutcome {
  verdict: Verdict | null;
  status: WorkspaceStatus | null;
  import: ImportSummary | null;
  /** A refusal that is not expressed as a verdict (environment problem, busy workspace). */
  error?: OpsErrorShape | null;
  restore?: JobInfo['restore'];
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

const KIND_TEXT: Record<JobKind, string> = { verify: 'a verification', import: 'an import', 'restore-preview': 'a restore preview', 'restore-apply': 'a restore' };

/** How far back the instantaneous rate looks. */
const RATE_WINDOW_MS = 3000;

/** The step of the import a free-text phase names ("verify mirror/x.tar.zst" → verify). */
export function stepOf(phase: string): JobStep | undefined {
  const first = phase.split(/[\s:]/, 1)[0];
  return (JOB_STEPS as readonly string[]).includes(first) ? (first as JobStep) : undefined;
}

/**
 * Derives what the operator reads from raw progress: the instantaneous rate
 * over a sliding window (samples of the current phase and bundle in the last
 * RATE_WINDOW_MS; not averaged from the job's start), %, ETA from that rate,
 * and the time since the job started. A new phase or bundle starts a new window.
 */
export class ProgressMeter {
  private samples: { t: number; bytes: number }[] = [];
  private key = '';

  constructor(private readonly startedAt: number) {}

  measure(p: JobProgress, now: number): JobProgress {
    const key = `${p.phase}|${p.bundleIndex ?? ''}`;
    if (key !== this.key || (this.samples.length && p.bytesDone < this.samples[this.samples.length - 1].bytes)) {
      this.key = key;
      this.samples = [];
    }
    this.samples.push({ t: now, bytes: p.bytesDone });
    while (this.samples.length > 2 && now - this.samples[1].t >= RATE_WINDOW_MS) this.samples.shift();
    const first = this.samples[0];
    const dt = (now - first.t) / 1000;
    const rate = p.bytesPerSecond !== undefined && this.samples.length < 2 ? p.bytesPerSecond : dt > 0 ? (p.bytesDone - first.bytes) / dt : 0;
    const total = p.bytesTotal;
    const percent = total !== null && total > 0 ? Math.min(100, Math.round((p.bytesDone / total) * 1000) / 10) : total === 0 ? 100 : null;
    const left = total !== null ? Math.max(0, total - p.bytesDone) : null;
    const etaSeconds = left === null ? null : left === 0 ? 0 : rate > 0 ? Math.round(left / rate) : null;
    const step = p.step ?? stepOf(p.phase);
    return { ...p, ...(step ? { step } : {}), bytesPerSecond: Math.round(rate), percent, etaSeconds, elapsedMs: now - this.startedAt };
  }
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
    const kind: JobKind = params.kind;
    if (WRITER_JOB_KINDS.includes(kind)) this.assertNoWriter(KIND_TEXT[kind]);
    const jobId = randomUUID();
    const paths = params.kind === 'verify' ? [params.path] : params.kind === 'import' ? params.paths : [];
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
    let lastKey = '';
    const meter = new ProgressMeter(started);
    const onProgress = (p: JobProgress) => {
      if (info.state !== 'running') return;
      const now = Date.now();
      const progress = meter.measure({ ...p, jobId }, now);
      info.progress = progress;
      // At most ~10 events a second per job (a phase or bundle change always goes out): the window's IPC is not flooded.
      const key = `${p.phase}|${p.bundleIndex ?? ''}`;
      const finished = p.bytesTotal !== null && p.bytesDone >= p.bytesTotal;
      if (key === lastKey && !finished && now - lastEmit < PROGRESS_INTERVAL_MS) return;
      lastEmit = now;
      lastKey = key;
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
        info.restore = outcome.restore ?? null;
        const restoreFailed = outcome.restore ? (outcome.restore.result ? !outcome.restore.result.ok : outcome.restore.plan ? !outcome.restore.plan.ok : false) : false;
        const failed = info.error !== null || restoreFailed || (outcome.verdict !== null && !outcome.verdict.ok) || (outcome.import !== null && !outcome.import.ok);
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
      this.emit('data.changed', { scopes: WRITER_JOB_KINDS.includes(kind) ? ['workspace', 'library', 'audit', 'jobs'] : ['audit', 'jobs'] });
      this.prune();
      return { ...info };
    })();
    this.jobs.set(jobId, { info, controller, done });
    this.emit('data.changed', { scopes: ['jobs'] });
    return jobId;
  }

  /** The running job that changes staging, if any. */
  runningWriter(): JobInfo | null {
    for (const e of this.jobs.values()) if (e.info.state === 'running' && WRITER_JOB_KINDS.includes(e.info.kind)) return { ...e.info };
    return null;
  }

  /**
   * Refuses a second change to staging while one runs (an import, a restore,
   * a rollback): ERR_WORKSPACE_BUSY naming the running job, which goes on.
   */
  assertNoWriter(what: string): void {
    const w = this.runningWriter();
    if (!w) return;
    const pct = w.progress?.percent;
    throw new OpsError(
      'ERR_WORKSPACE_BUSY',
      `Cannot start ${what}: ${KIND_TEXT[w.kind]} is running (started ${w.startedAt}${w.progress ? `, ${w.progress.step ?? w.progress.phase}${typeof pct === 'number' ? ` ${pct} %` : ''}` : ''}). It goes on; nothing else was started.`,
      { action: 'Wait for the running job to finish (see the task drawer), or cancel it there, then try again.', details: { runningJobId: w.jobId, runningKind: w.kind } },
    );
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
