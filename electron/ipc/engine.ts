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
  KeyInspection,
  KeyView,
  LibraryEntry,
  ParsedInput,
} from '../../shared/contract';
import type { WorkspaceStatus } from '../../shared/types';
import { openDatabase, type Db } from '../services/db/index';
import { resourcePath } from '../services/resources';
import { loadPublicKey } from '../services/verify/keys';
import type { Workspace } from '../services/workspace/index';
import type { JobContext, JobOutcome, JobParams } from './jobs';

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

function notInBuild(what: string): never {
  throw new OpsError('ERR_INTERNAL', `${what} is not available in this build of the console yet.`);
}

// --- staging and library --------------------------------------------------

export async function workspaceStatus(_s: WorkspaceSession, _deep: boolean): Promise<WorkspaceStatus> {
  return notInBuild('The staging service (workspace status)');
}

export async function rollback(_s: WorkspaceSession, _to: number | undefined): Promise<void> {
  notInBuild('The staging service (rollback)');
}

export async function libraryList(_s: WorkspaceSession): Promise<LibraryEntry[]> {
  return notInBuild('The library service');
}

// --- audit ------------------------------------------------------------------

export function auditList(_s: WorkspaceSession, _q: ParsedInput<'audit.list'>): AuditPage {
  return notInBuild('The audit log query');
}

export function auditVerify(_s: WorkspaceSession): AuditVerifyResult {
  return notInBuild('The audit chain verification');
}

// --- keys -------------------------------------------------------------------

export function keysList(_s: WorkspaceSession, _tenant: string | undefined): KeyView[] {
  return notInBuild('The trusted keys store');
}

/** Algorithm and fingerprint of a PEM public key, shown before the operator confirms it. */
export function keyInspect(pem: string): KeyInspection {
  const k = loadPublicKey(pem, 'workspace');
  return { fingerprint: k.fingerprint, algorithm: k.algorithm };
}

export function keysAdd(_s: WorkspaceSession, _input: ParsedInput<'keys.add'>): KeyView {
  return notInBuild('The trusted keys store');
}

export function keysRevoke(_s: WorkspaceSession, _input: ParsedInput<'keys.revoke'>): KeyView {
  return notInBuild('The trusted keys store');
}

// --- checklists -------------------------------------------------------------

export function checklistsList(_s: WorkspaceSession): ChecklistSummary[] {
  return notInBuild('The runbook engine');
}

export async function checklistStart(_s: WorkspaceSession, _id: string, _operator: string): Promise<ChecklistRunView> {
  return notInBuild('The runbook engine');
}

export async function checklistCompleteStep(_s: WorkspaceSession, _input: ParsedInput<'checklists.completeStep'>, _operator: string): Promise<ChecklistRunView> {
  return notInBuild('The runbook engine');
}

export function checklistStatus(_s: WorkspaceSession, _runId: string | undefined): ChecklistRunView[] {
  return notInBuild('The runbook engine');
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

/** Runs a verify or import job in this thread (the CLI's way; the app's worker calls this too). */
export async function runJobInProcess(_params: JobParams, _ctx: JobContext): Promise<JobOutcome> {
  return notInBuild('The verification and staging engine');
}
