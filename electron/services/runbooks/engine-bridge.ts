/**
 * The runbook engine drives the real staging and verification engines through
 * their agreed seams (staging/index.ts importBundles + verifyStagingTree,
 * verify/index.ts verifyPath). A missing engine (a test double of null)
 * turns a check into "unknown" with a clear summary.
 */
import * as staging from '../staging/index';
import * as verify from '../verify/index';
import type { Verdict } from '../../../shared/types';
import type { Workspace } from '../workspace/index';
import type { TrustedKey } from '../verify/keys';

/** The parts of the staging engine's ImportResult the playbooks read. */
export interface ImportResultLike {
  ok: boolean;
  code: string | null;
  message: string;
  items: { path: string; outcome: string; code: string | null; message: string; exportId: string | null; generation: number | null }[];
  current?: { seq: number; exportId: string; generation: number; stateDigest: string } | null;
}

export interface StagingSeam {
  importBundles(ws: Workspace, paths: string[], opts: { keys: TrustedKey[]; identities?: string[]; forceReason?: string; operator?: string; signal?: AbortSignal }): Promise<ImportResultLike>;
  verifyStagingTree(ws: Workspace, opts?: Record<string, unknown>): Promise<Verdict>;
}

export interface VerifySeam {
  verifyPath(path: string, opts: { keys: TrustedKey[]; identities?: string[]; signature?: string; signal?: AbortSignal }): Promise<Verdict>;
}

let stagingOverride: StagingSeam | null | undefined;
let verifyOverride: VerifySeam | null | undefined;

/** For tests that need a specific engine double (null = "not available"); `undefined` restores the real engine. */
export function setEngineForTests(seams: { staging?: StagingSeam | null; verify?: VerifySeam | null }): void {
  stagingOverride = seams.staging;
  verifyOverride = seams.verify;
}

export async function stagingEngine(): Promise<StagingSeam | null> {
  if (stagingOverride !== undefined) return stagingOverride;
  return { importBundles: staging.importBundles as StagingSeam['importBundles'], verifyStagingTree: staging.verifyStagingTree as StagingSeam['verifyStagingTree'] };
}

export async function verifyEngine(): Promise<VerifySeam | null> {
  if (verifyOverride !== undefined) return verifyOverride;
  return { verifyPath: verify.verifyPath };
}
