/**
 * The engine jobs every runner knows. Params are plain data (paths, names) so
 * they cross a worker boundary; each job opens its own workspace database
 * (SQLite connections are per thread).
 */
import { readFileSync } from 'node:fs';
import { OpsError } from '../../../shared/errors';
import { exportAudit, readExportHead, verifyAuditChain } from '../audit/index';
import { openDatabase } from '../db/index';
import { listTrustedKeys } from '../keys/index';
import { CHECKS } from '../runbooks/checks';
import { advanceRun, loadProcedures, type Answers } from '../runbooks/index';
import * as staging from '../staging/index';
import { loadPublicKey, type TrustedKey } from '../verify/keys';
import { verifyPath } from '../verify/index';
import { isWorkspaceDir, openWorkspace } from '../workspace/index';
import { registerJob, type JobRunContext } from './registry';

function str(v: unknown, name: string): string {
  if (typeof v !== 'string' || v === '') throw new OpsError('ERR_USAGE', `The job needs the parameter "${name}".`);
  return v;
}
function strs(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function withDb<T>(workspaceDir: string, fn: (db: ReturnType<typeof openDatabase>, ws: ReturnType<typeof openWorkspace>) => T): T {
  const ws = openWorkspace(workspaceDir);
  const db = openDatabase(ws.layout.db);
  try {
    return fn(db, ws);
  } finally {
    db.close();
  }
}

function trust(workspaceDir: string, params: Record<string, unknown>): { keys: TrustedKey[]; identities: string[] } {
  const tenant = typeof params.tenant === 'string' ? params.tenant : undefined;
  const keys = withDb(workspaceDir, (db) => listTrustedKeys(db, tenant));
  for (const f of strs(params.keyFiles)) keys.push(loadPublicKey(readFileSync(f, 'utf8'), 'cli'));
  const identities: string[] = [];
  for (const f of strs(params.identityFiles)) for (const l of readFileSync(f, 'utf8').split('\n')) if (l.trim().startsWith('AGE-SECRET-KEY-')) identities.push(l.trim());
  return { keys, identities };
}

function checkAbort(ctx: JobRunContext): void {
  if (ctx.signal.aborted) throw new OpsError('ERR_CANCELLED', 'Cancelled by the operator.');
}

let registered = false;

/** Registers the built-in jobs (idempotent). */
export function registerBuiltinJobs(): void {
  if (registered) return;
  registered = true;

  registerJob('audit.verify', (p) =>
    withDb(str(p.workspaceDir, 'workspaceDir'), (db) => verifyAuditChain(db, { against: typeof p.against === 'string' ? readExportHead(p.against) : undefined })),
  );

  registerJob('audit.export', (p) =>
    withDb(str(p.workspaceDir, 'workspaceDir'), (db) =>
      exportAudit(db, {
        out: str(p.out, 'out'),
        from: typeof p.from === 'string' ? p.from : undefined,
        to: typeof p.to === 'string' ? p.to : undefined,
        format: p.format === 'csv' ? 'csv' : 'jsonl',
        signWith: typeof p.signWith === 'string' ? p.signWith : undefined,
      }),
    ),
  );

  registerJob('verify.path', async (p, ctx) => {
    const dir = str(p.workspaceDir, 'workspaceDir');
    const { keys, identities } = trust(dir, p);
    // The workspace's limits (settings) apply to a standalone verification too.
    const limits = isWorkspaceDir(dir) ? openWorkspace(dir).settings.limits : undefined;
    return verifyPath(str(p.path, 'path'), { keys, identities, limits, signal: ctx.signal, onProgress: ctx.onProgress });
  });

  registerJob('staging.import', async (p, ctx) => {
    const dir = str(p.workspaceDir, 'workspaceDir');
    const { keys, identities } = trust(dir, p);
    const ws = openWorkspace(dir, { create: true });
    return staging.importBundles(ws, strs(p.paths), {
      keys,
      identities,
      forceReason: typeof p.forceReason === 'string' ? p.forceReason : undefined,
      dryRun: p.dryRun === true,
      operator: typeof p.operator === 'string' ? p.operator : ws.settings.operator || undefined,
      limits: ws.settings.limits,
      signal: ctx.signal,
      onProgress: ctx.onProgress,
    });
  });

  registerJob('staging.verify', async (p, ctx) => staging.verifyStagingTree(openWorkspace(str(p.workspaceDir, 'workspaceDir')), { signal: ctx.signal }));

  /** Completes checklist steps (automated ones run real engine checks, such as a staging tree re-read). */
  registerJob('checklist.advance', async (p, ctx) => {
    const ws = openWorkspace(str(p.workspaceDir, 'workspaceDir'));
    const db = openDatabase(ws.layout.db);
    try {
      return await advanceRun({ ws, db, settings: ws.settings, procedures: loadProcedures() }, str(p.runId, 'runId'), {
        operator: typeof p.operator === 'string' && p.operator ? p.operator : undefined,
        singleStep: p.singleStep === true,
        answers: p.answers && typeof p.answers === 'object' ? (p.answers as Answers) : undefined,
        answersVia: p.answersVia === 'prompt' ? 'prompt' : undefined,
        signal: ctx.signal,
      });
    } finally {
      db.close();
    }
  });

  registerJob('runbook.check', async (p, ctx) => {
    const name = str(p.check, 'check');
    const def = CHECKS[name];
    if (!def) throw new OpsError('ERR_USAGE', `No check named "${name}".`);
    const ws = openWorkspace(str(p.workspaceDir, 'workspaceDir'));
    const db = openDatabase(ws.layout.db);
    try {
      return await def.run({ ws, db, settings: ws.settings, now: new Date(), params: (p.params as Record<string, unknown>) ?? {}, previous: {}, signal: ctx.signal });
    } finally {
      db.close();
    }
  });

  /**
   * Diagnostic: keeps a worker busy for `ms` milliseconds, reporting progress.
   * With `block: true` it never yields to the event loop (a stuck job), which
   * only terminate() can stop: used to check the runner's cancellation paths.
   */
  registerJob('diagnostics.busy', async (p, ctx) => {
    const ms = typeof p.ms === 'number' ? p.ms : 1000;
    const start = Date.now();
    if (p.block === true) {
      ctx.onProgress({ jobId: ctx.jobId, phase: 'blocking', bytesDone: 0, bytesTotal: null });
      while (Date.now() - start < ms) {
        /* spin */
      }
      return { spunMs: Date.now() - start };
    }
    let ticks = 0;
    while (Date.now() - start < ms) {
      checkAbort(ctx);
      ctx.onProgress({ jobId: ctx.jobId, phase: 'busy', bytesDone: ++ticks, bytesTotal: null });
      await new Promise((r) => setTimeout(r, 10));
    }
    if (p.fail === true) throw new OpsError('ERR_BUNDLE_CORRUPT', 'diagnostic failure', { path: 'diag', details: { ticks } });
    return { ticks };
  });
}
