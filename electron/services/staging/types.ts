/** Types of the staging engine (issue 4). */
import type { BundleKind, Verdict } from '../../../shared/types';
import type { ErrorCode } from '../../../shared/errors';
import type { FileListLike } from '../verify/file-list';
import type { PendingDurable } from '../durability';

/**
 * The parts of a verified export.json the staging engine uses. Structural, so
 * the verifier's zod-parsed `ExportJson` is assignable to it.
 */
export interface StagingExport {
  exportId: string;
  runId?: string | null;
  tenant: string;
  profile: { id: string; kind?: string; variant: string };
  generation: number;
  createdAt: string;
  base?: { exportId: string; generation: number; manifestDigest: string } | null;
  resetBaseline?: boolean | null;
  /** The verifier's compact FileList (or an array): read with for..of, `.length` and `.at(i)`. */
  files: FileListLike<{ path: string; sha256: string; size: number }>;
  removed?: readonly string[] | null;
  state: { fileCount: number; totalBytes: number; digest: string };
}

/** A verified bundle whose payload files already sit (plaintext) in an incoming folder. */
export interface PreparedBundle {
  /** Input path as given (for messages and audit). */
  path: string;
  exp: StagingExport;
  /**
   * export.json's exact bytes, in memory; or, for a bundle with a very long
   * file list, `exportJsonFile`: a file holding exactly those bytes (the
   * verifier's spool), copied into the generation's folder by the apply
   * without being held. One of the two.
   */
  exportJsonBytes?: Buffer;
  exportJsonFile?: string;
  /** hex sha256 of export.json's bytes. */
  exportJsonSha256: string;
  /** incoming/<job>/files: holds every path of exp.files, verified, but those in `placed`. */
  filesDir: string;
  /** Files of a delta the extraction wrote into spare files (path -> where; spares.ts): moved into place from there. */
  placed?: ReadonlyMap<string, string>;
  job: string;
  /** The raw bundle copy to put in the library with this apply (teed during verification). */
  library?: { tmpFile: string; sha256: string; size: number; name: string };
  /** Seconds spent in the single verify + extract pass (for stats). */
  verifySeconds?: number;
  /** The flush of `filesDir` to stable storage, when still running: the build waits for it first. */
  durable?: PendingDurable;
}

export interface GenerationRow {
  seq: number;
  export_id: string;
  generation: number;
  variant: string;
  reset_baseline: number;
  tenant: string;
  profile_id: string;
  run_id: string | null;
  created_at: string;
  export_json_sha256: string;
  state_digest: string;
  file_count: number;
  total_bytes: number;
  base_seq: number | null;
  library_sha256: string | null;
  applied_at: string;
  /** Bytes of the files its build created (the rest of its tree is hard links to its base's); null before migration 3. */
  new_bytes: number | null;
  /** Bytes of its staging/<seq>.meta files; null before migration 3. */
  meta_bytes: number | null;
  status: 'kept' | 'pruned';
  pruned_at: string | null;
}

export interface LibraryRow {
  sha256: string;
  file: string;
  name: string;
  kind: BundleKind;
  size: number;
  export_id: string | null;
  generation: number | null;
  reset_baseline: number;
  export_json_sha256: string | null;
  created_at: string | null;
  imported_at: string;
  pruned_at: string | null;
}

export interface StagingStateRow {
  current_seq: number | null;
  chain_tenant: string | null;
  chain_profile_id: string | null;
  last_apply: string | null;
  imports_frozen: number;
  frozen_reason: string | null;
  frozen_at: string | null;
}

/** How an apply spent its time: sharing unchanged files vs. bringing in changed ones. */
export interface ApplyStats {
  /** Unchanged files shared with the previous generation (hard links). */
  linkedFiles: number;
  linkSeconds: number;
  /** Files brought in from the verified incoming folder (renamed, same filesystem). */
  writtenFiles: number;
  writtenBytes: number;
  writeSeconds: number;
  /** Folders created in the new tree. */
  dirs: number;
  fsyncSeconds: number;
  switchSeconds: number;
  /** The verify + extract pass (one read of the bundle). */
  verifySeconds: number;
  /** A delta built in the tree of a generation retention dropped: only the differing paths were touched. */
  recycled?: { fromSeq: number; movedOut: number; placed: number; touchedDirs: number };
  totalSeconds: number;
}

export interface ApplyResult {
  seq: number;
  exportId: string;
  generation: number;
  stateDigest: string;
  forced: boolean;
  prunedSeqs: number[];
  stats: ApplyStats;
}

export type ImportOutcome = 'applied' | 'already-applied' | 'refused' | 'not-applied' | 'planned' | 'installed';

/** One bundle of an import, in application order. */
export interface ImportItem {
  path: string;
  kind: BundleKind | null;
  exportId: string | null;
  generation: number | null;
  outcome: ImportOutcome;
  code: ErrorCode | null;
  message: string;
  seq?: number;
  stats?: ApplyStats;
  verdict?: Verdict;
  /** The input file's own sha256 and size, when read (recorded with a refusal). */
  sha256?: string;
  size?: number;
}

export interface ImportResult {
  ok: boolean;
  code: ErrorCode | null;
  message: string;
  action: string | null;
  dryRun: boolean;
  items: ImportItem[];
  /** Export generations known to be missing when a gap stopped the import. */
  missing: number[];
  current: { seq: number; exportId: string; generation: number; stateDigest: string } | null;
  warnings: string[];
}
