/**
 * The workspace's trash/: folders already committed for removal (a recycled
 * delta's undo folder, once the new generation is recorded). Nothing reads
 * them again, so removing them can wait: the next import empties the trash
 * on a helper thread while its own bundle is being verified, instead of the
 * apply that made them paying one unlink per file on its critical path
 * (issue 13). Removal is idempotent and may be interrupted at any point (a
 * later import continues it); a failure is only logged by the caller.
 */
import { lstatSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { WorkspaceLayout } from '../workspace/layout';
import type { StagingFs } from './fsops';

// A script, not a module file: no bundling or path lookup, and nothing to load but node:fs.
const EMPTY_TRASH = `
const { workerData } = require('node:worker_threads');
const { readdirSync, readlinkSync, rmSync } = require('node:fs');
// The lowest CPU priority for this thread only (Linux: a thread id is a valid target): the import it overlaps comes first.
try { require('node:os').setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), 19); } catch {}
const { join } = require('node:path');
const failed = [];
for (const name of readdirSync(workerData)) {
  try { rmSync(join(workerData, name), { recursive: true, force: true }); } catch (e) { failed.push(name + ': ' + e.message); }
}
if (failed.length) throw new Error('could not remove ' + failed.join('; '));
`;

/**
 * Moves a folder nothing references any more into trash/ in one rename
 * (named after it: sequence numbers and job ids are unique). When that is
 * not possible (no trash folder can be made, a name is taken), it is
 * removed here instead. A missing folder is no error.
 */
export function moveToTrash(layout: WorkspaceLayout, fs: StagingFs, path: string): void {
  try {
    if (!lstatSync(path).isDirectory()) return fs.rm(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  try {
    try {
      lstatSync(layout.trash);
    } catch {
      fs.mkdir(layout.trash);
    }
    fs.rename(path, join(layout.trash, basename(path)));
  } catch {
    fs.rm(path);
  }
}

/** Whether trash/ holds anything. */
export function trashEntries(layout: WorkspaceLayout): string[] {
  try {
    return readdirSync(layout.trash);
  } catch {
    return [];
  }
}

/**
 * Empties trash/ on a worker thread. Resolves when done, with null or the
 * failure (never rejects). Starts no thread when the trash is empty.
 */
export function emptyTrash(layout: WorkspaceLayout): Promise<Error | null> {
  if (trashEntries(layout).length === 0) return Promise.resolve(null);
  return new Promise((resolve) => {
    let failure: Error | null = null;
    const w = new Worker(EMPTY_TRASH, { eval: true, workerData: layout.trash, stdout: true, stderr: true });
    w.on('error', (e) => (failure = e instanceof Error ? e : new Error(String(e))));
    w.on('exit', (code) => resolve(failure ?? (code === 0 ? null : new Error(`the trash thread exited with code ${code}`))));
  });
}
