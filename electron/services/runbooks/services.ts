/**
 * What the runbook service is given by the composition root (engine.ts
 * `createEngine`): the staging engine, the verifier and the one trust policy,
 * bound to the workspace. Checks reach those only through this object (on
 * their context), never through a module-level hook or an import-time
 * registration. A missing engine (null) turns a check into "unknown" with a
 * clear summary.
 */
import type { Verdict } from '../../../shared/types';
import type { Db } from '../db/index';
import type { Trust, TrustInput } from '../trust';
import type { ImportOptions, ImportResult, TreeVerifyOptions } from '../staging/index';
import type { MirrorBundleResult, MirrorVerifyOptions, VerifyOptions } from '../verify/index';
import type { TrivyVerifyOptions } from '../verify/trivy';
import type { Workspace } from '../workspace/index';

/** The staging engine's operations the checks and the restore use. */
export interface StagingSeam {
  importBundles(ws: Workspace, paths: string[], opts: ImportOptions): Promise<ImportResult>;
  verifyStagingTree(ws: Workspace, opts?: TreeVerifyOptions): Promise<Verdict>;
}

/** The verifier's entry points the checks and the restore use. */
export interface VerifySeam {
  verifyPath(path: string, opts: VerifyOptions): Promise<Verdict>;
  verifyMirrorBundle(file: string, opts: MirrorVerifyOptions): Promise<MirrorBundleResult>;
  verifyTrivyBundle(file: string, opts: TrivyVerifyOptions): Promise<Verdict>;
}

export interface RunbookServices {
  /** The staging engine (import, staging-tree verification), or null when not available. */
  staging: StagingSeam | null;
  /** The verifier for bundles and kits, or null when not available. */
  verify: VerifySeam | null;
  /**
   * The one trust policy (trust.ts `resolveTrust`) for the workspace a check
   * runs in: pinned keys each for its own tenant, audited trust store,
   * revocation. Every key a check verifies with comes from here.
   */
  trust(db: Db, input?: TrustInput): Trust;
}

/** Builds the services object (the composition root passes the real engines; tests may pass null for one). */
export function runbookServices(parts: RunbookServices): RunbookServices {
  return { staging: parts.staging, verify: parts.verify, trust: parts.trust };
}
