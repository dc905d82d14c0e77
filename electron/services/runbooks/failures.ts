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
    cause: 'KMS outage or permission change on the Export Center side: new bundles arrive unsigned or signed by an unexpected key (ERR_VERIFY_SIGNATURE).',
    action: 'Freeze imports with the reason (mirror checklist run 7.3), verify KMS health with Authority Core, and import again once bundles verify.',
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
    cause: 'An import or verification job is waiting on the workspace lock (ERR_WORKSPACE_BUSY), or its process died.',
    action: 'Check the workspace lock holder: mirror status --workspace <dir> shows its pid, host, since when and the command. Wait for it or stop that process; a lock left by a dead process is taken over automatically on the next command.',
    followUp: 'If it recurs, look for overlapping scheduled jobs.',
  },
  'staging-damaged': {
    symptom: 'Staging tree does not verify (tampered or damaged on disk)',
    cause: 'Files under staging/current no longer match the signed state of the current export: disk damage or tampering on this host. The bundles themselves are not the problem.',
    action: 'Roll back to a kept generation (mirror rollback --workspace <dir>; it is deep-verified first) or rebuild staging from the library (mirror checklist run 7.2). Keep a copy of the damaged tree as evidence.',
    followUp: 'Check the disk (SMART, filesystem) and who had write access to the workspace; report tampering to security.',
  },
  'ci-verification': {
    symptom: 'CLI verification failure in CI',
    cause: 'A new bundle did not pass signature or Trivy verification.',
    action: 'Inspect the verification report (mirror verify --json); copy the bundle again and rerun the verification manually.',
    followUp: 'Engage the Exporter Guild if it is a data quality issue.',
  },
};

/** Whitespace, case and punctuation do not matter when matching a symptom text. */
function norm(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9=_]+/g, ' ').trim();
}

/**
 * Looks up an error code (ERR_…, any case), a symptom keyword (signing,
 * run-stuck, …), `errorCode=<keyword>`, or the runbook's own symptom text
 * ("Run stuck in pending", "Signing failure (errorCode=signing)", …).
 */
export function failureLookup(codeOrSymptom: string): FailureAdvice | null {
  const k = codeOrSymptom.trim();
  const upper = k.toUpperCase();
  if (isErrorCode(upper)) {
    const a = RUNBOOK_ADVICE[upper];
    return a ? { key: upper, ...a } : null;
  }
  const lower = k.toLowerCase();
  const byKey = SYMPTOM_ADVICE[lower] ?? SYMPTOM_ADVICE[lower.replace(/\s+/g, '-')];
  if (byKey) return { key: SYMPTOM_ADVICE[lower] ? lower : lower.replace(/\s+/g, '-'), ...byKey };
  const m = /^errorcode\s*=\s*([a-z_-]+)$/i.exec(k);
  if (m) return failureLookup(m[1]);
  const n = norm(k);
  if (!n) return null;
  const rows: [string, RunbookAdvice][] = [...Object.entries(SYMPTOM_ADVICE), ...(Object.entries(RUNBOOK_ADVICE) as [string, RunbookAdvice][])];
  // The runbook's symptom text, whole or its start ("Run stuck in pending", "Retention job skipped").
  for (const [key, a] of rows) {
    const sym = norm(a.symptom);
    if (sym === n || sym.startsWith(n + ' ') || (n.length >= 12 && sym.includes(n))) return { key, ...a };
  }
  return null;
}

/** The whole table: every code with advice, then the symptom rows. */
export function failureTable(): FailureAdvice[] {
  const codes = Object.entries(RUNBOOK_ADVICE).map(([key, a]) => ({ key, ...(a as RunbookAdvice) }));
  const symptoms = Object.entries(SYMPTOM_ADVICE).map(([key, a]) => ({ key, ...a }));
  return [...codes, ...symptoms];
}
