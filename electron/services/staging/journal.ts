/**
 * The apply journal: one JSON file (journal/apply.json) written before any
 * change to staging, rewritten atomically at the commit point, removed when
 * the database reflects the change. Enough to roll back or finish after a crash.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { AuditEntryInput } from '../audit/index';
import { applyJournalFile, type WorkspaceLayout } from '../workspace/layout';
import { writeFileAtomic, type StagingFs } from './fsops';
import type { GenerationRow, LibraryRow } from './types';

export type GenerationInsert = Omit<GenerationRow, 'status' | 'pruned_at'>;
export type LibraryInsert = Omit<LibraryRow, 'pruned_at'>;

export interface ApplyJournal {
  op: 'apply';
  phase: 'building' | 'committed';
  job: string;
  seq: number;
  prevSeq: number | null;
  startedAt: string;
  row: GenerationInsert;
  chain: { tenant: string; profileId: string };
  library: { tmpFile: string; finalFile: string; row: LibraryInsert; existed: boolean } | null;
  audits: AuditEntryInput[];
  lastApply: Record<string, unknown>;
  /**
   * The tree of generation `fromSeq` (one retention drops) is being turned
   * into this generation in place (recycle.ts): rolled back from
   * staging/<seq>.undo/, and marked pruned when this one commits.
   */
  recycle?: { fromSeq: number };
}

export interface RollbackJournal {
  op: 'rollback';
  phase: 'switching';
  fromSeq: number | null;
  toSeq: number;
  startedAt: string;
  audits: AuditEntryInput[];
}

export interface TrivyJournal {
  op: 'trivy';
  phase: 'building' | 'committed';
  job: string;
  kind: 'trivy-db' | 'trivy-java-db';
  /** The new versioned folder name inside trivy/. */
  dir: string;
  prevDir: string | null;
  startedAt: string;
  metadata: string;
  library: { tmpFile: string; finalFile: string; row: LibraryInsert; existed: boolean } | null;
  audits: AuditEntryInput[];
}

export type Journal = ApplyJournal | RollbackJournal | TrivyJournal;

export function readJournal(layout: WorkspaceLayout): Journal | null {
  const file = applyJournalFile(layout);
  if (!existsSync(file)) return null;
  const text = readFileSync(file, 'utf8');
  try {
    return JSON.parse(text) as Journal;
  } catch {
    // A torn journal cannot exist (atomic rename), but be safe: treat as "building" of an unknown job.
    return null;
  }
}

export function writeJournal(fs: StagingFs, layout: WorkspaceLayout, j: Journal): void {
  writeFileAtomic(fs, applyJournalFile(layout), JSON.stringify(j));
}

export function removeJournal(fs: StagingFs, layout: WorkspaceLayout): void {
  fs.rm(applyJournalFile(layout));
  fs.fsyncDir(layout.journal);
}
