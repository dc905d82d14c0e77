/**
 * Where a bundle goes in the library, decided in one place: content-addressed
 * library/<sha256>/<original name>, or the existing live copy of the same bytes.
 * The raw bytes arrive as a private temp file (written during the verifying
 * read) and are moved into place before the journal's commit point.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../db/index';
import type { Workspace } from '../workspace/index';
import type { StagingFs } from './fsops';
import type { LibraryInsert } from './journal';
import { getLibrary } from './store';

/** A library copy as the journal records it. */
export interface LibraryPlacement {
  tmpFile: string;
  finalFile: string;
  row: LibraryInsert;
  /** The same bytes are already live in the library: the temp copy is dropped, nothing is moved. */
  existed: boolean;
}

/** The temp file the verifying read writes the raw bundle bytes to, for import job `job`. */
export function libraryTmpFile(ws: Workspace, job: string): string {
  return join(ws.layout.library, `.tmp-${job}`);
}

/** The library's relative file for these bytes (content-addressed). */
export function libraryFileOf(sha256: string, name: string): string {
  return `library/${sha256}/${name}`;
}

/**
 * Decides where a verified bundle's bytes go: the live copy of the same
 * digest when there is one, else library/<sha256>/<name>. `row` holds the
 * database fields except `file`, which this function fills in.
 */
export function planLibraryPlacement(ws: Workspace, db: Db, copy: { tmpFile: string; sha256: string; name: string }, row: Omit<LibraryInsert, 'file' | 'sha256' | 'name'>): LibraryPlacement {
  const existing = getLibrary(db, copy.sha256);
  const existed = !!existing && existing.pruned_at === null && existsSync(join(ws.dir, existing.file));
  const file = existed ? existing!.file : libraryFileOf(copy.sha256, copy.name);
  return { tmpFile: copy.tmpFile, finalFile: join(ws.dir, file), existed, row: { ...row, sha256: copy.sha256, file, name: copy.name } };
}

/** Moves the temp copy into place (durably), or drops it when the bytes were already there. */
export function placeInLibrary(ws: Workspace, fs: StagingFs, cp: (step: string) => void, p: LibraryPlacement): void {
  if (p.existed) {
    fs.rm(p.tmpFile);
    return;
  }
  cp('library:place');
  const libDir = join(ws.layout.library, p.row.sha256);
  fs.rm(libDir);
  fs.mkdir(libDir);
  fs.rename(p.tmpFile, p.finalFile);
  fs.fsyncDir(libDir);
  fs.fsyncDir(ws.layout.library);
}

/** Undoes placeInLibrary for an apply that did not commit (a copy that existed before stays). */
export function discardLibraryPlacement(ws: Workspace, fs: StagingFs, p: LibraryPlacement | null): void {
  if (p && !p.existed) fs.rm(join(ws.layout.library, p.row.sha256));
}
