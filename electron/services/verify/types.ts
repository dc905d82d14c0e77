/** Options shared by every verifier (bundle, Trivy bundle, kit, workspace). */
import type { Limits } from '../../../shared/settings';
import type { JobProgress, Verdict } from '../../../shared/types';
import type { TrustedKey } from './keys';

export interface VerifyOptions {
  keys: TrustedKey[];
  /** age identity strings (AGE-SECRET-KEY-1…). */
  identities?: string[];
  passphrase?: string;
  /** Detached signature file path, for a Trivy bundle given alone. */
  signature?: string;
  /** Sigstore trusted root JSON file. */
  trustedRoot?: string;
  certificateIdentity?: string;
  certificateOidcIssuer?: string;
  limits?: Partial<Limits>;
  signal?: AbortSignal;
  onProgress?: (p: JobProgress) => void;
  /**
   * How a workspace folder given as the input is checked (its staging tree
   * against its signed state). Passed in by the composition root
   * (services/engine.ts); without it a workspace input is ERR_USAGE.
   */
  verifyWorkspace?: WorkspaceVerifier;
}

export type WorkspaceVerifier = (dir: string, opts: { signal?: AbortSignal }) => Promise<Verdict>;
