/**
 * The job contract (issue 8), like the IPC CONTRACT: job name → zod params →
 * handler → result type. A runner (worker thread or inline) parses the params
 * with the schema, opens the workspace through the composition root
 * (createEngine: recovery first) and calls the handler. Callers name a job by
 * its key, so `JOBS['verify.path']` is one go-to-definition away, and get its
 * result type from `JobResult<N>`.
 *
 * Params and results cross a worker boundary: plain data only.
 */
import { z } from 'zod';
import { OpsError } from '../../../shared/errors';
import type { JobProgress } from '../../../shared/types';
import { readExportHead } from '../audit/export';
import { createEngine, type Engine } from '../engine';
import { verifyPath } from '../verify/index';

export interface JobRunContext {
  jobId: string;
  signal: AbortSignal;
  onProgress: (p: JobProgress) => void;
}

/** One job: its params schema, whether it opens a workspace, and its handler. */
export interface JobDef<P extends z.ZodType, R> {
  params: P;
  /** 'open' (the default) needs an existing workspace; 'create' initialises one; 'none' opens none. */
  workspace?: 'open' | 'create' | 'none';
  run(params: z.output<P>, ctx: JobRunContext, engine: Engine): Promise<R> | R;
}

function job<P extends z.ZodType, R>(def: JobDef<P, R>): JobDef<P, R> {
  return def;
}

const workspaceDir = z.string().min(1, 'The job needs the workspace folder.');
/** The trust inputs of a verify or import: key files and age identity files (absolute paths). */
const trustParams = {
  keyFiles: z.array(z.string().min(1)).default([]),
  identityFiles: z.array(z.string().min(1)).default([]),
  tenant: z.string().min(1).optional(),
};

const DEFS = {
  /** Verifies a bundle, kit or workspace folder (signatures, contents, chain) with the one trust policy. */
  'verify.path': job({
    params: z.object({
      workspaceDir,
      path: z.string().min(1),
      ...trustParams,
      /** Record the verdict in the audit log (mirror.verify.passed / .failed) as done from this source. */
      auditAs: z.enum(['console']).optional(),
    }),
    run: async (p, ctx, e) => {
      const verdict = await verifyPath(p.path, e.verifyOptions({ trust: { keyFiles: p.keyFiles, identityFiles: p.identityFiles, tenant: p.tenant }, signal: ctx.signal, onProgress: ctx.onProgress }).options);
      if (ctx.signal.aborted) throw new OpsError('ERR_CANCELLED', 'Cancelled by the operator. Nothing was changed.');
      if (p.auditAs) {
        e.audit.append({
          action: verdict.ok ? 'mirror.verify.passed' : 'mirror.verify.failed',
          subject: verdict.exportId ?? p.path,
          operator: e.settings.operator || undefined,
          details: { path: p.path, kind: verdict.kind, errorCode: verdict.code, message: verdict.message, source: p.auditAs },
        });
      }
      return verdict;
    },
  }),

  /** Verify + extract + apply in generation order into a new staging generation. */
  'staging.import': job({
    params: z.object({
      workspaceDir,
      paths: z.array(z.string().min(1)).min(1, 'Choose at least one bundle or kit.'),
      ...trustParams,
      forceReason: z.string().optional(),
      dryRun: z.boolean().default(false),
      operator: z.string().optional(),
    }),
    workspace: 'create',
    run: (p, ctx, e) =>
      e.importBundles(p.paths, {
        trust: { keyFiles: p.keyFiles, identityFiles: p.identityFiles, tenant: p.tenant },
        forceReason: p.forceReason,
        dryRun: p.dryRun,
        operator: p.operator || undefined,
        signal: ctx.signal,
        onProgress: ctx.onProgress,
      }),
  }),

  /** A library bundle's file list: the library copy re-verified, its signed list written as a paged index (library/files.ts). */
  'library.index': job({
    params: z.object({ workspaceDir, sha256: z.string().regex(/^[0-9a-f]{64}$/, 'sha256 must be 64 lowercase hex digits.') }),
    run: (p, ctx, e) => e.libraryFiles.buildIndex(p.sha256, { signal: ctx.signal, onProgress: ctx.onProgress }),
  }),

  /** Deep verification of the current staging generation against its signed state. */
  'staging.verify': job({
    params: z.object({ workspaceDir }),
    run: (_p, ctx, e) => e.verifyTree({ signal: ctx.signal }),
  }),

  /** Walks the audit hash chain (optionally against an earlier export's head). */
  'audit.verify': job({
    params: z.object({ workspaceDir, against: z.string().min(1).optional() }),
    run: (p, _ctx, e) => e.audit.verify({ against: p.against ? readExportHead(p.against) : undefined }),
  }),

  'audit.export': job({
    params: z.object({ workspaceDir, out: z.string().min(1), from: z.string().optional(), to: z.string().optional(), format: z.enum(['jsonl', 'csv']).default('jsonl'), signWith: z.string().optional() }),
    run: (p, _ctx, e) => e.audit.export({ out: p.out, from: p.from, to: p.to, format: p.format, signWith: p.signWith }),
  }),

  /** Completes checklist steps (automated ones run real engine checks, such as a staging tree re-read). */
  'checklist.advance': job({
    params: z.object({
      workspaceDir,
      runId: z.string().min(1),
      operator: z.string().optional(),
      singleStep: z.boolean().default(false),
      answers: z.record(z.string(), z.union([z.boolean(), z.string(), z.object({ confirm: z.boolean(), note: z.string().optional(), notApplicable: z.boolean().optional() })])).optional(),
      /** How the answers were given (a click in the app is an individual confirmation, like a prompt). */
      answersVia: z.enum(['prompt', 'answers-file', 'yes-flag']).optional(),
      /** A reason the operator gave for an automated step that changes the workspace (recorded as its note). */
      stepNote: z.string().max(4000).optional(),
      identityFiles: trustParams.identityFiles,
    }),
    run: (p, ctx, e) =>
      e.runbooks.advance(p.runId, {
        operator: p.operator || undefined,
        singleStep: p.singleStep,
        answers: p.answers,
        answersVia: p.answersVia,
        stepNote: p.stepNote,
        identities: p.identityFiles.length ? e.trust({ identityFiles: p.identityFiles }).identities : undefined,
        signal: ctx.signal,
      }),
  }),

  /** 7.2 restore preview: the library chain with every bundle verified (read-only), the first bad one and the offers. */
  'restore.preview': job({
    params: z.object({ workspaceDir, identityFiles: trustParams.identityFiles }),
    run: (p, ctx, e) => e.runbooks.restorePreview({ trust: { identityFiles: p.identityFiles }, signal: ctx.signal, onProgress: ctx.onProgress }),
  }),

  /** 7.2 restore apply: all or nothing, with a written reason (the app's restore wizard). */
  'restore.apply': job({
    params: z.object({ workspaceDir, reason: z.string().trim().min(3, 'A restore needs a written reason.'), operator: z.string().optional(), identityFiles: trustParams.identityFiles }),
    run: (p, ctx, e) => e.runbooks.restoreApply({ reason: p.reason, operator: p.operator || undefined, trust: { identityFiles: p.identityFiles }, signal: ctx.signal, onProgress: ctx.onProgress }),
  }),

  /** Runs one runbook check by name. */
  'runbook.check': job({
    params: z.object({ workspaceDir, check: z.string().min(1), params: z.record(z.string(), z.unknown()).default({}) }),
    run: (p, ctx, e) => e.runbooks.runCheck(p.check, p.params, ctx.signal),
  }),

  /**
   * Diagnostic: keeps a worker busy for `ms` milliseconds, reporting progress.
   * With `block: true` it never yields to the event loop (a stuck job), which
   * only terminate() can stop: used to check the runner's cancellation paths.
   */
  'diagnostics.busy': job({
    params: z.object({ ms: z.number().nonnegative().default(1000), block: z.boolean().default(false), fail: z.boolean().default(false) }),
    workspace: 'none',
    run: async (p, ctx): Promise<{ ticks: number; spunMs?: number }> => {
      const start = Date.now();
      if (p.block) {
        ctx.onProgress({ jobId: ctx.jobId, phase: 'blocking', bytesDone: 0, bytesTotal: null });
        while (Date.now() - start < p.ms) {
          /* spin */
        }
        return { ticks: 0, spunMs: Date.now() - start };
      }
      let ticks = 0;
      while (Date.now() - start < p.ms) {
        if (ctx.signal.aborted) throw new OpsError('ERR_CANCELLED', 'Cancelled by the operator.');
        ctx.onProgress({ jobId: ctx.jobId, phase: 'busy', bytesDone: ++ticks, bytesTotal: null });
        await new Promise((r) => setTimeout(r, 10));
      }
      if (p.fail) throw new OpsError('ERR_BUNDLE_CORRUPT', 'diagnostic failure', { path: 'diag', details: { ticks } });
      return { ticks };
    },
  }),
};

/**
 * The job table. Each job also carries its own name, so an adapter hands the
 * job itself to a runner (`exec(JOBS['verify.path'], params, ctx)`): the
 * element access is one go-to-definition from the handler to the job above,
 * and the name still crosses the worker boundary as plain data.
 */
export const JOBS = named(DEFS);

function named<T extends Record<string, object>>(defs: T): { [K in keyof T]: T[K] & { readonly name: K } } {
  for (const name of Object.keys(defs)) Object.defineProperty(defs[name], 'name', { value: name, enumerable: false });
  return defs as { [K in keyof T]: T[K] & { readonly name: K } };
}

export type JobName = keyof typeof JOBS;
/** What a caller passes (defaults may be left out). */
export type JobParams<N extends JobName> = z.input<(typeof JOBS)[N]['params']>;
/** What the job returns. */
export type JobResult<N extends JobName> = Awaited<ReturnType<(typeof JOBS)[N]['run']>>;

export function isJobName(name: string): name is JobName {
  return Object.prototype.hasOwnProperty.call(JOBS, name);
}

export function jobNames(): JobName[] {
  return (Object.keys(JOBS) as JobName[]).sort();
}

/**
 * Runs one job in this thread: the params are parsed by the job's schema
 * (ERR_USAGE naming the field otherwise), the workspace is opened through
 * createEngine, the handler runs, the engine is closed.
 */
export async function runJob<N extends JobName>(name: N, raw: unknown, ctx: JobRunContext): Promise<JobResult<N>> {
  if (!isJobName(name)) throw new OpsError('ERR_USAGE', `No engine job named "${String(name)}".`);
  const def = JOBS[name] as unknown as JobDef<z.ZodType<Record<string, unknown> & { workspaceDir?: string }>, JobResult<N>>;
  const parsed = def.params.safeParse(raw ?? {});
  if (!parsed.success) {
    throw new OpsError('ERR_USAGE', `The job ${name} got invalid params: ${parsed.error.issues.map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`).join('; ')}`);
  }
  const p = parsed.data;
  if (ctx.signal.aborted) throw new OpsError('ERR_CANCELLED', 'Cancelled by the operator before the job started.');
  const mode = def.workspace ?? 'open';
  if (mode === 'none') return def.run(p, ctx, undefined as unknown as Engine);
  const engine = createEngine(p.workspaceDir!, { create: mode === 'create' });
  try {
    return await def.run(p, ctx, engine);
  } finally {
    engine.close();
  }
}
