/**
 * Error codes, their plain-language defaults, CLI exit codes and the runbook's
 * section 6 advice. Pure: no `node:*`, no DOM, no electron.
 */

import { escapeUntrusted } from './escape';

/** Codes fixed by the bundle contract (spec section 8). */
export const BUNDLE_ERROR_CODES = [
  'ERR_EXPORT_BASE_MISSING',
  'ERR_IMPORT_NON_MONOTONIC',
  'ERR_EXPORT_UNSUPPORTED_SCHEMA',
  'ERR_VERIFY_SIGNATURE',
  'ERR_VERIFY_DIGEST',
  'ERR_VERIFY_MISSING_FILE',
  'ERR_VERIFY_EXTRA_FILE',
  'ERR_VERIFY_TOMBSTONE',
  'ERR_BUNDLE_UNSAFE_ENTRY',
  'ERR_BUNDLE_LIMIT',
  'ERR_BUNDLE_CORRUPT',
  'ERR_DECRYPT_NO_RECIPIENT',
  'ERR_DECRYPT_AUTH',
] as const;

/** The console's own codes (environment, usage, state). */
export const CONSOLE_ERROR_CODES = [
  'ERR_INPUT_NOT_FOUND',
  'ERR_USAGE',
  'ERR_CANCELLED',
  'ERR_WORKSPACE_BUSY',
  'ERR_WORKSPACE_INVALID',
  'ERR_NO_SPACE',
  'ERR_DB_NEWER',
  'ERR_DB_CORRUPT',
  'ERR_IMPORTS_FROZEN',
  'ERR_KEY_INVALID',
  'ERR_KEY_NOT_FOUND',
  'ERR_FINGERPRINT_MISMATCH',
  'ERR_AUDIT_BROKEN',
  'ERR_RUNBOOK_INVALID',
  'ERR_CHECKLIST_STATE',
  'ERR_IPC_SENDER',
  'ERR_IPC_INPUT',
  'ERR_ENGINE_LOST',
  'ERR_INTERNAL',
] as const;

export type BundleErrorCode = (typeof BUNDLE_ERROR_CODES)[number];
export type ConsoleErrorCode = (typeof CONSOLE_ERROR_CODES)[number];
export type ErrorCode = BundleErrorCode | ConsoleErrorCode;

export const ALL_ERROR_CODES: readonly ErrorCode[] = [...BUNDLE_ERROR_CODES, ...CONSOLE_ERROR_CODES];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ALL_ERROR_CODES as readonly string[]).includes(value);
}

/** One error shape everywhere (CLI JSON, IPC, UI). */
export interface OpsErrorShape {
  code: ErrorCode;
  message: string;
  action?: string;
  path?: string;
  details?: Record<string, unknown>;
}

/** Throwable form of {@link OpsErrorShape}. */
export class OpsError extends Error {
  readonly code: ErrorCode;
  readonly action?: string;
  readonly path?: string;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, extra: { action?: string; path?: string; details?: Record<string, unknown>; cause?: unknown } = {}) {
    // Messages may quote bundle-derived names: no control character reaches a terminal, log or the UI raw.
    super(escapeUntrusted(message, code === 'ERR_USAGE' ? 'layout' : 'text'), extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'OpsError';
    this.code = code;
    this.action = extra.action ?? runbookAdvice(code)?.action;
    this.path = extra.path;
    this.details = extra.details;
  }

  toJSON(): OpsErrorShape {
    const out: OpsErrorShape = { code: this.code, message: this.message };
    if (this.action) out.action = this.action;
    if (this.path) out.path = this.path;
    if (this.details) out.details = this.details;
    return out;
  }
}

export function isOpsError(e: unknown): e is OpsError {
  return e instanceof OpsError;
}

/** Converts anything thrown into the one error shape, never leaking a stack to an operator. */
export function toErrorShape(e: unknown): OpsErrorShape {
  if (e instanceof OpsError) return e.toJSON();
  if (e && typeof e === 'object' && 'code' in e && isErrorCode((e as { code: unknown }).code)) {
    const o = e as { code: ErrorCode; message?: unknown; action?: unknown; path?: unknown };
    return {
      code: o.code,
      message: typeof o.message === 'string' ? o.message : o.code,
      ...(typeof o.action === 'string' ? { action: o.action } : {}),
      ...(typeof o.path === 'string' ? { path: o.path } : {}),
    };
  }
  const message = e instanceof Error ? e.message : String(e);
  return { code: 'ERR_INTERNAL', message: `Unexpected internal error: ${message}` };
}

/**
 * Every exit code the `mirror` CLI uses, with its meaning: the one list the
 * README's exit-code table is generated from (electron/cli/exit-codes.test.ts
 * checks the README against it, and every exit in the CLI's code against it).
 */
export const EXIT_CODES: readonly { exit: number; meaning: string }[] = [
  { exit: 0, meaning: 'verified / done' },
  { exit: 1, meaning: 'input not found, or an environment problem (workspace busy or invalid, disk full, database newer or damaged, imports frozen, a key not found, a checklist step out of order, an internal error); a checklist run whose outcome is fail' },
  { exit: 2, meaning: 'content mismatch: digest, size, missing, extra or tombstone; a broken audit chain, or pinned keys the audit log does not back' },
  { exit: 4, meaning: 'usage error: unknown command or flag, a bad setting value, a misspelled answer id, a fingerprint not confirmed' },
  { exit: 5, meaning: 'signature not verified, or key not trusted (also a trust store that does not match its audit log)' },
  { exit: 8, meaning: 'ordering: the delta\'s base is not the current export (missing, gap, mix-and-match), or a generation not above the current one' },
  { exit: 11, meaning: 'validation failed: unsafe entry (path rules), corrupt stream or manifest, limits, unsupported schema, decryption, an invalid key or runbook' },
  { exit: 130, meaning: 'cancelled (Ctrl-C, or SIGINT)' },
];

/** The README's exit-code table, generated from {@link EXIT_CODES} and {@link exitCodeFor}. */
export function exitCodeTableMarkdown(): string {
  const rows = EXIT_CODES.map(({ exit, meaning }) => {
    const codes = ALL_ERROR_CODES.filter((c) => exitCodeFor(c) === exit).map((c) => `\`${c}\``);
    return `| ${exit} | ${meaning} | ${codes.join(', ') || '(none)'} |`;
  });
  return ['| exit | meaning | error codes |', '|---|---|---|', ...rows].join('\n');
}

/**
 * CLI exit codes (as StellaOps' offline CLI): 0 verified; 1 input not found or
 * environment problem; 2 content mismatch; 4 usage; 5 signature/trust;
 * 8 ordering; 11 validation failed; 130 cancelled.
 */
export function exitCodeFor(code: ErrorCode | null | undefined): number {
  switch (code) {
    case null:
    case undefined:
      return 0;
    case 'ERR_VERIFY_DIGEST':
    case 'ERR_VERIFY_MISSING_FILE':
    case 'ERR_VERIFY_EXTRA_FILE':
    case 'ERR_VERIFY_TOMBSTONE':
    case 'ERR_AUDIT_BROKEN':
      return 2;
    case 'ERR_USAGE':
    case 'ERR_FINGERPRINT_MISMATCH':
      return 4;
    case 'ERR_VERIFY_SIGNATURE':
      return 5;
    case 'ERR_EXPORT_BASE_MISSING':
    case 'ERR_IMPORT_NON_MONOTONIC':
      return 8;
    case 'ERR_BUNDLE_UNSAFE_ENTRY':
    case 'ERR_BUNDLE_LIMIT':
    case 'ERR_BUNDLE_CORRUPT':
    case 'ERR_EXPORT_UNSUPPORTED_SCHEMA':
    case 'ERR_DECRYPT_NO_RECIPIENT':
    case 'ERR_DECRYPT_AUTH':
    case 'ERR_KEY_INVALID':
    case 'ERR_RUNBOOK_INVALID':
      return 11;
    case 'ERR_CANCELLED':
      return 130;
    default:
      // ERR_INPUT_NOT_FOUND, ERR_WORKSPACE_*, ERR_NO_SPACE, ERR_DB_*, ERR_IMPORTS_FROZEN, ...
      return 1;
  }
}

/**
 * When several checks fail, the reported code is the first in this order
 * (spec section 8). Lower rank wins.
 */
const PRECEDENCE: readonly ErrorCode[] = [
  'ERR_BUNDLE_CORRUPT',
  'ERR_BUNDLE_UNSAFE_ENTRY',
  'ERR_BUNDLE_LIMIT',
  'ERR_DECRYPT_NO_RECIPIENT',
  'ERR_DECRYPT_AUTH',
  'ERR_VERIFY_SIGNATURE',
  'ERR_EXPORT_UNSUPPORTED_SCHEMA',
  'ERR_VERIFY_DIGEST',
  'ERR_VERIFY_MISSING_FILE',
  'ERR_VERIFY_EXTRA_FILE',
  'ERR_VERIFY_TOMBSTONE',
  'ERR_IMPORT_NON_MONOTONIC',
  'ERR_EXPORT_BASE_MISSING',
];

export function precedenceRank(code: ErrorCode): number {
  const i = PRECEDENCE.indexOf(code);
  return i === -1 ? PRECEDENCE.length : i;
}

/** Picks the reported code among several failures (stream errors stop reading earlier anyway). */
export function pickReportedCode(codes: readonly ErrorCode[]): ErrorCode | null {
  let best: ErrorCode | null = null;
  for (const c of codes) if (best === null || precedenceRank(c) < precedenceRank(best)) best = c;
  return best;
}

export interface RunbookAdvice {
  symptom: string;
  cause: string;
  action: string;
  followUp: string;
}

/**
 * The runbook's section 6 failure table, adapted to an isolated host, plus
 * advice for the other contract codes. Keyed by error code.
 */
export const RUNBOOK_ADVICE: Partial<Record<ErrorCode, RunbookAdvice>> = {
  ERR_EXPORT_UNSUPPORTED_SCHEMA: {
    symptom: 'ERR_EXPORT_UNSUPPORTED_SCHEMA',
    cause: 'Trivy or export schema mismatch: the bundle was produced with a schema version this console does not accept.',
    action: 'Ask the Export Center operators to pin SchemaVersion to the previous value and rerun the export; bring the new bundle in.',
    followUp: 'Coordinate with the Exporter Guild to add the new mapping (runbook 9: schema upgrades need coordination).',
  },
  ERR_EXPORT_BASE_MISSING: {
    symptom: 'ERR_EXPORT_BASE_MISSING',
    cause: 'The delta\'s base manifest is not what staging holds (missing base, a gap in the chain, or a bundle from another chain).',
    action: 'Import the missing deltas in order, or request a full export (mirror:full) and import it; notify the tenant.',
    followUp: 'Investigate retention settings on the export side and on this host (runbook 5.2).',
  },
  ERR_IMPORT_NON_MONOTONIC: {
    symptom: 'ERR_IMPORT_NON_MONOTONIC',
    cause: 'The bundle is not newer than what staging holds: a replay or a rollback.',
    action: 'Nothing to apply. If you really must go back, import a full bundle with a written reason (--force-reason) or use mirror rollback.',
    followUp: 'Check how an older bundle reached the media.',
  },
  ERR_VERIFY_SIGNATURE: {
    symptom: 'CLI verification failure (signature)',
    cause: 'The bundle was not signed by a key trusted for this tenant, or it was altered after signing.',
    action: 'Do not import. Check the key fingerprints in the report against your change record; fetch a fresh copy of the bundle. If every new bundle fails this way (unsigned, or signed by a key you have not pinned) the cause is signing on the Export Center side (KMS outage or key change): follow the KMS outage playbook, mirror checklist run 7.3.',
    followUp: 'If the signing key was rotated, import the new key with a change record (runbook 9: mirror checklist run 9); engage the Exporter Guild if the data is bad.',
  },
  ERR_VERIFY_DIGEST: {
    symptom: 'CLI verification failure (content)',
    cause: 'A file does not match its signed digest or size: damaged media, an incomplete copy, or tampering.',
    action: 'Do not import. Copy the bundle again from the source media and rerun the verification manually.',
    followUp: 'Engage the Exporter Guild if a fresh copy fails the same way (data quality issue).',
  },
  ERR_VERIFY_MISSING_FILE: {
    symptom: 'CLI verification failure (missing file)',
    cause: 'A file listed in export.json is absent from the bundle: an incomplete or repackaged bundle.',
    action: 'Do not import. Obtain the bundle again and rerun the verification.',
    followUp: 'Engage the Exporter Guild if the export itself is incomplete.',
  },
  ERR_VERIFY_EXTRA_FILE: {
    symptom: 'CLI verification failure (extra file)',
    cause: 'The bundle holds a file that export.json does not list: a repackaged or tampered bundle.',
    action: 'Do not import. Obtain the bundle again from a trusted source and rerun the verification.',
    followUp: 'Report the bundle to the Exporter Guild.',
  },
  ERR_VERIFY_TOMBSTONE: {
    symptom: 'CLI verification failure (tombstones)',
    cause: 'The delta\'s removals, manifest diff and tombstones disagree.',
    action: 'Do not import this delta. Request a full export (mirror:full) or a regenerated delta.',
    followUp: 'Engage the Exporter Guild with the report.',
  },
  ERR_BUNDLE_UNSAFE_ENTRY: {
    symptom: 'Unsafe archive entry',
    cause: 'The archive holds a link, device, absolute or ".." path, or a duplicate member: it is not a bundle the Export Center writes.',
    action: 'Do not import. Quarantine the media and report it to security.',
    followUp: 'Engage the Exporter Guild and security with the report.',
  },
  ERR_BUNDLE_LIMIT: {
    symptom: 'Bundle beyond a limit',
    cause: 'The bundle unpacks to more than the configured limits allow (size, member count or compression ratio): possibly a decompression bomb.',
    action: 'Do not import. If the bundle is genuinely this large, raise the limit explicitly (for example --max-bytes) and verify again.',
    followUp: 'Review expected bundle sizes with the tenant (runbook 9: profile changes record expected bundle size).',
  },
  ERR_BUNDLE_CORRUPT: {
    symptom: 'Corrupt bundle',
    cause: 'The file is not a readable bundle (truncated or damaged zstd/tar/gzip stream, malformed manifest, or a broken database).',
    action: 'Copy the bundle again from the source media and rerun the verification manually.',
    followUp: 'Engage the Exporter Guild if a fresh copy is also corrupt.',
  },
  ERR_DECRYPT_NO_RECIPIENT: {
    symptom: 'Decryption failure (no recipient)',
    cause: 'None of the age identities given can decrypt this bundle.',
    action: 'Provide the age identity file for this host (--identity); check with Authority Core which recipient the export used.',
    followUp: 'Review the KMS/encryption key rotation schedule (runbook 6, signing failure row).',
  },
  ERR_DECRYPT_AUTH: {
    symptom: 'Decryption failure (authentication)',
    cause: 'Encrypted content failed authentication: it was altered, or the wrong key material was used.',
    action: 'Do not import. Copy the bundle again and verify; if it persists, escalate to Authority Core.',
    followUp: 'Document the incident.',
  },
  ERR_IMPORTS_FROZEN: {
    symptom: 'Signing failure (errorCode=signing) / KMS outage',
    cause: 'Imports were frozen during a KMS or signing outage (runbook 7.3).',
    action: 'Verify KMS health with Authority Core; resume imports with the recorded reason once signing is restored.',
    followUp: 'Document the incident and review the key rotation schedule.',
  },
  ERR_WORKSPACE_BUSY: {
    symptom: 'Run stuck in pending (workspace busy)',
    cause: 'Another command or the app holds the workspace lock (an import, a restore, retention), or a scheduled job overlaps with this one.',
    action: 'See who holds the lock: mirror status --workspace <dir> shows its pid, host, since when and the command. Wait for it to finish, or stop that process; a lock left by a dead process on this host is taken over by the next command.',
    followUp: 'If it recurs, look for overlapping scheduled jobs (cron / systemd timers) and space them out.',
  },
  ERR_NO_SPACE: {
    symptom: 'Disk full during apply',
    cause: 'The staging volume ran out of space; the current generation is untouched.',
    action: 'Free space (run retention: mirror retention run) or move the workspace to a larger volume, then import again.',
    followUp: 'Review capacity thresholds (runbook 5.2 storage planning).',
  },
};

export function runbookAdvice(code: ErrorCode): RunbookAdvice | undefined {
  return RUNBOOK_ADVICE[code];
}
