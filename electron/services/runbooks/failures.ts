/**
 * The runbook's section 6 failure table as a lookup: error code (or symptom
 * keyword) → likely cause, immediate action, follow-up. Codes come from
 * shared/errors.ts RUNBOOK_ADVICE; the rows without an error code
 * (signing, distribution, retention skipped, run stuck) are adapted to an
 * isolated host here.
 */
import { isErrorCode, RUNBOOK_ADVICE, type RunbookAdvice } from '../../../shared/errors';

export interface FailureAdvice extends RunbookAdvice {
  key: string;
}

/** Section 6 rows that are symptoms rather than console error codes. */
export const SYMPTOM_ADVICE: Record<string, RunbookAdvice> = {
  signing: {
    symptom: 'Signing failure (errorCode=signing)',
    cause: 'KMS outage or permission change on the Export Center side: new bundles arrive unsigned or signed by an unexpected key.',
    action: 'Freeze imports with the reason (mirror checklist run kms-outage), verify KMS health with Authority Core, and import again once bundles verify.',
    followUp: 'Document the incident and review the key rotation schedule; resume imports with a recorded reason.',
  },
  distribution: {
    symptom: 'Distribution failure (errorCode=distribution)',
    cause: 'The transfer to this isolated host failed (media or transfer outage): bundles are missing or truncated.',
    action: 'Switch to another transfer path (another removable medium) and verify the bundles again before importing.',
    followUp: 'Restore the usual transfer path and check the kit holds the latest full + deltas (checklist pre-release).',
  },
  'retention-skipped': {
    symptom: 'Retention job skipped (ExportCenterRetentionStale)',
    cause: 'The scheduler did not run retention, or it is misconfigured.',
    action: 'Run retention manually: mirror retention run --workspace <dir>.',
    followUp: 'Audit the scheduler configuration (cron / systemd timer) on this host.',
  },
  'run-stuck': {
    symptom: 'Run stuck in pending',
    cause: 'An import or verification job is waiting on the workspace lock, or its process died.',
    action: 'Check the workspace lock holder (mirror status); a lock left by a dead process is taken over automatically on the next command.',
    followUp: 'If it recurs, look for overlapping scheduled jobs.',
  },
  'ci-verification': {
    symptom: 'CLI verification failure in CI',
    cause: 'A new bundle did not pass signature or Trivy verification.',
    action: 'Inspect the verification report (mirror verify --json); copy the bundle again and rerun the verification manually.',
    followUp: 'Engage the Exporter Guild if it is a data quality issue.',
  },
};

/** Looks up an error code (ERR_…) or a symptom keyword. Case-insensitive for keywords. */
export function failureLookup(codeOrSymptom: string): FailureAdvice | null {
  const k = codeOrSymptom.trim();
  if (isErrorCode(k)) {
    const a = RUNBOOK_ADVICE[k];
    return a ? { key: k, ...a } : null;
  }
  const lower = k.toLowerCase();
  const s = SYMPTOM_ADVICE[lower];
  return s ? { key: lower, ...s } : null;
}

/** The whole table: every code with advice, then the symptom rows. */
export function failureTable(): FailureAdvice[] {
  const codes = Object.entries(RUNBOOK_ADVICE).map(([key, a]) => ({ key, ...(a as RunbookAdvice) }));
  const symptoms = Object.entries(SYMPTOM_ADVICE).map(([key, a]) => ({ key, ...a }));
  return [...codes, ...symptoms];
}
