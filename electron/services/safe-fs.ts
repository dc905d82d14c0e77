/**
 * File operations on untrusted trees and files (media, kits, quarantined
 * extractions):
 * - removeTree: iterative removal (no recursion, so no stack to overflow on a
 *   deep tree), never following a symbolic link;
 * - removeOrSetAside: removal that, when it still fails, moves the leftover
 *   out of the way (into <workspace>/lost+found/) so later commands are not
 *   wedged by it, and says so;
 * - openRegular / readRegular: lstat first, regular files only, opened with
 *   O_NOFOLLOW and O_NONBLOCK (a FIFO or device in a file's place cannot block
 *   a read), and the opened file checked to be the one that was lstat'ed;
 * - resolveInside: a relative path (kit entry, signature) checked by the one
 *   path policy, confined to its root folder, with no symbolic link anywhere
 *   on the way.
 */
import { closeSync, constants as fsc, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmdirSync, unlinkSync, type Dirent, type Stats } from 'node:fs';
import { basename, join, resolve, sep } from 'node:path';
import { OpsError } from '../../shared/errors';
import { escapeUntrusted } from '../../shared/escape';
import { bundlePathProblem, describePathProblem, type PathPolicyOptions } from '../../shared/paths';

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * Removes `path` and everything below it, like `rm -rf`, without recursion:
 * an explicit stack of folders, so a tree thousands of levels deep is removed
 * as easily as a flat one. Symbolic links are removed, never followed.
 * A missing path is not an error.
 */
export function removeTree(path: string): void {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch (e) {
    if (errno(e) === 'ENOENT') return;
    throw e;
  }
  if (!st.isDirectory()) {
    unlinkSync(path);
    return;
  }
  // Each stack item is a folder; it is removed once it has been emptied (visited twice).
  const stack: string[] = [path];
  while (stack.length) {
    const dir = stack[stack.length - 1];
    let entries: Dirent[];
    try {
      // File types from the directory itself (d_type; Node falls back to lstat where the file system gives none):
      // no lstat per entry.
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      if (errno(e) === 'ENOENT') {
        stack.pop();
        continue;
      }
      throw e;
    }
    let pushed = false;
    for (const d of entries) {
      const p = join(dir, d.name);
      if (d.isDirectory()) {
        stack.push(p);
        pushed = true;
      } else {
        try {
          unlinkSync(p);
        } catch (e) {
          const code = errno(e);
          // EISDIR: it became a folder since the listing: visit it.
          if (code === 'EISDIR') {
            stack.push(p);
            pushed = true;
          } else if (code !== 'ENOENT') throw e;
        }
      }
    }
    if (pushed) continue;
    try {
      rmdirSync(dir);
    } catch (e) {
      if (errno(e) !== 'ENOENT') throw e;
    }
    stack.pop();
  }
}

/** Removes a tree quietly (best effort; the next start's recovery tidies what is left). */
export function removeTreeQuiet(path: string): void {
  try {
    removeTree(path);
  } catch {
    /* best effort */
  }
}

/**
 * Removes `path`; when that fails, moves it into `<workspaceDir>/lost+found/`
 * (a rename in the same file system, which does not depend on the tree's
 * shape) and returns where it went, so the caller reports it instead of
 * failing every later command on the same leftover. Throws only when even
 * the move fails.
 */
export function removeOrSetAside(path: string, workspaceDir: string, remove: (p: string) => void = removeTree): { removed: true } | { setAside: string; reason: string } {
  try {
    remove(path);
    return { removed: true };
  } catch (e) {
    const reason = (e as Error).message;
    const dir = join(workspaceDir, 'lost+found');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const dest = join(dir, `${basename(path)}-${new Date().toISOString().replace(/[:.]/g, '')}-${process.pid}`);
    renameSync(path, dest);
    return { setAside: dest, reason };
  }
}

// O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer.
const OPEN_FLAGS = fsc.O_RDONLY | (fsc.O_NOFOLLOW ?? 0) | (fsc.O_NONBLOCK ?? 0);

function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

export interface OpenRegularOptions {
  /** How the file is named in messages (defaults to the path). */
  label?: string;
  /** Error code for "not a regular file" (default ERR_BUNDLE_UNSAFE_ENTRY). */
  unsafeCode?: 'ERR_BUNDLE_UNSAFE_ENTRY' | 'ERR_INPUT_NOT_FOUND';
}

/**
 * Opens a file from media or a kit for reading: lstat first (a symbolic link,
 * FIFO, device or folder is refused without being opened), then opened with
 * O_NOFOLLOW | O_NONBLOCK, then fstat'ed to check it is the same regular file.
 * Returns the descriptor (the caller closes it) and its size.
 */
export function openRegular(file: string, opts: OpenRegularOptions = {}): { fd: number; size: number } {
  const label = escapeUntrusted(opts.label ?? file);
  const unsafe = opts.unsafeCode ?? 'ERR_BUNDLE_UNSAFE_ENTRY';
  let st: Stats;
  try {
    st = lstatSync(file);
  } catch (e) {
    throw new OpsError('ERR_INPUT_NOT_FOUND', `${label} cannot be read (${errno(e) ?? (e as Error).message}).`, { path: file });
  }
  if (!st.isFile()) throw new OpsError(unsafe, `${label} is ${kindOf(st)}; only regular files are read from media and kits.`, { path: file });
  let fd: number;
  try {
    fd = openSync(file, OPEN_FLAGS);
  } catch (e) {
    if (errno(e) === 'ELOOP') throw new OpsError(unsafe, `${label} is a symbolic link; only regular files are read from media and kits.`, { path: file });
    throw new OpsError('ERR_INPUT_NOT_FOUND', `${label} cannot be read (${errno(e) ?? (e as Error).message}).`, { path: file });
  }
  const f = fstatSync(fd);
  if (!f.isFile() || f.ino !== st.ino || f.dev !== st.dev) {
    closeSync(fd);
    throw new OpsError(unsafe, `${label} changed while it was being opened (now ${kindOf(f)}).`, { path: file });
  }
  return { fd, size: f.size };
}

/** Reads a whole small file under the openRegular rules; refuses one above `cap` bytes. */
export function readRegular(file: string, cap: number, opts: OpenRegularOptions = {}): Buffer {
  const { fd, size } = openRegular(file, opts);
  try {
    if (size > cap) throw new OpsError('ERR_BUNDLE_LIMIT', `${escapeUntrusted(opts.label ?? file)} is ${size} bytes, above the ${cap}-byte limit for such a file.`, { path: file });
    const buf = Buffer.alloc(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, buf, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

/**
 * Resolves `rel` (a kit entry or signature path, '/'-separated) inside `root`:
 * the path policy (shared/paths.ts) first, then confinement (the resolved
 * path stays below root), then lstat of every component (no symbolic link on
 * the way; the last one must be a regular file). Throws
 * ERR_BUNDLE_UNSAFE_ENTRY (unsafe) or ERR_VERIFY_MISSING_FILE (absent).
 */
export function resolveInside(rootIn: string, rel: string, what: string, policy: PathPolicyOptions = {}): string {
  const root = resolve(rootIn);
  const shown = escapeUntrusted(rel);
  const problem = bundlePathProblem(rel, policy);
  if (problem) throw new OpsError('ERR_BUNDLE_UNSAFE_ENTRY', `The ${what} names ${describePathProblem(problem, policy)}: "${shown}". Nothing outside the kit is read.`, { path: rel });
  const file = resolve(root, ...rel.split('/'));
  if (!file.startsWith(root + sep)) throw new OpsError('ERR_BUNDLE_UNSAFE_ENTRY', `The ${what} names a path outside the kit: "${shown}".`, { path: rel });
  let cur = root;
  const segs = rel.split('/');
  for (let i = 0; i < segs.length; i++) {
    cur = join(cur, segs[i]);
    let st: Stats;
    try {
      st = lstatSync(cur);
    } catch {
      throw new OpsError('ERR_VERIFY_MISSING_FILE', `The ${what} names "${shown}", which is not in the kit folder.`, { path: file });
    }
    if (st.isSymbolicLink()) throw new OpsError('ERR_BUNDLE_UNSAFE_ENTRY', `The ${what} "${shown}" reaches through a symbolic link; kit files must be plain files inside the kit folder.`, { path: file });
    if (i < segs.length - 1 && !st.isDirectory()) throw new OpsError('ERR_VERIFY_MISSING_FILE', `The ${what} names "${shown}", which is not in the kit folder.`, { path: file });
    if (i === segs.length - 1 && !st.isFile()) throw new OpsError('ERR_BUNDLE_UNSAFE_ENTRY', `The ${what} "${shown}" is ${kindOf(st)}; kit files must be regular files.`, { path: file });
  }
  return file;
}
