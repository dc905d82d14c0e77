/**
 * The IPC contract: ONE map from channel name to its zod input schema and the
 * TypeScript type of its result, plus the topics the renderer can subscribe
 * to. Pure: no `node:*`, no DOM, no electron.
 *
 * Two verbs cross the bridge (see `ConsoleApi`):
 *  - `invoke(channel, input)` → `Envelope<output>` (never throws across IPC),
 *  - `subscribe(topic, listener)` → unsubscribe function.
 */
import { z } from 'zod';
import type { OpsErrorShape } from './errors';
import { SettingsSchema, type Settings } from './settings';
import { CHANNEL_NAMES, EVENT_CHANNEL, TOPIC_NAMES } from './channels';
import type { ErrorCode } from './errors';
import type { AuditRow, BundleKind, JobProgress, Verdict, WorkspaceStatus } from './types';
import type { HealthReport } from './health';

// ---------------------------------------------------------------------------
// Result envelope

export type Envelope<T> = { ok: true; value: T } | { ok: false; error: OpsErrorShape };

// ---------------------------------------------------------------------------
// Input building blocks

/** A path given by the operator (file picker or typed). Never empty, no NUL. */
const PathInput = z
  .string()
  .trim()
  .min(1, 'A path is required.')
  .max(4096, 'The path is too long (more than 4096 characters).')
  .refine((p) => !p.includes('\u0000'), 'The path contains a NUL character.');

const NoInput = z.object({}).strict().optional();

const Fingerprint = z
  .string()
  .trim()
  .regex(/^sha256:[0-9a-f]{64}$/, 'A key fingerprint looks like sha256: followed by 64 lowercase hex digits.');

const Reason = z.string().trim().min(3, 'Give a reason (a change record or a short explanation) of at least 3 characters.').max(2000);

/** Trust material for verify/import, beyond the workspace's pinned keys. */
const TrustInput = {
  /** PEM public key files to trust for this run (the CLI's --key). */
  keyFiles: z.array(PathInput).max(32).optional(),
  /** age identity files (the CLI's --identity). */
  identityFiles: z.array(PathInput).max(32).optional(),
};

/** Filters of the audit view. */
const AuditFilterInput = {
  action: z.string().trim().max(200).optional(),
  actor: z.string().trim().max(200).optional(),
  subject: z.string().trim().max(500).optional(),
  from: z.string().datetime({ message: 'from must be an RFC 3339 UTC timestamp.' }).optional(),
  to: z.string().datetime({ message: 'to must be an RFC 3339 UTC timestamp.' }).optional(),
};

// ---------------------------------------------------------------------------
// Output types (the engine's results as the renderer sees them)

export interface AppInfo {
  name: string;
  productName: string;
  version: string;
  workspacePath: string;
  /** Whether the workspace holds nothing yet (no generation, no library entry). */
  workspaceEmpty: boolean;
  platform: string;
  arch: string;
  versions: { node: string; chromium: string | null; electron: string | null; v8: string };
  /** Where the handler table runs: the Electron main process, the browser shell (installed Chromium), or the test bridge. */
  host: 'electron' | 'browser' | 'bridge';
  /** Whether `dialog.openPath` opens a native picker here (the browser shell has none: paths are typed). */
  nativePicker: boolean;
}

export type JobKind = 'verify' | 'import' | 'restore-preview' | 'restore-apply';

/** Jobs that change staging: only one at a time (a second is refused with ERR_WORKSPACE_BUSY naming the first). */
export const WRITER_JOB_KINDS: readonly JobKind[] = ['import', 'restore-apply'];
export type JobState = 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface JobInfo {
  jobId: string;
  kind: JobKind;
  state: JobState;
  paths: string[];
  startedAt: string;
  finishedAt: string | null;
  progress: JobProgress | null;
  /** verify: the verdict; import: the verdict of what was imported (a kit verdict for several inputs). */
  verdict: Verdict | null;
  /** The error that stopped the job (refusal, cancel, environment). */
  error: OpsErrorShape | null;
  /** import only: what happened to each bundle, in application order. */
  import: ImportSummary | null;
  /** import only: the workspace after the job. */
  status: WorkspaceStatus | null;
  /** restore-preview / restore-apply: the plan (dry run) and, for apply, the result. */
  restore?: { plan: RestorePlanView | null; result: RestoreResultView | null } | null;
}

export interface RestoreBundleView {
  /** Absolute path of the library copy. */
  file: string;
  name: string;
  sha256: string;
  size: number;
  kind: string;
  exportId: string | null;
  generation: number | null;
  /** null: not verified (after the first bad bundle). */
  ok: boolean | null;
  code: ErrorCode | null;
  message: string | null;
  signedBy: string[];
}

export type RestoreOfferView =
  | { kind: 'rollback'; seq: number; generation: number; exportId: string; command: string; text: string }
  | { kind: 'recopy'; name: string; sha256: string; libraryFile: string; text: string }
  | { kind: 'bring-deltas'; generations: number[]; text: string };

/** Runbook 7.2 dry run: what a restore would rebuild, each bundle verified, the first bad one and what is still possible. */
export interface RestorePlanView {
  ok: boolean;
  /** Staging now. */
  current: { seq: number; exportId: string; generation: number } | null;
  /** What the restore would rebuild (the newest generation of the chain up to the first gap). */
  target: { exportId: string; generation: number } | null;
  bundles: RestoreBundleView[];
  /** Generations missing after the target (the chain stops before them). */
  gaps: number[];
  /** The first bundle that did not verify. */
  bad: RestoreBundleView | null;
  code: ErrorCode | null;
  message: string;
  action: string | null;
  offers: RestoreOfferView[];
}

export interface RestoreResultView {
  ok: boolean;
  plan: RestorePlanView;
  import: ImportSummary | null;
  /** Staging after the restore (unchanged when refused). */
  current: { seq: number; exportId: string; generation: number; stateDigest: string } | null;
  code: ErrorCode | null;
  message: string;
}

/** The result of an import (several bundles or a kit), as the staging engine reports it. */
export interface ImportSummary {
  ok: boolean;
  code: ErrorCode | null;
  message: string;
  action: string | null;
  dryRun: boolean;
  items: ImportItemView[];
  /** Export generations known to be missing when a gap stopped the import. */
  missing: number[];
  current: { exportId: string; generation: number; stateDigest: string } | null;
  warnings: string[];
}

export interface ImportItemView {
  path: string;
  kind: BundleKind | null;
  exportId: string | null;
  generation: number | null;
  /** applied | already-applied | refused | not-applied | planned | installed */
  outcome: string;
  code: ErrorCode | null;
  message: string;
  verdict: Verdict | null;
}

/** Workspace status plus what the console shows beside the agreed keys. */
export interface WorkspaceStatusView extends WorkspaceStatus {
  importsFrozen: { since: string | null; reason: string | null } | null;
  /** With deep: the re-verification of the current generation from disk. */
  deep: Verdict | null;
}

export interface LibraryEntry {
  file: string;
  kind: BundleKind;
  exportId: string | null;
  generation: number | null;
  sha256: string;
  size: number | null;
}

/** One file of a library bundle's signed file list (export.json `files`). */
export interface LibraryFileView {
  path: string;
  size: number;
  sha256: string;
}

/** A page of a library bundle's file list (sorted by path), read from the list the engine verified in the library copy. */
export interface LibraryFilesPageView {
  sha256: string;
  /** Files matching the filter (all files without one). */
  total: number;
  /** Files in the bundle. */
  count: number;
  totalBytes: number;
  offset: number;
  rows: LibraryFileView[];
  /** What the list was read from: the library copy, verified at `at` (signatures and every file's digest). */
  verified: { at: string; exportId: string; generation: number; kind: string; signedBy: string[] };
}

/** An audit row as the renderer sees it: the log's own row shape. */
export type AuditRowView = AuditRow;

/** Newest first; `nextCursor` fetches the following (older) page. */
export interface AuditPage {
  rows: AuditRowView[];
  nextCursor: string | null;
}

export interface AuditOffsetPageView {
  rows: AuditRowView[];
  /** Rows matching the filters. */
  total: number;
  /** Index of rows[0] in the newest-first list. */
  offset: number;
}

export interface AuditRowDetailView {
  row: AuditRowView;
  /** The row's hash recomputed from its fields matches. */
  hashOk: boolean;
  /** Its prevHash is the previous row's hash. */
  linkOk: boolean;
  previousId: number | null;
  nextId: number | null;
}

export interface AuditVerifyResult {
  ok: boolean;
  rows: number;
  headHash: string | null;
  /** Id of the first broken row, when the chain is broken. */
  brokenAt: number | null;
  message: string;
}

export interface KeyView {
  fingerprint: string;
  algorithm: string;
  tenant: string | null;
  label: string | null;
  status: string;
  addedAt: string | null;
}

export interface KeyInspection {
  fingerprint: string;
  algorithm: string;
}

export interface ChecklistSummary {
  id: string;
  title: string;
  section: string;
  stepCount: number;
  /** Values the operator gives when starting a run (for example the bundle path). */
  inputs?: { name: string; description: string; required: boolean }[];
}

export interface ChecklistStepView {
  id: string;
  title: string;
  type: 'manual' | 'automated';
  /** e.g. pending, passed, warned, failed, confirmed, skipped. */
  status: string;
  note: string | null;
  by: string | null;
  at: string | null;
  evidence: string | null;
  /** Manual steps: how they were confirmed (prompt, answers-file, yes-flag); null otherwise. */
  confirmation?: 'prompt' | 'answers-file' | 'yes-flag' | null;
  /** Automated steps: the engine check it runs. */
  check?: string | null;
  /** Whether doing the step changes the workspace (staging, imports frozen, library): never a "check"; it needs a confirmation with a reason. */
  changes?: boolean;
}

export interface ChecklistRunView {
  runId: string;
  checklistId: string;
  title: string;
  /** not_started | in_progress | blocked | done */
  state: string;
  startedAt: string | null;
  /** Why the run waits or is blocked, in plain words. */
  reason?: string | null;
  /** The step the operator does next (steps go in order); null when the run is done. */
  nextStepId?: string | null;
  steps: ChecklistStepView[];
}

/** A library entry retention keeps or prunes, and why. */
export interface RetentionDecisionView {
  sha256: string;
  file: string;
  kind: BundleKind;
  exportId: string | null;
  generation: number | null;
  size: number;
  reason: string;
}

/** Retention (runbook 5.2): a preview (dryRun) or a run. */
export interface RetentionView {
  dryRun: boolean;
  ranAt: string;
  policy: { mirrorDays: number; trivyCount: number; keepDeltas: number };
  pruned: RetentionDecisionView[];
  kept: RetentionDecisionView[];
  freedBytes: number;
}

/** Files written by an export (audit log, checklist evidence), with their signatures when signed. */
export interface ExportedFiles {
  files: string[];
  signatures: string[];
  /** audit export: rows written and the chain head they end at. */
  rows?: number;
  headHash?: string | null;
}

export interface DemoKitInfo {
  present: boolean;
  path: string | null;
  keyPath: string | null;
  keyFingerprint: string | null;
  algorithm: string | null;
}

// ---------------------------------------------------------------------------
// The contract

function channel<I extends z.ZodType>(input: I) {
  return <O>() => ({ input, output: undefined as unknown as O });
}

export const CONTRACT = {
  'app.info': channel(NoInput)<AppInfo>(),
  'workspace.status': channel(z.object({ deep: z.boolean().optional() }).strict().optional())<WorkspaceStatusView>(),
  /** Health at a glance, computed by the engine (the same figures as `mirror status`). */
  'health.get': channel(NoInput)<HealthReport>(),
  'verify.start': channel(
    z.object({ path: PathInput, ...TrustInput }).strict(),
  )<{ jobId: string }>(),
  'import.start': channel(
    z
      .object({
        paths: z.array(PathInput).min(1, 'Choose at least one bundle or kit folder.').max(64),
        ...TrustInput,
        forceReason: Reason.optional(),
        dryRun: z.boolean().optional(),
      })
      .strict(),
  )<{ jobId: string }>(),
  /** 7.2 restore, step 1: the dry run (every bundle of the library chain verified, read-only), as a job. */
  'restore.preview': channel(z.object({ identityFiles: TrustInput.identityFiles }).strict().optional())<{ jobId: string }>(),
  /** 7.2 restore, step 2: all or nothing, with a written reason and the typed confirmation; staging never changes on failure. */
  'restore.apply': channel(
    z
      .object({
        reason: Reason,
        /** The operator typed the target generation's export id to confirm. */
        confirm: z.string().trim().min(1, 'Type the export id shown to confirm the restore.').max(200),
        identityFiles: TrustInput.identityFiles,
      })
      .strict(),
  )<{ jobId: string }>(),
  'jobs.result': channel(z.object({ jobId: z.string().min(1).max(100) }).strict())<JobInfo>(),
  'jobs.list': channel(NoInput)<JobInfo[]>(),
  'jobs.cancel': channel(z.object({ jobId: z.string().min(1).max(100) }).strict())<{ cancelled: boolean }>(),
  'library.list': channel(NoInput)<LibraryEntry[]>(),
  /**
   * A library bundle's file list, a page at an offset, filtered by a path substring (any case).
   * The first request re-verifies the library copy and indexes its signed list (a job); later pages read the index.
   */
  'library.files': channel(
    z
      .object({
        sha256: z.string().regex(/^[0-9a-f]{64}$/, "sha256 must be the bundle's SHA-256: 64 lowercase hex digits."),
        offset: z.number().int().min(0).default(0),
        limit: z.number().int().min(1).max(1000).default(200),
        filter: z.string().max(4096).optional(),
      })
      .strict(),
  )<LibraryFilesPageView>(),
  'staging.rollback': channel(
    z.object({ to: z.number().int().nonnegative().optional(), reason: z.string().trim().max(2000).optional() }).strict(),
  )<WorkspaceStatusView>(),
  'audit.list': channel(
    z
      .object({
        limit: z.number().int().min(1).max(500).default(50),
        cursor: z.string().max(500).nullable().optional(),
        action: z.string().trim().max(200).optional(),
        from: z.string().datetime({ message: 'from must be an RFC 3339 UTC timestamp.' }).optional(),
        to: z.string().datetime({ message: 'to must be an RFC 3339 UTC timestamp.' }).optional(),
      })
      .strict(),
  )<AuditPage>(),
  /** The audit log for people: total, a page at an offset (newest first), filters with action as a prefix and actor/subject as substrings. */
  'audit.page': channel(z.object({ ...AuditFilterInput, offset: z.number().int().min(0).default(0), limit: z.number().int().min(1).max(1000).default(100) }).strict())<AuditOffsetPageView>(),
  /** Jump to a date: the offset of the newest row at or before it, under the same filters. */
  'audit.locate': channel(z.object({ ...AuditFilterInput, at: z.string().datetime({ message: 'at must be an RFC 3339 UTC timestamp.' }) }).strict())<{ offset: number; total: number }>(),
  /** One row with its own chain check. */
  'audit.row': channel(z.object({ id: z.number().int().positive() }).strict())<AuditRowDetailView>(),
  'audit.verify': channel(NoInput)<AuditVerifyResult>(),
  'keys.list': channel(z.object({ tenant: z.string().trim().max(200).optional() }).strict().optional())<KeyView[]>(),
  'keys.inspect': channel(z.object({ pem: z.string().min(1, 'Paste a PEM public key.').max(65536) }).strict())<KeyInspection>(),
  'keys.add': channel(
    z
      .object({
        pem: z.string().min(1, 'Paste a PEM public key.').max(65536),
        tenant: z.string().trim().min(1, 'Name the tenant this key signs for.').max(200),
        label: z.string().trim().max(200).optional(),
        /** The fingerprint the operator confirmed (must equal the key's). */
        fingerprint: Fingerprint,
        reason: Reason,
      })
      .strict(),
  )<KeyView>(),
  'keys.rotate': channel(
    z
      .object({
        pem: z.string().min(1, 'Paste the new PEM public key.').max(65536),
        tenant: z.string().trim().min(1, 'Name the tenant this key signs for.').max(200),
        label: z.string().trim().max(200).optional(),
        /** The new key's fingerprint as the operator confirmed it. */
        fingerprint: Fingerprint,
        /** The fingerprint of the key it replaces (stays trusted until revoked). */
        replaces: Fingerprint,
        reason: Reason,
      })
      .strict(),
  )<KeyView>(),
  'keys.revoke': channel(z.object({ tenant: z.string().trim().min(1).max(200), fingerprint: Fingerprint, reason: Reason }).strict())<KeyView>(),
  'checklists.list': channel(NoInput)<ChecklistSummary[]>(),
  'checklists.start': channel(
    z
      .object({
        checklistId: z.string().trim().min(1).max(200),
        inputs: z.record(z.string().regex(/^[a-zA-Z][a-zA-Z0-9_]*$/), z.string().max(4096)).optional(),
      })
      .strict(),
  )<ChecklistRunView>(),
  'checklists.completeStep': channel(
    z
      .object({
        runId: z.string().trim().min(1).max(200),
        stepId: z.string().trim().min(1).max(200),
        /** Manual steps: the operator's confirmation (true) and optional note. Automated steps run their check. */
        confirm: z.boolean().optional(),
        note: z.string().max(4000).optional(),
        /** Manual steps: the step does not apply here; `note` says why (required). */
        notApplicable: z.boolean().optional(),
      })
      .strict(),
  )<ChecklistRunView>(),
  'checklists.status': channel(z.object({ runId: z.string().trim().min(1).max(200).optional() }).strict().optional())<ChecklistRunView[]>(),
  'checklists.exportEvidence': channel(
    z.object({ runId: z.string().trim().min(1).max(200), signKeyFile: PathInput.optional() }).strict(),
  )<ExportedFiles>(),
  /** Retention (runbook 5.2): what a run would prune, changing nothing. */
  'retention.preview': channel(NoInput)<RetentionView>(),
  /** Retention run: prunes, audited with the reason. */
  'retention.run': channel(z.object({ reason: Reason }).strict())<RetentionView>(),
  /** The audit log exported into the workspace's evidence/audit folder (signed with signKeyFile). */
  'audit.export': channel(
    z
      .object({
        format: z.enum(['jsonl', 'csv']).default('jsonl'),
        signKeyFile: PathInput.optional(),
        from: z.string().datetime({ message: 'from must be an RFC 3339 UTC timestamp.' }).optional(),
        to: z.string().datetime({ message: 'to must be an RFC 3339 UTC timestamp.' }).optional(),
      })
      .strict(),
  )<ExportedFiles>(),
  'settings.get': channel(NoInput)<Settings>(),
  // A change of settings carries a written reason (the change record), recorded on each settings.changed audit row.
  'settings.set': channel(z.object({ settings: SettingsSchema, reason: z.string().trim().min(3, 'Give the reason for the change (for example the change record id), at least 3 characters.').max(500) }).strict())<Settings>(),
  'demoKit.info': channel(NoInput)<DemoKitInfo>(),
  /** Main-process only: a native file/folder picker. Returns null when the operator cancels. */
  'dialog.openPath': channel(
    z.object({ mode: z.enum(['file', 'directory']), title: z.string().max(200).optional() }).strict(),
  )<{ path: string | null }>(),
} as const;

export type Contract = typeof CONTRACT;
export type Channel = keyof Contract;
export const CHANNELS = Object.keys(CONTRACT) as Channel[];

// The preload's name list and the contract must name the same channels (compile-time check both ways).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const channelListMatches: Same<(typeof CHANNEL_NAMES)[number], Channel> = true;
const topicListMatches: Same<(typeof TOPIC_NAMES)[number], Topic> = true;
void channelListMatches;
void topicListMatches;

/** What the renderer passes (zod input type: defaults optional). */
export type ChannelInput<C extends Channel> = z.input<Contract[C]['input']>;
/** What the handler receives after parsing (defaults filled in). */
export type ParsedInput<C extends Channel> = z.output<Contract[C]['input']>;
export type ChannelOutput<C extends Channel> = Contract[C]['output'];

export function isChannel(name: unknown): name is Channel {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(CONTRACT, name);
}

// ---------------------------------------------------------------------------
// Topics (main → renderer)

/** Query scopes the renderer keys react-query caches by; "data changed" notices name them. */
export const DATA_SCOPES = ['workspace', 'library', 'audit', 'keys', 'checklists', 'settings', 'jobs'] as const;
export type DataScope = (typeof DATA_SCOPES)[number];

export interface Topics {
  /** Progress of a running job. */
  'job.progress': JobProgress;
  /** A job ended (succeeded, failed or cancelled); the full result via `jobs.result`. */
  'job.done': JobInfo;
  /** Something changed on disk: invalidate these scopes. */
  'data.changed': { scopes: DataScope[] };
}
export type Topic = keyof Topics;
export const TOPICS: readonly Topic[] = TOPIC_NAMES;

export function isTopic(name: unknown): name is Topic {
  return typeof name === 'string' && (TOPICS as readonly string[]).includes(name);
}

export { EVENT_CHANNEL };

/** What the preload exposes as `window.consoleApi` (and the e2e bridge mimics). */
export interface ConsoleApi {
  invoke<C extends Channel>(channel: C, input?: ChannelInput<C>): Promise<Envelope<ChannelOutput<C>>>;
  subscribe<T extends Topic>(topic: T, listener: (payload: Topics[T]) => void): () => void;
}
