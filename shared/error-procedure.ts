/**
 * Which runbook procedure answers an error code: the playbook the runbook's
 * advice names (`mirror checklist run 7.3`), or the one that fits the failure.
 * Pure: used by the renderer's error details to link to the procedure.
 */
import { errorGuide } from './error-guide';
import type { ErrorCode } from './errors';

/** Procedures by the runbook section they implement (resources/runbooks/<section>-*.json). */
const BY_CODE: Partial<Record<ErrorCode, string>> = {
  ERR_EXPORT_BASE_MISSING: '7.2',
  ERR_IMPORT_NON_MONOTONIC: '7.2',
  ERR_VERIFY_SIGNATURE: '7.3',
  ERR_IMPORTS_FROZEN: '7.3',
  ERR_NO_SPACE: '5.2',
  ERR_VERIFY_DIGEST: '8.2',
  ERR_VERIFY_MISSING_FILE: '8.2',
  ERR_VERIFY_EXTRA_FILE: '8.2',
  ERR_VERIFY_TOMBSTONE: '8.2',
  ERR_KEY_NOT_FOUND: '9',
  ERR_FINGERPRINT_MISMATCH: '9',
};

/** The runbook section of the procedure to follow for `code`, or null when none fits. */
export function procedureFor(code: ErrorCode | string | null | undefined): string | null {
  if (!code) return null;
  const direct = BY_CODE[code as ErrorCode];
  if (direct) return direct;
  const g = errorGuide(code as ErrorCode);
  const m = /checklist run (\d+(?:\.\d+)?)/.exec(`${g.action} ${g.followUp ?? ''}`);
  return m ? m[1] : null;
}
