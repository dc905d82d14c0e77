/** `mirror status`: current export, kept generations, library, last apply result. */
import type { BundleKind } from '../../../shared/types';
import type { Db } from '../db/index';
import type { Workspace } from '../workspace/index';
import { generationName, trivyCacheLink } from '../workspace/layout';
import { currentGeneration, getTrivy, listGenerations, listLibrary, readState } from './store';
import { readLinkTarget } from './switch';
import { verifyGeneration } from './verify-tree';
import type { Verdict } from '../../../shared/types';

export interface StagingStatus {
  exportId: string | null;
  generation: number | null;
  /** The signed state digest of the current generation (recomputed from the tree with deep). */
  stateDigest: string | null;
  generations: { generation: number; exportId: string; appliedAt: string }[];
  library: { file: string; kind: BundleKind; exportId: string | null; generation: number | null; sha256: string }[];
  lastApply: Record<string, unknown> | null;
  /** Local detail beyond the agreed keys. */
  current: { seq: number; folder: string; createdAt: string; fileCount: number; totalBytes: number } | null;
  chain: { tenant: string; profileId: string } | null;
  trivy: { kind: 'trivy-db' | 'trivy-java-db'; path: string; installedAt: string; metadata: unknown }[];
  importsFrozen: { since: string | null; reason: string | null } | null;
  /** With deep: the verification of the current generation. */
  deep?: Verdict;
}

export async function stagingStatus(ws: Workspace, db: Db, opts: { deep?: boolean; signal?: AbortSignal } = {}): Promise<StagingStatus> {
  const st = readState(db);
  const cur = currentGeneration(db);
  const out: StagingStatus = {
    exportId: cur?.export_id ?? null,
    generation: cur?.generation ?? null,
    stateDigest: cur?.state_digest ?? null,
    generations: listGenerations(db).map((g) => ({ generation: g.generation, exportId: g.export_id, appliedAt: g.applied_at })),
    library: listLibrary(db).map((r) => ({ file: r.file, kind: r.kind, exportId: r.export_id, generation: r.generation, sha256: r.sha256 })),
    lastApply: st.last_apply ? (JSON.parse(st.last_apply) as Record<string, unknown>) : null,
    current: cur ? { seq: cur.seq, folder: `staging/${generationName(cur.seq)}`, createdAt: cur.created_at, fileCount: cur.file_count, totalBytes: cur.total_bytes } : null,
    chain: st.chain_tenant && st.chain_profile_id ? { tenant: st.chain_tenant, profileId: st.chain_profile_id } : null,
    trivy: [],
    importsFrozen: st.imports_frozen ? { since: st.frozen_at, reason: st.frozen_reason } : null,
  };
  for (const kind of ['trivy-db', 'trivy-java-db'] as const) {
    const row = getTrivy(db, kind);
    if (!row) continue;
    let metadata: unknown = null;
    try {
      metadata = JSON.parse(row.metadata);
    } catch {
      metadata = row.metadata;
    }
    out.trivy.push({ kind, path: readLinkTarget(trivyCacheLink(ws.layout, kind)) ? trivyCacheLink(ws.layout, kind) : row.dir, installedAt: row.installed_at, metadata });
  }
  if (opts.deep && cur) {
    const v = await verifyGeneration(ws, db, { signal: opts.signal });
    out.deep = v;
    const digestCheck = v.checks.find((c) => c.name === 'state digest');
    // Recomputed from the files: the signed digest when they match, otherwise what the tree hashes to.
    out.stateDigest = v.ok ? cur.state_digest : (/tree hashes to (sha256:[0-9a-f]{64})/.exec(digestCheck?.detail ?? '')?.[1] ?? null);
  }
  return out;
}
