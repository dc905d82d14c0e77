/**
 * The workspace's trash/: folders already committed for removal (a recycled
 * delta's undo folder, once the new generation is recorded). Nothing reads
 * them again, so removing them can wait: the next import empties the trash
 * on a helper thread while its own bundle is being verified, instead of the
 * apply that made them paying one unlink per file on its critical path
 * (issue 13). Removal is idempotent and may be interrupted at any point (a
 * later import continues it); a failure is only logged by the caller.
 *
 * What an import puts in the trash is removed at its end when it is small
 * (`disposeTrash`: a daily delta's few dozen names), else handed to a
 * detached `rm` at the lowest CPU priority (`removeTrashDetached`): the
 * command returns at once, and the next import, which would otherwise remove
 * it while it creates its own files (on ext4 the two contend: ~90 ms of a 1 %
 * delta on 100,000 files), usually finds the trash empty. Where that process
 * cannot start or has not finished, the next import's thread does the rest.
 */
import { lstatSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { childProcess, workerThreads } from '../lazy-builtins';
import { removeTree } from '../safe-fs';
import type { WorkspaceLayout } from '../workspace/layout';
import type { StagingFs } from './fsops';

// A script, not a module file: no bundling or path lookup, and nothing to load but node:fs.
// The removal is safe-fs.ts removeTree's walk (iterative, links removed and never followed), written
// out here because an eval'd thread cannot import it; unlike fs.rmSync (which retries a file it may
// not unlink as a folder and reports ENOTDIR), it reports the real cause.
const EMPTY_TRASH = `
const { workerData } = require('node:worker_threads');
const { readdirSync, readlinkSync, rmdirSync, unlinkSync } = require('node:fs');
const { join } = require('node:path');
// The lowest CPU priority for this thread only (Linux: a thread id is a valid target): the import it overlaps comes first.
try { require('node:os').setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), 19); } catch {}
const gone = (e) => e.code === 'ENOENT';
function removeTree(top) {
  const stack = [top];
  while (stack.length) {
    const dir = stack[stack.length - 1];
    let entries;
    try { entries = readdirSync(dir, { withFileTypes: true }); } catch (e) {
      if (e.code === 'ENOTDIR') { try { unlinkSync(dir); } catch (u) { if (!gone(u)) throw u; } stack.pop(); continue; }
      if (gone(e)) { stack.pop(); continue; }
      throw e;
    }
    let deeper = false;
    for (const d of entries) {
      const p = join(dir, d.name);
      if (d.isDirectory()) { stack.push(p); deeper = true; }
      else try { unlinkSync(p); } catch (e) { if (!gone(e)) throw e; }
    }
    if (deeper) continue;
    try { rmdirSync(dir); } catch (e) { if (!gone(e)) throw e; }
    stack.pop();
  }
}
const failed = [];
for (const name of readdirSync(workerData)) {
  try { removeTree(join(workerData, name)); } catch (e) { failed.push(name + ': ' + e.message); }
}
if (failed.length) throw new Error('could not remove ' + failed.join('; '));
`;

/**
 * Moves a folder nothing references any more into trash/ in one rename,
 * under its own name (an undo folder is named after its generation's unique
 * sequence number). When that is not possible (no trash folder can be made,
 * the name is taken), it is removed here instead. A missing folder is no
 * error; anything but a folder is removed here.
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

/** The names in trash/ (none when it is missing). */
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
    const w = new (workerThreads().Worker)(EMPTY_TRASH, { eval: true, workerData: layout.trash, stdout: true, stderr: true });
    w.on('error', (e) => (failure = e instanceof Error ? e : new Error(String(e))));
    w.on('exit', (code) => resolve(failure ?? (code === 0 ? null : new Error(`the trash thread exited with code ${code}`))));
  });
}

/** A trash of at most this many names (files, folders, links) is removed by the import itself. */
export const REMOVE_HERE_MAX_NAMES = 64;

/** How many names `dir` holds, all levels down, stopping once past `budget` (then budget + 1). */
function namesWithin(dir: string, budget: number): number {
  let n = 0;
  const stack = [dir];
  while (stack.length && n <= budget) {
    const at = stack.pop()!;
    let entries;
    try {
      entries = readdirSync(at, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const d of entries) {
      if (++n > budget) break;
      if (d.isDirectory()) stack.push(join(at, d.name));
    }
  }
  return Math.min(n, budget + 1);
}

/**
 * What an import leaves in trash/ at its end: removed here when it is small
 * (a daily delta's: the recycled generation's metadata, the undo folder's
 * list, the extraction folder; a few dozen names, ~2 ms), which spares the
 * process start of a detached `rm` (~10 ms: a fork of the importing
 * process) and leaves the next import nothing to contend with; otherwise
 * (a pruned tree of many files) handed to removeTrashDetached. Returns how.
 */
export function disposeTrash(layout: WorkspaceLayout): 'empty' | 'here' | 'detached' | 'left' {
  const names = trashEntries(layout);
  if (names.length === 0) return 'empty';
  if (namesWithin(layout.trash, REMOVE_HERE_MAX_NAMES) <= REMOVE_HERE_MAX_NAMES) {
    try {
      for (const n of names) removeTree(join(layout.trash, n));
      return 'here';
    } catch {
      /* what is left goes to the detached process (or the next import) */
    }
  }
  return removeTrashDetached(layout) > 0 ? 'detached' : 'left';
}

/**
 * Removes what trash/ holds now in a detached, lowest-priority
 * `nice -n 19 rm -rf -- <entries>` that outlives this process. Returns the
 * number of entries handed over (0: nothing there, or the process could not
 * be started; a later import's thread removes them then). `rm -rf` removes a
 * link it finds and never what the link points at; no shell is involved.
 */
export function removeTrashDetached(layout: WorkspaceLayout): number {
  const names = trashEntries(layout);
  if (names.length === 0) return 0;
  try {
    const child = childProcess().spawn('nice', ['-n', '19', 'rm', '-rf', '--', ...names.map((n) => join(layout.trash, n))], { detached: true, stdio: 'ignore' });
    // A missing `nice` or `rm` arrives as an event: nothing to do (the next import's thread removes them).
    child.on('error', () => {});
    child.unref();
    return names.length;
  } catch {
    return 0;
  }
}
