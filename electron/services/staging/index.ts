/**
 * The staging engine (issue 4): ordered delta application with atomic
 * generations, rollback, crash-safe resume, Trivy layout, deep verification.
 *
 * Public entry points take a Workspace, open its database, and take the
 * single-writer lock where they write (recovery of an interrupted apply runs
 * first, every time a workspace is opened for writing).
 */
import { acquireWriteLock, openWorkspace, type Workspace, type WriteLock } from '../workspace/index';
import { openDatabase, type Db } from '../db/index';
import type { Verdict } from '../../../shared/types';
import { isOpsError, OpsError } from '../../../shared/errors';
import { recoverInterruptedApply as recoverLocked, type RecoveryReport } from './recover';
import { importLocked, type ImportOptions } from './import';
import { rollback as rollbackLocked, type RollbackOptions, type RollbackResult } from './rollback';
import { stagingStatus, type StagingStatus } from './status';
import { verifyGeneration, type TreeVerifyOptions } from './verify-tree';
import type { StagingHooks } from './fsops';
import type { ImportResult } from './types';

export type { ImportOptions } from './import';
export type { RollbackOptions, RollbackResult } from './rollback';
export type { StagingStatus } from './status';
export type { RecoveryReport } from './recover';
export type { TreeVerifyOptions } from './verify-tree';
export type { StagingFs, StagingHooks } from './fsops';
export type { ApplyOptions } from './apply';
export type * from './types';
export { applyPrepared, checkChain, pruneGenerations } from './apply';
export { recoverInterruptedApply as recoverLocked } from './recover';
export { verifyGeneration } from './verify-tree';
export { stagingStatus } from './status';
export { importLocked } from './import';
export { rollback as rollbackLocked, pickRollbackTarget } from './rollback';
export { installTrivy } from './trivy-install';
export { readKitManifest, isKitDir } from './kit';
export { nodeStagingFs } from './fsops';
export { currentLinkSeq } from './switch';
export { listGenerations, listLibrary, currentGeneration, readState, setImportsFrozen, ledgerBytes } from './store';

/** An open workspace for writing: lock held, recovery done, database open. */
export interface WriteSession {
  ws: Workspace;
  db: Db;
  lock: WriteLock;
  recovery: RecoveryReport;
  close(): void;
}

/**
 * Opens a workspace for writing: takes the lock (ERR_WORKSPACE_BUSY when
 * another process holds it), opens the database and finishes or rolls back
 * any interrupted apply. `create` initialises a missing workspace.
 */
export function openForWrite(dirOrWs: string | Workspace, purpose: string, opts: { create?: boolean; hooks?: StagingHooks } = {}): WriteSession {
  const ws = typeof dirOrWs === 'string' ? openWorkspace(dirOrWs, { create: opts.create }) : dirOrWs;
  const lock = acquireWriteLock(ws, purpose);
  let db: Db | null = null;
  try {
    try {
      db = openDatabase(ws.layout.db);
    } catch (e) {
      // SQLite reports a full disk as "database or disk is full"; that is not damage.
      if (isOpsError(e) && e.code === 'ERR_DB_CORRUPT' && /disk is full|SQLITE_FULL|ENOSPC/i.test(`${e.message} ${String((e as { cause?: unknown }).cause ?? '')}`)) {
        throw new OpsError('ERR_NO_SPACE', `The workspace volume is full: the database ${ws.layout.db} cannot even be opened for writing. Nothing was changed. Free space on the volume, then try again.`, { path: ws.dir, cause: e });
      }
      throw e;
    }
    // Commits of staging state must be durable before the apply journal is removed.
    db.pragma('synchronous = FULL');
    const recovery = recoverLocked(ws, db, opts.hooks);
    const d = db;
    return {
      ws,
      db: d,
      lock,
      recovery,
      close() {
        try {
          d.close();
        } finally {
          lock.release();
        }
      },
    };
  } catch (e) {
    try {
      db?.close();
    } finally {
      lock.release();
    }
    throw e;
  }
}

async function withSession<T>(ws: Workspace, purpose: string, hooks: StagingHooks | undefined, fn: (s: WriteSession) => Promise<T>): Promise<T> {
  const s = openForWrite(ws, purpose, { hooks });
  try {
    return await fn(s);
  } finally {
    s.close();
  }
}

async function withReadDb<T>(ws: Workspace, fn: (db: Db) => Promise<T>): Promise<T> {
  const db = openDatabase(ws.layout.db);
  try {
    return await fn(db);
  } finally {
    db.close();
  }
}

/** Imports bundle files and kit folders (verify + extract in one read, then apply in order). */
export function importBundles(ws: Workspace, paths: string[], opts: ImportOptions): Promise<ImportResult> {
  return withSession(ws, 'mirror import', opts.hooks, (s) => importLocked(s.ws, s.db, paths, opts));
}

/** Returns to a kept generation after deep-verifying it. */
export function rollback(ws: Workspace, opts: RollbackOptions = {}): Promise<RollbackResult> {
  return withSession(ws, 'mirror rollback', opts.hooks, (s) => rollbackLocked(s.ws, s.db, opts));
}

/** Current export, kept generations, library, last apply (read-only). */
export function workspaceStatus(ws: Workspace, opts: { deep?: boolean; signal?: AbortSignal } = {}): Promise<StagingStatus> {
  return withReadDb(ws, (db) => stagingStatus(ws, db, opts));
}

/** Deep verification of the current generation (or `opts.seq`) against its signed state (kind 'workspace'). */
export function verifyStagingTree(ws: Workspace, opts: TreeVerifyOptions = {}): Promise<Verdict> {
  return withReadDb(ws, (db) => verifyGeneration(ws, db, opts));
}

/** Finishes or rolls back an interrupted apply; takes the write lock for it. */
export function recoverInterruptedApply(ws: Workspace, opts: { hooks?: StagingHooks } = {}): RecoveryReport {
  const s = openForWrite(ws, 'recovery', opts);
  s.close();
  return s.recovery;
}
