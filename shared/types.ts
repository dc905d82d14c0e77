/** Domain types shared by the engine, the CLI, IPC and the renderer. Pure. */
import type { ErrorCode } from './errors';

export type BundleKind = 'mirror-full' | 'mirror-delta' | 'trivy-db' | 'trivy-java-db';
export type VerdictKind = BundleKind | 'kit' | 'workspace';

export interface Check {
  name: string;
  ok: boolean;
  detail?: string;
}

/** One failed check, with the offending member where there is one. */
export interface Failure {
  code: ErrorCode;
  message: string;
  path?: string;
}

/**
 * The result of verifying anything (bundle, kit, staging tree). Shape of
 * `mirror verify --json`: {ok, code, message, action, path, kind, exportId,
 * generation, checks, items, warnings, stats}.
 */
export interface Verdict {
  ok: boolean;
  code: ErrorCode | null;
  message: string;
  action: string | null;
  /** The input as given (file or folder). */
  path: string;
  kind: VerdictKind;
  exportId: string | null;
  generation: number | null;
  checks: Check[];
  /** For a kit: one result per entry, in application order. */
  items: Verdict[];
  warnings: string[];
  stats: { bytes: number; files: number; seconds: number };
  /** Every failed check (the reported `code` is the first by the spec's precedence). */
  failures?: Failure[];
  /** The offending member (inside the bundle) where there is one. */
  member?: string;
  /** The input file's own SHA-256 and size, computed during the one read (file inputs read completely). */
  file?: { sha256: string; size: number };
  /** Key fingerprints that were tried, and the one that verified (if any). */
  keys?: { tried: string[]; signedBy: string[] };
}

/** Progress of a long job (verify, import, apply). */
/** The steps of an import, in order (verify reads, checks and extracts in one pass; extract makes the extracted tree durable). */
export const JOB_STEPS = ['verify', 'extract', 'apply', 'switch'] as const;
export type JobStep = (typeof JOB_STEPS)[number];

export interface JobProgress {
  jobId: string;
  /** Free text from the engine (e.g. "verify", "verify mirror/x.tar.zst", "apply"). */
  phase: string;
  bytesDone: number;
  bytesTotal: number | null;
  member?: string;
  /** Instantaneous rate over a sliding window of the last seconds of this phase (not since job start). */
  bytesPerSecond?: number;
  /** The phase as one of the import steps (verify → extract → apply → switch), when it is one. */
  step?: JobStep;
  /** "bundle k of n": 1-based index of the bundle being worked on, and how many the job has. */
  bundleIndex?: number;
  bundleCount?: number;
  /** The bundle being worked on (file name). */
  bundle?: string;
  /** 0..100 of this phase, when its total is known. */
  percent?: number | null;
  /** Seconds left in this phase at the current rate, when it can be estimated. */
  etaSeconds?: number | null;
  /** Milliseconds since the job started. */
  elapsedMs?: number;
}

export interface ExportFileEntry {
  path: string;
  sha256: string;
  size: number;
  mediaType?: string;
  storedSha256?: string;
  storedSize?: number;
}

export interface GenerationInfo {
  /** Local sequence number of the staging folder. */
  seq: number;
  generation: number;
  exportId: string;
  appliedAt: string;
}

export interface WorkspaceStatus {
  exportId: string | null;
  generation: number | null;
  stateDigest: string | null;
  generations: { generation: number; exportId: string; appliedAt: string }[];
  library: { file: string; kind: BundleKind; exportId: string | null; generation: number | null; sha256: string }[];
}

/** One audit log row (hash-chained: hash = sha256(prevHash || canonical JSON of the other fields)). */
export interface AuditRow {
  id: number;
  ts: string;
  actor: string;
  action: string;
  subject: string;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}
