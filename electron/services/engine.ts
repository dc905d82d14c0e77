/**
 * The composition root (issue 8): the ONE place that wires the engine's
 * services together for a workspace. Every entry point (the `mirror` CLI's
 * commands, the IPC handler table, the job workers) opens a workspace through
 * `createEngine` and stays a thin adapter: it parses input, calls the engine,
 * formats the result. No service registers itself into another.
 *
 * Opening a workspace always runs the same recovery: an apply, rollback or
 * Trivy install interrupted by a crash (its journal left in `journal/`) is
 * finished or rolled back, audited as `mirror.apply.recovered`, before the
 * caller reads or writes anything.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { isOpsError, OpsError } from '../../shared/errors';
import type { Settings } from '../../shared/settings';
import type { JobProgress, Verdict } from '../../shared/types';
import { exportAudit, type AuditExportOptions, type AuditExportResult } from './audit/export';
import { appendAudit, auditRowDetail, locateAudit, pageAudit, type AuditFilter, type AuditOffsetPage, type AuditRowDetail, queryAudit, verifyAuditChain, type AuditEntryInput, type AuditPage, type AuditQuery, type ChainHead, type ChainVerification } from './audit/index';
import { openDatabase, type Db } from './db/index';
import { computeHealth, type HealthReport } from './health/index';
import { addTrustedKey, listKeyRecords, revokeTrustedKey, rotateTrustedKey, trustStoreProblems, type AddKeyInput, type KeyRecord, type TrustStoreProblem } from './keys/index';
import { runRetention, type RetentionResult } from './library/index';
import { buildFileIndex, pageFileIndex, type FileIndexMeta, type FileIndexPage } from './library/files';
import { CHECKS, type CheckResult } from './runbooks/checks';
import type { RunbookServices } from './runbooks/services';
import type { RestoreEngines } from './runbooks/restore';
import {
  acknowledgeFailures,
  advanceRun,
  createRun,
  exportRunEvidence,
  findProcedure,
  getRun,
  listRuns,
  loadProcedures,
  restoreApply,
  restorePreview,
  setRunInputs,
  unacknowledgedFailures,
  type Acknowledgement,
  type AdvanceOptions,
  type Procedure,
  type RestorePlan,
  type RestoreResult,
  type RunEnv,
  type RunRecord,
  type UnacknowledgedFailures,
} from './runbooks/index';
import { importBundles as stagingImportBundles, importLocked, openForWrite, rollbackLocked, stagingStatus, verifyGeneration, verifyStagingTree, type ImportOptions, type ImportResult, type RecoveryReport, type RollbackOptions, type RollbackResult, type StagingHooks, type StagingStatus, type TreeVerifyOptions, type WriteSession } from './staging/index';
import { getLibrary, listLibrary, readState } from './staging/store';
import { resolveTrust, type Trust, type TrustInput } from './trust';
import { verifyMirrorBundle, verifyPath, type VerifyOptions, type WorkspaceVerifier } from './verify/index';
import { verifyTrivyBundle } from './verify/trivy';
import { saveSettingsAudited, setSetting } from './settings/index';
import { openWorkspace, type Workspace } from './workspace/index';
import { applyJournalFile } from './workspace/layout';

export { resolveTrust, parseAgeIdentities, type Trust, type TrustInput } from './trust';

export interface EngineOptions {
  /** Initialise the workspace when the folder has none (imports, keys add, the app). */
  create?: boolean;
  /** Fault-injection hooks for the staging engine (tests). */
  hooks?: StagingHooks;
}

/** A verification request: what to verify with, besides the trust. */
export type VerifyRequest = Omit<VerifyOptions, 'keys' | 'identities'> & { trust?: TrustInput };

/** An import request: the trust inputs plus the staging engine's options. */
export type ImportRequest = Omit<ImportOptions, 'keys' | 'identities' | 'hooks'> & { trust?: TrustInput };

/** `mirror audit verify`: the chain, plus every pinned key the audited key events do not back. */
export type AuditVerification = ChainVerification & { trustStore: TrustStoreProblem[] };

function withTrustStore(v: ChainVerification, problems: TrustStoreProblem[]): AuditVerification {
  if (!problems.length) return { ...v, trustStore: [] };
  const keys = `the trust store does not match the audit log: ${problems.map((p) => p.message).join(' ')}`;
  return { ...v, ok: false, trustStore: problems, message: v.ok ? `Audit chain intact (${v.rows} rows), but ${keys}` : `${v.message} Also, ${keys}` };
}

export interface Engine {
  /** The workspace folder (absolute). */
  readonly dir: string;
  /** The open workspace (layout, settings as last read or saved). */
  readonly ws: Workspace;
  readonly settings: Settings;
  /** What opening (and any write session since) recovered. */
  readonly recovery: RecoveryReport;
  /** The engine's database connection (opened on first use, closed by close()). */
  db(): Db;
  close(): void;
  /** Replaces the settings (validated, each change audited as settings.changed). */
  saveSettings(settings: Settings, opts?: { reason?: string; operator?: string }): Settings;
  /** Changes one setting from its text form (`mirror settings set`), audited with the reason. */
  setSetting(key: string, raw: string, opts: { reason: string; operator?: string }): { from: unknown; to: unknown };

  /** The one trust policy, with this workspace's pinned keys (see trust.ts). */
  trust(input?: TrustInput): Trust;
  /**
   * The verifier's options for one request: the resolved trust, this
   * workspace's limits (explicit ones win), and the staging-tree check for
   * workspace folders. `note` says why no key is trusted, when none is.
   */
  verifyOptions(req?: VerifyRequest): { options: VerifyOptions; note?: string };
  /** Deep verification of the staging tree against its signed state. */
  verifyTree(opts?: TreeVerifyOptions): Promise<Verdict>;
  status(opts?: { deep?: boolean; signal?: AbortSignal }): Promise<StagingStatus>;
  /** Health at a glance (freshness, delta chain, storage, last import, failures, keys, today's checklist): the dashboard and `mirror status` show this. */
  health(opts?: { now?: Date }): Promise<HealthReport>;
  /** The verified bundles kept in the workspace library. */
  library(): ReturnType<typeof listLibrary>;
  /** A library bundle's signed file list, paged from an index built once from the re-verified library copy (library/files.ts). */
  libraryFiles: {
    /** Re-verifies the library copy and writes the index (run as the job JOBS['library.index']). */
    buildIndex(sha256: string, req?: { signal?: AbortSignal; onProgress?: (p: JobProgress) => void }): Promise<FileIndexMeta>;
    /** A page of the list (null: no index yet). */
    page(sha256: string, q: { offset: number; limit: number; filter?: string }): FileIndexPage | null;
  };
  /** Verify + extract + apply in order (write lock held throughout). */
  importBundles(paths: string[], req?: ImportRequest): Promise<ImportResult>;
  rollback(opts?: Omit<RollbackOptions, 'hooks'>): Promise<RollbackResult>;
  retention(opts?: { dryRun?: boolean; operator?: string; now?: Date; reason?: string }): RetentionResult;
  /** Runs `fn` holding the write lock (recovery first). */
  withWriteSession<T>(purpose: string, fn: (s: WriteSession) => Promise<T> | T): Promise<T>;

  audit: {
    append(entry: AuditEntryInput): void;
    /** The chain walk, and the trust store checked against the audited key events (a key no event added fails it). */
    verify(opts?: { against?: ChainHead }): AuditVerification;
    export(opts: AuditExportOptions): AuditExportResult;
    list(q?: AuditQuery): AuditPage;
    /** Total and one page at an offset (newest first) under filters. */
    page(q: AuditFilter & { offset?: number; limit?: number }): AuditOffsetPage;
    /** Jump to a date: offset of the newest row at or before `at`. */
    locate(at: string, f?: AuditFilter): { offset: number; total: number };
    /** One row with its own chain check. */
    row(id: number): AuditRowDetail;
  };
  keys: {
    list(opts?: { tenant?: string; includeRevoked?: boolean }): KeyRecord[];
    add(input: AddKeyInput): KeyRecord;
    rotate(input: AddKeyInput & { replaces: string }): KeyRecord;
    revoke(input: { tenant: string; fingerprint: string; reason: string; operator?: string }): KeyRecord;
  };
  runbooks: {
    procedures(): Procedure[];
    /** The environment the runbook engine runs steps in. */
    env(): RunEnv;
    createRun(procedureId: string, opts?: { operator?: string; inputs?: Record<string, string> }): RunRecord;
    /** Gives a run's inputs (validated against its procedure; audited). */
    setInputs(runId: string, inputs: Record<string, string>, opts?: { operator?: string }): RunRecord;
    /** A run by id, or null when there is none. */
    findRun(runId: string): RunRecord | null;
    getRun(runId: string): RunRecord;
    listRuns(opts?: { checklistId?: string; unfinished?: boolean; limit?: number }): RunRecord[];
    advance(runId: string, opts?: AdvanceOptions): Promise<RunRecord>;
    exportEvidence(runId: string, outDir?: string, opts?: { signWith?: string }): ReturnType<typeof exportRunEvidence>;
    runCheck(name: string, params: Record<string, unknown>, signal?: AbortSignal): Promise<CheckResult>;
    /** 7.2 preview: the library chain, every bundle verified (read-only), the first bad one and the offers. */
    restorePreview(req?: { trust?: TrustInput; signal?: AbortSignal; onProgress?: (p: JobProgress) => void }): Promise<RestorePlan>;
    /** 7.2 apply: all or nothing, with a written reason; staging is unchanged unless the whole chain verified. */
    restoreApply(req: { reason: string; operator?: string; trust?: TrustInput; signal?: AbortSignal; onProgress?: (p: JobProgress) => void }): Promise<RestoreResult>;
    /** Failures the daily log scan keeps reporting until an operator acknowledges them. */
    unacknowledgedFailures(): UnacknowledgedFailures;
    /** Acknowledges them with a reason (audit row failures.acknowledged). */
    acknowledgeFailures(opts: { reason: string; operator?: string }): Acknowledgement;
  };
}

/**
 * Recovery on open: when an interrupted operation's journal is present, take
 * the write lock and finish or roll it back. Another live writer holding the
 * lock recovers it itself (it opened for writing first), so a busy workspace
 * is not an error here.
 */
function recoverOnOpen(ws: Workspace, hooks: StagingHooks | undefined): RecoveryReport {
  if (!existsSync(applyJournalFile(ws.layout))) return { recovered: null, removed: [] };
  try {
    const s = openForWrite(ws, 'recovery on open', { hooks });
    s.close();
    return s.recovery;
  } catch (e) {
    if (isOpsError(e) && e.code === 'ERR_WORKSPACE_BUSY') return { recovered: null, removed: [] };
    throw e;
  }
}

/**
 * The staging-tree check for a workspace folder given as a verifier input
 * (`mirror verify <workspace>`): opened through createEngine, so it is
 * recovered first, then re-read against its signed state.
 */
export const verifyOtherWorkspace: WorkspaceVerifier = async (dir, o) => {
  const other = createEngine(dir);
  try {
    return await other.verifyTree({ signal: o.signal, path: dir });
  } finally {
    other.close();
  }
};

/** Verifier options for a caller without a workspace: explicit keys and identities only. */
export function verifyOptionsWithoutWorkspace(req: VerifyRequest = {}): { options: VerifyOptions; note?: string } {
  const { trust: trustInput, ...rest } = req;
  const t = resolveTrust(null, trustInput);
  return { options: { ...rest, keys: t.keys, identities: t.identities, verifyWorkspace: verifyOtherWorkspace }, ...(t.note ? { note: t.note } : {}) };
}

/**
 * The runbook checks' dependencies, given explicitly (no module-level hook,
 * no registration at import time): the staging engine, the verifier and the
 * one trust policy (resolveTrust).
 */
export function engineRunbookServices(): RunbookServices & RestoreEngines {
  return {
    staging: { importBundles: stagingImportBundles, verifyStagingTree },
    verify: { verifyPath, verifyMirrorBundle, verifyTrivyBundle },
    trust: resolveTrust,
  };
}

/** Opens a workspace with every service wired to it. The caller closes it. */
export function createEngine(workspaceDir: string, options: EngineOptions = {}): Engine {
  let ws = openWorkspace(workspaceDir, { create: options.create });
  let recovery = recoverOnOpen(ws, options.hooks);
  let handle: Db | null = null;
  const db = (): Db => {
    if (!handle) handle = openDatabase(ws.layout.db);
    return handle;
  };
  let proceduresCache: Procedure[] | null = null;
  const procedures = (): Procedure[] => (proceduresCache ??= loadProcedures());

  async function withWriteSession<T>(purpose: string, fn: (s: WriteSession) => Promise<T> | T): Promise<T> {
    const s = openForWrite(ws, purpose, { hooks: options.hooks });
    if (s.recovery.recovered || s.recovery.removed.length) recovery = { recovered: s.recovery.recovered ?? recovery.recovered, removed: [...recovery.removed, ...s.recovery.removed] };
    try {
      return await fn(s);
    } finally {
      s.close();
    }
  }

  const trust = (input: TrustInput = {}): Trust => resolveTrust(db(), input);
  const services = engineRunbookServices();
  const runEnv = (): RunEnv => ({ ws, db: db(), settings: ws.settings, procedures: procedures(), services });

  const engine: Engine = {
    dir: ws.dir,
    get ws() {
      return ws;
    },
    get settings() {
      return ws.settings;
    },
    get recovery() {
      return recovery;
    },
    db,
    close() {
      handle?.close();
      handle = null;
    },
    saveSettings(settings, opts = {}) {
      ws = saveSettingsAudited(ws, db(), settings, { ...opts, operator: opts.operator || ws.settings.operator || undefined });
      return ws.settings;
    },
    setSetting(key, raw, opts) {
      const r = setSetting(ws, db(), key, raw, { ...opts, operator: opts.operator || ws.settings.operator || undefined });
      ws = r.ws;
      return { from: r.from, to: r.to };
    },

    trust,
    verifyOptions(req = {}) {
      const { trust: trustInput, limits, ...rest } = req;
      const t = trust(trustInput);
      const verifyWorkspace: WorkspaceVerifier = (dir, o) => (resolve(dir) === ws.dir ? verifyGeneration(ws, db(), { signal: o.signal, path: dir }) : verifyOtherWorkspace(dir, o));
      return { options: { ...rest, keys: t.keys, identities: t.identities, limits: { ...ws.settings.limits, ...limits }, verifyWorkspace }, ...(t.note ? { note: t.note } : {}) };
    },
    verifyTree: (opts = {}) => verifyGeneration(ws, db(), opts),
    status: (opts = {}) => stagingStatus(ws, db(), opts),
    health: (opts = {}) => computeHealth({ ws, db: db(), settings: ws.settings, services, now: opts.now }),
    library: () => listLibrary(db()),
    libraryFiles: {
      buildIndex: (sha256, req = {}) =>
        buildFileIndex(ws, sha256, {
          library: (sha) => {
            const r = getLibrary(db(), sha);
            return r ? { file: r.file, name: r.name, kind: r.kind, pruned: r.pruned_at !== null } : null;
          },
          verify: (file) => verifyMirrorBundle(file, engine.verifyOptions({ signal: req.signal, onProgress: req.onProgress }).options),
        }),
      page: (sha256, q) => {
        const page = pageFileIndex(ws, sha256, q);
        // The list of a bundle retention pruned (or the library no longer holds) is not shown.
        const r = page ? getLibrary(db(), sha256) : null;
        if (page && (!r || r.pruned_at !== null)) throw new OpsError('ERR_INPUT_NOT_FOUND', `The library holds no bundle with SHA-256 ${sha256}.`, { action: 'Reload the library page: the bundle may have been pruned by retention.' });
        return page;
      },
    },
    importBundles(paths, req = {}) {
      const { trust: trustInput, ...rest } = req;
      return withWriteSession('mirror import', async (s) => {
        const t = resolveTrust(s.db, trustInput);
        if (!t.keys.length && !readState(s.db).imports_frozen) {
          throw new OpsError('ERR_VERIFY_SIGNATURE', 'No trusted key: pin the Export Center key in this workspace (mirror keys add, or the Keys page) or give a key file (--key <pem>).', { path: ws.dir });
        }
        return importLocked(s.ws, s.db, paths, {
          ...rest,
          keys: t.keys,
          identities: t.identities,
          operator: rest.operator ?? (ws.settings.operator || undefined),
          limits: { ...ws.settings.limits, ...rest.limits },
          hooks: options.hooks,
        });
      });
    },
    rollback: (opts = {}) => withWriteSession('mirror rollback', (s) => rollbackLocked(s.ws, s.db, { ...opts, operator: opts.operator ?? (ws.settings.operator || undefined), hooks: options.hooks })),
    retention(opts = {}) {
      const s = openForWrite(ws, 'mirror retention run', { hooks: options.hooks });
      try {
        return runRetention(s.ws, s.db, { ...opts, operator: opts.operator ?? (ws.settings.operator || undefined) });
      } finally {
        s.close();
      }
    },
    withWriteSession,

    audit: {
      append: (entry) => void appendAudit(db(), entry),
      verify: (opts = {}) => withTrustStore(verifyAuditChain(db(), opts), trustStoreProblems(db())),
      export: (opts) => exportAudit(db(), { ...opts, operator: opts.operator ?? (ws.settings.operator || undefined) }),
      list: (q = {}) => queryAudit(db(), q),
      page: (q) => pageAudit(db(), q),
      locate: (at, f = {}) => locateAudit(db(), at, f),
      row: (id) => auditRowDetail(db(), id),
    },
    keys: {
      list: (opts = {}) => listKeyRecords(db(), opts),
      add: (input) => addTrustedKey(db(), { ...input, operator: input.operator || ws.settings.operator || undefined }),
      rotate: (input) => rotateTrustedKey(db(), { ...input, operator: input.operator || ws.settings.operator || undefined }),
      revoke: (input) => revokeTrustedKey(db(), { ...input, operator: input.operator || ws.settings.operator || undefined }),
    },
    runbooks: {
      procedures,
      env: runEnv,
      createRun: (procedureId, opts = {}) => createRun(db(), findProcedure(procedures(), procedureId), { ...opts, operator: opts.operator || ws.settings.operator || undefined }),
      setInputs: (runId, inputs, opts = {}) => setRunInputs(db(), runId, procedures(), inputs, opts.operator || ws.settings.operator || undefined),
      findRun(runId) {
        try {
          return getRun(db(), runId, procedures());
        } catch (e) {
          if (isOpsError(e) && e.code === 'ERR_INPUT_NOT_FOUND') return null;
          throw e;
        }
      },
      getRun: (runId) => getRun(db(), runId, procedures()),
      listRuns: (opts = {}) => listRuns(db(), opts),
      advance: (runId, opts = {}) => advanceRun(runEnv(), runId, opts),
      exportEvidence: (runId, outDir, opts = {}) => exportRunEvidence(ws, db(), runId, procedures(), outDir, opts),
      restorePreview: (req = {}) => {
        const t = resolveTrust(db(), { ...req.trust, tenant: req.trust?.tenant ?? readState(db()).chain_tenant ?? undefined });
        return restorePreview(ws, db(), { engines: services, keys: t.keys, identities: t.identities, signal: req.signal, onProgress: req.onProgress });
      },
      restoreApply: (req) => {
        const t = resolveTrust(db(), { ...req.trust, tenant: req.trust?.tenant ?? readState(db()).chain_tenant ?? undefined });
        return restoreApply(ws, db(), { engines: services, reason: req.reason, operator: req.operator || ws.settings.operator || undefined, keys: t.keys, identities: t.identities, signal: req.signal, onProgress: req.onProgress });
      },
      unacknowledgedFailures: () => unacknowledgedFailures(ws, db()),
      acknowledgeFailures: (opts) => acknowledgeFailures(ws, db(), { reason: opts.reason, operator: opts.operator || ws.settings.operator || undefined }),
      async runCheck(name, params, signal) {
        const def = CHECKS[name];
        if (!def) throw new OpsError('ERR_USAGE', `No check named "${name}".`);
        return def.run({ ws, db: db(), settings: ws.settings, services, now: new Date(), params, previous: {}, signal: signal ?? new AbortController().signal });
      },
    },
  };
  return engine;
}

/** Opens an engine, runs `fn`, closes it. */
export async function withEngine<T>(workspaceDir: string, options: EngineOptions, fn: (e: Engine) => Promise<T> | T): Promise<T> {
  const e = createEngine(workspaceDir, options);
  try {
    return await fn(e);
  } finally {
    e.close();
  }
}
