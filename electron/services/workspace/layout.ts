/** The workspace folder layout (see docs/architecture.md). One place names every path. */
import { join } from 'node:path';

export interface WorkspaceLayout {
  dir: string;
  manifest: string; // workspace.json
  lock: string;
  db: string; // console.db
  library: string;
  incoming: string;
  staging: string;
  current: string; // staging/current -> <seq>
  trivy: string; // trivy/ (db/ inside is Trivy's --cache-dir layout)
  journal: string;
  logs: string;
  metrics: string;
  evidence: string;
  /** trash/: folders committed for removal (a recycled delta's undo folder), emptied in the background by the next import. */
  trash: string;
  /** spare/: files a recycled delta moved out, rewritten by the next delta's extraction instead of new ones (staging/spares.ts). */
  spare: string;
  /** engine/: the resident engine's socket and pid file (`mirror serve`; 0700, made by serve only). */
  engine: string;
}

export function workspaceLayout(dir: string): WorkspaceLayout {
  return {
    dir,
    manifest: join(dir, 'workspace.json'),
    lock: join(dir, 'lock'),
    db: join(dir, 'console.db'),
    library: join(dir, 'library'),
    incoming: join(dir, 'incoming'),
    staging: join(dir, 'staging'),
    current: join(dir, 'staging', 'current'),
    trivy: join(dir, 'trivy'),
    journal: join(dir, 'journal'),
    logs: join(dir, 'logs'),
    metrics: join(dir, 'metrics'),
    evidence: join(dir, 'evidence'),
    trash: join(dir, 'trash'),
    spare: join(dir, 'spare'),
    engine: join(dir, 'engine'),
  };
}

/** Name of a generation folder inside staging/ (local sequence number, zero-padded so names sort). */
export function generationName(seq: number): string {
  return String(seq).padStart(6, '0');
}

/** staging/<seq>/: the payload tree of one generation (payload files only). */
export function generationDir(layout: WorkspaceLayout, seq: number): string {
  return join(layout.staging, generationName(seq));
}

/** staging/<seq>.meta/: export.json bytes and state.txt of one generation, outside the payload tree. */
export function generationMetaDir(layout: WorkspaceLayout, seq: number): string {
  return join(layout.staging, `${generationName(seq)}.meta`);
}

/** Parses a staging/ entry name back to its sequence number (payload or meta folder), or null. */
export function parseGenerationName(name: string): { seq: number; meta: boolean } | null {
  const m = /^(\d{6,})(\.meta)?$/.exec(name);
  if (!m) return null;
  return { seq: Number(m[1]), meta: m[2] !== undefined };
}

/** incoming/<job>/: quarantine of one import (verified bytes land in files/). */
export function incomingJobDir(layout: WorkspaceLayout, job: string): string {
  return join(layout.incoming, job);
}

/** journal/apply.json: the one in-flight apply/rollback/install journal. */
export function applyJournalFile(layout: WorkspaceLayout): string {
  return join(layout.journal, 'apply.json');
}

/** Trivy's --cache-dir is trivy/: db/ (trivy.db + metadata.json) and java-db/ (trivy-java.db + metadata.json). */
export function trivyCacheLink(layout: WorkspaceLayout, kind: 'trivy-db' | 'trivy-java-db'): string {
  return join(layout.trivy, kind === 'trivy-db' ? 'db' : 'java-db');
}
