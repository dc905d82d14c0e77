/**
 * The adapter between the handler table and the engine's services: every
 * channel's work, expressed in the contract's result types. Plain Node, no
 * Electron. One place to read which service backs which channel.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type {
  AuditPage,
  AuditVerifyResult,
  ChecklistRunView,
  ChecklistSummary,
  DemoKitInfo,
  ExportedFiles,
  ImportSummary,
  KeyInspection,
  KeyView,
  LibraryEntry,
  LibraryFilesPageView,
  ParsedInput,
  RestorePlanView,
  RestoreResultView,
  RetentionView,
  WorkspaceStatusView,
} from '../../shared/contract';
import { OpsError } from '../../shared/errors';
import { createEngine, type Engine } from '../services/engine';
import { JOBS, runJobInline, runJobInWorker, type JobName, type JobParams, type JobResult } from '../services/jobs/index';
import { inspectPublicKey, type KeyRecord } from '../services/keys/index';
import { resourcePath } from '../services/resources';
import {
  assertNextStep,
  assertReasonForChange,
  restoreChain,
  toChecklistRunView,
  toChecklistSummary,
  type Acknowledgement,
  type RestorePlan,
  type RestoreResult,
  type RunRecord,
  type UnacknowledgedFailures,
} from '../services/runbooks/index';
import type { ImportResult } from '../services/staging/index';
import type { ImportJobParams, JobContext, JobOutcome } from './jobs';

/**
 * The handler table's workspace: one engine (services/engine.ts createEngine,
 * the composition root), opened on first use (recovery of an interrupted
 * apply included) and closed on dispose.
 */
export function openConsoleEngine(workspaceDir: string): Engine {
  return createEngine(workspaceDir, { create: true });
}

// --- staging and library --------------------------------------------------

export async function workspaceStatus(e: Engine, deep: boolean, signal?: AbortSignal): Promise<WorkspaceStatusView> {
  const st = await e.status({ deep, signal });
  return {
    exportId: st.exportId,
    generation: st.generation,
    stateDigest: st.stateDigest,
    generations: st.generations,
    library: st.library,
    importsFrozen: st.importsFrozen,
    deep: st.deep ?? null,
  };
}

export async function rollback(e: Engine, to: number | undefined, reason: string | undefined, operator: string): Promise<void> {
  await e.rollback({ to, reason, operator: operator || undefined });
}

export async function libraryList(e: Engine): Promise<LibraryEntry[]> {
  return e.library().map((r) => ({ file: r.file, kind: r.kind, exportId: r.export_id, generation: r.generation, sha256: r.sha256, size: r.size }));
}

/** Index builds in flight, one per workspace and bundle (concurrent first pages wait for the same job). */
const indexBuilds = new Map<string, Promise<unknown>>();

/** A page of a library bundle's file list; the first request builds the index through the job executor (a worker thread in the app). */
export async function libraryFiles(e: Engine, input: ParsedInput<'library.files'>, exec: EngineExec = inlineExec): Promise<LibraryFilesPageView> {
  const q = { offset: input.offset, limit: input.limit, filter: input.filter };
  let page = e.libraryFiles.page(input.sha256, q);
  if (!page) {
    const key = `${e.dir}\0${input.sha256}`;
    let build = indexBuilds.get(key);
    if (!build) {
      const ctx = { jobId: `library-index-${Date.now()}`, signal: new AbortController().signal, onProgress: () => {} };
      build = exec(JOBS['library.index'], { workspaceDir: e.dir, sha256: input.sha256 }, ctx).finally(() => indexBuilds.delete(key));
      indexBuilds.set(key, build);
    }
    await build;
    page = e.libraryFiles.page(input.sha256, q);
    if (!page) throw new OpsError('ERR_INTERNAL', `The file list of bundle ${input.sha256} was built but cannot be read.`);
  }
  const m = page.meta;
  return {
    sha256: input.sha256,
    total: page.total,
    count: m.count,
    totalBytes: m.totalBytes,
    offset: page.offset,
    rows: page.rows,
    verified: { at: m.verifiedAt, exportId: m.exportId, generation: m.generation, kind: m.kind, signedBy: m.signedBy },
  };
}

// --- audit ------------------------------------------------------------------

export function auditList(e: Engine, q: ParsedInput<'audit.list'>): AuditPage {
  const page = e.audit.list({ action: q.action || undefined, from: q.from, to: q.to, limit: q.limit, cursor: q.cursor ?? null });
  return { rows: page.rows, nextCursor: page.nextCursor };
}

/** Walks the whole chain: heavy on a large log, so it runs through the job executor (a worker thread in the app). */
export async function auditVerify(e: Engine, exec: EngineExec = inlineExec): Promise<AuditVerifyResult> {
  const ctx = { jobId: `audit-verify-${Date.now()}`, signal: new AbortController().signal, onProgress: () => {} };
  const v = await exec(JOBS['audit.verify'], { workspaceDir: e.dir }, ctx);
  return { ok: v.ok, rows: v.rows, headHash: v.rows > 0 ? v.head.hash : null, brokenAt: v.firstBroken?.id ?? null, message: v.message };
}

// --- keys -------------------------------------------------------------------

function keyView(k: KeyRecord): KeyView {
  return { fingerprint: k.fingerprint, algorithm: k.algorithm, tenant: k.tenant, label: k.label, status: k.status, addedAt: k.addedAt };
}

export function keysList(e: Engine, tenant: string | undefined): KeyView[] {
  return e.keys.list({ tenant, includeRevoked: true }).map(keyView);
}

/** Algorithm and fingerprint of a PEM public key, shown before the operator confirms it. */
export function keyInspect(pem: string): KeyInspection {
  const k = inspectPublicKey(pem);
  return { fingerprint: k.fingerprint, algorithm: k.algorithm };
}

export function keysAdd(e: Engine, input: ParsedInput<'keys.add'>, operator: string): KeyView {
  return keyView(
    e.keys.add({ pem: input.pem, tenant: input.tenant, label: input.label, confirmFingerprint: input.fingerprint, reason: input.reason, operator: operator || undefined }),
  );
}

export function keysRotate(e: Engine, input: ParsedInput<'keys.rotate'>, operator: string): KeyView {
  return keyView(
    e.keys.rotate({ pem: input.pem, tenant: input.tenant, label: input.label, confirmFingerprint: input.fingerprint, replaces: input.replaces, reason: input.reason, operator: operator || undefined }),
  );
}

export function keysRevoke(e: Engine, input: ParsedInput<'keys.revoke'>, operator: string): KeyView {
  return keyView(e.keys.revoke({ tenant: input.tenant, fingerprint: input.fingerprint, reason: input.reason, operator: operator || undefined }));
}

// --- retention and exports --------------------------------------------------

export function retention(e: Engine, opts: { dryRun: boolean; reason?: string }, operator: string): RetentionView {
  const r = e.retention({ dryRun: opts.dryRun, reason: opts.reason, operator: operator || undefined });
  return { dryRun: r.dryRun, ranAt: r.ranAt, policy: r.policy, pruned: r.pruned, kept: r.kept, freedBytes: r.freedBytes };
}

/** The audit log into <workspace>/evidence/audit/audit-<time>.<format> (the app has no save dialog in every shell). */
export function auditExport(e: Engine, input: ParsedInput<'audit.export'>, operator: string): ExportedFiles {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = join(e.dir, 'evidence', 'audit');
  mkdirSync(dir, { recursive: true });
  const r = e.audit.export({ out: join(dir, `audit-${stamp}.${input.format}`), format: input.format, from: input.from, to: input.to, signWith: input.signKeyFile, operator: operator || undefined });
  return { files: [r.out, r.headFile], signatures: [r.signature, r.headSignature].filter((x): x is string => typeof x === 'string'), rows: r.rows, headHash: r.rows > 0 ? r.head.hash : null };
}

export function evidenceExport(e: Engine, input: ParsedInput<'checklists.exportEvidence'>): ExportedFiles {
  const r = e.runbooks.exportEvidence(input.runId, undefined, { signWith: input.signKeyFile });
  return { files: [r.json, r.html], signatures: r.signatures };
}

// --- checklists -------------------------------------------------------------

/** The run view is the runbook service's own mapping, over the engine's procedures (the adapter adds nothing). */
function runView(e: Engine, run: RunRecord): ChecklistRunView {
  return toChecklistRunView(run, e.runbooks.procedures());
}

export function checklistsList(e: Engine): ChecklistSummary[] {
  return e.runbooks.procedures().map(toChecklistSummary);
}

export async function checklistStart(e: Engine, id: string, inputs: Record<string, string> | undefined, operator: string): Promise<ChecklistRunView> {
  return runView(e, e.runbooks.createRun(id, { operator: operator || undefined, inputs }));
}

/**
 * Completes the run's next step: a manual step with the operator's
 * confirmation (and note), an automated step by running its check. Steps are
 * done in order; asking for another one is ERR_CHECKLIST_STATE.
 */
export async function checklistCompleteStep(e: Engine, input: ParsedInput<'checklists.completeStep'>, operator: string, exec: EngineExec = inlineExec): Promise<ChecklistRunView> {
  const step = assertNextStep(e.runbooks.getRun(input.runId), e.runbooks.procedures(), input.stepId);
  assertReasonForChange(step, input.confirm, input.note);
  // Automated steps run engine checks (a staging tree re-read, log scans): through the job
  // executor, a worker thread in the app, so the main process never blocks on them.
  const ctx = { jobId: `checklist-${input.runId}-${Date.now()}`, signal: new AbortController().signal, onProgress: () => {} };
  const after = await exec(
    JOBS['checklist.advance'],
    {
      workspaceDir: e.dir,
      runId: input.runId,
      operator: operator || undefined,
      singleStep: true,
      answers: step.type === 'manual' ? { [step.id]: { confirm: input.confirm ?? true, note: input.note, notApplicable: input.notApplicable === true } } : undefined,
      // A click on the step's confirm button is an individual confirmation, like a terminal prompt.
      answersVia: 'prompt',
      stepNote: step.type === 'automated' ? input.note : undefined,
    },
    ctx,
  );
  return runView(e, after);
}

export function checklistStatus(e: Engine, runId: string | undefined): ChecklistRunView[] {
  if (runId) return [runView(e, e.runbooks.getRun(runId))];
  return e.runbooks.listRuns({ limit: 50 }).map((r) => runView(e, e.runbooks.getRun(r.id)));
}

// --- restore (7.2) and failure acknowledgement, for the app's restore wizard -----

/**
 * Restore preview: the library chain, each bundle verified (read-only), the
 * first bad one and what is still possible (offers: rollback, re-copy, bring
 * deltas). Reads every bundle of the chain: run it as a job in the app.
 */
export async function restorePreviewView(e: Engine, exec: EngineExec = inlineExec, signal: AbortSignal = new AbortController().signal): Promise<RestorePlan> {
  return exec(JOBS['restore.preview'], { workspaceDir: e.dir }, { jobId: `restore-preview-${Date.now()}`, signal, onProgress: () => {} });
}

/** Restore apply (all or nothing, with a written reason). Staging is unchanged unless the whole chain verified. Runs as a job. */
export async function restoreApplyView(e: Engine, reason: string, operator: string, exec: EngineExec = inlineExec, signal: AbortSignal = new AbortController().signal): Promise<RestoreResult> {
  return exec(JOBS['restore.apply'], { workspaceDir: e.dir, reason, operator: operator || undefined }, { jobId: `restore-apply-${Date.now()}`, signal, onProgress: () => {} });
}

export function restorePlanView(p: RestorePlan): RestorePlanView {
  return { ok: p.ok, current: p.current, target: p.target, bundles: p.bundles, gaps: p.gaps, bad: p.bad, code: p.code, message: p.message, action: p.action, offers: p.offers };
}

export function restoreResultView(r: RestoreResult): RestoreResultView {
  return { ok: r.ok, plan: restorePlanView(r.plan), import: r.import ? importView(r.import) : null, current: r.current, code: r.code, message: r.message };
}

/**
 * The restore wizard's typed confirmation: the export id the restore rebuilds
 * (the library chain's newest generation, located without reading a bundle).
 */
export function assertRestoreConfirmation(e: Engine, typed: string): void {
  const chain = restoreChain(e.db());
  const top = chain.deltas.length ? chain.deltas[chain.deltas.length - 1] : chain.full;
  if (!top) throw new OpsError('ERR_INPUT_NOT_FOUND', 'The library holds no full bundle to restore from.', { action: 'Import the latest full bundle and its deltas first (runbook 4.3).' });
  const want = top.export_id ?? top.name;
  if (typed.trim() !== want) throw new OpsError('ERR_USAGE', `The confirmation does not match: type ${want} (the export the restore rebuilds) to confirm.`);
}

/** Failures the daily log scan reports until acknowledged. */
export function failuresUnacknowledged(e: Engine): UnacknowledgedFailures {
  return e.runbooks.unacknowledgedFailures();
}

/** Acknowledges them with a reason (audit row failures.acknowledged). */
export function failuresAcknowledge(e: Engine, reason: string, operator: string): Acknowledgement {
  return e.runbooks.acknowledgeFailures({ reason, operator: operator || undefined });
}

// --- demo kit ---------------------------------------------------------------

/** The demo kit shipped in resources/ (resources/demo-kit + resources/demo-kit.pub). */
export function demoKitInfo(resourcesDir?: string): DemoKitInfo {
  const kit = resourcesDir ? join(resourcesDir, 'demo-kit') : safeResource('demo-kit');
  const key = resourcesDir ? join(resourcesDir, 'demo-kit.pub') : safeResource('demo-kit.pub');
  const present = kit !== null && existsSync(join(kit, 'offline-manifest.json'));
  if (!present) return { present: false, path: null, keyPath: null, keyFingerprint: null, algorithm: null };
  const hasKey = key !== null && existsSync(key);
  let keyFingerprint: string | null = null;
  let algorithm: string | null = null;
  if (hasKey) {
    try {
      const k = keyInspect(readFileSync(key, 'utf8'));
      keyFingerprint = k.fingerprint;
      algorithm = k.algorithm;
    } catch {
      /* shown without a fingerprint */
    }
  }
  return { present, path: kit, keyPath: hasKey ? key : null, keyFingerprint, algorithm };
}

function safeResource(name: string): string | null {
  try {
    return resourcePath(name);
  } catch {
    return null;
  }
}

// --- jobs ---------------------------------------------------------------------

function importView(r: ImportResult): ImportSummary {
  return {
    ok: r.ok,
    code: r.code,
    message: r.message,
    action: r.action,
    dryRun: r.dryRun,
    items: r.items.map((i) => ({ path: i.path, kind: i.kind, exportId: i.exportId, generation: i.generation, outcome: i.outcome, code: i.code, message: i.message, verdict: i.verdict ?? null })),
    missing: r.missing,
    current: r.current ? { exportId: r.current.exportId, generation: r.current.generation, stateDigest: r.current.stateDigest } : null,
    warnings: r.warnings,
  };
}

/**
 * Executes one engine job of the JOBS contract (electron/services/jobs/contract.ts):
 * in this thread (tests, the browser bridge) or in a worker thread (the app's
 * main process, so long work never blocks it). Same job code either way.
 * The caller passes the job itself (`exec(JOBS['audit.verify'], …)`): params
 * and result are typed by it, and go-to-definition on it opens the job.
 */
export type EngineExec = <N extends JobName>(job: { readonly name: N }, params: JobParams<N>, ctx: JobContext) => Promise<JobResult<N>>;

export const inlineExec: EngineExec = (job, params, ctx) => runJobInline(job.name, params, { jobId: ctx.jobId, signal: ctx.signal, onProgress: ctx.onProgress });
export const workerExec: EngineExec = (job, params, ctx) => runJobInWorker(job.name, params, { jobId: ctx.jobId, signal: ctx.signal, onProgress: ctx.onProgress });

/** The console's import: JOBS['staging.import'] with the run's key and identity files, then the workspace after it. */
export async function importJob(e: Engine, exec: EngineExec, params: Omit<ImportJobParams, 'kind' | 'workspaceDir'>, ctx: JobContext): Promise<JobOutcome> {
  // Key and identity files are checked first: a wrong path or a private key gets a plain error (not a worker crash).
  e.trust({ keyFiles: params.keyFiles, identityFiles: params.identityFiles });
  const result = await exec(
    JOBS['staging.import'],
    { workspaceDir: e.dir, paths: params.paths, keyFiles: params.keyFiles, identityFiles: params.identityFiles, forceReason: params.forceReason, dryRun: params.dryRun === true, operator: e.settings.operator || undefined },
    ctx,
  );
  return { verdict: null, status: await workspaceStatus(e, false), import: importView(result) };
}
