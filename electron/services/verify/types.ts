/** Options shared by every verifier (bundle, Trivy bundle, kit, workspace). */
import type { Limits } from '../../../shared/settings';
import type { JobProgress } from '../../../shared/types';
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
}
