/**
 * The runbook engine drives the real staging and verification engines through
 * their agreed seams. They are loaded on first use so that a missing or
 * broken engine turns a check into "unknown" (with a clear summary) instead
 * of breaking every checklist.
 */
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

// Specifiers in variables: bundlers leave them alone and tests load the source.
const STAGING = '../staging/index';
const VERIFY = '../verify/index';

let stagingOverride: StagingSeam | null | undefined;
let verifyOverride: VerifySeam | null | undefined;

/** For tests that need a specific engine double; `undefined` restores the real loader. */
export function setEngineForTests(seams: { staging?: StagingSeam | null; verify?: VerifySeam | null }): void {
  stagingOverride = seams.staging;
  verifyOverride = seams.verify;
}

async function load<T>(spec: string, names: string[]): Promise<T | null> {
  try {
    const mod = (await import(/* @vite-ignore */ spec)) as Record<string, unknown>;
    return names.every((n) => typeof mod[n] === 'function') ? (mod as unknown as T) : null;
  } catch {
    return null;
  }
}

export async function stagingEngine(): Promise<StagingSeam | null> {
  if (stagingOverride !== undefined) return stagingOverride;
  return load<StagingSeam>(STAGING, ['importBundles', 'verifyStagingTree']);
}

export async function verifyEngine(): Promise<VerifySeam | null> {
  if (verifyOverride !== undefined) return verifyOverride;
  return load<VerifySeam>(VERIFY, ['verifyPath']);
}
