/**
 * The adapter between the handler table and the engine's services: every
 * channel's work, expressed in the contract's result types. Plain Node, no
 * Electron. One place to read which service backs which channel.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OpsError } from '../../shared/errors';
import type {
  AuditPage,
  AuditVerifyResult,
  ChecklistRunView,
  ChecklistSummary,
  DemoKitInfo,
  ImportSummary,
  KeyInspection,
  KeyView,
  LibraryEntry,
  ParsedInput,
  WorkspaceStatusView,
} from '../../shared/contract';
import type { Verdict } from '../../shared/types';
import { appendAudit, queryAudit, type ChainVerification } from '../services/audit/index';
import { openDatabase, type Db } from '../services/db/index';
import { runJobInline, runJobInWorker } from '../services/jobs/index';
import { addTrustedKey, inspectPublicKey, listKeyRecords, revokeTrustedKey, type KeyRecord } from '../services/keys/index';
import { resourcePath } from '../services/resources';
import {
  acknowledgeFailures,
  assertNextStep,
  createRun,
  findProcedure,
  getRun,
  listRuns,
  loadProcedures,
  restoreApply,
  restorePreview,
  toChecklistRunView,
  toChecklistSummary,
  unacknowledgedFailures,
  type Acknowledgement,
  type Procedure,
  type RestorePlan,
  type RestoreResult,
  type RunRecord,
  type UnacknowledgedFailures,
} from '../services/runbooks/index';
import * as staging from '../services/staging/index';
import type { ImportResult } from '../services/staging/index';
import { classifyInput, loadPublicKey } from '../services/verify/index';
import { openWorkspace, type Workspace } from '../services/workspace/index';
import type { JobContext, JobRunner } from './jobs';

/** An open workspace plus its database, opened lazily and closed on dispose. */
export class WorkspaceSession {
  private dbHandle: Db | null = null;
  constructor(public ws: Workspace) {}

  db(): Db {
    if (!this.dbHandle) this.dbHandle = openDatabase(this.ws.layout.db);
    return this.dbHandle;
  }

  close(): void {
    this.dbHandle?.close();
    this.dbHandle = null;
  }
}

// --- staging and library --------------------------------------------------

export async function workspaceStatus(s: WorkspaceSession, deep: boolean, signal?: AbortSignal): Promise<WorkspaceStatusView> {
  const st = await staging.workspaceStatus(s.ws, { deep, signal });
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

export async function rollback(s: WorkspaceSession, to: number | undefined, reason: string | undefined, operator: string): Promise<void> {
  await staging.rollback(s.ws, { to, reason, operator: operator || undefined });
}

export async function libraryList(s: WorkspaceSession): Promise<LibraryEntry[]> {
  return staging.listLibrary(s.db()).map((r) => ({ file: r.file, kind: r.kind, exportId: r.export_id, generation: r.generation, sha256: r.sha256, size: r.size }));
}

// --- audit ------------------------------------------------------------------

export function auditList(s: WorkspaceSession, q: ParsedInput<'audit.list'>): AuditPage {
  const page = queryAudit(s.db(), { action: q.action || undefined, from: q.from, to: q.to, limit: q.limit, cursor: q.cursor ?? null });
  return { rows: page.rows, nextCursor: page.nextCursor };
}

/** Walks the whole chain: heavy on a large log, so it runs through the job executor (a worker thread in the app). */
export async function auditVerify(s: WorkspaceSession, exec: EngineExec = inlineExec): Promise<AuditVerifyResult> {
  const ctx = { jobId: `audit-verify-${Date.now()}`, signal: new AbortController().signal, onProgress: () => {} };
  const v = (await exec('audit.verify', { workspaceDir: s.ws.dir }, ctx)) as ChainVerification;
  return { ok: v.ok, rows: v.rows, headHash: v.rows > 0 ? v.head.hash : null, brokenAt: v.firstBroken?.id ?? null, message: v.message };
}

// --- keys -------------------------------------------------------------------

function keyView(k: KeyRecord): KeyView {
  return { fingerprint: k.fingerprint, algorithm: k.algorithm, tenant: k.tenant, label: k.label, status: k.status, addedAt: k.addedAt };
}

export function keysList(s: WorkspaceSession, tenant: string | undefined): KeyView[] {
  return listKeyRecords(s.db(), { tenant, includeRevoked: true }).map(keyView);
}

/** Algorithm and fingerprint of a PEM public key, shown before the operator confirms it. */
export function keyInspect(pem: string): KeyInspection {
  const k = inspectPublicKey(pem);
  return { fingerprint: k.fingerprint, algorithm: k.algorithm };
}

export function keysAdd(s: WorkspaceSession, input: ParsedInput<'keys.add'>, operator: string): KeyView {
  return keyView(
    addTrustedKey(s.db(), { pem: input.pem, tenant: input.tenant, label: input.label, confirmFingerprint: input.fingerprint, reason: input.reason, operator: operator || undefined }),
  );
}

export function keysRevoke(s: WorkspaceSession, input: ParsedInput<'keys.revoke'>, operator: string): KeyView {
  return keyView(revokeTrustedKey(s.db(), { tenant: input.tenant, fingerprint: input.fingerprint, reason: input.reason, operator: operator || undefined }));
}

// --- checklists -------------------------------------------------------------

let proceduresCache: Procedure[] | null = null;
function procedures(): Procedure[] {
  if (!proceduresCache) proceduresCache = loadProcedures();
  return proceduresCache;
}

/** The run view is the runbook service's own mapping (the adapter adds nothing). */
function runView(run: RunRecord): ChecklistRunView {
  return toChecklistRunView(run, procedures());
}

export function checklistsList(_s: WorkspaceSession): ChecklistSummary[] {
  return procedures().map(toChecklistSummary);
}

export async function checklistStart(s: WorkspaceSession, id: string, inputs: Record<string, string> | undefined, operator: string): Promise<ChecklistRunView> {
  const proc = findProcedure(procedures(), id);
  return runView(createRun(s.db(), proc, { operator: operator || undefined, inputs }));
}

/**
 * Completes the run's next step: a manual step with the operator's
 * confirmation (and note), an automated step by running its check. Steps are
 * done in order; asking for another one is ERR_CHECKLIST_STATE.
 */
export async function checklistCompleteStep(s: WorkspaceSession, input: ParsedInput<'checklists.completeStep'>, operator: string, exec: EngineExec = inlineExec): Promise<ChecklistRunView> {
  const db = s.db();
  const procs = procedures();
  const step = assertNextStep(getRun(db, input.runId, procs), procs, input.stepId);
  // Automated steps run engine checks (a staging tree re-read, log scans): through the job
  // executor, a worker thread in the app, so the main process never blocks on them.
  const ctx = { jobId: `checklist-${input.runId}-${Date.now()}`, signal: new AbortController().signal, onProgress: () => {} };
  const after = (await exec(
    'checklist.advance',
    {
      workspaceDir: s.ws.dir,
      runId: input.runId,
      operator: operator || undefined,
      singleStep: true,
      answers: step.type === 'manual' ? { [step.id]: { confirm: input.confirm ?? true, note: input.note, notApplicable: input.notApplicable === true } } : undefined,
      // A click on the step's confirm button is an individual confirmation, like a terminal prompt.
      answersVia: 'prompt',
    },
    ctx,
  )) as RunRecord;
  return runView(after);
}

export function checklistStatus(s: WorkspaceSession, runId: string | undefined): ChecklistRunView[] {
  const db = s.db();
  if (runId) return [runView(getRun(db, runId, procedures()))];
  return listRuns(db, { limit: 50 }).map((r) => runView(getRun(db, r.id, procedures())));
}

// --- restore (7.2) and failure acknowledgement, for the app's restore wizard -----

/**
 * Restore preview: the library chain, each bundle verified (read-only), the
 * first bad one and what is still possible (offers: rollback, re-copy, bring
 * deltas). Reads every bundle of the chain: run it as a job in the app.
 */
export async function restorePreviewView(s: WorkspaceSession, signal?: AbortSignal): Promise<RestorePlan> {
  return restorePreview(s.ws, s.db(), { signal });
}

/** Restore apply (all or nothing, with a written reason). Staging is unchanged unless the whole chain verified. */
export async function restoreApplyView(s: WorkspaceSession, reason: string, operator: string, signal?: AbortSignal): Promise<RestoreResult> {
  return restoreApply(s.ws, s.db(), { reason, operator: operator || undefined, signal });
}

/** Failures the daily log scan reports until acknowledged. */
export function failuresUnacknowledged(s: WorkspaceSession): UnacknowledgedFailures {
  return unacknowledgedFailures(s.ws, s.db());
}

/** Acknowledges them with a reason (audit row failures.acknowledged). */
export function failuresAcknowledge(s: WorkspaceSession, reason: string, operator: string): Acknowledgement {
  return acknowledgeFailures(s.ws, s.db(), { reason, operator: operator || undefined });
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

function readInput(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new OpsError('ERR_INPUT_NOT_FOUND', `The ${what} ${file} cannot be read (${code ?? (e as Error).message}). Check the path and that the media is mounted.`, { path: file });
  }
}

/** age identity file: AGE-SECRET-KEY-1… lines; comments (#) and blank lines ignored. */
export function parseIdentities(text: string, file: string): string[] {
  const ids: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (!/^AGE-SECRET-KEY-1[0-9A-Z]+$/.test(line)) throw new OpsError('ERR_USAGE', `The identity file ${file} holds a line that is not an age identity (expected AGE-SECRET-KEY-1…).`, { path: file });
    ids.push(line);
  }
  if (ids.length === 0) throw new OpsError('ERR_USAGE', `The identity file ${file} holds no age identity (AGE-SECRET-KEY-1… line).`, { path: file });
  return ids;
}

/**
 * Checks the key and identity files of a run before any work starts, so a
 * wrong path or a private key gets a plain error (not a worker crash).
 */
function checkTrustFiles(params: { keyFiles: string[]; identityFiles: string[] }): void {
  for (const f of params.keyFiles) loadPublicKey(readInput(f, 'key file'), 'cli');
  for (const f of params.identityFiles) parseIdentities(readInput(f, 'identity file'), f);
}

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
 * Executes one named engine job (electron/services/jobs): in this thread
 * (tests, the browser bridge) or in a worker thread (the app's main process,
 * so long work never blocks it). Same job code either way.
 */
export type EngineExec = (name: string, params: Record<string, unknown>, ctx: JobContext) => Promise<unknown>;

export const inlineExec: EngineExec = (name, params, ctx) => runJobInline(name, params, { jobId: ctx.jobId, signal: ctx.signal, onProgress: ctx.onProgress });
export const workerExec: EngineExec = (name, params, ctx) => runJobInWorker(name, params, { jobId: ctx.jobId, signal: ctx.signal, onProgress: ctx.onProgress });

/**
 * The console's verify and import jobs over an executor: input files are
 * checked first; verify records its verdict in the audit log; import
 * reports each bundle's outcome and the workspace after it.
 */
export function makeJobRunner(exec: EngineExec): JobRunner {
  return async (params, ctx) => {
    checkTrustFiles(params);
    const ws = openWorkspace(params.workspaceDir, { create: true });
    const operator = ws.settings.operator || undefined;
    const trust = { keyFiles: params.keyFiles, identityFiles: params.identityFiles };
    if (params.kind === 'verify') {
      const verdict = (
        classifyInputSafe(params.path) === 'workspace'
          ? await exec('staging.verify', { workspaceDir: params.path }, ctx)
          : await exec('verify.path', { workspaceDir: ws.dir, path: params.path, ...trust }, ctx)
      ) as Verdict;
      if (ctx.signal.aborted) throw new OpsError('ERR_CANCELLED', 'Cancelled by the operator. Nothing was changed.');
      const db = openDatabase(ws.layout.db);
      try {
        appendAudit(db, {
          action: verdict.ok ? 'mirror.verify.passed' : 'mirror.verify.failed',
          subject: verdict.exportId ?? params.path,
          operator,
          details: { path: params.path, kind: verdict.kind, errorCode: verdict.code, message: verdict.message, source: 'console' },
        });
      } finally {
        db.close();
      }
      return { verdict, status: null, import: null };
    }
    const result = (await exec(
      'staging.import',
      { workspaceDir: ws.dir, paths: params.paths, ...trust, forceReason: params.forceReason, dryRun: params.dryRun === true, operator },
      ctx,
    )) as ImportResult;
    const status = await workspaceStatus(new WorkspaceSession(ws), false);
    return { verdict: null, status, import: importView(result) };
  };
}

function classifyInputSafe(path: string): string {
  try {
    return classifyInput(path);
  } catch {
    return 'unknown';
  }
}
