/** Staging state in SQLite (migration 002): generations, library, Trivy installs, state row. */
import type { Db } from '../db/index';
import type { GenerationRow, LibraryRow, StagingStateRow } from './types';

export function readState(db: Db): StagingStateRow {
  const row = db.prepare('SELECT current_seq, chain_tenant, chain_profile_id, last_apply, imports_frozen, frozen_reason, frozen_at FROM staging_state WHERE id = 1').get() as StagingStateRow | undefined;
  if (!row) throw new Error('staging_state row missing (migration 002 not applied)');
  return row;
}

export function getGeneration(db: Db, seq: number): GenerationRow | undefined {
  return db.prepare('SELECT * FROM staging_generations WHERE seq = ?').get(seq) as GenerationRow | undefined;
}

export function currentGeneration(db: Db): GenerationRow | undefined {
  const s = readState(db);
  return s.current_seq === null ? undefined : getGeneration(db, s.current_seq);
}

export function listGenerations(db: Db, opts: { includePruned?: boolean } = {}): GenerationRow[] {
  const sql = opts.includePruned ? 'SELECT * FROM staging_generations ORDER BY seq' : "SELECT * FROM staging_generations WHERE status = 'kept' ORDER BY seq";
  return db.prepare(sql).all() as GenerationRow[];
}

export function maxSeq(db: Db): number {
  const r = db.prepare('SELECT MAX(seq) AS m FROM staging_generations').get() as { m: number | null };
  return r.m ?? 0;
}

export function insertGeneration(db: Db, row: Omit<GenerationRow, 'status' | 'pruned_at' | 'new_bytes' | 'meta_bytes'> & Partial<Pick<GenerationRow, 'new_bytes' | 'meta_bytes'>>): void {
  db.prepare(
    `INSERT INTO staging_generations (seq, export_id, generation, variant, reset_baseline, tenant, profile_id, run_id, created_at,
       export_json_sha256, state_digest, file_count, total_bytes, base_seq, library_sha256, applied_at, new_bytes, meta_bytes)
     VALUES (@seq, @export_id, @generation, @variant, @reset_baseline, @tenant, @profile_id, @run_id, @created_at,
       @export_json_sha256, @state_digest, @file_count, @total_bytes, @base_seq, @library_sha256, @applied_at, @new_bytes, @meta_bytes)`,
  )
    // A journal written before migration 3 (recovered after an upgrade) carries neither figure.
    .run({ new_bytes: null, meta_bytes: null, ...row });
}

/**
 * Bytes a set of generations kept together holds in staging (trees and .meta
 * folders), from what each build recorded: a generation whose base is in the
 * set adds only the files its build created (the rest are hard links to files
 * already counted); one whose base is not (pruned, recycled) or that has none
 * counts its whole tree. Exact while the trees are as the builds left them;
 * more than the disk holds only when a generation between two kept ones was
 * pruned (a protected old one during a restore: their shared files are
 * counted twice). Null when one predates the figures (migration 3): look at
 * the files then; `lenient` (the storage trend's past instants) counts its
 * whole tree and no metadata instead.
 */
export function ledgerBytes(kept: readonly GenerationRow[], lenient = false): number | null {
  const seqs = new Set(kept.map((g) => g.seq));
  let total = 0;
  for (const g of kept) {
    if (g.new_bytes === null || g.meta_bytes === null) {
      if (!lenient) return null;
      total += g.total_bytes;
    } else total += (g.base_seq !== null && seqs.has(g.base_seq) ? g.new_bytes : g.total_bytes) + g.meta_bytes;
  }
  return total;
}

export function setCurrent(db: Db, seq: number, chain?: { tenant: string; profileId: string }): void {
  if (chain) db.prepare('UPDATE staging_state SET current_seq = ?, chain_tenant = ?, chain_profile_id = ? WHERE id = 1').run(seq, chain.tenant, chain.profileId);
  else db.prepare('UPDATE staging_state SET current_seq = ? WHERE id = 1').run(seq);
}

export function setLastApply(db: Db, value: Record<string, unknown>): void {
  db.prepare('UPDATE staging_state SET last_apply = ? WHERE id = 1').run(JSON.stringify(value));
}

export function markGenerationPruned(db: Db, seq: number, at: string): void {
  db.prepare("UPDATE staging_generations SET status = 'pruned', pruned_at = ? WHERE seq = ?").run(at, seq);
}

export function upsertLibrary(db: Db, row: Omit<LibraryRow, 'pruned_at'>): void {
  db.prepare(
    `INSERT INTO staging_library (sha256, file, name, kind, size, export_id, generation, reset_baseline, export_json_sha256, created_at, imported_at)
     VALUES (@sha256, @file, @name, @kind, @size, @export_id, @generation, @reset_baseline, @export_json_sha256, @created_at, @imported_at)
     ON CONFLICT(sha256) DO UPDATE SET file = excluded.file, name = excluded.name, pruned_at = NULL, imported_at = excluded.imported_at`,
  ).run(row);
}

export function getLibrary(db: Db, sha256: string): LibraryRow | undefined {
  return db.prepare('SELECT * FROM staging_library WHERE sha256 = ?').get(sha256) as LibraryRow | undefined;
}

export function listLibrary(db: Db, opts: { includePruned?: boolean } = {}): LibraryRow[] {
  const sql = opts.includePruned ? 'SELECT * FROM staging_library ORDER BY imported_at, sha256' : 'SELECT * FROM staging_library WHERE pruned_at IS NULL ORDER BY kind, generation, imported_at, sha256';
  return db.prepare(sql).all() as LibraryRow[];
}

export function markLibraryPruned(db: Db, sha256: string, at: string): void {
  db.prepare('UPDATE staging_library SET pruned_at = ? WHERE sha256 = ?').run(at, sha256);
}

export interface TrivyRow {
  kind: 'trivy-db' | 'trivy-java-db';
  dir: string;
  library_sha256: string | null;
  metadata: string;
  installed_at: string;
}

export function getTrivy(db: Db, kind: TrivyRow['kind']): TrivyRow | undefined {
  return db.prepare('SELECT * FROM staging_trivy WHERE kind = ?').get(kind) as TrivyRow | undefined;
}

export function setTrivy(db: Db, row: TrivyRow): void {
  db.prepare(
    `INSERT INTO staging_trivy (kind, dir, library_sha256, metadata, installed_at) VALUES (@kind, @dir, @library_sha256, @metadata, @installed_at)
     ON CONFLICT(kind) DO UPDATE SET dir = excluded.dir, library_sha256 = excluded.library_sha256, metadata = excluded.metadata, installed_at = excluded.installed_at`,
  ).run(row);
}

export function setImportsFrozen(db: Db, frozen: boolean, reason: string | null, at: string): void {
  db.prepare('UPDATE staging_state SET imports_frozen = ?, frozen_reason = ?, frozen_at = ? WHERE id = 1').run(frozen ? 1 : 0, reason, at);
}
