/**
 * Installs a verified Trivy DB bundle the way Trivy's --cache-dir expects it:
 * trivy/db/{trivy.db,metadata.json} and trivy/java-db/{trivy-java.db,metadata.json},
 * where db and java-db are symlinks to versioned folders, switched atomically.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OpsError } from '../../../shared/errors';
import { appendAudit } from '../audit/index';
import type { Db } from '../db/index';
import { bumpCounter, logEvent } from '../obs/index';
import type { Workspace } from '../workspace/index';
import { trivyCacheLink } from '../workspace/layout';
import { freeBytes, hookedFs, isNoSpace, type StagingHooks } from './fsops';
import { removeJournal, writeJournal, type TrivyJournal } from './journal';
import { discardLibraryPlacement, placeInLibrary, planLibraryPlacement } from './library-place';
import { getTrivy, setTrivy, upsertLibrary } from './store';
import { readLinkTarget, switchLink } from './switch';
import { noSpaceError } from './apply';

export type TrivyKind = 'trivy-db' | 'trivy-java-db';

export function trivyDbFileName(kind: TrivyKind): string {
  return kind === 'trivy-db' ? 'trivy.db' : 'trivy-java.db';
}

export interface TrivyInstallInput {
  path: string;
  kind: TrivyKind;
  job: string;
  /** Folder holding exactly metadata.json and the database file, verified. */
  extractedDir: string;
  library?: { tmpFile: string; sha256: string; size: number; name: string };
  operator?: string;
}

export function finishTrivyInDb(db: Db, j: TrivyJournal): void {
  db.transaction(() => {
    const row = getTrivy(db, j.kind);
    if (row && row.dir === j.dir) return;
    setTrivy(db, { kind: j.kind, dir: j.dir, library_sha256: j.library?.row.sha256 ?? null, metadata: j.metadata, installed_at: j.startedAt });
    if (j.library) upsertLibrary(db, j.library.row);
    for (const a of j.audits) appendAudit(db, a);
  })();
}

export function installTrivy(ws: Workspace, db: Db, input: TrivyInstallInput, opts: { hooks?: StagingHooks; now?: () => Date } = {}): { dir: string; link: string } {
  const { fs, cp } = hookedFs(opts.hooks);
  const now = (opts.now ?? (() => new Date()))();
  const dbName = trivyDbFileName(input.kind);
  for (const f of ['metadata.json', dbName]) {
    if (!existsSync(join(input.extractedDir, f))) throw new OpsError('ERR_BUNDLE_CORRUPT', `The Trivy bundle ${input.path} did not yield ${f}.`, { path: input.path });
  }
  const metadata = readFileSync(join(input.extractedDir, 'metadata.json'), 'utf8');
  let updatedAt: string | null = null;
  try {
    const m = JSON.parse(metadata) as { UpdatedAt?: unknown };
    updatedAt = typeof m.UpdatedAt === 'string' ? m.UpdatedAt : null;
  } catch {
    /* the verifier checked it */
  }
  const base = input.kind === 'trivy-db' ? 'db' : 'java-db';
  let n = 0;
  for (const name of readdirSync(ws.layout.trivy)) {
    const m = new RegExp(`^\\.${base}-(\\d+)$`).exec(name);
    if (m) n = Math.max(n, Number(m[1]));
  }
  const dir = `.${base}-${String(n + 1).padStart(6, '0')}`;
  const link = trivyCacheLink(ws.layout, input.kind);
  const prevDir = readLinkTarget(link);
  const at = now.toISOString();
  const library: TrivyJournal['library'] = input.library
    ? planLibraryPlacement(ws, db, input.library, { kind: input.kind, size: input.library.size, export_id: null, generation: null, reset_baseline: 0, export_json_sha256: null, created_at: updatedAt, imported_at: at })
    : null;
  const j: TrivyJournal = {
    op: 'trivy',
    phase: 'building',
    job: input.job,
    kind: input.kind,
    dir,
    prevDir,
    startedAt: at,
    metadata,
    library,
    audits: [{ action: 'mirror.bundle.imported', subject: input.kind, operator: input.operator, details: { path: input.path, kind: input.kind, dir, bundleSha256: input.library?.sha256 ?? null, metadata: updatedAt } }],
  };
  const target = join(ws.layout.trivy, dir);
  let switched = false;
  try {
    cp('trivy:journal');
    writeJournal(fs, ws.layout, j);
    cp('trivy:move');
    fs.rename(input.extractedDir, target);
    fs.fsyncDir(target);
    if (library) placeInLibrary(ws, fs, cp, library);
    fs.fsyncDir(ws.layout.trivy);
    cp('trivy:commit');
    j.phase = 'committed';
    writeJournal(fs, ws.layout, j);
    switchLink(fs, link, dir, cp);
    switched = true;
  } catch (e) {
    if (!switched && readLinkTarget(link) !== dir) {
      try {
        fs.rm(target);
        discardLibraryPlacement(ws, fs, library);
        removeJournal(fs, ws.layout);
      } catch {
        /* recovery finishes on next start */
      }
      if (isNoSpace(e)) throw noSpaceError(`installing the Trivy database from ${input.path}`, 65536, freeBytes(ws.layout.trivy), e);
      throw e;
    }
  }
  cp('trivy:db');
  finishTrivyInDb(db, j);
  if (prevDir && prevDir !== dir) fs.rm(join(ws.layout.trivy, prevDir));
  removeJournal(fs, ws.layout);
  fs.rm(join(ws.layout.incoming, input.job));
  logEvent(ws, { event: 'mirror.bundle.imported', kind: input.kind, path: input.path, dir });
  bumpCounter(ws, 'imports_total', { kind: input.kind });
  return { dir, link };
}
